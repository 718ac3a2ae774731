/* SPDX-License-Identifier: Apache-2.0 */
/* test_proto_http1_head.c: the HTTP/1.x head grammar: whole heads, heads
 * cut anywhere, pipelined heads in one buffer, Trace Context and Host
 * values, and junk. (Trace Context validation: test_tracectx.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "trace/proto_http1_head.h"
#include "trace/tracectx.h"

static int req(const char *s, struct http_request *r)
{
	return http_parse_request(s, strlen(s), r);
}

static int resp(const char *s, struct http_response *r)
{
	return http_parse_response(s, strlen(s), r);
}

static void test_request_basic(void **state)
{
	const char *h = "GET /api/v1/users/42?verbose=1&x=2 HTTP/1.1\r\n"
			"Host: user-service\r\n"
			"Connection: keep-alive, Close\r\n"
			"Content-Length: 17\r\n"
			"\r\n"
			"body bytes follow";
	struct http_request r;

	(void)state;
	assert_int_equal(req(h, &r), HTTP_PARSE_OK);
	assert_string_equal(r.method, "GET");
	assert_string_equal(r.path, "/api/v1/users/42");
	assert_string_equal(r.query, "verbose=1&x=2");
	assert_false(r.path_truncated);
	assert_false(r.query_truncated);
	assert_int_equal(r.version, 11);
	assert_true(r.conn_close);
	assert_false(r.chunked);
	assert_int_equal(r.content_length, 17);
	assert_int_equal(r.n_traceparent, 0);
	assert_string_equal(r.traceparent, "");
	assert_string_equal(r.host, "user-service");
	assert_int_equal(r.head_len, strlen(h) - strlen("body bytes follow"));
}

static void test_request_target_forms(void **state)
{
	struct http_request r;

	(void)state;
	assert_int_equal(req("GET http://example.com:8080/a/b?q=1 HTTP/1.1\r\n\r\n", &r),
			 HTTP_PARSE_OK);
	assert_string_equal(r.path, "/a/b");
	assert_string_equal(r.query, "q=1");
	assert_int_equal(req("GET https://example.com HTTP/1.1\r\n\r\n", &r), HTTP_PARSE_OK);
	assert_string_equal(r.path, "/");
	assert_int_equal(req("GET http://example.com?x=y HTTP/1.0\r\n\r\n", &r), HTTP_PARSE_OK);
	assert_string_equal(r.path, "/");
	assert_string_equal(r.query, "x=y");
	assert_int_equal(r.version, 10);
	assert_int_equal(req("OPTIONS * HTTP/1.1\r\n\r\n", &r), HTTP_PARSE_OK);
	assert_string_equal(r.path, "*");
	assert_int_equal(req("CONNECT db.internal:5432 HTTP/1.1\r\n\r\n", &r), HTTP_PARSE_OK);
	assert_string_equal(r.method, "CONNECT");
	assert_string_equal(r.path, "");
	assert_false(r.path_truncated);
	/* a fragment never reaches a server, but is not a query either */
	assert_int_equal(req("GET /a#frag?no HTTP/1.1\r\n\r\n", &r), HTTP_PARSE_OK);
	assert_string_equal(r.path, "/a");
	assert_string_equal(r.query, "");
	/* bare LF line ends are accepted */
	assert_int_equal(req("GET /lf HTTP/1.1\nHost: x\n\n", &r), HTTP_PARSE_OK);
	assert_string_equal(r.path, "/lf");
}

