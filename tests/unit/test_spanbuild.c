/* SPDX-License-Identifier: Apache-2.0 */
/* test_spanbuild.c: spans from synthetic observation sequences: keep-alive,
 * pipelining, same-node pairs in both arrival orders, the gateway -> user ->
 * order chain, traceparent (incoming, and sent by the application), span
 * names and routes, resets, status mapping, sampling per trace and the
 * memory bounds. The observations are made as the pipeline makes them:
 * their heads read by the HTTP/1 parser module (proto.h), their service
 * named before they reach the builder. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "trace/proto.h"
#include "trace/spanbuild.h"

#define MS(x) ((uint64_t)(x)*1000000ULL)
#define T0 MS(1000000) /* monotonic clock of the tests' "now" */
#define MAX_SPANS 1024

struct fx {
	struct spanbuild *sb;
	struct span *spans;
	int n;
	struct sb_config cfg;
};

static void capture(const struct span *sp, const struct span_packed *pk, void *ctx)
{
	struct fx *f = ctx;

	(void)pk;
	assert_true(f->n < MAX_SPANS);
	f->spans[f->n++] = *sp;
}

/* Workloads of the tests, by process: 100 gateway, 200 user-service,
 * 300 order-service, 666 not traced; others unknown (named after comm), as
 * the pipeline's identity names them. renamed: user-service (200) is
 * "users" in namespace "shop2" (a changed configuration). */
static bool renamed;

static void name_service(struct obs *o)
{
	const char *name = NULL;

	switch (o->tgid) {
	case 100:
		name = "gateway";
		break;
	case 200:
		name = renamed ? "users" : "user-service";
		break;
	case 300:
		name = "order-service";
		break;
	case 666:
		o->not_traced = true;
		return;
	}
	if (name) {
		snprintf(o->service, sizeof(o->service), "%s", name);
		snprintf(o->service_ns, sizeof(o->service_ns), "%s", renamed ? "shop2" : "shop");
		return;
	}
	snprintf(o->service, sizeof(o->service), "%s", o->comm[0] ? o->comm : "unknown_service");
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->spans = calloc(MAX_SPANS, sizeof(*f->spans));
	renamed = false;
	f->cfg.emit = capture;
	f->cfg.emit_ctx = f;
	f->cfg.host_name = "node-1";
	f->cfg.clock_offset_ns = 1700000000000000000LL - (int64_t)T0;
	f->cfg.sampling_ratio = 1.0;
	f->cfg.sample_errors = true;
	f->cfg.seed = 42;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sb_free(f->sb);
	free(f->spans);
	free(f);
	return 0;
}

/* Builds the builder from f->cfg, after a test changed what it needs. */
static struct spanbuild *start(struct fx *f)
{
	f->sb = sb_new(&f->cfg);
	assert_non_null(f->sb);
	return f->sb;
}

/* One socket as the kernel reports it. */
struct side {
	uint64_t cookie;
	uint8_t role;
	struct obs_addr local, remote;
	uint32_t tgid, tid;
	const char *comm;
};

static struct obs_addr v4(const char *ip, uint16_t port)
{
	struct obs_addr a = {.family = AF_INET, .port = port};

	assert_int_equal(inet_pton(AF_INET, ip, a.addr), 1);
	return a;
}

/* The two sockets of a connection from client ip:cport to server ip:sport. */
static void conn(struct side *c, struct side *s, uint64_t cookie, uint16_t cport, uint16_t sport,
		 uint32_t ctgid, uint32_t stgid)
{
	*c = (struct side){
	    cookie,    OBS_ROLE_CLIENT, v4("127.0.0.1", cport), v4("127.0.0.1", sport), ctgid,
	    ctgid + 1, "client"};
	*s = (struct side){
	    cookie + 1, OBS_ROLE_SERVER, v4("127.0.0.1", sport), v4("127.0.0.1", cport), stgid,
	    stgid + 1,	"server"};
}

/* An observation of sd as events.c makes it, head parsed. */
static void make_obs(struct obs *o, const struct side *sd, uint8_t kind, uint64_t ts,
		     const char *head, int err)
{
	const struct proto_parser *http1 = proto_by_id(OBS_PROTO_HTTP1);

	assert_non_null(http1);
	memset(o, 0, sizeof(*o));
	o->cookie = sd->cookie;
	o->kind = kind;
	o->role = sd->role;
	o->ts_ns = ts;
	o->tgid = sd->tgid;
	o->tid = sd->tid;
	snprintf(o->comm, sizeof(o->comm), "%s", sd->comm ? sd->comm : "");
	o->local = sd->local;
	o->remote = sd->remote;
	o->error = err;
	if (head)
		http1->parse(kind, head, strlen(head), o);
	if (kind == OBS_REQUEST)
		name_service(o);
}

static void feed(struct fx *f, const struct side *sd, uint8_t kind, uint64_t ts, const char *head,
		 int err)
{
	struct obs o;

	make_obs(&o, sd, kind, ts, head, err);
	sb_feed(f->sb, &o);
}

static void request(struct fx *f, const struct side *sd, uint64_t ts, const char *method,
		    const char *path)
{
	char head[512];

	/* no Host: server.* names the socket's serving end (a Host header
	 * wins: test_spanbuild_semconv.c) */
	snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\n\r\n", method, path);
	feed(f, sd, OBS_REQUEST, ts, head, 0);
}

static void response(struct fx *f, const struct side *sd, uint64_t ts, int status)
{
	char head[512];

	snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: 10\r\n\r\n", status);
	feed(f, sd, OBS_RESPONSE, ts, head, 0);
}

static void response_end(struct fx *f, const struct side *sd, uint64_t ts)
{
	feed(f, sd, OBS_RESPONSE_END, ts, NULL, 0);
}

/* A whole exchange on one side: request, response, end. */
static void exchange(struct fx *f, const struct side *sd, uint64_t t_req, uint64_t t_resp,
		     uint64_t t_end, const char *path, int status)
{
	request(f, sd, t_req, "GET", path);
	response(f, sd, t_resp, status);
	response_end(f, sd, t_end);
}

/* Everything held is due long after the last observation. */
static void settle(struct fx *f, uint64_t last) { sb_tick(f->sb, last + MS(60000)); }

static const struct span *by_path(struct fx *f, uint8_t kind, const char *path)
{
	const struct span *found = NULL;

	for (int i = 0; i < f->n; i++) {
		if (f->spans[i].kind != kind || strcmp(f->spans[i].path, path))
			continue;
		if (found)
			fail_msg("two spans of kind %d for %s", kind, path);
		found = &f->spans[i];
	}
	if (!found)
		fail_msg("no span of kind %d for %s", kind, path);
	return found;
}

static bool is_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void assert_child(const struct span *child, const struct span *parent)
{
	assert_memory_equal(child->trace_id, parent->trace_id, 16);
	assert_memory_equal(child->parent_span_id, parent->span_id, 8);
}

static struct sb_stats stats(struct fx *f)
{
	struct sb_stats st;

	sb_get_stats(f->sb, &st);
	return st;
}
#define STAT(f, field) ((uint64_t)stats(f).field)

static void test_keepalive_three_requests(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 50, 200);
	exchange(f, &s, T0, T0 + MS(5), T0 + MS(6), "/api/v1/users/1", 200);
	exchange(f, &s, T0 + MS(10), T0 + MS(12), T0 + MS(13), "/api/v1/users/2", 404);
	exchange(f, &s, T0 + MS(20), T0 + MS(29), T0 + MS(30), "/api/v1/users/3", 503);
	/* still held: the client side could show up */
	sb_tick(f->sb, T0 + MS(31));
	assert_int_equal(f->n, 0);
	settle(f, T0 + MS(30));
	assert_int_equal(f->n, 3);

	const struct span *a = by_path(f, SPAN_KIND_SERVER, "/api/v1/users/1");
	const struct span *b = by_path(f, SPAN_KIND_SERVER, "/api/v1/users/2");
	const struct span *d = by_path(f, SPAN_KIND_SERVER, "/api/v1/users/3");

	assert_string_equal(a->name, "GET /api/v1/users/*");
	assert_string_equal(a->route, "/api/v1/users/*");
	assert_string_equal(a->method, "GET");
	assert_int_equal(a->status_code, 200);
	assert_int_equal(a->status, SPAN_STATUS_UNSET);
	assert_int_equal(b->status_code, 404);
	assert_int_equal(b->status, SPAN_STATUS_UNSET); /* a server's 4xx is no error */
	assert_int_equal(d->status_code, 503);
	assert_int_equal(d->status, SPAN_STATUS_ERROR);
	assert_string_equal(d->status_message, "");
	/* times: request first byte to response last byte, in unix time */
	assert_int_equal(a->start_unix_ns, 1700000000000000000ULL);
	assert_int_equal(a->end_unix_ns - a->start_unix_ns, MS(6));
	assert_int_equal(d->end_unix_ns - d->start_unix_ns, MS(10));
	/* attributes and resource */
	assert_string_equal(a->server.address, "127.0.0.1");
	assert_int_equal(a->server.port, 8080);
	assert_string_equal(a->client.address, "127.0.0.1");
	assert_int_equal(a->client.port, 40000);
	assert_int_equal(a->peer.port, 40000);
	assert_string_equal(a->service_name, "user-service");
	assert_string_equal(a->service_namespace, "shop");
	assert_string_equal(a->host_name, "node-1");
	assert_int_equal(a->sampled, 1);
	/* independent requests: three traces, three roots */
	assert_memory_not_equal(a->trace_id, b->trace_id, 16);
	assert_true(is_zero(a->parent_span_id, 8));
	assert_false(is_zero(a->span_id, 8));
	assert_int_equal(STAT(f, pending), 0);
}

