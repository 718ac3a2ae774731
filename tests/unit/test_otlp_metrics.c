/* SPDX-License-Identifier: Apache-2.0 */
/* test_otlp_metrics.c: the OTLP metrics exporter. Encoding is checked by
 * decoding it back with protobuf-c and comparing every field with the
 * snapshot (and a few raw wire bytes against the wire types of the upstream
 * metrics.proto); the exporter against collectors played by a thread on
 * 127.0.0.1 (throttling, slow, refusing, hanging) or missing (port 9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "exporters/otlp_metrics.h"
#include "exporters/otlp_metrics_encode.h"
#include "lib/log.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "fake_collector.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest ExportReq;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ResourceMetrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistPoint;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;

#define T0 1700000000000000000ULL /* start of counting */
#define T1 1700000060000000000ULL /* the snapshot */
#define CUMULATIVE 2		  /* AGGREGATION_TEMPORALITY_CUMULATIVE in metrics.proto */

/* ---- a snapshot like the agent's ------------------------------------------ */

/* semconv's recommended http.server.request.duration buckets, in seconds */
static const double http_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
				     0.5,   0.75, 1,	 2.5,  5,     7.5, 10};
#define NB (sizeof(http_bounds) / sizeof(http_bounds[0]))

struct fixture {
	struct otlp_attr get_attrs[3], post_attrs[3], cli_attrs[2], drop_attrs[1];
	uint64_t get_counts[NB + 1], post_counts[NB + 1], one_bucket[1];
	struct otlp_histogram_point srv[2], cli[1];
	struct otlp_number_point conns[1], drops[2], breaker[1], inflight[1], other[1];
	struct otlp_metric users[2], mesh[3], users_again[1], unknown[1];
	struct otlp_metrics_resource res[4];
	struct otlp_metrics_snapshot snap;
};

/* Four entries, of which the first and third name the same service: three
 * ResourceMetrics. `drops` sets a counter, so snapshots can be told apart. */
static struct fixture *fixture_new(int64_t drops)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint64_t n = 0;

	assert_non_null(f);
	f->get_attrs[0] = OTLP_ATTR_STR("http.request.method", "GET");
	f->get_attrs[1] = OTLP_ATTR_INT("http.response.status_code", 200);
	f->get_attrs[2] = OTLP_ATTR_STR("http.route", "/api/v1/users/{id}");
	f->post_attrs[0] = OTLP_ATTR_STR("http.request.method", "POST");
	f->post_attrs[1] = OTLP_ATTR_INT("http.response.status_code", 503);
	f->post_attrs[2] = OTLP_ATTR_STR("http.route", ""); /* unknown: not sent */
	f->cli_attrs[0] = OTLP_ATTR_STR("http.request.method", "GET");
	f->cli_attrs[1] = OTLP_ATTR_INT("http.response.status_code", 404);
	f->drop_attrs[0] = OTLP_ATTR_STR("reason", "ringbuf_full");
	for (size_t i = 0; i <= NB; i++) {
		f->get_counts[i] = i * 3 + 1;
		f->post_counts[i] = i % 2;
		n += f->get_counts[i];
	}
	f->one_bucket[0] = 7;
	f->srv[0] = (struct otlp_histogram_point){.attrs = f->get_attrs,
						  .n_attrs = 3,
						  .start_unix_ns = T0,
						  .time_unix_ns = T1,
						  .bounds = http_bounds,
						  .n_bounds = NB,
						  .bucket_counts = f->get_counts,
						  .count = n,
						  .sum = 123.25,
						  .has_min_max = true,
						  .min = 0.001,
						  .max = 12.5};
	f->srv[1] = (struct otlp_histogram_point){.attrs = f->post_attrs,
						  .n_attrs = 3,
						  .start_unix_ns = T0 + 5,
						  .time_unix_ns = T1,
						  .bounds = http_bounds,
						  .n_bounds = NB,
						  .bucket_counts = f->post_counts,
						  .count = NB / 2 + (NB % 2),
						  .sum = 0};
	f->cli[0] = (struct otlp_histogram_point){.attrs = f->cli_attrs,
						  .n_attrs = 2,
						  .start_unix_ns = T0,
						  .time_unix_ns = T1,
						  .bucket_counts =
						      f->one_bucket, /* no bounds: one bucket */
						  .count = 7,
						  .sum = 0.5,
						  .has_min_max = true,
						  .min = 0,
						  .max = 0.25};
	f->conns[0] = (struct otlp_number_point){.time_unix_ns = T1, .as_int = 17};
	f->drops[0] = (struct otlp_number_point){.attrs = f->drop_attrs,
						 .n_attrs = 1,
						 .start_unix_ns = T0,
						 .time_unix_ns = T1,
						 .as_int = drops};
	f->drops[1] = (struct otlp_number_point){
	    .start_unix_ns = T0, .time_unix_ns = T1, .as_int = -5}; /* sfixed64: negative too */
	f->breaker[0] =
	    (struct otlp_number_point){.time_unix_ns = T1, .is_double = true, .as_double = 0.5};
	f->inflight[0] = (struct otlp_number_point){
	    .start_unix_ns = T0, .time_unix_ns = T1, .is_double = true, .as_double = -2.75};
	f->other[0] = (struct otlp_number_point){.time_unix_ns = T1, .as_int = 0};

	f->users[0] = (struct otlp_metric){.name = OTLP_METRIC_HTTP_SERVER_DURATION,
					   .description = "Duration of HTTP server requests.",
					   .unit = "s",
					   .kind = OTLP_METRIC_HISTOGRAM,
					   .histograms = f->srv,
					   .n_points = 2};
	f->users[1] = (struct otlp_metric){.name = "bpfmesh.connections.active",
					   .unit = "{connection}",
					   .kind = OTLP_METRIC_GAUGE,
					   .numbers = f->conns,
					   .n_points = 1};
	f->mesh[0] = (struct otlp_metric){.name = "bpfmesh.ringbuf.drops",
					  .unit = "{event}",
					  .kind = OTLP_METRIC_SUM,
					  .monotonic = true,
					  .numbers = f->drops,
					  .n_points = 2};
	f->mesh[1] = (struct otlp_metric){.name = "bpfmesh.breaker.state",
					  .kind = OTLP_METRIC_GAUGE,
					  .numbers = f->breaker,
					  .n_points = 1};
	f->mesh[2] = (struct otlp_metric){.name = "bpfmesh.requests.inflight",
					  .description = "an up-down counter",
					  .kind = OTLP_METRIC_SUM,
					  .monotonic = false,
					  .numbers = f->inflight,
					  .n_points = 1};
	f->users_again[0] = (struct otlp_metric){.name = OTLP_METRIC_HTTP_CLIENT_DURATION,
						 .unit = "s",
						 .kind = OTLP_METRIC_HISTOGRAM,
						 .histograms = f->cli,
						 .n_points = 1};
	f->unknown[0] = (struct otlp_metric){
	    .name = "bpfmesh.other", .kind = OTLP_METRIC_GAUGE, .numbers = f->other, .n_points = 1};
	f->res[0] = (struct otlp_metrics_resource){.service_name = "users",
						   .service_namespace = "shop",
						   .host_name = "node-1",
						   .metrics = f->users,
						   .n_metrics = 2};
	f->res[1] = (struct otlp_metrics_resource){
	    .service_name = "bpfmesh", .host_name = "node-1", .metrics = f->mesh, .n_metrics = 3};
	f->res[2] = (struct otlp_metrics_resource){.service_name = "users",
						   .service_namespace = "shop",
						   .host_name = "node-1",
						   .metrics = f->users_again,
						   .n_metrics = 1};
	f->res[3] = (struct otlp_metrics_resource){.metrics = f->unknown, .n_metrics = 1};
	f->snap = (struct otlp_metrics_snapshot){.resources = f->res, .n_resources = 4};
	return f;
}

