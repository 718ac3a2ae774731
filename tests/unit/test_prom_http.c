/* SPDX-License-Identifier: Apache-2.0 */
/* test_prom_http.c: the registry's http_server_request_duration_seconds and
 * http_client_request_duration_seconds families in the exposition (labels,
 * buckets, escaping, order, empty registry), in one step and in two.
 * BPFMESH_PROM_SAMPLE=FILE writes a sample exposition there, for
 * `promtool check metrics < FILE`. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics/metrics.h"
#include "metrics/prom_http.h"

#define MS 1000000ULL

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

static struct span mk(int kind, const char *svc, const char *method, const char *route,
		      uint16_t code, uint64_t dur_ns)
{
	struct span s;

	memset(&s, 0, sizeof(s));
	s.kind = (uint8_t)kind;
	snprintf(s.service_name, sizeof(s.service_name), "%s", svc);
	snprintf(s.method, sizeof(s.method), "%s", method);
	snprintf(s.route, sizeof(s.route), "%s", route);
	s.status_code = code;
	s.end_unix_ns = dur_ns;
	return s;
}

static void test_http_histograms(void **state)
{
	struct metrics *m = metrics_new(NULL, 0);
	struct prom_writer *w = prom_writer_new();
	struct prom_label l[] = {{"reason", "refused"}};
	struct span sp;
	const char *path = getenv("BPFMESH_PROM_SAMPLE");
	char *t;

	(void)state;
	sp = mk(SPAN_KIND_SERVER, "users", "GET", "/api/v1/users/{id}", 200, 30 * MS);
	metrics_record(m, &sp, 0);
	metrics_record(m, &sp, 0);
	sp = mk(SPAN_KIND_SERVER, "users", "GET", "/api/v1/users/{id}", 503, 7 * MS);
	metrics_record(m, &sp, 0);
	sp = mk(SPAN_KIND_SERVER, "cart \"eu\"", "POST", "/cart/\xff", 201, 2500 * MS);
	metrics_record(m, &sp, 0);
	sp = mk(SPAN_KIND_CLIENT, "web", "GET", "/api/v1/users/{id}", 0, 20 * MS);
	metrics_record(m, &sp, 0);

	assert_int_equal(prom_family_begin(w, "bpfmesh_connect_refusals", PROM_COUNTER,
					   "Connects the mesh refused, by reason."),
			 0);
	assert_int_equal(prom_sample(w, l, 1, 3), 0);
	assert_int_equal(prom_write_http_histograms(w, m), 0);
	t = finish(w);
	if (path) {
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs(t, f);
		fclose(f);
	}
	/* bpfmesh_* before http_client_* before http_server_* */
	assert_true(strstr(t, "# TYPE bpfmesh_connect_refusals_total counter") <
		    strstr(t, "# TYPE http_client_request_duration_seconds histogram"));
	assert_true(strstr(t, "# TYPE http_client_request_duration_seconds histogram") <
		    strstr(t, "# TYPE http_server_request_duration_seconds histogram"));
	assert_int_equal(count_of(t, "# TYPE http_server_request_duration_seconds"), 1);
	assert_int_equal(count_of(t, "# HELP http_server_request_duration_seconds"), 1);
	/* 30 ms twice: not in le=0.025, in le=0.05 */
	assert_non_null(strstr(t,
			       "http_server_request_duration_seconds_bucket{service_name=\"users\","
			       "http_request_method=\"GET\",http_response_status_code=\"200\","
			       "http_route=\"/api/v1/users/{id}\",le=\"0.025\"} 0\n"));
	assert_non_null(strstr(t,
			       "http_server_request_duration_seconds_bucket{service_name=\"users\","
			       "http_request_method=\"GET\",http_response_status_code=\"200\","
			       "http_route=\"/api/v1/users/{id}\",le=\"0.05\"} 2\n"));
	assert_non_null(strstr(t, "http_server_request_duration_seconds_sum{service_name=\"users\","
				  "http_request_method=\"GET\",http_response_status_code=\"200\","
				  "http_route=\"/api/v1/users/{id}\"} 0.06\n"));
	assert_non_null(strstr(t,
			       "http_server_request_duration_seconds_count{service_name=\"users\","
			       "http_request_method=\"GET\",http_response_status_code=\"503\","
			       "http_route=\"/api/v1/users/{id}\"} 1\n"));
	/* no response: no status code label */
	assert_non_null(
	    strstr(t, "http_client_request_duration_seconds_count{service_name=\"web\","
		      "http_request_method=\"GET\",http_route=\"/api/v1/users/{id}\"} 1\n"));
	/* escaped and repaired label values */
	assert_non_null(strstr(t, "service_name=\"cart \\\"eu\\\"\""));
	assert_non_null(strstr(t, "http_route=\"/cart/\xef\xbf\xbd\""));
	/* series of a family sorted: "cart..." before "users" */
	assert_true(strstr(t, "_count{service_name=\"cart") <
		    strstr(t, "_count{service_name=\"users"));
	assert_int_equal(count_of(t, "le=\"+Inf\""), 4);
	free(t);
	prom_writer_free(w);
	metrics_free(m);
}

