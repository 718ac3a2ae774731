/* SPDX-License-Identifier: Apache-2.0 */
/* otlp.c: the OTLP trace exporter: bounded span queue, batching thread,
 * retries, drop accounting and its rate-limited log.
 *
 * Producers (the span builder, on the capture path) only take the queue lock
 * long enough to copy one span; the exporter thread takes it only to move a
 * batch out. Everything slow (encoding, gzip, the network, backoff sleeps)
 * happens outside the lock, so a dead or slow collector costs producers
 * nothing but drops once the queue is full. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "otlp.h"
#include "otlp_encode.h"
#include "otlp_http.h"

#define MS 1000000ULL

/* At most one line per interval for a recurring kind of trouble. */
struct ratelog {
	uint64_t next_ns;
	uint64_t suppressed;
};

struct otlp {
	struct otlp_opts opts;
	char version[64];

	pthread_mutex_t lock; /* ring, pending, stopping */
	pthread_cond_t wake;  /* the thread waits here for spans, settings, stop */
	struct span *ring;
	size_t head, count;		/* oldest span at ring[head] */
	uint64_t first_ns;		/* when the oldest queued span was queued */
	struct otlp_http_conf *pending; /* from otlp_reconfigure(), not yet in use */
	bool stopping;
	_Atomic uint64_t abort_at_ns; /* 0, or when otlp_stop() cuts requests short */

	pthread_t thread;
	struct otlp_http *http; /* created before the thread; stop wakes its poll */

	/* the exporter thread's own */
	struct otlp_http_conf *conf;
	struct span *batch;
	uint64_t rng;
	bool failing; /* the last batch was not delivered */
	struct ratelog fail_log, partial_log;
	uint64_t next_drop_log_ns;
	uint64_t drops_logged[OTLP_DROP__MAX];

	_Atomic uint64_t submitted, exported, dropped[OTLP_DROP__MAX], batches_sent, batches_failed,
	    requests_failed, retries;
};

static const char *const drop_names[OTLP_DROP__MAX] = {
    [OTLP_DROP_QUEUE_FULL] = "queue_full", [OTLP_DROP_INVALID] = "invalid",
    [OTLP_DROP_FAILED] = "export_failed",  [OTLP_DROP_REJECTED] = "rejected",
    [OTLP_DROP_SHUTDOWN] = "shutdown",	   [OTLP_DROP_ENCODE] = "encode_error",
};

const char *otlp_drop_name(enum otlp_drop d)
{
	return d < OTLP_DROP__MAX ? drop_names[d] : "unknown";
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct timespec abs_ts(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ULL),
			      .tv_nsec = (long)(ns % 1000000000ULL)};
	return ts;
}

/* xorshift64*: jitter needs spread, not secrecy */
static double rnd01(struct otlp *o)
{
	o->rng ^= o->rng >> 12;
	o->rng ^= o->rng << 25;
	o->rng ^= o->rng >> 27;
	return (double)((o->rng * 0x2545F4914F6CDD1DULL) >> 11) / (double)(1ULL << 53);
}

static bool ratelog_allow(struct ratelog *r, uint64_t now, uint64_t interval_ns)
{
	if (now >= r->next_ns) {
		r->next_ns = now + interval_ns;
		return true;
	}
	r->suppressed++;
	return false;
}

static void drop(struct otlp *o, enum otlp_drop why, uint64_t n)
{
	atomic_fetch_add_explicit(&o->dropped[why], n, memory_order_relaxed);
}

static void set_defaults(struct otlp_opts *p)
{
	if (!p->queue_spans)
		p->queue_spans = 2048;
	if (!p->batch_spans)
		p->batch_spans = 512;
	if (!p->batch_delay_ms)
		p->batch_delay_ms = 1000;
	if (!p->backoff.initial_ms)
		p->backoff.initial_ms = 500;
	if (!p->backoff.max_ms)
		p->backoff.max_ms = 5000;
	if (!p->backoff.multiplier)
		p->backoff.multiplier = 2;
	if (!p->backoff.max_elapsed_ms)
		p->backoff.max_elapsed_ms = 30000;
	if (!p->drop_log_interval_ms)
		p->drop_log_interval_ms = 10000;
	if (!p->stop_grace_ms)
		p->stop_grace_ms = 2000;
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
#undef TERM
}

