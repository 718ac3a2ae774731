/* SPDX-License-Identifier: Apache-2.0 */
/* client.c: the client thread. Each resource runs the reflector's loop of
 * client-go: LIST (resourceVersion=0 first, served from the API server's
 * cache; paged), then WATCH from the list's resourceVersion with bookmarks;
 * a watch that ends is opened again where it stopped; ERROR 410 lists again
 * from the last resourceVersion seen ("not older than"), and a list that gets
 * 410 itself lists the latest state. One curl multi handle drives one easy
 * handle per resource, so one slow resource never holds up another, and the
 * agent's thread only ever takes the store's mutex.
 *
 * Errors never empty the store: the last objects stay in force while the
 * API server is away. Retries wait a jittered, doubling delay. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kube/client.h"
#include "kube/list.h"
#include "kube/request.h"
#include "kube/store.h"
#include "kube/watch.h"
#include "lib/clock.h"
#include "lib/log.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
#define ERROR_BODY_MAX (64u << 10) /* a Status is small; the rest is dropped */
#define BODY_KEEP (1u << 20)	   /* a list buffer larger than this is freed after use */
#define SHORT_WATCH_NS (1 * SEC)   /* closed sooner, with no event: an error */
#define STABLE_WATCH_NS (10 * SEC) /* open this long: the backoff starts over */
#define LIST_TIMEOUT_S 300L
#define WATCH_GRACE_S 30L /* past timeoutSeconds the server should have closed */

enum phase { PH_IDLE, PH_LIST, PH_WATCH };
enum list_from {
	FROM_ANY,    /* resourceVersion=0: any state, the server's cache */
	FROM_LAST,   /* resourceVersion=last seen, no limit: not older than */
	FROM_LATEST, /* no resourceVersion: the latest, paged */
};

struct kres {
	struct kube *k;
	unsigned idx;
	struct kube_resource spec; /* strings owned */
	struct kobj_type type;
	CURL *easy;
	struct curl_slist *hdrs;
	char *url;
	char errbuf[CURL_ERROR_SIZE];
	enum phase phase, next; /* next: what an IDLE resource does at due_ns */
	uint64_t due_ns;
	enum list_from from;
	long status;	   /* HTTP status of the transfer, once its headers are in */
	uint64_t start_ns; /* the transfer's start */
	/* LIST */
	char *body;
	size_t body_len, body_cap;
	bool body_over;
	struct kvec pending; /* the pages so far */
	char *cont;
	char first_refusal[256];
	/* WATCH */
	struct kwatch w;
	unsigned watch_timeout_s;
	uint64_t stream_ns; /* when the 200 came; 0: not (yet) streaming */
	enum kw_result wres;
	uint64_t refused_logged;
	/* retries */
	unsigned backoff_ms;
	bool force_token;
	bool gone_pending; /* a 404 for a resource that had objects: confirm first */
	bool down;
	uint64_t down_ns, down_errors;
	/* under k->lock */
	struct kube_resource_status st;
};

