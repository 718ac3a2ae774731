/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_sender.c: the exporter thread both OTLP signals share: waiting for
 * work, the send-with-retry loop, settings swaps, drop accounting and its
 * rate-limited log, and the stop with a grace period.
 *
 * The thread never holds the lock across encoding, the network or a backoff
 * sleep, so a slow or dead collector costs the exporters' producers nothing
 * but drops. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exp_log.h"
#include "otlp_http.h"
#include "otlp_sender.h"

#define MS 1000000ULL

/* At most one line per interval for a recurring kind of trouble. */
struct ratelog {
	uint64_t next_ns;
	uint64_t suppressed;
};

struct otlp_sender {
	struct otlp_sender_conf c;
	const struct otlp_signal *sig;
	char version[64];

	pthread_mutex_t lock;		     /* pending_conf, stopping, and the exporter's queue */
	pthread_cond_t wake;		     /* the thread waits here for work, settings, stop */
	struct otlp_http_conf *pending_conf; /* from otlp_sender_reconfigure(), not yet in use */
	bool stopping;
	_Atomic uint64_t abort_at_ns; /* 0, or when otlp_sender_stop() cuts requests short */

	pthread_t thread;
	bool running;		/* the thread was started */
	struct otlp_http *http; /* created before the thread; stop wakes its poll */

	/* the thread's own */
	struct otlp_http_conf *conf;
	uint64_t rng;
	bool failing; /* the last payload was not delivered */
	struct ratelog fail_log, partial_log;
	uint64_t next_drop_log_ns;
	uint64_t drops_logged[OTLP_DROP__MAX];

	_Atomic uint64_t delivered, replaced, given_up[OTLP_DROP__MAX], exported,
	    dropped[OTLP_DROP__MAX], requests_failed, retries;
};

void otlp_payload_free(struct otlp_payload *p)
{
	if (!p)
		return;
	otlp_buf_free(&p->raw);
	otlp_buf_free(&p->gz);
	free(p);
}

static struct timespec abs_ts(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ULL),
			      .tv_nsec = (long)(ns % 1000000000ULL)};
	return ts;
}

