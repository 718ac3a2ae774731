/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_metrics_encode.c: a metrics snapshot to ExportMetricsServiceRequest
 * bytes with the protobuf-c code generated from exporters/proto, and the
 * collector's answer.
 *
 * As for spans, the message tree points into the caller's snapshot (strings,
 * bucket counts, bounds) instead of copying it: it lives only until
 * protobuf_c_message_pack() has run, and its nodes come from a few arrays
 * sized by a first counting pass, so a snapshot costs a handful of allocations
 * whatever its size. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "otlp_metrics_encode.h"
#include "otlp_strings.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest ExportReq;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse ExportResp;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ResourceMetrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics ScopeMetrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge Gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum Sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram Histogram;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistPoint;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

#define CUMULATIVE                                                                                 \
	OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE
/* service.name, service.namespace, host.name and the resource's own */
#define RES_ATTRS_MAX (3 + OTLP_RES_ATTRS_EXTRA)

/* One ResourceMetrics with its only ScopeMetrics. */
struct enc_group {
	const struct otlp_metrics_resource *key; /* first entry: its resource strings */
	size_t first, cap;			 /* its run of metric_ptrs */
	ResourceMetrics rm;
	Resource res;
	ScopeMetrics sm;
	ScopeMetrics *sm_ptr;
	Scope scope;
	KeyValue kv[RES_ATTRS_MAX];
	AnyValue av[RES_ATTRS_MAX];
	KeyValue *kv_ptr[RES_ATTRS_MAX];
};

struct enc_metric {
	Metric m;
	union {
		Gauge gauge;
		Sum sum;
		Histogram hist;
	};
};

struct enc {
	struct enc_group *groups;
	size_t n_groups;
	size_t *group_of; /* resource entry -> group */
	struct enc_metric *metrics;
	Metric **metric_ptrs;
	size_t n_metrics, cap_metrics;
	NumberPoint *np;
	NumberPoint **np_ptrs;
	size_t n_np, cap_np;
	HistPoint *hp;
	HistPoint **hp_ptrs;
	size_t n_hp, cap_hp;
	KeyValue *kv;
	AnyValue *av;
	KeyValue **kv_ptrs;
	size_t n_kv, cap_kv;
	ResourceMetrics **rm_ptrs;
	struct otlp_strpool strs; /* sanitized string copies */
	size_t points, invalid;
};

/* ---- strings --------------------------------------------------------------- */

/* The string for the wire (see otlp_utf8_clean()); NULL means "". */
static char *enc_str(struct enc *e, const char *s)
{
	return s ? otlp_utf8_clean(&e->strs, s) : (char *)"";
}

static const char *or_empty(const char *s) { return s ? s : ""; }

/* ---- checks ---------------------------------------------------------------- */

static bool metric_ok(const struct otlp_metric *m)
{
	if (!m->name || !m->name[0])
		return false;
	switch (m->kind) {
	case OTLP_METRIC_SUM:
	case OTLP_METRIC_GAUGE:
		return m->numbers || !m->n_points;
	case OTLP_METRIC_HISTOGRAM:
		return m->histograms || !m->n_points;
	}
	return false;
}

static bool times_ok(uint64_t start, uint64_t time) { return time && start <= time; }

static bool number_ok(const struct otlp_number_point *p)
{
	return times_ok(p->start_unix_ns, p->time_unix_ns) && (p->attrs || !p->n_attrs);
}

/* What a backend needs to turn the point into buckets it can trust: the
 * Prometheus form, for one, has no room for a count that disagrees with its
 * buckets or for bounds out of order. */
static bool histogram_ok(const struct otlp_histogram_point *p)
{
	uint64_t total = 0;

	if (!times_ok(p->start_unix_ns, p->time_unix_ns) || (!p->attrs && p->n_attrs) ||
	    !p->bucket_counts || (!p->bounds && p->n_bounds) || !isfinite(p->sum))
		return false;
	for (size_t i = 0; i < p->n_bounds; i++)
		if (!isfinite(p->bounds[i]) || (i && p->bounds[i] <= p->bounds[i - 1]))
			return false;
	for (size_t i = 0; i <= p->n_bounds; i++)
		if (__builtin_add_overflow(total, p->bucket_counts[i], &total))
			return false;
	if (total != p->count)
		return false;
	return !p->has_min_max || (isfinite(p->min) && isfinite(p->max) && p->min <= p->max);
}

