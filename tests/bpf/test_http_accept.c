/* SPDX-License-Identifier: Apache-2.0 */
/* test_http_accept.c: the capture programs on real loopback connections,
 * for what BPF_PROG_TEST_RUN cannot show: which socket a received request
 * belongs to. Its socket is a made-up one there, never a listener; here a
 * server whose listener has TCP_DEFER_ACCEPT (as nghttpx's and nginx's
 * "deferred") gets a connection's first bytes while the connection has no
 * socket of its own yet, and the cgroup ingress hook sees them on the
 * listener (bpf/http.bpf.c, struct http_early). Each case checks the
 * request record's cookie against the accepted socket's SO_COOKIE, and
 * that the socket is known as a server (its THREAD record, http_conns3);
 * the HTTP/2 cases the same for a prior-knowledge preface (h2.bpf.h's
 * h2_early), against a listener that accepts at once.
 *
 * The test makes its own network namespace (its loopback only) and its
 * own cgroup, which it attaches the cgroup programs to and moves into; the
 * tracepoint programs observe the node's sockets, and write only this
 * test's maps. The cgroup is left and removed, nothing is pinned. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/h2.h"
#include "bpf/http.h"
#include "capfix.h"

#define MAX_EV 32

static struct http_bpf *skel;
static struct ring_buffer *rb;
static struct bpf_link *links[4];
static struct http_event got[MAX_EV];
static struct http_req_ctx got_ctx[MAX_EV]; /* zero unless the record carries one */
static int n_got;
static char cg_path[512], cg_home[1024];

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (n_got < MAX_EV && size >= HTTP_EV_HDR) {
		capfix_copy_record(&got[n_got], &got_ctx[n_got], data, size);
		n_got++;
	}
	return 0;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

/* The cgroup v2 mount, and the cgroup this process is in (to go back). */
static int cgroup_paths(char *root, size_t n)
{
	char line[512], mnt[256], type[64];
	FILE *f = fopen("/proc/mounts", "r");
	int found = 0;

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %255s %63s", mnt, type) == 2 && !strcmp(type, "cgroup2");
	fclose(f);
	if (!found)
		return -1;
	snprintf(root, n, "%s", mnt);
	f = fopen("/proc/self/cgroup", "r");
	if (!f)
		return -1;
	found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(cg_home, sizeof(cg_home), "%s%s/cgroup.procs", mnt, line + 3);
			found = 1;
		}
	}
	fclose(f);
	return found ? 0 : -1;
}

static int lo_up(void)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (!rc)
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return rc;
}

static int teardown(void **state)
{
	char pid[32];

	(void)state;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (cg_home[0])
		write_file(cg_home, pid);
	for (int i = 0; i < 4; i++)
		bpf_link__destroy(links[i]);
	ring_buffer__free(rb);
	http_bpf__destroy(skel);
	if (cg_path[0])
		rmdir(cg_path);
	return 0;
}

static int setup(void **state)
{
	char root[256], procs[600], pid[32];
	int cgfd;

	(void)state;
	if (unshare(CLONE_NEWNET) || lo_up()) {
		fprintf(stderr, "a network namespace of its own: %s\n", strerror(errno));
		return -1;
	}
	if (cgroup_paths(root, sizeof(root))) {
		fprintf(stderr, "no cgroup v2 mount\n");
		return -1;
	}
	snprintf(cg_path, sizeof(cg_path), "%s/bpfmesh-test-bpf-%d", root, (int)getpid());
	if (mkdir(cg_path, 0755) && errno != EEXIST) {
		cg_path[0] = 0;
		return -1;
	}
	skel = capfix_load();
	cgfd = open(cg_path, O_RDONLY | O_DIRECTORY);
	if (!skel || cgfd < 0)
		goto fail;
	links[0] = bpf_program__attach_cgroup(skel->progs.bm_http_ingress, cgfd);
	links[1] = bpf_program__attach_cgroup(skel->progs.bm_http_egress, cgfd);
	close(cgfd);
	links[2] = bpf_program__attach(skel->progs.bm_http_state);
	links[3] = bpf_program__attach(skel->progs.bm_http_recv);
	for (int i = 0; i < 4; i++)
		if (!links[i]) {
			fprintf(stderr, "attaching program %d: %s\n", i, strerror(errno));
			goto fail;
		}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.http_events), on_event, NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg_path);
	if (!rb || write_file(procs, pid))
		goto fail;
	return 0;
