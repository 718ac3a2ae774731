/* SPDX-License-Identifier: Apache-2.0 */
/* test_prometheus.c: the text exposition writer: escaping, ordering, one
 * HELP and TYPE per family, counters and histograms, float formatting. The
 * http_* histograms from the registry are test_prom_http.c's. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <locale.h>
#include <math.h>
#include <cmocka.h>

#include "exporters/prometheus.h"

static char *finish(struct prom_writer *w)
{
	char *text;
	size_t len;

	assert_int_equal(prom_finish(w, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	return text;
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle))
		n++;
	return n;
}

static void test_escaping(void **state)
{
	struct prom_writer *w = prom_writer_new();
	struct prom_label l[] = {{"path", "a\\b\"c\nd"}};
	char *t;

	(void)state;
	assert_int_equal(
	    prom_family_begin(w, "x", PROM_GAUGE, "Back\\slash and\nnewline \"kept\"."), 0);
	assert_int_equal(prom_sample(w, l, 1, 1), 0);
	t = finish(w);
	assert_string_equal(t, "# HELP x Back\\\\slash and\\nnewline \"kept\".\n"
			       "# TYPE x gauge\n"
			       "x{path=\"a\\\\b\\\"c\\nd\"} 1\n");
	free(t);
	prom_writer_free(w);
}

/* Bad UTF-8 must not fail the scrape: each bad byte becomes U+FFFD; good
 * multi-byte characters stay. */
static void test_utf8_repair(void **state)
{
	struct prom_writer *w = prom_writer_new();
	struct prom_label l[] = {{"v", ""}};
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"caf\xc3\xa9", "caf\xc3\xa9"},
	    {"\xf0\x9f\x9a\x80", "\xf0\x9f\x9a\x80"}, /* U+1F680 */
	    {"a\xff"
	     "b",
	     "a\xef\xbf\xbd"
	     "b"},						      /* never valid */
	    {"\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd"},		      /* overlong NUL */
	    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
	    {"x\xe2\x82", "x\xef\xbf\xbd\xef\xbf\xbd"},		      /* cut short */
	};
	char want[128], *t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		w = w ? w : prom_writer_new();
		l[0].value = cases[i].in;
		assert_int_equal(prom_family_begin(w, "u", PROM_GAUGE, NULL), 0);
		assert_int_equal(prom_sample(w, l, 1, 0), 0);
		t = finish(w);
		snprintf(want, sizeof(want), "# TYPE u gauge\nu{v=\"%s\"} 0\n", cases[i].out);
		assert_string_equal(t, want);
		free(t);
		prom_writer_free(w);
		w = NULL;
	}
}

/* Families in name order, each with one HELP and TYPE although begun three
 * times; samples sorted by label text; counters end in _total once. */
static void test_order_and_families(void **state)
{
	struct prom_writer *w = prom_writer_new();
	struct prom_label b[] = {{"service", "b"}}, a[] = {{"service", "a"}};
	char *t;

	(void)state;
	assert_int_equal(prom_family_begin(w, "bpfmesh_zeta", PROM_GAUGE, "Z."), 0);
	assert_int_equal(prom_sample(w, b, 1, 2), 0);
	assert_int_equal(prom_family_begin(w, "bpfmesh_conns", PROM_COUNTER, "Conns."), 0);
	assert_int_equal(prom_sample(w, b, 1, 20), 0);
	assert_int_equal(prom_family_begin(w, "bpfmesh_zeta", PROM_GAUGE, "ignored"), 0);
	assert_int_equal(prom_sample(w, a, 1, 1), 0);
	assert_int_equal(prom_family_begin(w, "bpfmesh_conns_total", PROM_COUNTER, NULL), 0);
	assert_int_equal(prom_sample(w, a, 1, 10), 0);
	assert_int_equal(prom_sample(w, NULL, 0, 30), 0);
	t = finish(w);
	assert_string_equal(t, "# HELP bpfmesh_conns_total Conns.\n"
			       "# TYPE bpfmesh_conns_total counter\n"
			       "bpfmesh_conns_total 30\n"
			       "bpfmesh_conns_total{service=\"a\"} 10\n"
			       "bpfmesh_conns_total{service=\"b\"} 20\n"
			       "# HELP bpfmesh_zeta Z.\n"
			       "# TYPE bpfmesh_zeta gauge\n"
			       "bpfmesh_zeta{service=\"a\"} 1\n"
			       "bpfmesh_zeta{service=\"b\"} 2\n");
	assert_int_equal(count_of(t, "# TYPE"), 2);
	free(t);
	prom_writer_free(w);
}

