/* SPDX-License-Identifier: Apache-2.0 */
/* test_spanbuild_sdk.c: the span builder beside OpenTelemetry SDKs, and
 * nesting only with evidence: headers win over same-node pairing; a process
 * seen sending traceparents of its own (or whose Workload says so) is
 * SDK-instrumented, its duplicates unsampled, its own export calls never
 * nested, the mark expiring; a traceparent passed on unchanged marks
 * nothing; a call nests only under the one request its thread is serving,
 * a second request in flight (even one observed late) undoing it. */
#include <arpa/inet.h>
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
#define T0 MS(1000000)
#define MAX_SPANS 256

#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define APP_SPAN "a3ce929d0e0e4736"
#define CALLER_SPAN "00f067aa0ba902b7"
#define TP_APP "00-" TRACE "-" APP_SPAN "-01"
#define TP_CALLER "00-" TRACE "-" CALLER_SPAN "-01"

/* Processes: 400's Workload says instrumented: true, 500's false; every
 * other one is auto. */
#define PID_SDK_CFG 400
#define PID_NO_SDK_CFG 500

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
	f->cfg.sampling_ratio = 1.0;
	f->cfg.emit_unsampled = true; /* the histograms' view: every span, sampled or not */
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
	uint32_t tgid, tid;
	uint64_t cgroup_id;
	uint32_t svc; /* names its service "svc-N"; 0: its tgid does */
};

static struct obs_addr v4(const char *ip, uint16_t port)
{
	struct obs_addr a = {.family = AF_INET, .port = port};

	assert_int_equal(inet_pton(AF_INET, ip, a.addr), 1);
	return a;
}

/* The two sockets of a connection on this node; threads tgid + 1. */
static void conn(struct side *c, struct side *s, uint64_t cookie, uint16_t cport, uint16_t sport,
		 uint32_t ctgid, uint32_t stgid)
{
	*c = (struct side){.cookie = cookie,
			   .role = OBS_ROLE_CLIENT,
			   .local = v4("127.0.0.1", cport),
			   .remote = v4("127.0.0.1", sport),
			   .tgid = ctgid,
			   .tid = ctgid + 1,
			   .cgroup_id = ctgid};
	*s = (struct side){.cookie = cookie + 1,
			   .role = OBS_ROLE_SERVER,
			   .local = v4("127.0.0.1", sport),
			   .remote = v4("127.0.0.1", cport),
			   .tgid = stgid,
			   .tid = stgid + 1,
			   .cgroup_id = stgid};
}

/* A request served for a client off this node (no pair). */
static void outside(struct side *s, uint64_t cookie, uint16_t cport, uint32_t tgid)
{
	struct side c;

	conn(&c, s, cookie, cport, 8000, 1, tgid);
	s->remote = v4("10.1.2.3", cport);
}

/* A call to a server off this node. */
static void call_out(struct side *c, uint64_t cookie, uint16_t cport, uint32_t tgid)
{
	struct side s;

	conn(c, &s, cookie, cport, 9999, tgid, 7);
	c->remote = v4("10.0.0.9", 9999);
}

static void feed(struct fx *f, const struct side *sd, uint8_t kind, uint64_t ts, const char *head)
{
	const struct proto_parser *http1 = proto_by_id(OBS_PROTO_HTTP1);
	struct obs o;

	memset(&o, 0, sizeof(o));
	o.cookie = sd->cookie;
	o.kind = kind;
	o.role = sd->role;
	o.ts_ns = ts;
	o.tgid = sd->tgid;
	o.tid = sd->tid;
	o.cgroup_id = sd->cgroup_id;
	o.local = sd->local;
	o.remote = sd->remote;
	if (head)
		http1->parse(kind, head, strlen(head), &o);
	if (kind == OBS_REQUEST) {
		snprintf(o.service, sizeof(o.service), "svc-%u", sd->svc ? sd->svc : sd->tgid);
		if (sd->tgid == PID_SDK_CFG)
			o.instrumented = OBS_INSTR_YES;
		else if (sd->tgid == PID_NO_SDK_CFG)
			o.instrumented = OBS_INSTR_NO;
	}
	sb_feed(f->sb, &o);
}

/* A GET of path with a traceparent of value tp (NULL: none). */
static void req(struct fx *f, const struct side *sd, uint64_t ts, const char *path, const char *tp)
{
	char head[512];

	snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: x\r\n%s%s%s\r\n", path,
		 tp ? "traceparent: " : "", tp ? tp : "", tp ? "\r\n" : "");
	feed(f, sd, OBS_REQUEST, ts, head);
}

