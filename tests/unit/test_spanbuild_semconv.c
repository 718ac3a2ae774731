/* SPDX-License-Identifier: Apache-2.0 */
/* test_spanbuild_semconv.c: the span builder against W3C Trace Context and
 * the OpenTelemetry HTTP conventions: parent-based sampling (flags 00 and
 * 01, the error and slow overrides for roots only), tracestate and the
 * remote-parent flag, responses cut by a reset or by a close before their
 * declared length, unknown methods as _OTHER, and the attributes of each
 * side. Observations are made as the pipeline makes them: heads read by the
 * HTTP/1 parser module. */
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
#include "trace/spanbuild_int.h"

#define MS(x) ((uint64_t)(x)*1000000ULL)
#define T0 MS(1000000)
#define OFFSET 1700000000000000000ULL
#define MAX_SPANS 64
#define TP_SAMPLED "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
#define TP_UNSAMPLED "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"

struct fx {
	struct spanbuild *sb;
	struct span spans[MAX_SPANS];
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

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->cfg.emit = capture;
	f->cfg.emit_ctx = f;
	f->cfg.host_name = "node-1";
	f->cfg.clock_offset_ns = (int64_t)(OFFSET - T0);
	f->cfg.sampling_ratio = 1.0;
	f->cfg.sample_errors = true;
	f->cfg.emit_unsampled = true; /* as the agent: metrics see every span */
	f->cfg.seed = 7;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sb_free(f->sb);
	free(f);
	return 0;
}

static void start(struct fx *f)
{
	f->sb = sb_new(&f->cfg);
	assert_non_null(f->sb);
}

struct side {
	uint64_t cookie;
	uint8_t role;
	struct obs_addr local, remote;
	uint32_t tgid;
	bool lb_known; /* its requests say what capture knew of the balancer */
	struct obs_addr svc;
};

static struct obs_addr v4(const char *ip, uint16_t port)
{
	struct obs_addr a = {.family = AF_INET, .port = port};

	assert_int_equal(inet_pton(AF_INET, ip, a.addr), 1);
	return a;
}

/* A server socket 127.0.0.1:8080 <- 127.0.0.2:cport, and a client socket
 * to the endpoint 127.0.0.1:18081 the load balancer chose. */
static struct side server_side(uint64_t cookie, uint16_t cport)
{
	return (struct side){.cookie = cookie,
			     .role = OBS_ROLE_SERVER,
			     .local = v4("127.0.0.1", 8080),
			     .remote = v4("127.0.0.2", cport),
			     .tgid = 200};
}

static struct side client_side(uint64_t cookie, uint16_t cport)
{
	return (struct side){.cookie = cookie,
			     .role = OBS_ROLE_CLIENT,
			     .local = v4("127.0.0.2", cport),
			     .remote = v4("127.0.0.1", 18081),
			     .tgid = 100};
}

/* OBS_CLOSE's body_last_ns for the next close fed (0: the kernel knew none) */
static uint64_t close_body_last;

static void feed(struct fx *f, const struct side *sd, uint8_t kind, uint64_t ts, const char *head,
		 int err)
{
	const struct proto_parser *http1 = proto_by_id(OBS_PROTO_HTTP1);
	struct obs o;

	memset(&o, 0, sizeof(o));
	o.cookie = sd->cookie;
	o.kind = kind;
	o.role = sd->role;
	o.ts_ns = ts;
	o.tgid = sd->tgid;
	o.tid = sd->tgid;
	snprintf(o.comm, sizeof(o.comm), "%s", sd->role == OBS_ROLE_SERVER ? "node" : "curl");
	o.local = sd->local;
	o.remote = sd->remote;
	o.error = err;
	if (kind == OBS_CLOSE)
		o.body_last_ns = close_body_last;
	if (head)
		http1->parse(kind, head, strlen(head), &o);
	if (kind == OBS_REQUEST) {
		snprintf(o.service, sizeof(o.service), "svc-%u", sd->tgid);
		o.lb_known = sd->lb_known;
		o.svc = sd->svc;
	}
	sb_feed(f->sb, &o);
}

