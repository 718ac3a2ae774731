/* SPDX-License-Identifier: Apache-2.0 */
/* otlp.c: the OTLP trace exporter: a bounded span queue and the batching
 * that feeds otlp_sender, whose thread encodes, sends, retries and counts.
 *
 * Producers (the span builder, on the capture path) only take the queue lock
 * long enough to copy one span; the exporter thread takes it only to move a
 * batch out. Everything slow (encoding, gzip, the network, backoff sleeps)
 * happens outside the lock, so a dead or slow collector costs producers
 * nothing but drops once the queue is full. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp.h"
#include "otlp_encode.h"
#include "otlp_http.h"
#include "otlp_node.h"
#include "otlp_sender.h"

#define MS 1000000ULL

struct otlp {
	struct otlp_opts opts;
	struct otlp_sender *sender; /* its lock guards ring, head, count, first_ns */
	struct otlp_node node;	    /* the machine's resource attributes */

	struct span *ring;
	size_t head, count; /* oldest span at ring[head] */
	uint64_t first_ns;  /* when the oldest queued span was queued */

	/* the exporter thread's own: the batch take_batch() moved out */
	struct span *batch;
	size_t batch_n;

	_Atomic uint64_t submitted;
};

/* The queue's; otlp_sender applies those of the backoff, log and stop. */
static void set_defaults(struct otlp_opts *p)
{
	if (!p->queue_spans)
		p->queue_spans = 2048;
	if (!p->batch_spans)
		p->batch_spans = 512;
	if (!p->batch_delay_ms)
		p->batch_delay_ms = 1000;
}

/* ---- producers ---------------------------------------------------------- */

