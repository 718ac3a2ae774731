/* SPDX-License-Identifier: Apache-2.0 */
/* test_inject.c: the agent's side of traceparent injection: the settings
 * (Telemetry propagation.inject, Workload tracing.inject), the span-id tag
 * that tells the kernel's headers from the applications' (inject_ids), and
 * the span builder adopting an injected header's ids for its CLIENT span. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bpf/inject.h"
#include "config/config.h"
#include "lb/inject.h"
#include "trace/inject_ids.h"
#include "trace/proto.h"
#include "trace/spanbuild.h"
#include "tmpdir.h"
#include "cfgfile.h"

#define KEY 0x5eed5eed12345678ULL
#define MS(x) ((uint64_t)(x)*1000000ULL)
#define T0 MS(1000000)

/* --- settings --- */

static const char workloads[] =
    "apiVersion: bpfmesh.io/v1alpha1\nkind: Service\nmetadata: {name: s}\n"
    "spec: {addresses: [\"127.100.0.1\"], ports: [{name: h, port: 80, targetPort: 8080}],"
    " endpoints: [{address: \"127.0.0.1\"}]}\n"
    "---\napiVersion: bpfmesh.io/v1alpha1\nkind: Workload\nmetadata: {name: on}\n"
    "spec: {service: s, cgroup: a, tracing: {inject: true}}\n"
    "---\napiVersion: bpfmesh.io/v1alpha1\nkind: Workload\nmetadata: {name: off}\n"
    "spec: {service: s, cgroup: b, tracing: {inject: false}}\n"
    "---\napiVersion: bpfmesh.io/v1alpha1\nkind: Workload\nmetadata: {name: unset}\n"
    "spec: {service: s, cgroup: c}\n";

static const struct cfg_workload *wl(const struct mesh_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_workloads; i++)
		if (!strcmp(cfg->workloads[i].meta.name, name))
			return &cfg->workloads[i];
	fail_msg("no workload %s", name);
	return NULL;
}

static void test_config_workload_inject(void **state)
{
	char file[512];
	struct mesh_config *cfg = NULL;

	snprintf(file, sizeof(file), "%s/w.yaml", (char *)*state);
	cfgfile_load(*state, file, &cfg, workloads);
	assert_int_equal(wl(cfg, "on")->inject, CFG_INJECT_ON);
	assert_int_equal(wl(cfg, "off")->inject, CFG_INJECT_OFF);
	assert_int_equal(wl(cfg, "unset")->inject, CFG_INJECT_UNSET);
	/* a Workload that turns it on is enough */
	assert_true(inject_wanted(cfg));
	config_free(cfg);
}

static void test_config_telemetry_inject(void **state)
{
	char file[512];
	struct mesh_config *cfg = NULL;

	snprintf(file, sizeof(file), "%s/t.yaml", (char *)*state);
	cfgfile_load(*state, file, &cfg,
		     "apiVersion: bpfmesh.io/v1alpha1\nkind: Telemetry\nmetadata: {name: t}\n"
		     "spec: {sampling: {ratio: 1}}\n");
	assert_false(cfg->telemetry->propagation_inject); /* off by default */
	assert_false(inject_wanted(cfg));
	cfgfile_load(*state, file, &cfg,
		     "apiVersion: bpfmesh.io/v1alpha1\nkind: Telemetry\nmetadata: {name: t}\n"
		     "spec: {propagation: {inject: true}}\n");
	assert_true(cfg->telemetry->propagation_inject);
	assert_true(inject_wanted(cfg));
	config_free(cfg);
}

static void test_config_inject_invalid(void **state)
{
	struct mesh_config *cfg = NULL;
	struct cfg_errors errs = {0};

	put(*state, "w.yaml",
	    "apiVersion: bpfmesh.io/v1alpha1\nkind: Service\nmetadata: {name: s}\n"
	    "spec: {addresses: [\"127.100.0.1\"], ports: [{name: h, port: 80}],"
	    " endpoints: [{address: \"127.0.0.1\"}]}\n"
	    "---\napiVersion: bpfmesh.io/v1alpha1\nkind: Workload\nmetadata: {name: w}\n"
	    "spec: {service: s, cgroup: a, tracing: {inject: sometimes}}\n");
	assert_int_not_equal(config_load(*state, &cfg, &errs), 0);
	assert_true(errs.n >= 1);
	assert_non_null(strstr(errs.msgs[0], "spec.tracing.inject"));
	cfg_errors_free(&errs);
	config_free(cfg);
}

/* --- the tag --- */

static struct obs_addr v4(const char *ip, uint16_t port)
{
	struct obs_addr a = {.family = AF_INET, .port = port};

	assert_int_equal(inet_pton(AF_INET, ip, a.addr), 1);
	return a;
}