/* ---- the tree -------------------------------------------------------------- */

static bool add_size(size_t *to, size_t n) { return !__builtin_add_overflow(*to, n, to); }

/* Upper bounds for the node arrays: every metric, point and attribute that
 * might be sent. */
static int count_nodes(struct enc *e, const struct otlp_metrics_snapshot *s)
{
	for (size_t r = 0; r < s->n_resources; r++) {
		const struct otlp_metrics_resource *res = &s->resources[r];

		if (!res->metrics)
			continue;
		if (!add_size(&e->cap_metrics, res->n_metrics))
			return -ENOMEM;
		for (size_t i = 0; i < res->n_metrics; i++) {
			const struct otlp_metric *m = &res->metrics[i];
			bool hist = m->kind == OTLP_METRIC_HISTOGRAM;

			if (!metric_ok(m))
				continue;
			if (!add_size(hist ? &e->cap_hp : &e->cap_np, m->n_points))
				return -ENOMEM;
			for (size_t k = 0; k < m->n_points; k++)
				if (!add_size(&e->cap_kv, hist ? m->histograms[k].n_attrs
							       : m->numbers[k].n_attrs))
					return -ENOMEM;
		}
	}
	return 0;
}

static bool same_attrs(const struct otlp_metrics_resource *a, const struct otlp_metrics_resource *b)
{
	if (a->n_attrs != b->n_attrs)
		return false;
	for (size_t i = 0; i < a->n_attrs; i++)
		if (strcmp(or_empty(a->attrs[i].key), or_empty(b->attrs[i].key)) ||
		    strcmp(or_empty(a->attrs[i].str), or_empty(b->attrs[i].str)))
			return false;
	return true;
}

static bool same_resource(const struct otlp_metrics_resource *a,
			  const struct otlp_metrics_resource *b)
{
	return !strcmp(or_empty(a->service_name), or_empty(b->service_name)) &&
	       !strcmp(or_empty(a->service_namespace), or_empty(b->service_namespace)) &&
	       !strcmp(or_empty(a->host_name), or_empty(b->host_name)) && same_attrs(a, b);
}

/* Groups are few (one per service on the node), so a linear search will do.
 * Each group gets a run of metric_ptrs long enough for all its entries. */
static void assign_groups(struct enc *e, const struct otlp_metrics_snapshot *s)
{
	size_t r, g, pos = 0;

	for (r = 0; r < s->n_resources; r++) {
		for (g = 0; g < e->n_groups; g++)
			if (same_resource(e->groups[g].key, &s->resources[r]))
				break;
		if (g == e->n_groups)
			e->groups[e->n_groups++].key = &s->resources[r];
		e->group_of[r] = g;
		if (s->resources[r].metrics)
			e->groups[g].cap += s->resources[r].n_metrics;
	}
	for (g = 0; g < e->n_groups; g++) {
		e->groups[g].first = pos;
		pos += e->groups[g].cap;
	}
}

static void kv_init(KeyValue *kv, AnyValue *av, char *key)
{
	opentelemetry__proto__common__v1__key_value__init(kv);
	opentelemetry__proto__common__v1__any_value__init(av);
	kv->key = key;
	kv->value = av;
}

static void kv_str(KeyValue *kv, AnyValue *av, char *key, char *val)
{
	kv_init(kv, av, key);
	av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	av->string_value = val;
}

