/* SPDX-License-Identifier: Apache-2.0 */
/* metrics_export.h: request metrics (metrics.h) and the mesh's own
 * (meshmetrics.h) out of the agent: Prometheus text for GET /metrics, and
 * OTLP/HTTP metrics every Telemetry.otlp.metricsInterval. All calls but
 * metrics_prom_text() with the agent's lock held. */
#ifndef BPFMESH_METRICS_EXPORT_H
#define BPFMESH_METRICS_EXPORT_H

#include <stddef.h>
#include <stdint.h>

struct agent;

/* The exposition for /metrics, malloc'd. Takes the agent's lock only to copy
 * the series; formats without it. 0 or -ENOMEM. */
int metrics_prom_text(struct agent *a, char **text, size_t *len);

/* After a configuration was applied: start, reconfigure or stop the OTLP
 * metrics exporter. */
void metrics_export_apply(struct agent *a);
/* From the main loop: submits a snapshot when the interval has passed. */
void metrics_export_tick(struct agent *a, uint64_t now_mono_ns);
void metrics_export_stop(struct agent *a);

#endif
