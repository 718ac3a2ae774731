/* SPDX-License-Identifier: Apache-2.0 */
/* test_inject.c: traceparent injection (bpf/inject.bpf.c) on real sockets.
 * BPF_PROG_TEST_RUN does not run sk_msg programs, so each case sends
 * through a loopback pair whose client socket the test puts in the
 * sockhash by hand, and reads what the server received: one header after
 * the request line, ids that carry the tag (inject.h), a request with its
 * own traceparent unchanged, pipelined requests one header each, a head too
 * big to search left alone and counted. Nothing is attached to a cgroup,
 * nothing is pinned. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/inject.h"
#include "skel/inject.skel.h"

#define KEY 0x0123456789abcdefULL

static struct inject_bpf *skel;
static int cfd = -1, sfd = -1;
static uint64_t cookie, conn;

static int setup(void **state)
{
	(void)state;
	skel = inject_bpf__open();
	if (!skel)
		return -1;
	skel->rodata->inject_key = KEY;
	/* http_serving is pinned by name for the agent: a test pins nothing */
	bpf_map__set_pin_path(skel->maps.http_serving, NULL);
	if (inject_bpf__load(skel)) {
		fprintf(stderr, "loading the injection programs failed (root? BTF?)\n");
		return -1;
	}
	if (bpf_prog_attach(bpf_program__fd(skel->progs.bm_inject_msg),
			    bpf_map__fd(skel->maps.inject_socks), BPF_SK_MSG_VERDICT, 0)) {
		fprintf(stderr, "attaching sk_msg: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	inject_bpf__destroy(skel);
	return 0;
}

/* A fresh connected pair per case, the client in the sockhash. */
static int pair_up(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a), cl = sizeof(cookie);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	if (lfd < 0 || bind(lfd, (void *)&a, sizeof(a)) || listen(lfd, 1) ||
	    getsockname(lfd, (void *)&a, &al))
		return -1;
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(cfd, (void *)&a, sizeof(a)))
		return -1;
	sfd = accept(lfd, NULL, NULL);
	close(lfd);
	if (sfd < 0 || getsockopt(cfd, SOL_SOCKET, SO_COOKIE, &cookie, &cl))
		return -1;
	{
		struct sockaddr_in l, r;
		socklen_t ll = sizeof(l), rl = sizeof(r);
		uint32_t lw[4] = {0, 0, htonl(0xffff), 0}, rw[4] = {0, 0, htonl(0xffff), 0};

		if (getsockname(cfd, (void *)&l, &ll) || getpeername(cfd, (void *)&r, &rl))
			return -1;
		lw[3] = l.sin_addr.s_addr;
		rw[3] = r.sin_addr.s_addr;
		conn = inject_conn(lw, rw, ntohs(l.sin_port), ntohs(r.sin_port));
	}
	return bpf_map_update_elem(bpf_map__fd(skel->maps.inject_socks), &cookie, &cfd, BPF_ANY);
}

static int pair_down(void **state)
{
	(void)state;
	close(cfd);
	close(sfd);
	return 0;
}

static uint64_t stat_of(uint32_t i)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[ncpu], sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.inject_stats), &i, v))
		return 0;
	for (int c = 0; c < ncpu; c++)
		sum += v[c];
	return sum;
}

/* Everything the server gets for a message of n bytes: want bytes, or
 * what came within a second. */