static int encode_group(struct enc *e, struct enc_group *g, const char *scope_version)
{
	const struct otlp_metrics_resource *k = g->key;
	const char *opt_keys[2] = {"service.namespace", "host.name"};
	const char *opt_vals[2] = {k->service_namespace, k->host_name};
	char *v;
	size_t n = 0;

	opentelemetry__proto__metrics__v1__resource_metrics__init(&g->rm);
	opentelemetry__proto__resource__v1__resource__init(&g->res);
	opentelemetry__proto__metrics__v1__scope_metrics__init(&g->sm);
	opentelemetry__proto__common__v1__instrumentation_scope__init(&g->scope);

	/* service.name is the one resource attribute backends cannot do without;
	 * "unknown_service" is what OpenTelemetry SDKs report in its absence */
	if (!(v = enc_str(e, k->service_name)))
		return -ENOMEM;
	kv_str(&g->kv[n], &g->av[n], (char *)"service.name", v[0] ? v : (char *)"unknown_service");
	g->kv_ptr[n] = &g->kv[n];
	n++;
	for (int i = 0; i < 2; i++) {
		if (!(v = enc_str(e, opt_vals[i])))
			return -ENOMEM;
		if (!v[0])
			continue;
		kv_str(&g->kv[n], &g->av[n], (char *)opt_keys[i], v);
		g->kv_ptr[n] = &g->kv[n];
		n++;
	}
	for (size_t i = 0; i < k->n_attrs && i < OTLP_RES_ATTRS_EXTRA; i++) {
		const struct otlp_attr *a = &k->attrs[i];

		char *key;

		if (a->type != OTLP_ATTR_STRING || !a->key || !a->key[0] || !a->str)
			continue;
		if (!(v = enc_str(e, a->str)) || !(key = enc_str(e, a->key)))
			return -ENOMEM;
		if (!v[0])
			continue;
		kv_str(&g->kv[n], &g->av[n], key, v);
		g->kv_ptr[n] = &g->kv[n];
		n++;
	}
	g->res.attributes = g->kv_ptr;
	g->res.n_attributes = n;

	g->scope.name = (char *)OTLP_SCOPE_NAME;
	g->scope.version = (char *)(scope_version ? scope_version : "");
	g->sm.scope = &g->scope;
	g->sm.metrics = &e->metric_ptrs[g->first];
	g->sm_ptr = &g->sm;
	g->rm.resource = &g->res;
	g->rm.scope_metrics = &g->sm_ptr;
	g->rm.n_scope_metrics = 1;
	return 0;
}

/* Appends the attributes that are set to the kv arrays; *out and *n_out
 * describe them. */
static int encode_attrs(struct enc *e, const struct otlp_attr *attrs, size_t n, KeyValue ***out,
			size_t *n_out)
{
	KeyValue **ptrs = &e->kv_ptrs[e->n_kv];
	size_t k = 0;
	char *key, *val;

	for (size_t i = 0; i < n; i++) {
		const struct otlp_attr *a = &attrs[i];
		KeyValue *kv = &e->kv[e->n_kv];
		AnyValue *av = &e->av[e->n_kv];

		if (!a->key || !a->key[0] ||
		    (a->type != OTLP_ATTR_INT && a->type != OTLP_ATTR_STRING) ||
		    (a->type == OTLP_ATTR_STRING && (!a->str || !a->str[0])))
			continue;
		if (!(key = enc_str(e, a->key)))
			return -ENOMEM;
		if (a->type == OTLP_ATTR_STRING) {
			if (!(val = enc_str(e, a->str)))
				return -ENOMEM;
			kv_str(kv, av, key, val);
		} else {
			kv_init(kv, av, key);
			av->value_case =
			    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
			av->int_value = a->i;
		}
		ptrs[k++] = kv;
		e->n_kv++;
	}
	*out = k ? ptrs : NULL;
	*n_out = k;
	return 0;
}

/* The valid points of m, appended to np_ptrs; returns how many, -ENOMEM. */
static long encode_numbers(struct enc *e, const struct otlp_metric *m, NumberPoint ***out)
{
	NumberPoint **ptrs = &e->np_ptrs[e->n_np];
	long n = 0;

	for (size_t i = 0; i < m->n_points; i++) {
		const struct otlp_number_point *p = &m->numbers[i];
		NumberPoint *np = &e->np[e->n_np];

		if (!number_ok(p)) {
			e->invalid++;
			continue;
		}
		opentelemetry__proto__metrics__v1__number_data_point__init(np);
		if (encode_attrs(e, p->attrs, p->n_attrs, &np->attributes, &np->n_attributes))
			return -ENOMEM;
		np->start_time_unix_nano = p->start_unix_ns;
		np->time_unix_nano = p->time_unix_ns;
		if (p->is_double) {
			np->value_case =
			    OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
			np->as_double = p->as_double;
		} else {
			np->value_case =
			    OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
			np->as_int = p->as_int;
		}
		ptrs[n++] = np;
		e->n_np++;
	}
	*out = ptrs;
	return n;
}

