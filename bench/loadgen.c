// SPDX-License-Identifier: Apache-2.0
/* loadgen.c: HTTP/1.1 GET at a fixed request rate (open loop), for
 * bench/capture.sh. wrk runs closed loop (as fast as the server answers), so
 * it cannot hold a rate; this one sends request k at start + k/rate on any
 * idle connection, one request in flight per connection, and measures the
 * latency from send to the response's last byte. With --rate 0 it is closed
 * loop, as fast as the connections allow.
 *
 *   loadgen --addr 127.0.0.1:PORT [--path /] [--conns 64] [--rate 50000]
 *           [--duration 5] [--close]
 *
 * Prints one line: rate=achieved req/s sent= done= errors= p50_us= p99_us=
 * max_us= late= (requests that could not be sent within 1 ms of their time
 * because every connection was busy).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HIST_US 100000 /* 1 us buckets up to 100 ms; beyond that, the last one */
#define BUF 8192

struct conn {
	int fd;
	int busy;	/* a request in flight */
	int connecting; /* close mode: connect() not finished */
	uint64_t due;	/* when the request in flight was sent (ns) */
	size_t have;	/* response bytes in buf */
	char buf[BUF];
};

static struct sockaddr_in addr;
static char req[512];
static size_t req_len;
static int close_mode;
static int epfd;
static uint64_t hist[HIST_US + 1];
static uint64_t n_done, n_err, n_sent, n_late, max_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct conn *conns;
static struct conn **idle; /* connections (close mode: slots) free to send on */
static int n_idle, nconns = 64;

static void idle_push(struct conn *c) { idle[n_idle++] = c; }

static int conn_open(struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->connecting = 1;
	c->have = 0;
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) && errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		c->connecting = 0;
		return -1;
	}
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev))
		die("epoll_ctl");
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->busy = 0;
	c->connecting = 0;
	c->have = 0;
}

/* An error: keep-alive opens the connection again (it is idle once
 * connected), close mode frees the slot. */
static void conn_lost(struct conn *c)
{
	conn_close(c);
	if (close_mode)
		idle_push(c);
	else if (conn_open(c))
		die("reconnect");
}

static void record(uint64_t lat)
{
	uint64_t us = lat / 1000;

	hist[us > HIST_US ? HIST_US : us]++;
	if (lat > max_ns)
		max_ns = lat;
	n_done++;
}

static int send_req(struct conn *c)
{
	ssize_t n = send(c->fd, req, req_len, MSG_NOSIGNAL);

	return n == (ssize_t)req_len ? 0 : -1; /* a 100-byte request fits an empty socket */
}

/* Has buf one complete response? Returns its length, 0 if not yet, -1 if bad. */
static long response_len(const char *b, size_t n)
{
	const char *end = memmem(b, n, "\r\n\r\n", 4), *p;
	long cl = 0;

	if (!end)
		return n >= BUF ? -1 : 0;
	if (n < 12 || memcmp(b, "HTTP/1.", 7) || b[9] != '2')
		return -1;
	for (p = b; p && p < end; p = memchr(p, '\n', end - p)) {
		p++;
		if (!strncasecmp(p, "content-length:", 15)) {
			cl = strtol(p + 15, NULL, 10);
			break;
		}
	}
	if ((size_t)(end + 4 - b) + cl > n)
		return 0;
	return end + 4 - b + cl;
}

static void on_event(struct conn *c, uint32_t events)
{
	ssize_t n;
	long len;

	if (c->fd < 0)
		return;
	if (c->connecting) {
		int err = 0;
		socklen_t sl = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		c->connecting = 0;
		if (err || epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) || (c->busy && send_req(c))) {
			if (c->busy)
				n_err++;
			conn_lost(c);
			return;
		}
		if (!c->busy)
			idle_push(c);
		return;
	}
	/* level-triggered: one read per event, the next event brings the rest */
	n = recv(c->fd, c->buf + c->have, BUF - c->have, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->busy)
			n_err++;
		conn_lost(c);
		return;
	}
	c->have += n;
	len = c->busy ? response_len(c->buf, c->have) : -1;
	if (len < 0) {
		n_err++;
		conn_lost(c);
		return;
	}
	if (len == 0)
		return;
	record(now_ns() - c->due);
	c->busy = 0;
	c->have = 0; /* one request in flight: nothing can follow its response */
	if (close_mode)
		conn_close(c);
	idle_push(c);
}

