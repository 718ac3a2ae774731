/* SPDX-License-Identifier: Apache-2.0 */
/* test_h2_spans.c: HTTP/2 records -> observations (h2_conn.h) -> spans: a
 * response pairs with its stream, not with the oldest request of the
 * socket; gRPC spans are named package.Service/Method with their status
 * per the gRPC conventions (server and client side); a reset stream is an
 * error; a streaming RPC is one span until its stream ends, past the
 * builder's response-end timeout; after an h2c upgrade the streams still
 * make spans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "trace/h2_conn.h"
#include "trace/spanbuild.h"
#include "h2wire.h"

#define MS(x) ((uint64_t)(x)*1000000ULL)
#define T0 MS(1000000)
#define C 0
#define S 1

static struct span spans[64];
static int n_spans;
static struct spanbuild *sb;
static struct h2_conns conns;
static nghttp2_hd_deflater *cdef, *sdef;
static struct wire wc, ws;
static bool server_socket; /* the records are the server's socket's */

static void emit(const struct span *sp, const struct span_packed *pk, void *ctx)
{
	(void)pk;
	(void)ctx;
	assert_true(n_spans < 64);
	spans[n_spans++] = *sp;
}

static void to_builder(struct obs *o, void *ctx)
{
	(void)ctx;
	snprintf(o->service, sizeof(o->service), "cart");
	sb_feed(sb, o);
}

