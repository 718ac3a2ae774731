/* SPDX-License-Identifier: Apache-2.0 */
/* test_otlp.c: the OTLP trace exporter. Encoding is checked by decoding it
 * back with protobuf-c and comparing every field (and a few raw wire bytes
 * against the wire types of the upstream .proto); gzip by inflating it; the
 * retry, backoff and Retry-After decisions with a pinned clock and random
 * value; and the exporter itself against collectors played by a thread on
 * 127.0.0.1 (answering, failing, hanging) or missing altogether (port 9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "exporters/otlp.h"
#include "exporters/otlp_encode.h"
#include "exporters/otlp_node.h"
#include "exporters/otlp_retry.h"
#include "lib/log.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "fake_collector.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest ExportReq;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;

/* ---- spans and decoding helpers ---------------------------------------- */

static struct span make_span(uint8_t id, const char *svc, const char *ns, const char *host)
{
	struct span s;

	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 16; i++)
		s.trace_id[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 8; i++)
		s.span_id[i] = (uint8_t)(id + i);
	s.kind = SPAN_KIND_SERVER;
	s.status = SPAN_STATUS_UNSET;
	s.sampled = 1;
	s.start_unix_ns = 1700000000000000000ULL + id;
	s.end_unix_ns = 1700000000250000000ULL + id;
	snprintf(s.name, sizeof(s.name), "GET /api/v1/users/{id}");
	snprintf(s.method, sizeof(s.method), "GET");
	s.status_code = 200;
	snprintf(s.path, sizeof(s.path), "/api/v1/users/%u", id);
	snprintf(s.route, sizeof(s.route), "/api/v1/users/{id}");
	snprintf(s.server.address, sizeof(s.server.address), "10.0.0.1");
	s.server.port = 8080;
	snprintf(s.client.address, sizeof(s.client.address), "10.0.0.2");
	s.client.port = 40000;
	snprintf(s.peer.address, sizeof(s.peer.address), "10.0.0.2");
	s.peer.port = 40000;
	snprintf(s.service_name, sizeof(s.service_name), "%s", svc);
	snprintf(s.service_namespace, sizeof(s.service_namespace), "%s", ns);
	snprintf(s.host_name, sizeof(s.host_name), "%s", host);
	return s;
}

static ExportReq *decode(const struct otlp_buf *b)
{
	ExportReq *r =
	    opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, b->len, b->data);

	assert_non_null(r);
	return r;
}

static void free_req(ExportReq *r)
{
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    r, NULL);
}

