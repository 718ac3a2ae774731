/* SPDX-License-Identifier: Apache-2.0 */
/* test_http_capture.c: BPF_PROG_TEST_RUN of the HTTP capture programs on
 * crafted packets: request heads (also pipelined), response records, and
 * traffic that is not HTTP, through the cgroup_skb programs; through the tc
 * programs of host-side interfaces, a request and its response over
 * several segments of one connection (keyed by the 4-tuple) with how far
 * the response got (retransmissions, chunked ends), IPv6, and packets that
 * are not TCP. The maps are not pinned:
 * nothing outlives the test. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/http.h"
#include "skel/http.skel.h"
#include "capfix.h"

#define MAX_EV 16

static struct http_bpf *skel;
static struct ring_buffer *rb;
static struct http_event got[MAX_EV];
static size_t got_size[MAX_EV];
static struct http_req_ctx got_ctx[MAX_EV]; /* zero unless the record carries one */
static int n_got;

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	/* records are sized to what they carry */
	if (n_got < MAX_EV && size >= HTTP_EV_HDR) {
		got_size[n_got] = size;
		capfix_copy_record(&got[n_got], &got_ctx[n_got], data, size);
		n_got++;
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

static void run(int prog_fd, const char *payload)
{
	static uint8_t pkt[8192];
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	size_t len = capfix_craft(pkt, payload, strlen(payload));

	opts.data_in = pkt;
	opts.data_size_in = len;
	assert_int_equal(bpf_prog_test_run_opts(prog_fd, &opts), 0);
	assert_int_equal(opts.retval, 1); /* capture never drops traffic */
	ring_buffer__consume(rb);
}

static int egress(void) { return bpf_program__fd(skel->progs.bm_http_egress); }

static void test_request_head(void **state)
{
	(void)state;
	n_got = 0;
	run(egress(),
	    "GET /api/v1/users/42 HTTP/1.1\r\nHost: users\r\n"
	    "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n");
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].kind, HTTP_EV_REQUEST);
	assert_int_equal(got[0].dir, HTTP_DIR_EGRESS);
	assert_int_equal(got[0].lport, 40000);
	assert_int_equal(got[0].rport, 80);
	assert_true(got[0].head_len > 30);
	assert_memory_equal(got[0].head, "GET /api/v1/users/42 HTTP/1.1\r\n", 31);
	assert_non_null(strstr(got[0].head, "traceparent: 00-0af7651916cd43dd"));
}

/* Pipelined requests share one segment and its timestamp: the record
 * carries the segment's bytes whole and the agent splits them. */
static void test_pipelined_requests(void **state)
{
	const char *seg = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
			  "HEAD /c HTTP/1.1\r\n\r\n";

	(void)state;
	n_got = 0;
	run(egress(), seg);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].head_len, strlen(seg));
	assert_int_equal(got[0].seg_len, strlen(seg));
	/* sized to its class: no more than twice what it carries */
	assert_true(got_size[0] >= HTTP_EV_HDR + strlen(seg));
	assert_true(got_size[0] <= HTTP_EV_HDR + 2 * strlen(seg));
	assert_memory_equal(got[0].head, seg, strlen(seg));
}

/* A head of at most 64 bytes comes from the segment's first bytes, which
 * capture loaded already, not from a second load: its record holds them
 * whole, in the smallest class, whatever their length there. */
