/* SPDX-License-Identifier: Apache-2.0 */
/* test_metrics.c: the request-metrics registry: spans in, histograms and
 * windowed summaries out, error classification, series caps, memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <math.h>
#include <cmocka.h>

#include "metrics/metrics.h"

#define SEC 1000000000ULL
#define MS 1000000ULL

static struct span mk(int kind, const char *svc, const char *method, const char *route,
		      uint16_t code, uint64_t dur_ns)
{
	struct span s;

	memset(&s, 0, sizeof(s));
	s.kind = (uint8_t)kind;
	s.status = code >= (kind == SPAN_KIND_SERVER ? 500 : 400) ? SPAN_STATUS_ERROR : 0;
	snprintf(s.service_name, sizeof(s.service_name), "%s", svc);
	snprintf(s.method, sizeof(s.method), "%s", method);
	snprintf(s.route, sizeof(s.route), "%s", route);
	s.status_code = code;
	s.start_unix_ns = 1700000000ULL * SEC;
	s.end_unix_ns = s.start_unix_ns + dur_ns;
	return s;
}

/* Collects the histograms as text lines, to look them up by their labels. */
struct hists {
	char lines[64][512];
	int n;
};

static void collect_hist(const struct metrics_hist *h, void *ctx)
{
	struct hists *hs = ctx;
	char *p;
	int i, n;

	assert_true(hs->n < 64);
	p = hs->lines[hs->n++];
	n = snprintf(p, 512, "%s|%s|%s|%s|%s|%s|n=%llu|sum=%.4f|", metrics_side_name(h->side),
		     h->service, h->service_ns, h->method, h->status_code, h->route,
		     (unsigned long long)h->count, h->sum);
	for (i = 0; i <= METRICS_HTTP_BOUNDS; i++)
		n += snprintf(p + n, (size_t)(512 - n), "%llu,", (unsigned long long)h->counts[i]);
}

static const struct span_k8s *pod_seen;

static void grab_k8s(const struct metrics_hist *h, void *ctx)
{
	if (!strcmp(h->service_ns, ctx))
		pod_seen = h->k8s;
}

static const char *find_hist(const struct hists *hs, const char *prefix)
{
	int i;

	for (i = 0; i < hs->n; i++)
		if (!strncmp(hs->lines[i], prefix, strlen(prefix)))
			return hs->lines[i];
	return NULL;
}

static void test_histogram_from_spans(void **state)
{
	struct metrics *m = metrics_new(NULL, 0);
	struct span a = mk(SPAN_KIND_SERVER, "users", "GET", "/users/{id}", 200, 30 * MS);
	struct span b = mk(SPAN_KIND_SERVER, "users", "GET", "/users/{id}", 200, 5 * MS);
	struct span c = mk(SPAN_KIND_SERVER, "users", "GET", "/users/{id}", 200, 12 * SEC);
	struct span d = mk(SPAN_KIND_CLIENT, "web", "BREW", "", 0, 1 * MS);
	struct hists hs = {0};
	const char *l;

	(void)state;
	assert_non_null(m);
	metrics_record(m, &a, 1 * SEC);
	metrics_record(m, &b, 1 * SEC);
	metrics_record(m, &c, 1 * SEC);
	metrics_record(m, &d, 1 * SEC);
	metrics_foreach_histogram(m, collect_hist, &hs);
	assert_int_equal(hs.n, 2);
	/* 5 ms is in le=0.005 (bounds are inclusive), 30 ms in le=0.05, 12 s
	 * above 10 */
	l = find_hist(&hs, "server|users||GET|200|/users/{id}|");
	assert_non_null(l);
	assert_non_null(strstr(l, "n=3|sum=12.0350|1,0,0,1,0,0,0,0,0,0,0,0,0,0,1,"));
	/* an unknown method is _OTHER; no response is an empty status code */
	l = find_hist(&hs, "client|web||_OTHER|||n=1|");
	assert_non_null(l);
	/* services in name order */
	assert_non_null(strstr(hs.lines[0], "|users|"));
	assert_int_equal(metrics_http_bounds[0], 0.005);
	assert_int_equal(metrics_http_bounds[METRICS_HTTP_BOUNDS - 1], 10);
	metrics_free(m);
}

