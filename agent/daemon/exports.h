/* SPDX-License-Identifier: Apache-2.0 */
/* exports.h: where finished spans go. The agent registers three sinks with
 * the tracing pipeline: the request-metrics registry (every span, sampled or
 * not: histograms and the latency API count every request), the recent-span
 * store behind /api/v1/traces and the OTLP trace exporter (sampled spans
 * only). It also owns the OTLP metrics exporter's state (metrics_export.c).
 * Everything here is used under the agent's lock. */
#ifndef BPFMESH_EXPORTS_H
#define BPFMESH_EXPORTS_H

#include <stdint.h>

#include "config/config.h"
#include "exporters/otlp.h"
#include "exporters/otlp_metrics.h"
#include "metrics/metrics.h"
#include "trace/spanstore.h"
#include "trace/tracing.h"

struct metrics;
struct otlp;
struct otlp_metrics;

struct exports {
	struct spanstore store;	 /* the newest sampled spans */
	struct metrics *metrics; /* request metrics from every span */
	uint64_t metrics_ticked;
	struct otlp *otlp; /* NULL without Telemetry.otlp */
	/* OTLP metrics (metrics_export.c) */
	struct otlp_metrics *otlp_metrics; /* NULL without Telemetry.otlp */
	uint64_t metrics_start_unix_ns;	   /* start of the cumulative series */
	uint64_t metrics_interval_ns, metrics_sent_mono;
};

/* The sinks' and exporters' counters, read at once for the API and the
 * bpfmesh.* metrics. */
struct exports_stats {
	bool otlp; /* a trace exporter runs: otlp is set */
	struct otlp_stats traces;
	bool otlp_metrics; /* a metrics exporter runs */
	struct otlp_metrics_stats metrics_export;
	struct metrics_stats registry;
};

void exports_get_stats(struct exports *x, struct exports_stats *st);

/* The store and the registry, and their sinks on t. 0 or -ENOMEM. */
int exports_init(struct exports *x, struct tracing *t);
/* A new configuration in force: start, reconfigure or stop the OTLP trace
 * exporter (the metrics exporter: metrics_export_apply()). */
void exports_apply(struct exports *x, const struct mesh_config *cfg);
void exports_tick(struct exports *x, uint64_t now_mono_ns);
/* Stops the OTLP trace exporter (within its grace period) and frees. */
void exports_free(struct exports *x);

#endif