static void test_histogram(void **state)
{
	struct prom_writer *w = prom_writer_new();
	struct prom_label l[] = {{"service_name", "users"}, {"http_route", ""}};
	static const double bounds[] = {0.005, 0.5, 1, 10};
	static const uint64_t counts[] = {3, 0, 2, 1, 4};
	char *t;

	(void)state;
	assert_int_equal(prom_family_begin(w, "d_seconds", PROM_HISTOGRAM, "D."), 0);
	assert_int_equal(prom_histogram(w, l, 2, bounds, 4, counts, 61.25), 0);
	t = finish(w);
	/* cumulative, +Inf last and equal to _count; the empty route left out */
	assert_string_equal(t, "# HELP d_seconds D.\n"
			       "# TYPE d_seconds histogram\n"
			       "d_seconds_bucket{service_name=\"users\",le=\"0.005\"} 3\n"
			       "d_seconds_bucket{service_name=\"users\",le=\"0.5\"} 3\n"
			       "d_seconds_bucket{service_name=\"users\",le=\"1\"} 5\n"
			       "d_seconds_bucket{service_name=\"users\",le=\"10\"} 6\n"
			       "d_seconds_bucket{service_name=\"users\",le=\"+Inf\"} 10\n"
			       "d_seconds_sum{service_name=\"users\"} 61.25\n"
			       "d_seconds_count{service_name=\"users\"} 10\n");
	free(t);
	prom_writer_free(w);
}

static void test_rejects(void **state)
{
	struct prom_writer *w = prom_writer_new();
	struct prom_label bad[] = {{"__name", "x"}}, le[] = {{"le", "1"}}, dig[] = {{"1a", "x"}};
	struct prom_label ok[] = {{"a", "1"}};
	static const double bounds[] = {1};
	static const uint64_t counts[] = {1, 1};
	char *t;

	(void)state;
	assert_int_equal(prom_sample(w, ok, 1, 1), -EINVAL); /* no family */
	assert_int_equal(prom_family_begin(w, "9lives", PROM_GAUGE, NULL), -EINVAL);
	assert_int_equal(prom_family_begin(w, "has-dash", PROM_GAUGE, NULL), -EINVAL);
	assert_int_equal(prom_sample(w, ok, 1, 1), -EINVAL); /* the failed begin left none */
	assert_int_equal(prom_family_begin(w, "g", PROM_GAUGE, NULL), 0);
	assert_int_equal(prom_family_begin(w, "g", PROM_COUNTER, NULL), 0); /* g_total */
	assert_int_equal(prom_family_begin(w, "g", PROM_HISTOGRAM, NULL), -EINVAL);
	assert_int_equal(prom_family_begin(w, "g", PROM_GAUGE, NULL), 0);
	assert_int_equal(prom_sample(w, bad, 1, 1), -EINVAL);
	assert_int_equal(prom_sample(w, dig, 1, 1), -EINVAL);
	assert_int_equal(prom_histogram(w, ok, 1, bounds, 1, counts, 1), -EINVAL);
	assert_int_equal(prom_sample(w, ok, 1, 1), 0);
	assert_int_equal(prom_sample(w, ok, 1, 2), 0); /* a duplicate: dropped */
	assert_int_equal(prom_family_begin(w, "h", PROM_HISTOGRAM, NULL), 0);
	assert_int_equal(prom_histogram(w, le, 1, bounds, 1, counts, 1), -EINVAL);
	assert_int_equal(prom_sample(w, ok, 1, 1), -EINVAL);
	t = finish(w);
	assert_non_null(strstr(t, "g{a=\"1\"} 1\n"));
	assert_null(strstr(t, "g{a=\"1\"} 2\n"));
	assert_int_equal(prom_dropped(w), 8);
	free(t);
	prom_writer_free(w);
}