static void test_error_classification(void **state)
{
	struct span s;

	(void)state;
	s = mk(SPAN_KIND_SERVER, "x", "GET", "/", 404, MS);
	assert_false(metrics_span_is_error(&s));
	s = mk(SPAN_KIND_SERVER, "x", "GET", "/", 503, MS);
	assert_true(metrics_span_is_error(&s));
	s.status = SPAN_STATUS_UNSET; /* by the code alone */
	assert_true(metrics_span_is_error(&s));
	s = mk(SPAN_KIND_CLIENT, "x", "GET", "/", 404, MS);
	assert_true(metrics_span_is_error(&s));
	s.status = SPAN_STATUS_UNSET;
	assert_true(metrics_span_is_error(&s));
	s = mk(SPAN_KIND_CLIENT, "x", "GET", "/", 302, MS);
	assert_false(metrics_span_is_error(&s));
	s = mk(SPAN_KIND_SERVER, "x", "GET", "/", 0, MS); /* reset before a response */
	s.status = SPAN_STATUS_ERROR;
	assert_true(metrics_span_is_error(&s));
	s = mk(SPAN_KIND_CLIENT, "x", "GET", "/", 200, MS);
	assert_false(metrics_span_is_error(&s));
}

/* The windowed summaries: per service and side, per route (methods merged
 * or not), per endpoint; errors and rates; expiry as time moves. */
static void test_summaries(void **state)
{
	struct metrics *m = metrics_new(NULL, 0);
	struct lat_summary s;
	int i;

	(void)state;
	for (i = 0; i < 100; i++) {
		struct span sv = mk(SPAN_KIND_SERVER, "users", i % 2 ? "GET" : "POST", "/users",
				    i % 10 ? 200 : 500, (uint64_t)(i + 1) * MS);
		struct span cl = mk(SPAN_KIND_CLIENT, "web", "GET", "/users", i % 4 ? 200 : 404,
				    (uint64_t)(i + 1) * MS);

		snprintf(cl.server.address, sizeof(cl.server.address), "127.100.0.10");
		cl.server.port = 80;
		if (i % 2) { /* the load balancer's pick */
			snprintf(cl.peer.address, sizeof(cl.peer.address), "127.0.0.1");
			cl.peer.port = 18081;
		}
		metrics_record(m, &sv, 100 * SEC + (uint64_t)i * 100 * MS);
		metrics_record(m, &cl, 100 * SEC + (uint64_t)i * 100 * MS);
	}
	assert_int_equal(metrics_service_summary(m, "", "users", METRICS_SERVER, 60, 115 * SEC, &s),
			 0);
	assert_int_equal(s.count, 100);
	assert_int_equal(s.errors, 10);
	assert_float_equal(s.error_rate, 0.1, 1e-9);
	assert_int_equal(s.max_ns, 100 * MS);
	assert_true(fabs((double)s.p50_ns - 50e6) <= 0.0101 * 50e6);
	assert_true(fabs((double)s.p99_ns - 99e6) <= 0.0101 * 99e6);
	/* the 60 s window at 115 s starts with the slot from 50 s */
	assert_int_equal(s.span_ns, 65 * SEC);
	assert_float_equal(s.rate, 100.0 / 65, 1e-9);
	assert_int_equal(metrics_service_summary(m, "", "web", METRICS_CLIENT, 60, 115 * SEC, &s),
			 0);
	assert_int_equal(s.errors, 25);
	assert_int_equal(metrics_service_summary(m, "", "users", METRICS_CLIENT, 60, 115 * SEC, &s),
			 0);
	assert_int_equal(s.count, 0);
	assert_int_equal(
	    metrics_service_summary(m, "", "nobody", METRICS_SERVER, 60, 115 * SEC, &s), -ENOENT);

	assert_int_equal(metrics_route_summary(m, "", "users", METRICS_SERVER, "/users", "GET", 60,
					       115 * SEC, &s),
			 0);
	assert_int_equal(s.count, 50);
	assert_int_equal(metrics_route_summary(m, "", "users", METRICS_SERVER, "/users", NULL, 60,
					       115 * SEC, &s),
			 0);
	assert_int_equal(s.count, 100);
	assert_int_equal(s.max_ns, 100 * MS);
	assert_int_equal(metrics_route_summary(m, "", "users", METRICS_CLIENT, "/users", NULL, 60,
					       115 * SEC, &s),
			 -ENOENT);

	/* 70 s later the last minute is empty, the last 5 are not */
	assert_int_equal(metrics_service_summary(m, "", "users", METRICS_SERVER, 60, 185 * SEC, &s),
			 0);
	assert_int_equal(s.count, 0);
	assert_int_equal(
	    metrics_service_summary(m, "", "users", METRICS_SERVER, 300, 185 * SEC, &s), 0);
	assert_int_equal(s.count, 100);
	metrics_free(m);
}