static long encode_histograms(struct enc *e, const struct otlp_metric *m, HistPoint ***out)
{
	HistPoint **ptrs = &e->hp_ptrs[e->n_hp];
	long n = 0;

	for (size_t i = 0; i < m->n_points; i++) {
		const struct otlp_histogram_point *p = &m->histograms[i];
		HistPoint *hp = &e->hp[e->n_hp];

		if (!histogram_ok(p)) {
			e->invalid++;
			continue;
		}
		opentelemetry__proto__metrics__v1__histogram_data_point__init(hp);
		if (encode_attrs(e, p->attrs, p->n_attrs, &hp->attributes, &hp->n_attributes))
			return -ENOMEM;
		hp->start_time_unix_nano = p->start_unix_ns;
		hp->time_unix_nano = p->time_unix_ns;
		hp->count = p->count;
		/* the caller's arrays, only read by the packer */
		hp->bucket_counts = (uint64_t *)p->bucket_counts;
		hp->n_bucket_counts = p->n_bounds + 1;
		hp->explicit_bounds = (double *)p->bounds;
		hp->n_explicit_bounds = p->n_bounds;
		/* a one-member oneof each (see metrics.proto): set means sent, 0 too */
		hp->present_sum_case =
		    OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__PRESENT_SUM_SUM;
		hp->sum = p->sum;
		if (p->has_min_max) {
			hp->present_min_case =
			    OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__PRESENT_MIN_MIN;
			hp->min = p->min;
			hp->present_max_case =
			    OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__PRESENT_MAX_MAX;
			hp->max = p->max;
		}
		ptrs[n++] = hp;
		e->n_hp++;
	}
	*out = ptrs;
	return n;
}

/* Adds m to its group's ScopeMetrics, unless no point of it is valid. */
static int encode_metric(struct enc *e, ScopeMetrics *sm, const struct otlp_metric *m)
{
	struct enc_metric *em = &e->metrics[e->n_metrics];
	Metric *pm = &em->m;
	long n;

	if (!metric_ok(m)) {
		e->invalid += m->n_points;
		return 0;
	}
	opentelemetry__proto__metrics__v1__metric__init(pm);
	if (!(pm->name = enc_str(e, m->name)) || !(pm->description = enc_str(e, m->description)) ||
	    !(pm->unit = enc_str(e, m->unit)))
		return -ENOMEM;
	switch (m->kind) {
	case OTLP_METRIC_SUM:
		opentelemetry__proto__metrics__v1__sum__init(&em->sum);
		n = encode_numbers(e, m, &em->sum.data_points);
		em->sum.n_data_points = n > 0 ? (size_t)n : 0;
		em->sum.aggregation_temporality = CUMULATIVE;
		em->sum.is_monotonic = m->monotonic;
		pm->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
		pm->sum = &em->sum;
		break;
	case OTLP_METRIC_GAUGE:
		opentelemetry__proto__metrics__v1__gauge__init(&em->gauge);
		n = encode_numbers(e, m, &em->gauge.data_points);
		em->gauge.n_data_points = n > 0 ? (size_t)n : 0;
		pm->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
		pm->gauge = &em->gauge;
		break;
	default: /* OTLP_METRIC_HISTOGRAM, as metric_ok() said */
		opentelemetry__proto__metrics__v1__histogram__init(&em->hist);
		n = encode_histograms(e, m, &em->hist.data_points);
		em->hist.n_data_points = n > 0 ? (size_t)n : 0;
		em->hist.aggregation_temporality = CUMULATIVE;
		pm->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
		pm->histogram = &em->hist;
	}
	if (n < 0)
		return -ENOMEM;
	if (!n)
		return 0; /* the slot is reused by the next metric */
	sm->metrics[sm->n_metrics++] = pm;
	e->n_metrics++;
	e->points += (size_t)n;
	return 0;
}

