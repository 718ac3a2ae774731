/* SPDX-License-Identifier: Apache-2.0 */
/* test_health.c: the kernel's health state machines (bpf/health_logic.h,
 * the very code the BPF programs run) driven with a fake clock: ejection
 * times, maxEjectionPercent, half-open permits, the breaker's failure-rate
 * window and the token bucket; and the TrafficPolicy -> kernel policy map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bpf/health_logic.h"
#include "lb/health.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

static struct lb_svc_policy outlier(uint32_t consec, uint64_t base_ms, uint64_t max_ms)
{
	struct lb_svc_policy p = {
	    .flags = LB_POL_OUTLIER,
	    .consec_connect_failures = consec,
	    .consec_5xx = 5,
	    .max_ejection_pct = 100,
	    .half_open_permits = 1,
	    .base_ejection_ns = base_ms * MS,
	    .max_ejection_ns = max_ms * MS,
	};
	return p;
}

static void test_ejection_after_threshold(void **state)
{
	struct lb_svc_policy pol = outlier(3, 30000, 300000);
	struct lb_ep_health h = {};
	uint64_t now = 1000 * SEC;

	(void)state;
	assert_int_equal(hl_ep_failure(&h, &pol, LB_REASON_CONNECT_FAILURES, true, 7, now),
			 HL_NONE);
	assert_int_equal(hl_ep_failure(&h, &pol, LB_REASON_CONNECT_FAILURES, true, 7, now),
			 HL_NONE);
	/* a success in between resets the run */
	hl_ep_success(&h, now);
	assert_int_equal(h.consec_connect_fail, 0);
	assert_int_equal(hl_ep_failure(&h, &pol, LB_REASON_CONNECT_FAILURES, true, 7, now),
			 HL_NONE);
	assert_int_equal(hl_ep_failure(&h, &pol, LB_REASON_CONNECT_FAILURES, true, 7, now),
			 HL_NONE);
	assert_int_equal(hl_ep_failure(&h, &pol, LB_REASON_CONNECT_FAILURES, true, 7, now),
			 HL_EJECTED);
	assert_int_equal(h.state, LB_EP_EJECTED);
	assert_int_equal(h.reason, LB_REASON_CONNECT_FAILURES);
	assert_int_equal(h.svc_id, 7);
	assert_int_equal(h.ejections, 1);
	assert_true(h.ejected_until == now + 30 * SEC);
	/* ejected: not eligible, not taken, until its time is over */
	assert_false(hl_ep_eligible(&h, now + 29 * SEC));
}

static void test_ejection_time_grows_and_caps(void **state)
{
	struct lb_svc_policy pol = outlier(1, 30000, 100000);
	struct lb_ep_health h = {};
	enum hl_event ev;
	uint64_t now = 1000 * SEC, want[] = {30, 60, 90, 100, 100};

	(void)state;
	for (int i = 0; i < 5; i++) {
		if (i == 0)
			assert_int_equal(
			    hl_ep_failure(&h, &pol, LB_REASON_CONNECT_FAILURES, true, 1, now),
			    HL_EJECTED);
		assert_true(h.ejected_until == now + want[i] * SEC);
		/* time over: half-open, one trial, which fails: ejected again, longer */
		now = h.ejected_until;
		assert_true(hl_ep_take(&h, 1, now, &ev));
		assert_int_equal(ev, HL_HALF_OPEN);
		if (i < 4)
			assert_int_equal(
			    hl_ep_failure(&h, &pol, LB_REASON_CONNECT_FAILURES, true, 1, now),
			    HL_REEJECTED);
	}
	assert_int_equal(h.ejections, 5);
}

static void test_half_open_permits(void **state)
{
	struct lb_svc_policy pol = outlier(1, 10000, 0);
	struct lb_ep_health h = {};
	enum hl_event ev;
	uint64_t now = 5 * SEC;

	(void)state;
	hl_ep_failure(&h, &pol, LB_REASON_CONNECT_FAILURES, true, 1, now);
	assert_false(hl_ep_take(&h, 2, now + 9 * SEC, &ev));
	assert_int_equal(ev, HL_NONE);
	now += 10 * SEC;
	assert_true(hl_ep_eligible(&h, now));
	assert_true(hl_ep_take(&h, 2, now, &ev));
	assert_int_equal(ev, HL_HALF_OPEN);
	assert_true(hl_ep_take(&h, 2, now, &ev));
	assert_int_equal(ev, HL_NONE);
	/* the two permits are out: nobody else until a trial reports */
	assert_false(hl_ep_eligible(&h, now));
	assert_false(hl_ep_take(&h, 2, now, &ev));
	assert_int_equal(hl_ep_success(&h, now + MS), HL_RESTORED);
	assert_int_equal(h.state, LB_EP_HEALTHY);
	assert_true(hl_ep_take(&h, 2, now, &ev));
	/* the multiplier is kept (the agent decays it per interval) */
	assert_int_equal(h.ejections, 1);
}