/* An empty registry still gives both families, HELP and TYPE only. */
static void test_http_histograms_empty(void **state)
{
	struct metrics *m = metrics_new(NULL, 0);
	struct prom_writer *w = prom_writer_new();
	char *t;

	(void)state;
	assert_int_equal(prom_write_http_histograms(w, m), 0);
	t = finish(w);
	assert_string_equal(t,
			    "# HELP http_client_request_duration_seconds Duration of HTTP client "
			    "requests.\n"
			    "# TYPE http_client_request_duration_seconds histogram\n"
			    "# HELP http_server_request_duration_seconds Duration of HTTP server "
			    "requests.\n"
			    "# TYPE http_server_request_duration_seconds histogram\n");
	free(t);
	prom_writer_free(w);
	metrics_free(m);
}

struct copy_ctx {
	struct prom_writer *w;
	int err;
};

static void write_one(const struct metrics_hist *h, void *arg)
{
	struct copy_ctx *c = arg;
	int err = prom_http_histogram(c->w, h);

	if (err && !c->err)
		c->err = err;
}

/* The two-step form (families, then series one by one, as the agent's
 * scrape does with series copied out under its lock) writes the same text. */
static void test_http_histograms_two_steps(void **state)
{
	struct metrics *m = metrics_new(NULL, 0);
	struct prom_writer *one = prom_writer_new(), *two = prom_writer_new();
	struct copy_ctx c = {two, 0};
	struct span sp;
	char *a, *b;

	(void)state;
	sp = mk(SPAN_KIND_SERVER, "users", "GET", "/api/v1/users/{id}", 200, 30 * MS);
	metrics_record(m, &sp, 0);
	sp = mk(SPAN_KIND_CLIENT, "web", "POST", "/cart", 503, 900 * MS);
	metrics_record(m, &sp, 0);
	assert_int_equal(prom_write_http_histograms(one, m), 0);
	assert_int_equal(prom_http_families(two), 0);
	metrics_foreach_histogram(m, write_one, &c);
	assert_int_equal(c.err, 0);
	a = finish(one);
	b = finish(two);
	assert_string_equal(a, b);
	assert_int_equal(count_of(a, "le=\"+Inf\""), 2);
	free(a);
	free(b);
	prom_writer_free(one);
	prom_writer_free(two);
	metrics_free(m);
}

/* web of prod and web of staging: two series, told apart by
 * service_namespace. */
static void test_http_histograms_namespaces(void **state)
{
	struct metrics *m = metrics_new(NULL, 0);
	struct prom_writer *w = prom_writer_new();
	struct span sp;
	char *t;

	(void)state;
	sp = mk(SPAN_KIND_SERVER, "web", "GET", "/a", 200, 30 * MS);
	snprintf(sp.service_namespace, sizeof(sp.service_namespace), "prod");
	metrics_record(m, &sp, 0);
	snprintf(sp.service_namespace, sizeof(sp.service_namespace), "staging");
	metrics_record(m, &sp, 0);
	metrics_record(m, &sp, 0);
	assert_int_equal(prom_write_http_histograms(w, m), 0);
	t = finish(w);
	assert_int_equal(count_of(t, "http_server_request_duration_seconds_count{"), 2);
	assert_non_null(strstr(t, "http_server_request_duration_seconds_count{service_name=\"web\","
				  "service_namespace=\"prod\",http_request_method=\"GET\","
				  "http_response_status_code=\"200\",http_route=\"/a\"} 1\n"));
	assert_non_null(strstr(t, "http_server_request_duration_seconds_count{service_name=\"web\","
				  "service_namespace=\"staging\",http_request_method=\"GET\","
				  "http_response_status_code=\"200\",http_route=\"/a\"} 2\n"));
	free(t);
	prom_writer_free(w);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http_histograms),
	    cmocka_unit_test(test_http_histograms_empty),
	    cmocka_unit_test(test_http_histograms_two_steps),
	    cmocka_unit_test(test_http_histograms_namespaces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
