/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_retry.c: retry verdicts, Retry-After and jittered exponential backoff. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "otlp_retry.h"

/* A Retry-After beyond a day is a server bug; the cap keeps ms arithmetic safe. */
#define RETRY_AFTER_MAX_S 86400ULL

bool otlp_status_retryable(long http_status)
{
	return http_status == 429 || http_status == 502 || http_status == 503 || http_status == 504;
}

/* Network trouble that may be gone on the next try. Everything else curl
 * reports (bad URL or option, certificate or key that cannot be loaded, a peer
 * that fails verification, an answer over our size limit) will fail the same
 * way again. */
static bool curl_transient(int code)
{
	switch (code) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_AGAIN:
	case CURLE_NO_CONNECTION_AVAILABLE:
	case CURLE_HTTP2_STREAM:
	case CURLE_PROXY:
		return true;
	default:
		return false;
	}
}

enum otlp_verdict otlp_classify(int curl_code, long http_status)
{
	if (curl_code != CURLE_OK)
		return curl_transient(curl_code) ? OTLP_RETRY : OTLP_FAIL;
	if (http_status >= 200 && http_status < 300)
		return OTLP_DONE;
	return otlp_status_retryable(http_status) ? OTLP_RETRY : OTLP_FAIL;
}

static int month_index(const char *m)
{
	static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

	for (int i = 0; i < 12; i++)
		if (!strcmp(m, names[i]))
			return i;
	return -1;
}

/* The three date forms RFC 9110 section 5.6.7 obliges a recipient to accept.
 * Parsed by hand, not with strptime(), so the process locale cannot change
 * what a month is called. */
static int parse_http_date(const char *s, time_t now, time_t *out)
{
	char wday[16], mon[4];
	int day, year, hh, mm, ss, end = -1;
	struct tm tm = {0}, now_tm;

	if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", wday, &day, mon, &year,
		   &hh, &mm, &ss, &end) == 7 &&
	    end > 0 && !s[end]) {
		/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
	} else if (end = -1, sscanf(s, "%15[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", wday,
				    &day, mon, &year, &hh, &mm, &ss, &end) == 7 &&
				 end > 0 && !s[end]) {
		/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT; a two-digit year more than
		 * 50 years ahead of now is the last such year in the past */
		gmtime_r(&now, &now_tm);
		year += (now_tm.tm_year + 1900) / 100 * 100;
		if (year > now_tm.tm_year + 1900 + 50)
			year -= 100;
	} else if (end = -1, sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wday, mon,
				    &day, &hh, &mm, &ss, &year, &end) == 7 &&
				 end > 0 && !s[end]) {
		/* asctime: Sun Nov  6 08:49:37 1994 */
	} else {
		return -EINVAL;
	}
	tm.tm_mon = month_index(mon);
	if (tm.tm_mon < 0 || day < 1 || day > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 ||
	    ss < 0 || ss > 60 || year < 1970)
		return -EINVAL;
	tm.tm_mday = day;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? -EINVAL : 0;
}

int otlp_retry_after_ms(const char *value, time_t now, uint64_t *out_ms)
{
	char buf[64];
	size_t len;
	time_t when;
	uint64_t secs = 0;
	const char *p;

	while (*value == ' ' || *value == '\t')
		value++;
	len = strlen(value);
	while (len && (value[len - 1] == ' ' || value[len - 1] == '\t' || value[len - 1] == '\r' ||
		       value[len - 1] == '\n'))
		len--;
	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, value, len);
	buf[len] = 0;

	if (isdigit((unsigned char)buf[0])) {
		for (p = buf; *p; p++) {
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			if (secs < RETRY_AFTER_MAX_S)
				secs = secs * 10 + (uint64_t)(*p - '0');
		}
	} else {
		if (parse_http_date(buf, now, &when))
			return -EINVAL;
		secs = when > now ? (uint64_t)(when - now) : 0;
	}
	if (secs > RETRY_AFTER_MAX_S)
		secs = RETRY_AFTER_MAX_S;
	*out_ms = secs * 1000;
	return 0;
}

uint64_t otlp_backoff_ms(const struct otlp_backoff *b, unsigned attempt, double rnd)
{
	uint64_t base = b->initial_ms, mult = b->multiplier ? b->multiplier : 1;

	for (unsigned i = 0; i < attempt && base < b->max_ms; i++)
		base = base > b->max_ms / mult ? b->max_ms : base * mult;
	if (base > b->max_ms)
		base = b->max_ms;
	if (rnd < 0 || rnd >= 1)
		rnd = 0;
	if (b->jitter == OTLP_JITTER_EQUAL)
		return base / 2 + (uint64_t)(rnd * (double)(base - base / 2));
	return (uint64_t)(rnd * (double)base);
}

bool otlp_next_retry(const struct otlp_backoff *b, unsigned attempt, uint64_t elapsed_ms,
		     int64_t retry_after_ms, double rnd, uint64_t *wait_ms)
{
	uint64_t wait = otlp_backoff_ms(b, attempt, rnd);

	/* Retry-After is a minimum: a server saying "0" again and again must
	 * not turn the retries into a busy loop */
	if (retry_after_ms >= 0 && (uint64_t)retry_after_ms > wait)
		wait = (uint64_t)retry_after_ms;
	*wait_ms = wait;
	/* a server that asks for more time than the budget has left gets the batch
	 * dropped now, rather than a retry it said it would refuse */
	return elapsed_ms <= b->max_elapsed_ms && wait <= b->max_elapsed_ms - elapsed_ms;
}
