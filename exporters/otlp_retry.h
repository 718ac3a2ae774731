/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_retry.h: when the OTLP exporter sends a batch again and how long it
 * waits first (OTLP/HTTP spec, "Failures" and "Throttling"). Pure decisions:
 * the clock and the random value are arguments, so tests can pin them. */
#ifndef BPFMESH_OTLP_RETRY_H
#define BPFMESH_OTLP_RETRY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum otlp_jitter {
	OTLP_JITTER_FULL = 0,  /* wait uniform in [0, b]: spreads agents the most */
	OTLP_JITTER_EQUAL = 1, /* wait uniform in [b/2, b]: never retries at once */
};

struct otlp_backoff {
	uint64_t initial_ms; /* b for the first retry */
	uint64_t max_ms;     /* b never grows past this */
	uint32_t multiplier; /* b grows by this factor per retry (>= 1) */
	enum otlp_jitter jitter;
	uint64_t max_elapsed_ms; /* give a batch up when the next try would start later */
};

enum otlp_verdict {
	OTLP_DONE = 0,	/* 2xx: delivered (a partial success is never retried) */
	OTLP_RETRY = 1, /* transient: send the same body again after a wait */
	OTLP_FAIL = 2,	/* final: drop the batch */
};

/* 429, 502, 503 and 504 are the codes the spec says to retry; every other
 * 4xx and 5xx (400, 401, 413, 500, ...) is final. */
bool otlp_status_retryable(long http_status);

/* The verdict on one attempt: curl_code is the transfer's CURLcode (0 when an
 * HTTP answer came), http_status its status line. Connection failures, time-outs
 * and a server that closes without answering are retried; a malformed URL, an
 * unusable certificate or an oversized answer are not. */
enum otlp_verdict otlp_classify(int curl_code, long http_status);

/* Retry-After: delay-seconds or an HTTP-date (IMF-fixdate, RFC 850 or asctime
 * form), relative to now. A date in the past means 0. Returns 0 and *out_ms, or
 * -EINVAL when the value is neither. */
int otlp_retry_after_ms(const char *value, time_t now, uint64_t *out_ms);

/* The wait before retry number `attempt` (0 = the first retry): b =
 * min(max_ms, initial_ms * multiplier^attempt), jittered with rnd in [0, 1). */
uint64_t otlp_backoff_ms(const struct otlp_backoff *b, unsigned attempt, double rnd);

/* Whether to try again and after how long: the jittered backoff, or the
 * server's Retry-After (retry_after_ms >= 0; -1 = none) when that is longer;
 * false when the try would start after max_elapsed_ms from the batch's first
 * attempt. */
bool otlp_next_retry(const struct otlp_backoff *b, unsigned attempt, uint64_t elapsed_ms,
		     int64_t retry_after_ms, double rnd, uint64_t *wait_ms);

#endif