int otlp_submit(struct otlp *o, const struct span *s)
{
	size_t threshold = o->opts.batch_spans, cap = o->opts.queue_spans;
	struct span *slot;

	if (zero_id(s->trace_id, sizeof(s->trace_id)) || zero_id(s->span_id, sizeof(s->span_id))) {
		drop(o, OTLP_DROP_INVALID, 1);
		return -EINVAL;
	}
	if (threshold > cap)
		threshold = cap;
	pthread_mutex_lock(&o->lock);
	if (o->count == cap) {
		pthread_mutex_unlock(&o->lock);
		drop(o, OTLP_DROP_QUEUE_FULL, 1);
		return -ENOSPC;
	}
	slot = &o->ring[(o->head + o->count) % cap];
	memcpy(slot, s, sizeof(*slot));
	terminate_strings(slot);
	if (++o->count == 1)
		o->first_ns = mono_ns();
	/* wake the thread only when its plan changes: a first span starts the
	 * batch timer, a full batch is due now */
	if (o->count == 1 || o->count == threshold)
		pthread_cond_signal(&o->wake);
	pthread_mutex_unlock(&o->lock);
	atomic_fetch_add_explicit(&o->submitted, 1, memory_order_relaxed);
	return 0;
}

/* ---- the exporter thread ------------------------------------------------ */

static void log_drops(struct otlp *o, uint64_t now, bool final)
{
	char detail[256];
	uint64_t delta, total = 0, all = 0, cur;
	int len = 0;

	if (!final && now < o->next_drop_log_ns)
		return;
	o->next_drop_log_ns = now + o->opts.drop_log_interval_ms * MS;
	detail[0] = 0;
	for (int d = 0; d < OTLP_DROP__MAX; d++) {
		cur = atomic_load_explicit(&o->dropped[d], memory_order_relaxed);
		delta = cur - o->drops_logged[d];
		o->drops_logged[d] = cur;
		all += cur;
		if (!delta)
			continue;
		total += delta;
		if (len < (int)sizeof(detail))
			len += snprintf(detail + len, sizeof(detail) - len, "%s%s %" PRIu64,
					len ? ", " : "", drop_names[d], delta);
	}
	if (total)
		log_warn("otlp: %" PRIu64 " spans dropped (%s); %" PRIu64 " since start", total,
			 detail, all);
}

/* A short line on what the collector said, for the log. */
static void describe_answer(const struct otlp_http_result *r, char *out, size_t size)
{
	char msg[200];
	size_t i;
	bool text = r->body_len > 0 && r->body_len < sizeof(msg);

	if (r->curl_code) {
		snprintf(out, size, "%s", r->error);
		return;
	}
	if (!otlp_status_message(r->body, r->body_len, msg, sizeof(msg))) {
		snprintf(out, size, "HTTP %ld: %s", r->status, msg);
		return;
	}
	/* not a google.rpc.Status: a proxy's or plain server's short text answer */
	for (i = 0; text && i < r->body_len; i++)
		text = r->body[i] >= 0x20 && r->body[i] < 0x7f;
	if (text)
		snprintf(out, size, "HTTP %ld: %.*s", r->status, (int)r->body_len,
			 (const char *)r->body);
	else
		snprintf(out, size, "HTTP %ld", r->status);
}

static void log_failure(struct otlp *o, const struct otlp_http_result *r, size_t n, const char *why)
{
	char what[256];

	if (!ratelog_allow(&o->fail_log, mono_ns(), o->opts.drop_log_interval_ms * MS))
		return;
	describe_answer(r, what, sizeof(what));
	log_error("otlp: POST %s: %s; %zu spans dropped (%s)%s", o->conf->url, what, n, why,
		  o->fail_log.suppressed ? "; similar failures since the last report" : "");
	o->fail_log.suppressed = 0;
}