static void test_max_ejection_percent(void **state)
{
	(void)state;
	/* 10% of 3 endpoints: Envoy still lets one be ejected */
	assert_true(hl_may_eject(0, 10, 3));
	assert_false(hl_may_eject(1, 10, 3));
	/* 50% of 4: two */
	assert_true(hl_may_eject(1, 50, 4));
	assert_false(hl_may_eject(2, 50, 4));
	/* 100%: all */
	assert_true(hl_may_eject(2, 100, 3));
	assert_false(hl_may_eject(3, 100, 3));

	struct lb_svc_policy pol = outlier(1, 1000, 0);
	struct lb_ep_health h = {};

	assert_int_equal(hl_ep_failure(&h, &pol, LB_REASON_CONNECT_FAILURES, false, 1, SEC),
			 HL_NONE);
	assert_int_equal(h.state, LB_EP_HEALTHY);
}

static void test_5xx_and_gateway_counters(void **state)
{
	struct lb_svc_policy pol = outlier(0, 1000, 0);
	struct lb_ep_health h = {};

	(void)state;
	pol.consec_gateway = 2;
	/* connect failures are not counted when the threshold is 0 */
	for (int i = 0; i < 10; i++)
		assert_int_equal(hl_ep_failure(&h, &pol, LB_REASON_CONNECT_FAILURES, true, 1, SEC),
				 HL_NONE);
	assert_int_equal(hl_ep_failure(&h, &pol, LB_REASON_GATEWAY, true, 1, SEC), HL_NONE);
	assert_int_equal(hl_ep_failure(&h, &pol, LB_REASON_GATEWAY, true, 1, SEC), HL_EJECTED);
	assert_int_equal(h.reason, LB_REASON_GATEWAY);
}

static void test_active_check_ejection_is_not_timed(void **state)
{
	struct lb_ep_health h = {.state = LB_EP_EJECTED, .reason = LB_REASON_ACTIVE_CHECK};
	enum hl_event ev;

	(void)state;
	assert_false(hl_ep_eligible(&h, UINT64_MAX));
	assert_false(hl_ep_take(&h, 1, UINT64_MAX, &ev));
	assert_int_equal(hl_ep_success(&h, SEC), HL_NONE);
	assert_int_equal(h.state, LB_EP_EJECTED);
}

static struct lb_svc_policy breaker(uint32_t rate_pct, uint32_t window, uint32_t min_calls,
				    uint32_t permits)
{
	struct lb_svc_policy p = {
	    .flags = LB_POL_BREAKER,
	    .failure_rate_x100 = rate_pct * 100,
	    .window_size = window,
	    .min_calls = min_calls,
	    .wait_open_ns = 60 * SEC,
	    .breaker_permits = permits,
	};
	return p;
}

static void test_breaker_window(void **state)
{
	struct lb_svc_policy pol = breaker(50, 10, 5, 3);
	struct lb_svc_rt rt = {};
	uint32_t rate;
	int i;

	(void)state;
	/* 4 failures: below minimumNumberOfCalls, no decision */
	for (i = 0; i < 4; i++)
		assert_int_equal(hl_breaker_record(&rt, &pol, true, SEC, &rate), HL_NONE);
	/* 5th call is a success: 4/5 = 80% >= 50%: open */
	assert_int_equal(hl_breaker_record(&rt, &pol, false, SEC, &rate), HL_OPENED);
	assert_int_equal(rate, 8000);
	assert_int_equal(rt.breaker, LB_BREAKER_OPEN);

	/* a window that slides: 10 successes push 4 old failures out */
	memset(&rt, 0, sizeof(rt));
	pol = breaker(50, 10, 10, 3);
	for (i = 0; i < 4; i++)
		hl_breaker_record(&rt, &pol, true, SEC, &rate);
	for (i = 0; i < 6; i++)
		assert_int_equal(hl_breaker_record(&rt, &pol, false, SEC, &rate), HL_NONE);
	assert_int_equal(rate, 4000); /* 4/10 */
	for (i = 0; i < 4; i++)
		hl_breaker_record(&rt, &pol, false, SEC, &rate);
	assert_int_equal(rt.win_failures, 0);
	assert_int_equal(rt.win_count, 10);
	/* 5 failures in a row in a window of 10 successes: 50% on the 5th */
	for (i = 0; i < 4; i++)
		assert_int_equal(hl_breaker_record(&rt, &pol, true, SEC, &rate), HL_NONE);
	assert_int_equal(hl_breaker_record(&rt, &pol, true, SEC, &rate), HL_OPENED);
	assert_int_equal(rate, 5000);
}