fail:
	teardown(state);
	return -1;
}

/* How a case listens and connects: */
#define DEFER 1 /* the listener has TCP_DEFER_ACCEPT */
#define DUAL 2	/* it is dual-stack, on [::], and the client comes over IPv4 */
#define V6 4	/* it is on [::1], and so is the client */

/* A listener on 127.0.0.1, [::] or [::1] (port in *port). */
static int listener(int how, uint16_t *port)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr *sa = (void *)&a;
	socklen_t al = sizeof(a);
	int fd, secs = 2, off = 0;

	if (how & (DUAL | V6)) {
		if (how & V6)
			a6.sin6_addr = in6addr_loopback;
		sa = (void *)&a6;
		al = sizeof(a6);
	}
	fd = socket(sa->sa_family, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	if (how & DUAL)
		assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)), 0);
	if (how & DEFER)
		assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)),
				 0);
	assert_int_equal(bind(fd, sa, al), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, sa, &al), 0);
	*port = ntohs(how & (DUAL | V6) ? a6.sin6_port : a.sin_port);
	return fd;
}

/* A client connected to the listener on port: over IPv6 for V6, else to
 * 127.0.0.1. */
static int client(int how, uint16_t port)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(how & V6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a6.sin6_addr = in6addr_loopback;
	if (how & V6)
		assert_int_equal(connect(fd, (void *)&a6, sizeof(a6)), 0);
	else
		assert_int_equal(connect(fd, (void *)&a, sizeof(a)), 0);
	return fd;
}

static uint64_t cookie_of(int fd)
{
	uint64_t c = 0;
	socklen_t cl = sizeof(c);

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &cl), 0);
	return c;
}

struct seen {
	uint64_t srv;  /* the accepted socket's cookie */
	uint64_t lsn;  /* the listener's */
	uint8_t roles; /* http_conns3's roles of the accepted socket (0: none) */
	int h2_client; /* h2_socks' client flag of the accepted socket, -1: none */
};

/* req sent on a new connection, read by the server's accepted socket and
 * answered with resp; the records it made in got[]. */
static void exchange_bytes(int how, const void *req, size_t n, const void *resp, size_t rn,
			   struct seen *sn)
{
	static char buf[16384];
	struct http_conn c;
	struct h2_sock h;
	size_t have = 0;
	uint16_t port;
	int lfd = listener(how, &port), cfd = client(how, port), sfd;

	assert_int_equal(send(cfd, req, n, 0), (ssize_t)n);
	sfd = accept(lfd, NULL, NULL);
	assert_true(sfd >= 0);
	while (have < n) {
		ssize_t r = read(sfd, buf, sizeof(buf));

		assert_true(r > 0);
		have += (size_t)r;
	}
	assert_int_equal(write(sfd, resp, rn), (ssize_t)rn);
	assert_true(read(cfd, buf, sizeof(buf)) > 0);
	sn->srv = cookie_of(sfd);
	sn->lsn = cookie_of(lfd);
	sn->roles = 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.http_conns3), &sn->srv, &c))
		sn->roles = c.roles;
	/* before the close, which forgets it */
	sn->h2_client =
	    bpf_map_lookup_elem(bpf_map__fd(skel->maps.h2_socks), &sn->srv, &h) ? -1 : h.client;
	n_got = 0;
	ring_buffer__consume(rb);
	close(cfd);
	close(sfd);
	close(lfd);
}

