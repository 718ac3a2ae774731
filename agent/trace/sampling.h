/* SPDX-License-Identifier: Apache-2.0 */
/* sampling.h: which traces bpfmesh exports. The ratio rule is the one of
 * OpenTelemetry's consistent probability sampling (W3C Trace Context level 2
 * "random" trace ids): the last 7 bytes of the trace id, read big-endian, are
 * a 56-bit random number R, and a trace is kept when R >= T, where the
 * rejection threshold T = (1 - ratio) * 2^56. Every node and every SDK that
 * follows that rule and sees the same trace id at a ratio >= ours makes the
 * same (or a superset) decision, so traces are not cut at node boundaries.
 *
 * Decisions are per trace, with overrides per span (errors, slow spans); how
 * the two stay consistent is the span builder's business (spanbuild.h). */
#ifndef BPFMESH_SAMPLING_H
#define BPFMESH_SAMPLING_H

#include <stdbool.h>
#include <stdint.h>

#define SAMPLING_MAX_THRESHOLD (1ULL << 56) /* T for ratio 0: nothing is kept */

struct sampler {
	uint64_t threshold;	 /* T, in [0, 2^56] */
	bool keep_errors;	 /* Telemetry sampling.alwaysSampleErrors */
	uint64_t slower_than_ns; /* Telemetry sampling.latencyThreshold; 0 = off */
};

/* ratio is clamped to [0, 1]; 1 keeps all, 0 keeps none. */
void sampler_init(struct sampler *s, double ratio, bool keep_errors, uint64_t slower_than_ms);

uint64_t sampling_threshold(double ratio);
uint64_t sampling_randomness(const uint8_t trace_id[16]); /* R */

/* The ratio rule alone. */
bool sampling_ratio_keep(const struct sampler *s, const uint8_t trace_id[16]);

/* A trace's decision, parent-based as OpenTelemetry's default
 * parentbased_traceidratio sampler: remote_sampled is the sampled flag of an
 * incoming traceparent (1 keep, 0 drop: final, errors and slow spans
 * included), or -1 when the trace started here (a root): then a forced span
 * (below) keeps it, else the ratio rule decides. */
bool sampling_trace_keep(const struct sampler *s, const uint8_t trace_id[16], int remote_sampled,
			 bool forced);

/* A span that keeps its trace, when the trace started here: an error when
 * keep_errors, or one that took longer than slower_than_ns. */
bool sampling_span_forced(const struct sampler *s, bool error, uint64_t duration_ns);

#endif
