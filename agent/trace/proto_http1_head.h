/* SPDX-License-Identifier: Apache-2.0 */
/* proto_http1_head.h: the grammar of HTTP/1.x request and response head
 * prefixes, as the kernel captures them (possibly cut anywhere and possibly
 * followed by body bytes), for the HTTP/1 parser module (proto_http1.c).
 * Only what span reconstruction and framing need is extracted; nothing that
 * the prefix does not show is ever guessed. */
#ifndef BPFMESH_PROTO_HTTP1_HEAD_H
#define BPFMESH_PROTO_HTTP1_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/obs.h"

#define HTTP_METHOD_MAX OBS_METHOD_MAX
#define HTTP_TARGET_MAX OBS_TARGET_MAX /* path and query buffers */

enum http_parse_rc {
	HTTP_PARSE_NOT_HTTP = -1, /* not an HTTP/1.x head */
	HTTP_PARSE_OK = 0,	  /* the head up to its blank line was parsed */
	/* The prefix ends inside the head: fields come from complete lines only
	 * (a header cut in the middle is ignored, not half-read). */
	HTTP_PARSE_TRUNCATED = 1,
};

struct http_request {
	char method[HTTP_METHOD_MAX]; /* "" when the prefix ends inside the method */
	char path[HTTP_TARGET_MAX];   /* request-target without query; the path of an
				       * absolute-form target; "*" for asterisk-form;
				       * "" for authority-form (CONNECT host:port) */
	char query[HTTP_TARGET_MAX];  /* after '?', without it */
	bool path_truncated;	      /* path is only a prefix of the real one */
	bool query_truncated;
	int version; /* 10 or 11; 0 when the request line is cut before it */
	/* Trace Context and Host field values, as sent (not validated): the
	 * first traceparent (cut to fit) and how many were sent; every
	 * tracestate line, comma-joined, "" when they do not fit; the first
	 * Host, "" when it does not fit */
	int n_traceparent;
	char traceparent[OBS_TRACEPARENT_MAX];
	char tracestate[OBS_TRACESTATE_MAX];
	char host[OBS_HOST_MAX];
	char user_agent[OBS_HOST_MAX]; /* the first User-Agent, cut to fit */
	int64_t content_length;	       /* -1: absent or invalid */
	bool chunked;		       /* Transfer-Encoding ends in "chunked" */
	bool conn_close;	       /* Connection: close */
	size_t head_len;	       /* bytes up to and including the blank line (OK only) */
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

/* Cheap checks on the first bytes: a method (an RFC 9110 token, the known
 * ones or any of 3-16 uppercase letters) followed by a space and the start
 * of a request-target ('/', '*', "http"; anything after a known method), or
 * "HTTP/1.". */
bool http_looks_like_request(const char *p, size_t n);
bool http_looks_like_response(const char *p, size_t n);

#endif
