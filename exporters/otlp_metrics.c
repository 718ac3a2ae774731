/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_metrics.c: the OTLP metrics exporter: a one-snapshot slot, the thread
 * that sends it, retries, drop accounting and its rate-limited log.
 *
 * The caller encodes under no lock and then only swaps a pointer, so a slow
 * or dead collector costs it nothing. The thread never holds the lock across
 * the network or a backoff sleep. Transport and retry decisions are the trace
 * exporter's (otlp_http, otlp_retry); what differs is the queue: a snapshot
 * that waits, or that waits for a retry, is replaced by a newer one, which
 * carries the same cumulative totals and more. */
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
#include "otlp_http.h"
#include "otlp_metrics.h"
#include "otlp_metrics_encode.h"

#define MS 1000000ULL
#define OTLP_METRICS_PATH "/v1/metrics"

/* otlp_http_conf_new() makes endpoint + /v1/traces; /v1/metrics, one byte
 * longer, must fit the same url array for the longest endpoint. */
_Static_assert(sizeof(((struct otlp_http_conf *)0)->url) >=
		   sizeof(((struct cfg_telemetry *)0)->otlp_endpoint) - 1 +
		       sizeof(OTLP_METRICS_PATH),
	       "otlp_http_conf.url has no room for /v1/metrics");

/* At most one line per interval for a recurring kind of trouble. */
struct ratelog {
	uint64_t next_ns;
	uint64_t suppressed;
};

/* One encoded snapshot; the gzip body is made when first needed. */
struct msnap {
	struct otlp_buf raw, gz;
	size_t n_points;
};

struct otlp_metrics {
	struct otlp_metrics_opts opts;
	char version[64];

	pthread_mutex_t lock;  /* pending, pending_conf, stopping */
	pthread_cond_t wake;   /* the thread waits here for a snapshot, settings, stop */
	struct msnap *pending; /* the newest snapshot not yet taken by the thread */
	struct otlp_http_conf *pending_conf; /* from otlp_metrics_reconfigure(), not yet in use */
	bool stopping;
	_Atomic uint64_t abort_at_ns; /* 0, or when otlp_metrics_stop() cuts requests short */

	pthread_t thread;
	struct otlp_http *http; /* created before the thread; stop wakes its poll */

	/* the exporter thread's own */
	struct otlp_http_conf *conf;
	uint64_t rng;
	bool failing; /* the last snapshot was not delivered */
	struct ratelog fail_log, partial_log;
	uint64_t next_drop_log_ns;
	uint64_t drops_logged[OTLP_DROP__MAX];

