/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* health_logic.h: the state machines of endpoint health and service
 * protection as pure functions of (state, policy, now). The kernel calls
 * them under the value's spin lock (bpf/lib/health.bpf.h); the unit tests
 * (tests/unit/test_health.c) drive the same code with a fake clock.
 * No helpers, no maps, no allocation: only arithmetic on the ABI structs.
 */
#ifndef BPFMESH_HEALTH_LOGIC_H
#define BPFMESH_HEALTH_LOGIC_H

#include "health.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* What a state machine step did, for the transition log. */
enum hl_event {
	HL_NONE = 0,
	HL_EJECTED,   /* newly ejected (counts against maxEjectionPercent) */
	HL_REEJECTED, /* a half-open trial failed: ejected again, longer */
	HL_HALF_OPEN, /* ejection time over: trials allowed */
	HL_RESTORED,  /* a trial succeeded */
	HL_OPENED,    /* breaker tripped */
	HL_HALF_OPENED,
	HL_CLOSED,
};

/* Ejection time: baseEjectionTime x times ejected, capped at maxEjectionTime. */
static __always_inline __u64 hl_ejection_ns(const struct lb_svc_policy *pol, __u32 ejections)
{
	__u64 d = pol->base_ejection_ns * (ejections ? ejections : 1);

	return pol->max_ejection_ns && d > pol->max_ejection_ns ? pol->max_ejection_ns : d;
}

/* maxEjectionPercent: may one more of n_eps endpoints be ejected when
 * `ejected` already are? As Envoy, at least one may always be. */
static __always_inline bool hl_may_eject(__s64 ejected, __u32 max_pct, __u32 n_eps)
{
	if (ejected <= 0)
		return true;
	return (__u64)(ejected + 1) * 100 <= (__u64)max_pct * n_eps;
}

/* Read-only: could the endpoint take a connection at `now`? */
static __always_inline bool hl_ep_eligible(const struct lb_ep_health *h, __u64 now)
{
	if (h->state == LB_EP_HEALTHY)
		return true;
	if (h->state == LB_EP_EJECTED)
		return h->reason != LB_REASON_ACTIVE_CHECK && now >= h->ejected_until;
	return h->half_open_left > 0;
}

/* Take the endpoint for one connection if it may have it: an ejected
 * endpoint whose time is over turns HALF_OPEN with `permits` trials. */
static __always_inline bool hl_ep_take(struct lb_ep_health *h, __u16 permits, __u64 now,
				       enum hl_event *ev)
{
	*ev = HL_NONE;
	if (h->state == LB_EP_EJECTED && h->reason != LB_REASON_ACTIVE_CHECK &&
	    now >= h->ejected_until) {
		h->state = LB_EP_HALF_OPEN;
		h->reason = LB_REASON_TIMER;
		h->half_open_left = permits ? permits : 1;
		h->changed_at = now;
		*ev = HL_HALF_OPEN;
	}
	if (h->state == LB_EP_HEALTHY)
		return true;
	if (h->state == LB_EP_HALF_OPEN && h->half_open_left > 0) {
		h->half_open_left--;
		return true;
	}
	return false;
}

/* A connection succeeded: the failure run ends; a trial restores. */
static __always_inline enum hl_event hl_ep_success(struct lb_ep_health *h, __u64 now)
{
	h->consec_connect_fail = 0;
	if (h->state != LB_EP_HALF_OPEN || h->reason == LB_REASON_ACTIVE_CHECK)
		return HL_NONE;
	h->state = LB_EP_HEALTHY;
	h->reason = LB_REASON_TRIAL_OK;
	h->changed_at = now;
	return HL_RESTORED;
}

/* A failure of kind `reason` (connect, 5xx, gateway). Ejects when the
 * policy's consecutive threshold is reached and may_eject allows it, and
 * always when a half-open trial fails. */
static __always_inline enum hl_event hl_ep_failure(struct lb_ep_health *h,
						   const struct lb_svc_policy *pol, __u8 reason,
						   bool may_eject, __u32 svc_id, __u64 now)
{
	__u32 count = 0, threshold = 0;
	enum hl_event ev = HL_NONE;

	if (reason == LB_REASON_CONNECT_FAILURES) {
		count = ++h->consec_connect_fail;
		threshold = pol->consec_connect_failures;
	} else if (reason == LB_REASON_5XX) {
		count = ++h->consec_5xx;
		threshold = pol->consec_5xx;
	} else if (reason == LB_REASON_GATEWAY) {
		count = ++h->consec_gateway;
		threshold = pol->consec_gateway;
	}
	if (h->state == LB_EP_HALF_OPEN && h->reason != LB_REASON_ACTIVE_CHECK) {
		reason = LB_REASON_TRIAL_FAILED;
		ev = HL_REEJECTED;
	} else if (h->state == LB_EP_HEALTHY && threshold && count >= threshold && may_eject) {
		ev = HL_EJECTED;
		h->svc_id = svc_id;
	} else {
		return HL_NONE;
	}
	h->ejections++;
	h->state = LB_EP_EJECTED;
	h->reason = reason;
	h->ejected_until = now + hl_ejection_ns(pol, h->ejections);
	h->half_open_left = 0;
	h->consec_connect_fail = 0;
	h->consec_5xx = 0;
	h->consec_gateway = 0;
	h->changed_at = now;
	return ev;
}

