/* SPDX-License-Identifier: Apache-2.0 */
/* test_h2_capture.c: BPF_PROG_TEST_RUN of HTTP/2 capture (bpf/lib/h2.bpf.h)
 * on crafted segments: the preface with SETTINGS and HEADERS through the
 * cgroup_skb program; then, through the tc programs (whose connections
 * are keyed by the 4-tuple, so that several runs are one connection), a
 * frame and a frame header split between segments, DATA with END_STREAM
 * that ends segments later (H2_F_TAIL_OPEN, H2_F_END_TAIL), many frames in
 * one segment, a retransmission and a gap, the h2c upgrade, and
 * connections that are not HTTP/2 (unchanged; a TLS ClientHello counted).
 * The compacted stream the records carry is checked byte for byte against
 * the one bpf/h2.h defines. The maps are not pinned. */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/h2.h"
#include "skel/http.skel.h"
#include "capfix.h"

#define MAX_EV 64

static struct http_bpf *skel;
static struct ring_buffer *rb;
static struct http_event got[MAX_EV];
static int n_got;

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (n_got < MAX_EV && size >= HTTP_EV_HDR) {
		memset(&got[n_got], 0, sizeof(got[0]));
		memcpy(&got[n_got++], data, size < sizeof(got[0]) ? size : sizeof(got[0]));
	}
	return 0;
}

static int setup(void **state)
{
	(void)state;
	skel = capfix_load();
	if (!skel)
		return -1;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.http_events), on_event, NULL, NULL);
	return rb ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	ring_buffer__free(rb);
	http_bpf__destroy(skel);
	return 0;
}

/* --- frames --- */

struct buf {
	uint8_t b[16384];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

/* A frame: header, then len payload bytes (pattern bytes when p is NULL). */
static void frame(struct buf *b, uint8_t type, uint8_t flags, uint32_t sid, const void *p,
		  uint32_t len)
{
	uint8_t h[9] = {len >> 16, len >> 8, len, type, flags, sid >> 24, sid >> 16, sid >> 8, sid};

	put(b, h, 9);
	for (uint32_t i = 0; i < len; i++)
		b->b[b->n + i] = p ? ((const uint8_t *)p)[i] : (uint8_t)(i * 7 + type);
	b->n += len;
}

/* The compacted stream (bpf/h2.h) of the frames in raw[0..n): headers, and
 * the kept payload bytes of the kept types. */
static void compact(const uint8_t *raw, size_t n, struct buf *out)
{
	size_t i = 0;

	out->n = 0;
	while (i + 9 <= n) {
		uint32_t kept = h2_frame_kept(raw + i), len = h2_frame_len(raw + i);

		put(out, raw + i, 9 + kept);
		i += 9 + len;
	}
}

/* --- packets --- */

/* One tc connection: each direction's next sequence number. */
struct conn {
	uint16_t lport;
	uint32_t seq[2]; /* [0] from the pod, [1] to it */
};

static void run_prog(int fd, const uint8_t *pkt, size_t len, int want)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	opts.data_in = pkt;
	opts.data_size_in = len;
	assert_int_equal(bpf_prog_test_run_opts(fd, &opts), 0);
	assert_int_equal((int)opts.retval, want);
	ring_buffer__consume(rb);
}

/* Send n bytes of p one way (the pod is the client when it sends). */
static void send_seg(struct conn *c, bool from_pod, const void *p, size_t n)
{
	static uint8_t pkt[20000];
	size_t len = capfix_segment(pkt, c->lport, from_pod, c->seq[!from_pod], p, n);
	int fd = bpf_program__fd(from_pod ? skel->progs.bm_http_tc_in : skel->progs.bm_http_tc_out);

	run_prog(fd, pkt, len, -1 /* TCX_NEXT */);
	c->seq[!from_pod] += n;
}

/* The bytes of the H2 records got[from..n_got) of one direction, in order. */
static void stream_of(int from, uint8_t dir, struct buf *out)
{
	out->n = 0;
	for (int i = from; i < n_got; i++)
		if (got[i].kind == HTTP_EV_H2 && got[i].dir == dir)
			put(out, got[i].head, got[i].head_len);
}