static void on_delivered(struct otlp *o, const struct otlp_http_result *r, size_t n)
{
	int64_t rejected;
	char msg[256];

	atomic_fetch_add_explicit(&o->batches_sent, 1, memory_order_relaxed);
	/* 200 with a body we cannot read is still a delivery: the spec has no
	 * retry for it, and the spans were taken */
	if (otlp_decode_response(r->body, r->body_len, &rejected, msg, sizeof(msg))) {
		log_debug("otlp: 2xx answer is not an ExportTraceServiceResponse; ignored");
		rejected = 0;
		msg[0] = 0;
	}
	if (rejected > (int64_t)n)
		rejected = (int64_t)n;
	atomic_fetch_add_explicit(&o->exported, n - (uint64_t)rejected, memory_order_relaxed);
	drop(o, OTLP_DROP_REJECTED, (uint64_t)rejected);
	if ((rejected || msg[0]) &&
	    ratelog_allow(&o->partial_log, mono_ns(), o->opts.drop_log_interval_ms * MS)) {
		if (rejected)
			log_warn("otlp: collector rejected %" PRId64 " of %zu spans: %s", rejected,
				 n, msg[0] ? msg : "(no reason given)");
		else
			log_info("otlp: collector accepted the spans with a warning: %s", msg);
		o->partial_log.suppressed = 0;
	}
	if (o->failing)
		log_info("otlp: delivering to %s again", o->conf->url);
	o->failing = false;
}

/* Picks up a configuration handed over by otlp_reconfigure(). */
static void adopt_pending(struct otlp *o)
{
	struct otlp_http_conf *c;

	pthread_mutex_lock(&o->lock);
	c = o->pending;
	o->pending = NULL;
	pthread_mutex_unlock(&o->lock);
	if (!c)
		return;
	otlp_http_conf_free(o->conf);
	o->conf = c;
	otlp_http_use(o->http, c);
	log_info("otlp: exporting traces to %s%s", c->url, c->gzip ? " (gzip)" : "");
}

/* Sleeps ms, or less when a stop comes. Returns true when stopping. */
static bool backoff_sleep(struct otlp *o, uint64_t ms)
{
	uint64_t until = mono_ns() + ms * MS;
	struct timespec ts = abs_ts(until);
	bool stopping;

	pthread_mutex_lock(&o->lock);
	while (!o->stopping && mono_ns() < until)
		if (pthread_cond_timedwait(&o->wake, &o->lock, &ts) == ETIMEDOUT)
			break;
	stopping = o->stopping;
	pthread_mutex_unlock(&o->lock);
	return stopping;
}

/* The body for the settings in force: gzip is made once, when first needed. */
static int body_for(struct otlp *o, const struct otlp_buf *raw, struct otlp_buf *gz,
		    const struct otlp_buf **body)
{
	if (!o->conf->gzip) {
		*body = raw;
		return 0;
	}
	if (!gz->data && otlp_gzip(raw->data, raw->len, gz))
		return -ENOMEM;
	*body = gz;
	return 0;
}

/* Sends one batch until it is delivered, refused for good, out of retry time
 * or cut short by a stop (stopping: already stopping, so no retries). Every
 * span of the batch ends in exactly one counter. */