static void assert_str_attr(KeyValue *kv, const char *key, const char *val)
{
	assert_string_equal(kv->key, key);
	assert_non_null(kv->value);
	assert_int_equal(kv->value->value_case,
			 OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
	assert_string_equal(kv->value->string_value, val);
}

static void assert_int_attr(KeyValue *kv, const char *key, int64_t val)
{
	assert_string_equal(kv->key, key);
	assert_non_null(kv->value);
	assert_int_equal(kv->value->value_case,
			 OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
	assert_int_equal(kv->value->int_value, val);
}

/* Every field the encoder writes, compared with the span it came from. */
static void assert_span_equal(const Span *p, const struct span *s)
{
	bool root = true;
	size_t a = 0;

	assert_int_equal(p->trace_id.len, 16);
	assert_memory_equal(p->trace_id.data, s->trace_id, 16);
	assert_int_equal(p->span_id.len, 8);
	assert_memory_equal(p->span_id.data, s->span_id, 8);
	for (int i = 0; i < 8; i++)
		root &= !s->parent_span_id[i];
	if (root) {
		assert_int_equal(p->parent_span_id.len, 0);
	} else {
		assert_int_equal(p->parent_span_id.len, 8);
		assert_memory_equal(p->parent_span_id.data, s->parent_span_id, 8);
	}
	/* W3C flags, and bit 8: whether the parent is remote (bit 9) is known */
	assert_int_equal(p->flags, (s->trace_flags & ~1u) | (s->sampled ? 1 : 0) | 0x100 |
				       (s->parent_remote ? 0x200 : 0));
	assert_string_equal(p->name, s->name);
	assert_int_equal(p->kind, s->kind);
	assert_true(p->start_time_unix_nano == s->start_unix_ns);
	assert_true(p->end_time_unix_nano == s->end_unix_ns);
	assert_string_equal(p->trace_state, s->tracestate);
	assert_int_equal(p->n_events, 0);
	assert_int_equal(p->n_links, 0);
	if (s->status == SPAN_STATUS_UNSET && !s->status_message[0]) {
		assert_null(p->status);
	} else {
		assert_non_null(p->status);
		assert_int_equal(p->status->code, s->status);
		assert_string_equal(p->status->message, s->status_message);
	}

	if (s->method[0])
		assert_str_attr(p->attributes[a++], "http.request.method", s->method);
	if (s->method_original[0])
		assert_str_attr(p->attributes[a++], "http.request.method_original",
				s->method_original);
	if (s->status_code)
		assert_int_attr(p->attributes[a++], "http.response.status_code", s->status_code);
	if (s->error_type[0])
		assert_str_attr(p->attributes[a++], "error.type", s->error_type);
	assert_str_attr(p->attributes[a++], "url.scheme", "http");
	if (s->path[0])
		assert_str_attr(p->attributes[a++], "url.path", s->path);
	if (s->query[0])
		assert_str_attr(p->attributes[a++], "url.query", s->query);
	if (s->kind == SPAN_KIND_CLIENT && s->authority[0] && s->path[0] == '/')
		assert_string_equal(p->attributes[a++]->key, "url.full");
	if (s->kind == SPAN_KIND_SERVER && s->route[0]) /* a server attribute */
		assert_str_attr(p->attributes[a++], "http.route", s->route);
	if (s->server.address[0])
		assert_str_attr(p->attributes[a++], "server.address", s->server.address);
	if (s->server.port)
		assert_int_attr(p->attributes[a++], "server.port", s->server.port);
	if (s->kind == SPAN_KIND_SERVER && s->client.address[0])
		assert_str_attr(p->attributes[a++], "client.address", s->client.address);
	if (s->peer.address[0])
		assert_str_attr(p->attributes[a++], "network.peer.address", s->peer.address);
	if (s->peer.port)
		assert_int_attr(p->attributes[a++], "network.peer.port", s->peer.port);
	if (s->http_version)
		assert_string_equal(p->attributes[a++]->key, "network.protocol.version");
	if (s->user_agent[0])
		assert_str_attr(p->attributes[a++], "user_agent.original", s->user_agent);
	assert_int_equal(p->n_attributes, a);
}

/* ---- encoding ----------------------------------------------------------- */

static void test_encode_roundtrip(void **state)
{
	struct span s[4];
	struct otlp_buf b;
	ExportReq *r;

	(void)state;
	s[0] = make_span(1, "users", "shop", "node-1");
	s[1] = make_span(2, "orders", "shop", "node-1");
	s[1].kind = SPAN_KIND_CLIENT; /* client.address must not be sent */
	s[1].status = SPAN_STATUS_ERROR;
	s[1].status_code = 503;
	snprintf(s[1].status_message, sizeof(s[1].status_message), "HTTP 503");
	memset(s[1].parent_span_id, 0x11, 8);
	s[1].sampled = 0;
	s[2] = make_span(3, "users", "shop", "node-1");
	s[2].status_code = 0; /* no response: no status code attribute */
	s[2].status = SPAN_STATUS_ERROR;
	snprintf(s[2].status_message, sizeof(s[2].status_message), "connection reset");
	s[2].route[0] = 0;
	s[2].server.port = 0;
	s[3] = make_span(4, "users", "other-ns", "node-1"); /* same name, other resource */
	s[3].status = SPAN_STATUS_OK;

	assert_int_equal(otlp_encode_traces(s, 4, "1.2.3", &b), 0);
	r = decode(&b);
	/* groups in order of first appearance; spans keep their order within */
	assert_int_equal(r->n_resource_spans, 3);
	const struct {
		const char *svc, *ns;
		int spans[2], n;
	} want[3] = {{"users", "shop", {0, 2}, 2},
		     {"orders", "shop", {1}, 1},
		     {"users", "other-ns", {3}, 1}};
	for (int g = 0; g < 3; g++) {
		Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = r->resource_spans[g];

		assert_non_null(rs->resource);
		/* and telemetry.sdk.name, .version */
		assert_int_equal(rs->resource->n_attributes, 5);
		assert_str_attr(rs->resource->attributes[0], "service.name", want[g].svc);
		assert_str_attr(rs->resource->attributes[1], "service.namespace", want[g].ns);
		assert_str_attr(rs->resource->attributes[2], "host.name", "node-1");
		assert_string_equal(rs->schema_url, "");
		assert_int_equal(rs->n_scope_spans, 1);
		assert_non_null(rs->scope_spans[0]->scope);
		assert_string_equal(rs->scope_spans[0]->scope->name, "bpfmesh");
		assert_string_equal(rs->scope_spans[0]->scope->version, "1.2.3");
		assert_int_equal(rs->scope_spans[0]->n_spans, want[g].n);
		for (int i = 0; i < want[g].n; i++)
			assert_span_equal(rs->scope_spans[0]->spans[i], &s[want[g].spans[i]]);
	}
	free_req(r);
	otlp_buf_free(&b);
}

static void set_pod(struct span *s, const char *pod, const char *uid, const char *ctr,
		    const char *kind, const char *owner)
{
	snprintf(s->k8s.pod_name, sizeof(s->k8s.pod_name), "%s", pod);
	snprintf(s->k8s.pod_uid, sizeof(s->k8s.pod_uid), "%s", uid);
	snprintf(s->k8s.container_name, sizeof(s->k8s.container_name), "%s", ctr);
	snprintf(s->k8s.node_name, sizeof(s->k8s.node_name), "kind-worker");
	snprintf(s->k8s.owner_kind, sizeof(s->k8s.owner_kind), "%s", kind);
	snprintf(s->k8s.owner_name, sizeof(s->k8s.owner_name), "%s", owner);
}

/* The value of resource attribute key, NULL when absent. */
static const char *res_attr(const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs,
			    const char *key)
{
	for (size_t i = 0; i < rs->resource->n_attributes; i++)
		if (!strcmp(rs->resource->attributes[i]->key, key))
			return rs->resource->attributes[i]->value->string_value;
	return NULL;
}

/* A pod's spans carry the Kubernetes resource attributes; two pods (or two
 * containers of one pod) of the same service are two resources; a span that
 * is no pod's keeps the plain service resource. */
static void test_encode_k8s_resources(void **state)
{
	struct span s[5];
	struct otlp_buf b;
	ExportReq *r;

	(void)state;
	for (int i = 0; i < 5; i++)
		s[i] = make_span((uint8_t)(i + 1), "web", "prod", "node-1");
	set_pod(&s[0], "web-7c9f8d6b5d-x2kqp", "3f0a7c1e-0e8e-4f55-b0a1-6b8b1c9d2e70", "web",
		"Deployment", "web");
	set_pod(&s[1], "web-7c9f8d6b5d-9zzkq", "11111111-2222-3333-4444-555555555555", "web",
		"Deployment", "web");
	s[2] = s[0]; /* same pod and container: same resource */
	memset(s[2].span_id, 0x77, 8);
	set_pod(&s[3], "db-0", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "", "StatefulSet", "db");
	/* s[4]: no pod */

	assert_int_equal(otlp_encode_traces(s, 5, "1", &b), 0);
	r = decode(&b);
	assert_int_equal(r->n_resource_spans, 4);
	assert_int_equal(r->resource_spans[0]->scope_spans[0]->n_spans, 2);
	assert_span_equal(r->resource_spans[0]->scope_spans[0]->spans[1], &s[2]);

	assert_int_equal(r->resource_spans[0]->resource->n_attributes, 12);
	assert_string_equal(res_attr(r->resource_spans[0], "service.name"), "web");
	assert_string_equal(res_attr(r->resource_spans[0], "service.namespace"), "prod");
	assert_string_equal(res_attr(r->resource_spans[0], "service.instance.id"),
			    "3f0a7c1e-0e8e-4f55-b0a1-6b8b1c9d2e70/web");
	assert_string_equal(res_attr(r->resource_spans[0], "k8s.namespace.name"), "prod");
	assert_string_equal(res_attr(r->resource_spans[0], "k8s.pod.name"), "web-7c9f8d6b5d-x2kqp");
	assert_string_equal(res_attr(r->resource_spans[0], "k8s.pod.uid"),
			    "3f0a7c1e-0e8e-4f55-b0a1-6b8b1c9d2e70");
	assert_string_equal(res_attr(r->resource_spans[0], "k8s.container.name"), "web");
	assert_string_equal(res_attr(r->resource_spans[0], "k8s.node.name"), "kind-worker");
	assert_string_equal(res_attr(r->resource_spans[0], "k8s.deployment.name"), "web");

	assert_string_equal(res_attr(r->resource_spans[1], "k8s.pod.name"), "web-7c9f8d6b5d-9zzkq");
	assert_string_equal(res_attr(r->resource_spans[1], "service.instance.id"),
			    "11111111-2222-3333-4444-555555555555/web");

	/* no container known: none, and the instance is the pod */
	assert_int_equal(r->resource_spans[2]->resource->n_attributes, 11);
	assert_null(res_attr(r->resource_spans[2], "k8s.container.name"));
	assert_null(res_attr(r->resource_spans[2], "k8s.deployment.name"));
	assert_string_equal(res_attr(r->resource_spans[2], "k8s.statefulset.name"), "db");
	assert_string_equal(res_attr(r->resource_spans[2], "service.instance.id"),
			    "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");

	/* not a pod: service.name, service.namespace, host.name only */
	assert_int_equal(r->resource_spans[3]->resource->n_attributes, 5);
	assert_null(res_attr(r->resource_spans[3], "k8s.namespace.name"));
	assert_null(res_attr(r->resource_spans[3], "service.instance.id"));
	free_req(r);
	otlp_buf_free(&b);
}

static void test_encode_resource_defaults(void **state)
{
	struct span s = make_span(9, "", "", "");
	struct otlp_buf b;
	ExportReq *r;

	(void)state;
	assert_int_equal(otlp_encode_traces(&s, 1, NULL, &b), 0);
	r = decode(&b);
	assert_int_equal(r->n_resource_spans, 1);
	/* service.name is never left out, nor telemetry.sdk.name; empty
	 * namespace and host are, and the version without a scope version */
	assert_int_equal(r->resource_spans[0]->resource->n_attributes, 2);
	assert_str_attr(r->resource_spans[0]->resource->attributes[0], "service.name",
			"unknown_service");
	assert_string_equal(r->resource_spans[0]->scope_spans[0]->scope->version, "");
	free_req(r);
	otlp_buf_free(&b);
}

static bool contains(const struct otlp_buf *b, const uint8_t *pat, size_t n)
{
	for (size_t i = 0; i + n <= b->len; i++)
		if (!memcmp(b->data + i, pat, n))
			return true;
	return false;
}

/* The generated code and the encoder agree with each other by construction;
 * these bytes are what the upstream trace.proto says, checked independently:
 * timestamps fixed64 (fields 7, 8 -> tags 0x39, 0x41), flags fixed32 (16 ->
 * 0x85 0x01), Status.code a varint in field 3 (tag 0x18), kind field 6 (0x30). */
static void test_encode_wire_types(void **state)
{
	struct span s = make_span(1, "svc", "", "");
	struct otlp_buf b;
	uint8_t start[9] = {0x39}, end[9] = {0x41};
	const uint8_t flags[] = {0x85, 0x01, 0x01, 0x01, 0x00, 0x00}; /* sampled, HAS_IS_REMOTE */
	const uint8_t status[] = {0x7a, 0x02, 0x18, 0x02}; /* Span.status (15), code ERROR */
	const uint8_t kind[] = {0x30, 0x02};

	(void)state;
	s.status = SPAN_STATUS_ERROR;
	s.start_unix_ns = 0x0102030405060708ULL;
	s.end_unix_ns = 0x1112131415161718ULL;
	for (int i = 0; i < 8; i++) {
		start[1 + i] = (uint8_t)(s.start_unix_ns >> (8 * i));
		end[1 + i] = (uint8_t)(s.end_unix_ns >> (8 * i));
	}
	assert_int_equal(otlp_encode_traces(&s, 1, "v", &b), 0);
	assert_true(contains(&b, start, sizeof(start)));
	assert_true(contains(&b, end, sizeof(end)));
	assert_true(contains(&b, flags, sizeof(flags)));
	assert_true(contains(&b, status, sizeof(status)));
	assert_true(contains(&b, kind, sizeof(kind)));
	otlp_buf_free(&b);
}

/* The attribute named key of a span or resource, NULL when absent. */
static KeyValue *find_attr(KeyValue **kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i]->key, key))
			return kv[i];
	return NULL;
}

