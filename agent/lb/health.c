/* SPDX-License-Identifier: Apache-2.0 */
/* health.c: policies in, transitions out. The kernel ejects, half-opens and
 * restores endpoints and trips breakers by itself; this file tells it the
 * rules and tells the operator what it did, one log line per transition. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/lb.h"
#include "lb/health.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/percpu.h"
#include "lb/terminate.h"

#define MS 1000000ULL

static const char *const reason_names[LB_REASON_MAX] = {
    [LB_REASON_NONE] = "",
    [LB_REASON_CONNECT_FAILURES] = "consecutive connect failures",
    [LB_REASON_5XX] = "consecutive 5xx responses",
    [LB_REASON_GATEWAY] = "consecutive gateway errors",
    [LB_REASON_ACTIVE_CHECK] = "active health check failed",
    [LB_REASON_TRIAL_FAILED] = "half-open trial connection failed",
    [LB_REASON_TRIAL_OK] = "half-open trial connection succeeded",
    [LB_REASON_TIMER] = "ejection time over",
    [LB_REASON_FAILURE_RATE] = "failure rate",
    [LB_REASON_ACTIVE_OK] = "active health check passed",
};

/* Switches on the kernel's enums (bpf/health.h): a state added there and not
 * named here fails the build (-Wswitch). */
const char *health_state_name(int s)
{
	switch ((enum lb_ep_state)s) {
	case LB_EP_HEALTHY:
		return "healthy";
	case LB_EP_EJECTED:
		return "ejected";
	case LB_EP_HALF_OPEN:
		return "half-open";
	}
	return "unknown";
}

const char *health_breaker_name(int s)
{
	switch ((enum lb_breaker_state)s) {
	case LB_BREAKER_CLOSED:
		return "CLOSED";
	case LB_BREAKER_OPEN:
		return "OPEN";
	case LB_BREAKER_HALF_OPEN:
		return "HALF_OPEN";
	}
	return "unknown";
}

const char *health_reason_name(int r)
{
	return r >= 0 && r < LB_REASON_MAX && reason_names[r] ? reason_names[r] : "unknown";
}

const struct cfg_traffic_policy *health_policy_of(const struct mesh_config *cfg, int si)
{
	int i;

	for (i = 0; cfg && i < cfg->n_policies; i++)
		if (cfg->policies[i].service_idx == si)
			return &cfg->policies[i];
	return NULL;
}

void health_policy_from_cfg(const struct cfg_traffic_policy *tp, struct lb_svc_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	if (tp->outlier_set) {
		pol->flags |= LB_POL_OUTLIER;
		pol->consec_connect_failures = tp->consecutive_connect_failures;
		pol->consec_5xx = tp->consecutive_5xx;
		pol->consec_gateway = tp->consecutive_gateway;
		pol->max_ejection_pct = tp->max_ejection_percent;
		pol->base_ejection_ns = tp->base_ejection_ms * MS;
		pol->max_ejection_ns = tp->max_ejection_ms * MS;
		pol->half_open_permits = tp->permitted_half_open ? tp->permitted_half_open : 1;
		if (tp->terminate_connections)
			pol->flags |= LB_POL_TERMINATE;
	}
	if (tp->breaker_set) {
		pol->flags |= LB_POL_BREAKER;
		pol->failure_rate_x100 = (uint32_t)(tp->failure_rate_threshold * 100 + 0.5);
		pol->window_size = tp->sliding_window_size > LB_BREAKER_WINDOW_MAX
				       ? LB_BREAKER_WINDOW_MAX
				       : tp->sliding_window_size;
		/* Resilience4j: the rate is computed once the window has
		 * minimumNumberOfCalls, which cannot exceed the window */
		pol->min_calls =
		    tp->minimum_calls > pol->window_size ? pol->window_size : tp->minimum_calls;
		pol->wait_open_ns = tp->wait_open_ms * MS;
		pol->breaker_permits = tp->permitted_half_open ? tp->permitted_half_open : 1;
	}
	if (tp->pool_set) {
		pol->connect_timeout_ms = tp->connect_timeout_ms > UINT32_MAX
					      ? UINT32_MAX
					      : (uint32_t)tp->connect_timeout_ms;
		if (tp->max_connections) {
			pol->flags |= LB_POL_POOL;
			pol->max_connections = tp->max_connections;
		}
	}
	if (tp->rate_set) {
		pol->flags |= LB_POL_RATE;
		pol->rate_per_sec = tp->connections_per_second;
		pol->burst = tp->burst ? tp->burst : tp->connections_per_second;
	}
	if (tp->health_set)
		pol->flags |= LB_POL_ACTIVE_CHECK;
}