/* An HTTP/1.1 request, answered 200. */
static void exchange(int how, const char *req, struct seen *sn)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	exchange_bytes(how, req, strlen(req), resp, sizeof(resp) - 1, sn);
}

/* The record of kind, dir; NULL when none came. */
static const struct http_event *record(uint8_t kind, uint8_t dir)
{
	for (int i = 0; i < n_got; i++)
		if (got[i].kind == kind && got[i].dir == dir)
			return &got[i];
	return NULL;
}

/* What every case expects of the server side: its request, response and
 * reading thread under the accepted socket's cookie, which capture knows
 * as a server's. */
static void server_side(const struct seen *sn, const char *head)
{
	const struct http_event *rq = record(HTTP_EV_REQUEST, HTTP_DIR_INGRESS);
	const struct http_event *rs = record(HTTP_EV_RESPONSE, HTTP_DIR_EGRESS);
	const struct http_event *th = record(HTTP_EV_THREAD, HTTP_DIR_INGRESS);

	assert_non_null(rq);
	assert_non_null(rs);
	if (rq->cookie == sn->lsn)
		fail_msg("the request's record has the listener's cookie (%llu), not its socket's",
			 (unsigned long long)sn->lsn);
	assert_int_equal(rq->cookie, sn->srv);
	assert_int_equal(rs->cookie, sn->srv);
	assert_memory_equal(rq->head, head, strlen(head));
	assert_true(sn->roles & HTTP_ROLE_SERVER);
	/* the server's read of the request, by this process */
	assert_non_null(th);
	assert_int_equal(th->cookie, sn->srv);
	assert_int_equal(th->pid_tgid >> 32, getpid());
}

/* A listener that accepts at once: the first bytes find their socket. */
static void test_accept_at_once(void **state)
{
	const char *req = "GET /now HTTP/1.1\r\nHost: a\r\n\r\n";
	struct seen sn;

	(void)state;
	exchange(0, req, &sn);
	server_side(&sn, "GET /now HTTP/1.1\r\n");
}

/* TCP_DEFER_ACCEPT: the first bytes reach the listener, before the
 * connection's socket exists; their record waits for it. */
static void test_deferred_accept(void **state)
{
	const char *req = "GET /deferred HTTP/1.1\r\nHost: a\r\n\r\n";
	struct seen sn;

	(void)state;
	exchange(DEFER, req, &sn);
	server_side(&sn, "GET /deferred HTTP/1.1\r\n");
	assert_int_equal(record(HTTP_EV_REQUEST, HTTP_DIR_INGRESS)->seg_len, strlen(req));
}

/* The same with a head longer than a record, whose traceparent is past
 * its first HTTP_HEAD_MAX bytes: the waiting record carries it too. */
static void test_deferred_accept_context(void **state)
{
	static char req[4096];
	static const char tp[] =
	    "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
	const struct http_event *rq;
	struct seen sn;
	int n;

	(void)state;
	n = snprintf(req, sizeof(req), "GET /long HTTP/1.1\r\nX-Pad: %01500d\r\n%s\r\n\r\n", 0, tp);
	assert_true(n > HTTP_HEAD_MAX + 100);
	exchange(DEFER, req, &sn);
	server_side(&sn, "GET /long HTTP/1.1\r\n");
	rq = record(HTTP_EV_REQUEST, HTTP_DIR_INGRESS);
	assert_int_equal(rq->head_len, HTTP_HEAD_MAX + sizeof(struct http_req_ctx));
	assert_int_equal(got_ctx[rq - got].n_traceparent, 1);
	assert_memory_equal(got_ctx[rq - got].traceparent, tp, sizeof(tp) - 1);
}

/* HTTP/2 with prior knowledge: the client's preface, an empty SETTINGS and
 * a HEADERS frame (GET http://a/, stream 1) in one write; the server's
 * SETTINGS and a HEADERS frame (:status 200) in one. */
