/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_http.c: libcurl for the OTLP exporter.
 *
 * The easy handle runs inside a multi handle, not curl_easy_perform(), for one
 * reason: curl_multi_poll() can be woken from another thread, so otlp_stop()
 * never waits for a connect or a read to time out. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "exp_log.h"
#include "otlp_http.h"

#define POLL_SLICE_MS 1000 /* longest wait in curl_multi_poll() */

struct otlp_http {
	CURLM *multi;
	CURL *easy;
	const struct otlp_http_conf *conf;
	bool fresh; /* settings changed: apply them, new connection */
	char errbuf[CURL_ERROR_SIZE];
	uint8_t *resp;
	size_t resp_len, resp_cap;
	bool resp_too_big;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* curl_global_init() must run once before any handle exists; it is never
 * undone because other parts of the agent may use libcurl too. */
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* the signal paths fit the url array whatever the endpoint's length */
_Static_assert(sizeof(OTLP_TRACES_PATH) <= OTLP_PATH_MAX &&
		   sizeof(OTLP_METRICS_PATH) <= OTLP_PATH_MAX,
	       "OTLP_PATH_MAX is too small for a signal path");

uint64_t otlp_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Headers the exporter owns: a configured one would contradict the body. */
static bool reserved_header(const char *name)
{
	static const char *const names[] = {"Content-Type",   "Content-Encoding",
					    "Content-Length", "Transfer-Encoding",
					    "Expect",	      NULL};

	for (int i = 0; names[i]; i++)
		if (!strcasecmp(name, names[i]))
			return true;
	return false;
}

static int add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *n = curl_slist_append(*list, line);

	if (!n)
		return -ENOMEM;
	*list = n;
	return 0;
}

static int build_headers(const struct otlp_settings *set, struct otlp_http_conf *c)
{
	char line[OTLP_HEADER_NAME_MAX + OTLP_HEADER_VALUE_MAX + 4];

	if (add_header(&c->headers, "Content-Type: application/x-protobuf") ||
	    (c->gzip && add_header(&c->headers, "Content-Encoding: gzip")) ||
	    /* curl would wait up to a second for "100 Continue" on large bodies */
	    add_header(&c->headers, "Expect:"))
		return -ENOMEM;
	for (size_t i = 0; i < set->n_headers; i++) {
		const struct otlp_header *h = &set->headers[i];

		if (reserved_header(h->name) || strpbrk(h->name, "\r\n:") ||
		    strpbrk(h->value, "\r\n")) {
			exp_log_warn("otlp: header %s is not sent: the exporter sets it, or it "
				     "contains a line break",
				     h->name);
			continue;
		}
		/* "Name:" tells curl to remove a header; "Name;" sends it empty */
		if (h->value[0])
			snprintf(line, sizeof(line), "%s: %s", h->name, h->value);
		else
			snprintf(line, sizeof(line), "%s;", h->name);
		if (add_header(&c->headers, line))
			return -ENOMEM;
	}
	return 0;
}

int otlp_http_conf_new(const struct otlp_settings *set, const char *path, const char *version,
		       struct otlp_http_conf **out)
{
	struct otlp_http_conf *c;
	size_t len;

