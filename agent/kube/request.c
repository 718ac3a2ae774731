/* SPDX-License-Identifier: Apache-2.0 */
/* request.c: URLs and libcurl options for the API server. The -data forms of
 * a kubeconfig are handed over as blobs (libcurl >= 7.77 with OpenSSL), so
 * no key is ever written to disk. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/request.h"

#define CONNECT_TIMEOUT_S 10L

struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

/* &name=value with the value escaped */
static void sb_param(struct sbuf *b, const char *name, const char *value)
{
	char *esc;

	if (b->oom)
		return;
	esc = curl_easy_escape(NULL, value, 0);
	if (!esc) {
		b->oom = true;
		return;
	}
	sb_add(b, strchr(b->s, '?') ? "&" : "?");
	sb_add(b, name);
	sb_add(b, "=");
	sb_add(b, esc);
	curl_free(esc);
}

char *kreq_url(const char *server, const struct kube_resource *r, const struct kreq_query *q)
{
	struct sbuf b = {0};
	char num[32];

	sb_add(&b, server);
	/* the core group lives under /api, every other group under /apis */
	sb_add(&b, strchr(r->group_version, '/') ? "/apis/" : "/api/");
	sb_add(&b, r->group_version);
	sb_add(&b, "/");
	sb_add(&b, r->resource);
	if (q->watch) {
		sb_param(&b, "watch", "true");
		sb_param(&b, "allowWatchBookmarks", "true");
	}
	if (q->resource_version)
		sb_param(&b, "resourceVersion", q->resource_version);
	if (q->continue_token)
		sb_param(&b, "continue", q->continue_token);
	if (q->limit) {
		snprintf(num, sizeof(num), "%u", q->limit);
		sb_param(&b, "limit", num);
	}
	if (q->timeout_s) {
		snprintf(num, sizeof(num), "%u", q->timeout_s);
		sb_param(&b, "timeoutSeconds", num);
	}
	if (r->field_selector && *r->field_selector)
		sb_param(&b, "fieldSelector", r->field_selector);
	if (r->label_selector && *r->label_selector)
		sb_param(&b, "labelSelector", r->label_selector);
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

static int set_blob(CURL *e, CURLoption opt, const struct kube_blob *b)
{
	struct curl_blob blob = {.data = b->data, .len = b->len, .flags = CURL_BLOB_COPY};

	return curl_easy_setopt(e, opt, &blob) == CURLE_OK ? 0 : -1;
}

static int set_tls(CURL *e, const struct kube_settings *s)
{
	int rc = 0;

	if (s->ca_data.data)
		rc |= set_blob(e, CURLOPT_CAINFO_BLOB, &s->ca_data);
	else if (s->ca_file[0])
		rc |= curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file) != CURLE_OK;
	if (s->cert_data.data) {
		rc |= set_blob(e, CURLOPT_SSLCERT_BLOB, &s->cert_data);
		rc |= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK;
	} else if (s->cert_file[0]) {
		rc |= curl_easy_setopt(e, CURLOPT_SSLCERT, s->cert_file) != CURLE_OK;
	}
	if (s->key_data.data) {
		rc |= set_blob(e, CURLOPT_SSLKEY_BLOB, &s->key_data);
		rc |= curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK;
	} else if (s->key_file[0]) {
		rc |= curl_easy_setopt(e, CURLOPT_SSLKEY, s->key_file) != CURLE_OK;
	}
	if (s->insecure_skip_tls_verify) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return rc ? -1 : 0;
}

int kreq_setup(CURL *e, const struct kube_settings *s, const char *url, const char *token,
	       const char *user_agent, long timeout_s, bool low_speed, struct curl_slist **hdrs)
{
	struct curl_slist *h = NULL, *n;
	char *auth = NULL;
	size_t auth_len;

	*hdrs = NULL;
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
	if (low_speed) {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
	}
	/* a server gone without a FIN (a node cut off) is found by keepalive,
	 * not by waiting for the watch's timeout */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, user_agent);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	/* compressed lists are a fraction of the size; curl inflates them */
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (s->proxy_url[0])
		curl_easy_setopt(e, CURLOPT_PROXY, s->proxy_url);
	if (set_tls(e, s))
		return -1;
	if (!(n = curl_slist_append(h, "Accept: application/json")))
		return -1;
	h = n;
	if (token) {
		auth_len = strlen(token) + 32;
		auth = malloc(auth_len);
		if (!auth)
			goto fail;
		snprintf(auth, auth_len, "Authorization: Bearer %s", token);
		n = curl_slist_append(h, auth);
		explicit_bzero(auth, auth_len);
		free(auth);
		if (!n)
			goto fail;
		h = n;
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	*hdrs = h;
	return 0;
fail:
	curl_slist_free_all(h);
	return -1;
}
