/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_metrics_encode.h: the OTLP/HTTP wire format of metrics: a snapshot to
 * a serialized ExportMetricsServiceRequest, and the collector's 2xx answer
 * (ExportMetricsServiceResponse). Pure functions: no I/O, no global state.
 * gzip and google.rpc.Status bodies are the traces' (otlp_encode.h). */
#ifndef BPFMESH_OTLP_METRICS_ENCODE_H
#define BPFMESH_OTLP_METRICS_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "otlp_encode.h"
#include "otlp_metrics_snapshot.h"

/* Serializes s: one ResourceMetrics per distinct (service.name,
 * service.namespace, host.name), in order of first appearance, each with one
 * ScopeMetrics (OTLP_SCOPE_NAME, scope_version); Sums and Histograms with
 * cumulative temporality. Left out and counted in *n_invalid: every point of a
 * metric without a name or with an unknown kind, and points without a time,
 * starting after their time, or (histograms) with bounds that are not finite
 * and increasing, no bucket counts, buckets that do not add up to count, or
 * min above max. Metrics and resources left without points are not sent
 * (the spec asks for no empty envelopes). Strings that are not UTF-8 are sent
 * with U+FFFD for the bad bytes, as spans are.
 * Returns 0 with *n_points the data points in out (0: out is empty), or -ENOMEM. */
int otlp_metrics_encode(const struct otlp_metrics_snapshot *s, const char *scope_version,
			struct otlp_buf *out, size_t *n_points, size_t *n_invalid);

/* A 2xx answer's body: how many data points a partial success rejected, and
 * why. An empty body is full success. Returns 0 (*rejected >= 0, msg possibly
 * empty) or -EINVAL when it is not an ExportMetricsServiceResponse. */
int otlp_metrics_decode_response(const uint8_t *body, size_t len, int64_t *rejected, char *msg,
				 size_t msg_size);

#endif
