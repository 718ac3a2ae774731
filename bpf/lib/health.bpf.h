/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* health.bpf.h: passive health, outlier ejection and service protection on
 * the connect path and from sockops outcomes. The state machines are in
 * health_logic.h (unit-tested with a fake clock); this file wraps them with
 * map lookups, spin locks and the transition ring buffer.
 *
 * BPF forbids holding two spin locks and calling helpers under one, so an
 * endpoint's lock and its service's lock are taken one after the other, and
 * events are sent after unlocking. The per-service ejected count is an
 * atomic read before the endpoint's lock, which can let maxEjectionPercent
 * overshoot by one under a race, never more per CPU.
 */
#ifndef BPFMESH_HEALTH_BPF_H
#define BPFMESH_HEALTH_BPF_H

#include "health_maps.bpf.h"
#include "health_logic.h"

static __always_inline void lb_emit(__u8 kind, __u8 reason, __u32 ep_id, __u32 svc_id, __u32 count,
				    __u64 until, __u64 now)
{
	struct lb_health_event *e = bpf_ringbuf_reserve(&lb_events, sizeof(*e), 0);

	if (!e) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&lb_ev_lost, &zero);

		if (lost)
			__sync_fetch_and_add(lost, 1);
		return;
	}
	e->ts = now;
	e->until = until;
	e->ep_id = ep_id;
	e->svc_id = svc_id;
	e->count = count;
	e->kind = kind;
	e->reason = reason;
	e->reserved = 0;
	bpf_ringbuf_submit(e, 0);
}

/* May an endpoint take a new connection now? Takes a half-open permit. */
static __always_inline bool lb_ep_available(__u32 ep_id, __u32 svc_id, __u64 now)
{
	struct lb_ep_health *h = bpf_map_lookup_elem(&lb_ep_health, &ep_id);
	struct lb_svc_policy *pol;
	enum hl_event ev;
	__u16 permits = 1;
	bool ok;

	if (!h || h->state == LB_EP_HEALTHY)
		return true;
	if (!hl_ep_eligible(h, now))
		return false;
	pol = bpf_map_lookup_elem(&lb_svc_policy, &svc_id);
	if (pol && pol->half_open_permits)
		permits = pol->half_open_permits;
	bpf_spin_lock(&h->lock);
	ok = hl_ep_take(h, permits, now, &ev);
	bpf_spin_unlock(&h->lock);
	if (ev == HL_HALF_OPEN)
		lb_emit(LB_EV_EP_HALF_OPEN, LB_REASON_TIMER, ep_id, h->svc_id, permits, 0, now);
	return ok;
}

/* A connection to ep_id succeeded: a half-open endpoint is restored. */
static __always_inline void lb_ep_success(__u32 ep_id, __u64 now)
{
	struct lb_ep_health *h = bpf_map_lookup_elem(&lb_ep_health, &ep_id);
	struct lb_svc_rt *rt;
	enum hl_event ev;
	__u32 owner;

	if (!h || (h->state == LB_EP_HEALTHY && !h->consec_connect_fail))
		return;
	bpf_spin_lock(&h->lock);
	ev = hl_ep_success(h, now);
	owner = h->svc_id;
	bpf_spin_unlock(&h->lock);
	if (ev != HL_RESTORED)
		return;
	rt = bpf_map_lookup_elem(&lb_svc_rt, &owner);
	if (rt)
		__sync_fetch_and_add(&rt->ejected, -1);
	lb_emit(LB_EV_EP_RESTORED, LB_REASON_TRIAL_OK, ep_id, owner, 0, 0, now);
}

