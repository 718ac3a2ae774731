/* SPDX-License-Identifier: Apache-2.0 */
/* lbclient: the e2e tests' client. Makes N TCP connections (or UDP requests)
 * to ADDR PORT, reads the endpoint's name from each, and prints per-endpoint
 * counts, failures by errno, and how often getpeername()/recvfrom() did not
 * show ADDR:PORT back.
 *   lbclient [-u|-U] [-k] [-S] [-v] [-M] [-P] [-w MS] [-n N | -T SECONDS] ADDR PORT
 * -w gives each connect MS milliseconds (ETIMEDOUT after). -M dials an IPv4
 * ADDR from an AF_INET6 socket as ::ffff:ADDR (as gRPC C-core and Java do).
 * -P makes TCP sockets with IPPROTO_MPTCP. With -k, once stdin closes, every
 * held socket asks again (getpeername, or one more UDP request) and
 * held_mismatch counts those that did not show ADDR:PORT. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define MAX_NAMES 64

static char names[MAX_NAMES][64];
static long counts[MAX_NAMES];
static int n_names;
static long errs[256];
static long failed, mismatch;
static double max_fail_us;
/* Times are lbclient's own, never its start-up's: how long the failed
 * attempts took (median_fail_us, which one preemption on a busy machine
 * cannot move, and max_fail_us), elapsed_us from the first attempt to the end
 * of the last, and span_us from the first attempt's start to the last one's. */
static double *fail_us; /* every failed attempt's duration, for the median */
static size_t fail_cap;
static double t_start, t_first, t_last;

