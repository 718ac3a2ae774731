/* SPDX-License-Identifier: Apache-2.0 */
/* test_spanstore.c: the recent-spans ring behind GET /api/v1/traces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "trace/spanstore.h"

static struct span mk(const char *svc, int i)
{
	struct span s = {.kind = SPAN_KIND_SERVER, .status = SPAN_STATUS_ERROR};

	snprintf(s.service_name, sizeof(s.service_name), "%s", svc);
	snprintf(s.name, sizeof(s.name), "GET /r/%d", i);
	s.trace_id[15] = (uint8_t)i;
	s.span_id[7] = (uint8_t)i;
	s.start_unix_ns = 1000000000ULL * i;
	s.end_unix_ns = s.start_unix_ns + 2500000; /* 2.5 ms */
	s.status_code = 503;
	return s;
}

static void test_ring_newest_first_and_filter(void **state)
{
	struct spanstore st;
	struct jsonw w = {0};
	int i;

	(void)state;
	assert_int_equal(spanstore_init(&st, 4), 0);
	for (i = 1; i <= 6; i++) {
		struct span s = mk(i % 2 ? "odd" : "even", i);

		spanstore_add(&st, &s);
	}
	/* 6 added, 4 kept: 3..6, newest first */
	assert_int_equal(spanstore_write_json(&st, &w, NULL, 10), 4);
	assert_non_null(strstr(w.buf, "\"GET /r/6\""));
	assert_null(strstr(w.buf, "\"GET /r/2\""));
	assert_true(strstr(w.buf, "/r/6") < strstr(w.buf, "/r/3"));
	jw_free(&w);
	assert_int_equal(spanstore_write_json(&st, &w, "odd", 10), 2);
	assert_null(strstr(w.buf, "/r/4"));
	jw_free(&w);
	assert_int_equal(spanstore_write_json(&st, &w, "even", 1), 1);
	assert_non_null(strstr(w.buf, "/r/6"));
	jw_free(&w);
	spanstore_free(&st);
}

static void test_span_json(void **state)
{
	struct span s = mk("users", 5);
	struct jsonw w = {0};

	(void)state;
	s.parent_span_id[0] = 0xab;
	span_write_json(&w, &s);
	assert_non_null(strstr(w.buf, "\"traceId\":\"00000000000000000000000000000005\""));
	assert_non_null(strstr(w.buf, "\"spanId\":\"0000000000000005\""));
	assert_non_null(strstr(w.buf, "\"parentSpanId\":\"ab00000000000000\""));
	assert_non_null(strstr(w.buf, "\"durationMs\":2.5"));
	assert_non_null(strstr(w.buf, "\"status\":\"ERROR\""));
	assert_non_null(strstr(w.buf, "\"http.response.status_code\":503"));
	jw_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ring_newest_first_and_filter),
	    cmocka_unit_test(test_span_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
