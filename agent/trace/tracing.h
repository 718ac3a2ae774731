/* SPDX-License-Identifier: Apache-2.0 */
/* tracing.h: the agent's tracing pipeline: kernel capture events ->
 * observations (events.c, with the protocol parsers of proto.h) -> their
 * service (identity.c) -> spans (spanbuild.c) -> the recent-span store
 * (/api/v1/traces), the OTLP exporter (exporters/otlp.c) and the request
 * metrics (metrics.c: every span, sampled or not). Runs on the agent's main
 * thread under the agent's lock; the exporter has its own thread. */
#ifndef BPFMESH_TRACING_H
#define BPFMESH_TRACING_H

#include <stdint.h>

#include "config/config.h"
#include "trace/events.h"
#include "trace/identity.h"
#include "trace/spanstore.h"

struct spanbuild;
struct otlp;
struct metrics;
struct otlp_metrics;

struct tracing {
	struct events ev;
	struct spanbuild *sb;
	struct spanstore store;
	struct otlp *otlp;	 /* NULL without Telemetry.otlp */
	struct metrics *metrics; /* request metrics from every span, sampled or not */
	uint64_t metrics_ticked;
	/* OTLP metrics (metrics_export.c) */
	struct otlp_metrics *otlp_metrics; /* NULL without Telemetry.otlp */
	uint64_t metrics_start_unix_ns;	   /* start of the cumulative series */
	uint64_t metrics_interval_ns, metrics_sent_mono;
	const struct mesh_config *cfg; /* in force */
	struct identity id;	       /* names the service of each request's socket */
	char host[64];
	int64_t clock_offset_ns; /* unix = monotonic + offset */
	char sb_key[4096];	 /* the Telemetry settings the builder was made with */
	uint64_t spans;
};

int tracing_init(struct tracing *t, int ring_fd, int drops_fd);
void tracing_free(struct tracing *t);
/* A new configuration in force (call after it replaced the old one). */
void tracing_apply(struct tracing *t, const struct mesh_config *cfg);
int tracing_fd(struct tracing *t);
void tracing_consume(struct tracing *t);
void tracing_tick(struct tracing *t, uint64_t now_mono_ns);

#endif