static void settle(struct fx *f, uint64_t last) { sb_tick(f->sb, last + MS(60000)); }

static const struct span *only(struct fx *f)
{
	assert_int_equal(f->n, 1);
	return &f->spans[0];
}

/* A SERVER exchange whose request carries extra header lines. */
static void server_exchange(struct fx *f, const char *hdrs, int status, uint64_t dur)
{
	struct side s = server_side(1, 40000);
	char head[1024], resp[128];

	snprintf(head, sizeof(head), "GET /api/v1/items/1 HTTP/1.1\r\n%s\r\n", hdrs);
	snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 2\r\n\r\n", status);
	feed(f, &s, OBS_REQUEST, T0, head, 0);
	feed(f, &s, OBS_RESPONSE, T0 + dur, resp, 0);
	feed(f, &s, OBS_RESPONSE_END, T0 + dur, NULL, 0);
	settle(f, T0 + dur);
}

/* --- sampling --- */

/* W3C: a caller that did not sample its trace decided for it, errors
 * included; the span still reaches the sinks (metrics), unsampled. */
static void test_unsampled_parent_error_not_exported(void **state)
{
	struct fx *f = *state;

	start(f);
	server_exchange(f, "traceparent: " TP_UNSAMPLED "\r\n", 500, MS(1));
	assert_int_equal(only(f)->sampled, 0);
	assert_int_equal(f->spans[0].status, SPAN_STATUS_ERROR);
	assert_int_equal(f->spans[0].status_code, 500);
}

static void test_unsampled_parent_slow_not_exported(void **state)
{
	struct fx *f = *state;

	f->cfg.sample_slower_than_ms = 10;
	start(f);
	server_exchange(f, "traceparent: " TP_UNSAMPLED "\r\n", 200, MS(50));
	assert_int_equal(only(f)->sampled, 0);
}

static void test_sampled_parent_honoured(void **state)
{
	struct fx *f = *state;

	f->cfg.sampling_ratio = 0;
	start(f);
	server_exchange(f, "traceparent: " TP_SAMPLED "\r\n", 200, MS(1));
	assert_int_equal(only(f)->sampled, 1);
	assert_int_equal(f->spans[0].trace_flags, 1);
}

/* A root (no traceparent): the overrides keep what the ratio drops. */
static void test_root_error_and_slow_overrides(void **state)
{
	struct fx *f = *state;

	f->cfg.sampling_ratio = 0;
	f->cfg.sample_slower_than_ms = 10;
	start(f);
	server_exchange(f, "", 500, MS(1));
	assert_int_equal(only(f)->sampled, 1);
	f->n = 0;
	server_exchange(f, "", 200, MS(50));
	assert_int_equal(only(f)->sampled, 1);
	f->n = 0;
	server_exchange(f, "", 200, MS(1));
	assert_int_equal(only(f)->sampled, 0);
}

/* tracestate travels with the context it came with; the parent named by a
 * traceparent is remote (OTLP flags bit 9), a root has none. */
static void test_tracestate_and_remote_parent(void **state)
{
	struct fx *f = *state;

	start(f);
	server_exchange(f,
			"traceparent: " TP_SAMPLED "\r\ntracestate: vendor=a1,other=b2\r\n"
			"tracestate: third=c3\r\n",
			200, MS(1));
	assert_string_equal(only(f)->tracestate, "vendor=a1,other=b2,third=c3");
	assert_true(f->spans[0].parent_remote);
	assert_int_equal(f->spans[0].trace_flags, 1);
	f->n = 0;
	server_exchange(f, "", 200, MS(1));
	assert_string_equal(only(f)->tracestate, "");
	assert_false(f->spans[0].parent_remote);
}

/* --- outcomes --- */

/* The server closes after 2 of the 100 bytes it announced: an error, ending
 * at the close, not at the response head. */