static int setup(void **state)
{
	struct sb_config cfg = {.emit = emit, .sampling_ratio = 1.0, .seed = 1};

	(void)state;
	n_spans = 0;
	server_socket = false;
	memset(&conns, 0, sizeof(conns));
	wc.n = ws.n = 0;
	sb = sb_new(&cfg);
	assert_non_null(sb);
	assert_int_equal(nghttp2_hd_deflate_new(&cdef, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&sdef, 4096), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h2_conns_free(&conns);
	sb_free(sb);
	nghttp2_hd_deflate_del(cdef);
	nghttp2_hd_deflate_del(sdef);
	return 0;
}

static void send_side(int side, uint64_t ts, uint8_t flags)
{
	static uint8_t buf[1 << 16];
	static struct http_event e;
	struct wire *w = side == C ? &wc : &ws;
	size_t n = compact(w->b, w->n, buf);
	/* the client's frames leave the client's socket, reach the server's */
	uint8_t dir = (side == C) != server_socket ? HTTP_DIR_EGRESS : HTTP_DIR_INGRESS;
	struct obs base;

	for (size_t off = 0; off < n || !off; off += HTTP_HEAD_MAX) {
		size_t len = n - off < HTTP_HEAD_MAX ? n - off : HTTP_HEAD_MAX;

		h2_record(&e, 5, dir, (off ? 0 : flags) | (server_socket ? 0 : H2_F_CLIENT), ts,
			  buf + off, len);
		memset(&base, 0, sizeof(base));
		base.cookie = 5;
		base.local.family = base.remote.family = AF_INET;
		base.tgid = 300;
		h2_conns_record(&conns, &e, &base, to_builder, NULL);
		if (!n)
			break;
	}
	w->n = 0;
}

static void request(uint32_t stream, const char *path, bool grpc)
{
	const char *kv[] = {":method",
			    "POST",
			    ":scheme",
			    "http",
			    ":path",
			    path,
			    ":authority",
			    "cart",
			    "content-type",
			    grpc ? "application/grpc" : "application/json",
			    NULL};

	wire_headers(&wc, cdef, stream, true, kv);
}

static void response(uint32_t stream, const char *status, bool end_stream)
{
	const char *kv[] = {":status", status, NULL};

	wire_headers(&ws, sdef, stream, end_stream, kv);
}

static void trailers(uint32_t stream, const char *code)
{
	const char *kv[] = {"grpc-status", code, NULL};

	wire_headers(&ws, sdef, stream, true, kv);
}

static const struct span *span_of(const char *path)
{
	for (int i = 0; i < n_spans; i++)
		if (!strcmp(spans[i].path, path))
			return &spans[i];
	fail_msg("no span of %s (%d spans)", path, n_spans);
	return NULL;
}

static uint64_t dur_ms(const struct span *sp)
{
	return (sp->end_unix_ns - sp->start_unix_ns) / 1000000ULL;
}

/* Answered in another order than asked: each span gets its own stream's
 * status and end. */
static void test_pair_by_stream(void **state)
{
	(void)state;
	request(1, "/first", false);
	request(3, "/second", false);
	request(5, "/third", false);
	send_side(C, T0, H2_F_START);
	response(5, "404", true);
	send_side(S, T0 + MS(5), H2_F_START);
	response(1, "200", false);
	send_side(S, T0 + MS(7), 0);
	response(3, "500", true);
	send_side(S, T0 + MS(9), 0);
	wire_frame(&ws, H2_DATA, H2_FLAG_END_STREAM, 1, NULL, 100);
	send_side(S, T0 + MS(30), 0);
	sb_flush(sb);

	assert_int_equal(n_spans, 3);
	assert_int_equal(span_of("/first")->status_code, 200);
	assert_int_equal(dur_ms(span_of("/first")), 30);
	assert_int_equal(span_of("/second")->status_code, 500);
	assert_int_equal(dur_ms(span_of("/second")), 9);
	assert_int_equal(span_of("/third")->status_code, 404);
	assert_int_equal(dur_ms(span_of("/third")), 5);
	assert_int_equal(span_of("/first")->kind, SPAN_KIND_CLIENT);
	assert_string_equal(span_of("/first")->name, "POST");
}

static void test_grpc_names_and_status(void **state)
{
	const struct span *sp;

	(void)state;
	server_socket = true;
	request(1, "/shop.Cart/AddItem", true);
	request(3, "/shop.Cart/GetCart", true);
	request(5, "/shop.Cart/Empty", true);
	send_side(C, T0, H2_F_START);
	response(1, "200", false);
	trailers(1, "14"); /* UNAVAILABLE: the server failed */
	response(3, "200", false);
	trailers(3, "5"); /* NOT_FOUND: the caller's business */
	response(5, "200", false);
	trailers(5, "0");
	send_side(S, T0 + MS(2), H2_F_START);
	sb_flush(sb);

	assert_int_equal(n_spans, 3);
	sp = span_of("/shop.Cart/AddItem");
	assert_string_equal(sp->name, "shop.Cart/AddItem");
	assert_string_equal(sp->route, "shop.Cart/AddItem");
	assert_int_equal(sp->kind, SPAN_KIND_SERVER);
	assert_true(sp->rpc_grpc);
	assert_true(sp->has_grpc_status);
	assert_int_equal(sp->grpc_status_code, 14);
	assert_int_equal(sp->status, SPAN_STATUS_ERROR);
	sp = span_of("/shop.Cart/GetCart");
	assert_int_equal(sp->grpc_status_code, 5);
	assert_int_equal(sp->status, SPAN_STATUS_UNSET);
	sp = span_of("/shop.Cart/Empty");
	assert_int_equal(sp->status, SPAN_STATUS_UNSET);
	assert_int_equal(sp->status_code, 200);
}

/* On the client side every code but OK is an error; trailers-only too. */
static void test_grpc_client_side(void **state)
{
	const char *only[] = {":status", "200", "content-type", "application/grpc", "grpc-status",
			      "5",	 NULL};

	(void)state;
	request(1, "/shop.Cart/GetCart", true);
	send_side(C, T0, H2_F_START);
	wire_headers(&ws, sdef, 1, true, only);
	send_side(S, T0 + MS(1), H2_F_START);
	sb_flush(sb);
	assert_int_equal(n_spans, 1);
	assert_int_equal(spans[0].kind, SPAN_KIND_CLIENT);
	assert_string_equal(spans[0].name, "shop.Cart/GetCart");
	assert_int_equal(spans[0].grpc_status_code, 5);
	assert_int_equal(spans[0].status, SPAN_STATUS_ERROR);
}

static void test_reset_is_error(void **state)
{
	uint8_t code[4] = {0, 0, 0, 2}; /* INTERNAL_ERROR */

	(void)state;
	request(1, "/reset", false);
	send_side(C, T0, H2_F_START);
	wire_frame(&ws, H2_RST_STREAM, 0, 1, code, 4);
	send_side(S, T0 + MS(3), H2_F_START);
	sb_flush(sb);
	assert_int_equal(n_spans, 1);
	assert_int_equal(spans[0].status, SPAN_STATUS_ERROR);
	assert_string_equal(spans[0].status_message, "stream reset (HTTP/2 error 2)");
	assert_int_equal(dur_ms(&spans[0]), 3);
}

/* A server-streaming RPC: messages for longer than the builder waits for
 * an HTTP/1 response's end; one span, to its trailers. */
static void test_streaming_rpc_one_span(void **state)
{
	(void)state;
	request(1, "/shop.Feed/Watch", true);
	send_side(C, T0, H2_F_START);
	response(1, "200", false);
	send_side(S, T0 + MS(1), H2_F_START);
	for (int i = 1; i <= 8; i++) {
		wire_frame(&ws, H2_DATA, 0, 1, NULL, 40);
		send_side(S, T0 + MS(1000 * i), 0);
		sb_tick(sb, T0 + MS(1000 * i));
	}
	trailers(1, "0");
	send_side(S, T0 + MS(9000), 0);
	sb_flush(sb);
	assert_int_equal(n_spans, 1);
	assert_int_equal(dur_ms(&spans[0]), 9000);
	assert_int_equal(spans[0].grpc_status_code, 0);
}

/* h2c upgrade: the HTTP/1.x request ends at its 101, the socket's streams
 * after it are spans of their own. */
static void test_after_upgrade(void **state)
{
	struct obs o;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.cookie = 5;
	o.role = OBS_ROLE_CLIENT;
	o.local.family = o.remote.family = AF_INET;
	o.kind = OBS_REQUEST;
	o.ts_ns = T0;
	o.proto = OBS_PROTO_HTTP1;
	snprintf(o.method, sizeof(o.method), "GET");
	snprintf(o.target, sizeof(o.target), "/upgrade-me");
	to_builder(&o, NULL);
	o.kind = OBS_RESPONSE;
	o.status = 101;
	o.ts_ns = T0 + MS(1);
	to_builder(&o, NULL);
	response(1, "200", true); /* stream 1: the upgrade request's answer */
	send_side(S, T0 + MS(2), H2_F_START | H2_F_UPGRADE);
	request(3, "/after", false);
	send_side(C, T0 + MS(3), H2_F_START | H2_F_UPGRADE);
	response(3, "201", true);
	send_side(S, T0 + MS(4), 0);
	sb_flush(sb);
	assert_int_equal(n_spans, 2);
	assert_int_equal(span_of("/upgrade-me")->status_code, 101);
	assert_int_equal(span_of("/after")->status_code, 201);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pair_by_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grpc_names_and_status, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grpc_client_side, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_is_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_streaming_rpc_one_span, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_after_upgrade, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