static void enc_free(struct enc *e)
{
	otlp_strpool_free(&e->strs);
	free(e->groups);
	free(e->group_of);
	free(e->metrics);
	free(e->metric_ptrs);
	free(e->np);
	free(e->np_ptrs);
	free(e->hp);
	free(e->hp_ptrs);
	free(e->kv);
	free(e->av);
	free(e->kv_ptrs);
	free(e->rm_ptrs);
}

/* calloc(0) may return NULL; a 1-element array keeps the checks simple. */
static void *alloc_n(size_t n, size_t size) { return calloc(n ? n : 1, size); }

static int alloc_nodes(struct enc *e, size_t n_resources)
{
	e->groups = alloc_n(n_resources, sizeof(*e->groups));
	e->group_of = alloc_n(n_resources, sizeof(*e->group_of));
	e->rm_ptrs = alloc_n(n_resources, sizeof(*e->rm_ptrs));
	e->metrics = alloc_n(e->cap_metrics, sizeof(*e->metrics));
	e->metric_ptrs = alloc_n(e->cap_metrics, sizeof(*e->metric_ptrs));
	e->np = alloc_n(e->cap_np, sizeof(*e->np));
	e->np_ptrs = alloc_n(e->cap_np, sizeof(*e->np_ptrs));
	e->hp = alloc_n(e->cap_hp, sizeof(*e->hp));
	e->hp_ptrs = alloc_n(e->cap_hp, sizeof(*e->hp_ptrs));
	e->kv = alloc_n(e->cap_kv, sizeof(*e->kv));
	e->av = alloc_n(e->cap_kv, sizeof(*e->av));
	e->kv_ptrs = alloc_n(e->cap_kv, sizeof(*e->kv_ptrs));
	if (!e->groups || !e->group_of || !e->rm_ptrs || !e->metrics || !e->metric_ptrs || !e->np ||
	    !e->np_ptrs || !e->hp || !e->hp_ptrs || !e->kv || !e->av || !e->kv_ptrs)
		return -ENOMEM;
	return 0;
}

int otlp_metrics_encode(const struct otlp_metrics_snapshot *s, const char *scope_version,
			struct otlp_buf *out, size_t *n_points, size_t *n_invalid)
{
	ExportReq req =
	    OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
	struct enc e = {0};
	size_t r, g, len;
	int err = -ENOMEM;

	out->data = NULL;
	out->len = 0;
	*n_points = 0;
	*n_invalid = 0;
	if (!s || !s->resources || !s->n_resources)
		return 0;
	if (count_nodes(&e, s) || alloc_nodes(&e, s->n_resources))
		goto cleanup;
	assign_groups(&e, s);
	for (g = 0; g < e.n_groups; g++)
		if (encode_group(&e, &e.groups[g], scope_version))
			goto cleanup;
	for (r = 0; r < s->n_resources; r++) {
		const struct otlp_metrics_resource *res = &s->resources[r];
		ScopeMetrics *sm = &e.groups[e.group_of[r]].sm;

		for (size_t i = 0; res->metrics && i < res->n_metrics; i++)
			if (encode_metric(&e, sm, &res->metrics[i]))
				goto cleanup;
	}
	/* no empty envelopes: a service whose every point was invalid is left out */
	req.resource_metrics = e.rm_ptrs;
	for (g = 0; g < e.n_groups; g++)
		if (e.groups[g].sm.n_metrics)
			req.resource_metrics[req.n_resource_metrics++] = &e.groups[g].rm;
	*n_invalid = e.invalid;
	if (!e.points) {
		err = 0;
		goto cleanup;
	}
	len =
	    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(
		&req);
	if (!(out->data = malloc(len)))
		goto cleanup;
	out->len =
	    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(
		&req, out->data);
	*n_points = e.points;
	err = 0;
cleanup:
	enc_free(&e);
	return err;
}

int otlp_metrics_decode_response(const uint8_t *body, size_t len, int64_t *rejected, char *msg,
				 size_t msg_size)
{
	ExportResp *r;

	*rejected = 0;
	if (msg_size)
		msg[0] = 0;
	if (!len)
		return 0;
	r = opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
	    NULL, len, body);
	if (!r)
		return -EINVAL;
	if (r->partial_success)
		otlp_partial_success(r->partial_success->rejected_data_points,
				     r->partial_success->error_message, rejected, msg, msg_size);
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(
	    r, NULL);
	return 0;
}