static void test_request_framing_headers(void **state)
{
	struct http_request r;

	(void)state;
	assert_int_equal(req("POST /up HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &r),
			 HTTP_PARSE_OK);
	assert_true(r.chunked);
	assert_int_equal(r.content_length, -1);
	assert_int_equal(req("POST /up HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", &r),
			 HTTP_PARSE_OK);
	assert_false(r.chunked);
	assert_int_equal(req("POST /up HTTP/1.1\r\ncontent-length:  5 \r\n\r\n", &r),
			 HTTP_PARSE_OK);
	assert_int_equal(r.content_length, 5);
	/* conflicting or malformed lengths leave the framing unknown */
	assert_int_equal(
	    req("POST /up HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", &r),
	    HTTP_PARSE_OK);
	assert_int_equal(r.content_length, -1);
	assert_int_equal(req("POST /up HTTP/1.1\r\nContent-Length: 5x\r\n\r\n", &r), HTTP_PARSE_OK);
	assert_int_equal(r.content_length, -1);
	assert_int_equal(
	    req("POST /up HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", &r),
	    HTTP_PARSE_OK);
	assert_int_equal(r.content_length, -1);
	/* names in any case; one a byte longer, shorter or other is not it */
	assert_int_equal(req("POST /up HTTP/1.1\r\nCONTENT-length: 7\r\n\r\n", &r), HTTP_PARSE_OK);
	assert_int_equal(r.content_length, 7);
	assert_int_equal(req("POST /up HTTP/1.1\r\nContent-Lengths: 7\r\nContent-Lengt: 8\r\n"
			     "Content_Length: 9\r\nContent-Length : 4\r\n\r\n",
			     &r),
			 HTTP_PARSE_OK);
	assert_int_equal(r.content_length, -1);
	assert_int_equal(req("POST /up HTTP/1.1\r\nTRANSFER-ENCODING: Chunked\r\n\r\n", &r),
			 HTTP_PARSE_OK);
	assert_true(r.chunked);
	assert_int_equal(req("GET / HTTP/1.1\r\nCONNECTION: CLOSE\r\nHOST: a.b\r\n"
			     "USER-AGENT: x/1\r\n\r\n",
			     &r),
			 HTTP_PARSE_OK);
	assert_true(r.conn_close);
	assert_string_equal(r.host, "a.b");
	assert_string_equal(r.user_agent, "x/1");
	/* a name is tchars up to its colon: "Ho\"st" and "Host " are none we read */
	assert_int_equal(req("GET / HTTP/1.1\r\nHo\"st: a.b\r\nHost : c.d\r\n"
			     "Connection: keep-alive\r\n\r\n",
			     &r),
			 HTTP_PARSE_OK);
	assert_string_equal(r.host, "");
	assert_false(r.conn_close);
	/* a field line without a colon is skipped, not fatal */
	assert_int_equal(req("GET / HTTP/1.1\r\nweird line\r\nConnection: close\r\n\r\n", &r),
			 HTTP_PARSE_OK);
	assert_true(r.conn_close);
}

static void test_traceparent(void **state)
{
	static const uint8_t tid[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
					0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
	static const uint8_t sid[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
	struct trace_parent tp;
	struct http_request r;
	char big[700];

	(void)state;
	assert_int_equal(req("GET / HTTP/1.1\r\ntraceparent: "
			     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n",
			     &r),
			 HTTP_PARSE_OK);
	assert_int_equal(r.n_traceparent, 1);
	assert_string_equal(r.traceparent,
			    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	assert_int_equal(tracectx_parse_traceparent(r.traceparent, strlen(r.traceparent), &tp), 0);
	assert_memory_equal(tp.trace_id, tid, 16);
	assert_memory_equal(tp.span_id, sid, 8);
	assert_int_equal(tp.flags, 1);

	/* two traceparent headers: both counted (neither is trusted) */
	assert_int_equal(
	    req("GET / HTTP/1.1\r\n"
		"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
		"Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
		"\r\n",
		&r),
	    HTTP_PARSE_OK);
	assert_int_equal(r.n_traceparent, 2);
	/* the value as sent, whatever it is: validation is Trace Context's */
	assert_int_equal(req("GET / HTTP/1.1\r\ntraceparent:  garbage \r\n\r\n", &r),
			 HTTP_PARSE_OK);
	assert_int_equal(r.n_traceparent, 1);
	assert_string_equal(r.traceparent, "garbage");
	assert_int_not_equal(tracectx_parse_traceparent(r.traceparent, strlen(r.traceparent), &tp),
			     0);

	/* tracestate lines are one comma-joined list; one that does not fit
	 * is dropped whole, never cut */
	assert_int_equal(req("GET / HTTP/1.1\r\ntracestate: a=1,b=2\r\nHost: h\r\n"
			     "TraceState: c=3\r\n\r\n",
			     &r),
			 HTTP_PARSE_OK);
	assert_string_equal(r.tracestate, "a=1,b=2,c=3");
	strcpy(big, "GET / HTTP/1.1\r\ntracestate: a=1\r\ntracestate: b=");
	memset(big + strlen(big), 'x', 300);
	strcpy(big + strlen("GET / HTTP/1.1\r\ntracestate: a=1\r\ntracestate: b=") + 300,
	       "\r\ntracestate: c=3\r\n\r\n");
	assert_int_equal(req(big, &r), HTTP_PARSE_OK);
	assert_string_equal(r.tracestate, "");
	/* a Host that does not fit is left out; the first one counts */
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: a:80\r\nHost: b\r\n\r\n", &r), HTTP_PARSE_OK);
	assert_string_equal(r.host, "a:80");
	strcpy(big, "GET / HTTP/1.1\r\nHost: ");
	memset(big + strlen(big), 'h', 200);
	strcpy(big + strlen("GET / HTTP/1.1\r\nHost: ") + 200, "\r\nHost: second\r\n\r\n");
	assert_int_equal(req(big, &r), HTTP_PARSE_OK);
	assert_string_equal(r.host, "");
}

/* Every prefix of a head: never more than the prefix shows. */
static void test_request_every_prefix(void **state)
{
	const char *h = "PATCH /orders/17?x=1 HTTP/1.1\r\n"
			"Content-Length: 123\r\n"
			"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
			"\r\n";
	size_t len = strlen(h), path_end = strlen("PATCH /orders/17");
	size_t cl_line_end = strstr(h, "123\r\n") - h + 5;
	size_t tp_line_end = strstr(h, "-01\r\n") - h + 5;
	struct http_request r;

	(void)state;
	for (size_t n = 1; n <= len; n++) {
		int rc = http_parse_request(h, n, &r);

		assert_int_equal(rc, n == len ? HTTP_PARSE_OK : HTTP_PARSE_TRUNCATED);
		if (n <= 5) {
			assert_string_equal(r.method, "");
			continue;
		}
		assert_string_equal(r.method, "PATCH");
		if (n > path_end) {
			assert_string_equal(r.path, "/orders/17");
			assert_false(r.path_truncated);
		} else {
			assert_true(r.path_truncated);
			assert_memory_equal(r.path, h + 6, n - 6);
		}
		/* a header is used only once its line is complete */
		assert_int_equal(r.content_length, n >= cl_line_end ? 123 : -1);
		assert_int_equal(r.n_traceparent, n >= tp_line_end);
		if (n >= tp_line_end)
			assert_string_equal(r.traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-"
							   "00f067aa0ba902b7-01");
	}
}

static void test_request_cut_in_query_and_long_path(void **state)
{
	char buf[600];
	struct http_request r;
	const char *h = "GET /search?q=abc";

	(void)state;
	assert_int_equal(http_parse_request(h, strlen(h), &r), HTTP_PARSE_TRUNCATED);
	assert_string_equal(r.path, "/search");
	assert_false(r.path_truncated);
	assert_string_equal(r.query, "q=abc");
	assert_true(r.query_truncated);

	/* a path longer than the buffer is kept as a flagged prefix */
	strcpy(buf, "GET /");
	memset(buf + 5, 'a', 400);
	strcpy(buf + 405, " HTTP/1.1\r\n\r\n");
	assert_int_equal(req(buf, &r), HTTP_PARSE_OK);
	assert_true(r.path_truncated);
	assert_int_equal(strlen(r.path), HTTP_TARGET_MAX - 1);
}

static void test_pipelined_heads(void **state)
{
	const char *two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_request r;

	(void)state;
	assert_int_equal(req(two, &r), HTTP_PARSE_OK);
	assert_string_equal(r.path, "/a");
	assert_int_equal(req(two + r.head_len, &r), HTTP_PARSE_OK);
	assert_string_equal(r.path, "/b");
}

static void test_request_not_http(void **state)
{
	static const char *bad[] = {
	    "",
	    "GET  / HTTP/1.1\r\n\r\n",
	    "GET / HTTP/2.0\r\n\r\n",
	    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	    "GET / http/1.1\r\n\r\n",
	    "GET /\r\n\r\n",
	    "GET / HTTP/1.1 junk\r\n\r\n",
	    "VERYLONGMETHODNAMEXX / HTTP/1.1\r\n\r\n",
	    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	    "G(T / HTTP/1.1\r\n\r\n",
	};
	struct http_request r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = http_parse_request(bad[i], strlen(bad[i]), &r);

		if (rc != HTTP_PARSE_NOT_HTTP)
			fail_msg("case %zu (%s): expected NOT_HTTP, got %d", i, bad[i], rc);
	}
	/* a prefix that ends inside the method may still be one: cut, no method */
	assert_int_equal(req("HELLO", &r), HTTP_PARSE_TRUNCATED);
	assert_string_equal(r.method, "");
	/* NUL bytes inside the prefix end the target: not HTTP either */
	assert_int_equal(http_parse_request("GET /a\0b HTTP/1.1\r\n\r\n", 22, &r),
			 HTTP_PARSE_NOT_HTTP);
}

static void test_response(void **state)
{
	struct http_response r;

	(void)state;
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &r), HTTP_PARSE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.version, 11);
	assert_int_equal(r.content_length, 2);
	assert_int_equal(r.head_len, strlen("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"));
	assert_int_equal(resp("HTTP/1.0 503\r\n\r\n", &r), HTTP_PARSE_OK);
	assert_int_equal(r.status, 503);
	assert_int_equal(r.version, 10);
	assert_int_equal(
	    resp("HTTP/1.1 200 \r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", &r),
	    HTTP_PARSE_OK);
	assert_true(r.chunked);
	assert_true(r.conn_close);
	/* a response's framing names in any case */
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nSERVER: n\r\ncontent-LENGTH: 3\r\n"
			      "Host: h\r\nTraceparent: x\r\n\r\n",
			      &r),
			 HTTP_PARSE_OK);
	assert_int_equal(r.content_length, 3);

	/* cut: the status is known once its three digits are */
	assert_int_equal(resp("HTTP/1.1 20", &r), HTTP_PARSE_TRUNCATED);
	assert_int_equal(r.status, 0);
	assert_int_equal(resp("HTTP/1.1 204", &r), HTTP_PARSE_TRUNCATED);
	assert_int_equal(r.status, 204);
	assert_int_equal(resp("HTTP/1.1 404 Not Fo", &r), HTTP_PARSE_TRUNCATED);
	assert_int_equal(r.status, 404);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 12", &r), HTTP_PARSE_TRUNCATED);
	assert_int_equal(r.content_length, -1);
	assert_int_equal(resp("HTTP/1.", &r), HTTP_PARSE_TRUNCATED);
	assert_int_equal(resp("HTT", &r), HTTP_PARSE_TRUNCATED);

	assert_int_equal(resp("HTTP/1.1 099 Low\r\n\r\n", &r), HTTP_PARSE_NOT_HTTP);
	assert_int_equal(resp("HTTP/1.1 600 High\r\n\r\n", &r), HTTP_PARSE_NOT_HTTP);
	assert_int_equal(resp("HTTP/1.1 2000 OK\r\n\r\n", &r), HTTP_PARSE_NOT_HTTP);
	assert_int_equal(resp("HTTP/1.1 2x0 OK\r\n\r\n", &r), HTTP_PARSE_NOT_HTTP);
	assert_int_equal(resp("HTTP/2 200\r\n\r\n", &r), HTTP_PARSE_NOT_HTTP);
	assert_int_equal(resp("HTTP/1.1200 OK\r\n\r\n", &r), HTTP_PARSE_NOT_HTTP);
	assert_int_equal(resp("", &r), HTTP_PARSE_NOT_HTTP);
	assert_int_equal(resp("SSH-2.0-OpenSSH_9.2\r\n", &r), HTTP_PARSE_NOT_HTTP);
}