	_Atomic uint64_t submitted, replaced, sent, failed, exported, dropped[OTLP_DROP__MAX],
	    requests_failed, retries;
};

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
static double rnd01(struct otlp_metrics *m)
{
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return (double)((m->rng * 0x2545F4914F6CDD1DULL) >> 11) / (double)(1ULL << 53);
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

static void drop(struct otlp_metrics *m, enum otlp_drop why, uint64_t n)
{
	count(&m->dropped[why], n);
}

static void msnap_free(struct msnap *s)
{
	if (!s)
		return;
	otlp_buf_free(&s->raw);
	otlp_buf_free(&s->gz);
	free(s);
}

static void set_defaults(struct otlp_metrics_opts *p)
{
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

/* The trace settings with the metrics path: the endpoint is a base URL, as
 * OTEL_EXPORTER_OTLP_ENDPOINT is, and each signal appends its own. */
static int metrics_conf_new(const struct cfg_telemetry *cfg, const char *version,
			    struct otlp_http_conf **out)
{
	size_t len, tlen = strlen(OTLP_TRACES_PATH);
	int err = otlp_http_conf_new(cfg, version, out);

	if (err)
		return err;
	len = strlen((*out)->url);
	if (len < tlen || strcmp((*out)->url + len - tlen, OTLP_TRACES_PATH)) {
		/* otlp_http changed how it builds the URL: refuse rather than post
		 * metrics to the traces path */
		log_error("otlp metrics: cannot derive the %s URL from %s", OTLP_METRICS_PATH,
			  (*out)->url);
		otlp_http_conf_free(*out);
		*out = NULL;
		return -EINVAL;
	}
	snprintf((*out)->url + len - tlen, sizeof((*out)->url) - (len - tlen), "%s",
		 OTLP_METRICS_PATH);
	return 0;
}

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
	struct msnap *s = calloc(1, sizeof(*s)), *old;
	size_t invalid = 0;

	if (!s || otlp_metrics_encode(snap, m->version, &s->raw, &s->n_points, &invalid)) {
		free(s);
		drop(m, OTLP_DROP_ENCODE, snapshot_points(snap));
		return -ENOMEM;
	}
	drop(m, OTLP_DROP_INVALID, invalid);
	if (!s->n_points) {
		msnap_free(s);
		return -ENODATA;
	}
	pthread_mutex_lock(&m->lock);
	old = m->pending;
	m->pending = s;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	count(&m->submitted, 1);
	/* cumulative totals: the new snapshot has everything the old one had */
	if (old)
		count(&m->replaced, 1);
	msnap_free(old);
	return 0;
}

/* ---- the exporter thread ---------------------------------------------------- */

static void log_drops(struct otlp_metrics *m, uint64_t now, bool final)
{
	char detail[256];
	uint64_t delta, total = 0, all = 0, cur;
	int len = 0;

	if (!final && now < m->next_drop_log_ns)
		return;
	m->next_drop_log_ns = now + m->opts.drop_log_interval_ms * MS;
	detail[0] = 0;
	for (int d = 0; d < OTLP_DROP__MAX; d++) {
		cur = atomic_load_explicit(&m->dropped[d], memory_order_relaxed);
		delta = cur - m->drops_logged[d];
		m->drops_logged[d] = cur;
		all += cur;
		if (!delta)
			continue;
		total += delta;
		if (len < (int)sizeof(detail))
			len += snprintf(detail + len, sizeof(detail) - len, "%s%s %" PRIu64,
					len ? ", " : "", otlp_drop_name(d), delta);
	}
	if (total)
		log_warn("otlp metrics: %" PRIu64 " data points dropped (%s); %" PRIu64
			 " since start",
			 total, detail, all);
}

/* A short line on what the collector said, for the log. */
static void describe_answer(const struct otlp_http_result *r, char *out, size_t size)
{
	char msg[200];

	if (r->curl_code)
		snprintf(out, size, "%s", r->error);
	else if (!otlp_status_message(r->body, r->body_len, msg, sizeof(msg)))
		snprintf(out, size, "HTTP %ld: %s", r->status, msg);
	else
		snprintf(out, size, "HTTP %ld", r->status);
}

static void log_failure(struct otlp_metrics *m, const struct otlp_http_result *r, size_t n,
			const char *why)
{
	char what[256];

	if (!ratelog_allow(&m->fail_log, mono_ns(), m->opts.drop_log_interval_ms * MS))
		return;
	describe_answer(r, what, sizeof(what));
	log_error("otlp metrics: POST %s: %s; %zu data points dropped (%s)%s", m->conf->url, what,
		  n, why, m->fail_log.suppressed ? "; similar failures since the last report" : "");
	m->fail_log.suppressed = 0;
}

/* The snapshot is given up: its points count as dropped for `why`. */
static void give_up(struct otlp_metrics *m, const struct msnap *s, enum otlp_drop why)
{
	count(&m->failed, 1);
	drop(m, why, s->n_points);
}

static void on_delivered(struct otlp_metrics *m, const struct otlp_http_result *r, size_t n)
{
	int64_t rejected;
	char msg[256];

	count(&m->sent, 1);
	/* 200 with a body we cannot read is still a delivery: the spec has no
	 * retry for it */
	if (otlp_metrics_decode_response(r->body, r->body_len, &rejected, msg, sizeof(msg))) {
		log_debug("otlp metrics: 2xx answer is not an ExportMetricsServiceResponse");
		rejected = 0;
		msg[0] = 0;
	}
	if (rejected > (int64_t)n)
		rejected = (int64_t)n;
	count(&m->exported, n - (uint64_t)rejected);
	drop(m, OTLP_DROP_REJECTED, (uint64_t)rejected);
	if ((rejected || msg[0]) &&
	    ratelog_allow(&m->partial_log, mono_ns(), m->opts.drop_log_interval_ms * MS)) {
		if (rejected)
			log_warn("otlp metrics: collector rejected %" PRId64
				 " of %zu data points: %s",
				 rejected, n, msg[0] ? msg : "(no reason given)");
		else
			log_info("otlp metrics: collector accepted with a warning: %s", msg);
		m->partial_log.suppressed = 0;
	}
	if (m->failing)
		log_info("otlp metrics: delivering to %s again", m->conf->url);
	m->failing = false;
}

/* Picks up settings handed over by otlp_metrics_reconfigure(). */
static void adopt_pending_conf(struct otlp_metrics *m)
{
	struct otlp_http_conf *c;

	pthread_mutex_lock(&m->lock);
	c = m->pending_conf;
	m->pending_conf = NULL;
	pthread_mutex_unlock(&m->lock);
	if (!c)
		return;
	otlp_http_conf_free(m->conf);
	m->conf = c;
	otlp_http_use(m->http, c);
	log_info("otlp: exporting metrics to %s%s", c->url, c->gzip ? " (gzip)" : "");
}

static struct msnap *take_pending(struct otlp_metrics *m)
{
	struct msnap *s;

	pthread_mutex_lock(&m->lock);
	s = m->pending;
	m->pending = NULL;
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* Sleeps ms, or less when a stop comes; a new snapshot does not cut it short,
 * so Retry-After and the backoff hold. Returns true when stopping. */
static bool backoff_sleep(struct otlp_metrics *m, uint64_t ms)
{
	uint64_t until = mono_ns() + ms * MS;
	struct timespec ts = abs_ts(until);
	bool stopping;

	pthread_mutex_lock(&m->lock);
	while (!m->stopping && mono_ns() < until)
		if (pthread_cond_timedwait(&m->wake, &m->lock, &ts) == ETIMEDOUT)
			break;
	stopping = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return stopping;
}

static int body_for(struct otlp_metrics *m, struct msnap *s, const struct otlp_buf **body)
{
	if (!m->conf->gzip) {
		*body = &s->raw;
		return 0;
	}
	if (!s->gz.data && otlp_gzip(s->raw.data, s->raw.len, &s->gz))
		return -ENOMEM;
	*body = &s->gz;
	return 0;
}

/* Sends s until it is delivered, refused for good, out of retry time or cut
 * short by a stop (stopping: already stopping, so one try only). Before each
 * retry a newer snapshot, if one came, takes s's place: it keeps the backoff
 * reached so far (the collector is no less busy) but gets its own retry time. */
static void export_snapshot(struct otlp_metrics *m, struct msnap *s, bool stopping)
{
	const struct otlp_buf *body;
	struct otlp_http_result r;
	uint64_t start = mono_ns(), elapsed_ms, wait_ms, ra_ms, timeout_ms;
	int64_t retry_after;
	unsigned attempt = 0;
	struct msnap *newer;

	for (;;) {
		adopt_pending_conf(m);
		if (body_for(m, s, &body)) {
			give_up(m, s, OTLP_DROP_ENCODE);
			break;
		}
		/* one attempt may not outlast the snapshot's retry time */
		elapsed_ms = (mono_ns() - start) / MS;
		timeout_ms = m->conf->timeout_ms;
		if (m->opts.backoff.max_elapsed_ms > elapsed_ms &&
		    timeout_ms > m->opts.backoff.max_elapsed_ms - elapsed_ms)
			timeout_ms = m->opts.backoff.max_elapsed_ms - elapsed_ms;
		if (timeout_ms < 100)
			timeout_ms = 100;
		if (otlp_http_post(m->http, body->data, body->len, timeout_ms, &m->abort_at_ns,
				   &r)) {
			give_up(m, s, OTLP_DROP_FAILED);
			break;
		}
		if (r.aborted) {
			give_up(m, s, OTLP_DROP_SHUTDOWN);
			break;
		}
		switch (otlp_classify(r.curl_code, r.status)) {
		case OTLP_DONE:
			on_delivered(m, &r, s->n_points);
			goto done;
		case OTLP_FAIL:
			count(&m->requests_failed, 1);
			log_failure(m, &r, s->n_points, "not retryable");
			give_up(m, s, OTLP_DROP_FAILED);
			m->failing = true;
			goto done;
		case OTLP_RETRY:
			count(&m->requests_failed, 1);
			break;
		}
		if (stopping) {
			give_up(m, s, OTLP_DROP_SHUTDOWN);
			break;
		}
		retry_after = -1;
		if (r.retry_after[0] && !otlp_retry_after_ms(r.retry_after, time(NULL), &ra_ms))
			retry_after = (int64_t)ra_ms;
		elapsed_ms = (mono_ns() - start) / MS;
		if (!otlp_next_retry(&m->opts.backoff, attempt, elapsed_ms, retry_after, rnd01(m),
				     &wait_ms)) {
			log_failure(m, &r, s->n_points, "retry time used up");
			give_up(m, s, OTLP_DROP_FAILED);
			m->failing = true;
			break;
		}
		if (log_verbosity >= LOG_DEBUG) {
			char what[256];

			describe_answer(&r, what, sizeof(what));
			log_debug("otlp metrics: attempt %u failed (%s), retrying in %" PRIu64
				  " ms",
				  attempt + 1, what, wait_ms);
		}
		count(&m->retries, 1);
		attempt++;
		log_drops(m, mono_ns(), false);
		stopping = backoff_sleep(m, wait_ms);
		if ((newer = take_pending(m))) {
			count(&m->replaced, 1);
			msnap_free(s);
			s = newer;
			start = mono_ns();
		}
	}
done:
	msnap_free(s);
}

/* Waits for a snapshot, a stop or the drop report; takes the snapshot. */
static struct msnap *wait_for_snapshot(struct otlp_metrics *m, bool *stopping)
{
	struct timespec ts = abs_ts(m->next_drop_log_ns);
	struct msnap *s;

	pthread_mutex_lock(&m->lock);
	while (!m->pending && !m->stopping && mono_ns() < m->next_drop_log_ns)
		if (pthread_cond_timedwait(&m->wake, &m->lock, &ts) == ETIMEDOUT)
			break;
	s = m->pending;
	m->pending = NULL;
	*stopping = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return s;
}

static void *run(void *arg)
{
	struct otlp_metrics *m = arg;
	struct msnap *s;
	bool stopping;

	for (;;) {
		s = wait_for_snapshot(m, &stopping);
		adopt_pending_conf(m);
		if (s)
			export_snapshot(m, s, stopping);
		log_drops(m, mono_ns(), false);
		if (stopping && (!s || mono_ns() >= atomic_load(&m->abort_at_ns)))
			break;
	}
	return NULL;
}

/* ---- lifecycle -------------------------------------------------------------- */

static void free_metrics(struct otlp_metrics *m)
{
	otlp_http_free(m->http);
	otlp_http_conf_free(m->conf);
	otlp_http_conf_free(m->pending_conf);
	msnap_free(m->pending);
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

struct otlp_metrics *otlp_metrics_start(const struct cfg_telemetry *cfg,
					const struct otlp_metrics_opts *opts)
{
	pthread_condattr_t ca;
	struct otlp_metrics *m;
	int err;

	m = calloc(1, sizeof(*m));
	if (!m) {
		errno = ENOMEM;
		return NULL;
	}
	if (opts)
		m->opts = *opts;
	set_defaults(&m->opts);
	snprintf(m->version, sizeof(m->version), "%s",
		 m->opts.scope_version ? m->opts.scope_version : "dev");
	m->opts.scope_version = m->version;
	pthread_mutex_init(&m->lock, NULL);
	/* timed waits on the monotonic clock: a wall-clock step must not stall
	 * or rush the retries */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->wake, &ca);
	pthread_condattr_destroy(&ca);

	err = metrics_conf_new(cfg, m->version, &m->pending_conf);
	if (err) {
		log_error("otlp metrics: %s", err == -EINVAL
						  ? "no http:// or https:// endpoint configured"
						  : "out of memory");
		goto fail;
	}
	m->http = otlp_http_new();
	if (!m->http) {
		err = -ENOMEM;
		goto fail;
	}
	m->rng = mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)m;
	if (!m->rng)
		m->rng = 1;
	m->next_drop_log_ns = mono_ns() + m->opts.drop_log_interval_ms * MS;
	err = -pthread_create(&m->thread, NULL, run, m);
	if (err)
		goto fail;
	return m;
fail:
	free_metrics(m);
	errno = -err;
	return NULL;
}

int otlp_metrics_reconfigure(struct otlp_metrics *m, const struct cfg_telemetry *cfg)
{
	struct otlp_http_conf *c, *old;
	int err = metrics_conf_new(cfg, m->version, &c);

	if (err)
		return err;
	pthread_mutex_lock(&m->lock);
	old = m->pending_conf;
	m->pending_conf = c;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	otlp_http_conf_free(old);
	return 0;
}

void otlp_metrics_stop(struct otlp_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	atomic_store(&m->abort_at_ns, mono_ns() + m->opts.stop_grace_ms * MS);
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	otlp_http_wakeup(m->http);
	pthread_join(m->thread, NULL);

	/* a snapshot that came while the grace period ran out */
	if (m->pending) {
		give_up(m, m->pending, OTLP_DROP_SHUTDOWN);
		msnap_free(m->pending);
		m->pending = NULL;
	}
	log_drops(m, mono_ns(), true);
	free_metrics(m);
}

void otlp_metrics_get_stats(struct otlp_metrics *m, struct otlp_metrics_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->snapshots_submitted = atomic_load_explicit(&m->submitted, memory_order_relaxed);
	st->snapshots_replaced = atomic_load_explicit(&m->replaced, memory_order_relaxed);
	st->snapshots_sent = atomic_load_explicit(&m->sent, memory_order_relaxed);
	st->snapshots_failed = atomic_load_explicit(&m->failed, memory_order_relaxed);
	st->points_exported = atomic_load_explicit(&m->exported, memory_order_relaxed);
	for (int d = 0; d < OTLP_DROP__MAX; d++)
		st->points_dropped[d] = atomic_load_explicit(&m->dropped[d], memory_order_relaxed);
	st->requests_failed = atomic_load_explicit(&m->requests_failed, memory_order_relaxed);
	st->retries = atomic_load_explicit(&m->retries, memory_order_relaxed);
	pthread_mutex_lock(&m->lock);
	st->pending = m->pending ? 1 : 0;
	pthread_mutex_unlock(&m->lock);
}