	*out = NULL;
	if (!set ||
	    (strncmp(set->endpoint, "http://", 7) && strncmp(set->endpoint, "https://", 8)) ||
	    strlen(path) >= OTLP_PATH_MAX)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	/* the endpoint is a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is: the
	 * signal's path is appended, after any trailing slash */
	len = strnlen(set->endpoint, sizeof(set->endpoint) - 1);
	while (len > 8 && set->endpoint[len - 1] == '/')
		len--;
	snprintf(c->url, sizeof(c->url), "%.*s%s", (int)len, set->endpoint, path);
	c->gzip = set->gzip;
	c->timeout_ms = set->timeout_ms ? set->timeout_ms : OTLP_TIMEOUT_DEFAULT_MS;
	snprintf(c->ca_file, sizeof(c->ca_file), "%s", set->ca_file);
	snprintf(c->cert_file, sizeof(c->cert_file), "%s", set->cert_file);
	snprintf(c->key_file, sizeof(c->key_file), "%s", set->key_file);
	c->insecure_skip_verify = set->insecure_skip_verify;
	snprintf(c->user_agent, sizeof(c->user_agent), "bpfmesh/%s", version ? version : "dev");
	if (build_headers(set, c)) {
		otlp_http_conf_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void otlp_http_conf_free(struct otlp_http_conf *c)
{
	if (!c)
		return;
	curl_slist_free_all(c->headers);
	free(c);
}

/* The answer is kept up to OTLP_RESPONSE_MAX; a longer one aborts the transfer
 * (CURLE_WRITE_ERROR), which the spec calls a non-retryable error. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct otlp_http *h = arg;
	size_t n = size * nmemb, cap;
	uint8_t *p;

	if (h->resp_len + n > OTLP_RESPONSE_MAX) {
		h->resp_too_big = true;
		return 0;
	}
	if (h->resp_len + n > h->resp_cap) {
		cap = h->resp_cap ? h->resp_cap : 4096;
		while (cap < h->resp_len + n)
			cap *= 2;
		if (!(p = realloc(h->resp, cap)))
			return 0;
		h->resp = p;
		h->resp_cap = cap;
	}
	memcpy(h->resp + h->resp_len, data, n);
	h->resp_len += n;
	return n;
}

struct otlp_http *otlp_http_new(void)
{
	struct otlp_http *h;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->multi = curl_multi_init();
	h->easy = curl_easy_init();
	if (!h->multi || !h->easy) {
		otlp_http_free(h);
		return NULL;
	}
	return h;
}

void otlp_http_free(struct otlp_http *h)
{
	if (!h)
		return;
	if (h->easy)
		curl_easy_cleanup(h->easy);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	free(h->resp);
	free(h);
}

void otlp_http_use(struct otlp_http *h, const struct otlp_http_conf *c)
{
	h->conf = c;
	h->fresh = true;
}

void otlp_http_wakeup(struct otlp_http *h) { curl_multi_wakeup(h->multi); }

/* Everything but the body and the timeout, set once per settings change.
 * curl_easy_reset() keeps the connection cache, so only FRESH_CONNECT decides
 * whether the old connection is used. */
static int apply_conf(struct otlp_http *h)
{
	const struct otlp_http_conf *c = h->conf;
	CURL *e = h->easy;
	CURLcode rc = CURLE_OK;

	curl_easy_reset(e);
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(e, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, c->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS time-outs */
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_HTTPHEADER, c->headers);
	SET(CURLOPT_USERAGENT, c->user_agent);
	SET(CURLOPT_ACCEPT_ENCODING, ""); /* the spec lets a server gzip when asked */
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, h);
	SET(CURLOPT_ERRORBUFFER, h->errbuf);
	if (c->ca_file[0])
		SET(CURLOPT_CAINFO, c->ca_file);
	if (c->cert_file[0])
		SET(CURLOPT_SSLCERT, c->cert_file);
	if (c->key_file[0])
		SET(CURLOPT_SSLKEY, c->key_file);
	if (c->insecure_skip_verify) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
#undef SET
	if (rc != CURLE_OK) {
		exp_log_error("otlp: libcurl refused a setting: %s", curl_easy_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

static bool abort_due(const _Atomic uint64_t *abort_at_ns, uint64_t now)
{
	uint64_t at = abort_at_ns ? atomic_load(abort_at_ns) : 0;

	return at && now >= at;
}

/* Milliseconds curl_multi_poll() may sleep: short once an abort is scheduled,
 * so the deadline is kept even without a wake-up. */
static int poll_ms(const _Atomic uint64_t *abort_at_ns, uint64_t now)
{
	uint64_t at = abort_at_ns ? atomic_load(abort_at_ns) : 0, ms;

	if (!at)
		return POLL_SLICE_MS;
	ms = at > now ? (at - now) / 1000000 + 1 : 0;
	return ms < POLL_SLICE_MS ? (int)ms : POLL_SLICE_MS;
}

static void read_answer(struct otlp_http *h, CURLcode done, struct otlp_http_result *r)
{
	struct curl_header *hdr;

	r->curl_code = done;
	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (done != CURLE_OK) {
		snprintf(r->error, sizeof(r->error), "%s",
			 h->resp_too_big ? "answer larger than 4 MiB"
			 : h->errbuf[0]	 ? h->errbuf
					 : curl_easy_strerror(done));
		return;
	}
	if (curl_easy_header(h->easy, "Retry-After", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK)
		snprintf(r->retry_after, sizeof(r->retry_after), "%s", hdr->value);
	r->body = h->resp;
	r->body_len = h->resp_len;
}

int otlp_http_post(struct otlp_http *h, const void *body, size_t len, uint64_t timeout_ms,
		   const _Atomic uint64_t *abort_at_ns, struct otlp_http_result *r)
{
	CURLcode done = CURLE_OK;
	CURLMsg *msg;
	int running = 1, left;
	bool finished = false;

	memset(r, 0, sizeof(*r));
	if (!h->conf)
		return -EINVAL;
	if (h->fresh) {
		if (apply_conf(h))
			return -EINVAL;
		curl_easy_setopt(h->easy, CURLOPT_FRESH_CONNECT, 1L);
		h->fresh = false;
	} else {
		curl_easy_setopt(h->easy, CURLOPT_FRESH_CONNECT, 0L);
	}
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	h->errbuf[0] = 0;
	h->resp_len = 0;
	h->resp_too_big = false;
	if (curl_multi_add_handle(h->multi, h->easy) != CURLM_OK)
		return -ENOMEM;

	while (!finished) {
		if (curl_multi_perform(h->multi, &running) != CURLM_OK) {
			done = CURLE_OUT_OF_MEMORY;
			break;
		}
		while ((msg = curl_multi_info_read(h->multi, &left)))
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == h->easy) {
				done = msg->data.result;
				finished = true;
			}
		if (finished || !running)
			break;
		if (abort_due(abort_at_ns, otlp_mono_ns())) {
			r->aborted = true;
			break;
		}
		curl_multi_poll(h->multi, NULL, 0, poll_ms(abort_at_ns, otlp_mono_ns()), NULL);
	}
	/* removing an unfinished transfer closes its connection: that is the abort */
	curl_multi_remove_handle(h->multi, h->easy);
	if (!finished && !r->aborted && done == CURLE_OK)
		done = CURLE_GOT_NOTHING;
	if (r->aborted) {
		r->curl_code = CURLE_ABORTED_BY_CALLBACK;
		snprintf(r->error, sizeof(r->error), "aborted: the exporter is stopping");
		return 0;
	}
	read_answer(h, done, r);
	return 0;
}