static void test_pipelining(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 50, 200);
	request(f, &c, T0, "GET", "/first");
	request(f, &c, T0 + MS(1), "POST", "/second");
	request(f, &c, T0 + MS(2), "GET", "/third");
	response(f, &c, T0 + MS(10), 200);
	response_end(f, &c, T0 + MS(11));
	response(f, &c, T0 + MS(12), 201);
	response_end(f, &c, T0 + MS(13));
	response(f, &c, T0 + MS(14), 404);
	response_end(f, &c, T0 + MS(15));
	settle(f, T0 + MS(15));
	assert_int_equal(f->n, 3);
	assert_int_equal(by_path(f, SPAN_KIND_CLIENT, "/first")->status_code, 200);
	assert_int_equal(by_path(f, SPAN_KIND_CLIENT, "/second")->status_code, 201);
	assert_string_equal(by_path(f, SPAN_KIND_CLIENT, "/second")->method, "POST");
	const struct span *third = by_path(f, SPAN_KIND_CLIENT, "/third");

	assert_int_equal(third->status_code, 404);
	assert_int_equal(third->status, SPAN_STATUS_ERROR); /* a client's 4xx is */
	assert_int_equal(third->end_unix_ns - third->start_unix_ns, MS(13));
	assert_string_equal(third->server.address, "127.0.0.1");
	assert_int_equal(third->server.port, 8080);
	assert_string_equal(third->client.address, "");
	/* unknown to the identity: named after the process */
	assert_string_equal(third->service_name, "client");
	assert_string_equal(third->service_namespace, "");
}

/* Response heads and ends that arrive back to back (several responses
 * started before the first one's end is reported). */
static void test_pipelined_ends_after_heads(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 50, 200);
	request(f, &s, T0, "GET", "/a");
	request(f, &s, T0 + MS(1), "GET", "/b");
	response(f, &s, T0 + MS(10), 200);
	response_end(f, &s, T0 + MS(11));
	response(f, &s, T0 + MS(20), 200);
	response_end(f, &s, T0 + MS(25));
	/* a stray end with nothing left to end */
	response_end(f, &s, T0 + MS(26));
	settle(f, T0 + MS(26));
	assert_int_equal(by_path(f, SPAN_KIND_SERVER, "/a")->end_unix_ns -
			     by_path(f, SPAN_KIND_SERVER, "/a")->start_unix_ns,
			 MS(11));
	assert_int_equal(by_path(f, SPAN_KIND_SERVER, "/b")->end_unix_ns -
			     by_path(f, SPAN_KIND_SERVER, "/b")->start_unix_ns,
			 MS(24));
	assert_int_equal(STAT(f, unpaired_ends), 1);
}

/* Both sides of one call on this node; client_first picks the arrival order. */
static void same_node_pair(struct fx *f, bool client_first)
{
	struct side c, s;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 100, 200);
	if (client_first) {
		request(f, &c, T0, "GET", "/api/v1/users/7");
		request(f, &s, T0 + MS(1), "GET", "/api/v1/users/7");
	} else {
		request(f, &s, T0 + MS(1), "GET", "/api/v1/users/7");
		request(f, &c, T0, "GET", "/api/v1/users/7");
	}
	response(f, &s, T0 + MS(5), 200);
	response_end(f, &s, T0 + MS(6));
	response(f, &c, T0 + MS(7), 200);
	response_end(f, &c, T0 + MS(8));
	settle(f, T0 + MS(8));
	assert_int_equal(f->n, 2);

	const struct span *cs = by_path(f, SPAN_KIND_CLIENT, "/api/v1/users/7");
	const struct span *ss = by_path(f, SPAN_KIND_SERVER, "/api/v1/users/7");

	assert_child(ss, cs);
	assert_true(is_zero(cs->parent_span_id, 8));
	assert_string_equal(cs->service_name, "gateway");
	assert_string_equal(ss->service_name, "user-service");
	assert_int_equal(STAT(f, pairs), 1);
}

static void test_pair_client_first(void **state) { same_node_pair(*state, true); }

static void test_pair_server_first(void **state) { same_node_pair(*state, false); }

/* Keep-alive between two local services: the k-th request of one side is
 * the k-th of the other, even when the server side runs ahead. */
static void test_pair_keepalive_order(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 100, 200);
	for (int i = 0; i < 3; i++) {
		uint64_t t = T0 + MS(10 * i);

		exchange(f, &s, t + MS(1), t + MS(2), t + MS(3), "/same", 200 + i);
	}
	for (int i = 0; i < 3; i++) {
		uint64_t t = T0 + MS(10 * i);

		exchange(f, &c, t, t + MS(4), t + MS(5), "/same", 200 + i);
	}
	settle(f, T0 + MS(30));
	assert_int_equal(f->n, 6);
	for (int code = 200; code < 203; code++) {
		const struct span *cs = NULL, *ss = NULL;

		for (int i = 0; i < f->n; i++) {
			if (f->spans[i].status_code != code)
				continue;
			if (f->spans[i].kind == SPAN_KIND_CLIENT)
				cs = &f->spans[i];
			else
				ss = &f->spans[i];
		}
		assert_non_null(cs);
		assert_non_null(ss);
		assert_child(ss, cs);
	}
}

/* gateway (100) -> user-service (200) -> order-service (300), one request:
 * one trace, each span the child of the one before. arrival_shuffled feeds
 * the server sides before their client sides. */
static void chain(struct fx *f, bool arrival_shuffled)
{
	struct side ext_c, g_in, g_out, u_in, u_out, o_in;

	start(f);
	conn(&ext_c, &g_in, 10, 50000, 8000, 1, 100);
	g_in.remote = v4("10.1.2.3", 50000); /* from another host: no pair */
	conn(&g_out, &u_in, 20, 41000, 8081, 100, 200);
	conn(&u_out, &o_in, 30, 42000, 8082, 200, 300);
	/* the thread serving a request also sends the calls it makes */
	g_out.tid = g_in.tid;
	u_out.tid = u_in.tid;

	request(f, &g_in, T0, "GET", "/checkout/123");
	if (arrival_shuffled) {
		request(f, &u_in, T0 + MS(2), "GET", "/users/55");
		request(f, &o_in, T0 + MS(4), "POST", "/orders");
		request(f, &g_out, T0 + MS(1), "GET", "/users/55");
		request(f, &u_out, T0 + MS(3), "POST", "/orders");
	} else {
		request(f, &g_out, T0 + MS(1), "GET", "/users/55");
		request(f, &u_in, T0 + MS(2), "GET", "/users/55");
		request(f, &u_out, T0 + MS(3), "POST", "/orders");
		request(f, &o_in, T0 + MS(4), "POST", "/orders");
	}
	response(f, &o_in, T0 + MS(5), 201);
	response_end(f, &o_in, T0 + MS(6));
	response(f, &u_out, T0 + MS(6), 201);
	response_end(f, &u_out, T0 + MS(7));
	response(f, &u_in, T0 + MS(8), 200);
	response_end(f, &u_in, T0 + MS(9));
	response(f, &g_out, T0 + MS(9), 200);
	response_end(f, &g_out, T0 + MS(10));
	response(f, &g_in, T0 + MS(11), 200);
	response_end(f, &g_in, T0 + MS(12));
	settle(f, T0 + MS(12));
	assert_int_equal(f->n, 5);

	const struct span *gs = by_path(f, SPAN_KIND_SERVER, "/checkout/123");
	const struct span *gc = by_path(f, SPAN_KIND_CLIENT, "/users/55");
	const struct span *us = by_path(f, SPAN_KIND_SERVER, "/users/55");
	const struct span *uc = by_path(f, SPAN_KIND_CLIENT, "/orders");
	const struct span *os = by_path(f, SPAN_KIND_SERVER, "/orders");

	assert_true(is_zero(gs->parent_span_id, 8));
	assert_child(gc, gs);
	assert_child(us, gc);
	assert_child(uc, us);
	assert_child(os, uc);
	assert_string_equal(gs->service_name, "gateway");
	assert_string_equal(gc->service_name, "gateway");
	assert_string_equal(us->service_name, "user-service");
	assert_string_equal(uc->service_name, "user-service");
	assert_string_equal(os->service_name, "order-service");
	assert_string_equal(os->name, "POST /orders");
	assert_string_equal(gs->client.address, "10.1.2.3");
	assert_int_equal(STAT(f, pairs), 2);
	assert_int_equal(STAT(f, nested), 2);
	assert_int_equal(STAT(f, pending), 0);
}

static void test_chain_in_order(void **state) { chain(*state, false); }

static void test_chain_shuffled(void **state) { chain(*state, true); }

/* Thread ids unknown: no evidence that the call was made for a request,
 * even while the process serves exactly one: no parent. */