static size_t exchange(const char *msg, size_t n, char *out, size_t cap, size_t want)
{
	size_t got = 0;

	assert_int_equal(send(cfd, msg, n, 0), (ssize_t)n);
	while (got < want && got < cap) {
		struct pollfd p = {.fd = sfd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, 1000) != 1)
			break;
		r = recv(sfd, out + got, cap - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static uint64_t hex64(const char *p)
{
	char b[17];

	memcpy(b, p, 16);
	b[16] = 0;
	return strtoull(b, NULL, 16);
}

/* The header at p is one the kernel made for this socket. */
static void assert_ours(const char *p)
{
	uint64_t span;

	assert_memory_equal(p, "traceparent: 00-", 16);
	assert_int_equal(p[48], '-');
	span = hex64(p + 49);
	assert_int_equal((uint32_t)span, inject_tag((uint32_t)(span >> 32), conn, KEY));
	assert_memory_equal(p + 65, "-01\r\n", 5); /* threshold 0: sampled */
}

static void test_one_request(void **state)
{
	static const char req[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
	char out[512];
	size_t line = strlen("GET /a HTTP/1.1\r\n"), n = sizeof(req) - 1;
	uint64_t before = stat_of(INJECT_ST_INJECTED);

	(void)state;
	assert_int_equal(exchange(req, n, out, sizeof(out), n + INJECT_HDR_LEN),
			 n + INJECT_HDR_LEN);
	assert_memory_equal(out, req, line);
	assert_ours(out + line);
	assert_memory_equal(out + line + INJECT_HDR_LEN, req + line, n - line);
	assert_int_equal(stat_of(INJECT_ST_INJECTED), before + 1);
}

static void test_own_traceparent(void **state)
{
	/* after a 700-byte header, and in another case: still found */
	char req[1024], out[1024];
	int n;

	(void)state;
	memset(out, 'a', 700);
	out[700] = 0;
	n = snprintf(req, sizeof(req),
		     "POST /b HTTP/1.1\r\nAuthorization: %s\r\nTraceParent: "
		     "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n",
		     out);
	assert_int_equal(exchange(req, (size_t)n, out, sizeof(out), (size_t)n), n);
	assert_memory_equal(out, req, (size_t)n);
	/* nothing more came */
	assert_int_equal(recv(sfd, out, sizeof(out), MSG_DONTWAIT), -1);
}

static void test_pipelined(void **state)
{
	static const char req[] =
	    "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n";
	char out[512];
	size_t n = sizeof(req) - 1, one = n / 2, line = strlen("GET /1 HTTP/1.1\r\n");

	(void)state;
	assert_int_equal(exchange(req, n, out, sizeof(out), n + 2 * INJECT_HDR_LEN),
			 n + 2 * INJECT_HDR_LEN);
	assert_ours(out + line);
	assert_ours(out + one + INJECT_HDR_LEN + line);
	assert_memory_equal(out + one + INJECT_HDR_LEN, "GET /2 HTTP/1.1\r\n", line);
	/* two requests, two traces */
	assert_memory_not_equal(out + line + 16, out + one + INJECT_HDR_LEN + line + 16, 32);
}

static void test_keepalive(void **state)
{
	static const char req[] = "GET /k HTTP/1.1\r\nHost: x\r\n\r\n";
	char out[512];
	size_t n = sizeof(req) - 1;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(exchange(req, n, out, sizeof(out), n + INJECT_HDR_LEN),
				 n + INJECT_HDR_LEN);
}

static void test_head_too_big(void **state)
{
	size_t n = INJECT_SCAN_MAX + 200;
	char *req = malloc(n), *out = malloc(n + 128);
	uint64_t before = stat_of(INJECT_ST_HEAD_BIG);
	int h;

	(void)state;
	h = snprintf(req, n, "GET /big HTTP/1.1\r\nCookie: ");
	memset(req + h, 'c', n - h - 4);
	memcpy(req + n - 4, "\r\n\r\n", 4);
	assert_int_equal(exchange(req, n, out, n + 128, n), n);
	assert_memory_equal(out, req, n);
	assert_int_equal(stat_of(INJECT_ST_HEAD_BIG), before + 1);
	free(req);
	free(out);
}

static void test_not_http(void **state)
{
	static const char msg[] = "\x16\x03\x01 not a request, not even text\r\n\r\n";
	char out[128];
	size_t n = sizeof(msg) - 1;

	(void)state;
	assert_int_equal(exchange(msg, n, out, sizeof(out), n), n);
	assert_memory_equal(out, msg, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_one_request, pair_up, pair_down),
	    cmocka_unit_test_setup_teardown(test_own_traceparent, pair_up, pair_down),
	    cmocka_unit_test_setup_teardown(test_pipelined, pair_up, pair_down),
	    cmocka_unit_test_setup_teardown(test_keepalive, pair_up, pair_down),
	    cmocka_unit_test_setup_teardown(test_head_too_big, pair_up, pair_down),
	    cmocka_unit_test_setup_teardown(test_not_http, pair_up, pair_down),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