static void test_close_before_content_length(void **state)
{
	struct fx *f = *state;
	struct side s = server_side(1, 40000), c = client_side(3, 40000);
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok";

	start(f);
	feed(f, &c, OBS_REQUEST, T0, "GET /cut HTTP/1.1\r\nHost: a\r\n\r\n", 0);
	feed(f, &s, OBS_REQUEST, T0 + MS(1), "GET /cut HTTP/1.1\r\nHost: a\r\n\r\n", 0);
	feed(f, &s, OBS_RESPONSE, T0 + MS(5), resp, 0);
	feed(f, &c, OBS_RESPONSE, T0 + MS(6), resp, 0);
	feed(f, &s, OBS_CLOSE, T0 + MS(25), NULL, 0);
	feed(f, &c, OBS_CLOSE, T0 + MS(26), NULL, 0);
	settle(f, T0 + MS(26));
	assert_int_equal(f->n, 2);
	for (int i = 0; i < 2; i++) {
		const struct span *sp = &f->spans[i];
		uint64_t end = sp->kind == SPAN_KIND_SERVER ? MS(25) : MS(26);

		assert_int_equal(sp->status, SPAN_STATUS_ERROR);
		assert_string_equal(sp->error_type, "response_incomplete");
		assert_string_equal(sp->status_message,
				    "connection closed before the end of the response");
		assert_int_equal(sp->status_code, 200); /* what was seen stays */
		assert_int_equal(sp->end_unix_ns, OFFSET + end);
	}
}

/* The kernel says when the cut response's last byte passed (its CLOSE
 * record): both sides end there, not at the close; a time that is not
 * between the response head and the close is not believed. */
static void test_cut_ends_at_last_byte(void **state)
{
	struct fx *f = *state;
	struct side s = server_side(1, 40000), c = client_side(3, 40000);
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok";

	start(f);
	feed(f, &c, OBS_REQUEST, T0, "GET /cut HTTP/1.1\r\nHost: a\r\n\r\n", 0);
	feed(f, &s, OBS_REQUEST, T0 + MS(1), "GET /cut HTTP/1.1\r\nHost: a\r\n\r\n", 0);
	feed(f, &s, OBS_RESPONSE, T0 + MS(5), resp, 0);
	feed(f, &c, OBS_RESPONSE, T0 + MS(6), resp, 0);
	close_body_last = T0 + MS(15);
	feed(f, &s, OBS_CLOSE, T0 + MS(200), NULL, 0);
	close_body_last = T0 + MS(16);
	feed(f, &c, OBS_CLOSE, T0 + MS(201), NULL, ECONNRESET);
	close_body_last = 0;
	settle(f, T0 + MS(201));
	assert_int_equal(f->n, 2);
	for (int i = 0; i < 2; i++) {
		const struct span *sp = &f->spans[i];
		bool server = sp->kind == SPAN_KIND_SERVER;

		assert_int_equal(sp->status, SPAN_STATUS_ERROR);
		assert_int_equal(sp->end_unix_ns, OFFSET + (server ? MS(15) : MS(16)));
	}
	/* a last byte before the head (truncated clock) ends at the head */
	f->n = 0;
	feed(f, &c, OBS_REQUEST, T0 + MS(300), "GET /cut HTTP/1.1\r\nHost: a\r\n\r\n", 0);
	feed(f, &c, OBS_RESPONSE, T0 + MS(305), resp, 0);
	close_body_last = T0 + MS(304);
	feed(f, &c, OBS_CLOSE, T0 + MS(400), NULL, 0);
	close_body_last = 0;
	settle(f, T0 + MS(400));
	assert_int_equal(f->n, 1);
	assert_int_equal(f->spans[0].end_unix_ns, OFFSET + T0 + MS(305) - T0);
}

/* A reset in the body: the side that sees it has the errno's type; the
 * side that sent it (an orderly close for its own socket) the cut. */