static void test_nesting_without_tid(void **state)
{
	struct fx *f = *state;
	struct side a_c, a_s, b_c, b_s, out, out_s;

	start(f);
	conn(&a_c, &a_s, 10, 50000, 8000, 1, 100);
	conn(&b_c, &b_s, 20, 50001, 8000, 1, 100);
	conn(&out, &out_s, 30, 41000, 9999, 100, 7);
	a_s.remote = v4("10.0.0.1", 50000);
	b_s.remote = v4("10.0.0.2", 50001);
	out.remote = v4("10.0.0.9", 9999);
	a_s.tid = b_s.tid = out.tid = 0;

	request(f, &a_s, T0, "GET", "/one");
	request(f, &out, T0 + MS(1), "GET", "/dep-while-one");
	response(f, &out, T0 + MS(2), 200);
	request(f, &b_s, T0 + MS(3), "GET", "/two");
	request(f, &out, T0 + MS(4), "GET", "/dep-while-two-open");
	response(f, &out, T0 + MS(5), 200);
	response(f, &a_s, T0 + MS(6), 200);
	response(f, &b_s, T0 + MS(7), 200);
	settle(f, T0 + MS(7));
	assert_int_equal(f->n, 4);
	assert_true(is_zero(by_path(f, SPAN_KIND_CLIENT, "/dep-while-one")->parent_span_id, 8));
	assert_true(
	    is_zero(by_path(f, SPAN_KIND_CLIENT, "/dep-while-two-open")->parent_span_id, 8));
	assert_int_equal(STAT(f, nested), 0);
}

/* A thread serving two requests at once (an event loop): no guess. */
static void test_nesting_ambiguous_thread(void **state)
{
	struct fx *f = *state;
	struct side a_c, a_s, b_c, b_s, out, out_s;

	start(f);
	conn(&a_c, &a_s, 10, 50000, 8000, 1, 100);
	conn(&b_c, &b_s, 20, 50001, 8000, 1, 100);
	conn(&out, &out_s, 30, 41000, 9999, 100, 7);
	out.remote = v4("10.0.0.9", 9999);
	a_s.tid = b_s.tid = out.tid = 101;
	request(f, &a_s, T0, "GET", "/one");
	request(f, &b_s, T0 + MS(1), "GET", "/two");
	request(f, &out, T0 + MS(2), "GET", "/dep");
	settle(f, T0 + MS(2));
	sb_flush(f->sb);
	assert_int_equal(STAT(f, nested), 0);
}

/* The call observed before the request its thread was serving (the two
 * came through different CPUs): still nested. */
static void test_nesting_parent_observed_late(void **state)
{
	struct fx *f = *state;
	struct side c, s, out, out_s;

	start(f);
	conn(&c, &s, 10, 50000, 8080, 1, 200);
	s.remote = v4("10.9.9.9", 50000);
	conn(&out, &out_s, 30, 42000, 9999, 200, 7);
	out.remote = v4("10.0.0.9", 9999);
	out.tid = s.tid;
	request(f, &out, T0 + MS(1), "GET", "/dep");
	request(f, &s, T0, "GET", "/parent");
	response(f, &out, T0 + MS(2), 200);
	response(f, &s, T0 + MS(3), 200);
	settle(f, T0 + MS(3));
	assert_int_equal(f->n, 2);
	assert_child(by_path(f, SPAN_KIND_CLIENT, "/dep"), by_path(f, SPAN_KIND_SERVER, "/parent"));
	assert_int_equal(STAT(f, nested), 1);
}

/* IPv6 endpoints, more close reasons, and the route cap of a service. */
static void test_v6_errors_route_cap(void **state)
{
	struct fx *f = *state;
	struct side c, s, c2, s2;

	f->cfg.route_cap = 1;
	start(f);
	conn(&c, &s, 10, 40000, 8080, 50, 60);
	c.local.family = c.remote.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "fd00::1", c.local.addr), 1);
	assert_int_equal(inet_pton(AF_INET6, "fd00::2", c.remote.addr), 1);
	request(f, &c, T0, "GET", "/one/file.txt");
	feed(f, &c, OBS_CLOSE, T0 + MS(1), NULL, EPIPE);
	conn(&c2, &s2, 20, 40001, 8080, 50, 60);
	request(f, &c2, T0, "GET", "/two/file.txt");
	feed(f, &c2, OBS_CLOSE, T0 + MS(1), NULL, EIO);
	settle(f, T0 + MS(1));
	assert_int_equal(f->n, 2);

	const struct span *one = by_path(f, SPAN_KIND_CLIENT, "/one/file.txt");
	const struct span *two = by_path(f, SPAN_KIND_CLIENT, "/two/file.txt");

	assert_string_equal(one->server.address, "fd00::2");
	assert_string_equal(one->peer.address, "fd00::2");
	assert_string_equal(one->status_message, "connection broken");
	assert_string_equal(one->route, "/one/file.txt");
	assert_string_equal(two->route, "/*"); /* both are "client" processes: one table */
	assert_string_equal(two->name, "GET"); /* a CLIENT span: the method alone */
	assert_string_equal(two->status_message, "connection error (errno 5)");
	assert_int_equal(STAT(f, route_overflows), 1);
}

static const char *tp_head(const char *flags)
{
	static char head[512];

	snprintf(head, sizeof(head),
		 "GET /traced HTTP/1.1\r\n"
		 "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-%s\r\n\r\n",
		 flags);
	return head;
}

static void test_traceparent_joins_trace(void **state)
{
	static const uint8_t tid[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
					0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
	static const uint8_t parent[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
	struct fx *f = *state;
	struct side c, s, out, out_s;

	f->cfg.sampling_ratio = 0; /* the caller sampled it: kept anyway */
	start(f);
	conn(&c, &s, 10, 50000, 8080, 1, 200);
	s.remote = v4("10.9.9.9", 50000);
	conn(&out, &out_s, 30, 42000, 8082, 200, 300);
	out.tid = s.tid;
	feed(f, &s, OBS_REQUEST, T0, tp_head("01"), 0);
	exchange(f, &out, T0 + MS(1), T0 + MS(2), T0 + MS(3), "/dep", 200);
	response(f, &s, T0 + MS(4), 200);
	response_end(f, &s, T0 + MS(5));
	settle(f, T0 + MS(5));
	assert_int_equal(f->n, 2);

	const struct span *ss = by_path(f, SPAN_KIND_SERVER, "/traced");

	assert_memory_equal(ss->trace_id, tid, 16);
	assert_memory_equal(ss->parent_span_id, parent, 8);
	assert_child(by_path(f, SPAN_KIND_CLIENT, "/dep"), ss);
	assert_int_equal(STAT(f, traceparents), 1);
}

static void test_traceparent_not_sampled(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	f->cfg.emit_unsampled = true;
	start(f);
	conn(&c, &s, 10, 50000, 8080, 1, 200);
	s.remote = v4("10.9.9.9", 50000);
	feed(f, &s, OBS_REQUEST, T0, tp_head("00"), 0);
	response(f, &s, T0 + MS(4), 200);
	response_end(f, &s, T0 + MS(5));
	settle(f, T0 + MS(5));
	assert_int_equal(f->n, 1);
	assert_int_equal(f->spans[0].sampled, 0);
	assert_int_equal(STAT(f, dropped[SB_DROP_SAMPLED_OUT]), 1);
	assert_int_equal(STAT(f, spans_sampled), 0);
}

/* Headers win: the SERVER span is the child of the span its traceparent
 * names, not of the same-node CLIENT span; the client that sent a header
 * of its own is SDK-instrumented, its CLIENT span the SDK's to export. */
static void test_traceparent_beats_pair(void **state)
{
	static const uint8_t parent[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
	struct fx *f = *state;
	struct side c, s;

	f->cfg.emit_unsampled = true;
	start(f);
	conn(&c, &s, 10, 40000, 8080, 100, 200);
	feed(f, &s, OBS_REQUEST, T0 + MS(1), tp_head("01"), 0);
	feed(f, &c, OBS_REQUEST, T0, tp_head("01"), 0);
	response(f, &s, T0 + MS(2), 200);
	response(f, &c, T0 + MS(3), 200);
	settle(f, T0 + MS(3));
	assert_int_equal(f->n, 2);

	const struct span *ss = by_path(f, SPAN_KIND_SERVER, "/traced");
	const struct span *cs = by_path(f, SPAN_KIND_CLIENT, "/traced");

	assert_memory_equal(ss->parent_span_id, parent, 8);
	assert_memory_equal(ss->trace_id, cs->trace_id, 16);
	assert_int_equal(ss->sampled, 1);
	assert_int_equal(cs->sampled, 0);
	assert_int_equal(STAT(f, pairs), 1);
	assert_int_equal(STAT(f, sdk_duplicates), 1);
}

/* --- traceparent on CLIENT requests: the application's own context --- */

#define TP_TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define APP_SPAN "a3ce929d0e0e4736"
#define CALLER_SPAN "00f067aa0ba902b7"

static void hex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sscanf(s + 2 * i, "%2hhx", &out[i]), 1);
}

/* A GET of path with one traceparent header of value tp (NULL: none). */
static void request_tp(struct fx *f, const struct side *sd, uint64_t ts, const char *path,
		       const char *tp)
{
	char head[512];

	snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: x\r\n%s%s%s\r\n", path,
		 tp ? "traceparent: " : "", tp ? tp : "", tp ? "\r\n" : "");
	feed(f, sd, OBS_REQUEST, ts, head, 0);
}