static void assert_stream(const struct buf *want, const struct buf *have)
{
	if (want->n != have->n)
		fail_msg("compacted stream: expected %zu bytes, got %zu", want->n, have->n);
	for (size_t i = 0; i < want->n; i++)
		if (want->b[i] != have->b[i])
			fail_msg("compacted stream differs at byte %zu: expected %02x, got %02x", i,
				 want->b[i], have->b[i]);
}

static const uint8_t settings[12] = {0, 3, 0, 0, 0, 100, 0, 4, 0, 0, 0xff, 0xff};
static const uint8_t hpack_get[] = {0x82, 0x86, 0x84, 0x41, 0x8a, 0x08, 0x9d, 0x5c,
				    0x0b, 0x81, 0x70, 0xdc, 0x78, 0x0f, 0x03};

/* The client opens a tc connection: preface, SETTINGS, HEADERS. */
static void open_h2(struct conn *c, struct buf *raw)
{
	struct buf seg = {.n = 0};

	put(&seg, H2_PREFACE, H2_PREFACE_LEN);
	raw->n = 0;
	frame(raw, H2_SETTINGS, 0, 0, settings, sizeof(settings));
	frame(raw, H2_HEADERS, H2_FLAG_END_HEADERS | H2_FLAG_END_STREAM, 1, hpack_get,
	      sizeof(hpack_get));
	put(&seg, raw->b, raw->n);
	send_seg(c, true, seg.b, seg.n);
}

/* --- tests --- */

static void test_preface_settings_headers(void **state)
{
	struct buf raw = {.n = 0}, seg = {.n = 0}, want, have;
	static uint8_t pkt[4096];
	size_t len;

	(void)state;
	n_got = 0;
	put(&seg, H2_PREFACE, H2_PREFACE_LEN);
	frame(&raw, H2_SETTINGS, 0, 0, settings, sizeof(settings));
	frame(&raw, H2_WINDOW_UPDATE, 0, 0, "\x00\x0f\x00\x01", 4);
	frame(&raw, H2_HEADERS, H2_FLAG_END_HEADERS | H2_FLAG_END_STREAM, 1, hpack_get,
	      sizeof(hpack_get));
	put(&seg, raw.b, raw.n);
	len = capfix_segment(pkt, 40000, true, 1000, seg.b, seg.n);
	run_prog(bpf_program__fd(skel->progs.bm_http_egress), pkt, len, 1);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].kind, HTTP_EV_H2);
	assert_int_equal(got[0].dir, HTTP_DIR_EGRESS);
	assert_int_equal(got[0].flags, H2_F_START | H2_F_CLIENT | H2_F_ALIGNED);
	assert_int_equal(got[0].seg_len, seg.n);
	assert_int_equal(got[0].lport, 40000);
	compact(raw.b, raw.n, &want);
	stream_of(0, HTTP_DIR_EGRESS, &have);
	assert_stream(&want, &have); /* no preface, no WINDOW_UPDATE payload */

	/* the server's socket receives it: the server's side of the same */
	n_got = 0;
	run_prog(bpf_program__fd(skel->progs.bm_http_ingress), pkt, len, 1);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].dir, HTTP_DIR_INGRESS);
	assert_int_equal(got[0].flags, H2_F_START | H2_F_ALIGNED);
	stream_of(0, HTTP_DIR_INGRESS, &have);
	assert_stream(&want, &have);
}

/* Both directions start; the server's first record is START too. */
static void test_tc_both_directions(void **state)
{
	struct conn c = {.lport = 43000, .seq = {100, 5000}};
	struct buf raw, srv = {.n = 0}, want, have;

	(void)state;
	n_got = 0;
	open_h2(&c, &raw);
	frame(&srv, H2_SETTINGS, 0, 0, settings, 6);
	frame(&srv, H2_SETTINGS, H2_FLAG_ACK, 0, NULL, 0);
	frame(&srv, H2_HEADERS, H2_FLAG_END_HEADERS, 1, "\x88", 1);
	frame(&srv, H2_DATA, H2_FLAG_END_STREAM, 1, NULL, 30);
	send_seg(&c, false, srv.b, srv.n);
	assert_int_equal(n_got, 2);
	assert_int_equal(got[0].dir, HTTP_DIR_EGRESS);
	assert_int_equal(got[0].flags, H2_F_START | H2_F_CLIENT | H2_F_ALIGNED);
	assert_true(got[0].cookie & HTTP_TC_KEY);
	assert_int_equal(got[1].dir, HTTP_DIR_INGRESS);
	assert_int_equal(got[1].flags, H2_F_START | H2_F_CLIENT | H2_F_ALIGNED);
	assert_true(got[1].cookie == got[0].cookie);
	compact(srv.b, srv.n, &want);
	stream_of(0, HTTP_DIR_INGRESS, &have);
	assert_stream(&want, &have);
	/* the next request: no START any more */
	n_got = 0;
	raw.n = 0;
	frame(&raw, H2_HEADERS, H2_FLAG_END_HEADERS | H2_FLAG_END_STREAM, 3, "\x82\x86\x84\xbe", 4);
	send_seg(&c, true, raw.b, raw.n);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].flags, H2_F_CLIENT | H2_F_ALIGNED);
}