/* Count a failure of kind reason against the endpoint. */
static __always_inline void lb_ep_failure(__u32 ep_id, __u32 svc_id, __u8 reason, __u64 now)
{
	struct lb_ep_health *h = bpf_map_lookup_elem(&lb_ep_health, &ep_id);
	struct lb_svc_policy *pol = bpf_map_lookup_elem(&lb_svc_policy, &svc_id);
	struct lb_svc_rt *rt = bpf_map_lookup_elem(&lb_svc_rt, &svc_id);
	struct lb_svc *svc = bpf_map_lookup_elem(&lb_services, &svc_id);
	enum hl_event ev;
	bool may_eject;
	__u32 ejections;
	__u8 why;
	__u64 until;

	if (!h || !pol || !rt || !svc || !(pol->flags & LB_POL_OUTLIER))
		return;
	may_eject = hl_may_eject(rt->ejected, pol->max_ejection_pct, svc->n_eps);
	bpf_spin_lock(&h->lock);
	ev = hl_ep_failure(h, pol, reason, may_eject, svc_id, now);
	ejections = h->ejections;
	until = h->ejected_until;
	why = h->reason;
	bpf_spin_unlock(&h->lock);
	if (ev == HL_NONE)
		return;
	if (ev == HL_EJECTED)
		__sync_fetch_and_add(&rt->ejected, 1);
	lb_emit(LB_EV_EP_EJECTED, why, ep_id, svc_id, ejections, until, now);
}

static __always_inline bool lb_breaker_admit(__u32 svc_id, const struct lb_svc_policy *pol,
					     __u64 now)
{
	struct lb_svc_rt *rt = bpf_map_lookup_elem(&lb_svc_rt, &svc_id);
	enum hl_event ev;
	bool ok;

	if (!rt || !(pol->flags & LB_POL_BREAKER) || rt->breaker == LB_BREAKER_CLOSED)
		return true;
	bpf_spin_lock(&rt->lock);
	ok = hl_breaker_admit(rt, pol, now, &ev);
	bpf_spin_unlock(&rt->lock);
	if (ev == HL_HALF_OPENED)
		lb_emit(LB_EV_BREAKER_HALF_OPEN, LB_REASON_TIMER, 0, svc_id, pol->breaker_permits,
			0, now);
	return ok;
}

static __always_inline void lb_breaker_record(__u32 svc_id, bool failed, __u64 now)
{
	struct lb_svc_policy *pol = bpf_map_lookup_elem(&lb_svc_policy, &svc_id);
	struct lb_svc_rt *rt = bpf_map_lookup_elem(&lb_svc_rt, &svc_id);
	enum hl_event ev;
	__u32 rate;

	if (!pol || !rt || !(pol->flags & LB_POL_BREAKER))
		return;
	bpf_spin_lock(&rt->lock);
	ev = hl_breaker_record(rt, pol, failed, now, &rate);
	bpf_spin_unlock(&rt->lock);
	if (ev == HL_OPENED)
		lb_emit(LB_EV_BREAKER_OPEN, LB_REASON_FAILURE_RATE, 0, svc_id, rate,
			now + pol->wait_open_ns, now);
	else if (ev == HL_CLOSED)
		lb_emit(LB_EV_BREAKER_CLOSED, LB_REASON_FAILURE_RATE, 0, svc_id, rate, 0, now);
}

static __always_inline bool lb_rate_admit(__u32 svc_id, const struct lb_svc_policy *pol, __u64 now)
{
	struct lb_svc_rt *rt = bpf_map_lookup_elem(&lb_svc_rt, &svc_id);
	bool ok;

	if (!rt || !(pol->flags & LB_POL_RATE))
		return true;
	bpf_spin_lock(&rt->lock);
	ok = hl_bucket_take(rt, pol, now);
	bpf_spin_unlock(&rt->lock);
	return ok;
}

/* Bulkhead: take a connection slot; released in cgroup/sock_release. */
static __always_inline bool lb_pool_take(__u32 svc_id, const struct lb_svc_policy *pol)
{
	struct lb_svc_rt *rt = bpf_map_lookup_elem(&lb_svc_rt, &svc_id);

	if (!rt || !(pol->flags & LB_POL_POOL))
		return true;
	if (__sync_fetch_and_add(&rt->active, 1) >= pol->max_connections) {
		__sync_fetch_and_add(&rt->active, -1);
		return false;
	}
	return true;
}

static __always_inline void lb_pool_release(__u32 svc_id)
{
	struct lb_svc_rt *rt = bpf_map_lookup_elem(&lb_svc_rt, &svc_id);

	if (rt)
		__sync_fetch_and_add(&rt->active, -1);
}

#endif
