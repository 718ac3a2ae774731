/* SPDX-License-Identifier: Apache-2.0 */
/* otlp.c: the OTLP trace exporter: a bounded span queue and the batching
 * that feeds otlp_sender, whose thread encodes, sends, retries and counts.
 *
 * Producers (the span builder, on the capture path) pack a span (span_pack.h)
 * and take the queue lock only long enough to copy its bytes; the exporter
 * thread takes it only to move a batch's bytes out, and unpacks them outside. Everything slow
 * (encoding, gzip, the network, backoff sleeps) happens outside the lock, so a dead or slow
 * collector costs producers nothing but drops once the queue is full. */
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
#include "span_pack.h"
#include "span_ring.h"

#define MS 1000000ULL

struct otlp {
	struct otlp_opts opts;
	struct otlp_sender *sender; /* its lock guards ring and first_ns */
	struct otlp_node node;	    /* the machine's resource attributes */

	struct span_ring ring; /* packed spans, oldest first; refuses when full */
	uint64_t first_ns;     /* when the oldest queued span was queued */

	/* the exporter thread's own: the batch take_batch() moved out, packed
	 * one after the other, and unpacked by encode_batch() */
	uint8_t *batch_bytes;
	size_t batch_bytes_cap;
	uint32_t *batch_len;
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
	if (!p->queue_bytes)
		p->queue_bytes = p->queue_spans * OTLP_QUEUE_SPAN_BYTES + SPAN_PACK_MAX;
}

/* ---- producers ---------------------------------------------------------- */

static bool zero_id(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

int otlp_submit(struct otlp *o, const struct span *s) { return otlp_submit_packed(o, s, NULL); }

int otlp_submit_packed(struct otlp *o, const struct span *s, const struct span_packed *pk)
{
	size_t threshold = o->opts.batch_spans, cap = o->opts.queue_spans, len;
	/* a string filled to the brim is cut to its size - 1, not sent empty */
	uint8_t buf[SPAN_PACK_MAX];
	const uint8_t *packed = buf;

	if (zero_id(s->trace_id, sizeof(s->trace_id)) || zero_id(s->span_id, sizeof(s->span_id))) {
		otlp_sender_drop(o->sender, OTLP_DROP_INVALID, 1);
		return -EINVAL;
	}
	if (threshold > cap)
		threshold = cap;
	if (pk) {
		packed = pk->bytes;
		len = pk->len;
	} else {
		len = span_pack(s, buf, sizeof(buf));
	}
	otlp_sender_lock(o->sender);
	/* full by count, or by bytes when spans average more than
	 * OTLP_QUEUE_SPAN_BYTES: the same drop */
	if (span_ring_push_packed(&o->ring, packed, len, false)) {
		otlp_sender_unlock(o->sender);
		otlp_sender_drop(o->sender, OTLP_DROP_QUEUE_FULL, 1);
		return -ENOSPC;
	}
	if (o->ring.count == 1)
		o->first_ns = otlp_mono_ns();
	/* wake the thread only when its plan changes: a first span starts the
	 * batch timer, a full batch is due now */
	if (o->ring.count == 1 || o->ring.count == threshold)
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

	return o->ring.count >= threshold ||
	       (o->ring.count && now >= o->first_ns + o->opts.batch_delay_ms * MS);
}

/* Moves up to batch_spans of the oldest spans out of the ring when a batch is
 * due, or whatever is queued when stopping (lock held): their packed bytes
 * only, so the producers wait for a copy, not for the unpacking. */
static bool take_batch(void *arg, uint64_t now, bool stopping, uint64_t *due_ns)
{
	struct otlp *o = arg;
	size_t n = o->ring.count, at = 0, i;

	if (!n)
		return false;
	if (!stopping && !batch_due(o, now)) {
		*due_ns = o->first_ns + o->opts.batch_delay_ms * MS;
		return false;
	}
	if (n > o->opts.batch_spans)
		n = o->opts.batch_spans;
	for (i = 0; i < n; i++) {
		const struct span_ring_rec *r = span_ring_at(&o->ring, (uint32_t)i);

		/* a batch of spans larger than the queue's average stops short */
		if (o->batch_bytes_cap - at < r->len)
			break;
		memcpy(o->batch_bytes + at, o->ring.arena + r->off, r->len);
		o->batch_len[i] = r->len;
		at += r->len;
	}
	n = i;
	span_ring_drop_oldest(&o->ring, (uint32_t)n);
	/* what is left waits for a full batch or one more delay, not longer */
	o->first_ns = now;
	o->batch_n = n;
	return true;
}

/* The batch unpacked and encoded as an ExportTraceServiceRequest, outside
 * the lock. */
static struct otlp_payload *encode_batch(void *arg)
{
	struct otlp *o = arg;
	struct otlp_payload *p;
	size_t at = 0, n = 0;

	for (size_t i = 0; i < o->batch_n; i++) {
		/* only what span_pack() wrote is in there; a span that did not
		 * unpack is dropped, not sent garbled */
		if (span_unpack(o->batch_bytes + at, o->batch_len[i], &o->batch[n]))
			otlp_sender_drop(o->sender, OTLP_DROP_ENCODE, 1);
		else
			n++;
		at += o->batch_len[i];
	}
	o->batch_n = n;
	if (!n)
		return NULL;
	p = calloc(1, sizeof(*p));
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
	span_ring_free(&o->ring);
	free(o->batch_bytes);
	free(o->batch_len);
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
	if (o->opts.queue_spans > UINT32_MAX) {
		err = -EINVAL;
		goto fail;
	}
	err = span_ring_init(&o->ring, (uint32_t)o->opts.queue_spans, o->opts.queue_bytes);
	if (err)
		goto fail;
	/* room for a batch of spans of the queue's size, and for one span of
	 * any size, so that every batch takes at least one */
	o->batch_bytes_cap = o->opts.batch_spans * OTLP_QUEUE_SPAN_BYTES + SPAN_PACK_MAX;
	if (o->batch_bytes_cap > o->ring.size)
		o->batch_bytes_cap = o->ring.size;
	o->batch_bytes = malloc(o->batch_bytes_cap);
	o->batch_len = calloc(o->opts.batch_spans, sizeof(*o->batch_len));
	o->batch = calloc(o->opts.batch_spans, sizeof(*o->batch));
	if (!o->batch_bytes || !o->batch_len || !o->batch) {
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
	otlp_sender_drop(o->sender, OTLP_DROP_SHUTDOWN, o->ring.count);
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
	st->queue_len = o->ring.count;
	otlp_sender_unlock(o->sender);
	st->queue_cap = o->opts.queue_spans;
}