#define ATTR(obj, key) find_attr((obj)->attributes, (obj)->n_attributes, (key))

/* A CLIENT span of an unknown method with a cut response, under a remote
 * parent with tracestate: every convention the span builder fills, and the
 * resource of a process outside a pod on a known machine. */
static void test_encode_semconv(void **state)
{
	struct span s = make_span(1, "web", "shop", "node-1");
	struct otlp_node node = {"4c4c4544004e3510", "amd64", "linux"};
	struct otlp_buf b;
	ExportReq *r;
	Span *p;
	Opentelemetry__Proto__Resource__V1__Resource *res;

	(void)state;
	s.kind = SPAN_KIND_CLIENT;
	snprintf(s.method, sizeof(s.method), "_OTHER");
	snprintf(s.method_original, sizeof(s.method_original), "PURGE");
	snprintf(s.error_type, sizeof(s.error_type), "connection_reset");
	snprintf(s.path, sizeof(s.path), "/cache/x");
	snprintf(s.query, sizeof(s.query), "a=1&sig=REDACTED");
	snprintf(s.authority, sizeof(s.authority), "127.100.0.10");
	snprintf(s.user_agent, sizeof(s.user_agent), "curl/8.5.0");
	snprintf(s.tracestate, sizeof(s.tracestate), "vendor=a1");
	s.http_version = 11;
	s.trace_flags = 0x02; /* level 2 "random": kept beside sampled */
	s.parent_remote = true;
	s.pid = 4242;
	snprintf(s.exe_name, sizeof(s.exe_name), "python3.11");
	assert_int_equal(otlp_encode_traces_node(&s, 1, "0.9.0", &node, &b), 0);
	r = decode(&b);
	p = r->resource_spans[0]->scope_spans[0]->spans[0];
	assert_span_equal(p, &s);
	assert_int_equal(p->flags, 0x303);
	assert_string_equal(p->trace_state, "vendor=a1");
	assert_str_attr(ATTR(p, "url.full"), "url.full",
			"http://127.100.0.10/cache/x?a=1&sig=REDACTED");
	assert_str_attr(ATTR(p, "network.protocol.version"), "network.protocol.version", "1.1");
	assert_str_attr(ATTR(p, "url.scheme"), "url.scheme", "http");
	assert_null(ATTR(p, "http.route"));
	assert_null(ATTR(p, "client.address"));

	res = r->resource_spans[0]->resource;
	assert_str_attr(ATTR(res, "telemetry.sdk.name"), "telemetry.sdk.name", "bpfmesh");
	assert_str_attr(ATTR(res, "telemetry.sdk.version"), "telemetry.sdk.version", "0.9.0");
	assert_str_attr(ATTR(res, "telemetry.sdk.language"), "telemetry.sdk.language", "python");
	assert_str_attr(ATTR(res, "service.instance.id"), "service.instance.id",
			"4c4c4544004e3510:4242");
	assert_int_attr(ATTR(res, "process.pid"), "process.pid", 4242);
	assert_str_attr(ATTR(res, "process.executable.name"), "process.executable.name",
			"python3.11");
	assert_str_attr(ATTR(res, "host.id"), "host.id", "4c4c4544004e3510");
	assert_str_attr(ATTR(res, "host.arch"), "host.arch", "amd64");
	assert_str_attr(ATTR(res, "os.type"), "os.type", "linux");
	free_req(r);
	otlp_buf_free(&b);

	/* a Go binary says nothing of its language; two processes are two
	 * resources */
	struct span two[2] = {s, s};

	snprintf(two[0].exe_name, sizeof(two[0].exe_name), "user-service");
	two[1].pid = 4343;
	assert_int_equal(otlp_encode_traces_node(two, 2, "0.9.0", &node, &b), 0);
	r = decode(&b);
	assert_int_equal(r->n_resource_spans, 2);
	assert_null(ATTR(r->resource_spans[0]->resource, "telemetry.sdk.language"));
	free_req(r);
	otlp_buf_free(&b);
	assert_string_equal(otlp_node_arch("aarch64"), "arm64");
	assert_null(otlp_node_arch("vax"));
}