struct seen {
	char what[8][160];
	uint64_t count[8];
	int n;
};

static void on_route(enum metrics_side side, const char *route, const char *method, bool rpc,
		     const struct lat_summary *s, void *ctx)
{
	struct seen *v = ctx;

	assert_false(rpc);
	assert_true(v->n < 8);
	snprintf(v->what[v->n], sizeof(v->what[0]), "%s %s %s", metrics_side_name(side), method,
		 route);
	v->count[v->n++] = s->count;
}

static void on_endpoint(const char *address, uint16_t port, const struct lat_summary *s, void *ctx)
{
	struct seen *v = ctx;

	assert_true(v->n < 8);
	snprintf(v->what[v->n], sizeof(v->what[0]), "%s:%u", address, port);
	v->count[v->n++] = s->count;
}

static void on_service(const char *ns, const char *service, void *ctx)
{
	struct seen *v = ctx;

	assert_true(v->n < 8);
	snprintf(v->what[v->n++], sizeof(v->what[0]), "%s%s%s", ns, ns[0] ? "/" : "", service);
}

/* web of prod and web of staging are two services: their own histograms,
 * windows and routes; and a service's pod identity is what its spans have
 * in common. */
static void test_namespaces(void **state)
{
	struct metrics *m = metrics_new(NULL, 0);
	struct span p = mk(SPAN_KIND_SERVER, "web", "GET", "/a", 200, 10 * MS);
	struct span q = mk(SPAN_KIND_SERVER, "web", "GET", "/a", 500, 20 * MS);
	struct hists hs = {0};
	struct lat_summary s;
	struct seen v = {0};
	int prod = -1, staging = -1;

	(void)state;
	snprintf(p.service_namespace, sizeof(p.service_namespace), "prod");
	snprintf(q.service_namespace, sizeof(q.service_namespace), "staging");
	snprintf(p.k8s.pod_uid, sizeof(p.k8s.pod_uid), "uid-1");
	snprintf(p.k8s.pod_name, sizeof(p.k8s.pod_name), "web-1");
	snprintf(p.k8s.node_name, sizeof(p.k8s.node_name), "node-a");
	snprintf(p.k8s.owner_kind, sizeof(p.k8s.owner_kind), "Deployment");
	snprintf(p.k8s.owner_name, sizeof(p.k8s.owner_name), "web");
	metrics_record(m, &p, SEC);
	metrics_record(m, &q, SEC);
	metrics_record(m, &q, SEC);

	assert_int_equal(metrics_foreach_service(m, on_service, &v), 2);
	assert_string_equal(v.what[0], "prod/web");
	assert_string_equal(v.what[1], "staging/web");
	assert_int_equal(metrics_service_summary(m, "prod", "web", METRICS_SERVER, 60, SEC, &s), 0);
	assert_int_equal(s.count, 1);
	assert_int_equal(s.errors, 0);
	assert_int_equal(metrics_service_summary(m, "staging", "web", METRICS_SERVER, 60, SEC, &s),
			 0);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.errors, 2);
	assert_int_equal(metrics_service_summary(m, "", "web", METRICS_SERVER, 60, SEC, &s),
			 -ENOENT);
	assert_int_equal(metrics_service_summary(m, "default", "web", METRICS_SERVER, 60, SEC, &s),
			 -ENOENT);

	/* one histogram series each, told apart by the namespace */
	metrics_foreach_histogram(m, collect_hist, &hs);
	assert_int_equal(hs.n, 2);
	for (int i = 0; i < hs.n; i++) {
		if (strstr(hs.lines[i], "|prod|"))
			prod = i;
		if (strstr(hs.lines[i], "|staging|"))
			staging = i;
	}
	assert_true(prod >= 0 && staging >= 0);
	assert_non_null(strstr(hs.lines[prod], "|200|/a|n=1|"));
	assert_non_null(strstr(hs.lines[staging], "|500|/a|n=2|"));

	/* a second pod of prod/web: the pod is no longer one, node and owner
	 * still are */
	snprintf(p.k8s.pod_uid, sizeof(p.k8s.pod_uid), "uid-2");
	snprintf(p.k8s.pod_name, sizeof(p.k8s.pod_name), "web-2");
	metrics_record(m, &p, SEC);
	pod_seen = NULL;
	metrics_foreach_histogram(m, grab_k8s, "prod");
	assert_non_null(pod_seen);
	assert_string_equal(pod_seen->pod_uid, "");
	assert_string_equal(pod_seen->pod_name, "");
	assert_string_equal(pod_seen->node_name, "node-a");
	assert_string_equal(pod_seen->owner_name, "web");
	metrics_free(m);
}

