/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_metrics.c: the OTLP metrics exporter: a one-snapshot slot that feeds
 * otlp_sender, whose thread sends it, retries and counts.
 *
 * The caller encodes under no lock and then only swaps a pointer, so a slow
 * or dead collector costs it nothing. What differs from the trace exporter is
 * the queue: a snapshot that waits, or that waits for a retry, is replaced by
 * a newer one, which carries the same cumulative totals and more. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_http.h"
#include "otlp_metrics.h"
#include "otlp_metrics_encode.h"
#include "otlp_sender.h"

struct otlp_metrics {
	struct otlp_sender *sender; /* its lock guards pending */

	struct otlp_payload *pending; /* the newest snapshot not yet taken by the thread */
	struct otlp_payload *taken;   /* the exporter thread's own: what take_pending() moved */

	_Atomic uint64_t submitted, replaced;
};

/* ---- the caller's side ------------------------------------------------------ */

static uint64_t snapshot_points(const struct otlp_metrics_snapshot *s)
{
	uint64_t n = 0;

	for (size_t r = 0; s && s->resources && r < s->n_resources; r++)
		for (size_t i = 0; s->resources[r].metrics && i < s->resources[r].n_metrics; i++)
			n += s->resources[r].metrics[i].n_points;
	return n;
}

int otlp_metrics_submit(struct otlp_metrics *m, const struct otlp_metrics_snapshot *snap)
{
	struct otlp_payload *p = calloc(1, sizeof(*p)), *old;
	size_t invalid = 0;

	if (!p || otlp_metrics_encode(snap, otlp_sender_version(m->sender), &p->raw, &p->n_items,
				      &invalid)) {
		free(p);
		otlp_sender_drop(m->sender, OTLP_DROP_ENCODE, snapshot_points(snap));
		return -ENOMEM;
	}
	otlp_sender_drop(m->sender, OTLP_DROP_INVALID, invalid);
	if (!p->n_items) {
		otlp_payload_free(p);
		return -ENODATA;
	}
	otlp_sender_lock(m->sender);
	old = m->pending;
	m->pending = p;
	otlp_sender_wake(m->sender);
	otlp_sender_unlock(m->sender);
	atomic_fetch_add_explicit(&m->submitted, 1, memory_order_relaxed);
	/* cumulative totals: the new snapshot has everything the old one had */
	if (old)
		atomic_fetch_add_explicit(&m->replaced, 1, memory_order_relaxed);
	otlp_payload_free(old);
	return 0;
}

/* ---- the exporter thread's side (otlp_sender_ops) --------------------------- */

/* A waiting snapshot is always due: the agent submits once per interval. */
static bool take_pending(void *arg, uint64_t now, bool stopping, uint64_t *due_ns)
{
	struct otlp_metrics *m = arg;

	(void)now;
	(void)stopping;
	(void)due_ns;
	m->taken = m->pending;
	m->pending = NULL;
	return m->taken != NULL;
}

/* Snapshots are encoded by otlp_metrics_submit() already. */
static struct otlp_payload *taken_snapshot(void *arg)
{
	struct otlp_metrics *m = arg;
	struct otlp_payload *p = m->taken;

	m->taken = NULL;
	return p;
}

static const struct otlp_metrics_opts default_opts; /* zero: otlp_sender's defaults */

static const struct otlp_signal metrics = {
    .path = OTLP_METRICS_PATH,
    .name = "metrics",
    .log_prefix = "otlp metrics",
    .items = "data points",
    .response_name = "ExportMetricsServiceResponse",
    .decode_response = otlp_metrics_decode_response,
    .newer_replaces = true,
};

/* ---- lifecycle -------------------------------------------------------------- */

static void free_metrics(struct otlp_metrics *m)
{
	otlp_sender_free(m->sender);
	otlp_payload_free(m->pending);
	free(m);
}

struct otlp_metrics *otlp_metrics_start(const struct otlp_settings *set,
					const struct otlp_metrics_opts *opts)
{
	struct otlp_metrics *m;
	int err;

	m = calloc(1, sizeof(*m));
	if (!m) {
		errno = ENOMEM;
		return NULL;
	}
	if (!opts)
		opts = &default_opts;
	m->sender = otlp_sender_new(
	    &(struct otlp_sender_conf){
		.signal = &metrics,
		.backoff = opts->backoff,
		.drop_log_interval_ms = opts->drop_log_interval_ms,
		.stop_grace_ms = opts->stop_grace_ms,
		.scope_version = opts->scope_version,
		.ops = {.take = take_pending, .encode = taken_snapshot},
		.arg = m,
	    },
	    set);
	if (!m->sender) {
		err = -errno;
		goto fail;
	}
	err = otlp_sender_run(m->sender);
	if (err)
		goto fail;
	return m;
fail:
	free_metrics(m);
	errno = -err;
	return NULL;
}

int otlp_metrics_reconfigure(struct otlp_metrics *m, const struct otlp_settings *set)
{
	return otlp_sender_reconfigure(m->sender, set);
}

void otlp_metrics_stop(struct otlp_metrics *m)
{
	if (!m)
		return;
	otlp_sender_stop(m->sender);
	/* a snapshot that came while the grace period ran out */
	if (m->pending)
		otlp_sender_give_up(m->sender, OTLP_DROP_SHUTDOWN, m->pending->n_items);
	free_metrics(m);
}

void otlp_metrics_get_stats(struct otlp_metrics *m, struct otlp_metrics_stats *st)
{
	struct otlp_sender_stats ss;

	otlp_sender_get_stats(m->sender, &ss);
	memset(st, 0, sizeof(*st));
	st->snapshots_submitted = atomic_load_explicit(&m->submitted, memory_order_relaxed);
	/* replaced while waiting here, or while waiting for a retry there */
	st->snapshots_replaced =
	    atomic_load_explicit(&m->replaced, memory_order_relaxed) + ss.replaced;
	st->snapshots_sent = ss.delivered;
	/* every way of giving a snapshot up: final error, retry time, stop, gzip */
	for (int d = 0; d < OTLP_DROP__MAX; d++)
		st->snapshots_failed += ss.given_up[d];
	st->points_exported = ss.exported;
	memcpy(st->points_dropped, ss.dropped, sizeof(st->points_dropped));
	st->requests_failed = ss.requests_failed;
	st->retries = ss.retries;
	otlp_sender_lock(m->sender);
	st->pending = m->pending ? 1 : 0;
	otlp_sender_unlock(m->sender);
}
