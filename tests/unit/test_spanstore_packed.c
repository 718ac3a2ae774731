/* SPDX-License-Identifier: Apache-2.0 */
/* test_spanstore_packed.c: the span store holds spans packed: its JSON is
 * the JSON of the spans it was given, byte for byte, and it is bounded in
 * bytes as well as in spans (test_spanstore.c: order and filter). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "exporters/span_pack.h"
#include "trace/spanstore.h"

/* Every field the JSON shows, and the ones it does not. */
static void full(struct span *s, int i)
{
	memset(s, 0, sizeof(*s));
	s->trace_id[0] = 0xab;
	s->trace_id[15] = (uint8_t)i;
	s->span_id[7] = (uint8_t)i;
	s->parent_span_id[3] = 0x7f;
	s->kind = SPAN_KIND_SERVER;
	s->status = SPAN_STATUS_ERROR;
	s->start_unix_ns = 1700000000000000000ULL + (uint64_t)i;
	s->end_unix_ns = s->start_unix_ns + 1234567;
	snprintf(s->name, sizeof(s->name), "GET /api/v1/users/{id}");
	snprintf(s->status_message, sizeof(s->status_message), "connection \"reset\"");
	snprintf(s->tracestate, sizeof(s->tracestate), "vendor=abc");
	snprintf(s->method, sizeof(s->method), "_OTHER");
	snprintf(s->method_original, sizeof(s->method_original), "PURGE");
	s->status_code = 503;
	snprintf(s->error_type, sizeof(s->error_type), "503");
	s->http_version = 11;
	snprintf(s->path, sizeof(s->path), "/api/v1/users/%d", i);
	snprintf(s->query, sizeof(s->query), "token=secret&page=2");
	snprintf(s->route, sizeof(s->route), "/api/v1/users/{id}");
	snprintf(s->server.address, sizeof(s->server.address), "10.0.0.1");
	s->server.port = 8080;
	snprintf(s->client.address, sizeof(s->client.address), "10.0.0.2");
	s->client.port = 40000;
	snprintf(s->peer.address, sizeof(s->peer.address), "::1");
	snprintf(s->service_name, sizeof(s->service_name), "users");
	snprintf(s->service_namespace, sizeof(s->service_namespace), "shop");
	snprintf(s->k8s.pod_name, sizeof(s->k8s.pod_name), "users-1");
}

/* The store's JSON is first's then second's, as span_write_json writes
 * them; the store is freed. */
static void assert_store_is(struct spanstore *st, const struct span *first,
			    const struct span *second)
{
	struct jsonw want = {0}, got = {0};

	jw_arr_open(&want);
	span_write_json(&want, first);
	span_write_json(&want, second);
	jw_arr_close(&want);
	assert_int_equal(spanstore_write_json(st, &got, NULL, 10), 2);
	assert_string_equal(got.buf, want.buf);
	jw_free(&want);
	jw_free(&got);
	spanstore_free(st);
}

static void test_json_identical(void **state)
{
	struct spanstore st;
	struct span server, client;

	(void)state;
	assert_int_equal(spanstore_init(&st, 16), 0);
	full(&server, 1);
	/* a client span: no route, no query */
	full(&client, 2);
	client.kind = SPAN_KIND_CLIENT;
	client.query[0] = 0;
	spanstore_add(&st, &server);
	spanstore_add(&st, &client);
	assert_store_is(&st, &client, &server);
}

/* A span given packed (as the span builder hands on a held one) is stored
 * as the span itself is: the same JSON. */
static void test_packed_given(void **state)
{
	uint8_t buf[SPAN_PACK_MAX];
	struct spanstore st;
	struct span a, b;

	(void)state;
	assert_int_equal(spanstore_init(&st, 16), 0);
	full(&a, 1);
	full(&b, 2);
	spanstore_add(&st, &a);
	spanstore_add_packed(&st, buf, span_pack(&b, buf, sizeof(buf)));
	assert_store_is(&st, &b, &a);
}

/* Spans with long strings pack to about 1.3 KiB: four fit an arena of
 * 4 KiB (plus the one largest span the store always has room for) */
static void test_evicts_by_bytes(void **state)
{
	struct spanstore st;
	struct jsonw w = {0};
	uint8_t buf[SPAN_PACK_MAX];
	struct span s;
	size_t len, bytes = 4096 + SPAN_PACK_MAX;
	int kept;
	char needle[64];

	(void)state;
	full(&s, 0);
	memset(s.path, 'p', sizeof(s.path) - 1);
	memset(s.query, 'q', sizeof(s.query) - 1);
	memset(s.tracestate, 't', sizeof(s.tracestate) - 1);
	memset(s.user_agent, 'u', sizeof(s.user_agent) - 1);
	len = span_pack(&s, buf, sizeof(buf));
	assert_true(len > 1024 && len < 2048);
	assert_int_equal(spanstore_init_sized(&st, 4096, bytes), 0);
	for (int i = 1; i <= 50; i++) {
		snprintf(s.name, sizeof(s.name), "GET /r/%d", i);
		spanstore_add(&st, &s);
	}
	assert_int_equal(st.total, 50);
	kept = spanstore_write_json(&st, &w, NULL, 4096);
	/* all that fit, less at most one lost at the arena's end */
	assert_true(kept <= (int)(bytes / len) && kept >= (int)(bytes / len) - 1);
	/* the newest ones, newest first */
	snprintf(needle, sizeof(needle), "\"GET /r/%d\"", 50);
	assert_non_null(strstr(w.buf, needle));
	snprintf(needle, sizeof(needle), "\"GET /r/%d\"", 50 - kept);
	assert_null(strstr(w.buf, needle));
	snprintf(needle, sizeof(needle), "\"GET /r/%d\"", 51 - kept);
	assert_non_null(strstr(w.buf, needle));
	assert_true(strstr(w.buf, "/r/50\"") < strstr(w.buf, "/r/49\""));
	jw_free(&w);
	spanstore_free(&st);
}

/* The default bound: 4,096 spans of a few hundred bytes each are all kept,
 * the 4,097th evicts the oldest. */
static void test_default_keeps_count(void **state)
{
	struct spanstore st;
	struct jsonw w = {0};
	struct span s;

	(void)state;
	assert_int_equal(spanstore_init(&st, 4096), 0);
	for (int i = 0; i <= 4096; i++) {
		full(&s, i);
		snprintf(s.name, sizeof(s.name), "GET /n/%d", i);
		spanstore_add(&st, &s);
	}
	assert_int_equal(spanstore_write_json(&st, &w, "users", 10000), 4096);
	assert_null(strstr(w.buf, "\"GET /n/0\""));
	assert_non_null(strstr(w.buf, "\"GET /n/1\""));
	assert_non_null(strstr(w.buf, "\"GET /n/4096\""));
	jw_free(&w);
	assert_int_equal(spanstore_write_json(&st, &w, "orders", 10), 0);
	jw_free(&w);
	spanstore_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_identical),
	    cmocka_unit_test(test_packed_given),
	    cmocka_unit_test(test_evicts_by_bytes),
	    cmocka_unit_test(test_default_keeps_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