/* A HEADERS frame split between segments, then a header split after 4 of
 * its 9 bytes: the stream is the same as unsplit. */
static void test_tc_split_frame_and_header(void **state)
{
	struct conn c = {.lport = 43001, .seq = {7, 9}};
	struct buf raw, all = {.n = 0}, want, have;
	uint8_t block[40];

	(void)state;
	n_got = 0;
	open_h2(&c, &raw);
	n_got = 0;
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = 0x40 + i;
	frame(&all, H2_HEADERS, H2_FLAG_END_HEADERS, 3, block, sizeof(block));
	frame(&all, H2_RST_STREAM, 0, 3, "\0\0\0\x08", 4);
	frame(&all, H2_PING, 0, 0, "12345678", 8);
	/* 9 + 40 | 4 + 9 | 8 */
	send_seg(&c, true, all.b, 9 + 15);		/* header and 15 of 40 */
	send_seg(&c, true, all.b + 24, 25 + 9 + 4 + 4); /* rest, RST, 4 of PING's header */
	send_seg(&c, true, all.b + 66, all.n - 66);	/* 5 header bytes, payload */
	assert_int_equal(n_got, 3);
	assert_int_equal(got[0].flags, H2_F_CLIENT | H2_F_ALIGNED);
	assert_int_equal(got[0].head_len, 24);
	assert_int_equal(got[1].flags, H2_F_CLIENT); /* starts inside a payload */
	assert_int_equal(got[1].head_len, 25 + 13 + 4);
	assert_int_equal(got[2].flags, H2_F_CLIENT); /* inside a header */
	assert_int_equal(got[2].head_len, 5);	     /* PING's payload is left out */
	compact(all.b, all.n, &want);
	stream_of(0, HTTP_DIR_EGRESS, &have);
	assert_stream(&want, &have);
}

/* DATA with END_STREAM whose payload goes on past its segment: TAIL_OPEN
 * on that segment's record, no record for the middle, END_TAIL where it
 * ends (with the next frame's bytes, or alone). */
static void test_tc_end_stream_tail(void **state)
{
	struct conn c = {.lport = 43002, .seq = {1, 1}};
	struct buf raw, srv = {.n = 0}, want, have;

	(void)state;
	n_got = 0;
	open_h2(&c, &raw);
	n_got = 0;
	frame(&srv, H2_HEADERS, H2_FLAG_END_HEADERS, 1, "\x88", 1);
	frame(&srv, H2_DATA, H2_FLAG_END_STREAM, 1, NULL, 3000);
	frame(&srv, H2_PING, 0, 0, "abcdefgh", 8);
	/* 10 | 9 + 3000 | 17 */
	send_seg(&c, false, srv.b, 10 + 9 + 100);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].flags, H2_F_START | H2_F_CLIENT | H2_F_ALIGNED | H2_F_TAIL_OPEN);
	send_seg(&c, false, srv.b + 119, 1000); /* the middle: nothing to send */
	assert_int_equal(n_got, 1);
	send_seg(&c, false, srv.b + 1119, 1900 + 9); /* the end, and PING's header */
	assert_int_equal(n_got, 2);
	assert_int_equal(got[1].flags, H2_F_CLIENT | H2_F_ALIGNED | H2_F_END_TAIL);
	assert_int_equal(got[1].head_len, 9);
	compact(srv.b, srv.n, &want);
	stream_of(0, HTTP_DIR_INGRESS, &have);
	assert_stream(&want, &have);
	send_seg(&c, false, srv.b + 3028, 8); /* PING's payload: left out */
	assert_int_equal(n_got, 2);

	/* a tail that ends alone in its segment: a record without bytes */
	n_got = 0;
	srv.n = 0;
	frame(&srv, H2_HEADERS, H2_FLAG_END_HEADERS, 3, "\x88", 1);
	frame(&srv, H2_DATA, H2_FLAG_END_STREAM, 3, NULL, 500);
	send_seg(&c, false, srv.b, 10 + 9 + 200);
	send_seg(&c, false, srv.b + 219, 300);
	assert_int_equal(n_got, 2);
	assert_int_equal(got[0].flags, H2_F_CLIENT | H2_F_ALIGNED | H2_F_TAIL_OPEN);
	assert_int_equal(got[1].flags, H2_F_CLIENT | H2_F_END_TAIL);
	assert_int_equal(got[1].head_len, 0);
	/* DATA without END_STREAM past its segment: no flags at all */
	n_got = 0;
	srv.n = 0;
	frame(&srv, H2_DATA, 0, 3, NULL, 500);
	send_seg(&c, false, srv.b, 100);
	send_seg(&c, false, srv.b + 100, srv.n - 100);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].flags, H2_F_CLIENT | H2_F_ALIGNED);
}

