/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_httpparse.c: the HTTP/1.x head parser (trace/proto_http1_head.c) and the
 * traceparent parser (trace/tracectx.c) on what the
 * kernel hands over: any bytes, a head cut anywhere, body bytes after it.
 * A thin call into the public functions, so the harness follows the parser
 * wherever the protocol seam puts it.
 *
 * Besides memory safety and the ranges of proto_http1_head.h, the harness checks
 * its promise on prefixes: "nothing that the prefix does not show is ever
 * guessed". A few prefixes of each input are parsed on their own (in
 * buffers of their exact size), and whatever a prefix's parse states must
 * hold for the whole input too. */
#include <string.h>

#include "trace/proto_http1_head.h"
#include "trace/tracectx.h"
#include "fuzz.h"

static void check_str(const char *s, size_t size) { FUZZ_CHECK(strnlen(s, size) < size); }

static int request(const char *p, size_t n, struct http_request *rq)
{
	int rc;

	memset(rq, 0xa5, sizeof(*rq)); /* nothing may be left unset */
	rc = http_parse_request(p, n, rq);
	FUZZ_CHECK(rc == HTTP_PARSE_NOT_HTTP || rc == HTTP_PARSE_OK || rc == HTTP_PARSE_TRUNCATED);
	if (rc == HTTP_PARSE_NOT_HTTP)
		return rc;
	check_str(rq->method, sizeof(rq->method));
	check_str(rq->path, sizeof(rq->path));
	check_str(rq->query, sizeof(rq->query));
	check_str(rq->host, sizeof(rq->host));
	check_str(rq->user_agent, sizeof(rq->user_agent));
	FUZZ_CHECK(rq->version == 0 || rq->version == 10 || rq->version == 11);
	FUZZ_CHECK(rq->content_length >= -1);
	if (rc == HTTP_PARSE_OK)
		FUZZ_CHECK(rq->method[0] && rq->version && rq->head_len > 0 && rq->head_len <= n);
	return rc;
}

static int response(const char *p, size_t n, struct http_response *rs)
{
	int rc;

	memset(rs, 0xa5, sizeof(*rs));
	rc = http_parse_response(p, n, rs);
	FUZZ_CHECK(rc == HTTP_PARSE_NOT_HTTP || rc == HTTP_PARSE_OK || rc == HTTP_PARSE_TRUNCATED);
	if (rc == HTTP_PARSE_NOT_HTTP)
		return rc;
	/* 0 only when the prefix ends inside "HTTP/1.x" */
	FUZZ_CHECK(rs->version == 10 || rs->version == 11 ||
		   (rs->version == 0 && rc == HTTP_PARSE_TRUNCATED && n < 8));
	FUZZ_CHECK(rs->status == 0 || (rs->status >= 100 && rs->status <= 599));
	FUZZ_CHECK(rs->content_length >= -1);
	if (rc == HTTP_PARSE_OK)
		FUZZ_CHECK(rs->status && rs->head_len > 0 && rs->head_len <= n);
	return rc;
}

/* What the parse of the first k bytes said must hold for all of them. */
static void check_prefix(const uint8_t *data, size_t size, size_t k, int rq_rc,
			 const struct http_request *rq, int rs_rc, const struct http_response *rs)
{
	struct http_request pq;
	struct http_response ps;
	char *p;
	int rc;

	if (!k || k >= size)
		return;
	p = malloc(k); /* exact size: a read past the prefix is reported */
	if (!p)
		abort();
	memcpy(p, data, k);

	rc = request(p, k, &pq);
	if (rc == HTTP_PARSE_NOT_HTTP) {
		FUZZ_CHECK(rq_rc == HTTP_PARSE_NOT_HTTP);
	} else if (rq_rc != HTTP_PARSE_NOT_HTTP) {
		if (pq.method[0])
			FUZZ_CHECK(!strcmp(pq.method, rq->method));
		if (pq.version)
			FUZZ_CHECK(pq.version == rq->version);
		if (pq.path[0] && !pq.path_truncated)
			FUZZ_CHECK(!strcmp(pq.path, rq->path) &&
				   rq->path_truncated == pq.path_truncated);
		if (pq.query[0] && !pq.query_truncated)
			FUZZ_CHECK(!strcmp(pq.query, rq->query));
		if (rc == HTTP_PARSE_OK)
			FUZZ_CHECK(rq_rc == HTTP_PARSE_OK && rq->head_len == pq.head_len &&
				   rq->content_length == pq.content_length &&
				   rq->chunked == pq.chunked && rq->conn_close == pq.conn_close &&
				   rq->n_traceparent == pq.n_traceparent &&
				   !strcmp(rq->traceparent, pq.traceparent));
	}

	rc = response(p, k, &ps);
	if (rc == HTTP_PARSE_NOT_HTTP) {
		FUZZ_CHECK(rs_rc == HTTP_PARSE_NOT_HTTP);
	} else if (rs_rc != HTTP_PARSE_NOT_HTTP) {
		if (ps.version)
			FUZZ_CHECK(ps.version == rs->version);
		if (ps.status)
			FUZZ_CHECK(ps.status == rs->status);
		if (rc == HTTP_PARSE_OK)
			FUZZ_CHECK(rs_rc == HTTP_PARSE_OK && rs->head_len == ps.head_len &&
				   rs->content_length == ps.content_length &&
				   rs->chunked == ps.chunked && rs->conn_close == ps.conn_close);
	}
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const uint8_t *lf = memchr(data, '\n', size);
	struct http_request rq;
	struct http_response rs;
	struct trace_parent tp;
	int rq_rc, rs_rc;

	/* the data is an exact-size heap copy: a read past size is reported */
	(void)http_looks_like_request(p, size);
	(void)http_looks_like_response(p, size);
	rq_rc = request(p, size, &rq);
	rs_rc = response(p, size, &rs);

	/* cut inside the first line, just after it, halfway, and one short */
	check_prefix(data, size, size / 3, rq_rc, &rq, rs_rc, &rs);
	if (lf)
		check_prefix(data, size, (size_t)(lf - data) + 1, rq_rc, &rq, rs_rc, &rs);
	check_prefix(data, size, size / 2, rq_rc, &rq, rs_rc, &rs);
	check_prefix(data, size, size - 1, rq_rc, &rq, rs_rc, &rs);

	(void)tracectx_parse_traceparent(p, size, &tp);
	if (rq_rc != HTTP_PARSE_NOT_HTTP)
		(void)tracectx_parse_traceparent(rq.traceparent, strlen(rq.traceparent), &tp);
	return 0;
}