static void assert_ids(const struct span *sp, const char *trace, const char *parent)
{
	uint8_t t[16], p[8];

	hex(trace, t, sizeof(t));
	hex(parent, p, sizeof(p));
	assert_memory_equal(sp->trace_id, t, sizeof(t));
	assert_memory_equal(sp->parent_span_id, p, sizeof(p));
}

/* The application sends its context to a service on this node: it is
 * SDK-instrumented, its CLIENT span is the SDK's (emitted unsampled, for the
 * histograms only); the SERVER span (whose request carries the header) is
 * the child of the application's span. */
static void client_tp_pair(struct fx *f, bool client_first)
{
	const char *tp = "00-" TP_TRACE "-" APP_SPAN "-01";
	struct side c, s;

	f->cfg.emit_unsampled = true;
	start(f);
	conn(&c, &s, 10, 40000, 8080, 100, 200);
	if (client_first) {
		request_tp(f, &c, T0, "/api/v1/users/7", tp);
		request_tp(f, &s, T0 + MS(1), "/api/v1/users/7", tp);
	} else {
		request_tp(f, &s, T0 + MS(1), "/api/v1/users/7", tp);
		request_tp(f, &c, T0, "/api/v1/users/7", tp);
	}
	response(f, &s, T0 + MS(5), 200);
	response_end(f, &s, T0 + MS(6));
	response(f, &c, T0 + MS(7), 200);
	response_end(f, &c, T0 + MS(8));
	settle(f, T0 + MS(8));
	assert_int_equal(f->n, 2);

	const struct span *cs = by_path(f, SPAN_KIND_CLIENT, "/api/v1/users/7");
	const struct span *ss = by_path(f, SPAN_KIND_SERVER, "/api/v1/users/7");

	assert_ids(cs, TP_TRACE, APP_SPAN);
	assert_ids(ss, TP_TRACE, APP_SPAN);
	assert_int_equal(cs->sampled, 0);
	assert_int_equal(ss->sampled, 1);
	assert_int_equal(STAT(f, client_traceparents), 1);
	assert_int_equal(STAT(f, traceparents), 1);
	assert_int_equal(STAT(f, pairs), 1);
	assert_int_equal(STAT(f, sdk_duplicates), 1);
}

static void test_client_tp_pair_client_first(void **state) { client_tp_pair(*state, true); }

static void test_client_tp_pair_server_first(void **state) { client_tp_pair(*state, false); }

/* gateway (100) serves an outside request and, on the same thread, calls
 * user-service (200) on this node with a traceparent of its own: an SDK
 * exports the gateway's spans (bpfmesh's are emitted unsampled), and
 * user-service's SERVER span hangs under the SDK's CLIENT span. in_trace:
 * the outside request carried a traceparent of the same trace (the
 * application continues it), else it had none (the application started a
 * trace). client_first: the call is observed before the request served. */
static void client_tp_in_server(struct fx *f, bool in_trace, bool client_first)
{
	const char *in_tp = in_trace ? "00-" TP_TRACE "-" CALLER_SPAN "-01" : NULL;
	const char *out_tp = "00-" TP_TRACE "-" APP_SPAN "-01";
	struct side ext, g_in, g_out, u_in;

	f->cfg.emit_unsampled = true;
	start(f);
	conn(&ext, &g_in, 10, 50000, 8000, 1, 100);
	g_in.remote = v4("10.1.2.3", 50000);
	conn(&g_out, &u_in, 20, 41000, 8081, 100, 200);
	g_out.tid = g_in.tid;
	if (client_first) {
		request_tp(f, &g_out, T0 + MS(1), "/users/1", out_tp);
		request_tp(f, &g_in, T0, "/checkout", in_tp);
	} else {
		request_tp(f, &g_in, T0, "/checkout", in_tp);
		request_tp(f, &g_out, T0 + MS(1), "/users/1", out_tp);
	}
	request_tp(f, &u_in, T0 + MS(2), "/users/1", out_tp);
	response(f, &u_in, T0 + MS(3), 200);
	response_end(f, &u_in, T0 + MS(3));
	response(f, &g_out, T0 + MS(4), 200);
	response_end(f, &g_out, T0 + MS(4));
	/* the call is over, the request it was made for is not */
	sb_tick(f->sb, T0 + MS(1000));
	assert_int_equal(f->n, in_trace ? 0 : 2);
	response(f, &g_in, T0 + MS(2000), 200);
	response_end(f, &g_in, T0 + MS(2001));
	settle(f, T0 + MS(2001));
	assert_int_equal(f->n, 3);

	const struct span *gs = by_path(f, SPAN_KIND_SERVER, "/checkout");
	const struct span *gc = by_path(f, SPAN_KIND_CLIENT, "/users/1");
	const struct span *us = by_path(f, SPAN_KIND_SERVER, "/users/1");

	assert_ids(gc, TP_TRACE, APP_SPAN); /* not nested under gs */
	assert_ids(us, TP_TRACE, APP_SPAN);
	if (in_trace) {
		assert_ids(gs, TP_TRACE, CALLER_SPAN);
	} else {
		assert_true(is_zero(gs->parent_span_id, 8));
		assert_memory_not_equal(gs->trace_id, gc->trace_id, 16);
	}
	assert_int_equal(gs->sampled, 0);
	assert_int_equal(gc->sampled, 0);
	assert_int_equal(us->sampled, 1);
	assert_int_equal(STAT(f, nested), 0);
	assert_int_equal(STAT(f, pairs), 1);
	assert_int_equal(STAT(f, client_traceparents), 1);
	assert_int_equal(STAT(f, traceparents), in_trace ? 2 : 1);
	assert_int_equal(STAT(f, sdk_duplicates), 2);
	assert_int_equal(STAT(f, pending), 0);
}

static void test_client_tp_new_trace_in_server(void **state)
{
	client_tp_in_server(*state, false, false);
}

static void test_client_tp_same_trace_in_server(void **state)
{
	client_tp_in_server(*state, true, false);
}

static void test_client_tp_in_server_client_first(void **state)
{
	client_tp_in_server(*state, true, true);
}

/* The application passes the traceparent it received on unchanged (no span
 * of its own): its header names the caller of the request it serves, so
 * the call nests under that request's SERVER span as without a header. */
static void test_client_tp_forwarded(void **state)
{
	const char *tp = "00-" TP_TRACE "-" CALLER_SPAN "-01";
	struct fx *f = *state;
	struct side ext, g_in, g_out, o_s;

	start(f);
	conn(&ext, &g_in, 10, 50000, 8000, 1, 100);
	g_in.remote = v4("10.1.2.3", 50000);
	conn(&g_out, &o_s, 20, 41000, 9999, 100, 7);
	g_out.remote = v4("10.0.0.9", 9999);
	g_out.tid = g_in.tid;
	request_tp(f, &g_in, T0, "/checkout", tp);
	request_tp(f, &g_out, T0 + MS(1), "/elsewhere", tp);
	response(f, &g_out, T0 + MS(2), 200);
	response(f, &g_in, T0 + MS(3), 200);
	settle(f, T0 + MS(3));
	assert_int_equal(f->n, 2);

	const struct span *gs = by_path(f, SPAN_KIND_SERVER, "/checkout");

	assert_ids(gs, TP_TRACE, CALLER_SPAN);
	assert_child(by_path(f, SPAN_KIND_CLIENT, "/elsewhere"), gs);
	assert_int_equal(STAT(f, nested), 1);
	assert_int_equal(STAT(f, client_traceparents), 1);
}

/* The sampled flag of the application's traceparent decides for its trace,
 * the callee's SERVER span on this node included. */
static void test_client_tp_not_sampled(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	f->cfg.emit_unsampled = true;
	start(f);
	conn(&c, &s, 10, 40000, 8080, 100, 200);
	request_tp(f, &c, T0, "/p", "00-" TP_TRACE "-" APP_SPAN "-00");
	request_tp(f, &s, T0 + MS(1), "/p", "00-" TP_TRACE "-" APP_SPAN "-00");
	response(f, &s, T0 + MS(2), 200);
	response(f, &c, T0 + MS(3), 200);
	settle(f, T0 + MS(3));
	assert_int_equal(f->n, 2);
	assert_int_equal(f->spans[0].sampled, 0);
	assert_int_equal(f->spans[1].sampled, 0);
	assert_int_equal(STAT(f, spans_sampled), 0);
}

/* Invalid headers on a call made while serving a request: ignored, the call
 * nests as if it had none. */
