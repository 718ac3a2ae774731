/* SPDX-License-Identifier: Apache-2.0 */
/* test_http_capture.c: BPF_PROG_TEST_RUN of the HTTP capture programs on
 * crafted packets: request heads (also pipelined), responses framed by
 * Content-Length or chunked, and traffic that is not HTTP, through the
 * cgroup_skb programs; through the tc programs of host-side interfaces, a
 * request and its response over several segments of one connection (keyed by
 * the 4-tuple), IPv6, and packets that are not TCP. The maps are not pinned:
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
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/http.h"
#include "skel/http.skel.h"

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
		memset(&got[n_got], 0, sizeof(got[0]));
		got_size[n_got] = size;
		memset(&got_ctx[n_got], 0, sizeof(got_ctx[0]));
		if (size >= HTTP_EV_MAX)
			memcpy(&got_ctx[n_got], (char *)data + HTTP_EV_HDR + HTTP_HEAD_MAX,
			       sizeof(got_ctx[0]));
		memcpy(&got[n_got++], data, size < sizeof(got[0]) ? size : sizeof(got[0]));
	}
	return 0;
}

static int setup(void **state)
{
	struct bpf_map *map;

	(void)state;
	skel = http_bpf__open();
	if (!skel)
		return -1;
	bpf_object__for_each_map(map, skel->obj)
	    bpf_map__set_pin_path(map, NULL); /* a test pins nothing */
	if (http_bpf__load(skel)) {
		fprintf(stderr, "loading the capture programs failed (root? BTF?)\n");
		return -1;
	}
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

/* One Ethernet + IPv4 + TCP packet from 10.0.0.1:40000 to 10.0.0.2:80
 * carrying payload; the program sees it from the IP header on. */
static size_t craft(uint8_t *buf, const char *payload, size_t plen)
{
	struct ethhdr *eth = (void *)buf;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip + 1);

	memset(buf, 0, sizeof(*eth) + sizeof(*ip) + sizeof(*tcp));
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->protocol = IPPROTO_TCP;
	ip->ttl = 64;
	ip->tot_len = htons(sizeof(*ip) + sizeof(*tcp) + plen);
	ip->saddr = htonl(0x0a000001);
	ip->daddr = htonl(0x0a000002);
	tcp->source = htons(40000);
	tcp->dest = htons(80);
	tcp->doff = 5;
	tcp->ack = 1;
	memcpy(tcp + 1, payload, plen);
	return sizeof(*eth) + sizeof(*ip) + sizeof(*tcp) + plen;
}

static void run(int prog_fd, const char *payload)
{
	static uint8_t pkt[8192];
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	size_t len = craft(pkt, payload, strlen(payload));

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

/* Every test run gets a fresh socket (and cookie), so framing across
 * segments of one socket is covered by the end-to-end tests; here: what one
 * segment tells. */
static void test_response_content_length(void **state)
{
	(void)state;
	n_got = 0;
	/* 10 body bytes announced, 4 in this segment: the end is still to come */
	run(egress(), "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd");
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].kind, HTTP_EV_RESPONSE);
	assert_int_equal(got[0].complete, 0);
	/* the whole response in one segment, header names in any case */
	run(egress(), "HTTP/1.1 503 Service Unavailable\r\ncontent-LENGTH: 2\r\n\r\nno");
	assert_int_equal(n_got, 2);
	assert_int_equal(got[1].complete, 1);
	assert_memory_equal(got[1].head, "HTTP/1.1 503 ", 13);
	/* no framing at all: the end is not known (the agent ends at the start) */
	run(egress(), "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until close");
	assert_int_equal(n_got, 3);
	assert_int_equal(got[2].complete, 0);
}

/* A response is copied in its first 256 bytes when the rest of its segment
 * is its own body; whole (up to HTTP_HEAD_MAX) when another response may
 * follow in it, which the agent splits. */
static void test_response_copy(void **state)
{
	static char seg[2048];
	const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	int n;

	(void)state;
	n_got = 0;
	n = snprintf(seg, sizeof(seg), "HTTP/1.1 200 OK\r\nContent-Length: 1200\r\n\r\n");
	memset(seg + n, 'b', 1200);
	seg[n + 1200] = 0;
	run(egress(), seg);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].head_len, 256);
	assert_int_equal(got[0].seg_len, n + 1200);
	assert_int_equal(got[0].complete, 1);
	/* pipelined: the first response ends before the segment does */
	n = 0;
	for (int i = 0; i < 8; i++)
		n += snprintf(seg + n, sizeof(seg) - n, "%s", two);
	run(egress(), seg);
	assert_int_equal(n_got, 2);
	assert_int_equal(got[1].head_len, n);
	assert_memory_equal(got[1].head, seg, n);
	assert_int_equal(got[1].complete, 1);
	/* delimited by the close: the agent reads the body's start too */
	n = snprintf(seg, sizeof(seg), "HTTP/1.0 200 OK\r\n\r\n");
	memset(seg + n, 'c', 600);
	seg[n + 600] = 0;
	run(egress(), seg);
	assert_int_equal(n_got, 3);
	assert_int_equal(got[2].head_len, n + 600);
	assert_int_equal(got[2].complete, 0);
}

static void test_response_chunked(void **state)
{
	(void)state;
	n_got = 0;
	run(egress(), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].complete, 0);
	run(egress(), "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n"
		      "5\r\nhello\r\n0\r\n\r\n");
	assert_int_equal(n_got, 2);
	assert_int_equal(got[1].complete, 1);
}