/* Breaker admission: CLOSED admits; OPEN refuses until open_until, then
 * HALF_OPEN admits breaker_permits calls. */
static __always_inline bool hl_breaker_admit(struct lb_svc_rt *rt, const struct lb_svc_policy *pol,
					     __u64 now, enum hl_event *ev)
{
	*ev = HL_NONE;
	if (rt->breaker == LB_BREAKER_OPEN) {
		if (now < rt->open_until)
			return false;
		rt->breaker = LB_BREAKER_HALF_OPEN;
		rt->half_open_left = pol->breaker_permits;
		rt->half_open_done = 0;
		rt->half_open_failed = 0;
		rt->changed_at = now;
		*ev = HL_HALF_OPENED;
	}
	if (rt->breaker == LB_BREAKER_HALF_OPEN) {
		if (!rt->half_open_left)
			return false;
		rt->half_open_left--;
	}
	return true;
}

/* Record a call outcome: CLOSED slides the count-based window and opens when
 * the failure rate reaches the threshold over at least minimumNumberOfCalls;
 * HALF_OPEN decides once every permitted call has reported. *rate_x100 is
 * the rate that decided. */
static __always_inline enum hl_event hl_breaker_record(struct lb_svc_rt *rt,
						       const struct lb_svc_policy *pol, bool failed,
						       __u64 now, __u32 *rate_x100)
{
	__u32 size = pol->window_size, pos, word;
	__u64 bit;

	*rate_x100 = 0;
	if (size == 0 || size > LB_BREAKER_WINDOW_MAX)
		size = LB_BREAKER_WINDOW_MAX;
	if (rt->breaker == LB_BREAKER_CLOSED) {
		pos = rt->win_pos < size ? rt->win_pos : 0;
		word = (pos / 64) & (LB_BREAKER_WINDOW_MAX / 64 - 1);
		bit = 1ULL << (pos % 64);
		if (rt->win_count >= size) {
			if (rt->window[word] & bit)
				rt->win_failures--; /* the oldest call leaves the window */
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
		if (!rt->win_count || rt->win_count < pol->min_calls)
			return HL_NONE;
		*rate_x100 = (__u32)((__u64)rt->win_failures * 10000 / rt->win_count);
		if (*rate_x100 < pol->failure_rate_x100)
			return HL_NONE;
		rt->breaker = LB_BREAKER_OPEN;
		rt->open_until = now + pol->wait_open_ns;
		rt->changed_at = now;
		return HL_OPENED;
	}
	if (rt->breaker != LB_BREAKER_HALF_OPEN)
		return HL_NONE;
	rt->half_open_done++;
	if (failed)
		rt->half_open_failed++;
	if (rt->half_open_done < pol->breaker_permits)
		return HL_NONE;
	*rate_x100 = (__u32)((__u64)rt->half_open_failed * 10000 / rt->half_open_done);
	rt->changed_at = now;
	if (*rate_x100 >= pol->failure_rate_x100) {
		rt->breaker = LB_BREAKER_OPEN;
		rt->open_until = now + pol->wait_open_ns;
		return HL_OPENED;
	}
	rt->breaker = LB_BREAKER_CLOSED;
	rt->win_pos = 0;
	rt->win_count = 0;
	rt->win_failures = 0;
	for (word = 0; word < LB_BREAKER_WINDOW_MAX / 64; word++)
		rt->window[word] = 0;
	return HL_CLOSED;
}

/* Token bucket: connectionsPerSecond refill, capped at burst (default: the
 * rate); the first call finds it full. Tokens are counted in thousandths and
 * refill_at only advances by the time that was turned into tokens, so calls
 * closer together than a token's worth of time still add up. */
static __always_inline bool hl_bucket_take(struct lb_svc_rt *rt, const struct lb_svc_policy *pol,
					   __u64 now)
{
	__u64 burst = pol->burst ? pol->burst : pol->rate_per_sec, cap = burst * 1000;
	__u64 rate = pol->rate_per_sec ? pol->rate_per_sec : 1, elapsed, add;

	if (rt->refill_at == 0 || now - rt->refill_at >= 1000000000ULL * (burst / rate + 1)) {
		/* idle long enough to be full (also bounds the products below) */
		rt->tokens_milli = cap;
		rt->refill_at = now;
	} else if (now > rt->refill_at) {
		elapsed = now - rt->refill_at;
		add = elapsed / 1000 * rate / 1000;
		rt->refill_at += add * 1000000 / rate;
		rt->tokens_milli = rt->tokens_milli + add > cap ? cap : rt->tokens_milli + add;
	}
	if (rt->tokens_milli < 1000)
		return false;
	rt->tokens_milli -= 1000;
	return true;
}

#endif
