/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* outlier.bpf.h: outlier detection from response status codes
 * (consecutive5xxErrors, consecutiveGatewayErrors), fed by capture in the
 * kernel, like connect failures are in lb.bpf.c. Whatever the protocol, a
 * response received by a socket the load balancer sent to an endpoint counts
 * against that endpoint: capture reads the status (http1.bpf.h for HTTP/1)
 * and hands it here. */
#ifndef BPFMESH_OUTLIER_BPF_H
#define BPFMESH_OUTLIER_BPF_H

/* The load balancer's pinned maps, shared (by pin name). */
#include "lb_maps.bpf.h"
#include "health.bpf.h"

/* The endpoint a socket was sent to, or NULL when the load balancer did not
 * make the connection: looked up before the status is read, which most
 * responses (not balanced) then skip. */
static __always_inline struct lb_conn *outlier_conn(const __u64 *cookie)
{
	return bpf_map_lookup_elem(&lb_conns, cookie);
}

/* A response with status (100..599) on conn: 5xx and gateway errors (502,
 * 503, 504) count against its endpoint, anything else ends both runs. Like
 * Envoy, the two runs are counted independently. */
static __always_inline void outlier_feed(const struct lb_conn *conn, __u32 status, __u64 now)
{
	struct lb_ep_health *h;
	struct lb_ep_stats *st;

	if (status >= 500) {
		st = bpf_map_lookup_elem(&lb_ep_stats, &conn->ep_id);
		if (st)
			st->http_5xx++;
		if (status >= 502 && status <= 504)
			lb_ep_failure(conn->ep_id, conn->svc_id, LB_REASON_GATEWAY, now);
		lb_ep_failure(conn->ep_id, conn->svc_id, LB_REASON_5XX, now);
		return;
	}
	h = bpf_map_lookup_elem(&lb_ep_health, &conn->ep_id);
	if (!h || (!h->consec_5xx && !h->consec_gateway))
		return;
	bpf_spin_lock(&h->lock);
	h->consec_5xx = 0;
	h->consec_gateway = 0;
	bpf_spin_unlock(&h->lock);
}

#endif