static void test_reset_in_body(void **state)
{
	struct fx *f = *state;
	struct side s = server_side(1, 40000), c = client_side(3, 40000);
	const char *resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";

	start(f);
	feed(f, &c, OBS_REQUEST, T0, "GET /rst HTTP/1.1\r\n\r\n", 0);
	feed(f, &s, OBS_REQUEST, T0 + MS(1), "GET /rst HTTP/1.1\r\n\r\n", 0);
	feed(f, &s, OBS_RESPONSE, T0 + MS(5), resp, 0);
	feed(f, &c, OBS_RESPONSE, T0 + MS(6), resp, 0);
	feed(f, &s, OBS_CLOSE, T0 + MS(20), NULL, 0);
	feed(f, &c, OBS_CLOSE, T0 + MS(21), NULL, ECONNRESET);
	settle(f, T0 + MS(21));
	assert_int_equal(f->n, 2);
	for (int i = 0; i < 2; i++) {
		const struct span *sp = &f->spans[i];
		bool server = sp->kind == SPAN_KIND_SERVER;

		assert_int_equal(sp->status, SPAN_STATUS_ERROR);
		assert_string_equal(sp->error_type,
				    server ? "response_incomplete" : "connection_reset");
		assert_int_equal(sp->end_unix_ns, OFFSET + (server ? MS(20) : MS(21)));
	}
}

/* Not cuts: a response that ended before the close, and one that the
 * close delimits (no length). */
static void test_whole_responses_not_errors(void **state)
{
	struct fx *f = *state;
	struct side s = server_side(1, 40000), s2 = server_side(5, 40001);

	start(f);
	feed(f, &s, OBS_REQUEST, T0, "GET /whole HTTP/1.1\r\n\r\n", 0);
	feed(f, &s, OBS_RESPONSE, T0 + MS(2), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0);
	feed(f, &s, OBS_RESPONSE_END, T0 + MS(2), NULL, 0);
	feed(f, &s, OBS_CLOSE, T0 + MS(9), NULL, 0);
	feed(f, &s2, OBS_REQUEST, T0, "GET /toclose HTTP/1.0\r\n\r\n", 0);
	feed(f, &s2, OBS_RESPONSE, T0 + MS(2), "HTTP/1.0 200 OK\r\n\r\nabc", 0);
	feed(f, &s2, OBS_CLOSE, T0 + MS(4), NULL, 0);
	settle(f, T0 + MS(9));
	assert_int_equal(f->n, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(f->spans[i].status, SPAN_STATUS_UNSET);
		assert_string_equal(f->spans[i].error_type, "");
	}
}

/* error.type of a status error is the code; a server's 4xx is none. */
static void test_error_type_status(void **state)
{
	struct fx *f = *state;

	start(f);
	server_exchange(f, "", 503, MS(1));
	assert_string_equal(only(f)->error_type, "503");
	f->n = 0;
	server_exchange(f, "", 404, MS(1));
	assert_string_equal(only(f)->error_type, "");
}

/* --- methods --- */

static void test_unknown_method_other(void **state)
{
	struct fx *f = *state;
	struct side s = server_side(1, 40000);

	start(f);
	feed(f, &s, OBS_REQUEST, T0, "PURGE /cache/item HTTP/1.1\r\nHost: c\r\n\r\n", 0);
	feed(f, &s, OBS_RESPONSE, T0 + MS(1), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0);
	settle(f, T0 + MS(1));
	assert_string_equal(only(f)->method, "_OTHER");
	assert_string_equal(f->spans[0].method_original, "PURGE");
	assert_string_equal(f->spans[0].name, "HTTP /cache/item");
	f->n = 0;
	feed(f, &s, OBS_REQUEST, T0 + MS(5), "GET /x HTTP/1.1\r\n\r\n", 0);
	feed(f, &s, OBS_RESPONSE, T0 + MS(6), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0);
	settle(f, T0 + MS(6));
	assert_string_equal(only(f)->method_original, "");
}

/* --- attributes per side --- */

static void test_server_attributes(void **state)
{
	struct fx *f = *state;

	start(f);
	server_exchange(f,
			"Host: shop.example:8443\r\nUser-Agent: curl/8.5.0\r\n"
			"X-Other: 1\r\n",
			200, MS(1));
	const struct span *sp = only(f);

	assert_string_equal(sp->server.address, "shop.example"); /* from Host */
	assert_int_equal(sp->server.port, 8443);
	assert_string_equal(sp->client.address, "127.0.0.2");
	assert_int_equal(sp->client.port, 40000);
	assert_string_equal(sp->peer.address, "127.0.0.2");
	assert_string_equal(sp->user_agent, "curl/8.5.0");
	assert_int_equal(sp->http_version, 11);
	assert_string_equal(sp->authority, ""); /* url.full is a client's */
	assert_int_equal(sp->pid, 200);
	assert_string_equal(sp->exe_name, "node");
	assert_string_equal(sp->name, "GET /api/v1/items/*");
}

