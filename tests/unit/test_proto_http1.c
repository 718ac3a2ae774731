/* SPDX-License-Identifier: Apache-2.0 */
/* test_proto_http1.c: the HTTP/1.x parser module, reached through the
 * protocol registry (proto.h) as the capture reader reaches it: detection,
 * non-HTTP bytes rejected, pipelined requests split, responses split by
 * their framing, the neutral fields of an observation, and a traceparent
 * found wherever it sits in the parsed head. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bpf/http.h"
#include "trace/proto.h"

#define TP_VALUE "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static const struct proto_parser *claims(uint8_t kind, const char *p)
{
	return proto_detect(kind, p, strlen(p));
}

static const struct proto_parser *http1(void)
{
	const struct proto_parser *pp = proto_by_id(OBS_PROTO_HTTP1);

	assert_non_null(pp);
	return pp;
}

/* One message parsed as the reader parses it: capture fields zero. */
static void parse(uint8_t kind, const char *p, size_t n, struct obs *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	http1()->parse(kind, p, n, o);
}

static void test_registry_and_detection(void **state)
{
	(void)state;
	assert_string_equal(http1()->name, "http1");
	assert_int_equal(http1()->id, OBS_PROTO_HTTP1);
	assert_null(proto_by_id(OBS_PROTO_NONE));
	assert_null(proto_by_id(200));
	assert_ptr_equal(claims(OBS_REQUEST, "GET / HTTP/1.1\r\n\r\n"), http1());
	assert_ptr_equal(claims(OBS_REQUEST, "DELETE /x HTTP/1.1\r\n"), http1());
	assert_ptr_equal(claims(OBS_REQUEST, "OPTIONS * HTTP/1.1\r\n"), http1());
	assert_ptr_equal(claims(OBS_RESPONSE, "HTTP/1.1 200 OK\r\n"), http1());
	assert_ptr_equal(claims(OBS_RESPONSE, "HTTP/1.0 503\r\n"), http1());
	/* the kind counts: a response is no request, and the reverse */
	assert_null(claims(OBS_REQUEST, "HTTP/1.1 200 OK\r\n"));
	assert_null(claims(OBS_RESPONSE, "GET / HTTP/1.1\r\n"));
	assert_null(claims(OBS_RESPONSE_END, "HTTP/1.1 200 OK\r\n"));
	assert_null(claims(OBS_CLOSE, "GET / HTTP/1.1\r\n"));
}

static void test_not_http_rejected(void **state)
{
	static const char *const bad[] = {
	    "",
	    "GET",				/* no space after the method */
	    "get / HTTP/1.1\r\n",		/* methods are case-sensitive */
	    "GETX x HTTP/1.1\r\n",		/* an extension method, no target */
	    "BREW pot HTTP/1.1\r\n",		/* no target start after it */
	    "PRI * HTTP/1.1\r\n",		/* "PRI *" is the HTTP/2 preface */
	    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", /* the HTTP/2 preface */
	    "HTTP/2 200\r\n",
	    "HTTP/1",
	    "SSH-2.0-OpenSSH_9.2\r\n",
	    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* TLS ClientHello */
	    "*3\r\n$3\r\nSET\r\n",			    /* Redis */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (claims(OBS_REQUEST, bad[i]) || claims(OBS_RESPONSE, bad[i]))
			fail_msg("case %zu (%s): claimed, expected no parser", i, bad[i]);
	}
	/* binary that happens to hold NUL bytes */
	assert_null(proto_detect(OBS_REQUEST, "\0\0\0\0GET ", 8));
}