static const uint8_t h2_req[] = {
    'P',  'R',	'I', ' ', '*',	' ',  'H',  'T',  'T', 'P',  '/',  '2',	 '.',  '0',  '\r', '\n',
    '\r', '\n', 'S', 'M', '\r', '\n', '\r', '\n', 0,   0,    0,	   4,	 0,    0,    0,	   0,
    0, /* SETTINGS */
    0,	  0,	6,   1,	  5,	0,    0,    0,	  1,   0x82, 0x84, 0x86, 0x41, 0x01, 'a', /* HEADERS
											   */
};
static const uint8_t h2_resp[] = {
    0, 0, 0, 4, 0, 0, 0, 0, 0,	     /* SETTINGS */
    0, 0, 1, 1, 5, 0, 0, 0, 1, 0x88, /* HEADERS, :status 200 */
};

static void exchange_h2(int how, struct seen *sn)
{
	exchange_bytes(how, h2_req, sizeof(h2_req), h2_resp, sizeof(h2_resp), sn);
}

/* The HTTP/2 records of the server side, and what is left in the maps. */
static void h2_server_side(const struct seen *sn, struct http_event *in)
{
	const struct http_event *rx = NULL, *tx = NULL,
				*th = record(HTTP_EV_THREAD, HTTP_DIR_INGRESS);
	uint64_t key, next;
	int fd = bpf_map__fd(skel->maps.http_conns3);

	for (int i = 0; i < n_got; i++) {
		if (got[i].kind != HTTP_EV_H2)
			continue;
		if (got[i].cookie == sn->lsn)
			fail_msg(
			    "an HTTP/2 record has the listener's cookie (%llu), not its socket's",
			    (unsigned long long)sn->lsn);
		/* both ends are in the cgroup: the client's records too */
		if (got[i].cookie != sn->srv)
			continue;
		if (got[i].dir == HTTP_DIR_INGRESS && !rx)
			rx = &got[i];
		if (got[i].dir == HTTP_DIR_EGRESS && !tx)
			tx = &got[i];
	}
	assert_non_null(rx);
	assert_non_null(tx);
	assert_true(rx->flags & H2_F_START);
	assert_false(rx->flags & (H2_F_CLIENT | H2_F_STOP | H2_F_GAP));
	assert_false(tx->flags & (H2_F_CLIENT | H2_F_STOP | H2_F_GAP));
	*in = *rx;
	assert_true((sn->roles & (HTTP_ROLE_H2 | HTTP_ROLE_SERVER)) ==
		    (HTTP_ROLE_H2 | HTTP_ROLE_SERVER));
	assert_int_equal(sn->h2_client, 0);
	assert_non_null(th);
	assert_int_equal(th->cookie, sn->srv);
	/* nothing stays under an early key */
	for (int rc = bpf_map_get_next_key(fd, NULL, &key); !rc;
	     rc = bpf_map_get_next_key(fd, &key, &next), key = next)
		assert_false((key >> 62) == 1);
	{
		uint8_t ek[16]; /* struct h2_early_key */

		assert_int_not_equal(
		    bpf_map_get_next_key(bpf_map__fd(skel->maps.h2_early), NULL, ek), 0);
		assert_int_equal(errno, ENOENT);
	}
}

/* HTTP/2 prior knowledge to a listener that accepts at once: the control. */
static struct http_event h2_at_once;

static void test_h2_at_once(void **state)
{
	struct seen sn;

	(void)state;
	exchange_h2(0, &sn);
	h2_server_side(&sn, &h2_at_once);
}

/* The same to a deferring listener: the preface and the frames after it
 * reach the listener; the records wait and come with the socket's cookie,
 * the same bytes as the control's. */