/* Many frames in one segment: the stream is cut in records of at most
 * HTTP_HEAD_MAX bytes; more headers than H2_SEG_FRAMES_MAX stop it. */
static void test_tc_many_frames(void **state)
{
	struct conn c = {.lport = 43003, .seq = {1, 1}};
	struct buf raw, srv = {.n = 0}, want, have;
	uint8_t block[60];

	(void)state;
	n_got = 0;
	open_h2(&c, &raw);
	n_got = 0;
	memset(block, 0x5a, sizeof(block));
	/* 20 * 69 + 20 * 9 = 1560 bytes in the stream (a test run takes
	 * packets of less than a page) */
	for (uint32_t i = 0; i < 40; i++)
		if (i % 2)
			frame(&srv, H2_HEADERS, H2_FLAG_END_HEADERS, 2 * i + 1, block, 60);
		else
			frame(&srv, H2_DATA, H2_FLAG_END_STREAM, 2 * i + 1, NULL, 50);
	send_seg(&c, false, srv.b, srv.n);
	assert_int_equal(n_got, 2);
	assert_int_equal(got[0].head_len, HTTP_HEAD_MAX);
	assert_int_equal(got[1].head_len, 1560 - HTTP_HEAD_MAX);
	compact(srv.b, srv.n, &want);
	stream_of(0, HTTP_DIR_INGRESS, &have);
	assert_stream(&want, &have);
	assert_true(got[0].flags & H2_F_ALIGNED);

	/* H2_SEG_FRAMES_MAX + 1 headers: one STOP record, then silence */
	n_got = 0;
	srv.n = 0;
	for (uint32_t i = 0; i <= H2_SEG_FRAMES_MAX; i++)
		frame(&srv, H2_WINDOW_UPDATE, 0, 0, "\0\0\0\1", 4);
	send_seg(&c, false, srv.b, srv.n);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].flags, H2_F_CLIENT | H2_F_STOP);
	assert_int_equal(got[0].head_len, 0);
	srv.n = 0;
	frame(&srv, H2_HEADERS, H2_FLAG_END_HEADERS, 301, "\x88", 1);
	send_seg(&c, false, srv.b, srv.n);
	assert_int_equal(n_got, 1);
	/* the other direction goes on */
	raw.n = 0;
	frame(&raw, H2_HEADERS, H2_FLAG_END_HEADERS, 303, "\x82", 1);
	send_seg(&c, true, raw.b, raw.n);
	assert_int_equal(n_got, 2);
	assert_int_equal(got[1].dir, HTTP_DIR_EGRESS);
}

/* A retransmitted segment adds nothing; one partly seen adds its new
 * bytes; bytes that never passed stop the direction. */