static void test_split_requests(void **state)
{
	const char *one = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *three = "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
			    "HEAD /c HTTP/1.1\r\n\r\n";
	const char *body = "POST /a HTTP/1.1\r\nContent-Length: 9\r\n\r\nGETTY=123";
	const char *cut = "GET /a HTTP/1.1\r\n\r\nGET /b HT";
	struct proto_msg m[8];
	const struct proto_parser *pp = http1();

#define SPLIT(s, max) pp->split(OBS_REQUEST, s, (int)strlen(s), (int)strlen(s), m, max)
	(void)state;
	assert_int_equal(SPLIT(one, 8), 1);
	assert_int_equal(m[0].off, 0);
	assert_int_equal(m[0].len, strlen(one));
	assert_int_equal(SPLIT(three, 8), 3);
	assert_memory_equal(three + m[1].off, "POST /b ", 8);
	assert_memory_equal(three + m[2].off, "HEAD /c ", 8);
	/* each message runs up to the next one */
	assert_int_equal(m[0].len, m[1].off);
	assert_int_equal(m[1].off + m[1].len, m[2].off);
	assert_int_equal(m[2].off + m[2].len, strlen(three));
	/* a body that happens to start like a method is not a request */
	assert_int_equal(SPLIT(body, 8), 1);
	/* a request cut by the capture still starts where it starts */
	assert_int_equal(SPLIT(cut, 8), 2);
	assert_int_equal(m[1].len, strlen("GET /b HT"));
	assert_int_equal(SPLIT(three, 2), 2); /* max */
	assert_int_equal(pp->split(OBS_REQUEST, "", 0, 0, m, 8), 0);
#undef SPLIT
}

static void test_split_responses(void **state)
{
	const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			  "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	const char *cont = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			   "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc";
	const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n";
	const char *interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
	struct proto_msg m[8];
	const struct proto_parser *pp = http1();

#define SPLIT(s, seg) pp->split(OBS_RESPONSE, s, (int)strlen(s), seg, m, 8)
	(void)state;
	assert_int_equal(SPLIT(two, (int)strlen(two)), 2);
	assert_memory_equal(two + m[1].off, "HTTP/1.1 404", 12);
	assert_int_equal(m[0].len, m[1].off);
	assert_true(m[0].ends && m[1].ends);
	/* the second one's body goes on in the next segments */
	assert_int_equal(SPLIT(cont, (int)strlen(cont)), 2);
	assert_true(m[0].ends);
	assert_false(m[1].ends);
	/* chunked: the kernel follows it; the split does not look further */
	assert_int_equal(SPLIT(chunked, (int)strlen(chunked)), 1);
	assert_false(m[0].ends);
	/* an interim response has no body: the final one follows at once */
	assert_int_equal(SPLIT(interim, (int)strlen(interim)), 2);
	assert_memory_equal(interim + m[1].off, "HTTP/1.1 204", 12);
	/* captured bytes end before the segment does: its end is not here */
	assert_int_equal(SPLIT(two, (int)strlen(two) + 100), 2);
	assert_true(m[0].ends);
	assert_false(m[1].ends);
	/* not a response head: one message, no end */
	assert_int_equal(SPLIT("HTTP/1.1 2x0 OK\r\n\r\n", 100), 1);
	assert_false(m[0].ends);
#undef SPLIT
}

/* A response head is read once when the reader parses what it just split
 * (proto_http1.c keeps the split's reading): the fields are those of the
 * bytes parsed, whatever was split before, and a head at the same place
 * split again after its bytes changed is read anew. */
static void test_split_then_parse(void **state)
{
	char a[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	const char *b = "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n";
	const struct proto_parser *pp = http1();
	struct proto_msg m[8];
	struct obs o;

	(void)state;
	assert_int_equal(pp->split(OBS_RESPONSE, a, (int)strlen(a), (int)strlen(a), m, 8), 1);
	parse(OBS_RESPONSE, a, (size_t)m[0].len, &o);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.body, OBS_BODY_NONE);
	/* the same bytes parsed again, with nothing split in between */
	parse(OBS_RESPONSE, a, (size_t)m[0].len, &o);
	assert_int_equal(o.status, 200);
	/* other bytes than the ones split */
	assert_int_equal(pp->split(OBS_RESPONSE, a, (int)strlen(a), (int)strlen(a), m, 8), 1);
	parse(OBS_RESPONSE, b, strlen(b), &o);
	assert_int_equal(o.status, 503);
	/* the same place and length, other bytes, split again */
	memcpy(a + 9, "404", 3);
	assert_int_equal(pp->split(OBS_RESPONSE, a, (int)strlen(a), (int)strlen(a), m, 8), 1);
	parse(OBS_RESPONSE, a, (size_t)m[0].len, &o);
	assert_int_equal(o.status, 404);
	/* a prefix of what was split is read as the prefix */
	assert_int_equal(pp->split(OBS_RESPONSE, a, (int)strlen(a), (int)strlen(a), m, 8), 1);
	parse(OBS_RESPONSE, a, 20, &o);
	assert_int_equal(o.status, 404);
	assert_int_equal(o.parse, OBS_PARSE_CUT);
}

