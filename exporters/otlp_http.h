/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_http.h: the OTLP exporter's transport: libcurl settings made from
 * struct otlp_settings (URL, headers, gzip, timeout, TLS) and one POST that a
 * stop can cut short from another thread. The handles are kept between posts
 * so the connection (and its TLS session) is reused. */
#ifndef BPFMESH_OTLP_HTTP_H
#define BPFMESH_OTLP_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otlp_settings.h"

#define OTLP_TRACES_PATH "/v1/traces"
#define OTLP_METRICS_PATH "/v1/metrics"
#define OTLP_PATH_MAX 16	     /* a signal's path with its NUL */
#define OTLP_RESPONSE_MAX (4u << 20) /* the spec's default answer limit */

/* What one otlp_settings says about the connection, immutable once made. */
struct otlp_http_conf {
	char url[OTLP_ENDPOINT_MAX + OTLP_PATH_MAX];
	struct curl_slist *headers;
	bool gzip;
	uint64_t timeout_ms;
	char ca_file[OTLP_FILE_MAX];
	char cert_file[OTLP_FILE_MAX];
	char key_file[OTLP_FILE_MAX];
	bool insecure_skip_verify;
	char user_agent[64];
};

/* Builds the settings: endpoint + path (OTLP_TRACES_PATH, OTLP_METRICS_PATH),
 * the configured headers (those that would break the protocol, or carry a
 * line break, are left out with a warning), Content-Type and, with gzip,
 * Content-Encoding. Returns 0, -EINVAL (no settings, not an http(s) URL, a
 * path of OTLP_PATH_MAX or more) or -ENOMEM. */
int otlp_http_conf_new(const struct otlp_settings *set, const char *path, const char *version,
		       struct otlp_http_conf **out);
void otlp_http_conf_free(struct otlp_http_conf *c);

struct otlp_http_result {
	int curl_code;	      /* CURLcode; 0 when an answer came */
	long status;	      /* HTTP status, 0 without an answer */
	bool aborted;	      /* cut short by abort_at_ns */
	char error[256];      /* curl's explanation when curl_code != 0 */
	char retry_after[64]; /* the Retry-After value, "" when absent */
	const uint8_t *body;  /* the answer body, valid until the next post */
	size_t body_len;
};

struct otlp_http;

/* NULL when out of memory. */
struct otlp_http *otlp_http_new(void);
void otlp_http_free(struct otlp_http *h);

/* The settings the next post uses; the first post after a change opens a new
 * connection, so rotated certificates are read again. c must outlive its use. */
void otlp_http_use(struct otlp_http *h, const struct otlp_http_conf *c);

/* POSTs body (already gzipped when c->gzip). Waits at most timeout_ms, and
 * gives up as soon as CLOCK_MONOTONIC passes *abort_at_ns when that is non-zero
 * (otlp_http_wakeup() makes a waiting post look at it at once). Returns 0 with
 * r filled, -EINVAL without settings, -ENOMEM. */
int otlp_http_post(struct otlp_http *h, const void *body, size_t len, uint64_t timeout_ms,
		   const _Atomic uint64_t *abort_at_ns, struct otlp_http_result *r);

/* Any thread: interrupts the wait of a post in progress. */
void otlp_http_wakeup(struct otlp_http *h);

/* CLOCK_MONOTONIC in ns: the clock of abort_at_ns, batch ages and retry budgets. */
uint64_t otlp_mono_ns(void);

#endif