struct kube {
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock; /* the resources' st */
	CURLM *multi;
	int efd;
	int stop; /* atomic */
	struct kube_settings set;
	struct kube_options opt;
	struct kstore *store;
	struct kres *res;
	size_t n;
	unsigned seed;
	bool token_failing;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* once, before any handle; never undone: other parts of the agent use it */
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- status and the outage log -------------------------------------------- */

/* An error: counted and kept for the status. The first error of an outage
 * is logged (a warning); the rest only at debug level. A watch stream that
 * broke after it had worked is counted but starts no outage by itself (an
 * API server's rolling restart cuts every watch): the reconnection failing
 * does. */
static void record_error(struct kres *r, bool outage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void record_error(struct kres *r, bool outage, const char *fmt, ...)
{
	char msg[sizeof(r->st.last_error)];
	size_t objects, bytes;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&r->k->lock);
	r->st.errors++;
	r->st.last_error_at = time(NULL);
	r->st.failing = r->st.failing || outage;
	snprintf(r->st.last_error, sizeof(r->st.last_error), "%s", msg);
	pthread_mutex_unlock(&r->k->lock);
	r->down_errors++;
	if (r->down || !outage) {
		log_debug("kube: %s: %s", r->st.name, msg);
		return;
	}
	/* one line when an outage starts, one when it ends */
	r->down = true;
	r->down_ns = mono_ns();
	r->down_errors = 1;
	kstore_counts(r->k->store, r->idx, &objects, &bytes);
	log_warn("kube: %s: %s; the last %zu objects stay in force until the API server answers",
		 r->st.name, msg, objects);
}

#define set_error(r, ...) record_error(r, true, __VA_ARGS__)

static void set_reachable(struct kres *r)
{
	size_t objects, bytes;

	pthread_mutex_lock(&r->k->lock);
	r->st.failing = false;
	pthread_mutex_unlock(&r->k->lock);
	if (!r->down) {
		r->down_errors = 0;
		return;
	}
	r->down = false;
	kstore_counts(r->k->store, r->idx, &objects, &bytes);
	log_info("kube: %s: the API server answers again after %.1f s and %llu errors; %zu "
		 "objects",
		 r->st.name, (double)(mono_ns() - r->down_ns) / SEC,
		 (unsigned long long)r->down_errors, objects);
}

static void set_watching(struct kres *r, bool on)
{
	pthread_mutex_lock(&r->k->lock);
	r->st.watching = on;
	r->st.watching_since = on ? time(NULL) : 0;
	pthread_mutex_unlock(&r->k->lock);
}

/* objects a bound (or a malformed object) kept out: counted, and logged
 * once per resource until the count moves again */
static void note_refused(struct kres *r, uint64_t n, const char *why)
{
	if (!n)
		return;
	pthread_mutex_lock(&r->k->lock);
	r->st.refused += n;
	pthread_mutex_unlock(&r->k->lock);
	log_warn("kube: %s: %llu objects left out (%s)", r->st.name, (unsigned long long)n, why);
}

/* ---- scheduling ----------------------------------------------------------- */

static unsigned jitter(struct kube *k, unsigned ms)
{
	/* half fixed, half random: spread, yet never much shorter */
	return ms / 2 + (unsigned)(rand_r(&k->seed) % (ms / 2 + 1));
}

static void schedule(struct kres *r, enum phase next, uint64_t delay_ms)
{
	r->phase = PH_IDLE;
	r->next = next;
	r->due_ns = mono_ns() + delay_ms * MS;
}

static void schedule_backoff(struct kres *r, enum phase next)
{
	struct kube_options *o = &r->k->opt;
	unsigned d = jitter(r->k, r->backoff_ms);

	r->backoff_ms =
	    r->backoff_ms >= o->backoff_max_ms / 2 ? o->backoff_max_ms : r->backoff_ms * 2;
	schedule(r, next, d);
}

/* ---- transfers ------------------------------------------------------------ */

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct kres *r = arg;
	size_t n = size * nmemb;

	if (n <= 2 && (data[0] == '\r' || data[0] == '\n')) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
		if (r->phase == PH_WATCH && r->status == 200) {
			r->stream_ns = mono_ns();
			set_watching(r, true);
			set_reachable(r);
		}
	}
	return n;
}

static bool body_append(struct kres *r, const char *data, size_t n, size_t max)
{
	if (r->body_len + n > max) {
		r->body_over = true;
		return false;
	}
	if (r->body_len + n + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 16384;
		char *p;

		while (cap < r->body_len + n + 1)
			cap *= 2;
		p = realloc(r->body, cap);
		if (!p) {
			r->body_over = true;
			return false;
		}
		r->body = p;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = 0;
	return true;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct kres *r = arg;
	size_t n = size * nmemb;

	if (!r->status)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status != 200) {
		/* an error's Status; the message is all that is wanted */
		body_append(r, data, n, ERROR_BODY_MAX);
		return n;
	}
	if (r->phase == PH_LIST)
		return body_append(r, data, n, r->k->opt.max_total_bytes) ? n : 0;
	r->wres = kwatch_feed(&r->w, data, n);
	return r->wres == KW_OK ? n : 0;
}