static void test_request_fields(void **state)
{
	const char *h = "GET /api/v1/users/42?verbose=1 HTTP/1.1\r\n"
			"Host: user-service:8080\r\n"
			"traceparent: " TP_VALUE "\r\n"
			"tracestate: congo=t61rcWkgMzE\r\n"
			"\r\n";
	struct obs o;
	char longpath[400];

	(void)state;
	parse(OBS_REQUEST, h, strlen(h), &o);
	assert_int_equal(o.proto, OBS_PROTO_HTTP1);
	assert_int_equal(o.parse, OBS_PARSE_OK);
	assert_int_equal(o.stream_id, 0);
	assert_string_equal(o.method, "GET");
	assert_string_equal(o.target, "/api/v1/users/42");
	assert_false(o.target_truncated);
	assert_false(o.bodiless_response);
	assert_string_equal(o.host, "user-service:8080");
	assert_string_equal(o.traceparent, TP_VALUE);
	assert_string_equal(o.tracestate, "congo=t61rcWkgMzE");

	/* cut inside the head: the request line's fields all the same */
	parse(OBS_REQUEST, h, 30, &o);
	assert_int_equal(o.parse, OBS_PARSE_CUT);
	assert_string_equal(o.method, "GET");
	assert_string_equal(o.target, "/api/v1/users/42");
	assert_string_equal(o.traceparent, "");
	/* cut inside the path: a flagged prefix */
	parse(OBS_REQUEST, h, 12, &o);
	assert_string_equal(o.target, "/api/v1/");
	assert_true(o.target_truncated);
	/* cut inside the method: nothing to make a span of */
	parse(OBS_REQUEST, h, 2, &o);
	assert_int_equal(o.parse, OBS_PARSE_BAD);
	/* HEAD's response has no body; an unknown method is still a request */
	parse(OBS_REQUEST, "HEAD /x HTTP/1.1\r\n\r\n", 20, &o);
	assert_true(o.bodiless_response);
	parse(OBS_REQUEST, "BREW /pot HTTP/1.1\r\n\r\n", 22, &o);
	assert_int_equal(o.parse, OBS_PARSE_OK);
	assert_string_equal(o.method, "BREW");
	/* not a request line */
	parse(OBS_REQUEST, "GET / HTTP/2.0\r\n\r\n", 18, &o);
	assert_int_equal(o.parse, OBS_PARSE_BAD);
	assert_string_equal(o.method, "");
	/* a path longer than the field */
	strcpy(longpath, "GET /");
	memset(longpath + 5, 'p', 300);
	strcpy(longpath + 305, " HTTP/1.1\r\n\r\n");
	parse(OBS_REQUEST, longpath, strlen(longpath), &o);
	assert_true(o.target_truncated);
	assert_int_equal(strlen(o.target), OBS_TARGET_MAX - 1);
	/* two traceparent headers: no value is valid, none is carried */
	parse(OBS_REQUEST,
	      "GET / HTTP/1.1\r\ntraceparent: " TP_VALUE "\r\ntraceparent: " TP_VALUE "\r\n\r\n",
	      strlen("GET / HTTP/1.1\r\ntraceparent: " TP_VALUE "\r\ntraceparent: " TP_VALUE
		     "\r\n\r\n"),
	      &o);
	assert_string_equal(o.traceparent, "");
}

