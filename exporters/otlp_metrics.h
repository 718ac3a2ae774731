/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_metrics.h: the OTLP/HTTP metrics exporter and the plain-data snapshot
 * it takes. The agent fills a snapshot from its registry every interval and
 * hands it over; the snapshot is encoded at once (an ExportMetricsServiceRequest)
 * and POSTed to the Telemetry endpoint + /v1/metrics by a thread of the
 * exporter's own, with the trace exporter's transport (otlp_http) and retry
 * rules (otlp_retry).
 *
 * Sums and histograms are cumulative: each snapshot carries every total since
 * its start time, so a newer snapshot makes an undelivered older one redundant.
 * Hence no queue: at most one snapshot waits, a newer one replaces it, and the
 * replacement is counted but is not a loss.
 *
 *   struct otlp_metrics *x = otlp_metrics_start(telemetry, NULL);
 *   every interval:  fill a snapshot (any memory), otlp_metrics_submit(x, &snap);
 *   on a reload:     otlp_metrics_reconfigure(x, new_telemetry);
 *   for /metrics:    otlp_metrics_get_stats(x, &st);
 *   at the end:      otlp_metrics_stop(x);  (returns within stop_grace_ms) */
#ifndef BPFMESH_OTLP_METRICS_H
#define BPFMESH_OTLP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "otlp.h"
#include "otlp_retry.h"

/* OpenTelemetry semantic-convention names, unit "s", with the data point
 * attributes http.request.method, http.response.status_code (int) and
 * http.route; service.name belongs to the resource, not the point. */
#define OTLP_METRIC_HTTP_SERVER_DURATION "http.server.request.duration"
#define OTLP_METRIC_HTTP_CLIENT_DURATION "http.client.request.duration"

/* ---- the snapshot --------------------------------------------------------
 * Every pointer is the caller's and is read only during otlp_metrics_submit()
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
struct otlp_metrics_resource {
	const char *service_name;      /* NULL or "": "unknown_service", as SDKs send */
	const char *service_namespace; /* optional */
	const char *host_name;	       /* optional */
	const struct otlp_metric *metrics;
	size_t n_metrics;
};

struct otlp_metrics_snapshot {
	const struct otlp_metrics_resource *resources;
	size_t n_resources;
};

/* ---- the exporter --------------------------------------------------------- */

/* Tunables; a zero field takes the default written beside it. */
struct otlp_metrics_opts {
	struct otlp_backoff backoff;   /* 500 ms doubling to 5 s, equal jitter, 30 s per snapshot */
	uint64_t drop_log_interval_ms; /* 10000 */
	uint64_t stop_grace_ms;	       /* 2000: how long otlp_metrics_stop() tries to deliver */
	const char *scope_version;     /* InstrumentationScope.version, "dev" */
};

/* Every submitted snapshot ends in exactly one of sent, replaced or failed
 * (or is still pending or being sent). */
struct otlp_metrics_stats {
	uint64_t snapshots_submitted; /* taken by otlp_metrics_submit() */
	uint64_t snapshots_replaced;  /* superseded by a newer snapshot before delivery */
	uint64_t snapshots_sent;      /* answered 2xx */
	uint64_t snapshots_failed;    /* given up: final error, retry time used up, stop */
	uint64_t points_exported;     /* delivered, less those the collector rejected */
	/* by reason, as for spans; queue_full stays 0 (a snapshot replaces instead) */
	uint64_t points_dropped[OTLP_DROP__MAX];
	uint64_t requests_failed; /* attempts without a 2xx, retried or not */
	uint64_t retries;	  /* attempts after a snapshot's first */
	uint64_t pending;	  /* 0 or 1: a snapshot waiting for the exporter thread */
};

struct otlp_metrics;

/* Starts the exporter thread for cfg's otlp section (which must be set).
 * opts may be NULL. Returns NULL with errno set (EINVAL: no or bad endpoint). */
struct otlp_metrics *otlp_metrics_start(const struct cfg_telemetry *cfg,
					const struct otlp_metrics_opts *opts);

/* Encodes s and leaves it for the exporter thread, replacing a snapshot that
 * still waits there. Never waits for the network. Invalid metrics and points
 * (see otlp_metrics_encode()) are left out and counted as dropped "invalid".
 * Returns 0 when queued, -ENODATA when nothing valid was left (nothing queued,
 * a waiting snapshot stays), -ENOMEM (counted as "encode_error"). Safe from any
 * thread, but not concurrently with or after otlp_metrics_stop(). */
int otlp_metrics_submit(struct otlp_metrics *m, const struct otlp_metrics_snapshot *s);

/* Replaces endpoint, headers, compression, timeout and TLS settings as a
 * whole; the next request (a retry included) uses them. Returns 0, -EINVAL (no
 * otlp section or bad endpoint; the old settings stay) or -ENOMEM. */
int otlp_metrics_reconfigure(struct otlp_metrics *m, const struct cfg_telemetry *cfg);

/* Sends the waiting snapshot within stop_grace_ms, without retries, then aborts
 * the request in flight and frees everything. m may be NULL. */
void otlp_metrics_stop(struct otlp_metrics *m);

void otlp_metrics_get_stats(struct otlp_metrics *m, struct otlp_metrics_stats *st);

#endif
