/* SPDX-License-Identifier: Apache-2.0 */
/* svcstats.h: one configured service's kernel state, summed the way
 * operators think of it: an endpoint over every port of its service, a
 * service over its kernel services (one per port and address family). Read
 * by the API (JSON) and the metrics views (Prometheus, OTLP), so both say the
 * same. Called with the agent's lock held. */
#ifndef BPFMESH_SVCSTATS_H
#define BPFMESH_SVCSTATS_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>

#include "bpf/health.h"
#include "bpf/lb.h"
#include "config/config.h"
#include "lb/health.h"
#include "lb/lbmaps.h"

struct ep_view {
	char address[INET6_ADDRSTRLEN];
	struct lb_ep_stats sum;	   /* counters added over the ports */
	int64_t active;		   /* open connections now */
	struct lb_ep_health worst; /* the worst state of any port; most ejections */
	uint64_t ejected_left_ns;  /* time left of a timed ejection */
};

struct svc_view {
	struct lb_svc_rt worst; /* the worst breaker state */
	uint64_t pool_active;	/* connections held against the bulkhead */
};

void svcstats_endpoint(struct lbmaps *lm, struct health *hl, const struct cfg_service *s,
		       const struct cfg_endpoint *e, struct ep_view *v);
/* si: the service's index in the configuration the maps hold. */
void svcstats_service(struct lbmaps *lm, struct health *hl, int si, struct svc_view *v);
/* Every configured service at once (v[0..n), n = the configuration's
 * n_services), in one pass over the kernel services. 0 or -ENOMEM. */
int svcstats_services(struct lbmaps *lm, struct health *hl, struct svc_view *v, int n);

#endif