static void test_short_heads(void **state)
{
	const int lens[] = {14, 18, 40, 63, 64, 65};
	char req[6][80];

	(void)state;
	n_got = 0;
	snprintf(req[0], sizeof(req[0]),
		 "GET / HTTP\r\n\r\n"); /* 14: below the 16 of a word pair */
	for (int i = 1; i < 6; i++)	/* "GET /aaa HTTP/1.1\r\n\r\n": 18 bytes and the a's */
		snprintf(req[i], sizeof(req[i]), "GET /%.*s HTTP/1.1\r\n\r\n", lens[i] - 18,
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	for (int i = 0; i < 6; i++) {
		assert_int_equal(strlen(req[i]), lens[i]);
		run(egress(), req[i]);
	}
	assert_int_equal(n_got, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(got[i].kind, HTTP_EV_REQUEST);
		assert_int_equal(got[i].head_len, lens[i]);
		assert_int_equal(got[i].seg_len, lens[i]);
		assert_int_equal(got_size[i], HTTP_EV_HDR + (lens[i] <= 64 ? 64 : 128));
		assert_memory_equal(got[i].head, req[i], lens[i]);
	}
}

/* A head its socket sends is stamped with the time TCP gave the segment
 * (skb->tstamp, CLOCK_MONOTONIC), a received one with the clock read
 * (a received segment's tstamp is not that clock's); 0 reads the clock. */
static void test_head_time(void **state)
{
	static uint8_t pkt[256];
	const char *req = "GET /t HTTP/1.1\r\nHost: t\r\n\r\n";
	const __u64 sent = 123456789ULL;
	struct __sk_buff ctx = {.tstamp = sent};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	int progs[3] = {egress(), bpf_program__fd(skel->progs.bm_http_ingress), egress()};
	struct timespec now;

	(void)state;
	opts.data_size_in = capfix_craft(pkt, req, strlen(req));
	n_got = 0;
	for (int i = 0; i < 3; i++) {
		ctx.tstamp = i < 2 ? sent : 0;
		assert_int_equal(bpf_prog_test_run_opts(progs[i], &opts), 0);
		ring_buffer__consume(rb);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	assert_int_equal(n_got, 3);
	assert_int_equal(got[0].ts, sent);
	for (int i = 1; i < 3; i++) {
		assert_true(got[i].ts > sent);
		assert_true(got[i].ts <= (__u64)now.tv_sec * 1000000000ULL + now.tv_nsec);
	}
}

/* A socket's (or a tc connection's) state in http_conns3. */
static struct http_conn conn_of(uint64_t key)
{
	struct http_conn c;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.http_conns3), &key, &c), 0);
	return c;
}

/* A client socket's first request says whether the load balancer connected
 * it (HTTP_EVF_LB; these test sockets are in no lb_conns, so never
 * HTTP_EVF_SVC) and its state remembers the answer for outlier detection;
 * a server's request and a tc connection's say nothing (the agent looks
 * for no service address there). Each test run is a socket of its own. */
static void test_request_lb_known(void **state)
{
	const char *req = "GET /lb HTTP/1.1\r\nHost: lb\r\n\r\n";

	(void)state;
	n_got = 0;
	run(egress(), req);
	run(bpf_program__fd(skel->progs.bm_http_ingress), req);
	assert_int_equal(n_got, 2);
	assert_int_equal(got[0].kind, HTTP_EV_REQUEST);
	assert_int_equal(got[0].flags, HTTP_EVF_LB);
	assert_int_equal(got[0].svc.family, 0);
	assert_int_equal(conn_of(got[0].cookie).lb, HTTP_LB_NO);
	assert_int_equal(got[1].kind, HTTP_EV_REQUEST);
	assert_int_equal(got[1].flags, 0);
	assert_int_equal(conn_of(got[1].cookie).lb, HTTP_LB_UNKNOWN);
}

/* A response record carries its segment's first bytes (the agent reads
 * the framing there) and the sequence number the kernel counts its bytes
 * from; no framing is parsed here, so one whole in its segment and one
 * that goes on get the same record. */
static void test_response_record(void **state)
{
	const char *one = "HTTP/1.1 503 Service Unavailable\r\ncontent-LENGTH: 2\r\n\r\nno";

	(void)state;
	n_got = 0;
	run(egress(), "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd");
	run(egress(), one);
	run(egress(), "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until close");
	assert_int_equal(n_got, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(got[i].kind, HTTP_EV_RESPONSE);
		assert_int_equal(got[i].flags, 0); /* nothing before it, bytes all in the record */
		assert_int_equal(got[i].head_len, got[i].seg_len);
		assert_int_equal(got[i].resp.seq0, 0); /* capfix_craft()'s sequence number */
	}
	assert_memory_equal(got[1].head, one, strlen(one));
	assert_true(got_size[1] <= HTTP_EV_HDR + 64); /* sized to its class */
}

