/* SPDX-License-Identifier: Apache-2.0 */
/* health.bpf.h: passive health, outlier ejection and service protection,
 * decided in the kernel on the connect path and from sockops outcomes.
 *
 * BPF forbids holding two spin locks, so an endpoint's lock and its
 * service's lock are taken one after the other; the per-service ejected
 * count is an atomic read before the endpoint's lock, which can let
 * maxEjectionPercent overshoot by one under a race, never more per CPU.
 */
#ifndef BPFMESH_HEALTH_BPF_H
#define BPFMESH_HEALTH_BPF_H

#include "health_maps.bpf.h"

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

static __always_inline __u64 lb_ejection_ns(const struct lb_svc_policy *pol, __u32 ejections)
{
	__u64 d = pol->base_ejection_ns * (ejections ? ejections : 1);

	return pol->max_ejection_ns && d > pol->max_ejection_ns ? pol->max_ejection_ns : d;
}

/* May an endpoint take a new connection now? Moves an ejected endpoint whose
 * time is up to HALF_OPEN and hands out its trial permits. */
static __always_inline bool lb_ep_available(__u32 ep_id, __u32 svc_id, __u64 now)
{
	struct lb_ep_health *h = bpf_map_lookup_elem(&lb_ep_health, &ep_id);
	struct lb_svc_policy *pol;
	bool ok = false, half_opened = false;
	__u16 permits = 1;

	if (!h || h->state == LB_EP_HEALTHY)
		return true;
	if (h->state == LB_EP_EJECTED && (h->reason == LB_REASON_ACTIVE_CHECK || now < h->ejected_until))
		return false;
	pol = bpf_map_lookup_elem(&lb_svc_policy, &svc_id);
	if (pol && pol->half_open_permits)
		permits = pol->half_open_permits;
	bpf_spin_lock(&h->lock);
	if (h->state == LB_EP_EJECTED && h->reason != LB_REASON_ACTIVE_CHECK &&
	    now >= h->ejected_until) {
		h->state = LB_EP_HALF_OPEN;
		h->reason = LB_REASON_TIMER;
		h->half_open_left = permits;
		h->changed_at = now;
		half_opened = true;
	}
	if (h->state == LB_EP_HALF_OPEN && h->half_open_left > 0) {
		h->half_open_left--;
		ok = true;
	} else if (h->state == LB_EP_HEALTHY) {
		ok = true;
	}
	bpf_spin_unlock(&h->lock);
	if (half_opened)
		lb_emit(LB_EV_EP_HALF_OPEN, LB_REASON_TIMER, ep_id, h->svc_id, permits, 0, now);
	return ok;
}

/* A connection to ep_id succeeded: a half-open endpoint is restored. */
static __always_inline void lb_ep_success(__u32 ep_id, __u64 now)
{
	struct lb_ep_health *h = bpf_map_lookup_elem(&lb_ep_health, &ep_id);
	bool restored = false;
	__u32 owner = 0;

	if (!h)
		return;
	if (h->state == LB_EP_HEALTHY && !h->consec_connect_fail)
		return;
	bpf_spin_lock(&h->lock);
	h->consec_connect_fail = 0;
	if (h->state == LB_EP_HALF_OPEN && h->reason != LB_REASON_ACTIVE_CHECK) {
		h->state = LB_EP_HEALTHY;
		h->reason = LB_REASON_TRIAL_OK;
		h->changed_at = now;
		owner = h->svc_id;
		restored = true;
	}
	bpf_spin_unlock(&h->lock);
	if (restored) {
		struct lb_svc_rt *rt = bpf_map_lookup_elem(&lb_svc_rt, &owner);

		if (rt)
			__sync_fetch_and_add(&rt->ejected, -1);
		lb_emit(LB_EV_EP_RESTORED, LB_REASON_TRIAL_OK, ep_id, owner, 0, 0, now);
	}
}

/* Count a failure of kind reason; eject when the policy's threshold is met
 * (or at once for a failed half-open trial), within maxEjectionPercent. */