static void resp(struct fx *f, const struct side *sd, uint64_t ts)
{
	feed(f, sd, OBS_RESPONSE, ts, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

static void settle(struct fx *f, uint64_t last) { sb_tick(f->sb, last + MS(60000)); }

static const struct span *span_of(struct fx *f, uint8_t kind, const char *path)
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
#define SERVER(f, path) span_of(f, SPAN_KIND_SERVER, path)
#define CLIENT(f, path) span_of(f, SPAN_KIND_CLIENT, path)

static bool is_root(const struct span *sp)
{
	static const uint8_t zero[8];

	return !memcmp(sp->parent_span_id, zero, sizeof(zero));
}

static void assert_child(const struct span *child, const struct span *parent)
{
	assert_memory_equal(child->trace_id, parent->trace_id, 16);
	assert_memory_equal(child->parent_span_id, parent->span_id, 8);
}

static void assert_ids(const struct span *sp, const char *trace, const char *parent)
{
	uint8_t t[16], p[8];

	for (int i = 0; i < 16; i++)
		assert_int_equal(sscanf(trace + 2 * i, "%2hhx", &t[i]), 1);
	for (int i = 0; i < 8; i++)
		assert_int_equal(sscanf(parent + 2 * i, "%2hhx", &p[i]), 1);
	assert_memory_equal(sp->trace_id, t, 16);
	assert_memory_equal(sp->parent_span_id, p, 8);
}

static struct sb_stats stats(struct fx *f)
{
	struct sb_stats st;

	sb_get_stats(f->sb, &st);
	return st;
}
#define STAT(f, field) ((uint64_t)stats(f).field)

/* A service (100) with an SDK: serves a request, calls 200 on this node with
 * its own context. Its SERVER and CLIENT spans are the SDK's to export;
 * 200's SERVER span hangs under the SDK's CLIENT span, exported. */
static void test_own_traceparent_marks_sdk(void **state)
{
	struct fx *f = *state;
	struct side in, out, callee;

	start(f);
	outside(&in, 10, 50000, 100);
	conn(&out, &callee, 20, 41000, 8081, 100, 200);
	out.tid = in.tid;
	req(f, &in, T0, "/a", NULL);
	req(f, &out, T0 + MS(1), "/b", TP_APP);
	req(f, &callee, T0 + MS(2), "/b", TP_APP);
	resp(f, &callee, T0 + MS(3));
	resp(f, &out, T0 + MS(4));
	resp(f, &in, T0 + MS(5));
	settle(f, T0 + MS(5));
	assert_int_equal(f->n, 3);
	assert_int_equal(SERVER(f, "/a")->sampled, 0);
	assert_int_equal(CLIENT(f, "/b")->sampled, 0);
	assert_int_equal(SERVER(f, "/b")->sampled, 1);
	assert_ids(SERVER(f, "/b"), TRACE, APP_SPAN);
	assert_int_equal(STAT(f, sdk_marks), 1);
	assert_int_equal(STAT(f, sdk_duplicates), 2);
	assert_int_equal(STAT(f, sdk_processes), 1);
}

/* A proxy without an SDK passes the traceparent it was sent on unchanged,
 * with two requests in flight on its one thread (so the call nests under
 * neither): it is not marked, its spans are exported; the call's parent is
 * the header's span, and the callee on this node hangs under the call (the
 * header names only an ancestor of it, in the same trace). */
static void test_forwarded_traceparent_not_sdk(void **state)
{
	struct fx *f = *state;
	struct side in1, in2, out, callee;

	start(f);
	outside(&in1, 10, 50000, 100);
	outside(&in2, 12, 50001, 100);
	conn(&out, &callee, 20, 41000, 8081, 100, 200);
	req(f, &in1, T0, "/a", TP_CALLER);
	req(f, &in2, T0 + MS(1), "/other", NULL);
	req(f, &out, T0 + MS(2), "/b", TP_CALLER);
	req(f, &callee, T0 + MS(3), "/b", TP_CALLER);
	resp(f, &callee, T0 + MS(4));
	resp(f, &out, T0 + MS(5));
	resp(f, &in1, T0 + MS(6));
	resp(f, &in2, T0 + MS(7));
	settle(f, T0 + MS(7));
	assert_int_equal(f->n, 4);
	for (int i = 0; i < f->n; i++)
		assert_int_equal(f->spans[i].sampled, 1);
	assert_ids(SERVER(f, "/a"), TRACE, CALLER_SPAN);
	assert_ids(CLIENT(f, "/b"), TRACE, CALLER_SPAN);
	assert_child(SERVER(f, "/b"), CLIENT(f, "/b"));
	assert_int_equal(STAT(f, sdk_marks), 0);
	assert_int_equal(STAT(f, sdk_duplicates), 0);
	assert_int_equal(STAT(f, nested), 0);
}

/* The mark lasts sdk_ttl_ns after the last own traceparent, and belongs
 * to the process in its cgroup (a pid reused elsewhere is another one). */
static void test_sdk_mark_expires(void **state)
{
	struct fx *f = *state;
	struct side out, in1, in2, in3;

	f->cfg.sdk_ttl_ns = MS(1000);
	start(f);
	call_out(&out, 10, 41000, 100);
	outside(&in1, 20, 50000, 100);
	outside(&in2, 30, 50001, 100);
	outside(&in3, 40, 50002, 100);
	in3.cgroup_id = 999; /* the same pid, another process */
	req(f, &out, T0, "/own", TP_APP);
	resp(f, &out, T0 + MS(1));
	req(f, &in1, T0 + MS(500), "/within", NULL);
	resp(f, &in1, T0 + MS(501));
	req(f, &in3, T0 + MS(600), "/reused", NULL);
	resp(f, &in3, T0 + MS(601));
	req(f, &in2, T0 + MS(3000), "/after", NULL);
	resp(f, &in2, T0 + MS(3001));
	sb_tick(f->sb, T0 + MS(3002));
	assert_int_equal(STAT(f, sdk_processes), 0);
	settle(f, T0 + MS(3001));
	assert_int_equal(f->n, 4);
	assert_int_equal(CLIENT(f, "/own")->sampled, 0);
	assert_int_equal(SERVER(f, "/within")->sampled, 0);
	assert_int_equal(SERVER(f, "/reused")->sampled, 1);
	assert_int_equal(SERVER(f, "/after")->sampled, 1);
}

/* The marks the daemon hands to traceparent injection (sb_sdk_procs): the
 * process and its cgroup while the mark lasts; never a process whose
 * Workload says instrumented: false, however it sends traceparents. */
static void test_sdk_procs_listed(void **state)
{
	struct fx *f = *state;
	struct side sdk, no;
	struct sb_sdk_id ids[4];

	f->cfg.sdk_ttl_ns = MS(1000);
	start(f);
	call_out(&sdk, 10, 41000, 100);
	call_out(&no, 20, 41001, PID_NO_SDK_CFG);
	sdk.cgroup_id = 77;
	assert_int_equal(sb_sdk_procs(f->sb, ids, 4), 0);
	req(f, &sdk, T0, "/own", TP_APP);
	req(f, &no, T0, "/own-too", TP_APP);
	resp(f, &sdk, T0 + MS(1));
	resp(f, &no, T0 + MS(1));
	sb_tick(f->sb, T0 + MS(900));
	assert_int_equal(sb_sdk_procs(f->sb, ids, 4), 1);
	assert_int_equal(ids[0].tgid, 100);
	assert_int_equal(ids[0].cgroup_id, 77);
	assert_int_equal(sb_sdk_procs(f->sb, ids, 0), 0); /* bounded by max */
	sb_tick(f->sb, T0 + MS(1002));
	assert_int_equal(sb_sdk_procs(f->sb, ids, 4), 0); /* expired */
}

/* A request whose thread the capture could not tell goes by its service:
 * SDK-instrumented when a process of that service is marked. */
static void test_unknown_thread_by_service(void **state)
{
	struct fx *f = *state;
	struct side out, in_same, in_other;

	start(f);
	call_out(&out, 10, 41000, 100);
	outside(&in_same, 20, 50000, 100);
	outside(&in_other, 30, 50001, 300);
	in_same.tgid = in_same.tid = 0;
	in_same.svc = 100;
	in_other.tgid = in_other.tid = 0;
	in_other.svc = 300;
	req(f, &out, T0, "/own", TP_APP);
	resp(f, &out, T0 + MS(1));
	req(f, &in_same, T0 + MS(2), "/same", NULL);
	resp(f, &in_same, T0 + MS(3));
	req(f, &in_other, T0 + MS(2), "/other", NULL);
	resp(f, &in_other, T0 + MS(3));
	settle(f, T0 + MS(3));
	assert_int_equal(f->n, 3);
	assert_int_equal(SERVER(f, "/same")->sampled, 0);
	assert_int_equal(SERVER(f, "/other")->sampled, 1);
}

/* instrumented: true marks a process that never sent a traceparent (its
 * calls without one are its own, roots, even with the thread's evidence);
 * false keeps bpfmesh's spans of a process that sends its own. */
static void test_workload_says(void **state)
{
	struct fx *f = *state;
	struct side in_y, out_y, in_n, out_n, callee;

	start(f);
	outside(&in_y, 10, 50000, PID_SDK_CFG);
	call_out(&out_y, 20, 41000, PID_SDK_CFG);
	out_y.tid = in_y.tid;
	outside(&in_n, 30, 50001, PID_NO_SDK_CFG);
	conn(&out_n, &callee, 40, 41001, 8081, PID_NO_SDK_CFG, 200);
	out_n.tid = in_n.tid;
	req(f, &in_y, T0, "/y", NULL);
	req(f, &out_y, T0 + MS(1), "/y-call", NULL);
	resp(f, &out_y, T0 + MS(2));
	resp(f, &in_y, T0 + MS(3));
	req(f, &in_n, T0, "/n", NULL);
	req(f, &out_n, T0 + MS(1), "/n-call", TP_APP);
	req(f, &callee, T0 + MS(2), "/n-call", TP_APP);
	resp(f, &callee, T0 + MS(3));
	resp(f, &out_n, T0 + MS(4));
	resp(f, &in_n, T0 + MS(5));
	settle(f, T0 + MS(5));
	assert_int_equal(f->n, 5);
	assert_int_equal(SERVER(f, "/y")->sampled, 0);
	assert_int_equal(CLIENT(f, "/y-call")->sampled, 1);
	assert_true(is_root(CLIENT(f, "/y-call")));
	assert_int_equal(SERVER(f, "/n")->sampled, 1);
	assert_int_equal(CLIENT(f, "/n-call")->sampled, 1);
	assert_ids(CLIENT(f, "/n-call"), TRACE, APP_SPAN);
	/* no SDK wrote that header (the Workload says so): bpfmesh's CLIENT
	 * span is the hop, the callee its child, in the header's trace */
	assert_child(SERVER(f, "/n-call"), CLIENT(f, "/n-call"));
	assert_int_equal(STAT(f, sdk_duplicates), 1);
}

/* An SDK's export call made while it serves a request, before anything
 * marked the process (nested at first): at emit it is a root in a trace
 * of its own, and the collector's SERVER span on this node goes with it.
 * Once marked, the next export call is never nested. */
static void test_sdk_export_call_not_nested(void **state)
{
	struct fx *f = *state;
	struct side in1, in2, exp1, col1, exp2, col2, out;

	start(f);
	outside(&in1, 10, 50000, 100);
	outside(&in2, 12, 50001, 100);
	conn(&exp1, &col1, 20, 41000, 4318, 100, 300);
	conn(&exp2, &col2, 22, 41001, 4318, 100, 300);
	call_out(&out, 24, 41002, 100);
	exp1.tid = exp2.tid = out.tid = in1.tid;
	req(f, &in1, T0, "/a", NULL);
	req(f, &exp1, T0 + MS(1), "/v1/traces", NULL);
	req(f, &col1, T0 + MS(2), "/v1/traces", NULL);
	resp(f, &col1, T0 + MS(3));
	resp(f, &exp1, T0 + MS(4));
	req(f, &out, T0 + MS(5), "/b", TP_APP);
	resp(f, &out, T0 + MS(6));
	resp(f, &in1, T0 + MS(7));
	req(f, &in2, T0 + MS(10), "/a2", NULL);
	req(f, &exp2, T0 + MS(11), "/v1/traces/2", NULL);
	req(f, &col2, T0 + MS(12), "/v1/traces/2", NULL);
	resp(f, &col2, T0 + MS(13));
	resp(f, &exp2, T0 + MS(14));
	resp(f, &in2, T0 + MS(15));
	settle(f, T0 + MS(15));
	assert_int_equal(f->n, 7);

	const struct span *e1 = span_of(f, SPAN_KIND_CLIENT, "/v1/traces");
	const struct span *c1 = span_of(f, SPAN_KIND_SERVER, "/v1/traces");

	assert_true(is_root(e1));
	assert_int_equal(e1->sampled, 1);
	assert_memory_not_equal(e1->trace_id, SERVER(f, "/a")->trace_id, 16);
	assert_child(c1, e1);
	assert_int_equal(c1->sampled, 1);
	assert_true(is_root(CLIENT(f, "/v1/traces/2")));
	assert_memory_not_equal(CLIENT(f, "/v1/traces/2")->trace_id, SERVER(f, "/a2")->trace_id,
				16);
	assert_child(SERVER(f, "/v1/traces/2"), CLIENT(f, "/v1/traces/2"));
	assert_int_equal(SERVER(f, "/a")->sampled, 0);
	assert_int_equal(SERVER(f, "/a2")->sampled, 0);
	assert_int_equal(STAT(f, nested), 0);
}

/* Evidence for nesting: the thread that read the request, between that
 * read and its response. Another thread, a call after the response, or a
 * second request in flight on the thread (an event loop): no parent. */
static void test_nesting_evidence(void **state)
{
	struct fx *f = *state;
	struct side in1, in2, in3, o1, o2, o3, o4;

	start(f);
	outside(&in1, 10, 50000, 100);
	outside(&in2, 12, 50001, 100);
	outside(&in3, 14, 50002, 100);
	call_out(&o1, 20, 41000, 100);
	call_out(&o2, 22, 41001, 100);
	call_out(&o3, 24, 41002, 100);
	call_out(&o4, 26, 41003, 100);
	o1.tid = o2.tid = in1.tid;
	o3.tid = 555; /* another thread */
	o4.tid = in1.tid;
	req(f, &in1, T0, "/one", NULL);
	req(f, &o1, T0 + MS(1), "/alone", NULL);
	resp(f, &o1, T0 + MS(2));
	req(f, &o3, T0 + MS(2), "/other-thread", NULL);
	resp(f, &o3, T0 + MS(3));
	req(f, &in2, T0 + MS(3), "/two", NULL);
	req(f, &o2, T0 + MS(4), "/two-in-flight", NULL);
	resp(f, &o2, T0 + MS(5));
	resp(f, &in1, T0 + MS(6));
	resp(f, &in2, T0 + MS(7));
	req(f, &o4, T0 + MS(8), "/after-response", NULL);
	resp(f, &o4, T0 + MS(9));
	req(f, &in3, T0 + MS(20), "/three", NULL);
	resp(f, &in3, T0 + MS(21));
	settle(f, T0 + MS(21));
	assert_int_equal(f->n, 7);
	assert_child(CLIENT(f, "/alone"), SERVER(f, "/one"));
	assert_true(is_root(CLIENT(f, "/other-thread")));
	assert_true(is_root(CLIENT(f, "/two-in-flight")));
	assert_true(is_root(CLIENT(f, "/after-response")));
	assert_int_equal(STAT(f, nested), 1);
}

/* An event loop with two requests in flight, the second observed after the
 * call (records of two CPUs): the nesting made first is undone, the call a
 * root in a trace of its own; what hangs under it on this node goes with
 * it, the callee's SERVER span and the calls the callee made for it, those
 * linked before the undoing and after. */
static void test_nesting_undone_by_late_request(void **state)
{
	struct fx *f = *state;
	struct side in1, in2, out, callee, dep2, dep3;

	start(f);
	outside(&in1, 10, 50000, 100);
	outside(&in2, 12, 50001, 100);
	conn(&out, &callee, 20, 41000, 8081, 100, 200);
	call_out(&dep2, 30, 42000, 200);
	call_out(&dep3, 32, 42001, 200);
	in2.tid = out.tid = in1.tid;
	dep2.tid = dep3.tid = callee.tid;
	req(f, &in1, T0, "/one", NULL);
	req(f, &out, T0 + MS(2), "/dep", NULL);
	req(f, &callee, T0 + MS(3), "/dep", NULL);
	req(f, &dep2, T0 + MS(4), "/dep2", NULL);
	resp(f, &dep2, T0 + MS(5));
	req(f, &in2, T0 + MS(1), "/two", NULL);
	req(f, &dep3, T0 + MS(6), "/dep3", NULL);
	resp(f, &dep3, T0 + MS(7));
	resp(f, &callee, T0 + MS(8));
	resp(f, &out, T0 + MS(9));
	resp(f, &in1, T0 + MS(10));
	resp(f, &in2, T0 + MS(11));
	settle(f, T0 + MS(11));
	assert_int_equal(f->n, 6);
	assert_true(is_root(CLIENT(f, "/dep")));
	assert_memory_not_equal(CLIENT(f, "/dep")->trace_id, SERVER(f, "/one")->trace_id, 16);
	assert_child(SERVER(f, "/dep"), CLIENT(f, "/dep"));
	assert_child(CLIENT(f, "/dep2"), SERVER(f, "/dep"));
	assert_child(CLIENT(f, "/dep3"), SERVER(f, "/dep"));
	assert_int_equal(STAT(f, nested), 2);
	assert_int_equal(STAT(f, pending), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_own_traceparent_marks_sdk),
	    T(test_forwarded_traceparent_not_sdk),
	    T(test_sdk_mark_expires),
	    T(test_sdk_procs_listed),
	    T(test_unknown_thread_by_service),
	    T(test_workload_says),
	    T(test_sdk_export_call_not_nested),
	    T(test_nesting_evidence),
	    T(test_nesting_undone_by_late_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
