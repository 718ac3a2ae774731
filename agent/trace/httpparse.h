/* SPDX-License-Identifier: Apache-2.0 */
/* httpparse.h: parsing of HTTP/1.x request and response head prefixes, as the
 * kernel captures them (at most OBS_HEAD_MAX bytes, possibly cut anywhere and
 * possibly followed by body bytes). Only what span reconstruction needs is
 * extracted; nothing that the prefix does not show is ever guessed. */
#ifndef BPFMESH_HTTPPARSE_H
#define BPFMESH_HTTPPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_METHOD_MAX 16
#define HTTP_TARGET_MAX 256 /* path and query buffers (span.h SPAN_STR) */

enum http_parse_rc {
	HTTP_PARSE_NOT_HTTP = -1, /* not an HTTP/1.x head */
	HTTP_PARSE_OK = 0,	  /* the head up to its blank line was parsed */
	/* The prefix ends inside the head: fields come from complete lines only
	 * (a header cut in the middle is ignored, not half-read). */
	HTTP_PARSE_TRUNCATED = 1,
};

struct http_traceparent {
	uint8_t trace_id[16];
	uint8_t span_id[8]; /* the caller's span: the parent */
	uint8_t flags;	    /* bit 0: sampled */
};

struct http_request {
	char method[HTTP_METHOD_MAX]; /* "" when the prefix ends inside the method */
	char path[HTTP_TARGET_MAX];   /* request-target without query; the path of an
				       * absolute-form target; "*" for asterisk-form;
				       * "" for authority-form (CONNECT host:port) */
	char query[HTTP_TARGET_MAX];  /* after '?', without it */
	bool path_truncated;	      /* path is only a prefix of the real one */
	bool query_truncated;
	int version;	      /* 10 or 11; 0 when the request line is cut before it */
	bool has_traceparent; /* exactly one, valid, traceparent header */
	struct http_traceparent tp;
	int64_t content_length; /* -1: absent or invalid */
	bool chunked;		/* Transfer-Encoding ends in "chunked" */
	bool conn_close;	/* Connection: close */
	size_t head_len;	/* bytes up to and including the blank line (OK only) */
};

struct http_response {
	int version;	 /* 10 or 11 */
	uint16_t status; /* 100..599; 0 when the prefix ends inside it */
	int64_t content_length;
	bool chunked;
	bool conn_close;
	size_t head_len;
};

/* Parse a request head prefix. On HTTP_PARSE_TRUNCATED, method and path are
 * valid when non-empty (path_truncated says whether the path was complete). */
int http_parse_request(const char *p, size_t n, struct http_request *out);

/* Parse a response head prefix; on HTTP_PARSE_TRUNCATED, status is 0 when the
 * status line was cut before the code. */
int http_parse_response(const char *p, size_t n, struct http_response *out);

/* W3C Trace Context traceparent value (version-format 00; later versions are
 * read by their version-00 prefix as the spec asks). 0 or -EINVAL. */
int http_parse_traceparent(const char *v, size_t n, struct http_traceparent *out);

/* Cheap checks on the first bytes: a known method followed by a space, or
 * "HTTP/1.". */
bool http_looks_like_request(const char *p, size_t n);
bool http_looks_like_response(const char *p, size_t n);

#endif