static void test_tc_retransmit_and_gap(void **state)
{
	struct conn c = {.lport = 43004, .seq = {1, 1}};
	struct buf raw, f = {.n = 0}, want, have;

	(void)state;
	n_got = 0;
	open_h2(&c, &raw);
	n_got = 0;
	frame(&f, H2_HEADERS, H2_FLAG_END_HEADERS, 3, "\x82\x86", 2);
	frame(&f, H2_HEADERS, H2_FLAG_END_HEADERS, 5, "\x82\x87", 2);
	send_seg(&c, true, f.b, 11);
	c.seq[0] -= 11;
	send_seg(&c, true, f.b, 11); /* again */
	assert_int_equal(n_got, 1);
	c.seq[0] -= 11;
	send_seg(&c, true, f.b, f.n); /* again, with the next frame */
	assert_int_equal(n_got, 2);
	assert_int_equal(got[1].head_len, 11);
	compact(f.b, f.n, &want);
	stream_of(0, HTTP_DIR_EGRESS, &have);
	assert_stream(&want, &have);
	c.seq[0] += 100; /* 100 bytes this hook never saw */
	send_seg(&c, true, f.b, f.n);
	assert_int_equal(n_got, 3);
	assert_int_equal(got[2].flags, H2_F_CLIENT | H2_F_STOP);
}

/* A header that cannot be right (lost boundaries) stops the direction. */
static void test_tc_bad_header(void **state)
{
	struct conn c = {.lport = 43005, .seq = {1, 1}};
	struct buf raw, f = {.n = 0};

	(void)state;
	n_got = 0;
	open_h2(&c, &raw);
	n_got = 0;
	frame(&f, H2_PING, 0, 0, "1234567", 7); /* PING is 8 bytes */
	send_seg(&c, true, f.b, f.n);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].flags, H2_F_CLIENT | H2_F_STOP);
}

/* h2c upgrade: the 101 and the frames after it in one segment, then the
 * client's preface. The HTTP/1.x request and 101 are HTTP/1.x records. */