static void transfer_done(struct kres *r)
{
	curl_multi_remove_handle(r->k->multi, r->easy);
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	free(r->url);
	r->url = NULL;
}

static int start(struct kres *r)
{
	struct kube *k = r->k;
	struct kreq_query q = {0};
	const char *token;
	char why[256];
	long timeout_s;

	token = kube_settings_token(&k->set, r->force_token, mono_ns(), why, sizeof(why));
	r->force_token = false;
	if (why[0] && !k->token_failing)
		log_warn("kube: the token file cannot be read (%s); the last token is used", why);
	k->token_failing = why[0] != 0;

	if (r->next == PH_LIST && r->cont) {
		/* a next page: the continue token carries the version, and a
		 * resourceVersion beside it is refused */
		q.continue_token = r->cont;
		q.limit = k->opt.page_limit;
	} else if (r->next == PH_LIST) {
		switch (r->from) {
		case FROM_ANY:
			q.resource_version = "0";
			q.limit = k->opt.page_limit;
			break;
		case FROM_LAST:
			/* no limit: with one, the server would serve exactly this
			 * version (from etcd, 410 once compacted) instead of any
			 * newer state from its cache */
			q.resource_version = r->w.rv;
			break;
		case FROM_LATEST:
			q.limit = k->opt.page_limit;
			break;
		}
	}
	if (r->next == PH_LIST) {
		timeout_s = LIST_TIMEOUT_S;
	} else {
		r->watch_timeout_s = k->opt.watch_timeout_s
					 ? k->opt.watch_timeout_s
					 : 300 + (unsigned)(rand_r(&k->seed) % 301);
		q.watch = true;
		q.resource_version = r->w.rv;
		q.timeout_s = r->watch_timeout_s;
		timeout_s = (long)r->watch_timeout_s + WATCH_GRACE_S;
		kwatch_restart(&r->w, r->w.rv);
		r->wres = KW_OK;
	}
	r->url = kreq_url(k->set.server, &r->spec, &q);
	if (!r->url || kreq_setup(r->easy, &k->set, r->url, token, k->opt.user_agent, timeout_s,
				  r->next == PH_LIST, &r->hdrs)) {
		free(r->url);
		r->url = NULL;
		set_error(r, "cannot set up a request (out of memory?)");
		schedule_backoff(r, r->next);
		return -1;
	}
	r->errbuf[0] = 0;
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	r->phase = r->next;
	r->status = 0;
	r->stream_ns = 0;
	r->body_len = 0;
	r->body_over = false;
	r->start_ns = mono_ns();
	if (curl_multi_add_handle(k->multi, r->easy) != CURLM_OK) {
		transfer_done(r);
		set_error(r, "cannot start a request");
		schedule_backoff(r, r->next);
		return -1;
	}
	log_debug("kube: %s: GET %s", r->st.name, r->url);
	return 0;
}

/* libcurl's detailed message ("SSL certificate problem: ...") when it has one */
static const char *curl_message(struct kres *r, CURLcode cc)
{
	return r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc);
}

/* the message of an error answer: its Status's, else the status line */
static void error_message(struct kres *r, char *out, size_t len)
{
	struct json_object *s = r->body_len ? kjson_parse(r->body, r->body_len) : NULL, *m;

	if (s && json_object_object_get_ex(s, "message", &m) &&
	    json_object_is_type(m, json_type_string))
		snprintf(out, len, "HTTP %ld: %s", r->status, json_object_get_string(m));
	else
		snprintf(out, len, "HTTP %ld", r->status);
	json_object_put(s);
}

static void list_restart(struct kres *r)
{
	kvec_clear(&r->pending);
	free(r->cont);
	r->cont = NULL;
	r->first_refusal[0] = 0;
}