static void test_foreach(void **state)
{
	struct metrics *m = metrics_new(NULL, 0);
	struct span sp;
	struct seen v = {0};

	(void)state;
	sp = mk(SPAN_KIND_SERVER, "zeta", "GET", "/a", 200, MS);
	metrics_record(m, &sp, SEC);
	sp = mk(SPAN_KIND_CLIENT, "alpha", "POST", "/b", 200, MS);
	snprintf(sp.server.address, sizeof(sp.server.address), "127.100.0.10");
	sp.server.port = 80;
	metrics_record(m, &sp, SEC);
	snprintf(sp.peer.address, sizeof(sp.peer.address), "127.0.0.1");
	sp.peer.port = 18082;
	metrics_record(m, &sp, SEC);
	metrics_record(m, &sp, SEC);

	assert_int_equal(metrics_foreach_service(m, on_service, &v), 2);
	assert_string_equal(v.what[0], "alpha");
	assert_string_equal(v.what[1], "zeta");

	memset(&v, 0, sizeof(v));
	assert_int_equal(metrics_foreach_route(m, "", "alpha", 60, 2 * SEC, on_route, &v), 0);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.what[0], "client POST /b");
	assert_int_equal(v.count[0], 3);

	/* the peer (where the connection went) before server.address */
	memset(&v, 0, sizeof(v));
	assert_int_equal(metrics_foreach_endpoint(m, "", "alpha", 60, 2 * SEC, on_endpoint, &v), 0);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.what[0], "127.100.0.10:80");
	assert_int_equal(v.count[0], 1);
	assert_string_equal(v.what[1], "127.0.0.1:18082");
	assert_int_equal(v.count[1], 2);
	assert_int_equal(metrics_foreach_endpoint(m, "", "nobody", 60, 2 * SEC, on_endpoint, &v),
			 -ENOENT);
	metrics_free(m);
}

