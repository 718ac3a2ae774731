/* SPDX-License-Identifier: Apache-2.0 */
/* test_otlp_grpc.c: a gRPC span on the OTLP wire: rpc.system, rpc.service,
 * rpc.method and rpc.grpc.status_code (OK, 0, is sent: it is a value), and
 * no http.route (its route is Service/Method, not an HTTP route). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exporters/otlp_encode.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest ExportReq;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;

static const KeyValue *attr(const Span *sp, const char *key)
{
	for (size_t i = 0; i < sp->n_attributes; i++)
		if (!strcmp(sp->attributes[i]->key, key))
			return sp->attributes[i];
	return NULL;
}

static Span *encode_one(const struct span *s, ExportReq **req)
{
	struct otlp_buf b = {0};

	assert_int_equal(otlp_encode_traces(s, 1, "test", &b), 0);
	*req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
	    NULL, b.len, b.data);
	otlp_buf_free(&b);
	assert_non_null(*req);
	return (*req)->resource_spans[0]->scope_spans[0]->spans[0];
}

static void test_grpc_attributes(void **state)
{
	static struct span s;
	ExportReq *req;
	const Span *sp;
	const KeyValue *kv;

	(void)state;
	s.kind = SPAN_KIND_SERVER;
	s.span_id[0] = s.trace_id[0] = 1;
	snprintf(s.name, sizeof(s.name), "shop.Cart/AddItem");
	snprintf(s.route, sizeof(s.route), "shop.Cart/AddItem");
	snprintf(s.path, sizeof(s.path), "/shop.Cart/AddItem");
	snprintf(s.service_name, sizeof(s.service_name), "cart");
	s.rpc_grpc = true;
	s.has_grpc_status = true;
	s.grpc_status_code = 0;
	sp = encode_one(&s, &req);
	assert_string_equal(sp->name, "shop.Cart/AddItem");
	assert_non_null(kv = attr(sp, "rpc.system"));
	assert_string_equal(kv->value->string_value, "grpc");
	assert_non_null(kv = attr(sp, "rpc.service"));
	assert_string_equal(kv->value->string_value, "shop.Cart");
	assert_non_null(kv = attr(sp, "rpc.method"));
	assert_string_equal(kv->value->string_value, "AddItem");
	assert_non_null(kv = attr(sp, "rpc.grpc.status_code"));
	assert_int_equal(kv->value->int_value, 0);
	assert_null(attr(sp, "http.route"));
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    req, NULL);
	/* an HTTP span has none of them */
	s.rpc_grpc = s.has_grpc_status = false;
	sp = encode_one(&s, &req);
	assert_null(attr(sp, "rpc.system"));
	assert_null(attr(sp, "rpc.grpc.status_code"));
	assert_non_null(attr(sp, "http.route"));
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    req, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grpc_attributes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