static __always_inline void lb_ep_failure(__u32 ep_id, __u32 svc_id, __u8 reason, __u64 now)
{
	struct lb_ep_health *h = bpf_map_lookup_elem(&lb_ep_health, &ep_id);
	struct lb_svc_policy *pol = bpf_map_lookup_elem(&lb_svc_policy, &svc_id);
	struct lb_svc_rt *rt = bpf_map_lookup_elem(&lb_svc_rt, &svc_id);
	struct lb_svc *svc = bpf_map_lookup_elem(&lb_services, &svc_id);
	__u32 threshold = 0, count = 0, ejections = 0;
	bool may_eject = true, ejected = false, newly = false;
	__u8 why = reason;
	__u64 until = 0;

	if (!h || !pol || !rt || !svc || !(pol->flags & LB_POL_OUTLIER))
		return;
	if (reason == LB_REASON_CONNECT_FAILURES)
		threshold = pol->consec_connect_failures;
	else if (reason == LB_REASON_5XX)
		threshold = pol->consec_5xx;
	else if (reason == LB_REASON_GATEWAY)
		threshold = pol->consec_gateway;
	/* Envoy: at least one endpoint may always be ejected */
	if (rt->ejected > 0 && (__u64)(rt->ejected + 1) * 100 > (__u64)pol->max_ejection_pct * svc->n_eps)
		may_eject = false;

	bpf_spin_lock(&h->lock);
	if (reason == LB_REASON_CONNECT_FAILURES)
		count = ++h->consec_connect_fail;
	else if (reason == LB_REASON_5XX)
		count = ++h->consec_5xx;
	else if (reason == LB_REASON_GATEWAY)
		count = ++h->consec_gateway;
	if (h->state == LB_EP_HALF_OPEN && h->reason != LB_REASON_ACTIVE_CHECK) {
		why = LB_REASON_TRIAL_FAILED;
		ejected = true; /* already counted in the owner's ejected */
	} else if (h->state == LB_EP_HEALTHY && threshold && count >= threshold && may_eject) {
		ejected = newly = true;
	}
	if (ejected) {
		h->ejections++;
		ejections = h->ejections;
		until = now + lb_ejection_ns(pol, ejections);
		h->state = LB_EP_EJECTED;
		h->reason = why;
		h->ejected_until = until;
		h->half_open_left = 0;
		h->consec_connect_fail = 0;
		h->consec_5xx = 0;
		h->consec_gateway = 0;
		h->changed_at = now;
		if (newly)
			h->svc_id = svc_id;
	}
	bpf_spin_unlock(&h->lock);
	if (!ejected)
		return;
	if (newly)
		__sync_fetch_and_add(&rt->ejected, 1);
	lb_emit(LB_EV_EP_EJECTED, why, ep_id, svc_id, ejections, until, now);
}

/* Circuit breaker admission (Resilience4j): CLOSED admits, OPEN refuses
 * until waitDurationInOpenState, then HALF_OPEN admits a fixed number of
 * trial calls. Returns true when the call may go on. */
static __always_inline bool lb_breaker_admit(__u32 svc_id, const struct lb_svc_policy *pol, __u64 now)
{
	struct lb_svc_rt *rt = bpf_map_lookup_elem(&lb_svc_rt, &svc_id);
	bool ok = true, half = false;

	if (!rt || !(pol->flags & LB_POL_BREAKER))
		return true;
	if (rt->breaker == LB_BREAKER_CLOSED)
		return true;
	bpf_spin_lock(&rt->lock);
	if (rt->breaker == LB_BREAKER_OPEN) {
		if (now < rt->open_until) {
			ok = false;
		} else {
			rt->breaker = LB_BREAKER_HALF_OPEN;
			rt->half_open_left = pol->breaker_permits;
			rt->half_open_done = 0;
			rt->half_open_failed = 0;
			rt->changed_at = now;
			half = true;
		}
	}
	if (ok && rt->breaker == LB_BREAKER_HALF_OPEN) {
		if (rt->half_open_left > 0)
			rt->half_open_left--;
		else
			ok = false;
	}
	bpf_spin_unlock(&rt->lock);
	if (half)
		lb_emit(LB_EV_BREAKER_HALF_OPEN, LB_REASON_TIMER, 0, svc_id, pol->breaker_permits, 0, now);
	return ok;
}

