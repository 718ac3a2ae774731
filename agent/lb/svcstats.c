/* SPDX-License-Identifier: Apache-2.0 */
/* svcstats.c: sums of the kernel's per-endpoint and per-service state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lb/health.h"
#include "lb/svcstats.h"

/* Worse first: ejected, then half-open, then healthy. */
static int state_rank(int s) { return s == LB_EP_EJECTED ? 2 : s == LB_EP_HALF_OPEN ? 1 : 0; }

static int breaker_rank(int s)
{
	return s == LB_BREAKER_OPEN ? 2 : s == LB_BREAKER_HALF_OPEN ? 1 : 0;
}

void svcstats_endpoint(struct lbmaps *lm, struct health *hl, const struct cfg_service *s,
		       const struct cfg_endpoint *e, struct ep_view *v)
{
	uint64_t now = health_now_ns();

	memset(v, 0, sizeof(*v));
	inet_ntop(e->addr.family, e->addr.addr, v->address, sizeof(v->address));
	/* an endpoint serves every port of its service: add their counters */
	for (int pi = 0; pi < s->n_ports; pi++) {
		uint16_t port = e->port ? e->port : s->ports[pi].target_port;
		struct lb_ep_health h;
		struct lb_ep_stats st;
		int64_t live;
		uint32_t id;

		if (!lbm_backend_id(lm, e->addr.family, e->addr.addr, port, &id))
			continue;
		if (!health_ep_read(hl, id, &h)) {
			if (state_rank(h.state) > state_rank(v->worst.state))
				v->worst = h;
			if (h.ejections > v->worst.ejections)
				v->worst.ejections = h.ejections;
			if (h.state == LB_EP_EJECTED && h.reason != LB_REASON_ACTIVE_CHECK &&
			    h.ejected_until > now && h.ejected_until - now > v->ejected_left_ns)
				v->ejected_left_ns = h.ejected_until - now;
		}
		if (lbm_ep_stats_read(lm, id, &st, &live))
			continue;
		v->sum.selected += st.selected;
		v->sum.opened += st.opened;
		v->sum.closed += st.closed;
		v->active += live;
		v->sum.refused += st.refused;
		v->sum.timed_out += st.timed_out;
		v->sum.reset += st.reset;
		v->sum.http_5xx += st.http_5xx;
	}
}

static void add_rt(struct health *hl, uint32_t id, struct svc_view *v, bool *any)
{
	struct lb_svc_rt rt;

	if (health_svc_read(hl, id, &rt))
		return;
	if (!*any || breaker_rank(rt.breaker) > breaker_rank(v->worst.breaker))
		v->worst = rt;
	v->pool_active += rt.active > 0 ? rt.active : 0;
	*any = true;
}

void svcstats_service(struct lbmaps *lm, struct health *hl, int si, struct svc_view *v)
{
	bool any = false;

	memset(v, 0, sizeof(*v));
	for (uint32_t id = 1; id < lm->mir.max_svc; id++)
		if (lm->mir.svcs[id].used && lm->mir.svcs[id].cfg_si == si)
			add_rt(hl, id, v, &any);
}

int svcstats_services(struct lbmaps *lm, struct health *hl, struct svc_view *v, int n)
{
	bool *any = calloc(n > 0 ? n : 1, sizeof(*any));

	if (!any)
		return -ENOMEM;
	memset(v, 0, n * sizeof(*v));
	/* one pass over the kernel services, not one per configured service */
	for (uint32_t id = 1; id < lm->mir.max_svc; id++) {
		int si = lm->mir.svcs[id].cfg_si;

		if (lm->mir.svcs[id].used && si >= 0 && si < n)
			add_rt(hl, id, &v[si], &any[si]);
	}
	free(any);
	return 0;
}