/* The head scan looks at one line end per step: short lines put several
 * in one word, and the framing header may come last, far into the head. */
static void test_response_dense_lines(void **state)
{
	char seg[1024];
	int n;

	(void)state;
	n_got = 0;
	n = snprintf(seg, sizeof(seg), "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < 80; i++) /* "A:\r\n": two newlines in most words */
		n += snprintf(seg + n, sizeof(seg) - n, "%c:\r\n", 'a' + i % 26);
	n += snprintf(seg + n, sizeof(seg) - n, "Content-Length: 3\r\n\r\nabc");
	assert_true(n > 300 && n < 512);
	run(egress(), seg);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].complete, 1);
	/* a body that looks like headers is not read as the head's */
	run(egress(), "HTTP/1.1 200 OK\r\nX: y\r\n\r\n\r\nContent-Length: 1\r\n\r\n");
	assert_int_equal(n_got, 2);
	assert_int_equal(got[1].complete, 0);
	/* a head that ends on the last byte of a word */
	run(egress(), "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nX: yyyyy\r\n\r\n");
	assert_int_equal(n_got, 3);
	assert_int_equal(got[2].complete, 1);
	/* the scan starts after "HTTP/1.x NNN": a status line without a
	 * reason phrase ends right there */
	run(egress(), "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(n_got, 4);
	assert_int_equal(got[3].complete, 1);
	run(egress(), "HTTP/1.1 200\r\nContent-Length: 9\r\n\r\nok");
	assert_int_equal(n_got, 5);
	assert_int_equal(got[4].complete, 0);
	/* newlines at every byte position of a word, the framing header last */
	run(egress(), "HTTP/1.1 200 OK\r\nA:1\r\nBb:2\r\nCcc:3\r\nDddd:4\r\nEeeee:5\r\n"
		      "Ffffff:6\r\nGgggggg:7\r\nHhhhhhhh:8\r\ncontent-length: 1\r\n\r\nz");
	assert_int_equal(n_got, 6);
	assert_int_equal(got[5].complete, 1);
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

/* tc sees whole frames. A frame of the connection 10.0.0.1:lport (the pod)
 * <-> 10.0.0.2:80; from_pod says which way it goes. */
static size_t craft_tc(uint8_t *buf, uint16_t lport, bool from_pod, const char *payload)
{
	size_t plen = strlen(payload), len = craft(buf, payload, plen);
	struct iphdr *ip = (void *)(buf + sizeof(struct ethhdr));
	struct tcphdr *tcp = (void *)(ip + 1);

	tcp->source = htons(from_pod ? lport : 80);
	tcp->dest = htons(from_pod ? 80 : lport);
	if (!from_pod) {
		ip->saddr = htonl(0x0a000002);
		ip->daddr = htonl(0x0a000001);
	}
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

static void test_tc_request_response(void **state)
{
	(void)state;
	n_got = 0;
	tc_from_pod(41000, "GET /orders/7 HTTP/1.1\r\nHost: orders\r\n\r\n");
	tc_to_pod(41000, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd");
	tc_to_pod(41000, "efg");
	tc_to_pod(41000, "hij"); /* the last body byte */
	assert_int_equal(n_got, 3);
	assert_int_equal(got[0].kind, HTTP_EV_REQUEST);
	assert_int_equal(got[0].dir, HTTP_DIR_EGRESS);
	assert_int_equal(got[0].lport, 41000);
	assert_int_equal(got[0].rport, 80);
	assert_int_equal(got[0].local[0], 10);
	assert_int_equal(got[0].local[3], 1);
	assert_int_equal(got[0].pid_tgid, 0);
	assert_int_equal(got[1].kind, HTTP_EV_RESPONSE);
	assert_int_equal(got[1].dir, HTTP_DIR_INGRESS);
	assert_int_equal(got[1].complete, 0);
	assert_int_equal(got[1].lport, 41000); /* the pod's side, both ways */
	assert_int_equal(got[2].kind, HTTP_EV_RESPONSE_END);
	assert_int_equal(got_size[2], HTTP_EV_HDR); /* no head: the fields only */
	/* both directions are one connection, under a tc key, not a cookie */
	assert_true(got[0].cookie & HTTP_TC_KEY);
	assert_true(got[0].cookie == got[1].cookie && got[1].cookie == got[2].cookie);

	/* another connection of the same pod: another key; keep-alive on it */
	tc_from_pod(41001, "GET /a HTTP/1.1\r\n\r\n");
	tc_to_pod(41001, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
	tc_from_pod(41001, "GET /b HTTP/1.1\r\n\r\n");
	assert_int_equal(n_got, 6);
	assert_true(got[3].cookie != got[0].cookie);
	assert_true(got[3].cookie == got[4].cookie && got[4].cookie == got[5].cookie);
	assert_int_equal(got[4].complete, 1);
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
	    cmocka_unit_test(test_response_content_length),
	    cmocka_unit_test(test_response_copy),
	    cmocka_unit_test(test_response_chunked),
	    cmocka_unit_test(test_response_dense_lines),
	    cmocka_unit_test(test_request_context_far),
	    cmocka_unit_test(test_request_context_near),
	    cmocka_unit_test(test_request_head_too_long),
	    cmocka_unit_test(test_not_http),
	    cmocka_unit_test(test_extension_methods),
	    cmocka_unit_test(test_tc_request_response),
	    cmocka_unit_test(test_tc_ipv6),
	    cmocka_unit_test(test_tc_not_tcp),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