static void test_client_tp_invalid(void **state)
{
	static const char *const bad[] = {
	    "ff-" TP_TRACE "-" APP_SPAN "-01",			   /* version ff */
	    "00-00000000000000000000000000000000-" APP_SPAN "-01", /* zero trace-id */
	    "00-" TP_TRACE "-0000000000000000-01",		   /* zero parent-id */
	    "00-" TP_TRACE "-" APP_SPAN "-01-extra",		   /* 00 is exactly 55 */
	    "00-4BF92F3577B34DA6A3CE929D0E0E4736-" APP_SPAN "-01", /* uppercase */
	    "00-" TP_TRACE "-" APP_SPAN,			   /* no flags */
	    "0x-" TP_TRACE "-" APP_SPAN "-01",			   /* version not hex */
	    "00_" TP_TRACE "_" APP_SPAN "_01",			   /* separators */
	    "00-" TP_TRACE "-" APP_SPAN "-01\r\ntraceparent: 00-" TP_TRACE "-" APP_SPAN
	    "-01", /* two headers */
	};
	const int n = (int)(sizeof(bad) / sizeof(bad[0]));
	struct fx *f = *state;
	char in[32], out[32];

	start(f);
	for (int i = 0; i < n; i++) {
		struct side ext, g_in, g_out, o_s;
		uint64_t t = T0 + MS(10 * i);

		conn(&ext, &g_in, 10 + 4 * (uint64_t)i, (uint16_t)(50000 + i), 8000, 1, 100);
		g_in.remote = v4("10.1.2.3", (uint16_t)(50000 + i));
		conn(&g_out, &o_s, 12 + 4 * (uint64_t)i, (uint16_t)(41000 + i), 9999, 100, 7);
		g_out.remote = v4("10.0.0.9", 9999);
		g_out.tid = g_in.tid;
		snprintf(in, sizeof(in), "/in-%d", i);
		snprintf(out, sizeof(out), "/out-%d", i);
		request_tp(f, &g_in, t, in, NULL);
		request_tp(f, &g_out, t + MS(1), out, bad[i]);
		response(f, &g_out, t + MS(2), 200);
		response(f, &g_in, t + MS(3), 200);
	}
	settle(f, T0 + MS(10 * n));
	assert_int_equal(f->n, 2 * n);
	for (int i = 0; i < n; i++) {
		snprintf(in, sizeof(in), "/in-%d", i);
		snprintf(out, sizeof(out), "/out-%d", i);
		assert_child(by_path(f, SPAN_KIND_CLIENT, out), by_path(f, SPAN_KIND_SERVER, in));
	}
	assert_int_equal(STAT(f, nested), (uint64_t)n);
	assert_int_equal(STAT(f, client_traceparents), 0);
}

/* http.route and the span name: a SERVER span is "METHOD route"; a CLIENT
 * span is "METHOD", its route kept for the histograms. */
static void test_client_name_keeps_route(void **state)
{
	static const char *const routes[] = {"/api/v1/users/{id}"};
	struct fx *f = *state;
	struct side c, s;

	f->cfg.routes = routes;
	f->cfg.n_routes = 1;
	start(f);
	conn(&c, &s, 10, 40000, 8080, 100, 200);
	exchange(f, &c, T0, T0 + MS(3), T0 + MS(4), "/api/v1/users/7", 200);
	exchange(f, &s, T0 + MS(1), T0 + MS(2), T0 + MS(2), "/api/v1/users/7", 200);
	feed(f, &c, OBS_REQUEST, T0 + MS(5), "BREW /pot/42 HTTP/1.1\r\n\r\n", 0);
	response(f, &c, T0 + MS(6), 418);
	settle(f, T0 + MS(6));
	assert_int_equal(f->n, 3);

	const struct span *cs = by_path(f, SPAN_KIND_CLIENT, "/api/v1/users/7");
	const struct span *ss = by_path(f, SPAN_KIND_SERVER, "/api/v1/users/7");
	const struct span *brew = by_path(f, SPAN_KIND_CLIENT, "/pot/42");

	assert_string_equal(ss->name, "GET /api/v1/users/{id}");
	assert_string_equal(ss->route, "/api/v1/users/{id}");
	assert_string_equal(cs->name, "GET");
	assert_string_equal(cs->route, "/api/v1/users/{id}");
	assert_string_equal(brew->name, "HTTP");
	assert_string_equal(brew->method, "_OTHER");
	assert_string_equal(brew->route, "/pot/*");
}

static void test_reset_and_timeout(void **state)
{
	struct fx *f = *state;
	struct side c1, s1, c2, s2, c3, s3;

	start(f);
	conn(&c1, &s1, 10, 40001, 8080, 50, 60);
	conn(&c2, &s2, 20, 40002, 8080, 50, 60);
	conn(&c3, &s3, 30, 40003, 8080, 50, 60);
	request(f, &c1, T0, "GET", "/reset");
	feed(f, &c1, OBS_CLOSE, T0 + MS(7), NULL, ECONNRESET);
	request(f, &c2, T0, "GET", "/timeout");
	feed(f, &c2, OBS_CLOSE, T0 + MS(9), NULL, ETIMEDOUT);
	request(f, &c3, T0, "GET", "/closed");
	feed(f, &c3, OBS_CLOSE, T0 + MS(3), NULL, 0);
	settle(f, T0 + MS(9));
	assert_int_equal(f->n, 3);

	const struct span *r = by_path(f, SPAN_KIND_CLIENT, "/reset");

	assert_int_equal(r->status, SPAN_STATUS_ERROR);
	assert_int_equal(r->status_code, 0); /* never made up */
	assert_string_equal(r->status_message, "connection reset");
	assert_int_equal(r->end_unix_ns - r->start_unix_ns, MS(7));
	assert_string_equal(by_path(f, SPAN_KIND_CLIENT, "/timeout")->status_message,
			    "connection timed out");
	assert_string_equal(by_path(f, SPAN_KIND_CLIENT, "/closed")->status_message,
			    "connection closed before the response");
	assert_int_equal(STAT(f, sockets), 0);
}

/* A reset in the middle of a response: the status seen stays, the span is
 * an error all the same. */
static void test_reset_during_response(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 50, 60);
	request(f, &c, T0, "GET", "/download");
	response(f, &c, T0 + MS(2), 200);
	feed(f, &c, OBS_CLOSE, T0 + MS(50), NULL, ECONNRESET);
	settle(f, T0 + MS(50));
	assert_int_equal(f->n, 1);
	assert_int_equal(f->spans[0].status_code, 200);
	assert_int_equal(f->spans[0].status, SPAN_STATUS_ERROR);
	assert_string_equal(f->spans[0].status_message, "connection reset");
	assert_int_equal(f->spans[0].end_unix_ns - f->spans[0].start_unix_ns, MS(50));
}

/* Without RESPONSE_END a span ends where its response started: when the
 * next response begins, or after the timeout. A response framed by the close
 * ends at the close. */
static void test_missing_response_end(void **state)
{
	struct fx *f = *state;
	struct side c, s, c2, s2;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 50, 60);
	request(f, &s, T0, "GET", "/a");
	response(f, &s, T0 + MS(4), 200);
	request(f, &s, T0 + MS(10), "GET", "/b");
	response(f, &s, T0 + MS(15), 200);
	sb_tick(f->sb, T0 + MS(15) + MS(1000));
	assert_int_equal(f->n, 1); /* /a ended when /b's response began; /b may still end */
	assert_string_equal(f->spans[0].path, "/a");
	sb_tick(f->sb, T0 + MS(15) + MS(6000));
	assert_int_equal(f->n, 2);
	assert_int_equal(by_path(f, SPAN_KIND_SERVER, "/a")->end_unix_ns -
			     by_path(f, SPAN_KIND_SERVER, "/a")->start_unix_ns,
			 MS(4));
	assert_int_equal(by_path(f, SPAN_KIND_SERVER, "/b")->end_unix_ns -
			     by_path(f, SPAN_KIND_SERVER, "/b")->start_unix_ns,
			 MS(5));

	conn(&c2, &s2, 20, 40001, 8080, 50, 60);
	request(f, &c2, T0, "GET", "/legacy");
	feed(f, &c2, OBS_RESPONSE, T0 + MS(3), "HTTP/1.0 200 OK\r\nServer: old\r\n\r\n", 0);
	feed(f, &c2, OBS_CLOSE, T0 + MS(40), NULL, 0);
	settle(f, T0 + MS(40));
	assert_int_equal(f->n, 3);
	assert_int_equal(by_path(f, SPAN_KIND_CLIENT, "/legacy")->end_unix_ns -
			     by_path(f, SPAN_KIND_CLIENT, "/legacy")->start_unix_ns,
			 MS(40));
	assert_int_equal(by_path(f, SPAN_KIND_CLIENT, "/legacy")->status, SPAN_STATUS_UNSET);
}

/* How far a response got, as the kernel counts it (bpf/http.h): the
 * bytes from its head segment's first (seq0) and when the latest passed. */
static struct obs_resp_at at_bytes(uint32_t seq0, uint32_t bytes, const char *tail)
{
	struct obs_resp_at at = {.seq0 = seq0, .bytes = bytes};

	if (tail)
		memcpy(at.tail, tail, 8);
	return at;
}

/* A response head that goes on past its segment: need bytes from seq0. */
static void response_long(struct fx *f, const struct side *sd, uint64_t ts, const char *head,
			  uint32_t seq0, uint64_t need)
{
	struct obs o;

	make_obs(&o, sd, OBS_RESPONSE, ts, head, 0);
	o.resp_at.seq0 = seq0;
	o.resp_need = need;
	sb_feed(f->sb, &o);
}

static void response_at(struct fx *f, const struct side *sd, uint64_t last_ns,
			struct obs_resp_at at)
{
	struct obs o;

	make_obs(&o, sd, OBS_RESPONSE_AT, last_ns, NULL, 0);
	o.resp_at = at;
	sb_feed(f->sb, &o);
}

static uint64_t duration(const struct span *sp) { return sp->end_unix_ns - sp->start_unix_ns; }

/* The kernel's account of a response's bytes ends it at its last byte
 * once it has all its head announced: with the next request (keep-alive),
 * not before (a client that pipelines sends while the response is still
 * on its way), and never one of another response (seq0). */