/* Record a call outcome in the service's count-based sliding window. */
static __always_inline void lb_breaker_record(__u32 svc_id, bool failed, __u64 now)
{
	struct lb_svc_policy *pol = bpf_map_lookup_elem(&lb_svc_policy, &svc_id);
	struct lb_svc_rt *rt = bpf_map_lookup_elem(&lb_svc_rt, &svc_id);
	__u32 size, pos, word, rate = 0;
	__u8 ev = 0;
	__u64 bit;

	if (!pol || !rt || !(pol->flags & LB_POL_BREAKER))
		return;
	size = pol->window_size;
	if (size == 0 || size > LB_BREAKER_WINDOW_MAX)
		size = LB_BREAKER_WINDOW_MAX;
	bpf_spin_lock(&rt->lock);
	if (rt->breaker == LB_BREAKER_CLOSED) {
		pos = rt->win_pos;
		if (pos >= size)
			pos = 0;
		word = (pos / 64) & (LB_BREAKER_WINDOW_MAX / 64 - 1);
		bit = 1ULL << (pos % 64);
		if (rt->win_count >= size) {
			if (rt->window[word] & bit)
				rt->win_failures--;
		} else {
			rt->win_count++;
		}
		if (failed) {
			rt->window[word] |= bit;
			rt->win_failures++;
		} else {
			rt->window[word] &= ~bit;
		}
		rt->win_pos = pos + 1 >= size ? 0 : pos + 1;
		if (rt->win_count >= pol->min_calls && rt->win_count) {
			rate = (__u32)((__u64)rt->win_failures * 10000 / rt->win_count);
			if (rate >= pol->failure_rate_x100) {
				rt->breaker = LB_BREAKER_OPEN;
				rt->open_until = now + pol->wait_open_ns;
				rt->changed_at = now;
				ev = LB_EV_BREAKER_OPEN;
			}
		}
	} else if (rt->breaker == LB_BREAKER_HALF_OPEN) {
		rt->half_open_done++;
		if (failed)
			rt->half_open_failed++;
		if (rt->half_open_done >= pol->breaker_permits && rt->half_open_done) {
			rate = (__u32)((__u64)rt->half_open_failed * 10000 / rt->half_open_done);
			rt->changed_at = now;
			if (rate >= pol->failure_rate_x100) {
				rt->breaker = LB_BREAKER_OPEN;
				rt->open_until = now + pol->wait_open_ns;
				ev = LB_EV_BREAKER_OPEN;
			} else {
				rt->breaker = LB_BREAKER_CLOSED;
				rt->win_pos = 0;
				rt->win_count = 0;
				rt->win_failures = 0;
				ev = LB_EV_BREAKER_CLOSED;
			}
		}
	}
	bpf_spin_unlock(&rt->lock);
	if (ev)
		lb_emit(ev, LB_REASON_FAILURE_RATE, 0, svc_id, rate,
			ev == LB_EV_BREAKER_OPEN ? now + pol->wait_open_ns : 0, now);
}

/* Token bucket: rateLimit.connectionsPerSecond refills, burst caps. */
static __always_inline bool lb_rate_admit(__u32 svc_id, const struct lb_svc_policy *pol, __u64 now)
{
	struct lb_svc_rt *rt = bpf_map_lookup_elem(&lb_svc_rt, &svc_id);
	__u64 cap, add;
	bool ok = false;

	if (!rt || !(pol->flags & LB_POL_RATE))
		return true;
	cap = (__u64)(pol->burst ? pol->burst : pol->rate_per_sec) * 1000;
	bpf_spin_lock(&rt->lock);
	if (rt->refill_at == 0) {
		rt->tokens_milli = cap;
	} else if (now > rt->refill_at) {
		/* thousandths of a connection earned since the last refill */
		add = (now - rt->refill_at) / 1000 * pol->rate_per_sec / 1000;
		rt->tokens_milli = rt->tokens_milli + add > cap ? cap : rt->tokens_milli + add;
	}
	rt->refill_at = now;
	if (rt->tokens_milli >= 1000) {
		rt->tokens_milli -= 1000;
		ok = true;
	}
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