static void count(const char *name)
{
	int i;

	for (i = 0; i < n_names; i++)
		if (!strcmp(names[i], name))
			break;
	if (i == n_names) {
		if (n_names == MAX_NAMES)
			return;
		snprintf(names[n_names++], sizeof(names[0]), "%.63s", name);
	}
	counts[i]++;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void fail(int err, double t0)
{
	double dt = now_us() - t0;

	if ((size_t)failed == fail_cap) {
		size_t cap = fail_cap ? 2 * fail_cap : 256;
		double *p = realloc(fail_us, cap * sizeof(*p));

		if (p) {
			fail_us = p;
			fail_cap = cap;
		}
	}
	if ((size_t)failed < fail_cap)
		fail_us[failed] = dt;
	failed++;
	errs[err & 0xff]++;
	if (dt > max_fail_us)
		max_fail_us = dt;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median failed attempt (the lower middle one), 0 with none. */
static double median_fail_us(void)
{
	size_t n = (size_t)failed < fail_cap ? (size_t)failed : fail_cap;

	if (!n)
		return 0;
	qsort(fail_us, n, sizeof(*fail_us), cmp_double);
	return fail_us[(n - 1) / 2];
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_addr.s_addr == y->sin_addr.s_addr && x->sin_port == y->sin_port;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

	return !memcmp(&x->sin6_addr, &y->sin6_addr, 16) && x->sin6_port == y->sin6_port;
}

static int read_line(int fd, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r;

		if (poll(&p, 1, 3000) <= 0)
			return -ETIMEDOUT;
		r = read(fd, buf + n, len - n - 1);
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += r;
		if (memchr(buf, '\n', n))
			break;
	}
	buf[n] = 0;
	char *nl = strchr(buf, '\n');

	if (nl)
		*nl = 0;
	return n ? 0 : -ECONNRESET;
}

/* connect(); with ms > 0, give up after ms milliseconds (errno ETIMEDOUT). */
static int connect_with_timeout(int fd, const struct sockaddr *sa, socklen_t len, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t elen = sizeof(int);
	int flags, err = 0;

	if (ms <= 0)
		return connect(fd, sa, len);
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	if (connect(fd, sa, len) && errno != EINPROGRESS)
		return -1;
	if (poll(&p, 1, ms) <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	fcntl(fd, F_SETFL, flags);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

/* One more exchange on a held socket: does it still show dst back? */
static bool held_ok(int fd, int mode, const struct sockaddr_storage *dst, socklen_t dlen)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[128];

	if (mode != 1)
		return !getpeername(fd, (void *)&peer, &plen) && same_addr(&peer, dst);
	if (sendto(fd, "hi\n", 3, 0, (const void *)dst, dlen) < 0 || poll(&p, 1, 3000) <= 0)
		return false;
	return recvfrom(fd, buf, sizeof(buf), 0, (void *)&peer, &plen) > 0 && same_addr(&peer, dst);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage dst = {}, peer;
	socklen_t dlen, plen;
	int opt, n = 100, mode = 0 /* 0 tcp, 1 udp, 2 udp connected */, i;
	bool hold = false, bind_src = false, verbose = false, mapped = false, mptcp = false;
	double seconds = 0, t_end = 0;
	int connect_ms = 0;
	int *held = NULL;
	long total = 0;

	while ((opt = getopt(argc, argv, "n:uUkSvMPT:w:")) != -1) {
		switch (opt) {
		case 'n': n = atoi(optarg); break;
		case 'u': mode = 1; break;
		case 'U': mode = 2; break;
		case 'k': hold = true; break;
		case 'S': bind_src = true; break;
		case 'v': verbose = true; break;
		case 'M': mapped = true; break;
		case 'P': mptcp = true; break;
		case 'T': seconds = atof(optarg); break;
		case 'w': connect_ms = atoi(optarg); break;
		default: return 2;
		}
	}
	if (optind + 2 != argc) {
		fprintf(stderr, "usage: lbclient [-u|-U] [-k] [-S] [-v] [-M] [-P] [-n N|-T S] ADDR PORT\n");
		return 2;
	}
	struct sockaddr_in *d4 = (void *)&dst;
	struct sockaddr_in6 *d6 = (void *)&dst;

	if (mapped && inet_pton(AF_INET, argv[optind], &d6->sin6_addr.s6_addr[12]) == 1) {
		d6->sin6_addr.s6_addr[10] = 0xff;
		d6->sin6_addr.s6_addr[11] = 0xff;
		d6->sin6_family = AF_INET6;
		d6->sin6_port = htons(atoi(argv[optind + 1]));
		dlen = sizeof(*d6);
	} else if (inet_pton(AF_INET, argv[optind], &d4->sin_addr) == 1) {
		d4->sin_family = AF_INET;
		d4->sin_port = htons(atoi(argv[optind + 1]));
		dlen = sizeof(*d4);
	} else if (inet_pton(AF_INET6, argv[optind], &d6->sin6_addr) == 1) {
		d6->sin6_family = AF_INET6;
		d6->sin6_port = htons(atoi(argv[optind + 1]));
		dlen = sizeof(*d6);
	} else {
		fprintf(stderr, "lbclient: bad address %s\n", argv[optind]);
		return 2;
	}
	if (hold)
		held = calloc(n, sizeof(*held));
	t_start = now_us();
	if (seconds > 0)
		t_end = t_start + seconds * 1e6;

	for (i = 0; seconds > 0 ? now_us() < t_end : i < n; i++) {
		char buf[128], src[64] = "-";
		int fd = socket(dst.ss_family, mode ? SOCK_DGRAM : SOCK_STREAM,
				mode || !mptcp ? 0 : IPPROTO_MPTCP);
		double t0 = now_us();

		total++;
		if (total == 1)
			t_first = t0;
		t_last = t0;
		if (fd < 0) {
			fail(errno, t0);
			continue;
		}
		if (bind_src && dst.ss_family == AF_INET) {
			struct sockaddr_in s = { .sin_family = AF_INET };

			/* 127.0.1.1 .. 127.0.x.y: one source address per connection */
			s.sin_addr.s_addr = htonl(0x7f000101 + (i / 250) * 256 + i % 250);
			inet_ntop(AF_INET, &s.sin_addr, src, sizeof(src));
			if (bind(fd, (void *)&s, sizeof(s))) {
				fail(errno, t0);
				close(fd);
				continue;
			}
		}
		if (mode == 1) {
			if (sendto(fd, "hi\n", 3, 0, (void *)&dst, dlen) < 0) {
				fail(errno, t0);
				close(fd);
				continue;
			}
			struct pollfd p = { .fd = fd, .events = POLLIN };
			ssize_t r;

			plen = sizeof(peer);
			if (poll(&p, 1, 3000) <= 0) {
				fail(ETIMEDOUT, t0);
				close(fd);
				continue;
			}
			r = recvfrom(fd, buf, sizeof(buf) - 1, 0, (void *)&peer, &plen);
			if (r <= 0) {
				fail(r < 0 ? errno : ECONNRESET, t0);
				close(fd);
				continue;
			}
			buf[r] = 0;
			if (strchr(buf, '\n'))
				*strchr(buf, '\n') = 0;
			if (!same_addr(&peer, &dst))
				mismatch++;
		} else {
			if (connect_with_timeout(fd, (void *)&dst, dlen, connect_ms)) {
				fail(errno, t0);
				close(fd);
				continue;
			}
			plen = sizeof(peer);
			if (getpeername(fd, (void *)&peer, &plen) || !same_addr(&peer, &dst))
				mismatch++;
			if (mode == 2 && write(fd, "hi\n", 3) < 0) {
				fail(errno, t0);
				close(fd);
				continue;
			}
			int r = read_line(fd, buf, sizeof(buf));

			if (r) {
				fail(-r, t0);
				close(fd);
				continue;
			}
		}
		count(buf);
		if (verbose)
			printf("conn %d %s %s\n", i, src, buf);
		if (hold && i < n)
			held[i] = fd;
		else
			close(fd);
	}
	double elapsed = now_us() - t_start;

	for (i = 0; i < n_names; i++)
		printf("endpoint %s %ld\n", names[i], counts[i]);
	printf("total %ld\n", total);
	printf("failed %ld\n", failed);
	for (i = 0; i < 256; i++)
		if (errs[i])
			printf("error %s %ld\n", strerrorname_np(i) ? strerrorname_np(i) : "?", errs[i]);
	printf("max_fail_us %.0f\n", max_fail_us);
	printf("median_fail_us %.0f\n", median_fail_us());
	printf("elapsed_us %.0f\n", elapsed);
	printf("span_us %.0f\n", t_last - t_first);
	printf("peer_mismatch %ld\n", mismatch);
	fflush(stdout);
	if (hold) {
		/* hold the connections until stdin closes, then ask again */
		long held_mismatch = 0;
		char c;

		while (read(0, &c, 1) > 0)
			;
		for (i = 0; i < n; i++)
			if (held[i] > 0 && !held_ok(held[i], mode, &dst, dlen))
				held_mismatch++;
		printf("held_mismatch %ld\n", held_mismatch);
		fflush(stdout);
	}
	return 0;
}
