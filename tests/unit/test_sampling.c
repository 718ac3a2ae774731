/* SPDX-License-Identifier: Apache-2.0 */
/* test_sampling.c: consistent trace-id ratio sampling, parent-based
 * decisions and the error / latency overrides. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "trace/sampling.h"

/* Deterministic pseudo-random trace ids (splitmix64). */
static uint64_t seed_state = 0x1234567887654321ULL;

static uint64_t next64(void)
{
	uint64_t z = (seed_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void random_id(uint8_t id[16])
{
	uint64_t a = next64(), b = next64();

	memcpy(id, &a, 8);
	memcpy(id + 8, &b, 8);
}

static void test_thresholds(void **state)
{
	(void)state;
	assert_int_equal(sampling_threshold(1.0), 0);
	assert_int_equal(sampling_threshold(2.0), 0);
	assert_int_equal(sampling_threshold(0.0), SAMPLING_MAX_THRESHOLD);
	assert_int_equal(sampling_threshold(-1.0), SAMPLING_MAX_THRESHOLD);
	assert_int_equal(sampling_threshold(NAN), SAMPLING_MAX_THRESHOLD);
	assert_int_equal(sampling_threshold(0.5), 1ULL << 55);
	assert_int_equal(sampling_threshold(0.25), 3ULL << 54);
}

static void test_randomness_is_last_7_bytes(void **state)
{
	uint8_t id[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			  0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};

	(void)state;
	assert_int_equal(sampling_randomness(id), 0x01020304050607ULL);
	memset(id, 0, 9); /* the first 9 bytes do not matter */
	assert_int_equal(sampling_randomness(id), 0x01020304050607ULL);
}

static void test_extremes(void **state)
{
	struct sampler all, none;
	uint8_t id[16];

	(void)state;
	sampler_init(&all, 1.0, false, 0);
	sampler_init(&none, 0.0, false, 0);
	for (int i = 0; i < 10000; i++) {
		random_id(id);
		assert_true(sampling_ratio_keep(&all, id));
		assert_false(sampling_ratio_keep(&none, id));
	}
	/* the extreme ids, too */
	memset(id, 0xff, sizeof(id));
	assert_false(sampling_ratio_keep(&none, id));
	memset(id, 0, sizeof(id));
	assert_true(sampling_ratio_keep(&all, id));
}

static void test_ratio_quarter(void **state)
{
	struct sampler s;
	uint8_t id[16];
	int kept = 0, n = 10000;
	double sigma = sqrt(n * 0.25 * 0.75);

	(void)state;
	sampler_init(&s, 0.25, false, 0);
	for (int i = 0; i < n; i++) {
		random_id(id);
		kept += sampling_ratio_keep(&s, id);
	}
	if (fabs(kept - n * 0.25) > 3 * sigma)
		fail_msg("ratio 0.25: kept %d of %d, expected 2500 +- %.0f", kept, n, 3 * sigma);
}

/* The same id gets the same answer every time, and a trace kept at some ratio
 * is kept at every higher one: nodes with different ratios agree. */
static void test_consistent_and_nested(void **state)
{
	struct sampler lo, hi;
	uint8_t id[16];

	(void)state;
	sampler_init(&lo, 0.1, false, 0);
	sampler_init(&hi, 0.6, false, 0);
	for (int i = 0; i < 5000; i++) {
		bool a;

		random_id(id);
		a = sampling_ratio_keep(&lo, id);
		assert_int_equal(a, sampling_ratio_keep(&lo, id));
		if (a)
			assert_true(sampling_ratio_keep(&hi, id));
	}
}

static void test_parent_based(void **state)
{
	struct sampler none, all;
	uint8_t id[16];

	(void)state;
	sampler_init(&none, 0.0, false, 0);
	sampler_init(&all, 1.0, false, 0);
	random_id(id);
	assert_true(sampling_trace_keep(&none, id, 1, false));
	assert_false(sampling_trace_keep(&all, id, 0, false));
	assert_true(sampling_trace_keep(&all, id, -1, false));
	assert_false(sampling_trace_keep(&none, id, -1, false));
	/* W3C parent-based: an error or slow span keeps a trace that started
	 * here, never one whose caller said "not sampled" */
	assert_true(sampling_trace_keep(&none, id, -1, true));
	assert_false(sampling_trace_keep(&all, id, 0, true));
	assert_true(sampling_trace_keep(&none, id, 1, true));
}

static void test_overrides(void **state)
{
	struct sampler s;

	(void)state;
	sampler_init(&s, 0.0, true, 250);
	assert_true(sampling_span_forced(&s, true, 1000));
	assert_false(sampling_span_forced(&s, false, 1000));
	assert_false(sampling_span_forced(&s, false, 250000000ULL));
	assert_true(sampling_span_forced(&s, false, 250000001ULL));
	sampler_init(&s, 0.0, false, 0);
	assert_false(sampling_span_forced(&s, true, 1000));
	assert_false(sampling_span_forced(&s, false, UINT64_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_thresholds),
	    cmocka_unit_test(test_randomness_is_last_7_bytes),
	    cmocka_unit_test(test_extremes),
	    cmocka_unit_test(test_ratio_quarter),
	    cmocka_unit_test(test_consistent_and_nested),
	    cmocka_unit_test(test_parent_based),
	    cmocka_unit_test(test_overrides),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