static void list_complete(struct kres *r, const char *rv)
{
	size_t refused;

	/* the store takes the objects' references; the array is ours */
	refused = kstore_replace(r->k->store, r->idx, r->pending.v, r->pending.n);
	refused += r->pending.refused;
	free(r->pending.v);
	r->pending.v = NULL;
	r->pending.n = r->pending.cap = r->pending.bytes = r->pending.refused = 0;
	note_refused(r, refused,
		     r->first_refusal[0] ? r->first_refusal : "over the bound of objects or bytes");
	list_restart(r);
	r->gone_pending = false;
	snprintf(r->w.rv, sizeof(r->w.rv), "%s", rv);
	pthread_mutex_lock(&r->k->lock);
	r->st.synced = true;
	r->st.absent = false;
	r->st.lists++;
	snprintf(r->st.resource_version, sizeof(r->st.resource_version), "%s", rv);
	pthread_mutex_unlock(&r->k->lock);
	set_reachable(r);
	r->from = FROM_ANY;
	schedule(r, PH_WATCH, 0);
}

/* a large list's buffer is not kept for the next one, hours away */
static void body_trim(struct kres *r)
{
	if (r->body_cap > BODY_KEEP) {
		free(r->body);
		r->body = NULL;
		r->body_cap = 0;
	}
	r->body_len = 0;
}

/* The resource does not exist (a CRD not installed): empty, and asked again
 * later; an answer, not an outage. A resource that had objects is emptied
 * only when a second 404 a recheck later says the same: an API server just
 * restarted answers 404 for custom resources until its CRD handlers are
 * ready, and emptying them then would flap the configuration. */
static void list_404(struct kres *r)
{
	size_t objects, bytes;
	bool absent;

	list_restart(r);
	set_reachable(r);
	r->from = FROM_ANY;
	kstore_counts(r->k->store, r->idx, &objects, &bytes);
	pthread_mutex_lock(&r->k->lock);
	absent = r->st.absent;
	pthread_mutex_unlock(&r->k->lock);
	if (objects && !r->gone_pending) {
		r->gone_pending = true;
		log_info("kube: %s: not served by the API server (404); its %zu objects stay until "
			 "it says so again in %.1f s",
			 r->st.name, objects, r->k->opt.absent_recheck_ms / 1000.0);
		schedule(r, PH_LIST, r->k->opt.absent_recheck_ms);
		return;
	}
	r->gone_pending = false;
	kstore_replace(r->k->store, r->idx, NULL, 0);
	if (!absent)
		log_info("kube: %s: not served by the API server (404); asked again every %.1f s",
			 r->st.name, r->k->opt.absent_recheck_ms / 1000.0);
	pthread_mutex_lock(&r->k->lock);
	r->st.synced = true;
	r->st.absent = true;
	pthread_mutex_unlock(&r->k->lock);
	schedule(r, PH_LIST, r->k->opt.absent_recheck_ms);
}

static void list_done(struct kres *r, CURLcode cc)
{
	struct klist_page page;
	char msg[256];

	if (cc != CURLE_OK) {
		set_error(r, "list: %s",
			  r->body_over ? "the answer is larger than the bound of bytes"
				       : curl_message(r, cc));
		list_restart(r);
		schedule_backoff(r, PH_LIST);
		return;
	}
	if (r->status == 200) {
		int rc = klist_parse(r->body, r->body_len, &r->type, r->k->opt.max_object_bytes,
				     &r->pending, &page, msg, sizeof(msg));

		if (rc) {
			klist_page_clear(&page);
			set_error(r, "list: %s", msg);
			list_restart(r);
			schedule_backoff(r, PH_LIST);
			return;
		}
		if (page.first_refusal[0] && !r->first_refusal[0])
			snprintf(r->first_refusal, sizeof(r->first_refusal), "%s",
				 page.first_refusal);
		free(r->cont);
		r->cont = page.continue_token;
		page.continue_token = NULL;
		if (r->cont)
			schedule(r, PH_LIST, 0); /* the next page */
		else
			list_complete(r, page.resource_version);
		klist_page_clear(&page);
		body_trim(r);
		return;
	}
	if (r->status == 404) {
		list_404(r);
		return;
	}
	error_message(r, msg, sizeof(msg));
	if (r->status == 410 && r->from != FROM_LATEST) {
		/* the version (or the continue token) is gone from the server:
		 * the latest state, read from etcd */
		log_debug("kube: %s: list: %s; listing the latest", r->st.name, msg);
		list_restart(r);
		r->from = FROM_LATEST;
		schedule(r, PH_LIST, 0);
		return;
	}
	if (r->status == 504 && r->from == FROM_LAST)
		r->from = FROM_LATEST; /* "Too large resource version": a lagging server */
	if (r->status == 401)
		r->force_token = true;
	set_error(r, "list: %s", msg);
	list_restart(r);
	schedule_backoff(r, PH_LIST);
}

