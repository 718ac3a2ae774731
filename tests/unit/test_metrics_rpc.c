/* SPDX-License-Identifier: Apache-2.0 */
/* test_metrics_rpc.c: gRPC spans in the request metrics: their own
 * histogram series (rpc_server_duration / rpc_client_duration, by
 * rpc.service, rpc.method and rpc.grpc.status_code), not the HTTP ones;
 * their errors counted by the span's gRPC status; the latency API's routes
 * named Service/Method. */
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

static struct span grpc(int kind, const char *route, uint8_t code, bool error, uint64_t dur)
{
	struct span s;

	memset(&s, 0, sizeof(s));
	s.kind = (uint8_t)kind;
	snprintf(s.service_name, sizeof(s.service_name), "cart");
	snprintf(s.method, sizeof(s.method), "POST");
	snprintf(s.route, sizeof(s.route), "%s", route);
	s.status_code = 200;
	s.rpc_grpc = true;
	s.has_grpc_status = true;
	s.grpc_status_code = code;
	s.status = error ? SPAN_STATUS_ERROR : SPAN_STATUS_UNSET;
	s.end_unix_ns = dur;
	return s;
}

static void test_rpc_series(void **state)
{
	struct metrics *m = metrics_new(NULL, 0);
	struct prom_writer *w = prom_writer_new();
	struct lat_summary sum;
	struct span sp;
	char *t;
	size_t len;

	(void)state;
	sp = grpc(SPAN_KIND_SERVER, "shop.Cart/AddItem", 0, false, 30 * MS);
	metrics_record(m, &sp, 1);
	metrics_record(m, &sp, 1);
	sp = grpc(SPAN_KIND_SERVER, "shop.Cart/AddItem", 14, true, 7 * MS);
	metrics_record(m, &sp, 1);
	sp = grpc(SPAN_KIND_CLIENT, "shop.Cart/GetCart", 5, true, 3 * MS);
	metrics_record(m, &sp, 1);

	assert_int_equal(prom_write_http_histograms(w, m), 0);
	assert_int_equal(prom_finish(w, &t, &len), 0);
	assert_non_null(strstr(t, "# TYPE rpc_server_duration histogram"));
	assert_non_null(strstr(t, "rpc_server_duration_count{service_name=\"cart\","
				  "rpc_system=\"grpc\",rpc_service=\"shop.Cart\","
				  "rpc_method=\"AddItem\",rpc_grpc_status_code=\"0\"} 2\n"));
	assert_non_null(strstr(t, "rpc_server_duration_count{service_name=\"cart\","
				  "rpc_system=\"grpc\",rpc_service=\"shop.Cart\","
				  "rpc_method=\"AddItem\",rpc_grpc_status_code=\"14\"} 1\n"));
	assert_non_null(strstr(t, "rpc_client_duration_count{service_name=\"cart\","
				  "rpc_system=\"grpc\",rpc_service=\"shop.Cart\","
				  "rpc_method=\"GetCart\",rpc_grpc_status_code=\"5\"} 1\n"));
	/* not in the HTTP families */
	assert_null(strstr(t, "http_server_request_duration_seconds_count{"));
	free(t);
	/* the latency API: route Service/Method, its error from the gRPC status */
	assert_int_equal(metrics_route_summary(m, "", "cart", METRICS_SERVER, "shop.Cart/AddItem",
					       NULL, 60, 1, &sum),
			 0);
	assert_int_equal(sum.count, 3);
	assert_int_equal(sum.errors, 1);
	prom_writer_free(w);
	metrics_free(m);
}

static void on_rpc(enum metrics_side side, const char *route, void *ctx)
{
	char *out = ctx;

	snprintf(out + strlen(out), 256 - strlen(out), "%s %s;", metrics_side_name(side), route);
}

/* The cluster view's rpcs (/api/v1/sketches): each gRPC (side, route) once,
 * however many methods it came with, HTTP routes left out; its sketch the
 * methods merged, as metrics_route_summary(method NULL) answers. */
static void test_rpc_sketches(void **state)
{
	struct metrics *m = metrics_new(NULL, 0);
	struct lat_sketch acc;
	struct lat_summary sum, want;
	struct span sp;
	char seen[256] = "";

	(void)state;
	sp = grpc(SPAN_KIND_SERVER, "shop.Cart/AddItem", 0, false, 30 * MS);
	metrics_record(m, &sp, 1);
	snprintf(sp.method, sizeof(sp.method), "GET"); /* another method, same route */
	sp.end_unix_ns = 90 * MS;
	metrics_record(m, &sp, 1);
	sp = grpc(SPAN_KIND_SERVER, "/healthz", 0, false, 1 * MS);
	sp.rpc_grpc = false;
	sp.has_grpc_status = false;
	metrics_record(m, &sp, 1);
	sp = grpc(SPAN_KIND_CLIENT, "shop.Cart/AddItem", 14, true, 3 * MS);
	metrics_record(m, &sp, 1);

	assert_int_equal(metrics_foreach_rpc(m, "", "cart", on_rpc, seen), 0);
	assert_string_equal(seen, "server shop.Cart/AddItem;client shop.Cart/AddItem;");
	assert_int_equal(metrics_foreach_rpc(m, "", "nobody", on_rpc, seen), -ENOENT);
	assert_int_equal(metrics_route_sketch(m, "", "cart", METRICS_SERVER, "shop.Cart/AddItem",
					      NULL, 60, 1, &acc, &sum),
			 0);
	assert_int_equal(metrics_route_summary(m, "", "cart", METRICS_SERVER, "shop.Cart/AddItem",
					       NULL, 60, 1, &want),
			 0);
	assert_int_equal(acc.count, 2);
	assert_int_equal(sum.count, want.count);
	assert_int_equal(sum.p99_ns, want.p99_ns);
	assert_int_equal(lat_sketch_quantile(&acc, 1.0), 90 * MS);
	assert_int_equal(metrics_route_sketch(m, "", "cart", METRICS_CLIENT, "shop.Cart/AddItem",
					      NULL, 60, 1, &acc, &sum),
			 0);
	assert_int_equal(acc.errors, 1);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rpc_series),
	    cmocka_unit_test(test_rpc_sketches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