/* The span id the kernel would make with random half r for the sending
 * socket local -> remote (bpf/inject.bpf.c msg_conn, make_header). */
static void kernel_span_id(const struct obs_addr *l, const struct obs_addr *r, uint32_t hi,
			   uint8_t out[8])
{
	__u32 lw[4] = {0, 0, htonl(0xffff), 0}, rw[4] = {0, 0, htonl(0xffff), 0};
	uint32_t lo;

	memcpy(&lw[3], l->addr, 4);
	memcpy(&rw[3], r->addr, 4);
	lo = inject_tag(hi, inject_conn(lw, rw, l->port, r->port), KEY);
	for (int i = 0; i < 4; i++) {
		out[i] = (uint8_t)(hi >> (24 - 8 * i));
		out[4 + i] = (uint8_t)(lo >> (24 - 8 * i));
	}
}

static void test_tag(void **state)
{
	struct obs o = {.role = OBS_ROLE_CLIENT};
	struct trace_parent tp = {.flags = 1};

	(void)state;
	o.local = v4("10.0.0.1", 41000);
	o.remote = v4("10.0.0.2", 8080);
	kernel_span_id(&o.local, &o.remote, 0xdeadbeef, tp.span_id);
	assert_true(inject_ids_ours(&o, &tp, KEY));
	assert_false(inject_ids_ours(&o, &tp, 0));	 /* injection off */
	assert_false(inject_ids_ours(&o, &tp, KEY + 1)); /* an earlier agent's */
	/* the same header on another connection: forwarded by the application */
	o.local.port = 41001;
	assert_false(inject_ids_ours(&o, &tp, KEY));
	o.local.port = 41000;
	/* a dual-stack socket reports IPv4-mapped addresses: the same tag */
	o.local.family = AF_INET6;
	memset(o.local.addr, 0, 16);
	o.local.addr[10] = o.local.addr[11] = 0xff;
	inet_pton(AF_INET, "10.0.0.1", o.local.addr + 12);
	assert_true(inject_ids_ours(&o, &tp, KEY));
	/* a server never sends an injected request */
	o.role = OBS_ROLE_SERVER;
	assert_false(inject_ids_ours(&o, &tp, KEY));
}

/* --- the span builder --- */

#define MAX_SPANS 16
static struct span spans[MAX_SPANS];
static int n_spans;

static void capture(const struct span *sp, const struct span_packed *pk, void *ctx)
{
	(void)pk;
	(void)ctx;
	assert_true(n_spans < MAX_SPANS);
	spans[n_spans++] = *sp;
}

static struct spanbuild *builder(void)
{
	struct sb_config c = {
	    .emit = capture,
	    .host_name = "node",
	    .sampling_ratio = 1.0,
	    .sample_errors = true,
	    .seed = 7,
	};
	struct spanbuild *sb = sb_new(&c);

	assert_non_null(sb);
	sb_set_inject_key(sb, KEY);
	n_spans = 0;
	return sb;
}

struct side {
	uint64_t cookie;
	uint8_t role;
	struct obs_addr local, remote;
	uint32_t tgid, tid;
};

static void feed(struct spanbuild *sb, const struct side *sd, uint8_t kind, uint64_t ts,
		 const char *head)
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
	o.local = sd->local;
	o.remote = sd->remote;
	if (head)
		http1->parse(kind, head, strlen(head), &o);
	snprintf(o.service, sizeof(o.service), "svc%u", sd->tgid);
	sb_feed(sb, &o);
}

/* A request as the capture shows it after injection: the header right
 * after the request line, ids of the sending socket. */
static void injected(struct spanbuild *sb, const struct side *sd, const struct side *sender,
		     uint64_t ts, const char *path, char tp_out[56])
{
	uint8_t span[8];
	char head[512];
	int n;

	kernel_span_id(&sender->local, &sender->remote, 0x01020304, span);
	n = snprintf(tp_out, 56, "00-4bf92f3577b34da6a3ce929d0e0e4736-");
	for (int i = 0; i < 8; i++)
		n += snprintf(tp_out + n, 56 - n, "%02x", span[i]);
	snprintf(tp_out + n, 56 - n, "-01");
	snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\ntraceparent: %s\r\nHost: x\r\n\r\n", path,
		 tp_out);
	feed(sb, sd, OBS_REQUEST, ts, head);
}

