/* SPDX-License-Identifier: Apache-2.0 */
/* fake_collector.h: an OTLP/HTTP collector played by a thread on 127.0.0.1
 * for the exporter tests (test_otlp.c, test_otlp_metrics.c). It records the
 * head, body and arrival time of the first FAKE_MAX requests and answers each
 * as its script says (status, Retry-After, body, a delay, or no answer at
 * all); later requests get 200. Also the helpers those tests share: a
 * monotonic clock, WAIT_UNTIL, gunzip, exporter settings for a port and the
 * group setup.
 *
 * Static functions in a header: the Makefile builds every tests/unit/test_*.c
 * as a binary of its own, so each includer gets its own copy. Include it after
 * <cmocka.h>. */
#ifndef BPFMESH_TESTS_FAKE_COLLECTOR_H
#define BPFMESH_TESTS_FAKE_COLLECTOR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <protobuf-c/protobuf-c.h>
#include <zlib.h>

#include "exporters/exp_log.h"
#include "exporters/otlp_encode.h"
#include "exporters/otlp_settings.h"

#define MS 1000000ULL
#define FAKE_MAX 8

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The median of n durations (sorts them): one preemption of the caller on a
 * busy machine, or under a sanitizer, moves the slowest call, not this. */
static inline uint64_t median_ns(uint64_t *d, size_t n)
{
	qsort(d, n, sizeof(*d), cmp_u64);
	return d[(n - 1) / 2];
}

/* Polls until the predicate holds or ms pass. */
#define WAIT_UNTIL(cond, ms)                                                                       \
	do {                                                                                       \
		uint64_t until_ = mono_ns() + (uint64_t)(ms)*MS;                                   \
		while (!(cond) && mono_ns() < until_)                                              \
			usleep(5000);                                                              \
	} while (0)

struct reply {
	int status;   /* 0: 200 */
	int delay_ms; /* wait this long before answering */
	bool hang;    /* read the request, then never answer */
	const char *retry_after;
	struct otlp_buf body;
};

struct fake {
	int lfd;
	uint16_t port;
	pthread_t thr;
	atomic_bool stop;
	pthread_mutex_t mu;
	struct reply script[FAKE_MAX]; /* answer i to request i; afterwards 200 */
	int n_req;
	char head[FAKE_MAX][4096];
	struct otlp_buf body[FAKE_MAX];
	uint64_t at_ns[FAKE_MAX];
};

/* One read, waiting while the fake runs; false on close or stop. */
static inline bool fake_read_more(struct fake *f, int fd, char *buf, size_t cap, size_t *len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t r;

	while (!atomic_load(&f->stop)) {
		if (poll(&p, 1, 50) <= 0)
			continue;
		r = read(fd, buf + *len, cap - *len);
		if (r <= 0)
			return false;
		*len += (size_t)r;
		return true;
	}
	return false;
}

static inline void fake_sleep_unless_stopped(struct fake *f, int ms)
{
	for (int i = 0; i < ms / 10 && !atomic_load(&f->stop); i++)
		usleep(10000);
}

/* Answers the requests of one keep-alive connection until it closes. */
static inline void fake_serve_conn(struct fake *f, int fd, char *buf, size_t cap)
{
	size_t len = 0, head_len, body_len;
	char *end, *cl, out[512];
	struct reply rep;
	int i;

	for (;;) {
		while (!(end = memmem(buf, len, "\r\n\r\n", 4)))
			if (len == cap || !fake_read_more(f, fd, buf, cap, &len))
				return;
		head_len = (size_t)(end - buf) + 4;
		buf[head_len - 1] = 0; /* the head as a string; its last '\n' is not needed */
		cl = strcasestr(buf, "\r\nContent-Length:");
		body_len = cl ? strtoul(cl + 17, NULL, 10) : 0;
		while (len < head_len + body_len)
			if (len == cap || !fake_read_more(f, fd, buf, cap, &len))
				return;
		pthread_mutex_lock(&f->mu);
		i = f->n_req;
		if (i < FAKE_MAX) {
			snprintf(f->head[i], sizeof(f->head[i]), "%s", buf);
			f->body[i].data = malloc(body_len + 1);
			memcpy(f->body[i].data, buf + head_len, body_len);
			f->body[i].len = body_len;
			f->at_ns[i] = mono_ns();
			f->n_req++;
		}
		rep = i < FAKE_MAX ? f->script[i] : (struct reply){0};
		pthread_mutex_unlock(&f->mu);
		memmove(buf, buf + head_len + body_len, len - head_len - body_len);
		len -= head_len + body_len;

		if (rep.hang) {
			while (!atomic_load(&f->stop))
				usleep(10000);
			return;
		}
		fake_sleep_unless_stopped(f, rep.delay_ms);
		snprintf(out, sizeof(out),
			 "HTTP/1.1 %d X\r\nContent-Type: application/x-protobuf\r\n"
			 "Content-Length: %zu\r\n%s%s%s\r\n",
			 rep.status ? rep.status : 200, rep.body.len,
			 rep.retry_after ? "Retry-After: " : "",
			 rep.retry_after ? rep.retry_after : "", rep.retry_after ? "\r\n" : "");
		if (write(fd, out, strlen(out)) < 0 ||
		    (rep.body.len && write(fd, rep.body.data, rep.body.len) < 0))
			return;
	}
}

