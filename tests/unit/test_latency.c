/* SPDX-License-Identifier: Apache-2.0 */
/* test_latency.c: sketch accuracy against exact percentiles, the sliding
 * window on a fake clock, rates, merging, packing and the memory budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "metrics/latency.h"

#define SEC 1000000000ULL
#define MS 1000000ULL

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL); /* splitmix64 */

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double unit(void) { return ((rnd() >> 11) + 0.5) / 9007199254740992.0; } /* (0, 1) */

static double normal(void) { return sqrt(-2 * log(unit())) * cos(2 * M_PI * unit()); }

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double rel_err(uint64_t got, uint64_t want)
{
	return fabs((double)got - (double)want) / (double)want;
}

/* The stated bound, plus the rounding of a bucket's value to whole ns. */
static void assert_within(const char *what, double q, uint64_t got, uint64_t want)
{
	double e = rel_err(got, want), bound = LAT_ALPHA + 0.5 / (double)want + 1e-12;

	if (e > bound) {
		fail_msg("%s p%g: got %llu ns, exact %llu ns, relative error %.5f > %.5f", what,
			 q * 100, (unsigned long long)got, (unsigned long long)want, e, bound);
	}
}

/* Feeds n samples to a sketch, checks p50/p90/p99/p99.9 and the max against
 * the exact ranks, prints the worst error seen. */
static void check_accuracy(const char *what, uint64_t *v, size_t n)
{
	static const double qs[] = {0.5, 0.9, 0.99, 0.999};
	struct lat_sketch *s = malloc(sizeof(*s));
	double worst = 0;
	size_t i;

	assert_non_null(s);
	lat_sketch_init(s);
	for (i = 0; i < n; i++)
		lat_sketch_add(s, v[i], false);
	qsort(v, n, sizeof(*v), cmp_u64);
	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		uint64_t want = v[(size_t)(qs[i] * (double)(n - 1))];
		uint64_t got = lat_sketch_quantile(s, qs[i]);

		assert_within(what, qs[i], got, want);
		if (rel_err(got, want) > worst)
			worst = rel_err(got, want);
	}
	assert_int_equal(lat_sketch_quantile(s, 1.0), v[n - 1]);
	assert_int_equal(s->max_ns, v[n - 1]);
	assert_int_equal(s->count, n);
	printf("    %-9s n=%zu worst relative error at p50/p90/p99/p99.9: %.4f%%\n", what, n,
	       worst * 100);
	free(s);
}

#define NSAMPLES 200000

static void test_constants(void **state)
{
	double lg = log((1 + LAT_ALPHA) / (1 - LAT_ALPHA));

	(void)state;
	assert_int_equal((int)ceil(log((double)LAT_MIN_NS) / lg), LAT_K_LO);
	assert_int_equal((int)ceil(log((double)LAT_MAX_NS) / lg), LAT_K_HI);
	assert_int_equal(lat_bucket_of(LAT_MIN_NS - 1), 0);
	assert_int_equal(lat_bucket_of(LAT_MIN_NS), 1);
	assert_int_equal(lat_bucket_of(LAT_MAX_NS), LAT_NBUCKETS - 2);
	assert_int_equal(lat_bucket_of(LAT_MAX_NS + 1), LAT_NBUCKETS - 1);
	assert_int_equal(lat_bucket_value(0), LAT_MIN_NS);
	assert_int_equal(lat_bucket_value(LAT_NBUCKETS - 1), LAT_MAX_NS);
}

/* Every value in range is answered within the bound by its bucket, and the
 * buckets are monotonic. */
static void test_bucket_error_bound(void **state)
{
	double v;
	int prev = 0;

	(void)state;
	for (v = (double)LAT_MIN_NS; v <= (double)LAT_MAX_NS; v *= 1.0007) {
		uint64_t x = (uint64_t)v;
		int b = lat_bucket_of(x);

		assert_true(b >= prev);
		prev = b;
		assert_within("bucket", 0, lat_bucket_value(b), x);
	}
}