int health_apply(struct health *h, const struct mesh_config *cfg)
{
	struct lbmaps *lm = h->lm;
	uint32_t id;
	int rc = 0;

	h->cfg = cfg;
	for (id = 1; id < lm->mir.max_svc; id++) {
		const struct cfg_traffic_policy *tp;
		struct lb_svc_policy pol, cur;

		if (!lm->mir.svcs[id].used)
			continue;
		tp = health_policy_of(cfg, lm->mir.svcs[id].cfg_si);
		if (!tp) {
			bpf_map_delete_elem(lm->fd.svc_policy, &id);
			continue;
		}
		health_policy_from_cfg(tp, &pol);
		if (!bpf_map_lookup_elem(lm->fd.svc_policy, &id, &cur) &&
		    !memcmp(&cur, &pol, sizeof(pol)))
			continue;
		if (bpf_map_update_elem(lm->fd.svc_policy, &id, &pol, BPF_ANY)) {
			rc = -errno;
			log_error("service %s: writing its policy: %s", lm->mir.svcs[id].key,
				  strerror(errno));
		}
	}
	return rc;
}

static const char *svc_key(struct health *h, uint32_t id)
{
	return id && id < h->lm->mir.max_svc && h->lm->mir.svcs[id].used ? h->lm->mir.svcs[id].key
									 : "?";
}

static void ep_str(struct health *h, uint32_t id, char *buf, size_t len)
{
	if (id && id < h->lm->mir.max_be && h->lm->mir.bes[id].used)
		lbm_backend_str(&h->lm->mir.bes[id], buf, len);
	else
		snprintf(buf, len, "endpoint#%u", id);
}

/* terminateConnections: the mesh's open connections to a freshly ejected
 * endpoint are destroyed so their clients reconnect elsewhere. */
static void terminate_ejected(struct health *h, uint32_t ep_id, uint32_t svc_id)
{
	struct lb_svc_policy pol;
	const struct lbm_backend *b;
	struct lb_be_key k;
	char ep[64];
	int n, netns;

	if (!h->term || ep_id >= h->lm->mir.max_be || !h->lm->mir.bes[ep_id].used)
		return;
	if (bpf_map_lookup_elem(h->lm->fd.svc_policy, &svc_id, &pol) ||
	    !(pol.flags & LB_POL_TERMINATE))
		return;
	b = &h->lm->mir.bes[ep_id];
	lbm_be_key(b, &k);
	n = terminator_run(h->term, &k, 1, &netns);
	ep_str(h, ep_id, ep, sizeof(ep));
	log_info("terminated %d connection(s) to ejected endpoint %s in %d network namespace(s)", n,
		 ep, netns);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct health *h = ctx;
	const struct lb_health_event *e = data;
	char ep[64];
	double secs;

	if (size < sizeof(*e))
		return 0;
	h->transitions++;
	if (h->watch && e->ep_id && e->ep_id < h->lm->mir.max_be)
		h->watch[e->ep_id] = 1;
	ep_str(h, e->ep_id, ep, sizeof(ep));
	secs = e->until > e->ts ? (e->until - e->ts) / 1e9 : 0;
	switch (e->kind) {
	case LB_EV_EP_EJECTED:
		log_warn("endpoint %s of %s ejected: %s; ejection #%u for %.1fs", ep,
			 svc_key(h, e->svc_id), health_reason_name(e->reason), e->count, secs);
		terminate_ejected(h, e->ep_id, e->svc_id);
		break;
	case LB_EV_EP_HALF_OPEN:
		log_info("endpoint %s half-open: %s; %u trial connection(s) allowed", ep,
			 health_reason_name(e->reason), e->count);
		break;
	case LB_EV_EP_RESTORED:
		log_info("endpoint %s of %s restored: %s", ep, svc_key(h, e->svc_id),
			 health_reason_name(e->reason));
		break;
	case LB_EV_BREAKER_OPEN:
		log_warn("circuit breaker of %s OPEN: failure rate %.2f%%; refusing for %.1fs",
			 svc_key(h, e->svc_id), e->count / 100.0, secs);
		break;
	case LB_EV_BREAKER_HALF_OPEN:
		log_info("circuit breaker of %s HALF_OPEN: %u trial call(s) allowed",
			 svc_key(h, e->svc_id), e->count);
		break;
	case LB_EV_BREAKER_CLOSED:
		log_info("circuit breaker of %s CLOSED: trial failure rate %.2f%%",
			 svc_key(h, e->svc_id), e->count / 100.0);
		break;
	}
	return 0;
}