/* The registry remembers where a span's labels led (mx_cache.h): spans of
 * one series repeated count in it exactly as the first did, one that met
 * an overflow meets it (and is counted) every time, and a service whose
 * spans had no pod never gets one from a later span. */
static void test_repeated_spans(void **state)
{
	struct metrics_config cfg = {.max_histograms = 1, .max_routes = 1};
	struct metrics *m = metrics_new(&cfg, 0);
	struct span a = mk(SPAN_KIND_CLIENT, "web", "GET", "/a", 200, 10 * MS);
	struct span b = mk(SPAN_KIND_CLIENT, "web", "GET", "/b", 200, 10 * MS);
	struct metrics_stats st;
	struct hists hs = {0};
	struct lat_summary s;

	(void)state;
	snprintf(a.peer.address, sizeof(a.peer.address), "10.0.0.1");
	a.peer.port = 80;
	b.peer = a.peer;
	for (int i = 0; i < 5; i++) {
		metrics_record(m, &a, SEC);
		metrics_record(m, &b, SEC);
	}
	metrics_get_stats(m, &st);
	assert_int_equal(st.spans, 10);
	assert_int_equal(st.overflow[METRICS_OVF_HISTOGRAM], 5);
	assert_int_equal(st.overflow[METRICS_OVF_ROUTE], 5);
	assert_int_equal(st.overflow[METRICS_OVF_ENDPOINT], 0);
	metrics_foreach_histogram(m, collect_hist, &hs);
	assert_int_equal(hs.n, 2);
	for (int i = 0; i < hs.n; i++)
		assert_non_null(strstr(hs.lines[i], "|n=5|"));
	assert_int_equal(
	    metrics_route_summary(m, "", "web", METRICS_CLIENT, "/a", "GET", 60, SEC, &s), 0);
	assert_int_equal(s.count, 5);
	assert_int_equal(metrics_service_summary(m, "", "web", METRICS_CLIENT, 60, SEC, &s), 0);
	assert_int_equal(s.count, 10);

	/* a span with a pod after ones without: the service still has none */
	snprintf(a.k8s.pod_uid, sizeof(a.k8s.pod_uid), "uid-1");
	snprintf(a.k8s.node_name, sizeof(a.k8s.node_name), "node-a");
	metrics_record(m, &a, SEC);
	pod_seen = NULL;
	metrics_foreach_histogram(m, grab_k8s, "");
	assert_non_null(pod_seen);
	assert_string_equal(pod_seen->pod_uid, "");
	assert_string_equal(pod_seen->node_name, "");
	metrics_free(m);
}