static void test_response_at_ends(void **state)
{
	const uint64_t T1 = T0 + MS(100000);
	struct fx *f = *state;
	struct side c, s;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 50, 60);
	request(f, &s, T0, "GET", "/big");
	response_long(f, &s, T0 + MS(1), "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 900,
		      40 + 5000);
	response_at(f, &s, T0 + MS(3), at_bytes(900, 3000, NULL)); /* not all yet */
	response_at(f, &s, T0 + MS(4), at_bytes(901, 5040, NULL)); /* another response's */
	sb_tick(f->sb, T0 + MS(1000));
	assert_int_equal(f->n, 0);
	response_at(f, &s, T0 + MS(6), at_bytes(900, 5040, NULL));
	settle(f, T0 + MS(6));
	assert_int_equal(f->n, 1);
	assert_int_equal(duration(&f->spans[0]), MS(6));

	/* chunked: its last bytes say it ended (after what settle() waited) */
	request(f, &s, T1 + MS(10), "GET", "/stream");
	response_long(f, &s, T1 + MS(11), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		      7000, 0);
	response_at(f, &s, T1 + MS(12), at_bytes(7000, 80, "o\r\n5\r\nab"));
	sb_tick(f->sb, T1 + MS(1000));
	assert_int_equal(f->n, 1);
	response_at(f, &s, T1 + MS(14), at_bytes(7000, 90, "c\r\n0\r\n\r\n"));
	settle(f, T1 + MS(14));
	assert_int_equal(f->n, 2);
	assert_int_equal(duration(by_path(f, SPAN_KIND_SERVER, "/stream")), MS(4));
}

/* What the kernel's state says, asked at a tick: a keep-alive connection
 * that went quiet after a response longer than its segment. */
static struct obs_resp_at polled;
static uint64_t polled_last;
static int polls;

static int poll_state(uint64_t cookie, struct obs_resp_at *at, uint64_t *last_ns, void *ctx)
{
	(void)ctx;
	polls++;
	if (cookie != 11)
		return -1;
	*at = polled;
	*last_ns = polled_last;
	return 0;
}

static void test_response_at_polled(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	f->cfg.resp_at = poll_state;
	start(f);
	polls = 0;
	conn(&c, &s, 10, 40000, 8080, 50, 60); /* s: cookie 11 */
	request(f, &s, T0, "GET", "/quiet");
	response_long(f, &s, T0 + MS(1), "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 5,
		      5040);
	polled = at_bytes(5, 4000, NULL);
	polled_last = T0 + MS(2);
	sb_tick(f->sb, T0 + MS(100));
	assert_int_equal(polls, 1);
	assert_int_equal(f->n, 0);
	polled = at_bytes(5, 5040, NULL);
	polled_last = T0 + MS(7);
	sb_tick(f->sb, T0 + MS(200));
	settle(f, T0 + MS(200));
	assert_int_equal(f->n, 1);
	assert_int_equal(duration(&f->spans[0]), MS(7));
	assert_int_equal(polls, 2); /* a finished one is not asked again */

	/* never whole: the timeout ends it at its latest byte known */
	request(f, &s, T0 + MS(300), "GET", "/stuck");
	response_long(f, &s, T0 + MS(301), "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 9,
		      5040);
	polled = at_bytes(9, 100, NULL);
	polled_last = T0 + MS(350);
	settle(f, T0 + MS(400));
	assert_int_equal(f->n, 2);
	assert_int_equal(duration(by_path(f, SPAN_KIND_SERVER, "/stuck")), MS(50));
}

/* A close: a response that got all its bytes before it ended at its last
 * one, without error; one that did not is cut (ERROR) at its last byte; one
 * framed by the close ends at its last byte before it. */
static void test_response_at_close(void **state)
{
	struct fx *f = *state;
	struct side c, s, c2, s2, c3, s3;
	struct obs o;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 50, 60);
	request(f, &c, T0, "GET", "/whole");
	response_long(f, &c, T0 + MS(1), "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 1,
		      5040);
	make_obs(&o, &c, OBS_CLOSE, T0 + MS(30), NULL, ECONNRESET);
	o.body_last_ns = T0 + MS(5);
	o.resp_at = at_bytes(1, 5040, NULL);
	sb_feed(f->sb, &o);

	conn(&c2, &s2, 20, 40001, 8080, 50, 60);
	request(f, &c2, T0, "GET", "/cut");
	response_long(f, &c2, T0 + MS(1), "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 1,
		      5040);
	make_obs(&o, &c2, OBS_CLOSE, T0 + MS(30), NULL, 0);
	o.body_last_ns = T0 + MS(6);
	o.resp_at = at_bytes(1, 2000, NULL);
	sb_feed(f->sb, &o);

	conn(&c3, &s3, 30, 40002, 8080, 50, 60);
	request(f, &c3, T0, "GET", "/legacy");
	response_long(f, &c3, T0 + MS(1), "HTTP/1.0 200 OK\r\n\r\n", 3, 0);
	make_obs(&o, &c3, OBS_CLOSE, T0 + MS(30), NULL, 0);
	o.body_last_ns = T0 + MS(8);
	o.resp_at = at_bytes(3, 7000, NULL);
	sb_feed(f->sb, &o);
	settle(f, T0 + MS(30));
	assert_int_equal(f->n, 3);
	assert_int_equal(duration(by_path(f, SPAN_KIND_CLIENT, "/whole")), MS(5));
	assert_int_equal(by_path(f, SPAN_KIND_CLIENT, "/whole")->status, SPAN_STATUS_UNSET);
	assert_int_equal(duration(by_path(f, SPAN_KIND_CLIENT, "/cut")), MS(6));
	assert_int_equal(by_path(f, SPAN_KIND_CLIENT, "/cut")->status, SPAN_STATUS_ERROR);
	assert_int_equal(duration(by_path(f, SPAN_KIND_CLIENT, "/legacy")), MS(8));
	assert_int_equal(by_path(f, SPAN_KIND_CLIENT, "/legacy")->status, SPAN_STATUS_UNSET);
}

/* A long download: the timeout ends the span at its response start, but the
 * RESPONSE_END that comes while the span is still held sets the real end. */
static void test_late_end_refines(void **state)
{
	struct fx *f = *state;
	struct side c, s, out, out_s;

	start(f);
	conn(&c, &s, 10, 50000, 8080, 1, 200);
	s.remote = v4("10.9.9.9", 50000);
	conn(&out, &out_s, 30, 42000, 9999, 200, 7);
	out.remote = v4("10.0.0.9", 9999);
	out.tid = s.tid;
	request(f, &s, T0, "GET", "/export");
	request(f, &out, T0 + MS(1), "GET", "/blob");
	response(f, &out, T0 + MS(2), 200);
	sb_tick(f->sb, T0 + MS(5003)); /* /blob: no end yet, ended at its response start */
	assert_int_equal(f->n, 0);     /* held: /export is still open */
	response_end(f, &out, T0 + MS(7000));
	response(f, &s, T0 + MS(7001), 200);
	response_end(f, &s, T0 + MS(7002));
	settle(f, T0 + MS(7002));
	assert_int_equal(f->n, 2);
	assert_int_equal(by_path(f, SPAN_KIND_CLIENT, "/blob")->end_unix_ns -
			     by_path(f, SPAN_KIND_CLIENT, "/blob")->start_unix_ns,
			 MS(6999));
}

/* 100 Continue is not the answer; 101 ends HTTP on the socket. */
static void test_interim_and_upgrade(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 50, 60);
	request(f, &c, T0, "PUT", "/upload");
	feed(f, &c, OBS_RESPONSE, T0 + MS(1), "HTTP/1.1 100 Continue\r\n\r\n", 0);
	response(f, &c, T0 + MS(9), 201);
	response_end(f, &c, T0 + MS(10));
	request(f, &c, T0 + MS(20), "GET", "/ws");
	feed(f, &c, OBS_RESPONSE, T0 + MS(21), "HTTP/1.1 101 Switching Protocols\r\n\r\n", 0);
	request(f, &c, T0 + MS(30), "GET", "/not-http-any-more");
	settle(f, T0 + MS(30));
	assert_int_equal(f->n, 2);
	assert_int_equal(by_path(f, SPAN_KIND_CLIENT, "/upload")->status_code, 201);
	assert_int_equal(by_path(f, SPAN_KIND_CLIENT, "/ws")->status_code, 101);
}

static void test_routes_and_methods(void **state)
{
	static const char *const routes[] = {"/api/v1/users/{id}"};
	struct fx *f = *state;
	struct side c, s;

	f->cfg.routes = routes;
	f->cfg.n_routes = 1;
	start(f);
	conn(&c, &s, 10, 40000, 8080, 50, 200);
	exchange(f, &s, T0, T0 + MS(1), T0 + MS(2), "/api/v1/users/alice?full=1", 200);
	exchange(f, &s, T0 + MS(3), T0 + MS(4), T0 + MS(5), "/x/1", 200);
	feed(f, &s, OBS_REQUEST, T0 + MS(6), "BREW /pot/42 HTTP/1.1\r\n\r\n", 0);
	response(f, &s, T0 + MS(7), 418);
	settle(f, T0 + MS(7));
	assert_int_equal(f->n, 3);

	const struct span *u = by_path(f, SPAN_KIND_SERVER, "/api/v1/users/alice");

	assert_string_equal(u->route, "/api/v1/users/{id}");
	assert_string_equal(u->name, "GET /api/v1/users/{id}");
	assert_string_equal(by_path(f, SPAN_KIND_SERVER, "/x/1")->name, "GET /x/*");
	/* OpenTelemetry: unknown methods are _OTHER, and the span is "HTTP" */
	assert_string_equal(by_path(f, SPAN_KIND_SERVER, "/pot/42")->method, "_OTHER");
	assert_string_equal(by_path(f, SPAN_KIND_SERVER, "/pot/42")->name, "HTTP /pot/*");
}