static void test_encode_bad_strings(void **state)
{
	struct span s = make_span(1, "svc", "", "");
	struct otlp_buf b;
	ExportReq *r;
	Span *p;

	(void)state;
	/* a lone continuation byte and a truncated sequence become U+FFFD; valid
	 * multi-byte text is kept */
	snprintf(s.path, sizeof(s.path), "/caf\xc3\xa9/\x80x\xe2\x82");
	/* a field without its NUL is sent empty rather than read past */
	memset(s.route, 'r', sizeof(s.route));
	assert_int_equal(otlp_encode_traces(&s, 1, "v", &b), 0);
	r = decode(&b);
	p = r->resource_spans[0]->scope_spans[0]->spans[0];
	assert_str_attr(p->attributes[3], "url.path",
			"/caf\xc3\xa9/\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(p->attributes[4]->key, "server.address"); /* no http.route */
	free_req(r);
	otlp_buf_free(&b);
}

static void test_encode_empty_and_large(void **state)
{
	enum { N = 512 };
	struct span *s = calloc(N, sizeof(*s));
	struct otlp_buf b;
	ExportReq *r;
	char svc[16];

	(void)state;
	assert_int_equal(otlp_encode_traces(NULL, 0, "v", &b), 0);
	assert_int_equal(b.len, 0);
	otlp_buf_free(&b);

	/* a full batch spread over 7 services, interleaved */
	for (int i = 0; i < N; i++) {
		snprintf(svc, sizeof(svc), "svc-%d", i % 7);
		s[i] = make_span((uint8_t)i, svc, "ns", "h");
	}
	assert_int_equal(otlp_encode_traces(s, N, "v", &b), 0);
	r = decode(&b);
	assert_int_equal(r->n_resource_spans, 7);
	for (int g = 0, total = 0; g < 7; g++) {
		snprintf(svc, sizeof(svc), "svc-%d", g);
		assert_str_attr(r->resource_spans[g]->resource->attributes[0], "service.name", svc);
		for (size_t k = 0; k < r->resource_spans[g]->scope_spans[0]->n_spans; k++)
			assert_span_equal(r->resource_spans[g]->scope_spans[0]->spans[k],
					  &s[g + 7 * (int)k]);
		total += (int)r->resource_spans[g]->scope_spans[0]->n_spans;
		if (g == 6)
			assert_int_equal(total, N);
	}
	free_req(r);
	otlp_buf_free(&b);
	free(s);
}

static void test_gzip_roundtrip(void **state)
{
	struct span s[3] = {make_span(1, "a", "", ""), make_span(2, "a", "", ""),
			    make_span(3, "b", "", "")};
	struct otlp_buf raw, gz, back;

	(void)state;
	assert_int_equal(otlp_encode_traces(s, 3, "v", &raw), 0);
	assert_int_equal(otlp_gzip(raw.data, raw.len, &gz), 0);
	assert_true(gz.len > 18);
	assert_int_equal(gz.data[0], 0x1f); /* gzip magic, not a zlib header */
	assert_int_equal(gz.data[1], 0x8b);
	/* XFL (RFC 1952): 4, the fastest compression; gzip is most of the
	 * exporter's CPU at the default level */
	assert_int_equal(gz.data[8], 4);
	assert_int_equal(gunzip(gz.data, gz.len, &back), 0);
	assert_int_equal(back.len, raw.len);
	assert_memory_equal(back.data, raw.data, raw.len);
	otlp_buf_free(&raw);
	otlp_buf_free(&gz);
	otlp_buf_free(&back);

	assert_int_equal(otlp_gzip((const uint8_t *)"", 0, &gz), 0);
	assert_int_equal(gunzip(gz.data, gz.len, &back), 0);
	assert_int_equal(back.len, 0);
	otlp_buf_free(&gz);
	otlp_buf_free(&back);
}

static struct otlp_buf pack_response(int64_t rejected, const char *msg)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse r =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;

	ps.rejected_spans = rejected;
	ps.error_message = (char *)msg;
	r.partial_success = &ps;
	return pack_msg(&r.base);
}

static void test_decode_response(void **state)
{
	struct otlp_buf b = pack_response(5, "bad span\nid");
	int64_t rej = -1;
	char msg[64];

	(void)state;
	assert_int_equal(otlp_decode_response(b.data, b.len, &rej, msg, sizeof(msg)), 0);
	assert_int_equal(rej, 5);
	assert_string_equal(msg, "bad span?id"); /* one log line */
	otlp_buf_free(&b);

	b = pack_response(0, "use gzip");
	assert_int_equal(otlp_decode_response(b.data, b.len, &rej, msg, sizeof(msg)), 0);
	assert_int_equal(rej, 0);
	assert_string_equal(msg, "use gzip");
	otlp_buf_free(&b);

	assert_int_equal(otlp_decode_response(NULL, 0, &rej, msg, sizeof(msg)), 0);
	assert_int_equal(rej, 0);
	assert_string_equal(msg, "");
	assert_int_equal(
	    otlp_decode_response((const uint8_t *)"{\"x\":1}", 7, &rej, msg, sizeof(msg)), -EINVAL);
}

static void test_status_message(void **state)
{
	/* google.rpc.Status{code: 3, message: "bad trace id", details: [..]} */
	const uint8_t st[] = {0x08, 0x03, 0x1a, 0x02, 0x0a, 0x00, 0x12, 0x0c, 'b', 'a',
			      'd',  ' ',  't',	'r',  'a',  'c',  'e',	' ',  'i', 'd'};
	const uint8_t no_msg[] = {0x08, 0x03};
	const uint8_t cut[] = {0x12, 0x20, 'x'};
	char msg[8];

	(void)state;
	assert_int_equal(otlp_status_message(st, sizeof(st), msg, sizeof(msg)), 0);
	assert_string_equal(msg, "bad tra"); /* truncated to the buffer */
	assert_int_equal(otlp_status_message(no_msg, sizeof(no_msg), msg, sizeof(msg)), -ENOENT);
	assert_int_equal(otlp_status_message(cut, sizeof(cut), msg, sizeof(msg)), -ENOENT);
	assert_int_equal(
	    otlp_status_message((const uint8_t *)"404 page not found", 18, msg, sizeof(msg)),
	    -ENOENT);
	assert_int_equal(otlp_status_message(NULL, 0, msg, sizeof(msg)), -ENOENT);
}

/* ---- retry decisions ---------------------------------------------------- */

