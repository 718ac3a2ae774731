/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_httpparse.c: the HTTP/1.x head parser (trace/httpparse.c) on what the
 * kernel hands over: any bytes, a head cut anywhere, body bytes after it.
 * A thin call into the public functions, so the harness follows the parser
 * wherever the protocol seam puts it. */
#include <string.h>

#include "trace/httpparse.h"
#include "fuzz.h"

static void check_str(const char *s, size_t size) { FUZZ_CHECK(strnlen(s, size) < size); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct http_request rq;
	struct http_response rs;
	struct http_traceparent tp;
	int rc;

	/* the data is an exact-size heap copy: a read past size is reported */
	(void)http_looks_like_request(p, size);
	(void)http_looks_like_response(p, size);

	memset(&rq, 0xa5, sizeof(rq)); /* nothing may be left unset */
	rc = http_parse_request(p, size, &rq);
	FUZZ_CHECK(rc == HTTP_PARSE_NOT_HTTP || rc == HTTP_PARSE_OK || rc == HTTP_PARSE_TRUNCATED);
	if (rc != HTTP_PARSE_NOT_HTTP) {
		check_str(rq.method, sizeof(rq.method));
		check_str(rq.path, sizeof(rq.path));
		check_str(rq.query, sizeof(rq.query));
		FUZZ_CHECK(rq.version == 0 || rq.version == 10 || rq.version == 11);
		FUZZ_CHECK(rq.content_length >= -1);
		if (rc == HTTP_PARSE_OK)
			FUZZ_CHECK(rq.head_len > 0 && rq.head_len <= size);
	}

	memset(&rs, 0xa5, sizeof(rs));
	rc = http_parse_response(p, size, &rs);
	FUZZ_CHECK(rc == HTTP_PARSE_NOT_HTTP || rc == HTTP_PARSE_OK || rc == HTTP_PARSE_TRUNCATED);
	if (rc != HTTP_PARSE_NOT_HTTP) {
		/* 0 only when the prefix ends inside "HTTP/1.x" */
		FUZZ_CHECK(rs.version == 10 || rs.version == 11 ||
			   (rs.version == 0 && rc == HTTP_PARSE_TRUNCATED && size < 8));
		FUZZ_CHECK(rs.status == 0 || (rs.status >= 100 && rs.status <= 599));
		FUZZ_CHECK(rs.content_length >= -1);
		if (rc == HTTP_PARSE_OK)
			FUZZ_CHECK(rs.status && rs.head_len > 0 && rs.head_len <= size);
	}

	(void)http_parse_traceparent(p, size, &tp);
	return 0;
}