static void export_batch(struct otlp *o, size_t n, bool stopping)
{
	struct otlp_buf raw, gz = {0};
	const struct otlp_buf *body;
	struct otlp_http_result r;
	uint64_t start = mono_ns(), elapsed_ms, wait_ms, ra_ms, timeout_ms;
	int64_t retry_after;
	unsigned attempt = 0;

	if (otlp_encode_traces(o->batch, n, o->version, &raw)) {
		drop(o, OTLP_DROP_ENCODE, n);
		return;
	}
	for (;;) {
		adopt_pending(o);
		if (body_for(o, &raw, &gz, &body)) {
			drop(o, OTLP_DROP_ENCODE, n);
			break;
		}
		/* one attempt may not outlast the batch's retry budget */
		elapsed_ms = (mono_ns() - start) / MS;
		timeout_ms = o->conf->timeout_ms;
		if (o->opts.backoff.max_elapsed_ms > elapsed_ms &&
		    timeout_ms > o->opts.backoff.max_elapsed_ms - elapsed_ms)
			timeout_ms = o->opts.backoff.max_elapsed_ms - elapsed_ms;
		if (timeout_ms < 100)
			timeout_ms = 100;
		if (otlp_http_post(o->http, body->data, body->len, timeout_ms, &o->abort_at_ns,
				   &r)) {
			drop(o, OTLP_DROP_FAILED, n);
			atomic_fetch_add_explicit(&o->batches_failed, 1, memory_order_relaxed);
			break;
		}
		if (r.aborted) {
			drop(o, OTLP_DROP_SHUTDOWN, n);
			break;
		}
		switch (otlp_classify(r.curl_code, r.status)) {
		case OTLP_DONE:
			on_delivered(o, &r, n);
			goto done;
		case OTLP_FAIL:
			atomic_fetch_add_explicit(&o->requests_failed, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&o->batches_failed, 1, memory_order_relaxed);
			drop(o, OTLP_DROP_FAILED, n);
			log_failure(o, &r, n, "not retryable");
			o->failing = true;
			goto done;
		case OTLP_RETRY:
			atomic_fetch_add_explicit(&o->requests_failed, 1, memory_order_relaxed);
			break;
		}
		if (stopping) {
			/* a stop allows one last try per batch, not a retry loop */
			drop(o, OTLP_DROP_SHUTDOWN, n);
			break;
		}
		retry_after = -1;
		if (r.retry_after[0] && !otlp_retry_after_ms(r.retry_after, time(NULL), &ra_ms))
			retry_after = (int64_t)ra_ms;
		elapsed_ms = (mono_ns() - start) / MS;
		if (!otlp_next_retry(&o->opts.backoff, attempt, elapsed_ms, retry_after, rnd01(o),
				     &wait_ms)) {
			atomic_fetch_add_explicit(&o->batches_failed, 1, memory_order_relaxed);
			drop(o, OTLP_DROP_FAILED, n);
			log_failure(o, &r, n, "retry time used up");
			o->failing = true;
			break;
		}
		if (log_verbosity >= LOG_DEBUG) {
			char what[256];

			describe_answer(&r, what, sizeof(what));
			log_debug("otlp: attempt %u for %zu spans failed (%s), retrying in %" PRIu64
				  " ms",
				  attempt + 1, n, what, wait_ms);
		}
		atomic_fetch_add_explicit(&o->retries, 1, memory_order_relaxed);
		attempt++;
		/* a batch can be retried for half a minute: report the queue's drops
		 * meanwhile, not after */
		log_drops(o, mono_ns(), false);
		stopping = backoff_sleep(o, wait_ms);
	}
done:
	otlp_buf_free(&raw);
	otlp_buf_free(&gz);
}

static bool batch_due(struct otlp *o, uint64_t now)
{
	size_t threshold =
	    o->opts.batch_spans < o->opts.queue_spans ? o->opts.batch_spans : o->opts.queue_spans;

	return o->count >= threshold ||
	       (o->count && now >= o->first_ns + o->opts.batch_delay_ms * MS);
}

/* Moves up to batch_spans of the oldest spans out of the ring (lock held). */
static size_t take_batch(struct otlp *o, uint64_t now)
{
	size_t cap = o->opts.queue_spans, n = o->count, first;

	if (n > o->opts.batch_spans)
		n = o->opts.batch_spans;
	first = cap - o->head < n ? cap - o->head : n;
	memcpy(o->batch, &o->ring[o->head], first * sizeof(*o->batch));
	memcpy(o->batch + first, o->ring, (n - first) * sizeof(*o->batch));
	o->head = (o->head + n) % cap;
	o->count -= n;
	/* what is left waits for a full batch or one more delay, not longer */
	o->first_ns = now;
	return n;
}

/* Waits until a batch is due, a stop comes or the drop report is due, then
 * takes the batch (lock held on entry and exit). */
static size_t wait_for_batch(struct otlp *o)
{
	uint64_t now = mono_ns(), until;
	struct timespec ts;

	while (!o->stopping && !batch_due(o, now) && now < o->next_drop_log_ns) {
		until = o->next_drop_log_ns;
		if (o->count && o->first_ns + o->opts.batch_delay_ms * MS < until)
			until = o->first_ns + o->opts.batch_delay_ms * MS;
		ts = abs_ts(until);
		pthread_cond_timedwait(&o->wake, &o->lock, &ts);
		now = mono_ns();
	}
	if (!o->count || (!o->stopping && !batch_due(o, now)))
		return 0;
	return take_batch(o, now);
}