static void test_accuracy_uniform(void **state)
{
	uint64_t *v = malloc(NSAMPLES * sizeof(*v));
	size_t i;

	(void)state;
	assert_non_null(v);
	for (i = 0; i < NSAMPLES; i++)
		v[i] = 1 * MS + rnd() % (100 * MS);
	check_accuracy("uniform", v, NSAMPLES);
	free(v);
}

/* Cache hits around 300 us, misses around 40 ms: p50 and p99 in different modes. */
static void test_accuracy_bimodal(void **state)
{
	uint64_t *v = malloc(NSAMPLES * sizeof(*v));
	size_t i;

	(void)state;
	assert_non_null(v);
	for (i = 0; i < NSAMPLES; i++) {
		double x = unit() < 0.8 ? 300e3 * exp(0.2 * normal()) : 40e6 * exp(0.3 * normal());

		v[i] = (uint64_t)x;
	}
	check_accuracy("bimodal", v, NSAMPLES);
	free(v);
}

/* Pareto, shape 1.1, from 2 ms: a tail reaching seconds. */
static void test_accuracy_pareto(void **state)
{
	uint64_t *v = malloc(NSAMPLES * sizeof(*v));
	size_t i;

	(void)state;
	assert_non_null(v);
	for (i = 0; i < NSAMPLES; i++) {
		double x = 2e6 / pow(unit(), 1 / 1.1);

		v[i] = x > (double)LAT_MAX_NS ? LAT_MAX_NS : (uint64_t)x;
	}
	check_accuracy("pareto", v, NSAMPLES);
	free(v);
}

static void test_accuracy_small_and_constant(void **state)
{
	uint64_t one[1] = {12345678};
	uint64_t same[1000];
	size_t i;

	(void)state;
	check_accuracy("single", one, 1);
	for (i = 0; i < 1000; i++)
		same[i] = 5 * MS;
	check_accuracy("constant", same, 1000);
}

static void test_under_and_overflow(void **state)
{
	struct lat_sketch *s = malloc(sizeof(*s));

	(void)state;
	assert_non_null(s);
	lat_sketch_init(s);
	lat_sketch_add(s, 500, false);
	lat_sketch_add(s, 200 * SEC, true);
	lat_sketch_add(s, 300 * SEC, false);
	assert_int_equal(s->buckets[0], 1);
	assert_int_equal(s->buckets[LAT_NBUCKETS - 1], 2);
	assert_int_equal(lat_sketch_quantile(s, 0), LAT_MIN_NS);
	assert_int_equal(lat_sketch_quantile(s, 0.5), LAT_MAX_NS);
	assert_int_equal(lat_sketch_quantile(s, 1), 300 * SEC); /* max is exact */
	assert_int_equal(s->errors, 1);
	lat_sketch_init(s);
	assert_int_equal(lat_sketch_quantile(s, 0.5), 0);
	free(s);
}

static void test_merge(void **state)
{
	struct lat_sketch *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)),
			  *all = malloc(sizeof(*all));
	int i;

	(void)state;
	assert_true(a && b && all);
	lat_sketch_init(a);
	lat_sketch_init(b);
	lat_sketch_init(all);
	for (i = 0; i < 5000; i++) {
		uint64_t x = 1 * MS + rnd() % (10 * MS), y = 50 * MS + rnd() % (500 * MS);

		lat_sketch_add(a, x, i % 10 == 0);
		lat_sketch_add(b, y, false);
		lat_sketch_add(all, x, i % 10 == 0);
		lat_sketch_add(all, y, false);
	}
	lat_sketch_merge(a, b);
	assert_memory_equal(a, all, sizeof(*a));
	assert_int_equal(a->count, 10000);
	assert_int_equal(a->errors, 500);
	/* half the samples are below 11 ms, half above 50 ms */
	assert_true(lat_sketch_quantile(a, 0.25) < 11 * MS);
	assert_true(lat_sketch_quantile(a, 0.75) > 50 * MS);
	free(a);
	free(b);
	free(all);
}