static void watch_done(struct kres *r, CURLcode cc)
{
	uint64_t now = mono_ns(), lasted = now - r->start_ns;
	bool streamed = r->stream_ns != 0;
	char msg[256];

	set_watching(r, false);
	pthread_mutex_lock(&r->k->lock);
	snprintf(r->st.resource_version, sizeof(r->st.resource_version), "%s", r->w.rv);
	pthread_mutex_unlock(&r->k->lock);
	note_refused(r, r->w.refused - r->refused_logged, r->w.refusal);
	r->refused_logged = r->w.refused;
	if (streamed && now - r->stream_ns >= STABLE_WATCH_NS)
		r->backoff_ms = r->k->opt.backoff_initial_ms;

	if (r->wres == KW_RELIST) {
		/* too old a resourceVersion: list again, not older than it */
		log_debug("kube: %s: %s; listing again", r->st.name, r->w.err);
		r->from = FROM_LAST;
		schedule(r, PH_LIST, 0);
		return;
	}
	if (r->wres == KW_ERROR) {
		set_error(r, "watch: %s", r->w.err);
		r->from = FROM_LAST;
		schedule_backoff(r, PH_LIST);
		return;
	}
	if (streamed && (cc == CURLE_OK || (cc == CURLE_OPERATION_TIMEDOUT &&
					    lasted >= (uint64_t)r->watch_timeout_s * SEC))) {
		/* the server ended the watch (its timeoutSeconds): open it again
		 * where it stopped, unless it ended too soon to be healthy */
		if (lasted < SHORT_WATCH_NS && !r->w.events) {
			set_error(r, "watch: closed after %.2f s without an event",
				  (double)lasted / SEC);
			schedule_backoff(r, PH_WATCH);
			return;
		}
		set_reachable(r);
		schedule(r, PH_WATCH, 0);
		return;
	}
	if (streamed) {
		record_error(r, false, "watch: the stream broke: %s", curl_message(r, cc));
		schedule_backoff(r, PH_WATCH);
		return;
	}
	if (cc != CURLE_OK) {
		set_error(r, "watch: %s", curl_message(r, cc));
		schedule_backoff(r, PH_WATCH);
		return;
	}
	error_message(r, msg, sizeof(msg));
	if (r->status == 410) {
		log_debug("kube: %s: watch: %s; listing again", r->st.name, msg);
		r->from = FROM_LAST;
		schedule(r, PH_LIST, 0);
		return;
	}
	if (r->status == 404) {
		/* the resource went away (a CRD deleted): the list says so */
		r->from = FROM_ANY;
		schedule(r, PH_LIST, 0);
		return;
	}
	set_error(r, "watch: %s", msg);
	if (r->status == 401)
		r->force_token = true;
	if (r->status >= 500 || r->status == 429 || r->status == 401) {
		schedule_backoff(r, PH_WATCH);
		return;
	}
	r->from = FROM_LAST;
	schedule_backoff(r, PH_LIST);
}

static void done(struct kres *r, CURLcode cc)
{
	enum phase ph = r->phase;

	transfer_done(r);
	if (ph == PH_LIST)
		list_done(r, cc);
	else
		watch_done(r, cc);
}

/* ---- the thread ----------------------------------------------------------- */