/* xorshift64*: jitter needs spread, not secrecy */
static double rnd01(struct otlp_sender *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return (double)((s->rng * 0x2545F4914F6CDD1DULL) >> 11) / (double)(1ULL << 53);
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

static void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

void otlp_sender_drop(struct otlp_sender *s, enum otlp_drop why, uint64_t n)
{
	count(&s->dropped[why], n);
}

void otlp_sender_give_up(struct otlp_sender *s, enum otlp_drop why, uint64_t n)
{
	count(&s->given_up[why], 1);
	otlp_sender_drop(s, why, n);
}

void otlp_sender_lock(struct otlp_sender *s) { pthread_mutex_lock(&s->lock); }

void otlp_sender_unlock(struct otlp_sender *s) { pthread_mutex_unlock(&s->lock); }

void otlp_sender_wake(struct otlp_sender *s) { pthread_cond_signal(&s->wake); }

static void set_defaults(struct otlp_sender_conf *c)
{
	if (!c->backoff.initial_ms)
		c->backoff.initial_ms = 500;
	if (!c->backoff.max_ms)
		c->backoff.max_ms = 5000;
	if (!c->backoff.multiplier)
		c->backoff.multiplier = 2;
	if (!c->backoff.max_elapsed_ms)
		c->backoff.max_elapsed_ms = 30000;
	if (!c->drop_log_interval_ms)
		c->drop_log_interval_ms = 10000;
	if (!c->stop_grace_ms)
		c->stop_grace_ms = 2000;
}

const char *otlp_sender_version(const struct otlp_sender *s) { return s->version; }

/* ---- the log ------------------------------------------------------------ */

static void log_drops(struct otlp_sender *s, uint64_t now, bool final)
{
	char detail[256];
	uint64_t delta, total = 0, all = 0, cur;
	int len = 0;

	if (!final && now < s->next_drop_log_ns)
		return;
	s->next_drop_log_ns = now + s->c.drop_log_interval_ms * MS;
	detail[0] = 0;
	for (int d = 0; d < OTLP_DROP__MAX; d++) {
		cur = atomic_load_explicit(&s->dropped[d], memory_order_relaxed);
		delta = cur - s->drops_logged[d];
		s->drops_logged[d] = cur;
		all += cur;
		if (!delta)
			continue;
		total += delta;
		if (len < (int)sizeof(detail))
			len += snprintf(detail + len, sizeof(detail) - len, "%s%s %" PRIu64,
					len ? ", " : "", otlp_drop_name(d), delta);
	}
	if (total)
		exp_log_warn("%s: %" PRIu64 " %s dropped (%s); %" PRIu64 " since start",
			     s->sig->log_prefix, total, s->sig->items, detail, all);
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

static void log_failure(struct otlp_sender *s, const struct otlp_http_result *r, size_t n,
			const char *why)
{
	char what[256];

	if (!ratelog_allow(&s->fail_log, otlp_mono_ns(), s->c.drop_log_interval_ms * MS))
		return;
	describe_answer(r, what, sizeof(what));
	exp_log_error("%s: POST %s: %s; %zu %s dropped (%s)%s", s->sig->log_prefix, s->conf->url,
		      what, n, s->sig->items, why,
		      s->fail_log.suppressed ? "; similar failures since the last report" : "");
	s->fail_log.suppressed = 0;
}

/* A debug line per retry; the hook decides whether it is shown. */
static void log_retry(struct otlp_sender *s, const struct otlp_http_result *r, unsigned attempt,
		      size_t n, uint64_t wait_ms)
{
	char what[256];

	describe_answer(r, what, sizeof(what));
	exp_log_debug("%s: attempt %u for %zu %s failed (%s), retrying in %" PRIu64 " ms",
		      s->sig->log_prefix, attempt + 1, n, s->sig->items, what, wait_ms);
}

/* ---- sending -------------------------------------------------------------- */

static void on_delivered(struct otlp_sender *s, const struct otlp_http_result *r, size_t n)
{
	int64_t rejected;
	char msg[256];

	/* delivered is counted after what became of the items: a reader that
	 * sees the batch delivered sees its items accounted */
	/* A 2xx whose body is not the protocol's answer (a proxy's HTML page,
	 * a server that is no collector) confirms nothing: the items are not
	 * counted as exported, nor retried, which could duplicate them (the
	 * OpenTelemetry SDKs also fail such an export). */
	if (s->sig->decode_response(r->body, r->body_len, &rejected, msg, sizeof(msg))) {
		otlp_sender_drop(s, OTLP_DROP_UNCONFIRMED, n);
		count(&s->delivered, 1);
		if (ratelog_allow(&s->fail_log, otlp_mono_ns(), s->c.drop_log_interval_ms * MS)) {
			exp_log_warn("%s: POST %s: HTTP %ld, but the answer is not an %s; %zu %s "
				     "counted as unconfirmed",
				     s->sig->log_prefix, s->conf->url, r->status,
				     s->sig->response_name, n, s->sig->items);
			s->fail_log.suppressed = 0;
		}
		return;
	}
	if (rejected > (int64_t)n)
		rejected = (int64_t)n;
	count(&s->exported, n - (uint64_t)rejected);
	otlp_sender_drop(s, OTLP_DROP_REJECTED, (uint64_t)rejected);
	count(&s->delivered, 1);
	if ((rejected || msg[0]) &&
	    ratelog_allow(&s->partial_log, otlp_mono_ns(), s->c.drop_log_interval_ms * MS)) {
		if (rejected)
			exp_log_warn("%s: collector rejected %" PRId64 " of %zu %s: %s",
				     s->sig->log_prefix, rejected, n, s->sig->items,
				     msg[0] ? msg : "(no reason given)");
		else
			exp_log_info("%s: collector accepted the %s with a warning: %s",
				     s->sig->log_prefix, s->sig->items, msg);
		s->partial_log.suppressed = 0;
	}
	if (s->failing)
		exp_log_info("%s: delivering to %s again", s->sig->log_prefix, s->conf->url);
	s->failing = false;
}

/* Picks up settings handed over by otlp_sender_reconfigure(). */
static void adopt_pending_conf(struct otlp_sender *s)
{
	struct otlp_http_conf *c;

	pthread_mutex_lock(&s->lock);
	c = s->pending_conf;
	s->pending_conf = NULL;
	pthread_mutex_unlock(&s->lock);
	if (!c)
		return;
	otlp_http_conf_free(s->conf);
	s->conf = c;
	otlp_http_use(s->http, c);
	exp_log_info("otlp: exporting %s to %s%s", s->sig->name, c->url, c->gzip ? " (gzip)" : "");
}

/* Sleeps ms, or less when a stop comes; new work does not cut it short, so
 * Retry-After and the backoff hold. Returns true when stopping. */
static bool backoff_sleep(struct otlp_sender *s, uint64_t ms)
{
	uint64_t until = otlp_mono_ns() + ms * MS;
	struct timespec ts = abs_ts(until);
	bool stopping;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping && otlp_mono_ns() < until)
		if (pthread_cond_timedwait(&s->wake, &s->lock, &ts) == ETIMEDOUT)
			break;
	stopping = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return stopping;
}

/* The body for the settings in force: gzip is made once, when first needed. */
static int body_for(struct otlp_sender *s, struct otlp_payload *p, const struct otlp_buf **body)
{
	if (!s->conf->gzip) {
		*body = &p->raw;
		return 0;
	}
	if (!p->gz.data && otlp_gzip(p->raw.data, p->raw.len, &p->gz))
		return -ENOMEM;
	*body = &p->gz;
	return 0;
}

/* One attempt may not outlast the payload's retry budget. */
static uint64_t attempt_timeout_ms(struct otlp_sender *s, uint64_t start)
{
	uint64_t elapsed_ms = (otlp_mono_ns() - start) / MS, timeout_ms = s->conf->timeout_ms;

	if (s->c.backoff.max_elapsed_ms > elapsed_ms &&
	    timeout_ms > s->c.backoff.max_elapsed_ms - elapsed_ms)
		timeout_ms = s->c.backoff.max_elapsed_ms - elapsed_ms;
	return timeout_ms < 100 ? 100 : timeout_ms;
}

/* Whether to retry and after how long: the backoff, or Retry-After when longer. */
static bool next_retry(struct otlp_sender *s, const struct otlp_http_result *r, uint64_t start,
		       unsigned attempt, uint64_t *wait_ms)
{
	int64_t retry_after = -1;
	uint64_t ra_ms;

	if (r->retry_after[0] && !otlp_retry_after_ms(r->retry_after, time(NULL), &ra_ms))
		retry_after = (int64_t)ra_ms;
	return otlp_next_retry(&s->c.backoff, attempt, (otlp_mono_ns() - start) / MS, retry_after,
			       rnd01(s), wait_ms);
}

/* A newer payload that take() has while p waits for a retry, or NULL. */
static struct otlp_payload *take_newer(struct otlp_sender *s)
{
	uint64_t due = 0;
	bool got;

	pthread_mutex_lock(&s->lock);
	got = s->c.ops.take(s->c.arg, otlp_mono_ns(), false, &due);
	pthread_mutex_unlock(&s->lock);
	return got ? s->c.ops.encode(s->c.arg) : NULL;
}

/* Sends p until it is delivered, refused for good, out of retry time or cut
 * short by a stop (stopping: already stopping, so one try only). Every item
 * of p ends in exactly one counter. Frees p. */
static void send_payload(struct otlp_sender *s, struct otlp_payload *p, bool stopping)
{
	const struct otlp_buf *body;
	struct otlp_http_result r;
	uint64_t start = otlp_mono_ns(), wait_ms;
	unsigned attempt = 0;
	struct otlp_payload *newer;

	for (;;) {
		adopt_pending_conf(s);
		if (body_for(s, p, &body)) {
			otlp_sender_give_up(s, OTLP_DROP_ENCODE, p->n_items);
			break;
		}
		if (otlp_http_post(s->http, body->data, body->len, attempt_timeout_ms(s, start),
				   &s->abort_at_ns, &r)) {
			otlp_sender_give_up(s, OTLP_DROP_FAILED, p->n_items);
			break;
		}
		if (r.aborted) {
			otlp_sender_give_up(s, OTLP_DROP_SHUTDOWN, p->n_items);
			break;
		}
		switch (otlp_classify(r.curl_code, r.status)) {
		case OTLP_DONE:
			on_delivered(s, &r, p->n_items);
			goto done;
		case OTLP_FAIL:
			count(&s->requests_failed, 1);
			log_failure(s, &r, p->n_items, "not retryable");
			otlp_sender_give_up(s, OTLP_DROP_FAILED, p->n_items);
			s->failing = true;
			goto done;
		case OTLP_RETRY:
			count(&s->requests_failed, 1);
			break;
		}
		if (stopping) {
			/* a stop allows one last try per payload, not a retry loop */
			otlp_sender_give_up(s, OTLP_DROP_SHUTDOWN, p->n_items);
			break;
		}
		if (!next_retry(s, &r, start, attempt, &wait_ms)) {
			log_failure(s, &r, p->n_items, "retry time used up");
			otlp_sender_give_up(s, OTLP_DROP_FAILED, p->n_items);
			s->failing = true;
			break;
		}
		log_retry(s, &r, attempt, p->n_items, wait_ms);
		count(&s->retries, 1);
		attempt++;
		/* a payload can be retried for half a minute: report the drops
		 * meanwhile, not after */
		log_drops(s, otlp_mono_ns(), false);
		stopping = backoff_sleep(s, wait_ms);
		if (s->sig->newer_replaces && (newer = take_newer(s))) {
			count(&s->replaced, 1);
			otlp_payload_free(p);
			p = newer;
			start = otlp_mono_ns();
		}
	}
done:
	otlp_payload_free(p);
}

/* ---- the thread ------------------------------------------------------------ */

/* Waits until take() has work, a stop comes or the drop report is due (lock
 * held on entry and exit). */
static bool wait_for_work(struct otlp_sender *s)
{
	uint64_t now, due, until;
	struct timespec ts;

	for (;;) {
		now = otlp_mono_ns();
		due = 0;
		if (s->c.ops.take(s->c.arg, now, s->stopping, &due))
			return true;
		if (s->stopping || now >= s->next_drop_log_ns)
			return false;
		until = s->next_drop_log_ns;
		if (due && due < until)
			until = due;
		ts = abs_ts(until);
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
	}
}

static void *run(void *arg)
{
	struct otlp_sender *s = arg;
	struct otlp_payload *p;
	bool stopping, got;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		got = wait_for_work(s);
		stopping = s->stopping;
		pthread_mutex_unlock(&s->lock);
		adopt_pending_conf(s);
		p = got ? s->c.ops.encode(s->c.arg) : NULL;
		if (p)
			send_payload(s, p, stopping);
		log_drops(s, otlp_mono_ns(), false);
		if (stopping && (!got || otlp_mono_ns() >= atomic_load(&s->abort_at_ns)))
			break;
	}
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

struct otlp_sender *otlp_sender_new(const struct otlp_sender_conf *c,
				    const struct otlp_settings *set)
{
	pthread_condattr_t ca;
	struct otlp_sender *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->c = *c;
	s->sig = c->signal;
	set_defaults(&s->c);
	snprintf(s->version, sizeof(s->version), "%s", c->scope_version ? c->scope_version : "dev");
	s->c.scope_version = s->version;
	pthread_mutex_init(&s->lock, NULL);
	/* timed waits on the monotonic clock: a wall-clock step must not stall
	 * or rush the batches and retries */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);

	err = otlp_http_conf_new(set, s->sig->path, s->version, &s->pending_conf);
	if (err) {
		exp_log_error("%s: %s", s->sig->log_prefix,
			      err == -EINVAL ? "no http:// or https:// endpoint configured"
					     : "out of memory");
		goto fail;
	}
	s->http = otlp_http_new();
	if (!s->http) {
		err = -ENOMEM;
		goto fail;
	}
	s->rng = otlp_mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s;
	if (!s->rng)
		s->rng = 1;
	s->next_drop_log_ns = otlp_mono_ns() + s->c.drop_log_interval_ms * MS;
	return s;
fail:
	otlp_sender_free(s);
	errno = -err;
	return NULL;
}

