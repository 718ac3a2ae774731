/* SPDX-License-Identifier: Apache-2.0 */
/* test_metrics_rpc.c: gRPC spans in the request metrics: their own
 * histogram series (rpc_server_duration / rpc_client_duration, by
 * rpc.service, rpc.method and rpc.grpc.status_code), not the HTTP ones;
 * their errors counted by the span's gRPC status; the latency API's routes
 * named Service/Method. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rpc_series),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