/* A head that is not HTTP keeps its place: the responses after it still
 * pair with their own requests. */
static void test_bad_head_keeps_order(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 50, 60);
	request(f, &s, T0, "GET", "/good-1");
	feed(f, &s, OBS_REQUEST, T0 + MS(1), "GET /x HTTP/9.9\r\n\r\n", 0);
	request(f, &s, T0 + MS(2), "GET", "/good-2");
	response(f, &s, T0 + MS(3), 200);
	response(f, &s, T0 + MS(4), 500);
	/* the end of the untracked response is nobody's, not /good-1's */
	response_end(f, &s, T0 + MS(4) + 500);
	response(f, &s, T0 + MS(5), 202);
	settle(f, T0 + MS(5));
	assert_int_equal(f->n, 2);
	assert_int_equal(by_path(f, SPAN_KIND_SERVER, "/good-1")->status_code, 200);
	assert_int_equal(by_path(f, SPAN_KIND_SERVER, "/good-1")->end_unix_ns -
			     by_path(f, SPAN_KIND_SERVER, "/good-1")->start_unix_ns,
			 MS(3));
	assert_int_equal(STAT(f, unpaired_ends), 1);
	assert_int_equal(by_path(f, SPAN_KIND_SERVER, "/good-2")->status_code, 202);
	assert_int_equal(STAT(f, dropped[SB_DROP_BAD_HEAD]), 1);
}

static void test_unpaired_and_not_traced(void **state)
{
	struct fx *f = *state;
	struct side c, s, n_c, n_s;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 50, 60);
	response(f, &s, T0, 200); /* a socket never seen */
	request(f, &s, T0 + MS(1), "GET", "/a");
	response(f, &s, T0 + MS(2), 200);
	response(f, &s, T0 + MS(3), 200); /* one too many */
	conn(&n_c, &n_s, 20, 40001, 8080, 50, 666);
	request(f, &n_s, T0, "GET", "/secret");
	response(f, &n_s, T0 + MS(1), 200);
	settle(f, T0 + MS(3));
	assert_int_equal(f->n, 1);
	assert_int_equal(STAT(f, unpaired_responses), 2);
	assert_int_equal(STAT(f, dropped[SB_DROP_NOT_TRACED]), 1);
}

/* ratio 0.5: both sides of every same-node call are kept or dropped together. */
static void test_sampling_whole_traces(void **state)
{
	struct fx *f = *state;
	int n = 200;

	f->cfg.sampling_ratio = 0.5;
	start(f);
	for (int i = 0; i < n; i++) {
		struct side c, s;
		uint64_t t = T0 + MS(i);

		conn(&c, &s, 10 + 2 * (uint64_t)i, (uint16_t)(30000 + i), 8080, 100, 200);
		exchange(f, &c, t, t + MS(3), t + MS(4), "/p", 200);
		exchange(f, &s, t + MS(1), t + MS(2), t + MS(2), "/p", 200);
	}
	settle(f, T0 + MS(n + 4));
	assert_int_equal(f->n % 2, 0);
	for (int i = 0; i < f->n; i++) {
		int partners = 0;

		for (int j = 0; j < f->n; j++)
			partners +=
			    j != i && !memcmp(f->spans[i].trace_id, f->spans[j].trace_id, 16);
		assert_int_equal(partners, 1);
	}
	/* about half, 3 sigma */
	assert_true(f->n / 2 > 100 - 22 && f->n / 2 < 100 + 22);
	assert_int_equal(STAT(f, dropped[SB_DROP_SAMPLED_OUT]), (uint64_t)(2 * n - f->n));
}

/* ratio 0 with alwaysSampleErrors: an error deep in the chain keeps every
 * span of its trace, and the traces without one stay dropped. */
static void test_error_keeps_trace(void **state)
{
	struct fx *f = *state;
	struct side ext, g_in, g_out, u_in, x_c, x_s;

	f->cfg.sampling_ratio = 0;
	start(f);
	conn(&ext, &g_in, 10, 50000, 8000, 1, 100);
	g_in.remote = v4("10.1.2.3", 50000);
	conn(&g_out, &u_in, 20, 41000, 8081, 100, 200);
	g_out.tid = g_in.tid;
	request(f, &g_in, T0, "GET", "/checkout");
	request(f, &g_out, T0 + MS(1), "GET", "/users/1");
	request(f, &u_in, T0 + MS(2), "GET", "/users/1");
	response(f, &u_in, T0 + MS(3), 500);
	response(f, &g_out, T0 + MS(4), 500);
	response(f, &g_in, T0 + MS(5), 502);
	/* an unrelated, healthy request */
	conn(&x_c, &x_s, 30, 50001, 8000, 1, 100);
	x_s.remote = v4("10.1.2.4", 50001);
	exchange(f, &x_s, T0, T0 + MS(1), T0 + MS(2), "/fine", 200);
	settle(f, T0 + MS(5));
	assert_int_equal(f->n, 3);
	assert_int_equal(STAT(f, dropped[SB_DROP_SAMPLED_OUT]), 1);
	for (int i = 0; i < f->n; i++)
		assert_int_equal(f->spans[i].sampled, 1);
}

/* A slow span keeps its trace, also when its parent finished fine. */
static void test_slow_keeps_trace(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	f->cfg.sampling_ratio = 0;
	f->cfg.sample_slower_than_ms = 100;
	start(f);
	conn(&c, &s, 10, 40000, 8080, 100, 200);
	exchange(f, &c, T0, T0 + MS(150), T0 + MS(151), "/slow", 200);
	exchange(f, &s, T0 + MS(1), T0 + MS(2), T0 + MS(3), "/slow", 200);
	exchange(f, &c, T0 + MS(200), T0 + MS(201), T0 + MS(202), "/fast", 200);
	exchange(f, &s, T0 + MS(200), T0 + MS(201), T0 + MS(201), "/fast", 200);
	settle(f, T0 + MS(202));
	assert_int_equal(f->n, 2);
	assert_child(by_path(f, SPAN_KIND_SERVER, "/slow"), by_path(f, SPAN_KIND_CLIENT, "/slow"));
}

/* Spans wait while their trace has an open span on this node (bounded). */
static void test_hold_until_trace_done(void **state)
{
	struct fx *f = *state;
	struct side c, s, out, out_s;

	f->cfg.max_hold_ns = MS(2000);
	start(f);
	conn(&c, &s, 10, 50000, 8080, 1, 200);
	s.remote = v4("10.9.9.9", 50000);
	conn(&out, &out_s, 30, 42000, 9999, 200, 7);
	out.remote = v4("10.0.0.9", 9999);
	out.tid = s.tid;
	request(f, &s, T0, "GET", "/parent");
	exchange(f, &out, T0 + MS(1), T0 + MS(2), T0 + MS(3), "/child", 200);
	sb_tick(f->sb, T0 + MS(500));
	assert_int_equal(f->n, 0); /* the parent is still open */
	sb_tick(f->sb, T0 + MS(2004));
	assert_int_equal(f->n, 1); /* max_hold: the child goes alone */
	response(f, &s, T0 + MS(3000), 200);
	settle(f, T0 + MS(3000));
	assert_int_equal(f->n, 2);
	assert_child(by_path(f, SPAN_KIND_CLIENT, "/child"),
		     by_path(f, SPAN_KIND_SERVER, "/parent"));
}

static void test_fifo_overflow(void **state)
{
	struct fx *f = *state;
	struct side c, s;
	char path[32];

	start(f);
	conn(&c, &s, 10, 40000, 8080, 50, 60);
	for (int i = 0; i < SB_FIFO_MAX + 2; i++) {
		snprintf(path, sizeof(path), "/r%d", i);
		request(f, &c, T0 + (uint64_t)i, "GET", path);
	}
	for (int i = 0; i < SB_FIFO_MAX + 2; i++)
		response(f, &c, T0 + MS(1) + (uint64_t)i, 200 + i % 2);
	/* back in line: the next request is tracked again */
	request(f, &c, T0 + MS(2), "GET", "/after");
	response(f, &c, T0 + MS(3), 204);
	settle(f, T0 + MS(3));
	assert_int_equal(f->n, SB_FIFO_MAX + 1);
	assert_int_equal(STAT(f, dropped[SB_DROP_FIFO_FULL]), 2);
	assert_int_equal(STAT(f, unpaired_responses), 0);
	assert_int_equal(by_path(f, SPAN_KIND_CLIENT, "/r1")->status_code, 201);
	assert_int_equal(by_path(f, SPAN_KIND_CLIENT, "/after")->status_code, 204);
}