static void test_h2_deferred(void **state)
{
	struct http_event in;
	struct seen sn;

	(void)state;
	exchange_h2(DEFER, &sn);
	h2_server_side(&sn, &in);
	assert_int_not_equal(h2_at_once.head_len, 0);
	assert_int_equal(in.head_len, h2_at_once.head_len);
	assert_int_equal(in.flags, h2_at_once.flags);
	assert_int_equal(in.seg_len, sizeof(h2_req));
	assert_memory_equal(in.head, h2_at_once.head, in.head_len);
}

/* Deferred, on another listener (how): HTTP/1 and an HTTP/2 preface. */
static void deferred_on(int how, const char *req, const char *line)
{
	struct http_event in;
	struct seen sn;

	exchange(DEFER | how, req, &sn);
	server_side(&sn, line);
	assert_int_equal(record(HTTP_EV_REQUEST, HTTP_DIR_INGRESS)->family,
			 how & V6 ? AF_INET6 : AF_INET);
	exchange_h2(DEFER | how, &sn);
	h2_server_side(&sn, &in);
	assert_memory_equal(in.head, h2_at_once.head, in.head_len);
}

/* A dual-stack listener: the request is IPv4, the accepted socket an IPv6
 * one with IPv4-mapped addresses; both name the same connection. */
static void test_deferred_dual_stack(void **state)
{
	(void)state;
	deferred_on(DUAL, "GET /dual HTTP/1.1\r\nHost: a\r\n\r\n", "GET /dual HTTP/1.1\r\n");
}

/* The same over IPv6. */
static void test_deferred_v6(void **state)
{
	(void)state;
	deferred_on(V6, "GET /v6 HTTP/1.1\r\nHost: a\r\n\r\n", "GET /v6 HTTP/1.1\r\n");
}

/* An IPv4 listener on 127.0.0.1:port (0: any; its port in *port). */
static int listen_on(int defer, uint16_t *port, int backlog)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(*port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, secs = 2;

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	if (defer)
		assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)),
				 0);
	assert_int_equal(bind(fd, (void *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (void *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A client from 127.0.0.1:*from (0: any; the port taken in *from). */
static int client_from(uint16_t *from, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(*from),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (void *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (void *)&a, &al), 0);
	*from = ntohs(a.sin_port);
	a.sin_port = htons(port);
	assert_int_equal(connect(fd, (void *)&a, sizeof(a)), 0);
	return fd;
}

/* A request (stale, n bytes) that reached a deferring listener whose
 * connection never got its socket (the accept queue was full, then the
 * client reset it) leaves its record, or its HTTP/2 state and records,
 * waiting; a later connection of the same 4-tuple, to a listener that
 * accepts at once, must not get them as its own. */
static void left_behind(const void *stale, size_t n)
{
	static const char first[] = "GET /first HTTP/1.1\r\nHost: a\r\n\r\n";
	struct http_conn c;
	struct linger rst = {1, 0};
	uint16_t port = 0, from = 0, any = 0;
	struct pollfd p;
	int lfd, bfd, afd, sfd;
	uint64_t srv;

	lfd = listen_on(1, &port, 0);
	bfd = client_from(&from, port); /* handshake done; no socket yet */
	/* the accept queue (backlog 0: one) filled by another connection */
	afd = client_from(&any, port);
	assert_int_equal(send(afd, first, strlen(first), 0), (ssize_t)strlen(first));
	p = (struct pollfd){.fd = lfd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 2000), 1);
	/* its request reaches the listener, its socket cannot be made */
	assert_int_equal(send(bfd, stale, n, 0), (ssize_t)n);
	usleep(50 * 1000);
	assert_int_equal(setsockopt(bfd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst)), 0);
	close(bfd);
	close(afd);
	close(lfd);
	usleep(1100 * 1000); /* past HTTP_EARLY_AGE_NS */
	ring_buffer__consume(rb);
	n_got = 0;
	/* the same 4-tuple to a listener on the same port that accepts at once */
	lfd = listen_on(0, &port, 4);
	bfd = client_from(&from, port);
	sfd = accept(lfd, NULL, NULL);
	assert_true(sfd >= 0);
	srv = cookie_of(sfd);
	ring_buffer__consume(rb);
	for (int i = 0; i < n_got; i++)
		if ((got[i].kind == HTTP_EV_REQUEST || got[i].kind == HTTP_EV_H2) &&
		    got[i].cookie == srv)
			fail_msg("a connection got the record another left behind (kind %d)",
				 got[i].kind);
	if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.http_conns3), &srv, &c))
		fail_msg("a connection got the state another left behind (roles %#x)", c.roles);
	close(bfd);
	close(sfd);
	close(lfd);
}