static void signal_change(struct kube *k)
{
	uint64_t one = 1;

	if (write(k->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("kube: eventfd: %s", strerror(errno));
}

static void *run(void *arg)
{
	struct kube *k = arg;

	while (!__atomic_load_n(&k->stop, __ATOMIC_ACQUIRE)) {
		uint64_t now = mono_ns();
		long wait_ms = 1000;
		int running, q;
		CURLMsg *m;

		for (size_t i = 0; i < k->n; i++) {
			struct kres *r = &k->res[i];

			if (r->phase == PH_IDLE && now >= r->due_ns)
				start(r);
		}
		curl_multi_perform(k->multi, &running);
		while ((m = curl_multi_info_read(k->multi, &q))) {
			struct kres *r = NULL;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			if (r)
				done(r, m->data.result);
		}
		if (kstore_publish(k->store))
			signal_change(k);
		now = mono_ns();
		for (size_t i = 0; i < k->n; i++) {
			struct kres *r = &k->res[i];

			if (r->phase != PH_IDLE)
				continue;
			if (r->due_ns <= now)
				wait_ms = 0;
			else if ((long)((r->due_ns - now) / MS) + 1 < wait_ms)
				wait_ms = (long)((r->due_ns - now) / MS) + 1;
		}
		if (wait_ms)
			curl_multi_poll(k->multi, NULL, 0, (int)wait_ms, NULL);
	}
	return NULL;
}

/* ---- the API ---------------------------------------------------------------- */

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

static void res_free(struct kres *r)
{
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	free(r->url);
	free(r->body);
	list_restart(r);
	kwatch_free(&r->w);
	free((char *)r->spec.group_version);
	free((char *)r->spec.resource);
	free((char *)r->spec.kind);
	free((char *)r->spec.field_selector);
	free((char *)r->spec.label_selector);
}

static void defaults(struct kube_options *o)
{
	if (!o->backoff_initial_ms)
		o->backoff_initial_ms = 500;
	if (!o->backoff_max_ms)
		o->backoff_max_ms = 30000;
	if (o->backoff_max_ms < o->backoff_initial_ms)
		o->backoff_max_ms = o->backoff_initial_ms;
	if (!o->absent_recheck_ms)
		o->absent_recheck_ms = 60000;
	if (!o->page_limit)
		o->page_limit = 500;
	if (!o->max_objects)
		o->max_objects = 100000;
	if (!o->max_object_bytes)
		o->max_object_bytes = 16u << 20;
	if (!o->max_total_bytes)
		o->max_total_bytes = 1u << 30;
	if (!o->user_agent)
		o->user_agent = "bpfmesh";
}

static bool valid_name(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '.' || *s == '/' || (*s >= 'A' && *s <= 'Z')))
			return false;
	return true;
}

static int res_init(struct kube *k, struct kres *r, unsigned idx, const struct kube_resource *s,
		    char *err, size_t err_len)
{
	const char *slash = strchr(s->group_version, '/');
	bool oom = false;

	r->k = k;
	r->idx = idx;
	if (!valid_name(s->group_version) || !valid_name(s->resource) || strchr(s->resource, '/') ||
	    !s->kind || !*s->kind) {
		snprintf(err, err_len, "resource %u: group_version, resource and kind are needed",
			 idx);
		return -1;
	}
	r->spec.group_version = dup_or_null(s->group_version, &oom);
	r->spec.resource = dup_or_null(s->resource, &oom);
	r->spec.kind = dup_or_null(s->kind, &oom);
	r->spec.namespaced = s->namespaced;
	r->spec.field_selector = dup_or_null(s->field_selector, &oom);
	r->spec.label_selector = dup_or_null(s->label_selector, &oom);
	r->easy = curl_easy_init();
	if (oom || !r->easy) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	/* kubectl's name for it: "services", "endpointslices.discovery.k8s.io" */
	if (slash)
		snprintf(r->st.name, sizeof(r->st.name), "%s.%.*s", s->resource,
			 (int)(slash - s->group_version), s->group_version);
	else
		snprintf(r->st.name, sizeof(r->st.name), "%s", s->resource);
	r->type = (struct kobj_type){.resource = idx,
				     .kind = r->spec.kind,
				     .api_version = r->spec.group_version,
				     .namespaced = s->namespaced};
	kwatch_init(&r->w, k->store, &r->type, k->opt.max_object_bytes);
	r->pending.max_objects = k->opt.max_objects;
	r->pending.max_bytes = k->opt.max_total_bytes;
	r->backoff_ms = k->opt.backoff_initial_ms;
	r->phase = PH_IDLE;
	r->next = PH_LIST;
	r->from = FROM_ANY;
	return 0;
}