static void test_retryable_status(void **state)
{
	const long yes[] = {429, 502, 503, 504};
	const long no[] = {200, 204, 301, 400, 401, 403, 404, 408, 413, 415, 500, 501, 505};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(otlp_status_retryable(yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(otlp_status_retryable(no[i]));
}

static void test_classify(void **state)
{
	(void)state;
	assert_int_equal(otlp_classify(CURLE_OK, 200), OTLP_DONE);
	assert_int_equal(otlp_classify(CURLE_OK, 202), OTLP_DONE);
	assert_int_equal(otlp_classify(CURLE_OK, 503), OTLP_RETRY);
	assert_int_equal(otlp_classify(CURLE_OK, 429), OTLP_RETRY);
	assert_int_equal(otlp_classify(CURLE_OK, 400), OTLP_FAIL);
	assert_int_equal(otlp_classify(CURLE_OK, 500), OTLP_FAIL);
	assert_int_equal(otlp_classify(CURLE_OK, 302), OTLP_FAIL); /* redirects are not followed */
	/* network errors, and a server closing without an answer: retry */
	assert_int_equal(otlp_classify(CURLE_COULDNT_CONNECT, 0), OTLP_RETRY);
	assert_int_equal(otlp_classify(CURLE_OPERATION_TIMEDOUT, 0), OTLP_RETRY);
	assert_int_equal(otlp_classify(CURLE_GOT_NOTHING, 0), OTLP_RETRY);
	assert_int_equal(otlp_classify(CURLE_RECV_ERROR, 0), OTLP_RETRY);
	assert_int_equal(otlp_classify(CURLE_COULDNT_RESOLVE_HOST, 0), OTLP_RETRY);
	/* the same again next time: final */
	assert_int_equal(otlp_classify(CURLE_URL_MALFORMAT, 0), OTLP_FAIL);
	assert_int_equal(otlp_classify(CURLE_SSL_CERTPROBLEM, 0), OTLP_FAIL);
	assert_int_equal(otlp_classify(CURLE_PEER_FAILED_VERIFICATION, 0), OTLP_FAIL);
	assert_int_equal(otlp_classify(CURLE_WRITE_ERROR, 200), OTLP_FAIL);
}

static void test_retry_after_seconds(void **state)
{
	uint64_t ms = 1;

	(void)state;
	assert_int_equal(otlp_retry_after_ms("120", 0, &ms), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(otlp_retry_after_ms(" 5\r\n", 0, &ms), 0);
	assert_int_equal(ms, 5000);
	assert_int_equal(otlp_retry_after_ms("0", 0, &ms), 0);
	assert_int_equal(ms, 0);
	/* absurd values are capped at a day instead of overflowing */
	assert_int_equal(otlp_retry_after_ms("99999999999999999999999", 0, &ms), 0);
	assert_int_equal(ms, 86400000);
	assert_int_equal(otlp_retry_after_ms("-1", 0, &ms), -EINVAL);
	assert_int_equal(otlp_retry_after_ms("1.5", 0, &ms), -EINVAL);
	assert_int_equal(otlp_retry_after_ms("5s", 0, &ms), -EINVAL);
	assert_int_equal(otlp_retry_after_ms("", 0, &ms), -EINVAL);
	assert_int_equal(otlp_retry_after_ms("soon", 0, &ms), -EINVAL);
}

static void test_retry_after_dates(void **state)
{
	struct tm tm = {.tm_year = 94, .tm_mon = 10, .tm_mday = 6, .tm_hour = 8, .tm_min = 49};
	time_t now = timegm(&tm); /* Sun, 06 Nov 1994 08:49:00 GMT */
	uint64_t ms = 1;

	(void)state;
	assert_int_equal(otlp_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", now, &ms), 0);
	assert_int_equal(ms, 37000);
	assert_int_equal(otlp_retry_after_ms("Sunday, 06-Nov-94 08:49:37 GMT", now, &ms), 0);
	assert_int_equal(ms, 37000);
	assert_int_equal(otlp_retry_after_ms("Sun Nov  6 08:49:37 1994", now, &ms), 0);
	assert_int_equal(ms, 37000);
	assert_int_equal(otlp_retry_after_ms("Mon, 07 Nov 1994 08:49:00 GMT", now, &ms), 0);
	assert_int_equal(ms, 86400000);
	/* a date already past: retry now */
	assert_int_equal(otlp_retry_after_ms("Sun, 06 Nov 1994 08:00:00 GMT", now, &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(otlp_retry_after_ms("Sun, 06 Foo 1994 08:49:37 GMT", now, &ms), -EINVAL);
	assert_int_equal(otlp_retry_after_ms("Sun, 06 Nov 1994 25:49:37 GMT", now, &ms), -EINVAL);
	assert_int_equal(otlp_retry_after_ms("Sun, 06 Nov 1994 08:49:37 CET", now, &ms), -EINVAL);
	assert_int_equal(otlp_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT x", now, &ms), -EINVAL);
}

static void test_backoff(void **state)
{
	struct otlp_backoff b = {.initial_ms = 500,
				 .max_ms = 5000,
				 .multiplier = 2,
				 .jitter = OTLP_JITTER_FULL,
				 .max_elapsed_ms = 30000};
	const uint64_t base[] = {500, 1000, 2000, 4000, 5000, 5000};
	const double top = 0.999999;

	(void)state;
	for (unsigned i = 0; i < 6; i++) {
		/* full jitter spans [0, b) */
		assert_int_equal(otlp_backoff_ms(&b, i, 0), 0);
		assert_in_range(otlp_backoff_ms(&b, i, top), base[i] - 1, base[i]);
		assert_int_equal(otlp_backoff_ms(&b, i, 0.5), base[i] / 2);
	}
	b.jitter = OTLP_JITTER_EQUAL;
	for (unsigned i = 0; i < 6; i++) {
		/* equal jitter spans [b/2, b) */
		assert_int_equal(otlp_backoff_ms(&b, i, 0), base[i] / 2);
		assert_in_range(otlp_backoff_ms(&b, i, top), base[i] - 1, base[i]);
	}
	/* no overflow however many attempts */
	assert_in_range(otlp_backoff_ms(&b, 1000, top), 4999, 5000);
	/* an out-of-range random value is treated as 0, not trusted */
	assert_int_equal(otlp_backoff_ms(&b, 0, 7.0), 250);
}

static void test_next_retry(void **state)
{
	struct otlp_backoff b = {.initial_ms = 1000,
				 .max_ms = 8000,
				 .multiplier = 2,
				 .jitter = OTLP_JITTER_EQUAL,
				 .max_elapsed_ms = 30000};
	uint64_t wait = 0;

	(void)state;
	/* no Retry-After: the jittered backoff */
	assert_true(otlp_next_retry(&b, 2, 1000, -1, 0, &wait));
	assert_int_equal(wait, 2000);
	/* a longer Retry-After is honoured; a shorter one (or 0) does not make
	 * the retries faster than the backoff */
	assert_true(otlp_next_retry(&b, 3, 1000, 7000, 0, &wait));
	assert_int_equal(wait, 7000);
	assert_true(otlp_next_retry(&b, 0, 1000, 0, 0, &wait));
	assert_int_equal(wait, 500);
	assert_true(otlp_next_retry(&b, 3, 1000, 2000, 0, &wait));
	assert_int_equal(wait, 4000);
	/* the budget: a retry that would start after 30 s is not made */
	assert_true(otlp_next_retry(&b, 0, 29000, -1, 0.999, &wait));
	assert_true(otlp_next_retry(&b, 4, 26000, -1, 0, &wait));
	assert_int_equal(wait, 4000);
	assert_false(otlp_next_retry(&b, 4, 26001, -1, 0, &wait));
	assert_false(otlp_next_retry(&b, 0, 1000, 60000, 0, &wait));
	assert_false(otlp_next_retry(&b, 0, 31000, 0, 0, &wait));
}

/* ---- a collector on 127.0.0.1 ------------------------------------------ */

static uint64_t all_dropped(const struct otlp_stats *st)
{
	uint64_t n = 0;

	for (int d = 0; d < OTLP_DROP__MAX; d++)
		n += st->spans_dropped[d];
	return n;
}

/* Every span offered ends in exactly one counter. */
static void assert_accounted(const struct otlp_stats *st, uint64_t offered)
{
	assert_int_equal(st->spans_exported + all_dropped(st), offered);
	assert_int_equal(st->spans_submitted + st->spans_dropped[OTLP_DROP_QUEUE_FULL] +
			     st->spans_dropped[OTLP_DROP_INVALID],
			 offered);
}

static ExportReq *decode_gzip_body(const struct otlp_buf *body)
{
	struct otlp_buf raw = gunzip_body(body);
	ExportReq *r = decode(&raw);

	otlp_buf_free(&raw);
	return r;
}

/* 503 with Retry-After: 1, then 200 with a partial success: the same body is
 * sent twice, a second apart, with the protocol's and the configured headers. */
static void test_export_retry_after_and_partial(void **state)
{
	struct fake *f = fake_start();
	struct otlp_settings *t = settings(f->port, true);
	struct otlp_header hdr = {"X-Tenant", "team-a"};
	struct otlp_opts o = {.batch_delay_ms = 20,
			      .backoff = {.initial_ms = 20, .max_ms = 50, .max_elapsed_ms = 5000},
			      .scope_version = "9.9"};
	struct span s[3] = {make_span(1, "a", "", ""), make_span(2, "a", "", ""),
			    make_span(3, "b", "", "")};
	struct otlp_stats st;
	struct otlp *x;
	ExportReq *r;

	(void)state;
	t->headers = &hdr;
	t->n_headers = 1;
	f->script[0] = (struct reply){.status = 503, .retry_after = "1"};
	f->script[1] = (struct reply){.status = 200, .body = pack_response(1, "span 3 too old")};
	fake_go(f);
	x = otlp_start(t, &o);
	assert_non_null(x);
	for (int i = 0; i < 3; i++)
		assert_int_equal(otlp_submit(x, &s[i]), 0);
	WAIT_UNTIL((otlp_get_stats(x, &st), st.batches_sent == 1), 5000);
	assert_int_equal(st.batches_sent, 1);
	assert_int_equal(st.retries, 1);
	assert_int_equal(st.requests_failed, 1);
	assert_int_equal(st.spans_exported, 2);
	assert_int_equal(st.spans_dropped[OTLP_DROP_REJECTED], 1);
	assert_accounted(&st, 3);
	assert_int_equal(fake_requests(f), 2);

	/* Retry-After (1 s) was honoured, not the 20-50 ms backoff */
	assert_true(f->at_ns[1] - f->at_ns[0] >= 950 * MS);
	assert_retried_export(f, "/v1/traces");
	r = decode_gzip_body(&f->body[1]);
	assert_int_equal(r->n_resource_spans, 2);
	assert_span_equal(r->resource_spans[0]->scope_spans[0]->spans[0], &s[0]);
	assert_span_equal(r->resource_spans[0]->scope_spans[0]->spans[1], &s[1]);
	assert_span_equal(r->resource_spans[1]->scope_spans[0]->spans[0], &s[2]);
	assert_string_equal(r->resource_spans[0]->scope_spans[0]->scope->version, "9.9");
	free_req(r);

	otlp_stop(x);
	fake_stop(f);
	free(t);
}

/* 400 is final: one request, the batch dropped, no retry. Without gzip the
 * body is plain protobuf and has no Content-Encoding. */
static void test_export_not_retryable(void **state)
{
	struct fake *f = fake_start();
	struct otlp_settings *t = settings(f->port, false);
	struct otlp_opts o = {.batch_delay_ms = 20, .backoff = {.initial_ms = 10}};
	struct span s = make_span(1, "a", "", "");
	struct otlp_stats st;
	struct otlp *x;
	ExportReq *r;

	(void)state;
	fake_answer_status(f, 0, 400, "bad");
	fake_go(f);
	x = otlp_start(t, &o);
	assert_non_null(x);
	assert_int_equal(otlp_submit(x, &s), 0);
	WAIT_UNTIL((otlp_get_stats(x, &st), st.batches_failed == 1), 5000);
	usleep(100 * 1000); /* time for a retry that must not come */
	otlp_get_stats(x, &st);
	assert_int_equal(st.batches_failed, 1);
	assert_int_equal(st.retries, 0);
	assert_int_equal(st.spans_dropped[OTLP_DROP_FAILED], 1);
	assert_accounted(&st, 1);
	assert_int_equal(fake_requests(f), 1);
	assert_null(strcasestr(f->head[0], "Content-Encoding"));
	r = decode(&f->body[0]);
	assert_span_equal(r->resource_spans[0]->scope_spans[0]->spans[0], &s);
	free_req(r);
	otlp_stop(x);
	fake_stop(f);
	free(t);
}

/* A 2xx whose body is not an ExportTraceServiceResponse confirms nothing:
 * the spans are counted as unconfirmed, not exported, and not sent again. */
static void test_export_junk_answer(void **state)
{
	struct fake *f = fake_start();
	struct otlp_settings *t = settings(f->port, false);
	struct otlp_opts o = {.batch_delay_ms = 20, .backoff = {.initial_ms = 10}};
	struct span s[2] = {make_span(1, "a", "", ""), make_span(2, "a", "", "")};
	struct otlp_stats st;
	struct otlp *x;

	(void)state;
	f->script[0] = (struct reply){.status = 200};
	f->script[0].body.data = (uint8_t *)strdup("<html>ok</html>");
	f->script[0].body.len = 15;
	fake_go(f);
	x = otlp_start(t, &o);
	assert_non_null(x);
	for (int i = 0; i < 2; i++)
		assert_int_equal(otlp_submit(x, &s[i]), 0);
	WAIT_UNTIL((otlp_get_stats(x, &st), st.spans_dropped[OTLP_DROP_UNCONFIRMED] == 2), 5000);
	usleep(100 * 1000); /* time for a retry that must not come */
	otlp_get_stats(x, &st);
	assert_int_equal(st.spans_exported, 0);
	assert_int_equal(st.spans_dropped[OTLP_DROP_UNCONFIRMED], 2);
	assert_int_equal(st.retries, 0);
	assert_accounted(&st, 2);
	assert_int_equal(fake_requests(f), 1);
	assert_string_equal(otlp_drop_name(OTLP_DROP_UNCONFIRMED), "unconfirmed");
	otlp_stop(x);
	fake_stop(f);
	free(t);
}

/* Nothing listens on 127.0.0.1:9: the thread retries while the producer keeps
 * going; the queue fills, further spans are refused at once and counted. */
static void test_queue_full_drops(void **state)
{
	struct otlp_settings *t = settings(9, true);
	struct otlp_opts o = {.queue_spans = 4,
			      .batch_spans = 2,
			      .batch_delay_ms = 10,
			      .backoff = {.initial_ms = 20, .max_ms = 50, .max_elapsed_ms = 60000},
			      .stop_grace_ms = 200};
	struct span s = make_span(1, "a", "", "");
	struct otlp_stats st;
	struct otlp *x;
	uint64_t t0, took[50], refused = 0;
	int rc;

	(void)state;
	x = otlp_start(t, &o);
	assert_non_null(x);
	/* the thread takes one batch (2) and keeps retrying it; 4 more fill the queue */
	assert_int_equal(otlp_submit(x, &s), 0);
	assert_int_equal(otlp_submit(x, &s), 0);
	WAIT_UNTIL((otlp_get_stats(x, &st), st.retries >= 2), 5000);
	assert_true(st.retries >= 2);
	/* 2 ms apart, so the calls meet the thread in every phase of its
	 * attempts and backoffs */
	for (int i = 0; i < 50; i++) {
		t0 = mono_ns();
		rc = otlp_submit(x, &s);
		took[i] = mono_ns() - t0;
		if (rc == -ENOSPC)
			refused++;
		else
			assert_int_equal(rc, 0);
		usleep(2000);
	}
	otlp_get_stats(x, &st);
	assert_int_equal(refused, 46);
	assert_int_equal(st.spans_dropped[OTLP_DROP_QUEUE_FULL], 46);
	assert_int_equal(st.queue_len, 4);
	assert_int_equal(st.queue_cap, 4);
	assert_int_equal(st.spans_exported, 0);
	/* never waits for the network: a call that waited for the thread's
	 * attempts or backoffs (20-50 ms) would take milliseconds, not the
	 * microseconds that a median of calls takes even on a busy machine */
	assert_true(median_ns(took, 50) < 1 * MS);

	/* stop gives up within its grace period; the rest is counted as shutdown */
	t0 = mono_ns();
	otlp_stop(x);
	assert_true(mono_ns() - t0 < 1500 * MS);
	free(t);
}

/* A collector that takes the request and never answers (timeout 10 s): stop
 * aborts the request in flight instead of waiting for it. */
static void test_stop_aborts_hung_request(void **state)
{
	struct fake *f = fake_start();
	struct otlp_settings *t = settings(f->port, true);
	struct otlp_opts o = {.batch_delay_ms = 10, .stop_grace_ms = 300};
	struct span s = make_span(1, "a", "", "");
	struct otlp *x;
	uint64_t t0;

	(void)state;
	t->timeout_ms = 10000;
	f->script[0].hang = true;
	fake_go(f);
	x = otlp_start(t, &o);
	assert_non_null(x);
	assert_int_equal(otlp_submit(x, &s), 0);
	WAIT_UNTIL(fake_requests(f) == 1, 5000);
	assert_int_equal(fake_requests(f), 1);
	t0 = mono_ns();
	otlp_stop(x);
	assert_true(mono_ns() - t0 < 1000 * MS);
	fake_stop(f);
	free(t);
}

/* Stop delivers what is still queued (within its grace period). */
static void test_stop_delivers_queue(void **state)
{
	struct fake *f = fake_start();
	struct otlp_settings *t = settings(f->port, true);
	struct otlp_opts o = {.batch_delay_ms = 60000, .stop_grace_ms = 2000};
	struct span s = make_span(1, "a", "", "");
	struct otlp *x;
	ExportReq *r;

	(void)state;
	fake_go(f);
	x = otlp_start(t, &o);
	assert_non_null(x);
	for (int i = 0; i < 5; i++)
		assert_int_equal(otlp_submit(x, &s), 0);
	/* the batch is not due for a minute: only the stop sends it */
	usleep(100 * 1000);
	assert_int_equal(fake_requests(f), 0);
	otlp_stop(x);
	assert_int_equal(fake_requests(f), 1);
	r = decode_gzip_body(&f->body[0]);
	assert_int_equal(r->resource_spans[0]->scope_spans[0]->n_spans, 5);
	free_req(r);
	fake_stop(f);
	free(t);
}

/* A span submitted with its packed form queues those bytes, not the span
 * packed again: given the bytes of another span, that one is what is sent. */
static void test_submit_packed_bytes(void **state)
{
	struct fake *f = fake_start();
	struct otlp_settings *t = settings(f->port, true);
	struct otlp_opts o = {.batch_delay_ms = 60000, .stop_grace_ms = 2000};
	struct span s = make_span(1, "a", "", ""), other = make_span(2, "b", "", "");
	uint8_t buf[SPAN_PACK_MAX];
	struct span_packed pk = {buf, span_pack(&other, buf, sizeof(buf))};
	struct otlp *x;
	ExportReq *r;

	(void)state;
	fake_go(f);
	x = otlp_start(t, &o);
	assert_non_null(x);
	assert_int_equal(otlp_submit_packed(x, &s, &pk), 0);
	otlp_stop(x);
	assert_int_equal(fake_requests(f), 1);
	r = decode_gzip_body(&f->body[0]);
	assert_int_equal(r->n_resource_spans, 1);
	assert_span_equal(r->resource_spans[0]->scope_spans[0]->spans[0], &other);
	free_req(r);
	fake_stop(f);
	free(t);
}

/* The queue holds spans packed: what the collector gets is what encoding the
 * spans themselves gives, byte for byte, every field of a full span included
 * (strings filled to the brim come cut to their size - 1). */
static void test_queue_keeps_every_field(void **state)
{
	struct fake *f = fake_start();
	struct otlp_settings *t = settings(f->port, false);
	struct otlp_opts o = {
	    .batch_delay_ms = 60000, .stop_grace_ms = 2000, .scope_version = "t1"};
	struct span s[2], want[2];
	struct otlp_node node;
	struct otlp_buf b;
	struct otlp *x;

	(void)state;
	s[0] = make_span(1, "web", "prod", "node-1");
	set_pod(&s[0], "web-7c9f8d6b5d-x2kqp", "3f0a7c1e-0e8e-4f55-b0a1-6b8b1c9d2e70", "web",
		"Deployment", "web");
	s[0].kind = SPAN_KIND_CLIENT;
	s[0].status = SPAN_STATUS_ERROR;
	s[0].parent_span_id[2] = 9;
	s[0].parent_remote = true;
	s[0].trace_flags = 0x03;
	s[0].http_version = 11;
	s[0].rpc_grpc = true;
	s[0].has_grpc_status = true;
	s[0].grpc_status_code = 14;
	s[0].pid = 4242;
	snprintf(s[0].status_message, sizeof(s[0].status_message), "connection reset");
	snprintf(s[0].tracestate, sizeof(s[0].tracestate), "a=1,b=2");
	snprintf(s[0].method_original, sizeof(s[0].method_original), "PURGE");
	snprintf(s[0].error_type, sizeof(s[0].error_type), "connection_reset");
	snprintf(s[0].authority, sizeof(s[0].authority), "web:8080");
	snprintf(s[0].exe_name, sizeof(s[0].exe_name), "nginx");
	memset(s[0].path, 'p', sizeof(s[0].path)); /* no NUL at all */
	memset(s[0].query, 'q', sizeof(s[0].query));
	memset(s[0].user_agent, 'u', sizeof(s[0].user_agent));
	memset(s[0].k8s.owner_name, 'o', sizeof(s[0].k8s.owner_name));
	s[1] = make_span(2, "db", "", "node-1");
	memcpy(want, s, sizeof(want));
	want[0].path[sizeof(want[0].path) - 1] = 0;
	want[0].query[sizeof(want[0].query) - 1] = 0;
	want[0].user_agent[sizeof(want[0].user_agent) - 1] = 0;
	want[0].k8s.owner_name[sizeof(want[0].k8s.owner_name) - 1] = 0;
	otlp_node_detect(&node);
	assert_int_equal(otlp_encode_traces_node(want, 2, "t1", &node, &b), 0);

	fake_go(f);
	x = otlp_start(t, &o);
	assert_non_null(x);
	assert_int_equal(otlp_submit(x, &s[0]), 0);
	assert_int_equal(otlp_submit(x, &s[1]), 0);
	otlp_stop(x);
	assert_int_equal(fake_requests(f), 1);
	assert_int_equal(f->body[0].len, b.len);
	assert_memory_equal(f->body[0].data, b.data, b.len);
	otlp_buf_free(&b);
	fake_stop(f);
	free(t);
}

/* Spans that pack to more than the queue's bytes per span fill it by bytes
 * before its count: the same queue_full drop, and what it holds stays. */
static void test_queue_full_by_bytes(void **state)
{
	struct otlp_settings *t = settings(9, true);
	/* one largest span's bytes; nothing leaves for a minute */
	struct otlp_opts o = {.queue_spans = 100,
			      .queue_bytes = 1,
			      .batch_spans = 100,
			      .batch_delay_ms = 60000,
			      .stop_grace_ms = 200};
	struct span s = make_span(1, "a", "", "");
	struct otlp_stats st;
	struct otlp *x;
	int taken = 0;

	(void)state;
	memset(s.path, 'p', sizeof(s.path) - 1);
	memset(s.query, 'q', sizeof(s.query) - 1);
	memset(s.tracestate, 't', sizeof(s.tracestate) - 1);
	memset(s.name, 'n', sizeof(s.name) - 1);
	x = otlp_start(t, &o);
	assert_non_null(x);
	for (int i = 0; i < 10; i++) {
		int rc = otlp_submit(x, &s);

		assert_true(rc == 0 || rc == -ENOSPC);
		taken += !rc;
	}
	/* about 1.1 KiB each in 3 KiB */
	assert_int_equal(taken, 2);
	otlp_get_stats(x, &st);
	assert_int_equal(st.queue_len, 2);
	assert_int_equal(st.spans_submitted, 2);
	assert_int_equal(st.spans_dropped[OTLP_DROP_QUEUE_FULL], 8);
	otlp_stop(x);
	free(t);
}

/* Invalid spans are refused at the door; batches leave by size before their time. */
static void test_invalid_and_batch_size(void **state)
{
	struct fake *f = fake_start();
	struct otlp_settings *t = settings(f->port, true);
	struct otlp_opts o = {.batch_spans = 3, .batch_delay_ms = 60000};
	struct span s = make_span(1, "a", "", ""), bad = s;
	struct otlp_stats st;
	struct otlp *x;

	(void)state;
	memset(bad.span_id, 0, sizeof(bad.span_id));
	fake_go(f);
	x = otlp_start(t, &o);
	assert_non_null(x);
	assert_int_equal(otlp_submit(x, &bad), -EINVAL);
	for (int i = 0; i < 7; i++)
		assert_int_equal(otlp_submit(x, &s), 0);
	WAIT_UNTIL((otlp_get_stats(x, &st), st.batches_sent == 2), 5000);
	otlp_get_stats(x, &st);
	assert_int_equal(st.batches_sent, 2);
	assert_int_equal(st.spans_exported, 6);
	assert_int_equal(st.queue_len, 1);
	assert_int_equal(st.spans_dropped[OTLP_DROP_INVALID], 1);
	assert_int_equal(st.spans_exported + all_dropped(&st) + st.queue_len, 8);
	otlp_stop(x);
	assert_int_equal(fake_requests(f), 3); /* the last one by the stop */
	fake_stop(f);
	free(t);
}

/* A new Telemetry document moves the export to another collector, with its
 * headers, from the next request on. */
static void test_reconfigure(void **state)
{
	struct fake *a = fake_start(), *b = fake_start();
	struct otlp_settings *ta = settings(a->port, true), *tb = settings(b->port, false);
	struct otlp_header hdr = {"Authorization", "Bearer xyz"};
	struct otlp_opts o = {.batch_delay_ms = 10};
	struct span s = make_span(1, "a", "", "");
	struct otlp_settings none = {0};
	struct otlp_stats st;
	struct otlp *x;

	(void)state;
	tb->headers = &hdr;
	tb->n_headers = 1;
	fake_go(a);
	fake_go(b);
	x = otlp_start(ta, &o);
	assert_non_null(x);
	assert_int_equal(otlp_submit(x, &s), 0);
	WAIT_UNTIL(fake_requests(a) == 1, 5000);
	assert_int_equal(otlp_reconfigure(x, &none), -EINVAL); /* refused, a stays */
	assert_int_equal(otlp_reconfigure(x, tb), 0);
	assert_int_equal(otlp_submit(x, &s), 0);
	WAIT_UNTIL((otlp_get_stats(x, &st), st.batches_sent == 2), 5000);
	assert_int_equal(st.batches_sent, 2);
	assert_int_equal(st.spans_exported, 2);
	assert_int_equal(fake_requests(a), 1);
	assert_int_equal(fake_requests(b), 1);
	assert_non_null(strcasestr(b->head[0], "\r\nAuthorization: Bearer xyz"));
	assert_null(strcasestr(b->head[0], "Content-Encoding"));
	otlp_stop(x);
	fake_stop(a);
	fake_stop(b);
	free(ta);
	free(tb);
}

/* Drops are reported in the log with their counts, at most once per interval,
 * while the thread is busy retrying. */
static void test_drop_log_rate_limited(void **state)
{
	struct otlp_settings *t = settings(9, true);
	struct otlp_opts o = {.queue_spans = 2,
			      .batch_spans = 2,
			      .batch_delay_ms = 10,
			      .backoff = {.initial_ms = 20, .max_ms = 40, .max_elapsed_ms = 60000},
			      .drop_log_interval_ms = 200,
			      .stop_grace_ms = 100};
	struct span s = make_span(1, "a", "", "");
	char path[] = "/tmp/test_otlp_log.XXXXXX", line[512];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO), reports = 0;
	uint64_t t0 = mono_ns(), elapsed_ms;
	struct otlp *x;
	FILE *f;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	/* the group setup's log hook writes warnings to stderr */
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	x = otlp_start(t, &o);
	assert_non_null(x);
	/* 700 ms of a producer that finds the queue full */
	while (mono_ns() - t0 < 700 * MS) {
		otlp_submit(x, &s);
		usleep(1000);
	}
	otlp_stop(x);
	elapsed_ms = (mono_ns() - t0) / MS;
	dup2(saved, STDERR_FILENO);
	close(saved);

	f = fdopen(fd, "r");
	rewind(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "spans dropped (") && strstr(line, "queue_full"))
			reports++;
	fclose(f);
	unlink(path);
	free(t);
	/* one per 200 ms at most, plus the final one from stop */
	assert_in_range(reports, 2, elapsed_ms / 200 + 2);
}

static void test_start_refuses_bad_config(void **state)
{
	struct otlp_settings t = {0};

	(void)state;
	errno = 0;
	assert_null(otlp_start(NULL, NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(otlp_start(&t, NULL)); /* no endpoint */
	assert_int_equal(errno, EINVAL);
	snprintf(t.endpoint, sizeof(t.endpoint), "ftp://127.0.0.1:4318");
	errno = 0;
	assert_null(otlp_start(&t, NULL));
	assert_int_equal(errno, EINVAL);
	assert_string_equal(otlp_drop_name(OTLP_DROP_QUEUE_FULL), "queue_full");
	assert_string_equal(otlp_drop_name(OTLP_DROP_FAILED), "export_failed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_roundtrip),
	    cmocka_unit_test(test_encode_k8s_resources),
	    cmocka_unit_test(test_encode_resource_defaults),
	    cmocka_unit_test(test_encode_wire_types),
	    cmocka_unit_test(test_encode_semconv),
	    cmocka_unit_test(test_encode_bad_strings),
	    cmocka_unit_test(test_encode_empty_and_large),
	    cmocka_unit_test(test_gzip_roundtrip),
	    cmocka_unit_test(test_decode_response),
	    cmocka_unit_test(test_status_message),
	    cmocka_unit_test(test_retryable_status),
	    cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_retry_after_seconds),
	    cmocka_unit_test(test_retry_after_dates),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_next_retry),
	    cmocka_unit_test(test_start_refuses_bad_config),
	    cmocka_unit_test(test_export_retry_after_and_partial),
	    cmocka_unit_test(test_export_not_retryable),
	    cmocka_unit_test(test_export_junk_answer),
	    cmocka_unit_test(test_queue_full_drops),
	    cmocka_unit_test(test_queue_keeps_every_field),
	    cmocka_unit_test(test_queue_full_by_bytes),
	    cmocka_unit_test(test_stop_aborts_hung_request),
	    cmocka_unit_test(test_stop_delivers_queue),
	    cmocka_unit_test(test_submit_packed_bytes),
	    cmocka_unit_test(test_invalid_and_batch_size),
	    cmocka_unit_test(test_reconfigure),
	    cmocka_unit_test(test_drop_log_rate_limited),
	};

	return cmocka_run_group_tests(tests, fake_collector_setup, NULL);
}