static bool zero_id(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* The queue's copy is NUL-terminated in every string, so a span built with a
 * field filled to the brim is truncated rather than sent empty. */
static void terminate_strings(struct span *s)
{
#define TERM(f) ((f)[sizeof(f) - 1] = 0)
	TERM(s->name);
	TERM(s->status_message);
	TERM(s->method);
	TERM(s->path);
	TERM(s->route);
	TERM(s->server.address);
	TERM(s->client.address);
	TERM(s->peer.address);
	TERM(s->service_name);
	TERM(s->service_namespace);
	TERM(s->host_name);
	TERM(s->tracestate);
	TERM(s->method_original);
	TERM(s->error_type);
	TERM(s->query);
	TERM(s->authority);
	TERM(s->user_agent);
	TERM(s->exe_name);
#undef TERM
}

int otlp_submit(struct otlp *o, const struct span *s)
{
	size_t threshold = o->opts.batch_spans, cap = o->opts.queue_spans;
	struct span *slot;

	if (zero_id(s->trace_id, sizeof(s->trace_id)) || zero_id(s->span_id, sizeof(s->span_id))) {
		otlp_sender_drop(o->sender, OTLP_DROP_INVALID, 1);
		return -EINVAL;
	}
	if (threshold > cap)
		threshold = cap;
	otlp_sender_lock(o->sender);
	if (o->count == cap) {
		otlp_sender_unlock(o->sender);
		otlp_sender_drop(o->sender, OTLP_DROP_QUEUE_FULL, 1);
		return -ENOSPC;
	}
	slot = &o->ring[(o->head + o->count) % cap];
	memcpy(slot, s, sizeof(*slot));
	terminate_strings(slot);
	if (++o->count == 1)
		o->first_ns = otlp_mono_ns();
	/* wake the thread only when its plan changes: a first span starts the
	 * batch timer, a full batch is due now */
	if (o->count == 1 || o->count == threshold)
		otlp_sender_wake(o->sender);
	otlp_sender_unlock(o->sender);
	atomic_fetch_add_explicit(&o->submitted, 1, memory_order_relaxed);
	return 0;
}

/* ---- the exporter thread's side (otlp_sender_ops) ----------------------- */

static bool batch_due(struct otlp *o, uint64_t now)
{
	size_t threshold =
	    o->opts.batch_spans < o->opts.queue_spans ? o->opts.batch_spans : o->opts.queue_spans;

	return o->count >= threshold ||
	       (o->count && now >= o->first_ns + o->opts.batch_delay_ms * MS);
}

/* Moves up to batch_spans of the oldest spans out of the ring when a batch is
 * due, or whatever is queued when stopping (lock held). */
static bool take_batch(void *arg, uint64_t now, bool stopping, uint64_t *due_ns)
{
	struct otlp *o = arg;
	size_t cap = o->opts.queue_spans, n = o->count, first;

	if (!n)
		return false;
	if (!stopping && !batch_due(o, now)) {
		*due_ns = o->first_ns + o->opts.batch_delay_ms * MS;
		return false;
	}
	if (n > o->opts.batch_spans)
		n = o->opts.batch_spans;
	first = cap - o->head < n ? cap - o->head : n;
	memcpy(o->batch, &o->ring[o->head], first * sizeof(*o->batch));
	memcpy(o->batch + first, o->ring, (n - first) * sizeof(*o->batch));
	o->head = (o->head + n) % cap;
	o->count -= n;
	/* what is left waits for a full batch or one more delay, not longer */
	o->first_ns = now;
	o->batch_n = n;
	return true;
}

/* The batch as an ExportTraceServiceRequest, outside the lock. */
static struct otlp_payload *encode_batch(void *arg)
{
	struct otlp *o = arg;
	struct otlp_payload *p = calloc(1, sizeof(*p));

	if (!p || otlp_encode_traces_node(o->batch, o->batch_n, otlp_sender_version(o->sender),
					  &o->node, &p->raw)) {
		free(p);
		otlp_sender_drop(o->sender, OTLP_DROP_ENCODE, o->batch_n);
		return NULL;
	}
	p->n_items = o->batch_n;
	return p;
}

static const struct otlp_signal traces = {
    .path = OTLP_TRACES_PATH,
    .name = "traces",
    .log_prefix = "otlp",
    .items = "spans",
    .response_name = "ExportTraceServiceResponse",
    .decode_response = otlp_decode_response,
};

/* ---- lifecycle ---------------------------------------------------------- */

static void free_otlp(struct otlp *o)
{
	otlp_sender_free(o->sender);
	free(o->ring);
	free(o->batch);
	free(o);
}

struct otlp *otlp_start(const struct otlp_settings *set, const struct otlp_opts *opts)
{
	struct otlp *o;
	int err;

	o = calloc(1, sizeof(*o));
	if (!o) {
		errno = ENOMEM;
		return NULL;
	}
	if (opts)
		o->opts = *opts;
	set_defaults(&o->opts);
	otlp_node_detect(&o->node);
	o->sender = otlp_sender_new(
	    &(struct otlp_sender_conf){
		.signal = &traces,
		.backoff = o->opts.backoff,
		.drop_log_interval_ms = o->opts.drop_log_interval_ms,
		.stop_grace_ms = o->opts.stop_grace_ms,
		.scope_version = o->opts.scope_version,
		.ops = {.take = take_batch, .encode = encode_batch},
		.arg = o,
	    },
	    set);
	if (!o->sender) {
		err = -errno;
		goto fail;
	}
	o->ring = calloc(o->opts.queue_spans, sizeof(*o->ring));
	o->batch = calloc(o->opts.batch_spans, sizeof(*o->batch));
	if (!o->ring || !o->batch) {
		err = -ENOMEM;
		goto fail;
	}
	err = otlp_sender_run(o->sender);
	if (err)
		goto fail;
	return o;
fail:
	free_otlp(o);
	errno = -err;
	return NULL;
}

int otlp_reconfigure(struct otlp *o, const struct otlp_settings *set)
{
	return otlp_sender_reconfigure(o->sender, set);
}

void otlp_stop(struct otlp *o)
{
	if (!o)
		return;
	otlp_sender_stop(o->sender);
	/* what the grace period did not deliver */
	otlp_sender_drop(o->sender, OTLP_DROP_SHUTDOWN, o->count);
	free_otlp(o);
}

void otlp_get_stats(struct otlp *o, struct otlp_stats *st)
{
	struct otlp_sender_stats ss;

	otlp_sender_get_stats(o->sender, &ss);
	memset(st, 0, sizeof(*st));
	st->spans_submitted = atomic_load_explicit(&o->submitted, memory_order_relaxed);
	st->spans_exported = ss.exported;
	memcpy(st->spans_dropped, ss.dropped, sizeof(st->spans_dropped));
	st->batches_sent = ss.delivered;
	/* a batch cut short by a stop, or that could not be gzipped, is counted
	 * only as dropped spans */
	st->batches_failed = ss.given_up[OTLP_DROP_FAILED];
	st->requests_failed = ss.requests_failed;
	st->retries = ss.retries;
	otlp_sender_lock(o->sender);
	st->queue_len = o->count;
	otlp_sender_unlock(o->sender);
	st->queue_cap = o->opts.queue_spans;
}