static void client_query(struct fx *f, const char *target, const char *host_line)
{
	struct side c = client_side(3, 40000);
	char head[512];

	snprintf(head, sizeof(head), "GET %s HTTP/1.0\r\n%s\r\n", target, host_line);
	feed(f, &c, OBS_REQUEST, T0, head, 0);
	feed(f, &c, OBS_RESPONSE, T0 + MS(1), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0);
	settle(f, T0 + MS(1));
}

/* CLIENT: server.* is what the application called (the service address in
 * Host), network.peer.* the endpoint the socket reached; signed-URL keys
 * are always redacted. */
static void test_client_attributes(void **state)
{
	struct fx *f = *state;

	start(f);
	client_query(f, "/api/items?id=3&sig=s3cr3t&x", "Host: 127.100.0.10\r\n");
	const struct span *sp = only(f);

	assert_string_equal(sp->server.address, "127.100.0.10");
	assert_int_equal(sp->server.port, 80);
	assert_string_equal(sp->peer.address, "127.0.0.1");
	assert_int_equal(sp->peer.port, 18081);
	assert_string_equal(sp->client.address, "");
	assert_string_equal(sp->path, "/api/items");
	assert_string_equal(sp->query, "id=3&sig=REDACTED&x");
	assert_string_equal(sp->authority, "127.100.0.10");
	assert_int_equal(sp->http_version, 10);
	assert_string_equal(sp->name, "GET");
}

static void test_client_without_host_and_v6_host(void **state)
{
	struct fx *f = *state;

	start(f);
	client_query(f, "/a", "");
	assert_string_equal(only(f)->server.address, "127.0.0.1"); /* the socket's */
	assert_int_equal(f->spans[0].server.port, 18081);
	assert_string_equal(f->spans[0].authority, "127.0.0.1:18081");
	f->n = 0;
	client_query(f, "/b", "Host: [fd00::10]:8080\r\n");
	assert_string_equal(only(f)->server.address, "fd00::10");
	assert_int_equal(f->spans[0].server.port, 8080);
	assert_string_equal(f->spans[0].authority, "[fd00::10]:8080");
}

/* The load balancer's original destination, as the pipeline looks it up
 * (lb_conns by cookie): cookie 3 was sent from 127.100.0.10:80. */
static int lookups;

static int fake_service_addr(uint64_t cookie, struct obs_addr *out, void *ctx)
{
	(void)ctx;
	lookups++;
	if (cookie != 3)
		return -ENOENT;
	*out = v4("127.100.0.10", 80);
	return 0;
}

/* CLIENT server.* is the service address the application connected to,
 * whatever Host says; network.peer.* the endpoint; asked once a socket. */
static void test_client_service_address(void **state)
{
	struct fx *f = *state;
	struct side c = client_side(3, 40000), other = client_side(9, 40001);

	f->cfg.service_addr = fake_service_addr;
	lookups = 0;
	start(f);
	for (int i = 0; i < 3; i++) {
		feed(f, &c, OBS_REQUEST, T0 + MS(10 * i), "GET /a HTTP/1.1\r\nHost: users\r\n\r\n",
		     0);
		feed(f, &c, OBS_RESPONSE, T0 + MS(10 * i + 1),
		     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0);
	}
	feed(f, &other, OBS_REQUEST, T0, "GET /b HTTP/1.1\r\nHost: users:8080\r\n\r\n", 0);
	feed(f, &other, OBS_RESPONSE, T0 + MS(1), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	     0);
	settle(f, T0 + MS(30));
	assert_int_equal(f->n, 4);
	assert_int_equal(lookups, 2);
	for (int i = 0; i < f->n; i++) {
		const struct span *sp = &f->spans[i];
		bool lb = !strcmp(sp->path, "/a");

		assert_string_equal(sp->server.address, lb ? "127.100.0.10" : "users");
		assert_int_equal(sp->server.port, lb ? 80 : 8080);
		assert_string_equal(sp->peer.address, "127.0.0.1");
		assert_int_equal(sp->peer.port, 18081);
		/* url.full keeps the URL's authority, the Host */
		assert_string_equal(sp->authority, lb ? "users" : "users:8080");
	}
}

