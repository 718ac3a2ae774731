/* SPDX-License-Identifier: Apache-2.0 */
/* test_lbtable.c: weighted slot tables and maglev tables: spread against the
 * weights, and disruption when one endpoint leaves. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bpf/lb.h"
#include "lb/lbtable.h"

#define M LB_MAGLEV_M

static void count_slots(const uint32_t *t, int len, int n, int *cnt)
{
	memset(cnt, 0, n * sizeof(*cnt));
	for (int i = 0; i < len; i++) {
		assert_true(t[i] < (uint32_t)n);
		cnt[t[i]]++;
	}
}

static void test_weighted_exact(void **state)
{
	uint32_t w[3] = {1, 2, 3}, out[64];
	int cnt[3], n;

	(void)state;
	n = lb_weighted_table(w, 3, 64, out);
	assert_int_equal(n, 6);
	count_slots(out, n, 3, cnt);
	assert_int_equal(cnt[0], 1);
	assert_int_equal(cnt[1], 2);
	assert_int_equal(cnt[2], 3);
}

static void test_weighted_gcd_reduced(void **state)
{
	uint32_t w[2] = {100, 300}, out[1024];

	(void)state;
	/* 100:300 is 1:3, so four slots suffice */
	assert_int_equal(lb_weighted_table(w, 2, 1024, out), 4);
}

static void test_weighted_smooth_order(void **state)
{
	uint32_t w[3] = {1, 1, 1}, out[3];
	uint32_t w2[2] = {5, 1}, out2[6];
	int i, run = 0, maxrun = 0;

	(void)state;
	/* equal weights: a plain rotation, never the same endpoint twice */
	assert_int_equal(lb_weighted_table(w, 3, 3, out), 3);
	assert_int_not_equal(out[0], out[1]);
	assert_int_not_equal(out[1], out[2]);
	/* 5:1: the light endpoint sits in the middle of the table, so the
	 * heavy one runs at most 3 in a row within it (an unsmoothed order,
	 * five 0s then the 1, runs 5) */
	assert_int_equal(lb_weighted_table(w2, 2, 6, out2), 6);
	for (i = 0; i < 6; i++) {
		run = out2[i] == 0 ? run + 1 : 0;
		if (run > maxrun)
			maxrun = run;
	}
	assert_int_equal(maxrun, 3);
	assert_true(out2[2] == 1 || out2[3] == 1);
}

static void test_weighted_capped(void **state)
{
	uint32_t w[3] = {1, 50000, 9999}, out[128];
	int cnt[3], n;

	(void)state;
	n = lb_weighted_table(w, 3, 128, out);
	assert_true(n > 0 && n <= 128);
	count_slots(out, n, 3, cnt);
	/* everybody keeps a slot; the big ones keep their 5:1 proportion */
	assert_true(cnt[0] >= 1);
	assert_true(abs(cnt[1] - 5 * cnt[2]) <= 6);
}

static void test_weighted_errors(void **state)
{
	uint32_t w[3] = {1, 1, 1}, out[3];

	(void)state;
	assert_int_equal(lb_weighted_table(w, 0, 3, out), 0);
	assert_int_equal(lb_weighted_table(w, 3, 2, out), -EINVAL);
}

static void make_keys(uint64_t *keys, int n)
{
	for (int i = 0; i < n; i++) {
		uint8_t addr[16] = {127, 0, 0, 1};

		keys[i] = lb_endpoint_hash(2, addr, 18000 + i);
	}
}

static void test_maglev_spread(void **state)
{
	uint32_t *t = malloc(M * sizeof(*t)), w[4] = {1, 1, 2, 4};
	uint64_t keys[4];
	int cnt[4], i;

	(void)state;
	make_keys(keys, 4);
	assert_int_equal(lb_maglev_table(keys, w, 4, M, t), 0);
	count_slots(t, M, 4, cnt);
	for (i = 0; i < 4; i++) {
		double want = (double)M * w[i] / 8.0;
		double err = (cnt[i] - want) / want;

		print_message("maglev endpoint %d weight %u: %d slots, want %.0f (%+.2f%%)\n", i,
			      w[i], cnt[i], want, err * 100);
		assert_true(err < 0.05 && err > -0.05);
	}
	free(t);
}

/* Remove one of N endpoints: only its slots should move, plus a little. */
static void check_disruption(int n)
{
	uint32_t *a = malloc(M * sizeof(*a)), *b = malloc(M * sizeof(*b));
	uint32_t *w = calloc(n, sizeof(*w));
	uint64_t *keys = calloc(n, sizeof(*keys)), *keys2 = calloc(n, sizeof(*keys2));
	int i, j, moved = 0, gone = n / 2;

	for (i = 0; i < n; i++)
		w[i] = 1;
	make_keys(keys, n);
	for (i = 0, j = 0; i < n; i++)
		if (i != gone)
			keys2[j++] = keys[i];
	assert_int_equal(lb_maglev_table(keys, w, n, M, a), 0);
	assert_int_equal(lb_maglev_table(keys2, w, n - 1, M, b), 0);
	for (i = 0; i < M; i++) {
		/* map b's index back to a's numbering */
		uint32_t now = b[i] >= (uint32_t)gone ? b[i] + 1 : b[i];

		if (a[i] != (uint32_t)gone && now != a[i])
			moved++;
	}
	print_message("maglev N=%d: removing one moved %.2f%% of the other flows (1/N = %.2f%%)\n",
		      n, 100.0 * moved / M, 100.0 / n);
	/* flows of surviving endpoints that moved: well under 1/N */
	assert_true((double)moved / M < 1.0 / n);
	free(a);
	free(b);
	free(w);
	free(keys);
	free(keys2);
}

static void test_maglev_disruption(void **state)
{
	(void)state;
	check_disruption(3);
	check_disruption(10);
	check_disruption(100);
}

static void test_maglev_stable(void **state)
{
	uint32_t *a = malloc(M * sizeof(*a)), *b = malloc(M * sizeof(*b)), w[5] = {1, 1, 1, 1, 1};
	uint64_t keys[5];

	(void)state;
	make_keys(keys, 5);
	assert_int_equal(lb_maglev_table(keys, w, 5, M, a), 0);
	assert_int_equal(lb_maglev_table(keys, w, 5, M, b), 0);
	assert_memory_equal(a, b, M * sizeof(*a));
	assert_int_equal(lb_maglev_table(keys, w, 0, M, a), -EINVAL);
	w[2] = 0;
	assert_int_equal(lb_maglev_table(keys, w, 5, M, a), -EINVAL);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_weighted_exact),
	    cmocka_unit_test(test_weighted_gcd_reduced),
	    cmocka_unit_test(test_weighted_smooth_order),
	    cmocka_unit_test(test_weighted_capped),
	    cmocka_unit_test(test_weighted_errors),
	    cmocka_unit_test(test_maglev_spread),
	    cmocka_unit_test(test_maglev_disruption),
	    cmocka_unit_test(test_maglev_stable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