static void *run(void *arg)
{
	struct otlp *o = arg;
	bool stopping;
	size_t n;

	for (;;) {
		pthread_mutex_lock(&o->lock);
		n = wait_for_batch(o);
		stopping = o->stopping;
		pthread_mutex_unlock(&o->lock);
		adopt_pending(o);
		if (n)
			export_batch(o, n, stopping);
		log_drops(o, mono_ns(), false);
		if (stopping && (!n || mono_ns() >= atomic_load(&o->abort_at_ns)))
			break;
	}
	return NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

static void free_otlp(struct otlp *o)
{
	otlp_http_free(o->http);
	otlp_http_conf_free(o->conf);
	otlp_http_conf_free(o->pending);
	free(o->ring);
	free(o->batch);
	pthread_cond_destroy(&o->wake);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

struct otlp *otlp_start(const struct cfg_telemetry *cfg, const struct otlp_opts *opts)
{
	pthread_condattr_t ca;
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
	snprintf(o->version, sizeof(o->version), "%s",
		 o->opts.scope_version ? o->opts.scope_version : "dev");
	o->opts.scope_version = o->version;
	pthread_mutex_init(&o->lock, NULL);
	/* timed waits on the monotonic clock: a wall-clock step must not stall
	 * or rush the batches */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->wake, &ca);
	pthread_condattr_destroy(&ca);

	err = otlp_http_conf_new(cfg, o->version, &o->pending);
	if (err) {
		log_error("otlp: %s", err == -EINVAL ? "no http:// or https:// endpoint configured"
						     : "out of memory");
		goto fail;
	}
	o->ring = calloc(o->opts.queue_spans, sizeof(*o->ring));
	o->batch = calloc(o->opts.batch_spans, sizeof(*o->batch));
	o->http = otlp_http_new();
	if (!o->ring || !o->batch || !o->http) {
		err = -ENOMEM;
		goto fail;
	}
	o->rng = mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)o;
	if (!o->rng)
		o->rng = 1;
	o->next_drop_log_ns = mono_ns() + o->opts.drop_log_interval_ms * MS;
	err = -pthread_create(&o->thread, NULL, run, o);
	if (err)
		goto fail;
	return o;
fail:
	free_otlp(o);
	errno = -err;
	return NULL;
}

int otlp_reconfigure(struct otlp *o, const struct cfg_telemetry *cfg)
{
	struct otlp_http_conf *c, *old;
	int err = otlp_http_conf_new(cfg, o->version, &c);

	if (err)
		return err;
	pthread_mutex_lock(&o->lock);
	old = o->pending;
	o->pending = c;
	pthread_cond_signal(&o->wake);
	pthread_mutex_unlock(&o->lock);
	otlp_http_conf_free(old);
	return 0;
}

void otlp_stop(struct otlp *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	o->stopping = true;
	atomic_store(&o->abort_at_ns, mono_ns() + o->opts.stop_grace_ms * MS);
	pthread_cond_signal(&o->wake);
	pthread_mutex_unlock(&o->lock);
	otlp_http_wakeup(o->http);
	pthread_join(o->thread, NULL);

	/* what the grace period did not deliver */
	drop(o, OTLP_DROP_SHUTDOWN, o->count);
	log_drops(o, mono_ns(), true);
	free_otlp(o);
}

void otlp_get_stats(struct otlp *o, struct otlp_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->spans_submitted = atomic_load_explicit(&o->submitted, memory_order_relaxed);
	st->spans_exported = atomic_load_explicit(&o->exported, memory_order_relaxed);
	for (int d = 0; d < OTLP_DROP__MAX; d++)
		st->spans_dropped[d] = atomic_load_explicit(&o->dropped[d], memory_order_relaxed);
	st->batches_sent = atomic_load_explicit(&o->batches_sent, memory_order_relaxed);
	st->batches_failed = atomic_load_explicit(&o->batches_failed, memory_order_relaxed);
	st->requests_failed = atomic_load_explicit(&o->requests_failed, memory_order_relaxed);
	st->retries = atomic_load_explicit(&o->retries, memory_order_relaxed);
	pthread_mutex_lock(&o->lock);
	st->queue_len = o->count;
	pthread_mutex_unlock(&o->lock);
	st->queue_cap = o->opts.queue_spans;
}