static void test_breaker_open_half_open_closed(void **state)
{
	struct lb_svc_policy pol = breaker(50, 4, 4, 2);
	struct lb_svc_rt rt = {};
	enum hl_event ev;
	uint64_t now = 100 * SEC;
	uint32_t rate;

	(void)state;
	for (int i = 0; i < 4; i++)
		hl_breaker_record(&rt, &pol, true, now, &rate);
	assert_int_equal(rt.breaker, LB_BREAKER_OPEN);
	assert_false(hl_breaker_admit(&rt, &pol, now + 59 * SEC, &ev));
	now += 60 * SEC;
	assert_true(hl_breaker_admit(&rt, &pol, now, &ev));
	assert_int_equal(ev, HL_HALF_OPENED);
	assert_true(hl_breaker_admit(&rt, &pol, now, &ev));
	assert_false(hl_breaker_admit(&rt, &pol, now, &ev)); /* 2 permits only */
	/* one of two trials fails: 50% >= 50%: open again */
	assert_int_equal(hl_breaker_record(&rt, &pol, true, now, &rate), HL_NONE);
	assert_int_equal(hl_breaker_record(&rt, &pol, false, now, &rate), HL_OPENED);
	assert_true(rt.open_until == now + 60 * SEC);
	now += 60 * SEC;
	assert_true(hl_breaker_admit(&rt, &pol, now, &ev));
	assert_true(hl_breaker_admit(&rt, &pol, now, &ev));
	hl_breaker_record(&rt, &pol, false, now, &rate);
	assert_int_equal(hl_breaker_record(&rt, &pol, false, now, &rate), HL_CLOSED);
	assert_int_equal(rt.win_count, 0);
	assert_true(hl_breaker_admit(&rt, &pol, now, &ev));
}

static void test_token_bucket(void **state)
{
	struct lb_svc_policy pol = {.flags = LB_POL_RATE, .rate_per_sec = 10, .burst = 3};
	struct lb_svc_rt rt = {};
	uint64_t now = 50 * SEC;
	int ok = 0, i;

	(void)state;
	for (i = 0; i < 10; i++)
		ok += hl_bucket_take(&rt, &pol, now);
	assert_int_equal(ok, 3); /* the burst */
	assert_false(hl_bucket_take(&rt, &pol, now + 99 * MS));
	assert_true(hl_bucket_take(&rt, &pol, now + 100 * MS)); /* one per 100 ms */
	/* calls every 10 ms add up: 10 per second over 2 s */
	now += 100 * MS;
	for (ok = 0, i = 1; i <= 200; i++)
		ok += hl_bucket_take(&rt, &pol, now + i * 10 * MS);
	assert_int_equal(ok, 20);
	/* idle: full again, never more than the burst */
	now += 100 * SEC;
	for (ok = 0, i = 0; i < 10; i++)
		ok += hl_bucket_take(&rt, &pol, now);
	assert_int_equal(ok, 3);
}

static void test_policy_from_config(void **state)
{
	struct cfg_traffic_policy tp = {
	    .outlier_set = true,
	    .consecutive_connect_failures = 2,
	    .consecutive_5xx = 5,
	    .base_ejection_ms = 30000,
	    .max_ejection_ms = 300000,
	    .max_ejection_percent = 10,
	    .permitted_half_open = 1,
	    .breaker_set = true,
	    .failure_rate_threshold = 37.5,
	    .sliding_window_size = 100,
	    .minimum_calls = 200,
	    .wait_open_ms = 60000,
	    .pool_set = true,
	    .max_connections = 64,
	    .connect_timeout_ms = 250,
	    .rate_set = true,
	    .connections_per_second = 100,
	};
	struct lb_svc_policy pol;

	(void)state;
	health_policy_from_cfg(&tp, &pol);
	assert_int_equal(pol.flags, LB_POL_OUTLIER | LB_POL_BREAKER | LB_POL_POOL | LB_POL_RATE);
	assert_int_equal(pol.consec_connect_failures, 2);
	assert_true(pol.base_ejection_ns == 30 * SEC);
	assert_int_equal(pol.failure_rate_x100, 3750);
	/* minimumNumberOfCalls cannot exceed the window */
	assert_int_equal(pol.min_calls, 100);
	assert_int_equal(pol.connect_timeout_ms, 250);
	assert_int_equal(pol.max_connections, 64);
	assert_int_equal(pol.burst, 100); /* defaults to the rate */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ejection_after_threshold),
	    cmocka_unit_test(test_ejection_time_grows_and_caps),
	    cmocka_unit_test(test_half_open_permits),
	    cmocka_unit_test(test_max_ejection_percent),
	    cmocka_unit_test(test_5xx_and_gateway_counters),
	    cmocka_unit_test(test_active_check_ejection_is_not_timed),
	    cmocka_unit_test(test_breaker_window),
	    cmocka_unit_test(test_breaker_open_half_open_closed),
	    cmocka_unit_test(test_token_bucket),
	    cmocka_unit_test(test_policy_from_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