#define FIXTURE_POINTS 9

/* ---- decoding and comparing ------------------------------------------------- */

static ExportReq *decode(const uint8_t *data, size_t len)
{
	ExportReq *r =
	    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
		NULL, len, data);

	assert_non_null(r);
	return r;
}

static void free_req(ExportReq *r)
{
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
	    r, NULL);
}

static void assert_str_attr(const KeyValue *kv, const char *key, const char *val)
{
	assert_string_equal(kv->key, key);
	assert_non_null(kv->value);
	assert_int_equal(kv->value->value_case,
			 OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
	assert_string_equal(kv->value->string_value, val);
}

static bool attr_sent(const struct otlp_attr *a)
{
	return a->key && a->key[0] &&
	       (a->type == OTLP_ATTR_INT || (a->type == OTLP_ATTR_STRING && a->str && a->str[0]));
}

/* The attributes that are set, in order, and nothing else. */
static void assert_attrs_equal(KeyValue **kv, size_t n, const struct otlp_attr *a, size_t na)
{
	size_t k = 0;

	for (size_t i = 0; i < na; i++) {
		if (!attr_sent(&a[i]))
			continue;
		assert_true(k < n);
		if (a[i].type == OTLP_ATTR_STRING) {
			assert_str_attr(kv[k], a[i].key, a[i].str);
		} else {
			assert_string_equal(kv[k]->key, a[i].key);
			assert_int_equal(
			    kv[k]->value->value_case,
			    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
			assert_int_equal(kv[k]->value->int_value, a[i].i);
		}
		k++;
	}
	assert_int_equal(n, k);
}

static void assert_number_equal(const NumberPoint *p, const struct otlp_number_point *w)
{
	assert_attrs_equal(p->attributes, p->n_attributes, w->attrs, w->n_attrs);
	assert_true(p->start_time_unix_nano == w->start_unix_ns);
	assert_true(p->time_unix_nano == w->time_unix_ns);
	assert_int_equal(p->n_exemplars, 0);
	assert_int_equal(p->flags, 0);
	if (w->is_double) {
		assert_int_equal(
		    p->value_case,
		    OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
		assert_true(p->as_double == w->as_double);
	} else {
		assert_int_equal(
		    p->value_case,
		    OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT);
		assert_int_equal(p->as_int, w->as_int);
	}
}

static void assert_histogram_equal(const HistPoint *p, const struct otlp_histogram_point *w)
{
	assert_attrs_equal(p->attributes, p->n_attributes, w->attrs, w->n_attrs);
	assert_true(p->start_time_unix_nano == w->start_unix_ns);
	assert_true(p->time_unix_nano == w->time_unix_ns);
	assert_true(p->count == w->count);
	assert_int_equal(p->n_explicit_bounds, w->n_bounds);
	for (size_t i = 0; i < w->n_bounds; i++)
		assert_true(p->explicit_bounds[i] == w->bounds[i]);
	assert_int_equal(p->n_bucket_counts, w->n_bounds + 1);
	for (size_t i = 0; i <= w->n_bounds; i++)
		assert_true(p->bucket_counts[i] == w->bucket_counts[i]);
	/* sum is always sent, 0 included; min and max when known */
	assert_int_equal(p->present_sum_case,
			 OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__PRESENT_SUM_SUM);
	assert_true(p->sum == w->sum);
	if (w->has_min_max) {
		assert_int_equal(
		    p->present_min_case,
		    OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__PRESENT_MIN_MIN);
		assert_int_equal(
		    p->present_max_case,
		    OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__PRESENT_MAX_MAX);
		assert_true(p->min == w->min);
		assert_true(p->max == w->max);
	} else {
		assert_int_equal(p->present_min_case, 0);
		assert_int_equal(p->present_max_case, 0);
	}
	assert_int_equal(p->n_exemplars, 0);
	assert_int_equal(p->flags, 0);
}

static void assert_metric_equal(const Metric *p, const struct otlp_metric *w)
{
	assert_string_equal(p->name, w->name);
	assert_string_equal(p->description, w->description ? w->description : "");
	assert_string_equal(p->unit, w->unit ? w->unit : "");
	assert_int_equal(p->n_metadata, 0);
	switch (w->kind) {
	case OTLP_METRIC_SUM:
		assert_int_equal(p->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
		assert_int_equal(p->sum->aggregation_temporality, CUMULATIVE);
		assert_int_equal(p->sum->is_monotonic, w->monotonic);
		assert_int_equal(p->sum->n_data_points, w->n_points);
		for (size_t i = 0; i < w->n_points; i++)
			assert_number_equal(p->sum->data_points[i], &w->numbers[i]);
		break;
	case OTLP_METRIC_GAUGE:
		assert_int_equal(p->data_case,
				 OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
		assert_int_equal(p->gauge->n_data_points, w->n_points);
		for (size_t i = 0; i < w->n_points; i++)
			assert_number_equal(p->gauge->data_points[i], &w->numbers[i]);
		break;
	case OTLP_METRIC_HISTOGRAM:
		assert_int_equal(p->data_case,
				 OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM);
		assert_int_equal(p->histogram->aggregation_temporality, CUMULATIVE);
		assert_int_equal(p->histogram->n_data_points, w->n_points);
		for (size_t i = 0; i < w->n_points; i++)
			assert_histogram_equal(p->histogram->data_points[i], &w->histograms[i]);
		break;
	default:
		fail_msg("kind %d in the fixture", w->kind);
	}
}

/* One ResourceMetrics: its resource, its only scope, and the metrics of the
 * given snapshot entries, concatenated in order. */
static void assert_resource_equal(const ResourceMetrics *rm, const char *svc, const char *ns,
				  const char *host, const char *scope_version,
				  const struct otlp_metrics_resource *const *entries, size_t n)
{
	size_t a = 0, k = 0;

	assert_non_null(rm->resource);
	assert_str_attr(rm->resource->attributes[a++], "service.name", svc);
	if (ns)
		assert_str_attr(rm->resource->attributes[a++], "service.namespace", ns);
	if (host)
		assert_str_attr(rm->resource->attributes[a++], "host.name", host);
	assert_int_equal(rm->resource->n_attributes, a);
	assert_string_equal(rm->schema_url, "");
	assert_int_equal(rm->n_scope_metrics, 1);
	assert_non_null(rm->scope_metrics[0]->scope);
	assert_string_equal(rm->scope_metrics[0]->scope->name, "bpfmesh");
	assert_string_equal(rm->scope_metrics[0]->scope->version, scope_version);
	assert_string_equal(rm->scope_metrics[0]->schema_url, "");
	for (size_t e = 0; e < n; e++)
		for (size_t i = 0; i < entries[e]->n_metrics; i++, k++) {
			assert_true(k < rm->scope_metrics[0]->n_metrics);
			assert_metric_equal(rm->scope_metrics[0]->metrics[k],
					    &entries[e]->metrics[i]);
		}
	assert_int_equal(rm->scope_metrics[0]->n_metrics, k);
}

/* The whole fixture, as decoded from r. */
static void assert_fixture_equal(const ExportReq *r, const struct fixture *f, const char *version)
{
	const struct otlp_metrics_resource *users[] = {&f->res[0], &f->res[2]},
					   *mesh[] = {&f->res[1]}, *unknown[] = {&f->res[3]};

	assert_int_equal(r->n_resource_metrics, 3);
	assert_resource_equal(r->resource_metrics[0], "users", "shop", "node-1", version, users, 2);
	assert_resource_equal(r->resource_metrics[1], "bpfmesh", NULL, "node-1", version, mesh, 1);
	assert_resource_equal(r->resource_metrics[2], "unknown_service", NULL, NULL, version,
			      unknown, 1);
}

/* ---- encoding --------------------------------------------------------------- */

static void test_encode_roundtrip(void **state)
{
	struct fixture *f = fixture_new(42);
	struct otlp_buf b;
	size_t points = 0, invalid = 1;
	ExportReq *r;

	(void)state;
	assert_int_equal(otlp_metrics_encode(&f->snap, "1.2.3", &b, &points, &invalid), 0);
	assert_int_equal(points, FIXTURE_POINTS);
	assert_int_equal(invalid, 0);
	r = decode(b.data, b.len);
	assert_fixture_equal(r, f, "1.2.3");
	free_req(r);
	otlp_buf_free(&b);

	/* no version: an empty one, not a crash */
	assert_int_equal(otlp_metrics_encode(&f->snap, NULL, &b, &points, &invalid), 0);
	r = decode(b.data, b.len);
	assert_fixture_equal(r, f, "");
	free_req(r);
	otlp_buf_free(&b);
	free(f);
}

static const KeyValue *find_attr(KeyValue **kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i]->key, key))
			return kv[i];
	return NULL;
}

/* gRPC calls as metrics_export.c hands them over: rpc.server.duration in
 * seconds (the repo's unit for every duration histogram), a point per
 * method and status code with the gRPC semantic conventions' attributes;
 * status code 0 (OK) is an int attribute that is sent, not left out as a
 * zero. */
static void test_encode_rpc_duration(void **state)
{
	const double bounds[] = {0.005, 0.01};
	const uint64_t say_counts[] = {9, 1, 0}, fail_counts[] = {2, 0, 0};
	const struct otlp_attr say[] = {
	    OTLP_ATTR_STR("rpc.system", "grpc"), OTLP_ATTR_STR("rpc.service", "bpfmesh.test.Echo"),
	    OTLP_ATTR_STR("rpc.method", "Say"), OTLP_ATTR_INT("rpc.grpc.status_code", 0)};
	const struct otlp_attr fail[] = {
	    OTLP_ATTR_STR("rpc.system", "grpc"), OTLP_ATTR_STR("rpc.service", "bpfmesh.test.Echo"),
	    OTLP_ATTR_STR("rpc.method", "Fail"), OTLP_ATTR_INT("rpc.grpc.status_code", 14)};
	const struct otlp_histogram_point pts[] = {
	    {.attrs = say,
	     .n_attrs = 4,
	     .start_unix_ns = 1,
	     .time_unix_ns = 2,
	     .bounds = bounds,
	     .n_bounds = 2,
	     .bucket_counts = say_counts,
	     .count = 10,
	     .sum = 0.042},
	    {.attrs = fail,
	     .n_attrs = 4,
	     .start_unix_ns = 1,
	     .time_unix_ns = 2,
	     .bounds = bounds,
	     .n_bounds = 2,
	     .bucket_counts = fail_counts,
	     .count = 2,
	     .sum = 0.001},
	};
	struct otlp_metric m = {.name = "rpc.server.duration",
				.description = "Duration of gRPC server calls.",
				.unit = "s",
				.kind = OTLP_METRIC_HISTOGRAM,
				.histograms = pts,
				.n_points = 2};
	struct otlp_metrics_resource res = {.service_name = "echo", .metrics = &m, .n_metrics = 1};
	struct otlp_metrics_snapshot snap = {.resources = &res, .n_resources = 1};
	struct otlp_buf b;
	size_t points = 0, invalid = 1;
	const Metric *got;
	const KeyValue *kv;
	ExportReq *r;

	(void)state;
	assert_int_equal(otlp_metrics_encode(&snap, "1.0", &b, &points, &invalid), 0);
	assert_int_equal(points, 2);
	assert_int_equal(invalid, 0);
	r = decode(b.data, b.len);
	assert_int_equal(r->n_resource_metrics, 1);
	assert_int_equal(r->resource_metrics[0]->n_scope_metrics, 1);
	assert_int_equal(r->resource_metrics[0]->scope_metrics[0]->n_metrics, 1);
	got = r->resource_metrics[0]->scope_metrics[0]->metrics[0];
	assert_string_equal(got->name, "rpc.server.duration");
	assert_string_equal(got->unit, "s");
	assert_int_equal(got->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM);
	assert_int_equal(
	    got->histogram->aggregation_temporality,
	    OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
	assert_int_equal(got->histogram->n_data_points, 2);
	for (size_t i = 0; i < 2; i++) {
		const HistPoint *p = got->histogram->data_points[i];

		assert_int_equal(p->n_attributes, 4);
		kv = find_attr(p->attributes, p->n_attributes, "rpc.system");
		assert_non_null(kv);
		assert_string_equal(kv->value->string_value, "grpc");
		kv = find_attr(p->attributes, p->n_attributes, "rpc.service");
		assert_non_null(kv);
		assert_string_equal(kv->value->string_value, "bpfmesh.test.Echo");
		kv = find_attr(p->attributes, p->n_attributes, "rpc.method");
		assert_non_null(kv);
		assert_string_equal(kv->value->string_value, i ? "Fail" : "Say");
		kv = find_attr(p->attributes, p->n_attributes, "rpc.grpc.status_code");
		assert_non_null(kv);
		assert_int_equal(kv->value->value_case,
				 OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
		assert_int_equal(kv->value->int_value, i ? 14 : 0);
		assert_int_equal(p->count, i ? 2 : 10);
		assert_int_equal(p->n_bucket_counts, 3);
		assert_int_equal(p->bucket_counts[0], i ? 2 : 9);
		assert_int_equal(p->n_explicit_bounds, 2);
	}
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

/* pat = tag followed by the 8 little-endian bytes of v */
static bool contains_fixed64(const struct otlp_buf *b, uint8_t tag, uint64_t v)
{
	uint8_t pat[9] = {tag};

	for (int i = 0; i < 8; i++)
		pat[1 + i] = (uint8_t)(v >> (8 * i));
	return contains(b, pat, sizeof(pat));
}

static uint64_t dbits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

/* The generated code and the encoder agree by construction; these bytes are
 * what the upstream metrics.proto says, worked out by hand: timestamps are
 * fixed64 (NumberDataPoint 2, 3 -> tags 0x11, 0x19), as_int sfixed64 (6 ->
 * 0x31), as_double double (4 -> 0x21), histogram count fixed64 (4 -> 0x21),
 * sum double (5 -> 0x29), min/max double (11, 12 -> 0x59, 0x61),
 * bucket_counts and explicit_bounds packed (6, 7 -> 0x32, 0x3a), temporality
 * a varint in field 2 (0x10 0x02), is_monotonic field 3 (0x18 0x01), and the
 * Metric oneof gauge 5, sum 7, histogram 9 (0x2a, 0x3a, 0x4a). */
static void test_encode_wire_types(void **state)
{
	const double bounds[] = {0.5};
	const uint64_t counts[] = {1, 2};
	struct otlp_number_point sum_pt = {.start_unix_ns = 0x0102030405060708ULL,
					   .time_unix_ns = 0x1112131415161718ULL,
					   .as_int = -2};
	struct otlp_number_point gauge_pt = {
	    .time_unix_ns = 0x2122232425262728ULL, .is_double = true, .as_double = 1.5};
	/* sum 0 and min 0: still sent, as an optional field is */
	struct otlp_histogram_point h = {.start_unix_ns = 1,
					 .time_unix_ns = 2,
					 .bounds = bounds,
					 .n_bounds = 1,
					 .bucket_counts = counts,
					 .count = 3,
					 .has_min_max = true,
					 .max = 0.25};
	struct otlp_metric m[3] = {
	    {.name = "s",
	     .kind = OTLP_METRIC_SUM,
	     .monotonic = true,
	     .numbers = &sum_pt,
	     .n_points = 1},
	    {.name = "g", .kind = OTLP_METRIC_GAUGE, .numbers = &gauge_pt, .n_points = 1},
	    {.name = "h", .kind = OTLP_METRIC_HISTOGRAM, .histograms = &h, .n_points = 1},
	};
	struct otlp_metrics_resource res = {.service_name = "svc", .metrics = m, .n_metrics = 3};
	struct otlp_metrics_snapshot s = {.resources = &res, .n_resources = 1};
	const uint8_t sum_tail[] = {0x10, 0x02, 0x18, 0x01}; /* temporality, is_monotonic */
	const uint8_t hist_tail[] = {0x10, 0x02};
	uint8_t packed_counts[18] = {0x32, 16}, packed_bounds[10] = {0x3a, 8};
	const uint8_t sum_metric[] = {0x0a, 0x01, 's', 0x3a};
	const uint8_t gauge_metric[] = {0x0a, 0x01, 'g', 0x2a};
	const uint8_t hist_metric[] = {0x0a, 0x01, 'h', 0x4a};
	struct otlp_buf b;
	size_t points, invalid;

	(void)state;
	for (int i = 0; i < 8; i++) {
		packed_counts[2 + i] = (uint8_t)(counts[0] >> (8 * i));
		packed_counts[10 + i] = (uint8_t)(counts[1] >> (8 * i));
		packed_bounds[2 + i] = (uint8_t)(dbits(0.5) >> (8 * i));
	}
	assert_int_equal(otlp_metrics_encode(&s, "v", &b, &points, &invalid), 0);
	assert_int_equal(points, 3);
	assert_true(contains_fixed64(&b, 0x11, sum_pt.start_unix_ns));
	assert_true(contains_fixed64(&b, 0x19, sum_pt.time_unix_ns));
	assert_true(contains_fixed64(&b, 0x31, (uint64_t)-2));
	assert_true(contains_fixed64(&b, 0x19, gauge_pt.time_unix_ns));
	assert_true(contains_fixed64(&b, 0x21, dbits(1.5)));
	assert_true(contains(&b, sum_tail, sizeof(sum_tail)));
	assert_true(contains(&b, hist_tail, sizeof(hist_tail)));
	assert_true(contains_fixed64(&b, 0x21, 3));	   /* count */
	assert_true(contains_fixed64(&b, 0x29, dbits(0))); /* sum */
	assert_true(contains_fixed64(&b, 0x59, dbits(0))); /* min */
	assert_true(contains_fixed64(&b, 0x61, dbits(0.25)));
	assert_true(contains(&b, packed_counts, sizeof(packed_counts)));
	assert_true(contains(&b, packed_bounds, sizeof(packed_bounds)));
	assert_true(contains(&b, sum_metric, sizeof(sum_metric)));
	assert_true(contains(&b, gauge_metric, sizeof(gauge_metric)));
	assert_true(contains(&b, hist_metric, sizeof(hist_metric)));
	otlp_buf_free(&b);
}

/* Each bad point or metric is left out and counted; what is valid beside it
 * is still sent; metrics and resources left empty are not sent at all. */
static void test_encode_invalid(void **state)
{
	const double up[] = {0.1, 0.2}, down[] = {0.2, 0.1}, nan_b[] = {0.1, NAN},
		     inf_b[] = {0.1, INFINITY};
	const uint64_t c3[] = {1, 1, 1}, huge[] = {UINT64_MAX, 1, 0};
	struct otlp_attr missing[] = {
	    {.key = NULL, .type = OTLP_ATTR_STRING, .str = "x"},
	    {.key = "", .type = OTLP_ATTR_INT, .i = 1},
	    {.key = "a", .type = OTLP_ATTR_STRING, .str = NULL},
	    {.key = "b", .type = OTLP_ATTR_STRING, .str = ""},
	    {.key = "c", .type = (enum otlp_attr_type)7, .i = 1},
	    OTLP_ATTR_INT("kept", 0),
	};
	const struct otlp_histogram_point base = {.start_unix_ns = T0,
						  .time_unix_ns = T1,
						  .bounds = up,
						  .n_bounds = 2,
						  .bucket_counts = c3,
						  .count = 3,
						  .sum = 1};
	struct otlp_histogram_point hs[15];
	struct otlp_number_point ns[] = {
	    {.time_unix_ns = T1, .attrs = missing, .n_attrs = 6}, /* valid, one attribute sent */
	    {.time_unix_ns = 0},
	    {.start_unix_ns = T1, .time_unix_ns = T0},
	};
	struct otlp_number_point bad_only[] = {{.time_unix_ns = 0}};
	struct otlp_metric ms[] = {
	    {.name = "h", .kind = OTLP_METRIC_HISTOGRAM, .histograms = hs, .n_points = 15},
	    {.name = "n", .kind = OTLP_METRIC_GAUGE, .numbers = ns, .n_points = 3},
	    {.name = NULL, .kind = OTLP_METRIC_GAUGE, .numbers = ns, .n_points = 1},
	    {.name = "", .kind = OTLP_METRIC_GAUGE, .numbers = ns, .n_points = 1},
	    {.name = "k", .kind = (enum otlp_metric_kind)99, .numbers = ns, .n_points = 1},
	    {.name = "p", .kind = OTLP_METRIC_SUM, .numbers = NULL, .n_points = 2},
	    {.name = "q", .kind = OTLP_METRIC_HISTOGRAM, .numbers = ns, .n_points = 1},
	    {.name = "empty", .kind = OTLP_METRIC_SUM, .numbers = ns, .n_points = 0},
	    {.name = "all-bad", .kind = OTLP_METRIC_SUM, .numbers = bad_only, .n_points = 1},
	};
	struct otlp_metric only_bad[] = {
	    {.name = "all-bad", .kind = OTLP_METRIC_GAUGE, .numbers = bad_only, .n_points = 1}};
	struct otlp_metrics_resource res[] = {
	    {.service_name = "gone", .metrics = only_bad, .n_metrics = 1},
	    {.service_name = "svc", .metrics = ms, .n_metrics = 9},
	    {.service_name = "none", .metrics = NULL, .n_metrics = 3},
	};
	struct otlp_metrics_snapshot s = {.resources = res, .n_resources = 3};
	struct otlp_buf b;
	size_t points, invalid;
	Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm;
	ExportReq *r;

	(void)state;
	for (int i = 0; i < 15; i++)
		hs[i] = base; /* hs[0] stays valid */
	hs[1].bounds = down;
	hs[2].bounds = nan_b;
	hs[3].bounds = inf_b;
	hs[4].bounds = NULL;
	hs[5].bucket_counts = NULL;
	hs[6].count = 4;	    /* the buckets add up to 3 */
	hs[7].bucket_counts = huge; /* their sum overflows */
	hs[7].count = 0;
	hs[8].has_min_max = true;
	hs[8].min = 2;
	hs[8].max = 1;
	hs[9].has_min_max = true;
	hs[9].min = NAN;
	hs[9].max = 1;
	hs[10].sum = NAN;
	hs[11].time_unix_ns = 0;
	hs[12].start_unix_ns = T1 + 1;
	hs[13].n_attrs = 1;	   /* attrs NULL */
	hs[14].has_min_max = true; /* valid */
	hs[14].min = 1;
	hs[14].max = 1;
	assert_int_equal(otlp_metrics_encode(&s, "v", &b, &points, &invalid), 0);
	assert_int_equal(points, 3);
	/* 13 histogram points, 2 gauge points, 1 + 1 + 1 + 2 + 1 from bad
	 * metrics, 1 in "all-bad" and 1 in the resource "gone" */
	assert_int_equal(invalid, 13 + 2 + 6 + 1 + 1);
	r = decode(b.data, b.len);
	assert_int_equal(r->n_resource_metrics, 1);
	assert_str_attr(r->resource_metrics[0]->resource->attributes[0], "service.name", "svc");
	sm = r->resource_metrics[0]->scope_metrics[0];
	assert_int_equal(sm->n_metrics, 2);
	assert_string_equal(sm->metrics[0]->name, "h");
	assert_int_equal(sm->metrics[0]->histogram->n_data_points, 2);
	assert_histogram_equal(sm->metrics[0]->histogram->data_points[0], &hs[0]);
	assert_histogram_equal(sm->metrics[0]->histogram->data_points[1], &hs[14]);
	assert_string_equal(sm->metrics[1]->name, "n");
	assert_int_equal(sm->metrics[1]->gauge->n_data_points, 1);
	assert_number_equal(sm->metrics[1]->gauge->data_points[0], &ns[0]);
	assert_int_equal(sm->metrics[1]->gauge->data_points[0]->n_attributes, 1);
	free_req(r);
	otlp_buf_free(&b);

	/* nothing valid at all: nothing to send */
	s.resources = res;
	s.n_resources = 1;
	assert_int_equal(otlp_metrics_encode(&s, "v", &b, &points, &invalid), 0);
	assert_int_equal(points, 0);
	assert_int_equal(invalid, 1);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void test_encode_empty(void **state)
{
	struct otlp_metrics_resource none = {.service_name = "svc"};
	struct otlp_metrics_snapshot s = {.resources = &none, .n_resources = 1};
	struct otlp_buf b;
	size_t points = 9, invalid = 9;

	(void)state;
	assert_int_equal(otlp_metrics_encode(NULL, "v", &b, &points, &invalid), 0);
	assert_int_equal(points, 0);
	assert_int_equal(invalid, 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(otlp_metrics_encode(&s, "v", &b, &points, &invalid), 0);
	assert_int_equal(points, 0);
	assert_int_equal(b.len, 0);
	s.n_resources = 0;
	assert_int_equal(otlp_metrics_encode(&s, "v", &b, &points, &invalid), 0);
	assert_int_equal(b.len, 0);
}

static void test_encode_bad_strings(void **state)
{
	struct otlp_attr a[] = {OTLP_ATTR_STR("http.route", "/caf\xc3\xa9/\x80x\xe2\x82"),
				OTLP_ATTR_STR("k\xff", "v")};
	struct otlp_number_point p = {.time_unix_ns = T1, .attrs = a, .n_attrs = 2};
	struct otlp_metric m = {.name = "bpfmesh.\xc0\xaf",
				.unit = "\xed\xa0\x80", /* a surrogate */
				.kind = OTLP_METRIC_GAUGE,
				.numbers = &p,
				.n_points = 1};
	struct otlp_metrics_resource res = {.service_name = "svc\xf5",
					    .host_name = "h\xf4\x90\x80\x80",
					    .metrics = &m,
					    .n_metrics = 1};
	struct otlp_metrics_snapshot s = {.resources = &res, .n_resources = 1};
	struct otlp_buf b;
	size_t points, invalid;
	ExportReq *r;
	Metric *pm;

	(void)state;
	assert_int_equal(otlp_metrics_encode(&s, "v", &b, &points, &invalid), 0);
	r = decode(b.data, b.len);
	assert_str_attr(r->resource_metrics[0]->resource->attributes[0], "service.name",
			"svc\xef\xbf\xbd");
	assert_str_attr(r->resource_metrics[0]->resource->attributes[1], "host.name",
			"h\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	pm = r->resource_metrics[0]->scope_metrics[0]->metrics[0];
	assert_string_equal(pm->name, "bpfmesh.\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(pm->unit, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_str_attr(pm->gauge->data_points[0]->attributes[0], "http.route",
			"/caf\xc3\xa9/\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbd");
	assert_str_attr(pm->gauge->data_points[0]->attributes[1], "k\xef\xbf\xbd", "v");
	free_req(r);
	otlp_buf_free(&b);
}

/* A resource's own attributes (a pod's k8s.*) follow service.*, empty ones
 * left out; two pods of one service are two resources. */
static void test_encode_resource_attrs(void **state)
{
	struct otlp_number_point p = {.time_unix_ns = T1, .as_int = 1};
	struct otlp_metric m = {
	    .name = "x", .kind = OTLP_METRIC_GAUGE, .numbers = &p, .n_points = 1};
	struct otlp_attr pod1[] = {OTLP_ATTR_STR("k8s.pod.name", "web-1"),
				   OTLP_ATTR_STR("k8s.container.name", ""),
				   OTLP_ATTR_STR("k8s.node.name", "node-a")};
	struct otlp_attr pod2[] = {OTLP_ATTR_STR("k8s.pod.name", "web-2"),
				   OTLP_ATTR_STR("k8s.container.name", ""),
				   OTLP_ATTR_STR("k8s.node.name", "node-a")};
	struct otlp_metrics_resource res[3] = {
	    {.service_name = "web",
	     .service_namespace = "prod",
	     .attrs = pod1,
	     .n_attrs = 3,
	     .metrics = &m,
	     .n_metrics = 1},
	    {.service_name = "web",
	     .service_namespace = "prod",
	     .attrs = pod2,
	     .n_attrs = 3,
	     .metrics = &m,
	     .n_metrics = 1},
	    {.service_name = "web",
	     .service_namespace = "prod",
	     .attrs = pod1,
	     .n_attrs = 3,
	     .metrics = &m,
	     .n_metrics = 1},
	};
	struct otlp_metrics_snapshot s = {.resources = res, .n_resources = 3};
	struct otlp_buf b;
	size_t points, invalid;
	ExportReq *r;

	(void)state;
	assert_int_equal(otlp_metrics_encode(&s, "v", &b, &points, &invalid), 0);
	r = decode(b.data, b.len);
	assert_int_equal(r->n_resource_metrics, 2);
	assert_int_equal(r->resource_metrics[0]->resource->n_attributes, 4);
	assert_str_attr(r->resource_metrics[0]->resource->attributes[0], "service.name", "web");
	assert_str_attr(r->resource_metrics[0]->resource->attributes[1], "service.namespace",
			"prod");
	assert_str_attr(r->resource_metrics[0]->resource->attributes[2], "k8s.pod.name", "web-1");
	assert_str_attr(r->resource_metrics[0]->resource->attributes[3], "k8s.node.name", "node-a");
	assert_str_attr(r->resource_metrics[1]->resource->attributes[2], "k8s.pod.name", "web-2");
	/* the third entry is the first pod's again: its metrics join it */
	assert_int_equal(r->resource_metrics[0]->scope_metrics[0]->n_metrics, 2);
	assert_int_equal(r->resource_metrics[1]->scope_metrics[0]->n_metrics, 1);
	free_req(r);
	otlp_buf_free(&b);
}

/* Many services listed in turn, as a registry walk may list them: one
 * ResourceMetrics each, every point in it, in order. */
static void test_encode_many(void **state)
{
	enum { SVC = 7, ENTRIES = 210, PTS = 5 };
	struct otlp_number_point *pts = calloc(ENTRIES * PTS, sizeof(*pts));
	struct otlp_metric *ms = calloc(ENTRIES, sizeof(*ms));
	struct otlp_metrics_resource *res = calloc(ENTRIES, sizeof(*res));
	struct otlp_metrics_snapshot s = {.resources = res, .n_resources = ENTRIES};
	static const char *const names[SVC] = {"a", "b", "c", "d", "e", "f", "g"};
	struct otlp_buf b;
	size_t points, invalid;
	ExportReq *r;

	(void)state;
	for (int i = 0; i < ENTRIES; i++) {
		for (int k = 0; k < PTS; k++)
			pts[i * PTS + k] = (struct otlp_number_point){
			    .start_unix_ns = T0, .time_unix_ns = T1, .as_int = i * PTS + k};
		ms[i] = (struct otlp_metric){.name = "bpfmesh.lb.selections",
					     .kind = OTLP_METRIC_SUM,
					     .monotonic = true,
					     .numbers = &pts[i * PTS],
					     .n_points = PTS};
		res[i] = (struct otlp_metrics_resource){
		    .service_name = names[i % SVC], .metrics = &ms[i], .n_metrics = 1};
	}
	assert_int_equal(otlp_metrics_encode(&s, "v", &b, &points, &invalid), 0);
	assert_int_equal(points, ENTRIES * PTS);
	r = decode(b.data, b.len);
	assert_int_equal(r->n_resource_metrics, SVC);
	for (int g = 0; g < SVC; g++) {
		Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm =
		    r->resource_metrics[g]->scope_metrics[0];

		assert_str_attr(r->resource_metrics[g]->resource->attributes[0], "service.name",
				names[g]);
		assert_int_equal(sm->n_metrics, ENTRIES / SVC);
		for (size_t k = 0; k < sm->n_metrics; k++)
			assert_metric_equal(sm->metrics[k], &ms[g + SVC * (int)k]);
	}
	free_req(r);
	otlp_buf_free(&b);
	free(pts);
	free(ms);
	free(res);
}

static struct otlp_buf pack_response(int64_t rejected, const char *msg)
{
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse r =
	    OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_RESPONSE__INIT;
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsPartialSuccess ps =
	    OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_PARTIAL_SUCCESS__INIT;

	ps.rejected_data_points = rejected;
	ps.error_message = (char *)msg;
	r.partial_success = &ps;
	return pack_msg(&r.base);
}

static void test_decode_response(void **state)
{
	struct otlp_buf b = pack_response(3, "stale\tpoints");
	int64_t rej = -1;
	char msg[64];

	(void)state;
	assert_int_equal(otlp_metrics_decode_response(b.data, b.len, &rej, msg, sizeof(msg)), 0);
	assert_int_equal(rej, 3);
	assert_string_equal(msg, "stale?points");
	otlp_buf_free(&b);
	b = pack_response(-4, "");
	assert_int_equal(otlp_metrics_decode_response(b.data, b.len, &rej, msg, sizeof(msg)), 0);
	assert_int_equal(rej, 0); /* a negative count is no rejection */
	otlp_buf_free(&b);
	assert_int_equal(otlp_metrics_decode_response(NULL, 0, &rej, msg, sizeof(msg)), 0);
	assert_int_equal(rej, 0);
	assert_string_equal(msg, "");
	assert_int_equal(
	    otlp_metrics_decode_response((const uint8_t *)"{\"x\":1}", 7, &rej, msg, sizeof(msg)),
	    -EINVAL);
}

/* ---- a collector on 127.0.0.1 --------------------------------------------- */

static ExportReq *decode_gzip(const struct otlp_buf *body)
{
	struct otlp_buf raw = gunzip_body(body);
	ExportReq *r = decode(raw.data, raw.len);

	otlp_buf_free(&raw);
	return r;
}

/* The counter that tells fixture snapshots apart, from a decoded request. */
static int64_t drops_value(const ExportReq *r)
{
	return r->resource_metrics[1]->scope_metrics[0]->metrics[0]->sum->data_points[0]->as_int;
}

/* Once the thread is idle, every submitted snapshot ended in one place. */
static void assert_accounted(const struct otlp_metrics_stats *st)
{
	assert_int_equal(st->snapshots_submitted, st->snapshots_sent + st->snapshots_replaced +
						      st->snapshots_failed + st->pending);
}

/* 503 with Retry-After: 1, then 200 with a partial success: the same body
 * twice, a second apart, on /v1/metrics with the protocol's and the
 * configured headers; the rejected point is a drop, the rest exported. */
static void test_export_retry_after_and_partial(void **state)
{
	struct fake *f = fake_start();
	struct otlp_settings *t = settings(f->port, true);
	struct otlp_header hdr = {"X-Tenant", "team-a"};
	struct otlp_metrics_opts o = {
	    .backoff = {.initial_ms = 20, .max_ms = 50, .max_elapsed_ms = 5000},
	    .scope_version = "9.9"};
	struct fixture *fx = fixture_new(42);
	struct otlp_metrics_stats st;
	struct otlp_metrics *m;
	ExportReq *r;

	(void)state;
	t->headers = &hdr;
	t->n_headers = 1;
	f->script[0] = (struct reply){.status = 503, .retry_after = "1"};
	f->script[1] = (struct reply){.body = pack_response(1, "one point too old")};
	fake_go(f);
	m = otlp_metrics_start(t, &o);
	assert_non_null(m);
	assert_int_equal(otlp_metrics_submit(m, &fx->snap), 0);
	WAIT_UNTIL((otlp_metrics_get_stats(m, &st), st.snapshots_sent == 1), 5000);
	assert_int_equal(st.snapshots_submitted, 1);
	assert_int_equal(st.snapshots_sent, 1);
	assert_int_equal(st.snapshots_replaced, 0);
	assert_int_equal(st.snapshots_failed, 0);
	assert_int_equal(st.retries, 1);
	assert_int_equal(st.requests_failed, 1);
	assert_int_equal(st.points_exported, FIXTURE_POINTS - 1);
	assert_int_equal(st.points_dropped[OTLP_DROP_REJECTED], 1);
	assert_int_equal(st.points_dropped[OTLP_DROP_FAILED], 0);
	assert_accounted(&st);
	assert_int_equal(fake_requests(f), 2);

	/* Retry-After (1 s) was honoured, not the 20-50 ms backoff */
	assert_true(f->at_ns[1] - f->at_ns[0] >= 950 * MS);
	assert_retried_export(f, "/v1/metrics");
	r = decode_gzip(&f->body[1]);
	assert_fixture_equal(r, fx, "9.9");
	free_req(r);

	otlp_metrics_stop(m);
	fake_stop(f);
	free(t);
	free(fx);
}

/* While a snapshot waits out a Retry-After, two newer ones come: the waiting
 * one is replaced at once, the one being retried when its wait ends; only the
 * newest goes out, after the full wait. */
static void test_newer_snapshot_replaces_retry(void **state)
{
	struct fake *f = fake_start();
	struct otlp_settings *t = settings(f->port, false);
	struct otlp_metrics_opts o = {.backoff = {.initial_ms = 20, .max_elapsed_ms = 5000}};
	struct fixture *a = fixture_new(1), *b = fixture_new(2), *c = fixture_new(3);
	struct otlp_metrics_stats st;
	struct otlp_metrics *m;
	ExportReq *r;

	(void)state;
	f->script[0] = (struct reply){.status = 503, .retry_after = "1"};
	fake_go(f);
	m = otlp_metrics_start(t, &o);
	assert_non_null(m);
	assert_int_equal(otlp_metrics_submit(m, &a->snap), 0);
	WAIT_UNTIL((otlp_metrics_get_stats(m, &st), st.requests_failed == 1), 5000);
	assert_int_equal(otlp_metrics_submit(m, &b->snap), 0);
	assert_int_equal(otlp_metrics_submit(m, &c->snap), 0);
	otlp_metrics_get_stats(m, &st);
	assert_int_equal(st.snapshots_replaced, 1); /* b, by c */
	assert_int_equal(st.pending, 1);
	WAIT_UNTIL((otlp_metrics_get_stats(m, &st), st.snapshots_sent == 1), 5000);
	assert_int_equal(st.snapshots_submitted, 3);
	assert_int_equal(st.snapshots_replaced, 2); /* and a, by c */
	assert_int_equal(st.snapshots_sent, 1);
	assert_int_equal(st.retries, 1);
	assert_int_equal(st.points_exported, FIXTURE_POINTS);
	for (int d = 0; d < OTLP_DROP__MAX; d++)
		assert_int_equal(st.points_dropped[d], 0); /* replacing loses nothing */
	assert_accounted(&st);
	assert_int_equal(fake_requests(f), 2);
	assert_true(f->at_ns[1] - f->at_ns[0] >= 950 * MS);
	r = decode(f->body[0].data, f->body[0].len);
	assert_int_equal(drops_value(r), 1);
	free_req(r);
	r = decode(f->body[1].data, f->body[1].len);
	assert_int_equal(drops_value(r), 3);
	assert_fixture_equal(r, c, "dev");
	free_req(r);
	otlp_metrics_stop(m);
	fake_stop(f);
	free(t);
	free(a);
	free(b);
	free(c);
}

/* A slow answer: what comes meanwhile waits (the newest only) and goes next. */
static void test_newer_snapshot_waits_for_slow_request(void **state)
{
	struct fake *f = fake_start();
	struct otlp_settings *t = settings(f->port, true);
	struct fixture *a = fixture_new(1), *b = fixture_new(2), *c = fixture_new(3);
	struct otlp_metrics_stats st;
	struct otlp_metrics *m;
	ExportReq *r;

	(void)state;
	f->script[0].delay_ms = 1000;
	fake_go(f);
	m = otlp_metrics_start(t, NULL);
	assert_non_null(m);
	assert_int_equal(otlp_metrics_submit(m, &a->snap), 0);
	WAIT_UNTIL(fake_requests(f) == 1, 5000);
	for (struct fixture *x = b; x; x = x == b ? c : NULL)
		assert_int_equal(otlp_metrics_submit(m, &x->snap), 0);
	/* the request in flight does not hold the caller: both calls returned
	 * before the collector answered, 1 s after the request came (a bound
	 * that a busy machine's preemptions do not reach) */
	assert_true(mono_ns() < f->at_ns[0] + 1000 * MS);
	WAIT_UNTIL((otlp_metrics_get_stats(m, &st), st.snapshots_sent == 2), 5000);
	assert_int_equal(st.snapshots_submitted, 3);
	assert_int_equal(st.snapshots_sent, 2);
	assert_int_equal(st.snapshots_replaced, 1);
	assert_int_equal(st.retries, 0);
	assert_int_equal(st.points_exported, 2 * FIXTURE_POINTS);
	assert_accounted(&st);
	assert_int_equal(fake_requests(f), 2);
	r = decode_gzip(&f->body[1]);
	assert_int_equal(drops_value(r), 3);
	free_req(r);
	otlp_metrics_stop(m);
	fake_stop(f);
	free(t);
	free(a);
	free(b);
	free(c);
}

/* Nothing listens on 127.0.0.1:9: the thread retries, the caller goes on at
 * full speed, each snapshot replacing the last; stop is quick and counts the
 * last one as a shutdown drop. */
static void test_dead_collector_never_blocks(void **state)
{
	struct otlp_settings *t = settings(9, true);
	struct otlp_metrics_opts o = {
	    .backoff = {.initial_ms = 20, .max_ms = 50, .max_elapsed_ms = 60000},
	    .stop_grace_ms = 200};
	struct fixture *fx = fixture_new(5);
	struct otlp_metrics_stats st;
	struct otlp_metrics *m;
	uint64_t t0, took[100];

	(void)state;
	m = otlp_metrics_start(t, &o);
	assert_non_null(m);
	assert_int_equal(otlp_metrics_submit(m, &fx->snap), 0);
	WAIT_UNTIL((otlp_metrics_get_stats(m, &st), st.retries >= 2), 5000);
	assert_true(st.retries >= 2);
	for (int i = 0; i < 100; i++) {
		t0 = mono_ns();
		assert_int_equal(otlp_metrics_submit(m, &fx->snap), 0);
		took[i] = mono_ns() - t0;
		usleep(2000); /* meet the thread in every phase of its attempts */
	}
	/* a call that waited for the thread's attempts or backoffs (20-50 ms)
	 * would take milliseconds, not the microseconds that a median of calls
	 * takes even on a busy machine */
	assert_true(median_ns(took, 100) < 1 * MS);
	otlp_metrics_get_stats(m, &st);
	assert_int_equal(st.snapshots_submitted, 101);
	assert_true(st.snapshots_replaced >=
		    99); /* all but the one in hand, and maybe one pending */
	assert_int_equal(st.snapshots_sent, 0);
	assert_int_equal(st.points_exported, 0);
	assert_true(st.requests_failed >= 2);

	t0 = mono_ns();
	otlp_metrics_stop(m);
	assert_true(mono_ns() - t0 < 1500 * MS);
	free(t);
	free(fx);
}

/* A collector that takes the request and never answers: submit still
 * returns at once, and stop aborts the request instead of waiting 10 s. */
static void test_hung_collector(void **state)
{
	struct fake *f = fake_start();
	struct otlp_settings *t = settings(f->port, true);
	struct otlp_metrics_opts o = {.stop_grace_ms = 300};
	struct fixture *fx = fixture_new(5);
	struct otlp_metrics_stats st;
	struct otlp_metrics *m;
	uint64_t t0;

	(void)state;
	t->timeout_ms = 10000;
	f->script[0].hang = true;
	fake_go(f);
	m = otlp_metrics_start(t, &o);
	assert_non_null(m);
	assert_int_equal(otlp_metrics_submit(m, &fx->snap), 0);
	WAIT_UNTIL(fake_requests(f) == 1, 5000);
	assert_int_equal(fake_requests(f), 1);
	assert_int_equal(otlp_metrics_submit(m, &fx->snap), 0);
	/* submit returned while the first request still hangs (it neither
	 * succeeded nor failed: its 10 s timeout is far off) */
	otlp_metrics_get_stats(m, &st);
	assert_int_equal(st.snapshots_sent, 0);
	assert_int_equal(st.requests_failed, 0);
	assert_int_equal(st.pending, 1);
	t0 = mono_ns();
	otlp_metrics_stop(m);
	assert_true(mono_ns() - t0 < 1000 * MS);
	fake_stop(f);
	free(t);
	free(fx);
}

/* 400 is final: one request, the snapshot's points dropped, no retry. Without
 * gzip the body is plain protobuf with no Content-Encoding. */
static void test_export_not_retryable(void **state)
{
	struct fake *f = fake_start();
	struct otlp_settings *t = settings(f->port, false);
	struct otlp_metrics_opts o = {.backoff = {.initial_ms = 10}};
	struct fixture *fx = fixture_new(5);
	struct otlp_metrics_stats st;
	struct otlp_metrics *m;
	ExportReq *r;

	(void)state;
	fake_answer_status(f, 0, 400, "bad");
	fake_go(f);
	m = otlp_metrics_start(t, &o);
	assert_non_null(m);
	assert_int_equal(otlp_metrics_submit(m, &fx->snap), 0);
	WAIT_UNTIL((otlp_metrics_get_stats(m, &st), st.snapshots_failed == 1), 5000);
	usleep(100 * 1000); /* time for a retry that must not come */
	otlp_metrics_get_stats(m, &st);
	assert_int_equal(st.snapshots_failed, 1);
	assert_int_equal(st.retries, 0);
	assert_int_equal(st.requests_failed, 1);
	assert_int_equal(st.points_dropped[OTLP_DROP_FAILED], FIXTURE_POINTS);
	assert_accounted(&st);
	assert_int_equal(fake_requests(f), 1);
	assert_null(strcasestr(f->head[0], "Content-Encoding"));
	r = decode(f->body[0].data, f->body[0].len);
	assert_fixture_equal(r, fx, "dev");
	free_req(r);
	otlp_metrics_stop(m);
	fake_stop(f);
	free(t);
	free(fx);
}

/* A snapshot handed over just before stop is still delivered. */
static void test_stop_delivers(void **state)
{
	struct fake *f = fake_start();
	struct otlp_settings *t = settings(f->port, true);
	struct fixture *fx = fixture_new(5);
	struct otlp_metrics *m;

	(void)state;
	fake_go(f);
	m = otlp_metrics_start(t, NULL);
	assert_non_null(m);
	assert_int_equal(otlp_metrics_submit(m, &fx->snap), 0);
	otlp_metrics_stop(m);
	assert_int_equal(fake_requests(f), 1);
	fake_stop(f);
	free(t);
	free(fx);
}

/* Invalid points are counted at the door; a snapshot with nothing valid is
 * not queued and leaves a waiting one alone. */
static void test_submit_invalid(void **state)
{
	struct otlp_settings *t = settings(9, true);
	struct otlp_metrics_opts o = {.backoff = {.initial_ms = 2000}, .stop_grace_ms = 100};
	struct fixture *fx = fixture_new(5);
	struct otlp_number_point bad = {.time_unix_ns = 0};
	struct otlp_metric bm = {
	    .name = "x", .kind = OTLP_METRIC_GAUGE, .numbers = &bad, .n_points = 1};
	struct otlp_metrics_resource br = {.service_name = "s", .metrics = &bm, .n_metrics = 1};
	struct otlp_metrics_snapshot bs = {.resources = &br, .n_resources = 1};
	struct otlp_metrics_stats st;
	struct otlp_metrics *m;

	(void)state;
	m = otlp_metrics_start(t, &o);
	assert_non_null(m);
	fx->drops[1].time_unix_ns = 0;
	assert_int_equal(otlp_metrics_submit(m, &fx->snap), 0);
	WAIT_UNTIL((otlp_metrics_get_stats(m, &st), st.requests_failed == 1), 5000);
	assert_int_equal(otlp_metrics_submit(m, &fx->snap), 0); /* waits: retry in 1-2 s */
	assert_int_equal(otlp_metrics_submit(m, &bs), -ENODATA);
	otlp_metrics_get_stats(m, &st);
	assert_int_equal(st.points_dropped[OTLP_DROP_INVALID], 3);
	assert_int_equal(st.snapshots_submitted, 2);
	assert_int_equal(st.pending, 1);
	otlp_metrics_stop(m);
	free(t);
	free(fx);
}

/* New settings move the export to another collector from the next request on;
 * bad ones are refused and the old ones stay. The base URL may carry a path. */
static void test_reconfigure(void **state)
{
	struct fake *a = fake_start(), *b = fake_start();
	struct otlp_settings *ta = settings(a->port, true), *tb = settings(b->port, false);
	struct otlp_settings none = {0};
	struct fixture *fx = fixture_new(5);
	struct otlp_metrics_stats st;
	struct otlp_metrics *m;

	(void)state;
	snprintf(tb->endpoint, sizeof(tb->endpoint), "http://127.0.0.1:%u/otlp//", b->port);
	fake_go(a);
	fake_go(b);
	m = otlp_metrics_start(ta, NULL);
	assert_non_null(m);
	assert_int_equal(otlp_metrics_submit(m, &fx->snap), 0);
	WAIT_UNTIL(fake_requests(a) == 1, 5000);
	assert_int_equal(otlp_metrics_reconfigure(m, &none), -EINVAL);
	assert_int_equal(otlp_metrics_reconfigure(m, tb), 0);
	assert_int_equal(otlp_metrics_submit(m, &fx->snap), 0);
	WAIT_UNTIL((otlp_metrics_get_stats(m, &st), st.snapshots_sent == 2), 5000);
	assert_int_equal(st.snapshots_sent, 2);
	assert_int_equal(fake_requests(a), 1);
	assert_int_equal(fake_requests(b), 1);
	assert_non_null(strstr(a->head[0], "POST /v1/metrics HTTP/1.1\r\n"));
	assert_non_null(strstr(b->head[0], "POST /otlp/v1/metrics HTTP/1.1\r\n"));
	assert_null(strcasestr(b->head[0], "Content-Encoding"));
	otlp_metrics_stop(m);
	fake_stop(a);
	fake_stop(b);
	free(ta);
	free(tb);
	free(fx);
}

static void test_start_refuses_bad_config(void **state)
{
	struct otlp_settings t = {0};

	(void)state;
	errno = 0;
	assert_null(otlp_metrics_start(NULL, NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(otlp_metrics_start(&t, NULL)); /* no endpoint */
	assert_int_equal(errno, EINVAL);
	snprintf(t.endpoint, sizeof(t.endpoint), "ftp://127.0.0.1:4318");
	errno = 0;
	assert_null(otlp_metrics_start(&t, NULL));
	assert_int_equal(errno, EINVAL);
	otlp_metrics_stop(NULL);
}

/* The longest endpoint the settings take still gets its whole /v1/metrics. */
static void test_longest_endpoint(void **state)
{
	struct otlp_settings *t = settings(9, true);
	struct otlp_metrics_opts o = {.stop_grace_ms = 100};
	struct otlp_metrics *m;
	size_t n = sizeof(t->endpoint) - 1;

	(void)state;
	memset(t->endpoint, 'a', n);
	memcpy(t->endpoint, "http://", 7);
	t->endpoint[n] = 0;
	m = otlp_metrics_start(t, &o);
	assert_non_null(m);
	otlp_metrics_stop(m);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_roundtrip),
	    cmocka_unit_test(test_encode_rpc_duration),
	    cmocka_unit_test(test_encode_resource_attrs),
	    cmocka_unit_test(test_encode_wire_types),
	    cmocka_unit_test(test_encode_invalid),
	    cmocka_unit_test(test_encode_empty),
	    cmocka_unit_test(test_encode_bad_strings),
	    cmocka_unit_test(test_encode_many),
	    cmocka_unit_test(test_decode_response),
	    cmocka_unit_test(test_start_refuses_bad_config),
	    cmocka_unit_test(test_longest_endpoint),
	    cmocka_unit_test(test_export_retry_after_and_partial),
	    cmocka_unit_test(test_newer_snapshot_replaces_retry),
	    cmocka_unit_test(test_newer_snapshot_waits_for_slow_request),
	    cmocka_unit_test(test_dead_collector_never_blocks),
	    cmocka_unit_test(test_hung_collector),
	    cmocka_unit_test(test_export_not_retryable),
	    cmocka_unit_test(test_stop_delivers),
	    cmocka_unit_test(test_submit_invalid),
	    cmocka_unit_test(test_reconfigure),
	};

	return cmocka_run_group_tests(tests, fake_collector_setup, NULL);
}