/* A segment longer than HTTP_HEAD_MAX: its first bytes, and its last ones
 * for the agent to see a chunked body's end. */
static void test_response_copy(void **state)
{
	static char seg[2048];
	const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	int n;

	(void)state;
	n_got = 0;
	n = snprintf(seg, sizeof(seg), "HTTP/1.1 200 OK\r\nContent-Length: 1200\r\n\r\n");
	memset(seg + n, 'b', 1200);
	memcpy(seg + n + 1192, "01234567", 8);
	seg[n + 1200] = 0;
	run(egress(), seg);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].head_len, HTTP_HEAD_MAX);
	assert_int_equal(got[0].seg_len, n + 1200);
	assert_int_equal(got[0].flags, HTTP_EVF_TAIL);
	assert_memory_equal(got[0].resp.tail, "01234567", 8);
	/* pipelined: every response in the segment's bytes, for the agent */
	n = 0;
	for (int i = 0; i < 8; i++)
		n += snprintf(seg + n, sizeof(seg) - n, "%s", two);
	run(egress(), seg);
	assert_int_equal(n_got, 2);
	assert_int_equal(got[1].head_len, n);
	assert_memory_equal(got[1].head, seg, n);
	assert_int_equal(got[1].flags, 0);
	/* a chunked body's end past the record's bytes */
	n = snprintf(seg, sizeof(seg),
		     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "4b0\r\n");
	memset(seg + n, 'c', 1200);
	n += 1200;
	n += snprintf(seg + n, sizeof(seg) - n, "\r\n0\r\n\r\n");
	run(egress(), seg);
	assert_int_equal(n_got, 3);
	assert_int_equal(got[2].flags, HTTP_EVF_TAIL);
	assert_memory_equal(got[2].resp.tail + 3, "0\r\n\r\n", 5);
}

static uint64_t drops(int reason)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[ncpu], sum = 0;
	uint32_t key = reason;

	assert_true(ncpu > 0);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.http_drops), &key, v), 0);
	for (int i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

/* A request head "GET /pad HTTP/1.1", Host, X-Pad of pad bytes, then
 * what follows (more lines, the blank line, a body). */
static const char *padded(size_t pad, const char *rest)
{
	static char seg[4096];
	int n = snprintf(seg, sizeof(seg), "GET /pad HTTP/1.1\r\nHost: a\r\nX-Pad: ");

	memset(seg + n, 'p', pad);
	snprintf(seg + n + pad, sizeof(seg) - n - pad, "\r\n%s", rest);
	return seg;
}

/* A traceparent behind a 2 KiB header: past the record's head bytes, the
 * kernel finds it and sends it with the record. */
static void test_request_context_far(void **state)
{
	uint64_t long0 = drops(HTTP_DROP_HEAD_LONG);

	(void)state;
	n_got = 0;
	run(egress(), padded(2048, "TraceParent: " TP "\r\ntracestate: k=v,l=w\r\n\r\n"));
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].kind, HTTP_EV_REQUEST);
	assert_int_equal(got[0].head_len, HTTP_HEAD_MAX + sizeof(struct http_req_ctx));
	assert_int_equal(got_size[0], HTTP_EV_MAX);
	assert_memory_equal(got[0].head, "GET /pad HTTP/1.1\r\n", 19);
	assert_int_equal(got_ctx[0].n_traceparent, 1);
	assert_int_equal(got_ctx[0].n_tracestate, 1);
	assert_int_equal(got_ctx[0].flags, 0);
	assert_string_equal(got_ctx[0].traceparent, "TraceParent: " TP "\r");
	assert_string_equal(got_ctx[0].tracestate, "tracestate: k=v,l=w\r");
	assert_int_equal(drops(HTTP_DROP_HEAD_LONG), long0);

	/* a line that straddles the record's end is the kernel's to send; two
	 * traceparent lines are counted (none is valid) */
	run(egress(), padded(HTTP_HEAD_MAX - 40,
			     "traceparent: " TP "\r\nX: y\r\ntraceparent: " TP "\r\n\r\n"));
	assert_int_equal(n_got, 2);
	assert_int_equal(got_ctx[1].n_traceparent, 2);
	assert_int_equal(got_ctx[1].n_tracestate, 0);
	assert_string_equal(got_ctx[1].traceparent, "traceparent: " TP "\r");
}