static void collect(const struct lat_window *w, uint64_t now, uint32_t win, struct lat_summary *out)
{
	struct lat_sketch *acc = malloc(sizeof(*acc));
	uint64_t start;

	assert_non_null(acc);
	lat_sketch_init(acc);
	start = lat_window_collect(w, now, win, acc);
	assert_int_equal(start, lat_window_start(now, win));
	lat_summarize(acc, start, 0, now, out);
	free(acc);
}

/* One sample at each of t = 0, 10, ..., 170 s (value t ms + 1 ms); queries at
 * t = 175 s see exactly the slots their window reaches. */
static void test_window_expiry(void **state)
{
	struct lat_window w = {0};
	struct lat_mem mem = {0};
	struct lat_summary s;
	uint64_t t;

	(void)state;
	for (t = 0; t <= 170; t += 10)
		assert_true(lat_window_record(&w, &mem, t * SEC, (t + 1) * MS, t == 170));
	/* 10 s window at 175 s: 165 s falls in the slot from 160 s, so the
	 * slots [160, 170) and [170, 180) */
	collect(&w, 175 * SEC, 10, &s);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.errors, 1);
	assert_int_equal(s.max_ns, 171 * MS);
	assert_int_equal(s.span_ns, 15 * SEC);
	collect(&w, 175 * SEC, 5, &s); /* clamped to 10 s */
	assert_int_equal(s.count, 2);
	/* 60 s window: slots from [110, 120) to [170, 180) */
	collect(&w, 175 * SEC, 60, &s);
	assert_int_equal(s.count, 7);
	assert_int_equal(s.span_ns, 65 * SEC);
	/* 120 s: minute slots from [0, 60) to [120, 180): everything */
	collect(&w, 175 * SEC, 120, &s);
	assert_int_equal(s.count, 18);
	assert_int_equal(s.span_ns, 175 * SEC);
	assert_int_equal(s.max_ns, 171 * MS);
	/* 60 s later nothing is in the last minute; the 15 min window still sees all */
	collect(&w, 240 * SEC, 60, &s);
	assert_int_equal(s.count, 0);
	assert_int_equal(s.p99_ns, 0);
	collect(&w, 240 * SEC, 900, &s);
	assert_int_equal(s.count, 18);
	collect(&w, 240 * SEC, 3600, &s); /* clamped to 15 min */
	assert_int_equal(s.count, 18);
	/* at 16 min the first minute has left the 15 min window */
	collect(&w, 960 * SEC, 900, &s);
	assert_int_equal(s.count, 12);
	assert_true(mem.bytes > 0);
	assert_int_equal(mem.bytes, lat_window_bytes(&w));
	/* expiry releases what no window reaches, then the whole series */
	lat_window_expire(&w, &mem, 960 * SEC);
	assert_int_equal(mem.bytes, lat_window_bytes(&w));
	collect(&w, 960 * SEC, 900, &s);
	assert_int_equal(s.count, 12);
	lat_window_expire(&w, &mem, 1200 * SEC);
	assert_null(w.slots);
	assert_int_equal(mem.bytes, 0);
	/* and it starts again */
	assert_true(lat_window_record(&w, &mem, 1201 * SEC, 7 * MS, false));
	collect(&w, 1201 * SEC, 10, &s);
	assert_int_equal(s.count, 1);
	lat_window_free(&w, &mem);
	assert_int_equal(mem.bytes, 0);
}

/* 100 samples per second: the rate over any window is 100/s, and a caller
 * that began to watch late is not diluted. */