static void check_fmt(double v, const char *want)
{
	char buf[64];

	assert_string_equal(prom_format_double(buf, sizeof(buf), v), want);
	if (strcmp(want, "NaN"))
		assert_true(strtod(want, NULL) == v || (isinf(v) && isinf(strtod(want, NULL))));
}

static void test_floats(void **state)
{
	char buf[64];

	(void)state;
	check_fmt(INFINITY, "+Inf");
	check_fmt(-INFINITY, "-Inf");
	check_fmt(NAN, "NaN");
	check_fmt(0, "0");
	check_fmt(42, "42");
	check_fmt(0.005, "0.005");
	check_fmt(0.1, "0.1");
	check_fmt(2.5, "2.5");
	check_fmt(1e-9, "1e-09");
	check_fmt(-3.75, "-3.75");
	check_fmt(1e20, "1e+20");
	check_fmt(0.1 + 0.2, "0.30000000000000004"); /* the shortest that reads back */
	check_fmt(18446744073709551616.0, "1.8446744073709552e+19");
	/* a locale with a decimal comma changes nothing */
	if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
		assert_string_equal(prom_format_double(buf, sizeof(buf), 2.5), "2.5");
		assert_string_equal(prom_format_double(buf, sizeof(buf), 0.1 + 0.2),
				    "0.30000000000000004");
		setlocale(LC_NUMERIC, "C");
	} else {
		printf("    no de_DE or fr_FR locale here: the decimal-comma case is not run\n");
	}
}

/* The whole text of a small writer, fed out of order across families and
 * with a duplicate, against a hand-written exposition: what the writer
 * promises, byte for byte. */