/* Nothing further for a head that ends within the record's bytes, whatever
 * its body holds, nor for context lines the record carries whole. */
static void test_request_context_near(void **state)
{
	static char seg[4096];
	uint64_t long0 = drops(HTTP_DROP_HEAD_LONG);
	int n;

	(void)state;
	n_got = 0;
	n = snprintf(seg, sizeof(seg), "POST /up HTTP/1.1\r\nContent-Length: 2000\r\n\r\n");
	memset(seg + n, 'b', 1900);
	snprintf(seg + n + 1900, sizeof(seg) - n - 1900, "\r\ntraceparent: " TP "\r\n\r\n");
	run(egress(), seg);
	snprintf(seg, sizeof(seg), "%s", padded(10, "traceparent: " TP "\r\nX-More: "));
	n = strlen(seg);
	memset(seg + n, 'm', 2000);
	snprintf(seg + n + 2000, sizeof(seg) - n - 2000, "\r\n\r\n");
	run(egress(), seg);
	assert_int_equal(n_got, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(got[i].kind, HTTP_EV_REQUEST);
		assert_true(got[i].head_len <= HTTP_HEAD_MAX);
		assert_int_equal(got_ctx[i].n_traceparent, 0);
	}
	assert_non_null(memmem(got[1].head, got[1].head_len, "traceparent: " TP "\r\n", 70));
	assert_int_equal(drops(HTTP_DROP_HEAD_LONG), long0);
}

/* A head that goes on past its segment is counted, never guessed at: a
 * context line cut by the segment's end is not sent, a whole one is. */
static void test_request_head_too_long(void **state)
{
	uint64_t long0 = drops(HTTP_DROP_HEAD_LONG);

	(void)state;
	n_got = 0;
	run(egress(), padded(3000, "traceparent: 00-0af7651916cd43dd8448")); /* no end */
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].head_len, HTTP_HEAD_MAX);
	assert_int_equal(got_ctx[0].n_traceparent, 0);
	assert_int_equal(drops(HTTP_DROP_HEAD_LONG), long0 + 1);
	run(egress(), padded(2000, "traceparent: " TP "\r\nX-Cut: abc"));
	assert_int_equal(n_got, 2);
	assert_int_equal(got_ctx[1].n_traceparent, 1);
	assert_int_equal(drops(HTTP_DROP_HEAD_LONG), long0 + 2);
}

