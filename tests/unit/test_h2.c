/* SPDX-License-Identifier: Apache-2.0 */
/* test_h2.c: HTTP/2 capture records (bpf/h2.h) -> observations: frames put
 * back together across records (a header or a payload split anywhere),
 * HEADERS with CONTINUATION, padding and priority, interleaved streams,
 * RST_STREAM, GOAWAY, HPACK with dynamic-table updates and evictions (blocks
 * from nghttp2's deflater), SETTINGS_HEADER_TABLE_SIZE, a gap (no wrong
 * path, requests still counted, back in step after a size update to 0),
 * gRPC trailers after DATA and trailers-only, an h2c upgrade, an END_STREAM
 * whose frame ends in a later segment, and the hook in the capture reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "trace/events.h"
#include "trace/h2_conn.h"
#include "h2wire.h"

#define COOKIE 42
#define C 0 /* frames the client sends */
#define S 1 /* frames the server sends */

static struct obs seen[1024];
static int n_seen;
static struct h2_conns conns;
static nghttp2_hd_deflater *cdef, *sdef; /* the client's and the server's encoders */
static struct wire wc, ws;

static void collect(struct obs *o, void *ctx)
{
	(void)ctx;
	if (n_seen < (int)(sizeof(seen) / sizeof(seen[0])))
		seen[n_seen++] = *o;
}