int health_init(struct health *h, struct lbmaps *lm, int events_fd, int drops_fd, int lost_fd)
{
	memset(h, 0, sizeof(*h));
	h->lm = lm;
	h->events_fd = events_fd;
	h->drops_fd = drops_fd;
	h->lost_fd = lost_fd;
	h->watch = calloc(lm->mir.max_be, 1);
	if (!h->watch)
		return -ENOMEM;
	h->rb = ring_buffer__new(events_fd, on_event, h, NULL);
	if (!h->rb) {
		log_error("lb_events ring buffer: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

void health_free(struct health *h)
{
	ring_buffer__free(h->rb);
	h->rb = NULL;
	free(h->watch);
	h->watch = NULL;
}

int health_events_fd(struct health *h) { return h->rb ? ring_buffer__epoll_fd(h->rb) : -1; }

void health_consume(struct health *h)
{
	if (h->rb)
		ring_buffer__consume(h->rb);
}

void health_tick(struct health *h, uint64_t now)
{
	struct lbmaps *lm = h->lm;
	uint32_t id;

	if (now - h->last_tick_ns < 1000 * MS)
		return;
	h->last_tick_ns = now;
	for (id = 1; id < lm->mir.max_be; id++) {
		const struct cfg_traffic_policy *tp;
		struct lb_ep_health st;
		uint64_t interval;

		/* only endpoints an event named, after one full scan at start */
		if (!lm->mir.bes[id].used || (h->scanned && !h->watch[id]))
			continue;
		if (bpf_map_lookup_elem_flags(lm->fd.ep_health, &id, &st, BPF_F_LOCK))
			continue;
		if (st.state == LB_EP_HEALTHY && st.ejections == 0) {
			h->watch[id] = 0;
			continue;
		}
		h->watch[id] = 1;
		tp = st.svc_id < lm->mir.max_svc && lm->mir.svcs[st.svc_id].used
			 ? health_policy_of(h->cfg, lm->mir.svcs[st.svc_id].cfg_si)
			 : NULL;
		interval = tp ? tp->interval_ms * MS : 10000 * MS;
		if (now - st.changed_at < interval)
			continue;
		if (st.state == LB_EP_HEALTHY) {
			st.ejections--;
		} else if (st.state == LB_EP_HALF_OPEN && st.half_open_left == 0 &&
			   st.reason != LB_REASON_ACTIVE_CHECK) {
			/* the trial's outcome never came (the client gave up) */
			st.half_open_left =
			    tp && tp->permitted_half_open ? tp->permitted_half_open : 1;
		} else {
			continue;
		}
		st.changed_at = now;
		bpf_map_update_elem(lm->fd.ep_health, &id, &st, BPF_F_LOCK | BPF_EXIST);
	}
	h->scanned = true;
}

int health_ep_read(struct health *h, uint32_t ep_id, struct lb_ep_health *out)
{
	return bpf_map_lookup_elem_flags(h->lm->fd.ep_health, &ep_id, out, BPF_F_LOCK) ? -errno : 0;
}

int health_svc_read(struct health *h, uint32_t svc_id, struct lb_svc_rt *out)
{
	return bpf_map_lookup_elem_flags(h->lm->fd.svc_rt, &svc_id, out, BPF_F_LOCK) ? -errno : 0;
}

uint64_t health_drops(struct health *h, int reason) { return percpu_sum(h->drops_fd, reason); }

uint64_t health_now_ns(void) { return mono_ns(); }

const struct health_refusal health_refusals[] = {
    {LB_DROP_NO_ENDPOINT, "no_endpoint", "noEndpoint"},
    {LB_DROP_ALL_EJECTED, "all_ejected", "allEjected"},
    {LB_DROP_BREAKER_OPEN, "breaker_open", "breakerOpen"},
    {LB_DROP_BULKHEAD, "bulkhead", "bulkhead"},
    {LB_DROP_RATE_LIMIT, "rate_limited", "rateLimited"},
    {LB_DROP_TC_EJECTED, "tc_ejected", "tcEjected"},
    {LB_DROP_NO_BACKEND, "no_backend", "noBackend"},
    {LB_DROP_REVNAT_FULL, "revnat_full", "revnatFull"},
    {LB_DROP_ACCESS_DENIED, "access_denied", "accessDenied"},
    {LB_DROP_CONNS_FULL, "conns_full", "connsFull"},
    {LB_DROP_UDP_PAIRS, "udp_pairs_full", "udpPairsFull"},
};
const int health_n_refusals = sizeof(health_refusals) / sizeof(health_refusals[0]);