static double pct(double p)
{
	uint64_t want = (uint64_t)(p * n_done), acc = 0;

	if (!n_done)
		return 0;
	for (int i = 0; i <= HIST_US; i++) {
		acc += hist[i];
		if (acc > want || (acc == n_done && acc >= want))
			return i + 0.5;
	}
	return HIST_US;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen --addr IP:PORT [--path /] [--conns N] [--rate R|0] "
			"[--duration S] [--close]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"addr", required_argument, 0, 'a'},
	    {"path", required_argument, 0, 'p'},
	    {"conns", required_argument, 0, 'c'},
	    {"rate", required_argument, 0, 'r'},
	    {"duration", required_argument, 0, 'd'},
	    {"close", no_argument, 0, 'k'},
	    {0, 0, 0, 0},
	};
	const char *path = "/", *host = NULL;
	int o;
	double rate = 50000, duration = 5;
	struct epoll_event evs[256];
	uint64_t start, end, issued = 0;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			host = optarg;
			break;
		case 'p':
			path = optarg;
			break;
		case 'c':
			nconns = atoi(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'd':
			duration = atof(optarg);
			break;
		case 'k':
			close_mode = 1;
			break;
		default:
			usage();
		}
	}
	if (!host || nconns < 1 || rate < 0 || duration <= 0)
		usage();
	{
		char ip[64];
		const char *colon = strrchr(host, ':');

		if (!colon || colon - host >= (long)sizeof(ip))
			usage();
		memcpy(ip, host, colon - host);
		ip[colon - host] = 0;
		addr.sin_family = AF_INET;
		addr.sin_port = htons(atoi(colon + 1));
		if (inet_pton(AF_INET, ip, &addr.sin_addr) != 1)
			usage();
		/* traffic to loopback only: this is a benchmark on a shared machine */
		if ((ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
			fprintf(stderr, "loadgen: %s is not in 127.0.0.0/8\n", ip);
			return 2;
		}
		req_len =
		    snprintf(req, sizeof(req),
			     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bpfmesh-loadgen\r\n%s\r\n",
			     path, host, close_mode ? "Connection: close\r\n" : "");
	}
	signal(SIGPIPE, SIG_IGN);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1");
	conns = calloc(nconns, sizeof(*conns));
	idle = calloc(nconns, sizeof(*idle));
	if (!conns || !idle)
		die("calloc");
	for (int i = 0; i < nconns; i++) {
		conns[i].fd = -1;
		if (close_mode)
			idle_push(&conns[i]);
		else if (conn_open(&conns[i]))
			die("connect");
	}
	start = now_ns();
	end = start + (uint64_t)(duration * 1e9);
	for (;;) {
		uint64_t now = now_ns(), due_n;
		struct timespec to = {0, 1000000};
		int n;

		if (now >= end)
			break;
		/* requests due by now, each on an idle connection */
		due_n = rate > 0 ? (uint64_t)((now - start) * rate / 1e9) + 1 : UINT64_MAX;
		while (issued < due_n && n_idle) {
			struct conn *c = idle[--n_idle];

			if (rate > 0 && now - (start + (uint64_t)(issued / rate * 1e9)) > 1000000)
				n_late++;
			c->due = now_ns();
			c->busy = 1;
			issued++;
			n_sent++;
			if (close_mode) {
				if (conn_open(c)) {
					n_err++;
					c->busy = 0;
					idle_push(c);
					break;
				}
			} else if (send_req(c)) {
				n_err++;
				conn_lost(c);
			}
		}
		if (rate > 0 && issued < due_n) {
			/* every connection busy: wait for an answer */
		} else if (rate > 0) {
			/* sleep until the next request is due, at least 100 us: sleeping
			 * before every single request would cost more than the requests */
			uint64_t next = start + (uint64_t)(issued / rate * 1e9), now2 = now_ns();
			uint64_t d = next > now2 ? next - now2 : 0;

			to.tv_nsec = d < 100000 ? 100000 : d > 1000000 ? 1000000 : d;
		}
		n = epoll_pwait2(epfd, evs, 256, &to, NULL);
		if (n < 0 && errno != EINTR)
			die("epoll_pwait2");
		for (int i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events);
	}
	end = now_ns();
	printf("rate=%.0f sent=%llu done=%llu errors=%llu p50_us=%.0f p99_us=%.0f max_us=%.0f "
	       "late=%llu\n",
	       n_done / ((end - start) / 1e9), (unsigned long long)n_sent,
	       (unsigned long long)n_done, (unsigned long long)n_err, pct(0.50), pct(0.99),
	       max_ns / 1e3, (unsigned long long)n_late);
	return 0;
}