static int setup(void **state)
{
	(void)state;
	memset(&conns, 0, sizeof(conns));
	n_seen = 0;
	wc.n = ws.n = 0;
	assert_int_equal(nghttp2_hd_deflate_new(&cdef, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&sdef, 4096), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h2_conns_free(&conns);
	nghttp2_hd_deflate_del(cdef);
	nghttp2_hd_deflate_del(sdef);
	return 0;
}

/* The socket is the client's: what it sends is egress. */
static void record(int side, uint8_t flags, uint64_t ts, const uint8_t *p, size_t n)
{
	static struct http_event e;
	struct obs base;

	h2_record(&e, COOKIE, side == C ? HTTP_DIR_EGRESS : HTTP_DIR_INGRESS, flags | H2_F_CLIENT,
		  ts, p, n);
	memset(&base, 0, sizeof(base));
	base.cookie = COOKIE;
	base.ts_ns = ts;
	h2_conns_record(&conns, &e, &base, collect, NULL);
}

/* What a side put on the wire since the last call, compacted, in records of
 * chunk bytes (all with time ts); flags on the first. */
static void send_chunked(int side, uint64_t ts, uint8_t flags, size_t chunk)
{
	static uint8_t buf[1 << 16];
	struct wire *w = side == C ? &wc : &ws;
	size_t n = compact(w->b, w->n, buf);

	for (size_t off = 0; off < n; off += chunk) {
		size_t len = n - off < chunk ? n - off : chunk;

		record(side, off ? 0 : flags, ts, buf + off, len);
	}
	w->n = 0;
}

static void send_side(int side, uint64_t ts, uint8_t flags)
{
	send_chunked(side, ts, flags, HTTP_HEAD_MAX);
}

static void request(uint32_t stream, const char *method, const char *path, bool end_stream)
{
	const char *kv[] = {":method",	  method, ":scheme",	"http", ":path", path,
			    ":authority", "svc",  "user-agent", "t/1",	NULL};

	wire_headers(&wc, cdef, stream, end_stream, kv);
}

static void response(uint32_t stream, const char *status, bool end_stream)
{
	const char *kv[] = {":status", status, "server", "t", NULL};

	wire_headers(&ws, sdef, stream, end_stream, kv);
}

static const struct obs *find(uint8_t kind, uint32_t stream)
{
	for (int i = 0; i < n_seen; i++)
		if (seen[i].kind == kind && seen[i].stream_id == stream)
			return &seen[i];
	fail_msg("no observation of kind %u on stream %u (%d seen)", kind, stream, n_seen);
	return NULL;
}

static int count(uint8_t kind)
{
	int n = 0;

	for (int i = 0; i < n_seen; i++)
		n += seen[i].kind == kind;
	return n;
}

static void test_request_response(void **state)
{
	const struct obs *o;

	(void)state;
	request(1, "GET", "/api/v1/users/7?x=1", true);
	send_side(C, 1000, H2_F_START);
	response(1, "200", false);
	wire_frame(&ws, H2_DATA, H2_FLAG_END_STREAM, 1, NULL, 300);
	send_side(S, 2000, H2_F_START);

	assert_int_equal(n_seen, 3);
	o = find(OBS_REQUEST, 1);
	assert_int_equal(o->ts_ns, 1000);
	assert_int_equal(o->role, OBS_ROLE_CLIENT);
	assert_int_equal(o->proto, OBS_PROTO_H2);
	assert_int_equal(o->parse, OBS_PARSE_OK);
	assert_string_equal(o->method, "GET");
	assert_string_equal(o->target, "/api/v1/users/7");
	assert_string_equal(o->host, "svc");
	assert_false(o->desync);
	o = find(OBS_RESPONSE, 1);
	assert_int_equal(o->status, 200);
	assert_int_equal(o->ts_ns, 2000);
	o = find(OBS_RESPONSE_END, 1);
	assert_int_equal(o->ts_ns, 2000);
	assert_false(o->stream_reset);
	assert_int_equal(conns.st.streams, 1);
	assert_int_equal(conns.st.desync_requests, 0);
}

/* The same conversation cut into records of every size from 1 byte up: a
 * frame header split between records, a payload split, several frames in
 * one record. The request's time is the record of its first byte. */
static void test_split_across_records(void **state)
{
	uint8_t cbuf[4096], sbuf[4096];
	size_t cn, sn;

	(void)state;
	request(1, "POST", "/upload", false);
	wire_frame(&wc, H2_DATA, H2_FLAG_END_STREAM, 1, NULL, 5000);
	request(3, "GET", "/b", true);
	cn = compact(wc.b, wc.n, cbuf);
	response(3, "404", true);
	response(1, "201", false);
	wire_frame(&ws, H2_DATA, H2_FLAG_END_STREAM, 1, NULL, 10);
	sn = compact(ws.b, ws.n, sbuf);
	for (size_t chunk = 1; chunk <= cn + 1; chunk++) {
		uint64_t ts = 100;

		h2_conns_free(&conns);
		memset(&conns, 0, sizeof(conns));
		n_seen = 0;
		for (size_t off = 0; off < cn; off += chunk, ts++)
			record(C, off ? 0 : H2_F_START, ts, cbuf + off,
			       cn - off < chunk ? cn - off : chunk);
		for (size_t off = 0; off < sn; off += chunk, ts++)
			record(S, off ? 0 : H2_F_START, ts, sbuf + off,
			       sn - off < chunk ? sn - off : chunk);
		if (n_seen != 6)
			fail_msg("chunk %zu: %d observations, expected 6", chunk, n_seen);
		assert_string_equal(find(OBS_REQUEST, 1)->target, "/upload");
		assert_string_equal(find(OBS_REQUEST, 3)->target, "/b");
		assert_int_equal(find(OBS_REQUEST, 1)->ts_ns, 100);
		assert_int_equal(find(OBS_RESPONSE, 3)->status, 404);
		assert_int_equal(find(OBS_RESPONSE, 1)->status, 201);
		assert_int_equal(conns.st.desync_requests, 0);
	}
}

/* HEADERS with padding and priority, its block in three fragments. */
static void test_continuation_padding_priority(void **state)
{
	const char *kv[] = {
	    ":method",	   "GET",
	    ":path",	   "/split/block",
	    ":authority",  "svc",
	    "x-long",	   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	    NULL};
	uint8_t blk[1024], first[256];
	size_t n = hpack_block(cdef, kv, blk, sizeof(blk)), a = n / 3, b = 2 * n / 3;

	(void)state;
	/* pad length 4, then stream dependency (4) and weight (1) */
	first[0] = 4;
	memset(first + 1, 0, 5);
	memcpy(first + 6, blk, a);
	memset(first + 6 + a, 0, 4);
	wire_frame(&wc, H2_HEADERS, H2_FLAG_PADDED | H2_FLAG_PRIORITY | H2_FLAG_END_STREAM, 1,
		   first, 6 + a + 4);
	wire_frame(&wc, H2_CONTINUATION, 0, 1, blk + a, b - a);
	wire_frame(&wc, H2_CONTINUATION, H2_FLAG_END_HEADERS, 1, blk + b, n - b);
	send_chunked(C, 10, H2_F_START, 7);

	assert_int_equal(n_seen, 1);
	assert_int_equal(seen[0].parse, OBS_PARSE_OK);
	assert_string_equal(seen[0].method, "GET");
	assert_string_equal(seen[0].target, "/split/block");
	assert_string_equal(seen[0].traceparent,
			    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	/* the table is still in step: the next request decodes */
	request(3, "GET", "/split/block", true);
	send_side(C, 20, 0);
	assert_string_equal(find(OBS_REQUEST, 3)->target, "/split/block");
	assert_false(find(OBS_REQUEST, 3)->desync);
}

/* Streams overlap: each end goes to its own stream. */
static void test_interleaved_streams(void **state)
{
	char path[32];

	(void)state;
	for (uint32_t id = 1; id <= 9; id += 2) {
		snprintf(path, sizeof(path), "/s/%u", id);
		request(id, "GET", path, true);
	}
	send_side(C, 100, H2_F_START);
	response(5, "200", false);
	response(1, "503", false);
	wire_frame(&ws, H2_DATA, 0, 5, NULL, 100);
	response(9, "204", true);
	wire_frame(&ws, H2_DATA, H2_FLAG_END_STREAM, 1, NULL, 10);
	send_side(S, 200, H2_F_START);
	response(3, "200", false);
	wire_frame(&ws, H2_DATA, H2_FLAG_END_STREAM, 5, NULL, 100);
	wire_frame(&ws, H2_DATA, H2_FLAG_END_STREAM, 3, NULL, 1);
	send_side(S, 300, 0);
	response(7, "200", true);
	send_side(S, 400, 0);

	assert_int_equal(count(OBS_REQUEST), 5);
	assert_int_equal(count(OBS_RESPONSE_END), 5);
	for (uint32_t id = 1; id <= 9; id += 2) {
		snprintf(path, sizeof(path), "/s/%u", id);
		assert_string_equal(find(OBS_REQUEST, id)->target, path);
	}
	assert_int_equal(find(OBS_RESPONSE, 1)->status, 503);
	assert_int_equal(find(OBS_RESPONSE, 9)->status, 204);
	assert_int_equal(find(OBS_RESPONSE_END, 9)->ts_ns, 200);
	assert_int_equal(find(OBS_RESPONSE_END, 1)->ts_ns, 200);
	assert_int_equal(find(OBS_RESPONSE_END, 5)->ts_ns, 300);
	assert_int_equal(find(OBS_RESPONSE_END, 3)->ts_ns, 300);
	assert_int_equal(find(OBS_RESPONSE_END, 7)->ts_ns, 400);
}

static void test_rst_stream_and_goaway(void **state)
{
	uint8_t cancel[4] = {0, 0, 0, 8}, goaway[8] = {0, 0, 0, 3, 0, 0, 0, 0};
	const struct obs *o;

	(void)state;
	request(1, "GET", "/slow", true);
	request(3, "GET", "/ok", true);
	request(5, "GET", "/late", true);
	request(7, "GET", "/later", true);
	send_side(C, 10, H2_F_START);
	/* the client gives up on 1 */
	wire_frame(&wc, H2_RST_STREAM, 0, 1, cancel, 4);
	send_side(C, 20, 0);
	/* the server answers 3, then goes away after it: 5 and 7 never ran */
	response(3, "200", true);
	wire_frame(&ws, H2_GOAWAY, 0, 0, goaway, 8);
	send_side(S, 30, H2_F_START);

	o = find(OBS_RESPONSE_END, 1);
	assert_true(o->stream_reset);
	assert_int_equal(o->h2_error, 8); /* CANCEL */
	assert_int_equal(o->ts_ns, 20);
	assert_false(find(OBS_RESPONSE_END, 3)->stream_reset);
	assert_true(find(OBS_RESPONSE_END, 5)->stream_reset);
	assert_true(find(OBS_RESPONSE_END, 7)->stream_reset);
	assert_int_equal(count(OBS_RESPONSE_END), 4);
	assert_int_equal(count(OBS_RESPONSE), 1);
}

/* A small table that the encoder shrinks further on the way, and many
 * different fields: entries are added, referenced, evicted; every path and
 * status comes out right. */
static void test_hpack_dynamic_table_evictions(void **state)
{
	char path[64], val[64];

	(void)state;
	nghttp2_hd_deflate_del(cdef);
	assert_int_equal(nghttp2_hd_deflate_new(&cdef, 512), 0); /* sends a size update */
	for (uint32_t i = 0; i < 200; i++) {
		uint32_t id = 2 * i + 1;
		const char *kv[] = {":method", "GET",	":path", path, ":authority",
				    "svc",     "x-tag", val,	 NULL};

		snprintf(path, sizeof(path), "/items/%u", i % 13);
		snprintf(val, sizeof(val), "tag-%u", i % 7);
		if (i == 100) /* shrink on the way: an update in the next block */
			assert_int_equal(nghttp2_hd_deflate_change_table_size(cdef, 128), 0);
		wire_headers(&wc, cdef, id, true, kv);
		send_chunked(C, 10 + i, i ? 0 : H2_F_START, 5);
		response(id, i % 2 ? "200" : "404", true);
		send_side(S, 10 + i, i ? 0 : H2_F_START);
	}
	assert_int_equal(count(OBS_REQUEST), 200);
	for (uint32_t i = 0; i < 200; i++) {
		const struct obs *o = find(OBS_REQUEST, 2 * i + 1);

		snprintf(path, sizeof(path), "/items/%u", i % 13);
		assert_string_equal(o->target, path);
		assert_int_equal(o->parse, OBS_PARSE_OK);
		assert_int_equal(find(OBS_RESPONSE, 2 * i + 1)->status, i % 2 ? 200 : 404);
	}
	assert_int_equal(conns.st.desync_requests, 0);
}

/* The server allows a larger table (SETTINGS_HEADER_TABLE_SIZE): the
 * client's encoder grows its table with an update the decoder accepts. */
static void test_settings_header_table_size(void **state)
{
	uint8_t settings[6] = {0, 1, 0, 0, 0x40, 0}; /* HEADER_TABLE_SIZE 16384 */

	(void)state;
	nghttp2_hd_deflate_del(cdef);
	assert_int_equal(nghttp2_hd_deflate_new(&cdef, 16384), 0);
	wire_frame(&ws, H2_SETTINGS, 0, 0, settings, 6);
	send_side(S, 5, H2_F_START);
	assert_int_equal(nghttp2_hd_deflate_change_table_size(cdef, 16384), 0);
	request(1, "GET", "/big/table", true);
	send_side(C, 10, H2_F_START);
	request(3, "GET", "/big/table", true);
	send_side(C, 11, 0);
	assert_int_equal(find(OBS_REQUEST, 1)->parse, OBS_PARSE_OK);
	assert_string_equal(find(OBS_REQUEST, 3)->target, "/big/table");
	assert_false(find(OBS_REQUEST, 3)->desync);
}

/* An encoder that indexes :path (nghttp2's never does; Go's and others'
 * do), by hand: GET and http from the static table, :path a reference to
 * the dynamic table when it is there, else a literal added to it. */
static char idx_paths[64][16];
static int n_idx;

static void indexed_request(uint32_t stream, const char *path, bool flush)
{
	uint8_t b[64];
	size_t n = 0, len = strlen(path);
	int j;

	if (flush) { /* size update to 0, then back to 4096 */
		b[n++] = 0x20;
		b[n++] = 0x3f;
		b[n++] = 0xe1;
		b[n++] = 0x1f;
		n_idx = 0;
	}
	b[n++] = 0x82; /* :method GET */
	b[n++] = 0x86; /* :scheme http */
	for (j = 0; j < n_idx && strcmp(idx_paths[j], path); j++)
		;
	if (j < n_idx) {
		b[n++] = (uint8_t)(0x80 | (62 + j));
	} else {
		b[n++] = 0x44; /* literal, incremental indexing, name :path */
		b[n++] = (uint8_t)len;
		memcpy(b + n, path, len);
		n += len;
		memmove(idx_paths[1], idx_paths[0], sizeof(idx_paths[0]) * (size_t)n_idx++);
		snprintf(idx_paths[0], sizeof(idx_paths[0]), "%s", path);
	}
	wire_frame(&wc, H2_HEADERS, H2_FLAG_END_HEADERS | H2_FLAG_END_STREAM, stream, b, n);
}

/* A gap: the requests after it are still made and counted, with the fields
 * that can be known: never a wrong path. A size update to 0 brings the
 * decoder back in step. */
static void test_gap_no_wrong_path(void **state)
{
	/* /c right after the gap: the lost block shifted the table by one
	 * entry, onto /b: a decoder that went on would say /b */
	static const char *const paths[] = {"/a", "/b", "/c", "/c", "/b", "/d", "/d", "/a"};
	const struct obs *o;
	int cut = 0;

	(void)state;
	n_idx = 0;
	/* 1-5 teach the table /a, /b, /c */
	for (uint32_t i = 0; i < 3; i++) {
		indexed_request(2 * i + 1, paths[i], false);
		send_side(C, 10 + i, i ? 0 : H2_F_START);
	}
	assert_string_equal(find(OBS_REQUEST, 5)->target, "/c");
	/* a request lost in the ring */
	indexed_request(7, "/lost", false);
	wc.n = 0;
	for (uint32_t i = 3; i < 8; i++) {
		indexed_request(2 * i + 3, paths[i], false);
		send_side(C, 10 + i, i == 3 ? H2_F_GAP | H2_F_ALIGNED : 0);
	}
	assert_int_equal(count(OBS_REQUEST), 8);
	for (uint32_t i = 3; i < 8; i++) {
		o = find(OBS_REQUEST, 2 * i + 3);
		if (o->target[0] && strcmp(o->target, paths[i]))
			fail_msg("stream %u: path %s, expected %s or nothing", 2 * i + 3, o->target,
				 paths[i]);
		assert_true(o->desync);
		assert_int_equal(o->ts_ns, 10 + i);
		assert_string_equal(o->method, "GET");	   /* static: still known */
		assert_int_equal(o->parse, OBS_PARSE_CUT); /* fields may be missing */
		cut += !o->target[0];
	}
	assert_int_equal(cut, 4); /* /c, /b, the second /d and /a were references */
	/* the new path /d was a literal: known even out of step */
	assert_string_equal(find(OBS_REQUEST, 13)->target, "/d");
	/* the server's side was not hit: its status decodes; the stream ends */
	response(13, "200", true);
	send_side(S, 30, H2_F_START);
	assert_int_equal(find(OBS_RESPONSE, 13)->status, 200);
	assert_true(find(OBS_RESPONSE_END, 13)->desync);
	assert_int_equal(conns.st.desync_requests, 1);
	assert_int_equal(conns.st.gaps, 1);
	/* the encoder empties its table: in step again, references decode */
	indexed_request(21, "/a", true);
	send_side(C, 40, 0);
	indexed_request(23, "/a", false);
	send_side(C, 41, 0);
	o = find(OBS_REQUEST, 23);
	assert_string_equal(o->target, "/a");
	assert_int_equal(o->parse, OBS_PARSE_OK);
	assert_false(o->desync);
}

/* After a gap in the server's direction, :status from the static table
 * still decodes; one from the dynamic table is left out (0), not guessed. */
static void test_gap_status(void **state)
{
	(void)state;
	request(1, "GET", "/x", true);
	request(3, "GET", "/y", true);
	send_side(C, 10, H2_F_START);
	response(1, "418", true); /* a literal, indexed */
	send_side(S, 20, H2_F_START);
	response(99, "200", true); /* lost */
	ws.n = 0;
	response(3, "418", true); /* now a reference to the table's entry */
	send_side(S, 30, H2_F_GAP | H2_F_ALIGNED);
	assert_int_equal(find(OBS_RESPONSE, 1)->status, 418);
	/* 418 is in the table the decoder cannot know any more */
	assert_int_equal(find(OBS_RESPONSE, 3)->status, 0);
	assert_true(find(OBS_RESPONSE, 3)->desync);
	assert_int_equal(count(OBS_RESPONSE_END), 2);
}

static void grpc_request(uint32_t stream, const char *path)
{
	const char *kv[] = {
	    ":method",	    "POST", ":scheme", "http",	   ":path",	   path,
	    ":authority",   "svc",  "te",      "trailers", "content-type", "application/grpc",
	    "grpc-timeout", "1S",   NULL};

	wire_headers(&wc, cdef, stream, false, kv);
	wire_frame(&wc, H2_DATA, H2_FLAG_END_STREAM, stream, NULL, 12);
}

static void test_grpc_trailers(void **state)
{
	const char *head[] = {":status", "200", "content-type", "application/grpc", NULL};
	const char *trailers[] = {"grpc-status", "0", "grpc-message", "", NULL};
	const char *only[] = {":status",	  "200",	 "content-type",
			      "application/grpc", "grpc-status", "14",
			      "grpc-message",	  "unavailable", NULL};
	const struct obs *o;

	(void)state;
	grpc_request(1, "/shop.Cart/AddItem");
	grpc_request(3, "/shop.Cart/GetCart");
	send_side(C, 10, H2_F_START);
	/* 1: headers, a message, trailers */
	wire_headers(&ws, sdef, 1, false, head);
	wire_frame(&ws, H2_DATA, 0, 1, NULL, 20);
	send_side(S, 20, H2_F_START);
	wire_headers(&ws, sdef, 1, true, trailers);
	/* 3: trailers-only */
	wire_headers(&ws, sdef, 3, true, only);
	send_side(S, 30, 0);

	o = find(OBS_REQUEST, 1);
	assert_int_equal(o->rpc, OBS_RPC_GRPC);
	assert_string_equal(o->target, "/shop.Cart/AddItem");
	assert_string_equal(o->method, "POST");
	o = find(OBS_RESPONSE, 1);
	assert_int_equal(o->status, 200);
	assert_false(o->has_grpc_status);
	o = find(OBS_RESPONSE_END, 1);
	assert_int_equal(o->ts_ns, 30);
	assert_true(o->has_grpc_status);
	assert_int_equal(o->grpc_status, 0);
	assert_int_equal(o->rpc, OBS_RPC_GRPC);
	o = find(OBS_RESPONSE, 3);
	assert_true(o->has_grpc_status);
	assert_int_equal(o->grpc_status, 14);
	o = find(OBS_RESPONSE_END, 3);
	assert_true(o->has_grpc_status);
	assert_int_equal(o->grpc_status, 14);
}

/* h2c upgrade: stream 1 answers the HTTP/1.x request (its span ended at
 * the 101), so it makes nothing; the next streams are requests. */
static void test_h2c_upgrade(void **state)
{
	uint8_t settings[6] = {0, 3, 0, 0, 0, 100};

	(void)state;
	wire_frame(&ws, H2_SETTINGS, 0, 0, settings, 6);
	response(1, "200", false);
	wire_frame(&ws, H2_DATA, H2_FLAG_END_STREAM, 1, NULL, 50);
	send_side(S, 10, H2_F_START | H2_F_UPGRADE);
	wire_frame(&wc, H2_SETTINGS, 0, 0, settings, 6);
	request(3, "GET", "/after", true);
	send_side(C, 20, H2_F_START | H2_F_UPGRADE);
	response(3, "200", true);
	send_side(S, 30, 0);
	assert_int_equal(n_seen, 3);
	assert_string_equal(find(OBS_REQUEST, 3)->target, "/after");
	assert_int_equal(find(OBS_RESPONSE_END, 3)->ts_ns, 30);
	assert_int_equal(conns.st.unknown_streams, 0);
}

/* A pushed stream: its PUSH_PROMISE's block is decoded (it changes the
 * server's table, which the response after it relies on), the push makes
 * no request and counts as no unknown stream. */
static void test_push_promise(void **state)
{
	const char *promised[] = {":method",	 "GET",	       ":path",
				  "/style.css",	 ":authority", "svc",
				  "x-pushed-by", "server-one", NULL};
	const char *resp[] = {":status", "200", "x-pushed-by", "server-one", NULL};
	uint8_t pp[256];
	size_t n;

	(void)state;
	request(1, "GET", "/index.html", true);
	send_side(C, 10, H2_F_START);
	pp[0] = 2; /* pad length */
	memset(pp + 1, 0, 4);
	pp[4] = 2; /* promised stream 2 */
	n = hpack_block(sdef, promised, pp + 5, sizeof(pp) - 7);
	memset(pp + 5 + n, 0, 2);
	wire_frame(&ws, H2_PUSH_PROMISE, H2_FLAG_END_HEADERS | H2_FLAG_PADDED, 1, pp, n + 7);
	wire_headers(&ws, sdef, 1, false, resp); /* x-pushed-by: a reference now */
	wire_headers(&ws, sdef, 2, false, resp);
	wire_frame(&ws, H2_DATA, H2_FLAG_END_STREAM, 2, NULL, 10);
	wire_frame(&ws, H2_DATA, H2_FLAG_END_STREAM, 1, NULL, 10);
	send_side(S, 20, H2_F_START);
	assert_int_equal(n_seen, 3);
	assert_int_equal(find(OBS_RESPONSE, 1)->status, 200);
	assert_int_equal(find(OBS_RESPONSE, 1)->parse, OBS_PARSE_OK);
	assert_false(find(OBS_RESPONSE_END, 1)->desync);
	assert_int_equal(conns.st.unknown_streams, 0);
}

/* The DATA frame with END_STREAM goes on past its segment: the stream ends
 * at the segment of its last byte (H2_F_END_TAIL). */
static void test_end_in_later_segment(void **state)
{
	(void)state;
	request(1, "GET", "/big", true);
	send_side(C, 10, H2_F_START);
	response(1, "200", false);
	wire_frame(&ws, H2_DATA, H2_FLAG_END_STREAM, 1, NULL, 60000);
	send_side(S, 20, H2_F_START | H2_F_TAIL_OPEN);
	assert_int_equal(count(OBS_RESPONSE_END), 0);
	record(S, H2_F_END_TAIL, 55, NULL, 0);
	assert_int_equal(find(OBS_RESPONSE_END, 1)->ts_ns, 55);
}

/* A header block longer than the capture keeps: the fields before the cut
 * come, the direction is out of step from there. */
static void test_block_cut_by_capture(void **state)
{
	static char big[6000];
	const char *kv[] = {":method", "GET",	 ":path", "/cut", ":authority",
			    "svc",     "cookie", big,	  NULL};
	const struct obs *o;

	(void)state;
	memset(big, 'z', sizeof(big) - 1);
	wire_headers(&wc, cdef, 1, true, kv);
	send_side(C, 10, H2_F_START);
	o = find(OBS_REQUEST, 1);
	assert_string_equal(o->method, "GET");
	assert_string_equal(o->target, "/cut");
	assert_true(o->desync);
}

/* A connection first seen mid-way (the agent started late): records are
 * skipped until one starts on a frame header. */
static void test_mid_connection_start(void **state)
{
	uint8_t buf[256];
	size_t n;

	(void)state;
	request(1, "GET", "/x", true);
	n = compact(wc.b, wc.n, buf);
	wc.n = 0;
	record(C, 0, 10, buf + 3, n - 3); /* the tail of a frame */
	assert_int_equal(n_seen, 0);
	assert_int_equal(conns.st.unaligned, 1);
	request(3, "GET", "/literal-path-new", true);
	send_side(C, 20, H2_F_ALIGNED);
	assert_int_equal(n_seen, 1);
	assert_true(seen[0].desync);
	assert_string_equal(seen[0].target, "/literal-path-new");
}

/* Through the capture reader: requests wait for nothing when the kernel
 * sends no thread records; a CLOSE frees the connection. */
static void test_events_hook(void **state)
{
	static struct http_event e;
	static struct events ev;
	static uint8_t buf[1024];
	size_t n;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.deliver = collect;
	ev.no_threads = true;
	request(1, "GET", "/through", true);
	n = compact(wc.b, wc.n, buf);
	h2_record(&e, 9, HTTP_DIR_INGRESS, H2_F_START, 10, buf, n); /* the server's socket */
	events_handle(&ev, &e);
	response(1, "200", true);
	n = compact(ws.b, ws.n, buf);
	h2_record(&e, 9, HTTP_DIR_EGRESS, H2_F_START, 20, buf, n);
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 3);
	assert_int_equal(seen[0].role, OBS_ROLE_SERVER);
	assert_string_equal(seen[0].target, "/through");
	assert_int_equal(seen[0].cookie, 9);
	assert_int_equal(ev.requests, 1);
	assert_int_equal(ev.responses, 1);
	assert_int_equal(ev.h2.n, 1);
	memset(&e, 0, sizeof(e));
	e.kind = HTTP_EV_CLOSE;
	e.cookie = 9;
	events_handle(&ev, &e);
	assert_int_equal(ev.h2.n, 0);
	events_free(&ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_request_response, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_split_across_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_continuation_padding_priority, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interleaved_streams, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rst_stream_and_goaway, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hpack_dynamic_table_evictions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_settings_header_table_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gap_no_wrong_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gap_status, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grpc_trailers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_h2c_upgrade, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_push_promise, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_end_in_later_segment, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_block_cut_by_capture, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mid_connection_start, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_hook, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
