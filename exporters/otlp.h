/* SPDX-License-Identifier: Apache-2.0 */
/* otlp.h: the OTLP/HTTP trace exporter. Spans go into a bounded queue that
 * never blocks its producer; one thread of its own batches them (by count and
 * by age), encodes them as protobuf, gzips them and POSTs them to the
 * configured endpoint + /v1/traces, retrying what the spec says to retry.
 *
 * The queue holds spans packed (span_pack.h), bounded in spans and in bytes.
 * Memory is bounded by queue_bytes, batch_spans spans plus one encoded batch;
 * whatever does not fit, or cannot be delivered, is dropped, counted by reason
 * and reported in the log at most once per drop_log_interval_ms. */
#ifndef BPFMESH_OTLP_H
#define BPFMESH_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "exporters/span.h"
#include "exporters/span_pack.h"
#include "otlp_drop.h"
#include "otlp_retry.h"
#include "otlp_settings.h"

/* The queue's bytes per span that queue_bytes gives by default: spans that
 * pack to at most this many bytes fill the queue by count only. */
#define OTLP_QUEUE_SPAN_BYTES 1024

/* Tunables; a zero field takes the default written beside it. */
struct otlp_opts {
	size_t queue_spans;	       /* 2048 */
	size_t queue_bytes;	       /* queue_spans * OTLP_QUEUE_SPAN_BYTES + SPAN_PACK_MAX */
	size_t batch_spans;	       /* 512: a batch leaves when it has this many... */
	uint64_t batch_delay_ms;       /* 1000: ...or when its oldest span is this old */
	struct otlp_backoff backoff;   /* 500 ms doubling to 5 s, equal jitter, 30 s per batch */
	uint64_t drop_log_interval_ms; /* 10000 */
	uint64_t stop_grace_ms;	       /* 2000: how long otlp_stop() tries to deliver */
	const char *scope_version;     /* InstrumentationScope.version, "dev" */
};

struct otlp_stats {
	uint64_t spans_submitted; /* taken into the queue */
	uint64_t spans_exported;  /* acknowledged by the collector, less those it rejected */
	uint64_t spans_dropped[OTLP_DROP__MAX];
	uint64_t batches_sent;	  /* requests answered 2xx */
	uint64_t batches_failed;  /* batches given up (final error or retries exhausted) */
	uint64_t requests_failed; /* attempts without a 2xx, retried or not */
	uint64_t retries;	  /* attempts after the first, over all batches */
	uint64_t queue_len;
	uint64_t queue_cap;
};

struct otlp;

/* Starts the exporter thread for set (see otlp_settings.h). opts may be
 * NULL. Returns NULL with errno set (EINVAL: no settings or a bad endpoint). */
struct otlp *otlp_start(const struct otlp_settings *set, const struct otlp_opts *opts);

/* Copies s into the queue. Never waits for the network: returns 0, -ENOSPC
 * when the queue is full or -EINVAL for an all-zero id; both are counted as
 * drops. Safe from any thread, but not concurrently with or after otlp_stop(). */
int otlp_submit(struct otlp *o, const struct span *s);
/* The same, queueing pk's bytes, s packed, when pk is not NULL. */
int otlp_submit_packed(struct otlp *o, const struct span *s, const struct span_packed *pk);

/* Replaces endpoint, headers, compression, timeout and TLS settings as a
 * whole; the next request (a retry included) uses the new set, on a new
 * connection. Returns 0, -EINVAL (no settings or a bad endpoint; the old set
 * stays) or -ENOMEM. To stop exporting, call otlp_stop(). */
int otlp_reconfigure(struct otlp *o, const struct otlp_settings *set);

/* Delivers what is queued within stop_grace_ms, without retries, then aborts
 * the request in flight and frees everything. Returns within about
 * stop_grace_ms whatever the collector does. o may be NULL. */
void otlp_stop(struct otlp *o);

void otlp_get_stats(struct otlp *o, struct otlp_stats *st);

#endif