static void test_identity(void **state)
{
	struct prom_writer *w = prom_writer_new();
	static const double bounds[] = {0.1, 1};
	static const uint64_t c1[] = {1, 2, 3}, c2[] = {0, 0, 4}, c3[] = {9, 9, 9};
	struct prom_label users[] = {{"svc", "users"}, {"code", "200"}};
	struct prom_label cart[] = {{"svc", "cart \"eu\""}, {"code", ""}};
	struct prom_label none[] = {{"svc", ""}};
	struct prom_label r1[] = {{"reason", "refused"}}, r2[] = {{"reason", "b\\ad\xff"}};
	char *t;

	(void)state;
	assert_int_equal(prom_family_begin(w, "req_seconds", PROM_HISTOGRAM, "Req\nsecs."), 0);
	assert_int_equal(prom_histogram(w, users, 2, bounds, 2, c1, 0.75), 0);
	assert_int_equal(prom_family_begin(w, "refusals", PROM_COUNTER, "Refused."), 0);
	assert_int_equal(prom_sample(w, r1, 1, 7), 0);
	assert_int_equal(prom_family_begin(w, "req_seconds", PROM_HISTOGRAM, NULL), 0);
	assert_int_equal(prom_histogram(w, cart, 2, bounds, 2, c2, 12.5), 0);
	assert_int_equal(prom_histogram(w, none, 1, bounds, 2, c1, 0.1 + 0.2), 0);
	assert_int_equal(prom_histogram(w, users, 2, bounds, 2, c3, 99), 0); /* duplicate */
	assert_int_equal(prom_family_begin(w, "refusals_total", PROM_COUNTER, NULL), 0);
	assert_int_equal(prom_sample(w, r2, 1, -0.0), 0);
	assert_int_equal(prom_family_begin(w, "active", PROM_GAUGE, NULL), 0);
	assert_int_equal(prom_sample(w, NULL, 0, 1e20), 0);
	t = finish(w);
	assert_string_equal(t, "# TYPE active gauge\n"
			       "active 1e+20\n"
			       "# HELP refusals_total Refused.\n"
			       "# TYPE refusals_total counter\n"
			       "refusals_total{reason=\"b\\\\ad\xef\xbf\xbd\"} -0\n"
			       "refusals_total{reason=\"refused\"} 7\n"
			       "# HELP req_seconds Req\\nsecs.\n"
			       "# TYPE req_seconds histogram\n"
			       "req_seconds_bucket{le=\"0.1\"} 1\n"
			       "req_seconds_bucket{le=\"1\"} 3\n"
			       "req_seconds_bucket{le=\"+Inf\"} 6\n"
			       "req_seconds_sum 0.30000000000000004\n"
			       "req_seconds_count 6\n"
			       "req_seconds_bucket{svc=\"cart \\\"eu\\\"\",le=\"0.1\"} 0\n"
			       "req_seconds_bucket{svc=\"cart \\\"eu\\\"\",le=\"1\"} 0\n"
			       "req_seconds_bucket{svc=\"cart \\\"eu\\\"\",le=\"+Inf\"} 4\n"
			       "req_seconds_sum{svc=\"cart \\\"eu\\\"\"} 12.5\n"
			       "req_seconds_count{svc=\"cart \\\"eu\\\"\"} 4\n"
			       "req_seconds_bucket{svc=\"users\",code=\"200\",le=\"0.1\"} 1\n"
			       "req_seconds_bucket{svc=\"users\",code=\"200\",le=\"1\"} 3\n"
			       "req_seconds_bucket{svc=\"users\",code=\"200\",le=\"+Inf\"} 6\n"
			       "req_seconds_sum{svc=\"users\",code=\"200\"} 0.75\n"
			       "req_seconds_count{svc=\"users\",code=\"200\"} 6\n");
	assert_int_equal(prom_dropped(w), 1);
	free(t);
	prom_writer_free(w);
}

/* Of two series with the same labels the first added is written, whatever
 * the sort does with the rest, and each later one is counted. */
static void test_duplicates(void **state)
{
	struct prom_writer *w = prom_writer_new();
	struct prom_label a[] = {{"k", "a"}}, b[] = {{"k", "b"}}, e[] = {{"k", ""}};
	char *t;

	(void)state;
	assert_int_equal(prom_family_begin(w, "g", PROM_GAUGE, NULL), 0);
	assert_int_equal(prom_sample(w, b, 1, 1), 0);
	assert_int_equal(prom_sample(w, a, 1, 2), 0);
	assert_int_equal(prom_sample(w, b, 1, 3), 0);
	assert_int_equal(prom_sample(w, e, 1, 4), 0);
	assert_int_equal(prom_sample(w, a, 1, 5), 0);
	assert_int_equal(prom_sample(w, NULL, 0, 6), 0); /* the same as k="" */
	assert_int_equal(prom_sample(w, b, 1, 7), 0);
	t = finish(w);
	assert_string_equal(t, "# TYPE g gauge\n"
			       "g 4\n"
			       "g{k=\"a\"} 2\n"
			       "g{k=\"b\"} 1\n");
	assert_int_equal(prom_dropped(w), 4);
	free(t);
	prom_writer_free(w);
}

/* The le texts are cached per bounds array: one array reused with other
 * values must not be written with the old ones, and two arrays with the
 * same values give the same text. */
