/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_metrics.h: the OTLP/HTTP metrics exporter. The agent fills a snapshot
 * (otlp_metrics_snapshot.h) from its registry every interval and hands it
 * over; the snapshot is encoded at once (an ExportMetricsServiceRequest)
 * and POSTed to the configured endpoint + /v1/metrics by a thread of the
 * exporter's own, with the trace exporter's transport (otlp_http) and retry
 * rules (otlp_retry).
 *
 * Sums and histograms are cumulative: each snapshot carries every total since
 * its start time, so a newer snapshot makes an undelivered older one redundant.
 * Hence no queue: at most one snapshot waits, a newer one replaces it, and the
 * replacement is counted but is not a loss.
 *
 *   struct otlp_metrics *x = otlp_metrics_start(settings, NULL);
 *   every interval:  fill a snapshot (any memory), otlp_metrics_submit(x, &snap);
 *   on a reload:     otlp_metrics_reconfigure(x, new_settings);
 *   for /metrics:    otlp_metrics_get_stats(x, &st);
 *   at the end:      otlp_metrics_stop(x);  (returns within stop_grace_ms) */
#ifndef BPFMESH_OTLP_METRICS_H
#define BPFMESH_OTLP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otlp_drop.h"
#include "otlp_metrics_snapshot.h"
#include "otlp_retry.h"
#include "otlp_settings.h"

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

/* Starts the exporter thread for set (see otlp_settings.h). opts may be
 * NULL. Returns NULL with errno set (EINVAL: no settings or a bad endpoint). */
struct otlp_metrics *otlp_metrics_start(const struct otlp_settings *set,
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
 * settings or a bad endpoint; the old settings stay) or -ENOMEM. */
int otlp_metrics_reconfigure(struct otlp_metrics *m, const struct otlp_settings *set);

/* Sends the waiting snapshot within stop_grace_ms, without retries, then aborts
 * the request in flight and frees everything. m may be NULL. */
void otlp_metrics_stop(struct otlp_metrics *m);

void otlp_metrics_get_stats(struct otlp_metrics *m, struct otlp_metrics_stats *st);

#endif