static inline void *fake_run(void *arg)
{
	struct fake *f = arg;
	struct pollfd p = {.fd = f->lfd, .events = POLLIN};
	/* the trace tests send batches of several MiB */
	const size_t cap = 1 << 22;
	char *buf = malloc(cap);
	int fd;

	while (!atomic_load(&f->stop)) {
		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		fake_serve_conn(f, fd, buf, cap);
		close(fd);
	}
	free(buf);
	return NULL;
}

/* Listens on an ephemeral port; fake_go() starts answering, so a test can
 * write the script first. */
static inline struct fake *fake_start(void)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);

	assert_non_null(f);
	pthread_mutex_init(&f->mu, NULL);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &al), 0);
	f->port = ntohs(a.sin_port);
	return f;
}

static inline void fake_go(struct fake *f)
{
	assert_int_equal(pthread_create(&f->thr, NULL, fake_run, f), 0);
}

static inline int fake_requests(struct fake *f)
{
	int n;

	pthread_mutex_lock(&f->mu);
	n = f->n_req;
	pthread_mutex_unlock(&f->mu);
	return n;
}

static inline void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->thr, NULL);
	close(f->lfd);
	for (int i = 0; i < FAKE_MAX; i++) {
		otlp_buf_free(&f->body[i]);
		otlp_buf_free(&f->script[i].body);
	}
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/* Exporter settings for the fake's port (heap: the struct is large). */
static inline struct otlp_settings *settings(uint16_t port, bool gzip)
{
	struct otlp_settings *t = calloc(1, sizeof(*t));

	snprintf(t->endpoint, sizeof(t->endpoint), "http://127.0.0.1:%u/", port);
	t->gzip = gzip;
	t->timeout_ms = 2000;
	return t;
}

static inline int gunzip(const uint8_t *in, size_t len, struct otlp_buf *out)
{
	z_stream z = {0};
	size_t cap = len * 8 + 1024;
	int rc;

	out->data = malloc(cap);
	out->len = 0;
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -1;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	do {
		if (out->len == cap) {
			cap *= 2;
			out->data = realloc(out->data, cap);
		}
		z.next_out = out->data + out->len;
		z.avail_out = (uInt)(cap - out->len);
		rc = inflate(&z, Z_NO_FLUSH);
		out->len = cap - z.avail_out;
	} while (rc == Z_OK);
	inflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -1;
}

/* Script answer i: status with a google.rpc.Status body carrying message
 * (shorter than 128 bytes). */
static inline void fake_answer_status(struct fake *f, int i, int status, const char *message)
{
	size_t len = strlen(message);
	struct otlp_buf *b = &f->script[i].body;

	f->script[i].status = status;
	b->len = len + 2;
	b->data = malloc(b->len);
	assert_non_null(b->data);
	b->data[0] = 0x12; /* field 2 (message), length-delimited */
	b->data[1] = (uint8_t)len;
	memcpy(b->data + 2, message, len);
}

/* A collector's answer (or any message) as bytes, for the script. */
static inline struct otlp_buf pack_msg(const ProtobufCMessage *m)
{
	struct otlp_buf b;

	b.len = protobuf_c_message_get_packed_size(m);
	b.data = malloc(b.len + 1);
	assert_non_null(b.data);
	protobuf_c_message_pack(m, b.data);
	return b;
}

/* A gzip request body inflated. */
static inline struct otlp_buf gunzip_body(const struct otlp_buf *body)
{
	struct otlp_buf raw;

	assert_int_equal(gunzip(body->data, body->len, &raw), 0);
	return raw;
}

/* Requests 0 and 1 were the same export, tried twice, to path with gzip and
 * the retry tests' settings: X-Tenant: team-a, scope version 9.9. */
static inline void assert_retried_export(const struct fake *f, const char *path)
{
	char line[64];

	snprintf(line, sizeof(line), "POST %s HTTP/1.1\r\n", path);
	for (int i = 0; i < 2; i++) {
		assert_non_null(strstr(f->head[i], line));
		assert_non_null(strcasestr(f->head[i], "\r\nContent-Type: application/x-protobuf"));
		assert_non_null(strcasestr(f->head[i], "\r\nContent-Encoding: gzip"));
		assert_non_null(strcasestr(f->head[i], "\r\nX-Tenant: team-a"));
		assert_non_null(strcasestr(f->head[i], "\r\nUser-Agent: bpfmesh/9.9"));
	}
	assert_int_equal(f->body[0].len, f->body[1].len);
	assert_memory_equal(f->body[0].data, f->body[1].data, f->body[0].len);
}

/* The group setup: the tests talk to 127.0.0.1 only, with no proxy in between. */
/* The exporters' warnings and errors, without their info lines. */
static inline void warnings_to_stderr(enum exp_log_level level, const char *msg)
{
	if (level <= EXP_LOG_WARN)
		fprintf(stderr, "%s\n", msg);
}

static inline int fake_collector_setup(void **state)
{
	(void)state;
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	exp_log_set(warnings_to_stderr);
	return 0;
}

#endif