static void test_tc_upgrade(void **state)
{
	static const char req[] =
	    "GET /u HTTP/1.1\r\nHost: s\r\nConnection: Upgrade, HTTP2-Settings"
	    "\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";
	static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
				   "Upgrade: h2c\r\n\r\n";
	struct conn c = {.lport = 43006, .seq = {1, 1}};
	struct buf seg = {.n = 0}, srv = {.n = 0}, cli = {.n = 0}, want, have;

	(void)state;
	n_got = 0;
	send_seg(&c, true, req, strlen(req));
	put(&seg, resp, strlen(resp));
	frame(&srv, H2_SETTINGS, 0, 0, settings, 6);
	frame(&srv, H2_HEADERS, H2_FLAG_END_HEADERS, 1, "\x88", 1);
	frame(&srv, H2_DATA, H2_FLAG_END_STREAM, 1, NULL, 5);
	put(&seg, srv.b, srv.n);
	send_seg(&c, false, seg.b, seg.n);
	assert_int_equal(n_got, 3);
	assert_int_equal(got[0].kind, HTTP_EV_REQUEST);
	assert_int_equal(got[1].kind, HTTP_EV_RESPONSE);
	assert_int_equal(got[2].kind, HTTP_EV_H2);
	assert_int_equal(got[2].dir, HTTP_DIR_INGRESS);
	assert_int_equal(got[2].flags, H2_F_START | H2_F_CLIENT | H2_F_UPGRADE | H2_F_ALIGNED);
	compact(srv.b, srv.n, &want);
	stream_of(2, HTTP_DIR_INGRESS, &have);
	assert_stream(&want, &have);
	/* the client's preface and SETTINGS */
	put(&cli, H2_PREFACE, H2_PREFACE_LEN);
	frame(&cli, H2_SETTINGS, 0, 0, settings, 12);
	send_seg(&c, true, cli.b, cli.n);
	assert_int_equal(n_got, 4);
	assert_int_equal(got[3].dir, HTTP_DIR_EGRESS);
	assert_int_equal(got[3].flags, H2_F_START | H2_F_CLIENT | H2_F_UPGRADE | H2_F_ALIGNED);
	compact(cli.b + H2_PREFACE_LEN, cli.n - H2_PREFACE_LEN, &want);
	stream_of(3, HTTP_DIR_EGRESS, &have);
	assert_stream(&want, &have);

	/* the server's view: the pod answers the 101 */
	n_got = 0;
	c = (struct conn){.lport = 43008, .seq = {1, 1}};
	send_seg(&c, false, req, strlen(req));
	send_seg(&c, true, seg.b, seg.n);
	send_seg(&c, false, cli.b, cli.n);
	assert_int_equal(n_got, 4);
	assert_int_equal(got[0].kind, HTTP_EV_REQUEST);
	assert_int_equal(got[0].dir, HTTP_DIR_INGRESS);
	assert_int_equal(got[1].kind, HTTP_EV_RESPONSE);
	assert_int_equal(got[1].dir, HTTP_DIR_EGRESS);
	assert_int_equal(got[2].kind, HTTP_EV_H2);
	assert_int_equal(got[2].dir, HTTP_DIR_EGRESS);
	assert_int_equal(got[2].flags, H2_F_START | H2_F_UPGRADE | H2_F_ALIGNED);
	assert_int_equal(got[3].dir, HTTP_DIR_INGRESS);
	assert_int_equal(got[3].flags, H2_F_START | H2_F_UPGRADE | H2_F_ALIGNED);
	stream_of(3, HTTP_DIR_INGRESS, &have);
	assert_stream(&want, &have);

	/* a websocket 101 is no HTTP/2 */
	n_got = 0;
	c.lport = 43007;
	send_seg(&c, true, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", 40);
	seg.n = 0;
	put(&seg, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 56);
	frame(&seg, H2_SETTINGS, 0, 0, settings, 6);
	send_seg(&c, false, seg.b, seg.n);
	send_seg(&c, false, seg.b + 56, seg.n - 56);
	assert_int_equal(n_got, 2);
	assert_int_equal(got[1].kind, HTTP_EV_RESPONSE);
}

static uint64_t counter(int idx)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[ncpu > 0 ? ncpu : 1], sum = 0;
	uint32_t k = idx;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.http_drops), &k, v), 0);
	for (int i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

/* Connections that are not HTTP/2 get what they got before: HTTP/1.x
 * records, nothing for binary traffic; a TLS ClientHello is counted. */
static void test_tc_not_h2(void **state)
{
	static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03};
	static const uint8_t appdata[] = {0x17, 0x03, 0x03, 0x00, 0x20,
					  0x50, 0x52, 0x49, 0x20, 0x2a};
	struct conn c = {.lport = 43100, .seq = {1, 1}}, t = {.lport = 43101, .seq = {1, 1}};
	struct buf f = {.n = 0};
	uint64_t sent = counter(HTTP_COUNT_TLS_SENT), recv = counter(HTTP_COUNT_TLS_RECV);

	(void)state;
	n_got = 0;
	send_seg(&c, true, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 28);
	send_seg(&c, false, "HTTP/1.1 200 OK\r\nContent-Length: 28\r\n\r\nabc", 42);
	frame(&f, H2_SETTINGS, 0, 0, settings, 6); /* a body that looks like frames */
	frame(&f, H2_HEADERS, 4, 1, "\x88", 1);
	send_seg(&c, false, f.b, f.n);
	assert_int_equal(n_got, 2);
	assert_int_equal(got[0].kind, HTTP_EV_REQUEST);
	assert_int_equal(got[1].kind, HTTP_EV_RESPONSE);
	/* the preface inside a connection that is HTTP/1.x is a body */
	send_seg(&c, true, "POST /b HTTP/1.1\r\nContent-Length: 24\r\n\r\n", 40);
	send_seg(&c, true, H2_PREFACE, H2_PREFACE_LEN);
	assert_int_equal(n_got, 3);
	/* TLS: counted by the way it went, never a record */
	send_seg(&t, true, hello, sizeof(hello));
	send_seg(&t, false, appdata, sizeof(appdata));
	send_seg(&t, true, appdata, sizeof(appdata));
	assert_int_equal(n_got, 3);
	assert_int_equal(counter(HTTP_COUNT_TLS_SENT), sent + 1);
	assert_int_equal(counter(HTTP_COUNT_TLS_RECV), recv);
	t.lport = 43102;
	send_seg(&t, false, hello, sizeof(hello)); /* the pod is a server */
	assert_int_equal(counter(HTTP_COUNT_TLS_RECV), recv + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_preface_settings_headers),
	    cmocka_unit_test(test_tc_both_directions),
	    cmocka_unit_test(test_tc_split_frame_and_header),
	    cmocka_unit_test(test_tc_end_stream_tail),
	    cmocka_unit_test(test_tc_many_frames),
	    cmocka_unit_test(test_tc_retransmit_and_gap),
	    cmocka_unit_test(test_tc_bad_header),
	    cmocka_unit_test(test_tc_upgrade),
	    cmocka_unit_test(test_tc_not_h2),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