static void test_deferred_left_behind(void **state)
{
	static const char stale[] = "GET /stale HTTP/1.1\r\nHost: a\r\n\r\n";

	(void)state;
	left_behind(stale, strlen(stale));
}

static void test_h2_deferred_left_behind(void **state)
{
	(void)state;
	left_behind(h2_req, sizeof(h2_req));
}

/* TCP Fast Open: the request rides in the SYN and reaches the listener;
 * the socket TCP makes for it comes in SYN_RECV, established when the
 * handshake completes. On loopback that is before the server reads, so
 * the request's record (waiting, struct http_early) comes before the
 * response's, both with the accepted socket's cookie. Over a path with
 * latency the server may answer first: not tested here (no netem). */
static void test_fast_open(void **state)
{
	static const char req[] = "GET /tfo HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1, qlen = 4, rq = -1, rs = -1;
	uint16_t port = 0;
	char buf[256];
	int lfd, cfd, sfd;
	uint64_t srv;

	(void)state;
	/* client and server, no cookie needed (this namespace's own sysctl) */
	assert_int_equal(write_file("/proc/sys/net/ipv4/tcp_fastopen", "519"), 0);
	lfd = listen_on(0, &port, 4);
	assert_int_equal(setsockopt(lfd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen)), 0);
	assert_int_equal(setsockopt(lfd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one, sizeof(one)),
			 0);
	a.sin_port = htons(port);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(cfd >= 0);
	ring_buffer__consume(rb);
	n_got = 0;
	assert_int_equal(sendto(cfd, req, strlen(req), MSG_FASTOPEN, (void *)&a, sizeof(a)),
			 (ssize_t)strlen(req));
	sfd = accept(lfd, NULL, NULL);
	assert_true(sfd >= 0);
	assert_true(read(sfd, buf, sizeof(buf)) > 0);
	assert_int_equal(write(sfd, resp, sizeof(resp) - 1), (ssize_t)sizeof(resp) - 1);
	assert_true(read(cfd, buf, sizeof(buf)) > 0);
	srv = cookie_of(sfd);
	ring_buffer__consume(rb);
	for (int i = 0; i < n_got; i++) {
		if (got[i].cookie != srv)
			continue;
		if (got[i].kind == HTTP_EV_REQUEST && got[i].dir == HTTP_DIR_INGRESS && rq < 0)
			rq = i;
		if (got[i].kind == HTTP_EV_RESPONSE && got[i].dir == HTTP_DIR_EGRESS && rs < 0)
			rs = i;
	}
	assert_true(rq >= 0);
	assert_true(rs > rq);
	assert_memory_equal(got[rq].head, "GET /tfo HTTP/1.1\r\n", 19);
	close(cfd);
	close(sfd);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accept_at_once),
	    cmocka_unit_test(test_deferred_accept),
	    cmocka_unit_test(test_deferred_accept_context),
	    cmocka_unit_test(test_h2_at_once),
	    cmocka_unit_test(test_h2_deferred),
	    cmocka_unit_test(test_deferred_dual_stack),
	    cmocka_unit_test(test_deferred_v6),
	    cmocka_unit_test(test_deferred_left_behind),
	    cmocka_unit_test(test_h2_deferred_left_behind),
	    cmocka_unit_test(test_fast_open),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