static void answer(struct spanbuild *sb, const struct side *sd, uint64_t ts)
{
	feed(sb, sd, OBS_RESPONSE, ts, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

static void assert_hex(const uint8_t *b, size_t n, const char *hex)
{
	char s[64] = "";

	for (size_t i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", b[i]);
	assert_string_equal(s, hex);
}

static const struct span *find(uint8_t kind, const char *path)
{
	for (int i = 0; i < n_spans; i++)
		if (spans[i].kind == kind && !strcmp(spans[i].path, path))
			return &spans[i];
	fail_msg("no span of kind %d for %s", kind, path);
	return NULL;
}

static bool zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* The CLIENT span is the header's span, a root; the callee's SERVER span on
 * this node (same header) its child. */
static void test_adopt_ids(void **state)
{
	struct spanbuild *sb = builder();
	struct side c = {10, OBS_ROLE_CLIENT, v4("127.0.0.1", 40000), v4("127.0.0.1", 8080), 100,
			 101};
	struct side s = {11, OBS_ROLE_SERVER, v4("127.0.0.1", 8080), v4("127.0.0.1", 40000), 200,
			 201};
	char tp[56];
	struct sb_stats st;

	(void)state;
	injected(sb, &c, &c, T0, "/a", tp);
	injected(sb, &s, &c, T0 + MS(1), "/a", tp);
	answer(sb, &s, T0 + MS(2));
	answer(sb, &c, T0 + MS(3));
	sb_tick(sb, T0 + MS(60000));
	assert_int_equal(n_spans, 2);

	const struct span *cs = find(SPAN_KIND_CLIENT, "/a"), *ss = find(SPAN_KIND_SERVER, "/a");

	assert_hex(cs->trace_id, 16, "4bf92f3577b34da6a3ce929d0e0e4736");
	tp[52] = 0; /* the header's span id: tp + 36 */
	assert_hex(cs->span_id, 8, tp + 36);
	assert_memory_equal(cs->trace_id, ss->trace_id, 16);
	assert_memory_equal(ss->parent_span_id, cs->span_id, 8);
	assert_true(zero(cs->parent_span_id, 8));
	sb_get_stats(sb, &st);
	assert_int_equal(st.injected, 1);
	assert_int_equal(st.client_traceparents, 0);
	sb_free(sb);
}

/* A thread serving a request sends a call with an injected header: the
 * kernel made the trace id without knowing the served one, the callee
 * joined the header's trace, so the call stays there, a root (the limit
 * README states). */
static void test_injected_not_nested(void **state)
{
	struct spanbuild *sb = builder();
	struct side in = {20, OBS_ROLE_SERVER, v4("127.0.0.1", 8000), v4("10.1.2.3", 50000), 100,
			  101};
	struct side out = {21, OBS_ROLE_CLIENT, v4("10.0.0.1", 41000), v4("10.0.0.9", 9999), 100,
			   101};
	char tp[56];
	struct sb_stats st;

	(void)state;
	feed(sb, &in, OBS_REQUEST, T0, "GET /checkout HTTP/1.1\r\nHost: x\r\n\r\n");
	injected(sb, &out, &out, T0 + MS(1), "/users", tp);
	answer(sb, &out, T0 + MS(2));
	answer(sb, &in, T0 + MS(3));
	sb_tick(sb, T0 + MS(60000));
	assert_int_equal(n_spans, 2);

	const struct span *gs = find(SPAN_KIND_SERVER, "/checkout");
	const struct span *gc = find(SPAN_KIND_CLIENT, "/users");

	assert_hex(gc->trace_id, 16, "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_true(zero(gc->parent_span_id, 8));
	assert_memory_not_equal(gs->trace_id, gc->trace_id, 16);
	sb_get_stats(sb, &st);
	assert_int_equal(st.nested, 0);
	assert_int_equal(st.injected, 1);
	sb_free(sb);
}

/* The kernel's header passed on by the application on another connection
 * (a proxy forwarding headers) is the application's context, not ours. */
static void test_forwarded_header_not_ours(void **state)
{
	struct spanbuild *sb = builder();
	struct side first = {30, OBS_ROLE_CLIENT, v4("10.0.0.1", 42000), v4("10.0.0.9", 80), 100,
			     101};
	struct side other = {31, OBS_ROLE_CLIENT, v4("10.0.0.1", 42001), v4("10.0.0.8", 80), 100,
			     101};
	char tp[56];
	struct sb_stats st;

	(void)state;
	injected(sb, &other, &first, T0, "/fwd", tp);
	answer(sb, &other, T0 + MS(1));
	sb_tick(sb, T0 + MS(60000));
	/* a traceparent the process sent and was not sent: its own, so an SDK
	 * exports this CLIENT span (spanbuild_link.c), not bpfmesh */
	assert_int_equal(n_spans, 0);
	sb_get_stats(sb, &st);
	assert_int_equal(st.injected, 0);
	assert_int_equal(st.client_traceparents, 1);
	assert_int_equal(st.sdk_duplicates, 1);
	sb_free(sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_config_workload_inject, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_telemetry_inject, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_inject_invalid, setup, teardown),
	    cmocka_unit_test(test_tag),
	    cmocka_unit_test(test_adopt_ids),
	    cmocka_unit_test(test_injected_not_nested),
	    cmocka_unit_test(test_forwarded_header_not_ours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