static void test_pending_cap(void **state)
{
	struct fx *f = *state;
	struct side c, s;
	char path[32];

	f->cfg.max_pending = 4;
	start(f);
	conn(&c, &s, 10, 40000, 8080, 50, 60);
	/* two finished, then open ones: finished ones leave early to make room */
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/done%d", i);
		exchange(f, &s, T0 + MS(i), T0 + MS(i), T0 + MS(i), path, 200);
	}
	for (int i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "/open%d", i);
		request(f, &s, T0 + MS(10 + i), "GET", path);
	}
	assert_int_equal(f->n, 2);
	assert_int_equal(STAT(f, early_emits), 2);
	assert_int_equal(STAT(f, dropped[SB_DROP_PENDING_FULL]), 2);
	assert_int_equal(STAT(f, pending), 4);
}

static void test_socket_cap_and_idle(void **state)
{
	struct fx *f = *state;
	struct side c[4], s[4];

	f->cfg.max_sockets = 2;
	f->cfg.idle_timeout_ns = MS(1000);
	start(f);
	for (int i = 0; i < 3; i++) {
		conn(&c[i], &s[i], 10 + 2 * (uint64_t)i, (uint16_t)(40000 + i), 8080, 50, 60);
		request(f, &c[i], T0 + MS(i), "GET", "/open");
	}
	assert_int_equal(STAT(f, sockets), 2);
	assert_int_equal(STAT(f, dropped[SB_DROP_SOCKET_EVICTED]), 1);
	sb_tick(f->sb, T0 + MS(5000));
	assert_int_equal(STAT(f, sockets), 0);
	assert_int_equal(STAT(f, dropped[SB_DROP_IDLE]), 2);
	assert_int_equal(STAT(f, pending), 0);
	assert_int_equal(f->n, 0);
}

/* A dual-stack server sees its IPv4 client as ::ffff:a.b.c.d. */
static void test_pair_v4_mapped(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 100, 200);
	s.local.family = s.remote.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.1", s.local.addr), 1);
	assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.1", s.remote.addr), 1);
	exchange(f, &c, T0, T0 + MS(3), T0 + MS(4), "/v6", 200);
	exchange(f, &s, T0 + MS(1), T0 + MS(2), T0 + MS(2), "/v6", 200);
	settle(f, T0 + MS(4));
	assert_child(by_path(f, SPAN_KIND_SERVER, "/v6"), by_path(f, SPAN_KIND_CLIENT, "/v6"));
	assert_string_equal(by_path(f, SPAN_KIND_SERVER, "/v6")->server.address, "127.0.0.1");
}

static void test_flush_and_free(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 100, 200);
	exchange(f, &c, T0, T0 + MS(3), T0 + MS(4), "/done", 200);
	request(f, &c, T0 + MS(5), "GET", "/open");
	request(f, &s, T0 + MS(6), "GET", "/left-open");
	sb_flush(f->sb);
	assert_int_equal(f->n, 1);
	assert_int_equal(STAT(f, dropped[SB_DROP_FLUSH]), 2);
	assert_int_equal(STAT(f, pending), 0);
	/* held state at sb_free is released (ASan checks) */
	request(f, &c, T0 + MS(7), "GET", "/at-free");
	assert_null(sb_new(&(struct sb_config){0}));
	assert_int_equal(errno, EINVAL);
}

static void test_reconfigure(void **state)
{
	static const char *const routes[] = {"/items/{sku}"};
	struct fx *f = *state;
	struct side c, s;

	start(f);
	conn(&c, &s, 10, 40000, 8080, 100, 200);
	exchange(f, &s, T0, T0 + MS(1), T0 + MS(2), "/items/abc", 200);
	assert_int_equal(sb_set_routes(f->sb, routes, 1, 0), 0);
	sb_set_clock_offset(f->sb, 0);
	exchange(f, &s, T0 + MS(3), T0 + MS(4), T0 + MS(5), "/items/xyz", 200);
	sb_set_sampling(f->sb, 0, false, 0);
	renamed = true; /* the socket's service changes with the configuration */
	exchange(f, &s, T0 + MS(6), T0 + MS(7), T0 + MS(8), "/items/zzz", 500);
	settle(f, T0 + MS(8));
	assert_int_equal(f->n, 0); /* sampling is decided when a span goes out */
	sb_set_sampling(f->sb, 1, false, 0);
	exchange(f, &s, T0 + MS(9), T0 + MS(10), T0 + MS(11), "/items/1a", 200);
	settle(f, T0 + MS(11));
	assert_int_equal(f->n, 1);
	assert_string_equal(f->spans[0].route, "/items/{sku}");
	assert_int_equal(f->spans[0].start_unix_ns, T0 + MS(9));
	assert_string_equal(f->spans[0].service_name, "users");
	assert_string_equal(f->spans[0].service_namespace, "shop2");
	assert_string_equal(sb_drop_name(SB_DROP_FIFO_FULL), "fifo_full");
	assert_string_equal(sb_drop_name(SB_DROP__MAX), "unknown");
}

static void capture_check(const struct span *sp, const struct span_packed *pk, void *ctx)
{
	int *n = ctx;

	(void)pk;
	assert_false(is_zero(sp->trace_id, 16));
	assert_false(is_zero(sp->span_id, 8));
	assert_memory_not_equal(sp->span_id, sp->parent_span_id, 8);
	assert_true(sp->end_unix_ns >= sp->start_unix_ns);
	assert_true(sp->kind == SPAN_KIND_SERVER || sp->kind == SPAN_KIND_CLIENT);
	(*n)++;
}

/* Random observations on a few connections, in any order: no crash, no
 * leak, sane spans, and nothing left after a flush. */
static void test_random_sequences(void **state)
{
	static const char *const heads[] = {
	    "GET /a/1 HTTP/1.1\r\n\r\n",
	    "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	    "HTTP/1.1 500 X\r\n\r\n",
	    "HTTP/1.1 100 Continue\r\n\r\n",
	    "HTTP/1.0 200 OK\r\n\r\n",
	    "junk",
	    /* parenthesised: one element, as clang's -Wstring-concatenation asks */
	    ("GET /a/1 HTTP/1.1\r\ntraceparent: "
	     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n"),
	};
	struct fx *f = *state;
	struct side sides[12];
	uint64_t t = T0, r = 7;
	int emitted = 0;

	f->cfg.emit = capture_check;
	f->cfg.emit_ctx = &emitted;
	f->cfg.emit_unsampled = true;
	f->cfg.sampling_ratio = 0.5;
	f->cfg.max_pending = 64;
	f->cfg.max_sockets = 10;
	start(f);
	for (int i = 0; i < 6; i++)
		conn(&sides[2 * i], &sides[2 * i + 1], 100 + 2 * (uint64_t)i,
		     (uint16_t)(40000 + i % 3), 8080, 100 + (uint32_t)(i % 2) * 100,
		     200 + (uint32_t)(i % 3) * 100);
	for (int i = 0; i < 20000; i++) {
		struct side sd;
		uint8_t kind;
		int h;

		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		sd = sides[(r >> 33) % 12];
		kind = (uint8_t)(1 + (r >> 40) % 4);
		h = (int)((r >> 45) % 8);
		sd.tid = (uint32_t)((r >> 50) % 3);
		t += (r >> 56) * 100000;
		feed(f, &sd, kind, t, kind <= OBS_RESPONSE ? heads[h] : NULL,
		     kind == OBS_CLOSE && (r & 1) ? ECONNRESET : 0);
		if (i % 97 == 0)
			sb_tick(f->sb, t);
	}
	sb_flush(f->sb);
	assert_int_equal(STAT(f, pending), 0);
	assert_int_equal(STAT(f, sockets), 0);
	assert_true(emitted > 100);
	assert_int_equal(STAT(f, spans_emitted), (uint64_t)emitted);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_keepalive_three_requests),
	    T(test_pipelining),
	    T(test_pipelined_ends_after_heads),
	    T(test_pair_client_first),
	    T(test_pair_server_first),
	    T(test_pair_keepalive_order),
	    T(test_chain_in_order),
	    T(test_chain_shuffled),
	    T(test_nesting_without_tid),
	    T(test_nesting_ambiguous_thread),
	    T(test_nesting_parent_observed_late),
	    T(test_v6_errors_route_cap),
	    T(test_traceparent_joins_trace),
	    T(test_traceparent_not_sampled),
	    T(test_traceparent_beats_pair),
	    T(test_client_tp_pair_client_first),
	    T(test_client_tp_pair_server_first),
	    T(test_client_tp_new_trace_in_server),
	    T(test_client_tp_same_trace_in_server),
	    T(test_client_tp_in_server_client_first),
	    T(test_client_tp_forwarded),
	    T(test_client_tp_not_sampled),
	    T(test_client_tp_invalid),
	    T(test_client_name_keeps_route),
	    T(test_reset_and_timeout),
	    T(test_reset_during_response),
	    T(test_missing_response_end),
	    T(test_response_at_ends),
	    T(test_response_at_polled),
	    T(test_response_at_close),
	    T(test_late_end_refines),
	    T(test_interim_and_upgrade),
	    T(test_routes_and_methods),
	    T(test_bad_head_keeps_order),
	    T(test_unpaired_and_not_traced),
	    T(test_sampling_whole_traces),
	    T(test_error_keeps_trace),
	    T(test_slow_keeps_trace),
	    T(test_hold_until_trace_done),
	    T(test_fifo_overflow),
	    T(test_pending_cap),
	    T(test_socket_cap_and_idle),
	    T(test_pair_v4_mapped),
	    T(test_flush_and_free),
	    T(test_reconfigure),
	    T(test_random_sequences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