static void test_response_fields(void **state)
{
	static const struct {
		const char *head;
		uint16_t status;
		uint8_t parse, body;
	} cases[] = {
	    /* a declared length: a close before its end cuts the response */
	    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, OBS_PARSE_OK, OBS_BODY_LENGTH},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200, OBS_PARSE_OK,
	     OBS_BODY_LENGTH},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, OBS_PARSE_OK, OBS_BODY_NONE},
	    {"HTTP/1.1 204 No Content\r\n\r\n", 204, OBS_PARSE_OK, OBS_BODY_NONE},
	    {"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", 304, OBS_PARSE_OK,
	     OBS_BODY_NONE},
	    {"HTTP/1.0 200 OK\r\nServer: old\r\n\r\n", 200, OBS_PARSE_OK, OBS_BODY_TO_CLOSE},
	    /* cut before its framing: the kernel's end event tells */
	    {"HTTP/1.1 200 OK\r\nContent-Le", 200, OBS_PARSE_CUT, OBS_BODY_FRAMED},
	    {"HTTP/1.1 204", 204, OBS_PARSE_CUT, OBS_BODY_NONE},
	    {"HTTP/1.1 20", 0, OBS_PARSE_CUT, OBS_BODY_FRAMED},
	    {"HTTP/1.1 200X\r\n\r\n", 0, OBS_PARSE_BAD, OBS_BODY_FRAMED},
	    {"HTTP/1.1 600 High\r\n\r\n", 0, OBS_PARSE_BAD, OBS_BODY_FRAMED},
	};
	struct obs o;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse(OBS_RESPONSE, cases[i].head, strlen(cases[i].head), &o);
		if (o.status != cases[i].status || o.parse != cases[i].parse ||
		    o.body != cases[i].body || o.proto != OBS_PROTO_HTTP1)
			fail_msg("case %zu (%s): expected status %u parse %u body %u, got %u %u %u",
				 i, cases[i].head, cases[i].status, cases[i].parse, cases[i].body,
				 o.status, o.parse, o.body);
	}
}

/* A request head with n filler headers and the traceparent as header
 * number at (at == n: after the last filler). */
static size_t head_with_tp(char *buf, size_t cap, int n, int at)
{
	size_t o = (size_t)snprintf(buf, cap, "POST /orders HTTP/1.1\r\n");

	for (int i = 0; i <= n; i++) {
		if (i == at)
			o += (size_t)snprintf(buf + o, cap - o, "traceparent: " TP_VALUE "\r\n");
		if (i < n)
			o += (size_t)snprintf(buf + o, cap - o, "x-filler-%02d: abcdefghij\r\n", i);
	}
	o += (size_t)snprintf(buf + o, cap - o, "\r\n");
	return o;
}

/* A request whose traceparent line ends end bytes into it, after one
 * padding header, and more headers after it. */
static size_t tp_line_ending_at(char *buf, size_t cap, size_t end)
{
	const char *start = "GET /x HTTP/1.1\r\nx-pad: ";
	size_t tp = strlen("\r\ntraceparent: " TP_VALUE "\r\n");
	size_t o = strlen(start), pad = end - o - tp;

	assert_true(end > o + tp && end + 64 < cap);
	memcpy(buf, start, o);
	memset(buf + o, 'p', pad);
	o += pad;
	o += (size_t)snprintf(buf + o, cap - o, "\r\ntraceparent: " TP_VALUE "\r\n");
	assert_int_equal(o, end);
	o += (size_t)snprintf(buf + o, cap - o, "x-after: 1\r\n\r\n");
	return o;
}

/* The traceparent is found wherever its line is within the parsed head
 * (the HTTP_HEAD_MAX bytes of a request record; the kernel sends what is
 * past them in the record's context, test_context_lines): first, in the
 * middle, last, in a pipelined request, ending on the last parsed byte; a
 * line that the capture or that window cuts is not read, never half-read. */