static void test_bounds_reused(void **state)
{
	struct prom_writer *w = prom_writer_new();
	struct prom_label a[] = {{"k", "a"}}, b[] = {{"k", "b"}}, c[] = {{"k", "c"}};
	static const uint64_t counts[] = {1, 1, 1};
	static const double same[] = {0.25, 2};
	double bounds[] = {0.25, 2};
	char *t;

	(void)state;
	assert_int_equal(prom_family_begin(w, "h", PROM_HISTOGRAM, NULL), 0);
	assert_int_equal(prom_histogram(w, a, 1, bounds, 2, counts, 1), 0);
	bounds[0] = 0.5;
	assert_int_equal(prom_histogram(w, b, 1, bounds, 1, counts, 1), 0);
	assert_int_equal(prom_histogram(w, c, 1, same, 2, counts, 1), 0);
	t = finish(w);
	assert_string_equal(t, "# TYPE h histogram\n"
			       "h_bucket{k=\"a\",le=\"0.25\"} 1\n"
			       "h_bucket{k=\"a\",le=\"2\"} 2\n"
			       "h_bucket{k=\"a\",le=\"+Inf\"} 3\n"
			       "h_sum{k=\"a\"} 1\n"
			       "h_count{k=\"a\"} 3\n"
			       "h_bucket{k=\"b\",le=\"0.5\"} 1\n"
			       "h_bucket{k=\"b\",le=\"+Inf\"} 2\n"
			       "h_sum{k=\"b\"} 1\n"
			       "h_count{k=\"b\"} 2\n"
			       "h_bucket{k=\"c\",le=\"0.25\"} 1\n"
			       "h_bucket{k=\"c\",le=\"2\"} 2\n"
			       "h_bucket{k=\"c\",le=\"+Inf\"} 3\n"
			       "h_sum{k=\"c\"} 1\n"
			       "h_count{k=\"c\"} 3\n");
	free(t);
	prom_writer_free(w);
}

/* Many series, added in reverse: sorted, every line there once, and the
 * text's length what prom_finish says (its buffer is sized in advance). */
static void test_many_sorted(void **state)
{
	struct prom_writer *w = prom_writer_new();
	static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
					1,     2.5,  5,	    10,	  30,  60,   120};
	uint64_t counts[15];
	char v[32], want[128], *t, *prev;
	int i;

	(void)state;
	for (i = 0; i < 15; i++)
		counts[i] = (uint64_t)i * 1000000007ULL;
	assert_int_equal(prom_family_begin(w, "h", PROM_HISTOGRAM, NULL), 0);
	for (i = 999; i >= 0; i--) {
		struct prom_label l[] = {{"svc", "s"}, {"n", v}};

		snprintf(v, sizeof(v), "%04d", i);
		assert_int_equal(prom_histogram(w, l, 2, bounds, 14, counts, i + 0.5), 0);
	}
	t = finish(w);
	assert_int_equal(count_of(t, "\n"), 1 + 1000 * 17);
	assert_int_equal(count_of(t, "le=\"120\"} 91000000637\n"), 1000);
	prev = t;
	for (i = 0; i < 1000; i++) {
		char *at;

		snprintf(want, sizeof(want), "h_count{svc=\"s\",n=\"%04d\"} 105000000735\n", i);
		at = strstr(t, want);
		assert_non_null(at);
		assert_true(at > prev);
		prev = at;
	}
	free(t);
	prom_writer_free(w);
}

static void test_integers(void **state)
{
	char buf[64];

	(void)state;
	check_fmt(-0.0, "-0");
	check_fmt(999999999999999.0, "999999999999999");
	check_fmt(-999999999999999.0, "-999999999999999");
	check_fmt(1e15, "1e+15");
	check_fmt(100, "100");
	/* truncated as snprintf would */
	assert_string_equal(prom_format_double(buf, 3, 12345), "12");
	assert_string_equal(prom_format_double(buf, 3, INFINITY), "+I");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_utf8_repair),
	    cmocka_unit_test(test_order_and_families),
	    cmocka_unit_test(test_histogram),
	    cmocka_unit_test(test_rejects),
	    cmocka_unit_test(test_floats),
	    cmocka_unit_test(test_integers),
	    cmocka_unit_test(test_identity),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_bounds_reused),
	    cmocka_unit_test(test_many_sorted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