static void test_rate(void **state)
{
	struct lat_window w = {0};
	struct lat_sketch *acc = malloc(sizeof(*acc));
	struct lat_summary s;
	uint64_t t, start;

	(void)state;
	assert_non_null(acc);
	for (t = 0; t < 300 * SEC; t += 10 * MS)
		lat_window_record(&w, NULL, t, 20 * MS, t % SEC == 0);
	collect(&w, 300 * SEC - 1, 60, &s);
	assert_float_equal(s.rate, 100.0, 0.5);
	assert_float_equal(s.error_rate, 0.01, 1e-9);
	collect(&w, 300 * SEC - 1, 10, &s);
	assert_float_equal(s.rate, 100.0, 0.5);
	collect(&w, 300 * SEC - 1, 240, &s);
	assert_float_equal(s.rate, 100.0, 0.5);
	assert_within("rate", 0.5, s.p50_ns, 20 * MS);
	assert_int_equal(s.max_ns, 20 * MS);
	/* the caller began at 250 s: a 15 min window covers 50 s */
	lat_sketch_init(acc);
	start = lat_window_collect(&w, 300 * SEC, 900, acc);
	assert_int_equal(start, 0);
	lat_summarize(acc, start, 250 * SEC, 300 * SEC, &s);
	assert_int_equal(s.span_ns, 50 * SEC);
	assert_int_equal(s.count, 30000);
	assert_float_equal(s.rate, 600.0, 1e-9);
	lat_window_free(&w, NULL);
	free(acc);
}

/* A window's answer equals a dense sketch of the same samples, after the
 * slots were packed (counts above 16, gaps above 8 buckets, counts past the
 * 22-bit word). */
static void test_window_matches_sketch(void **state)
{
	struct lat_window w = {0};
	struct lat_mem mem = {0};
	struct lat_sketch *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	uint64_t t;
	int i;

	(void)state;
	assert_true(a && b);
	lat_sketch_init(a);
	for (t = 0; t < 600; t++) {
		for (i = 0; i < 40; i++) {
			uint64_t x = (uint64_t)(5e6 * exp(1.5 * normal()));

			lat_window_record(&w, &mem, t * SEC, x, i == 0);
			lat_sketch_add(a, x, i == 0);
		}
	}
	for (i = 0; i < 4200000; i++) /* one bucket past 2^22 in one slot */
		lat_window_record(&w, &mem, 599 * SEC, 3 * MS, false);
	for (i = 0; i < 4200000; i++)
		lat_sketch_add(a, 3 * MS, false);
	lat_sketch_init(b);
	lat_window_collect(&w, 600 * SEC, 900, b);
	assert_memory_equal(a->buckets, b->buckets, sizeof(a->buckets));
	assert_int_equal(a->count, b->count);
	assert_int_equal(a->errors, b->errors);
	assert_int_equal(a->max_ns, b->max_ns);
	/* time moves on: every slot packed, the same answer */
	lat_window_expire(&w, &mem, 601 * SEC);
	lat_sketch_init(b);
	lat_window_collect(&w, 601 * SEC, 900, b);
	assert_memory_equal(a->buckets, b->buckets, sizeof(a->buckets));
	assert_int_equal(mem.bytes, lat_window_bytes(&w));
	assert_int_equal(mem.degraded, 0);
	lat_window_free(&w, &mem);
	assert_int_equal(mem.bytes, 0);
	free(a);
	free(b);
}

/* A sample filed with its bucket known (metrics.c: one log() for a span's
 * three windows) lands where lat_window_record files it. */
static void test_record_with_bucket(void **state)
{
	struct lat_window w1 = {0}, w2 = {0};
	struct lat_mem mem = {0};
	struct lat_sketch *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));

	(void)state;
	assert_true(a && b);
	for (uint64_t t = 0; t < 120; t++) {
		for (int i = 0; i < 50; i++) {
			uint64_t x = (uint64_t)(2e6 * exp(2.0 * normal()));

			assert_int_equal(lat_window_record(&w1, &mem, t * SEC, x, i == 3),
					 lat_window_record_bucket(&w2, &mem, t * SEC, x,
								  lat_bucket_of(x), i == 3));
		}
	}
	lat_sketch_init(a);
	lat_sketch_init(b);
	lat_window_collect(&w1, 120 * SEC, 900, a);
	lat_window_collect(&w2, 120 * SEC, 900, b);
	assert_true(a->count == 120 * 50);
	assert_memory_equal(a, b, sizeof(*a));
	lat_window_free(&w1, &mem);
	lat_window_free(&w2, &mem);
	free(a);
	free(b);
}