/* Capture reports what the balancer did with a client socket's first
 * request (obs.lb_known): its service address, or that it did not connect
 * the socket. Then nobody asks lb_conns, which forgets a socket that
 * closed before its request was read. */
static void test_client_service_address_from_capture(void **state)
{
	struct fx *f = *state;
	struct side lb = client_side(5, 40005), direct = client_side(3, 40003);

	lb.lb_known = true;
	lb.svc = v4("127.100.0.20", 8080);
	/* the fake would name 127.100.0.10: capture's "not balanced" wins */
	direct.lb_known = true;
	f->cfg.service_addr = fake_service_addr;
	lookups = 0;
	start(f);
	for (int i = 0; i < 2; i++) {
		feed(f, &lb, OBS_REQUEST, T0 + MS(10 * i), "GET /lb HTTP/1.1\r\nHost: shop\r\n\r\n",
		     0);
		feed(f, &lb, OBS_RESPONSE, T0 + MS(10 * i + 1),
		     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0);
	}
	feed(f, &direct, OBS_REQUEST, T0, "GET /direct HTTP/1.1\r\nHost: users:9090\r\n\r\n", 0);
	feed(f, &direct, OBS_RESPONSE, T0 + MS(1), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	     0);
	settle(f, T0 + MS(30));
	assert_int_equal(f->n, 3);
	assert_int_equal(lookups, 0);
	for (int i = 0; i < f->n; i++) {
		const struct span *sp = &f->spans[i];
		bool balanced = !strcmp(sp->path, "/lb");

		assert_string_equal(sp->server.address, balanced ? "127.100.0.20" : "users");
		assert_int_equal(sp->server.port, balanced ? 8080 : 9090);
		assert_string_equal(sp->peer.address, "127.0.0.1");
		assert_string_equal(sp->authority, balanced ? "shop" : "users:9090");
	}
}

static void test_redact_query(void **state)
{
	struct fx *f = *state;

	f->cfg.redact_query = true;
	start(f);
	client_query(f, "/s?q=secret&page=2&flag", "Host: s\r\n");
	assert_string_equal(only(f)->query, "q=REDACTED&page=REDACTED&flag");
}

/* A socket's IPv4 text, made by hand: inet_ntop's, byte for byte, for
 * every value of every octet (one, two and three digits, zeros inside). */
static void test_ipv4_text_as_inet_ntop(void **state)
{
	(void)state;
	for (int v = 0; v < 256; v++) {
		for (int pos = 0; pos < 4; pos++) {
			uint8_t a[16] = {10, 0, 255, 7};
			char want[INET_ADDRSTRLEN], got[SB_ADDR_TXT];

			a[pos] = (uint8_t)v;
			a[(pos + 1) % 4] = (uint8_t)(v * 37);
			assert_non_null(inet_ntop(AF_INET, a, want, sizeof(want)));
			memset(got, 'x', sizeof(got));
			sb_ipv4_text(a, got);
			assert_string_equal(got, want);
		}
	}
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_unsampled_parent_error_not_exported),
	    T(test_unsampled_parent_slow_not_exported),
	    T(test_sampled_parent_honoured),
	    T(test_root_error_and_slow_overrides),
	    T(test_tracestate_and_remote_parent),
	    T(test_close_before_content_length),
	    T(test_cut_ends_at_last_byte),
	    T(test_reset_in_body),
	    T(test_whole_responses_not_errors),
	    T(test_error_type_status),
	    T(test_unknown_method_other),
	    T(test_server_attributes),
	    T(test_client_attributes),
	    T(test_client_without_host_and_v6_host),
	    T(test_client_service_address),
	    T(test_client_service_address_from_capture),
	    T(test_redact_query),
	    cmocka_unit_test(test_ipv4_text_as_inet_ntop),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