static void test_looks_like(void **state)
{
	(void)state;
	assert_true(http_looks_like_request("GET /", 5));
	assert_true(http_looks_like_request("DELETE /x", 9));
	assert_true(http_looks_like_request("TRACE ", 6));
	assert_false(http_looks_like_request("GET", 3));
	assert_false(http_looks_like_request("get /", 5));
	/* extension methods: 3-16 uppercase letters, a space, '/', '*', "http" */
	assert_true(http_looks_like_request("GETX /", 6));
	assert_true(http_looks_like_request("BREW /pot", 9));
	assert_true(http_looks_like_request("PURGE http://c/x", 16));
	assert_true(http_looks_like_request("ABCDEFGHIJKLMNOP *", 18));
	assert_false(http_looks_like_request("ABCDEFGHIJKLMNOPQ /", 19));
	assert_false(http_looks_like_request("PURGE x", 7));
	assert_false(http_looks_like_request("PURGE htt", 9));
	assert_false(http_looks_like_request("PU /", 4));
	assert_false(http_looks_like_request("EHLO mail", 9));
	assert_false(http_looks_like_request("PRI * HTTP/2.0", 14));
	assert_true(http_looks_like_response("HTTP/1.1 200", 12));
	assert_true(http_looks_like_response("HTTP/1.", 7));
	assert_false(http_looks_like_response("HTTP/1", 6));
	assert_false(http_looks_like_response("HTTP/2 200", 10));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_basic),
	    cmocka_unit_test(test_request_target_forms),
	    cmocka_unit_test(test_request_framing_headers),
	    cmocka_unit_test(test_traceparent),
	    cmocka_unit_test(test_request_every_prefix),
	    cmocka_unit_test(test_request_cut_in_query_and_long_path),
	    cmocka_unit_test(test_pipelined_heads),
	    cmocka_unit_test(test_request_not_http),
	    cmocka_unit_test(test_response),
	    cmocka_unit_test(test_looks_like),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