/* A sample filed late goes to its slot, or to the newest one once its slot is
 * packed; one older than every ring is refused. */
static void test_late_samples(void **state)
{
	struct lat_window w = {0};
	struct lat_summary s;

	(void)state;
	assert_true(lat_window_record(&w, NULL, 35 * SEC, 1 * MS, false));
	assert_true(lat_window_record(&w, NULL, 25 * SEC, 1 * MS, false)); /* empty slot */
	assert_true(lat_window_record(&w, NULL, 45 * SEC, 1 * MS, false));
	assert_true(lat_window_record(&w, NULL, 36 * SEC, 1 * MS, false)); /* packed: newest */
	collect(&w, 45 * SEC, 10, &s); /* slots [30, 40) and [40, 50) */
	assert_int_equal(s.count, 3);
	collect(&w, 45 * SEC, 60, &s);
	assert_int_equal(s.count, 4);
	assert_true(lat_window_record(&w, NULL, 2000 * SEC, 1 * MS, false));
	assert_false(lat_window_record(&w, NULL, 45 * SEC, 1 * MS, false));
	lat_window_free(&w, NULL);
}

/* Past the memory limit slots stop growing: counts stay exact, the limit
 * holds, and the degraded samples are counted. */
static void test_memory_limit(void **state)
{
	struct lat_window w[4] = {{0}};
	struct lat_mem mem = {.limit = 4096};
	struct lat_summary s;
	int i, j;

	(void)state;
	for (j = 0; j < 4; j++)
		for (i = 0; i < 2000; i++)
			lat_window_record(&w[j], &mem, 5 * SEC, 1 * MS + (uint64_t)i * 50000,
					  false);
	assert_true(mem.degraded > 0);
	/* the slot headers (736 bytes a window) are not refused */
	assert_true(mem.bytes <= mem.limit + 4 * 1024);
	collect(&w[3], 5 * SEC, 10, &s);
	assert_int_equal(s.count, 2000);
	assert_int_equal(s.max_ns, 1 * MS + 1999 * 50000ULL);
	printf("    4 windows under a 4096-byte limit: %zu bytes, %llu samples degraded\n",
	       mem.bytes, (unsigned long long)mem.degraded);
	for (j = 0; j < 4; j++)
		lat_window_free(&w[j], &mem);
	assert_int_equal(mem.bytes, 0);
}

/* What one series costs with steady traffic: lognormal latencies at 10 and
 * 100 requests per second, 16 minutes. */
static void test_bytes_per_series(void **state)
{
	static const int rates[] = {1, 10, 100, 1000};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(rates) / sizeof(rates[0]); k++) {
		struct lat_window w = {0};
		struct lat_mem mem = {0};
		uint64_t t, step = SEC / rates[k];

		for (t = 0; t < 960 * SEC; t += step)
			lat_window_record(&w, &mem, t, (uint64_t)(20e6 * exp(0.5 * normal())),
					  false);
		lat_window_expire(&w, &mem, 960 * SEC);
		printf("    %4d req/s lognormal(20 ms, sigma 0.5): %zu bytes per series\n",
		       rates[k], lat_window_bytes(&w) + sizeof(w));
		assert_true(lat_window_bytes(&w) < 16384);
		lat_window_free(&w, &mem);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_constants),
	    cmocka_unit_test(test_bucket_error_bound),
	    cmocka_unit_test(test_accuracy_uniform),
	    cmocka_unit_test(test_accuracy_bimodal),
	    cmocka_unit_test(test_accuracy_pareto),
	    cmocka_unit_test(test_accuracy_small_and_constant),
	    cmocka_unit_test(test_under_and_overflow),
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_window_expiry),
	    cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_window_matches_sketch),
	    cmocka_unit_test(test_record_with_bucket),
	    cmocka_unit_test(test_late_samples),
	    cmocka_unit_test(test_memory_limit),
	    cmocka_unit_test(test_bytes_per_series),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