static void test_not_http(void **state)
{
	(void)state;
	n_got = 0;
	run(egress(), "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
	run(egress(), "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"); /* a TLS hello */
	run(egress(), "get / HTTP/1.1\r\n\r\n");
	run(egress(), "HTTP/2.0 200\r\n\r\n");
	run(egress(), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");     /* the HTTP/2 preface */
	run(egress(), "ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n\r\n"); /* 17 letters */
	run(egress(), "PURGE\r\nHost: x\r\n\r\n");	       /* no target */
	run(egress(), "PURGE xyz HTTP/1.1\r\n\r\n");	       /* no target start */
	run(egress(), "HELO mail.example.com\r\n");	       /* SMTP */
	run(egress(), "AUTH PLAIN dGVzdA==\r\n");
	assert_int_equal(n_got, 0);
}

/* Any token method is a request (RFC 9110): uppercase letters, a space and
 * a target, the method also longer than the first 8 bytes. */
static void test_extension_methods(void **state)
{
	static const char *const heads[] = {
	    "PURGE /cache/x HTTP/1.1\r\nHost: x\r\n\r\n",
	    "MKCOL /dav/new HTTP/1.1\r\n\r\n",
	    "PROPFIND /dav HTTP/1.1\r\n\r\n",
	    "MKCALENDAR /cal HTTP/1.1\r\n\r\n",
	    "ABCDEFGHIJKLMNOP * HTTP/1.1\r\n\r\n", /* 16 letters */
	    "PURGE http://cache/x HTTP/1.1\r\n\r\n",
	    "BREW / HTTP/1.1\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		n_got = 0;
		run(egress(), heads[i]);
		if (n_got != 1 || got[0].kind != HTTP_EV_REQUEST)
			fail_msg("\"%.20s\": expected one request record, got %d", heads[i], n_got);
	}
}

/* TCP sequence numbers of the tc connections' next bytes: [0] the pod's,
 * [1] its peer's (one connection at a time per port is enough here) */
static uint32_t tc_seq[65536][2];

/* tc sees whole frames. A frame of the connection 10.0.0.1:lport (the pod)
 * <-> 10.0.0.2:80; from_pod says which way it goes. Each direction's
 * sequence numbers go on from frame to frame; resend puts a frame's bytes
 * again where they were. */
static size_t craft_tc_at(uint8_t *buf, uint16_t lport, bool from_pod, const char *payload,
			  uint32_t seq)
{
	return capfix_segment(buf, lport, from_pod, seq, payload, strlen(payload));
}

static size_t craft_tc(uint8_t *buf, uint16_t lport, bool from_pod, const char *payload)
{
	uint32_t *seq = &tc_seq[lport][!from_pod];
	size_t len = craft_tc_at(buf, lport, from_pod, payload, *seq);

	*seq += strlen(payload);
	return len;
}

static void run_frame(int prog_fd, uint8_t *pkt, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	opts.data_in = pkt;
	opts.data_size_in = len;
	assert_int_equal(bpf_prog_test_run_opts(prog_fd, &opts), 0);
	assert_int_equal((int)opts.retval, -1); /* TCX_NEXT: capture only watches */
	ring_buffer__consume(rb);
}

/* The host-side interface's ingress carries what the pod sends. */
static void tc_from_pod(uint16_t lport, const char *payload)
{
	uint8_t pkt[4096];
	size_t len = craft_tc(pkt, lport, true, payload);

	run_frame(bpf_program__fd(skel->progs.bm_http_tc_in), pkt, len);
}

static void tc_to_pod(uint16_t lport, const char *payload)
{
	uint8_t pkt[4096];
	size_t len = craft_tc(pkt, lport, false, payload);

	run_frame(bpf_program__fd(skel->progs.bm_http_tc_out), pkt, len);
}

/* The per-connection state of a tc key: how far the response got. */
static void test_tc_request_response(void **state)
{
	uint8_t pkt[512];
	struct http_conn c;
	size_t len;

	(void)state;
	n_got = 0;
	tc_seq[41000][1] = 0xfffffff0; /* the response's bytes wrap the sequence space */
	tc_from_pod(41000, "GET /orders/7 HTTP/1.1\r\nHost: orders\r\n\r\n");
	tc_to_pod(41000, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd");
	tc_to_pod(41000, "efg");
	tc_to_pod(41000, "hij"); /* the last body byte: no record, the state moves */
	assert_int_equal(n_got, 2);
	assert_int_equal(got[0].kind, HTTP_EV_REQUEST);
	assert_int_equal(got[0].dir, HTTP_DIR_EGRESS);
	assert_int_equal(got[0].lport, 41000);
	assert_int_equal(got[0].rport, 80);
	assert_int_equal(got[0].local[0], 10);
	assert_int_equal(got[0].local[3], 1);
	assert_int_equal(got[0].pid_tgid, 0);
	assert_int_equal(got[0].flags, 0); /* a tc key is no socket lb_conns knows */
	assert_int_equal(got[1].kind, HTTP_EV_RESPONSE);
	assert_int_equal(got[1].dir, HTTP_DIR_INGRESS);
	assert_int_equal(got[1].flags, 0);
	assert_int_equal(got[1].resp.seq0, 0xfffffff0);
	assert_int_equal(got[1].lport, 41000); /* the pod's side, both ways */
	/* both directions are one connection, under a tc key, not a cookie */
	assert_true(got[0].cookie & HTTP_TC_KEY);
	assert_true(got[0].cookie == got[1].cookie);
	c = conn_of(got[1].cookie);
	assert_int_equal(c.resp_state, HTTP_RESP_BODY);
	assert_int_equal(c.resp_dir, HTTP_DIR_INGRESS);
	assert_int_equal(c.resp.seq0, 0xfffffff0);
	assert_int_equal(c.resp.bytes, 49); /* 39 head + 10 body: all the head announced */
	assert_memory_equal(c.resp.tail + 2, "efghij", 6); /* "hij" shifted in after "efg" */
	assert_true(c.resp_last >= got[1].ts);

	/* a retransmission of "efg" moves neither the count nor the tail */
	len = craft_tc_at(pkt, 41000, false, "efg", 0xfffffff0 + 43);
	run_frame(bpf_program__fd(skel->progs.bm_http_tc_out), pkt, len);
	c = conn_of(got[1].cookie);
	assert_int_equal(c.resp.bytes, 49);
	assert_memory_equal(c.resp.tail + 2, "efghij", 6);

	/* the next request says how far the response before it got */
	tc_from_pod(41000, "GET /orders/8 HTTP/1.1\r\n\r\n");
	assert_int_equal(n_got, 3);
	assert_int_equal(got[2].flags, HTTP_EVF_RESP);
	assert_int_equal(got[2].resp.seq0, 0xfffffff0);
	assert_int_equal(got[2].resp.bytes, 49);
	assert_int_equal(got[2].body_last_ns, c.resp_last);
	/* and the next response when the one before had bytes after its head */
	tc_to_pod(41000, "HTTP/1.1 204 No Content\r\n\r\n");
	assert_int_equal(n_got, 4);
	assert_int_equal(got[3].flags, HTTP_EVF_RESP);
	assert_int_equal(got[3].body_last_ns, c.resp_last);
	c = conn_of(got[3].cookie);
	assert_int_equal(c.resp_state, HTTP_RESP_HEAD);
	assert_int_equal(c.resp.bytes, 27);

	/* another connection of the same pod: another key; keep-alive on it,
	 * a response whole in its segment reports nothing to the next request */
	tc_from_pod(41001, "GET /a HTTP/1.1\r\n\r\n");
	tc_to_pod(41001, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
	tc_from_pod(41001, "GET /b HTTP/1.1\r\n\r\n");
	assert_int_equal(n_got, 7);
	assert_true(got[4].cookie != got[0].cookie);
	assert_true(got[4].cookie == got[5].cookie && got[5].cookie == got[6].cookie);
	assert_int_equal(got[6].flags, 0);
	assert_int_equal(got[6].body_last_ns, 0);
}

/* A chunked body's end sent alone, and split: it reaches the state's tail. */
static void test_tc_chunked_end(void **state)
{
	struct http_conn c;

	(void)state;
	n_got = 0;
	tc_from_pod(41002, "GET /stream HTTP/1.1\r\n\r\n");
	tc_to_pod(41002, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	tc_to_pod(41002, "5\r\nhello\r\n");
	c = conn_of(got[0].cookie);
	assert_memory_equal(c.resp.tail, "\nhello\r\n", 8);
	tc_to_pod(41002, "0\r\n");
	tc_to_pod(41002, "\r\n");
	c = conn_of(got[0].cookie);
	assert_memory_equal(c.resp.tail + 3, "0\r\n\r\n", 5);
	assert_int_equal(c.resp.bytes, 47 + 10 + 5);
	assert_int_equal(n_got, 2);
}

static void test_tc_ipv6(void **state)
{
	uint8_t pkt[512];
	struct ethhdr *eth = (void *)pkt;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip6 + 1);
	const char *req = "POST /pay HTTP/1.1\r\nContent-Length: 0\r\n\r\n";

	(void)state;
	n_got = 0;
	memset(pkt, 0, sizeof(pkt));
	eth->h_proto = htons(ETH_P_IPV6);
	ip6->version = 6;
	ip6->nexthdr = IPPROTO_TCP;
	ip6->hop_limit = 64;
	ip6->payload_len = htons(sizeof(*tcp) + strlen(req));
	inet_pton(AF_INET6, "fd00::1", &ip6->saddr);
	inet_pton(AF_INET6, "fd00::2", &ip6->daddr);
	tcp->source = htons(42000);
	tcp->dest = htons(8080);
	tcp->doff = 5;
	tcp->ack = 1;
	memcpy(tcp + 1, req, strlen(req));
	run_frame(bpf_program__fd(skel->progs.bm_http_tc_in), pkt,
		  sizeof(*eth) + sizeof(*ip6) + sizeof(*tcp) + strlen(req));
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].family, AF_INET6);
	assert_int_equal(got[0].lport, 42000);
	assert_int_equal(got[0].rport, 8080);
	assert_int_equal(got[0].local[0], 0xfd);
	assert_int_equal(got[0].remote[15], 2);
	assert_memory_equal(got[0].head, "POST /pay ", 10);
}

static void test_tc_not_tcp(void **state)
{
	uint8_t pkt[512];
	struct ethhdr *eth = (void *)pkt;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	const char *dgram = "GET / HTTP/1.1\r\n\r\n";

	(void)state;
	n_got = 0;
	memset(pkt, 0, sizeof(pkt));
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->protocol = IPPROTO_UDP;
	ip->ttl = 64;
	ip->tot_len = htons(sizeof(*ip) + sizeof(*udp) + strlen(dgram));
	ip->saddr = htonl(0x0a000001);
	ip->daddr = htonl(0x0a000002);
	udp->source = htons(5000);
	udp->dest = htons(80);
	udp->len = htons(sizeof(*udp) + strlen(dgram));
	memcpy(udp + 1, dgram, strlen(dgram));
	run_frame(bpf_program__fd(skel->progs.bm_http_tc_in), pkt,
		  sizeof(*eth) + sizeof(*ip) + sizeof(*udp) + strlen(dgram));
	/* ARP-sized junk that is not IP at all */
	eth->h_proto = htons(ETH_P_ARP);
	run_frame(bpf_program__fd(skel->progs.bm_http_tc_out), pkt, 64);
	assert_int_equal(n_got, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_head),
	    cmocka_unit_test(test_pipelined_requests),
	    cmocka_unit_test(test_short_heads),
	    cmocka_unit_test(test_head_time),
	    cmocka_unit_test(test_request_lb_known),
	    cmocka_unit_test(test_response_record),
	    cmocka_unit_test(test_response_copy),
	    cmocka_unit_test(test_request_context_far),
	    cmocka_unit_test(test_request_context_near),
	    cmocka_unit_test(test_request_head_too_long),
	    cmocka_unit_test(test_not_http),
	    cmocka_unit_test(test_extension_methods),
	    cmocka_unit_test(test_tc_request_response),
	    cmocka_unit_test(test_tc_chunked_end),
	    cmocka_unit_test(test_tc_ipv6),
	    cmocka_unit_test(test_tc_not_tcp),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