static void kube_free(struct kube *k)
{
	for (size_t i = 0; i < k->n; i++)
		res_free(&k->res[i]);
	free(k->res);
	if (k->multi)
		curl_multi_cleanup(k->multi);
	kstore_free(k->store);
	if (k->efd >= 0)
		close(k->efd);
	kube_settings_clear(&k->set);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

struct kube *kube_start(const struct kube_settings *settings, const struct kube_resource *res,
			size_t n_res, const struct kube_options *opts, char *err, size_t err_len)
{
	struct kube *k;
	struct kstore_limits lim;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, err_len, "libcurl: %s", curl_easy_strerror(curl_init_rc));
		return NULL;
	}
	if (!settings->server[0] || !n_res) {
		snprintf(err, err_len, "no API server or no resource to watch");
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&k->lock, NULL);
	k->efd = -1;
	if (opts)
		k->opt = *opts;
	defaults(&k->opt);
	k->seed = (unsigned)(mono_ns() ^ (uint64_t)getpid());
	lim = (struct kstore_limits){.max_objects = k->opt.max_objects,
				     .max_total_bytes = k->opt.max_total_bytes};
	k->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	k->store = kstore_new((unsigned)n_res, &lim);
	k->multi = curl_multi_init();
	k->res = calloc(n_res, sizeof(*k->res));
	if (k->efd < 0 || !k->store || !k->multi || !k->res ||
	    kube_settings_copy(&k->set, settings)) {
		snprintf(err, err_len, "out of memory or file descriptors");
		kube_free(k);
		return NULL;
	}
	for (size_t i = 0; i < n_res; i++) {
		k->n = i + 1;
		if (res_init(k, &k->res[i], (unsigned)i, &res[i], err, err_len)) {
			kube_free(k);
			return NULL;
		}
	}
	log_info("kube: watching %zu resources at %s", n_res, k->set.origin);
	if (pthread_create(&k->thread, NULL, run, k)) {
		snprintf(err, err_len, "cannot start the client thread");
		kube_free(k);
		return NULL;
	}
	k->thread_started = true;
	return k;
}

int kube_fd(const struct kube *k) { return k->efd; }

uint64_t kube_generation(struct kube *k) { return kstore_generation(k->store); }

struct kube_snapshot *kube_snapshot(struct kube *k)
{
	uint64_t v;

	/* cleared before the snapshot is taken: a change after this point
	 * makes the fd readable again */
	if (read(k->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("kube: eventfd: %s", strerror(errno));
	return kstore_snapshot(k->store);
}

size_t kube_status(struct kube *k, struct kube_resource_status *out, size_t n)
{
	for (size_t i = 0; i < k->n && i < n; i++) {
		pthread_mutex_lock(&k->lock);
		out[i] = k->res[i].st;
		pthread_mutex_unlock(&k->lock);
		kstore_counts(k->store, (unsigned)i, &out[i].objects, &out[i].bytes);
	}
	return k->n;
}

void kube_stop(struct kube *k)
{
	if (!k)
		return;
	if (k->thread_started) {
		__atomic_store_n(&k->stop, 1, __ATOMIC_RELEASE);
		curl_multi_wakeup(k->multi);
		pthread_join(k->thread, NULL);
	}
	for (size_t i = 0; i < k->n; i++)
		if (k->res[i].phase != PH_IDLE)
			transfer_done(&k->res[i]);
	kube_free(k);
}
