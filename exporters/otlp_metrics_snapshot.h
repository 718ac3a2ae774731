/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_metrics_snapshot.h: the plain data a metrics snapshot is made of, as
 * the agent fills it from its registry, otlp_metrics_submit() takes it and
 * otlp_metrics_encode() serializes it: resources, metrics (sums, gauges,
 * explicit-bucket histograms) and their data points. */
#ifndef BPFMESH_OTLP_METRICS_SNAPSHOT_H
#define BPFMESH_OTLP_METRICS_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* OpenTelemetry semantic-convention names, unit "s", with the data point
 * attributes http.request.method, http.response.status_code (int) and
 * http.route; service.name belongs to the resource, not the point. */
#define OTLP_METRIC_HTTP_SERVER_DURATION "http.server.request.duration"
#define OTLP_METRIC_HTTP_CLIENT_DURATION "http.client.request.duration"

/* Every pointer is the caller's and is read only during otlp_metrics_submit()
 * (or otlp_metrics_encode()); nothing is kept. */

enum otlp_attr_type {
	OTLP_ATTR_STRING = 0,
	OTLP_ATTR_INT = 1,
};

/* A NULL or empty key, or a NULL or empty string value, leaves the attribute
 * out: semconv says an unknown http.route is not set at all. */
struct otlp_attr {
	const char *key;
	enum otlp_attr_type type;
	const char *str; /* OTLP_ATTR_STRING */
	int64_t i;	 /* OTLP_ATTR_INT */
};

#define OTLP_ATTR_STR(k, v) ((struct otlp_attr){.key = (k), .type = OTLP_ATTR_STRING, .str = (v)})
#define OTLP_ATTR_INT(k, v) ((struct otlp_attr){.key = (k), .type = OTLP_ATTR_INT, .i = (v)})

enum otlp_metric_kind {
	OTLP_METRIC_SUM = 1,	   /* cumulative Sum: counters (monotonic) or up-down counters */
	OTLP_METRIC_GAUGE = 2,	   /* a value read now: breaker state, queue length */
	OTLP_METRIC_HISTOGRAM = 3, /* cumulative explicit-bucket Histogram */
};

/* A data point of a Sum or a Gauge. */
struct otlp_number_point {
	const struct otlp_attr *attrs;
	size_t n_attrs;
	uint64_t start_unix_ns; /* Sum: when counting began (a restart is a new start); Gauge: 0 */
	uint64_t time_unix_ns;	/* when the value was read; 0 makes the point invalid */
	bool is_double;		/* as_double is the value, else as_int */
	int64_t as_int;
	double as_double;
};

/* A data point of a Histogram. Bucket i counts the values v with
 * bounds[i-1] < v <= bounds[i]; bucket 0 has no lower bound and bucket
 * n_bounds no upper one. */
struct otlp_histogram_point {
	const struct otlp_attr *attrs;
	size_t n_attrs;
	uint64_t start_unix_ns;
	uint64_t time_unix_ns;
	const double *bounds; /* n_bounds finite values, strictly increasing */
	size_t n_bounds;
	const uint64_t *bucket_counts; /* n_bounds + 1 of them, adding up to count */
	uint64_t count;
	double sum;
	bool has_min_max; /* min and max of the values since start_unix_ns */
	double min, max;
};

struct otlp_metric {
	const char *name;	 /* required: "http.server.request.duration", "bpfmesh.*" */
	const char *description; /* may be NULL */
	const char *unit;	 /* UCUM, "s", "{connection}"; may be NULL */
	enum otlp_metric_kind kind;
	bool monotonic;				       /* OTLP_METRIC_SUM: true for a counter */
	const struct otlp_number_point *numbers;       /* OTLP_METRIC_SUM, OTLP_METRIC_GAUGE */
	const struct otlp_histogram_point *histograms; /* OTLP_METRIC_HISTOGRAM */
	size_t n_points;
};

/* One service's metrics: one ResourceMetrics on the wire. Entries with equal
 * strings (NULL counts as "") become one, so a service may be listed twice. */
#define OTLP_RES_ATTRS_EXTRA 8

struct otlp_metrics_resource {
	const char *service_name;      /* NULL or "": "unknown_service", as SDKs send */
	const char *service_namespace; /* optional */
	const char *host_name;	       /* optional */
	/* more string attributes of the resource (k8s.*), at most
	 * OTLP_RES_ATTRS_EXTRA; empty values are left out */
	const struct otlp_attr *attrs;
	size_t n_attrs;
	const struct otlp_metric *metrics;
	size_t n_metrics;
};

struct otlp_metrics_snapshot {
	const struct otlp_metrics_resource *resources;
	size_t n_resources;
};

#endif