/* Past each cap, spans land in an overflow series and are counted. */
static void test_series_caps(void **state)
{
	struct metrics_config cfg = {
	    .max_services = 2, .max_histograms = 3, .max_routes = 2, .max_endpoints = 1};
	struct metrics *m = metrics_new(&cfg, 0);
	struct metrics_stats st;
	struct hists hs = {0};
	struct lat_summary s;
	struct seen v = {0};
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		struct span sp = mk(SPAN_KIND_CLIENT, "web", "GET", "", i < 4 ? 200 : 503, MS);

		snprintf(sp.route, sizeof(sp.route), "/r%d", i);
		snprintf(sp.peer.address, sizeof(sp.peer.address), "10.0.0.%d", i);
		metrics_record(m, &sp, SEC);
	}
	for (i = 0; i < 3; i++) {
		struct span sp = mk(SPAN_KIND_SERVER, "", "GET", "/", 200, MS);

		snprintf(sp.service_name, sizeof(sp.service_name), "svc%d", i);
		metrics_record(m, &sp, SEC);
	}
	metrics_get_stats(m, &st);
	assert_int_equal(st.spans, 8);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.overflow[METRICS_OVF_HISTOGRAM], 2); /* /r3 and /r4 */
	assert_int_equal(st.overflow[METRICS_OVF_ROUTE], 3);	 /* /r2 .. /r4 */
	assert_int_equal(st.overflow[METRICS_OVF_ENDPOINT], 4);
	assert_int_equal(st.overflow[METRICS_OVF_SERVICE], 2); /* svc1, svc2 */
	assert_string_equal(metrics_overflow_name(METRICS_OVF_ENDPOINT), "endpoint");

	metrics_foreach_histogram(m, collect_hist, &hs);
	/* the overflow keeps the status class */
	assert_non_null(find_hist(&hs, "client|web||_OTHER|2xx|_other|n=1|"));
	assert_non_null(find_hist(&hs, "client|web||_OTHER|5xx|_other|n=1|"));
	assert_non_null(find_hist(&hs, "server|_other||GET|200|/|n=2|"));
	assert_non_null(find_hist(&hs, "server|svc0||GET|200|/|n=1|"));

	assert_int_equal(
	    metrics_route_summary(m, "", "web", METRICS_CLIENT, METRICS_OTHER, NULL, 60, SEC, &s),
	    0);
	assert_int_equal(s.count, 3);
	assert_int_equal(metrics_foreach_endpoint(m, "", "web", 60, SEC, on_endpoint, &v), 0);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.what[1], "_other:0");
	assert_int_equal(v.count[1], 4);
	metrics_get_stats(m, &st);
	assert_int_equal(st.services, 3); /* web, svc0, _other */
	assert_int_equal(st.endpoints, 2);
	metrics_free(m);
}

/* A registry whose byte budget is tiny still counts every span, in overflow
 * series, and stays near its budget. */
static void test_byte_budget(void **state)
{
	struct metrics_config cfg = {.max_bytes = 64 * 1024};
	struct metrics *m = metrics_new(&cfg, 0);
	struct metrics_stats st;
	struct lat_summary s;
	int i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		struct span sp =
		    mk(SPAN_KIND_SERVER, "big", "GET", "", 200, (uint64_t)(i + 1) * 1000);

		snprintf(sp.route, sizeof(sp.route), "/item/%d", i);
		metrics_record(m, &sp, (uint64_t)i * 40 * MS);
	}
	metrics_get_stats(m, &st);
	printf("    64 KiB budget, 20000 routes: %zu bytes, %u histograms, %u route windows, "
	       "%llu spans in overflow, %llu sketch samples degraded\n",
	       st.bytes, st.histograms, st.routes,
	       (unsigned long long)st.overflow[METRICS_OVF_HISTOGRAM],
	       (unsigned long long)st.sketch_degraded);
	assert_true(st.bytes <= cfg.max_bytes + 8 * 1024);
	assert_true(st.overflow[METRICS_OVF_ROUTE] > 0);
	assert_int_equal(metrics_service_summary(m, "", "big", METRICS_SERVER, 900, 800 * SEC, &s),
			 0);
	assert_int_equal(s.count, 20000);
	metrics_free(m);
}

/* Idle series give their sketch memory back. */
static void test_tick_releases(void **state)
{
	struct metrics *m = metrics_new(NULL, 0);
	struct metrics_stats st;
	struct span sp = mk(SPAN_KIND_SERVER, "a", "GET", "/x", 200, 3 * MS);
	size_t before;

	(void)state;
	metrics_record(m, &sp, SEC);
	metrics_get_stats(m, &st);
	assert_true(st.sketch_bytes > 0);
	before = st.bytes;
	metrics_tick(m, 100 * SEC);
	metrics_get_stats(m, &st);
	assert_true(st.sketch_bytes > 0); /* the 15 min window still reaches it */
	metrics_tick(m, 1000 * SEC);
	metrics_get_stats(m, &st);
	assert_int_equal(st.sketch_bytes, 0);
	assert_true(st.bytes < before);
	assert_int_equal(st.histograms, 1); /* cumulative: kept */
	metrics_free(m);
}

static uint64_t rng = 42;

static double unit(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((rng >> 11) + 0.5) / 9007199254740992.0;
}