static void test_traceparent_anywhere(void **state)
{
	char buf[2048], seg[1024];
	struct proto_msg m[4];
	struct obs o;
	size_t n;

	(void)state;
	for (int at = 0; at <= 10; at++) {
		n = head_with_tp(buf, sizeof(buf), 10, at);
		parse(OBS_REQUEST, buf, n, &o);
		if (o.parse != OBS_PARSE_OK || strcmp(o.traceparent, TP_VALUE))
			fail_msg("traceparent as header %d of %zu bytes: got \"%s\"", at, n,
				 o.traceparent);
	}
	/* its line ends on the last byte parsed, or one past it */
	n = tp_line_ending_at(buf, sizeof(buf), HTTP_HEAD_MAX);
	parse(OBS_REQUEST, buf, n, &o);
	assert_int_equal(o.parse, OBS_PARSE_CUT);
	assert_string_equal(o.traceparent, TP_VALUE);
	n = tp_line_ending_at(buf, sizeof(buf), HTTP_HEAD_MAX + 1);
	parse(OBS_REQUEST, buf, n, &o);
	assert_string_equal(o.traceparent, "");
	/* the capture ends inside its line */
	n = tp_line_ending_at(buf, sizeof(buf), 300);
	parse(OBS_REQUEST, buf, 299, &o);
	assert_string_equal(o.traceparent, "");
	parse(OBS_REQUEST, buf, 300, &o);
	assert_string_equal(o.traceparent, TP_VALUE);

	/* the second of two pipelined requests carries it, the first not */
	n = (size_t)snprintf(seg, sizeof(seg), "GET /a HTTP/1.1\r\n\r\n");
	n += head_with_tp(seg + n, sizeof(seg) - n, 3, 2);
	assert_int_equal(http1()->split(OBS_REQUEST, seg, (int)n, (int)n, m, 4), 2);
	parse(OBS_REQUEST, seg + m[0].off, (size_t)m[0].len, &o);
	assert_string_equal(o.traceparent, "");
	parse(OBS_REQUEST, seg + m[1].off, (size_t)m[1].len, &o);
	assert_string_equal(o.target, "/orders");
	assert_string_equal(o.traceparent, TP_VALUE);
}

/* A request record with the context lines the kernel found past its
 * HTTP_HEAD_MAX bytes (bpf/http.h): read as lines after the last whole one
 * of the record's head; two traceparent lines make none valid; a
 * tracestate line that did not fit loses the whole list. */
static void test_context_lines(void **state)
{
	static char rec[HTTP_HEAD_MAX + sizeof(struct http_req_ctx)];
	struct http_req_ctx *c = (void *)(rec + HTTP_HEAD_MAX);
	struct obs o;
	int n;

	(void)state;
	memset(rec, 0, sizeof(rec));
	n = snprintf(rec, HTTP_HEAD_MAX, "GET /far HTTP/1.1\r\ntracestate: a=1\r\nX-Pad: ");
	memset(rec + n, 'p', HTTP_HEAD_MAX - n); /* the pad line is cut by the record's end */
	c->n_traceparent = 1;
	c->n_tracestate = 1;
	snprintf(c->traceparent, sizeof(c->traceparent), "Traceparent:  " TP_VALUE "\r");
	snprintf(c->tracestate, sizeof(c->tracestate), "tracestate: b=2");
	parse(OBS_REQUEST, rec, sizeof(rec), &o);
	assert_int_equal(o.parse, OBS_PARSE_CUT);
	assert_string_equal(o.method, "GET");
	assert_string_equal(o.target, "/far");
	assert_string_equal(o.traceparent, TP_VALUE);
	assert_string_equal(o.tracestate, "a=1,b=2");
	/* the same record without its context: nothing from past its bytes */
	parse(OBS_REQUEST, rec, HTTP_HEAD_MAX, &o);
	assert_string_equal(o.traceparent, "");
	assert_string_equal(o.tracestate, "a=1");

	c->n_traceparent = 2;
	c->flags = HTTP_CTX_TS_LOST;
	parse(OBS_REQUEST, rec, sizeof(rec), &o);
	assert_string_equal(o.traceparent, "");
	assert_string_equal(o.tracestate, "");
	assert_string_equal(o.target, "/far");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry_and_detection),
	    cmocka_unit_test(test_not_http_rejected),
	    cmocka_unit_test(test_split_requests),
	    cmocka_unit_test(test_split_responses),
	    cmocka_unit_test(test_split_then_parse),
	    cmocka_unit_test(test_request_fields),
	    cmocka_unit_test(test_response_fields),
	    cmocka_unit_test(test_traceparent_anywhere),
	    cmocka_unit_test(test_context_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