int otlp_sender_run(struct otlp_sender *s)
{
	int err = -pthread_create(&s->thread, NULL, run, s);

	s->running = !err;
	return err;
}

int otlp_sender_reconfigure(struct otlp_sender *s, const struct otlp_settings *set)
{
	struct otlp_http_conf *c, *old;
	int err = otlp_http_conf_new(set, s->sig->path, s->version, &c);

	if (err)
		return err;
	pthread_mutex_lock(&s->lock);
	old = s->pending_conf;
	s->pending_conf = c;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	otlp_http_conf_free(old);
	return 0;
}

void otlp_sender_stop(struct otlp_sender *s)
{
	if (!s->running)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	atomic_store(&s->abort_at_ns, otlp_mono_ns() + s->c.stop_grace_ms * MS);
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	otlp_http_wakeup(s->http);
	pthread_join(s->thread, NULL);
	s->running = false;
}

void otlp_sender_free(struct otlp_sender *s)
{
	if (!s)
		return;
	otlp_sender_stop(s);
	log_drops(s, otlp_mono_ns(), true);
	otlp_http_free(s->http);
	otlp_http_conf_free(s->conf);
	otlp_http_conf_free(s->pending_conf);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void otlp_sender_get_stats(struct otlp_sender *s, struct otlp_sender_stats *st)
{
#define LOAD(f) atomic_load_explicit(&s->f, memory_order_relaxed)
	memset(st, 0, sizeof(*st));
	st->delivered = LOAD(delivered);
	st->replaced = LOAD(replaced);
	st->exported = LOAD(exported);
	for (int d = 0; d < OTLP_DROP__MAX; d++) {
		st->given_up[d] = LOAD(given_up[d]);
		st->dropped[d] = LOAD(dropped[d]);
	}
	st->requests_failed = LOAD(requests_failed);
	st->retries = LOAD(retries);
#undef LOAD
}