/* 100 services x 20 routes x 10 endpoints for 16 minutes, every 10 s: each
 * service serves 10 requests per route and makes one call per route to each
 * of 10 endpoints (4000 requests/s on the node); lognormal latencies, one
 * error in 50, GET and POST. Prints what the registry holds and what the
 * heap grew by; asserts the default budget was never reached. */
static void test_memory_100x20x10(void **state)
{
	const int services = 100, routes = 20, endpoints = 10, steps = 96;
	struct metrics *m = metrics_new(NULL, 0);
	struct mallinfo2 mi0 = mallinfo2(), mi1;
	struct metrics_stats st;
	struct span sp;
	int t, s, r, e;

	(void)state;
	memset(&sp, 0, sizeof(sp));
	for (t = 0; t < steps; t++) {
		uint64_t now = (uint64_t)t * 10 * SEC;

		for (s = 0; s < services; s++) {
			snprintf(sp.service_name, sizeof(sp.service_name), "service-%03d", s);
			for (r = 0; r < routes; r++) {
				double median = 2e6 * (1 + r % 7) * (1 + s % 3);

				snprintf(sp.route, sizeof(sp.route), "/api/v1/resource-%02d/{id}",
					 r);
				snprintf(sp.method, sizeof(sp.method), "%s",
					 r % 4 ? "GET" : "POST");
				for (e = 0; e < 2 * endpoints; e++) {
					double z = sqrt(-2 * log(unit())) * cos(2 * M_PI * unit());

					sp.kind =
					    e < endpoints ? SPAN_KIND_SERVER : SPAN_KIND_CLIENT;
					sp.status_code = unit() < 0.02 ? 503 : 200;
					sp.end_unix_ns = (uint64_t)(median * exp(0.6 * z));
					snprintf(sp.peer.address, sizeof(sp.peer.address),
						 "10.1.%d.%d", s, e % endpoints);
					sp.peer.port = 8080;
					metrics_record(m, &sp, now + (uint64_t)e * SEC);
				}
			}
		}
		if (t % 3 == 0)
			metrics_tick(m, now);
	}
	metrics_tick(m, (uint64_t)steps * 10 * SEC);
	metrics_get_stats(m, &st);
	mi1 = mallinfo2();
	printf("    100x20x10, 16 min at 4000 req/s: %u services, %u histograms, %u route "
	       "windows, %u endpoint windows\n",
	       st.services, st.histograms, st.routes, st.endpoints);
	printf("    registry %.1f MiB (sketches %.1f MiB), %llu spans\n", st.bytes / 1048576.0,
	       st.sketch_bytes / 1048576.0, (unsigned long long)st.spans);
	/* the heap's view includes malloc's overhead; ASan's allocator has no mallinfo */
	if (mi1.uordblks > mi0.uordblks)
		printf("    heap in use grew %.1f MiB\n",
		       (double)(mi1.uordblks - mi0.uordblks) / 1048576.0);
	assert_int_equal(st.services, 100);
	assert_int_equal(st.histograms, 100 * 20 * 2 * 2);
	assert_int_equal(st.routes, 100 * 20 * 2);
	assert_int_equal(st.endpoints, 100 * 10);
	assert_int_equal(st.sketch_degraded, 0);
	assert_int_equal(st.overflow[METRICS_OVF_HISTOGRAM] + st.overflow[METRICS_OVF_ROUTE], 0);
	assert_true(st.bytes < 32u << 20);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_histogram_from_spans),
	    cmocka_unit_test(test_error_classification),
	    cmocka_unit_test(test_summaries),
	    cmocka_unit_test(test_foreach),
	    cmocka_unit_test(test_namespaces),
	    cmocka_unit_test(test_series_caps),
	    cmocka_unit_test(test_repeated_spans),
	    cmocka_unit_test(test_byte_budget),
	    cmocka_unit_test(test_tick_releases),
	    cmocka_unit_test(test_memory_100x20x10),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
