/* SPDX-License-Identifier: Apache-2.0 */
/* proto_http1.c: the HTTP/1.x parser module of the protocol seam (proto.h).
 * The kernel (bpf/lib/http1.bpf.h) sends a segment that starts a request or
 * a response, its first bytes (bpf/http.h says how many); here such a
 * segment is split into the requests (or responses) pipelined in it, and
 * each head is read with the grammar of proto_http1_head.c into the neutral
 * fields of an observation. A request whose head goes on past those bytes
 * may come with the trace context lines the kernel found further on
 * (struct http_req_ctx): they are read as if they followed the last whole
 * line of the bytes sent. HTTP/1.x has one exchange at a time per
 * connection, answered in order: stream_id stays 0. */
#include <string.h>

#include "bpf/http.h"
#include "trace/proto.h"
#include "trace/proto_http1_head.h"

/* Bytes of one response head that are parsed: the prefix the span builder
 * read when observations carried a copy of the head. A request's are all
 * the kernel sent: its trace context may be anywhere in the head. */
#define HTTP1_PARSE_MAX 512

static bool http1_detect(uint8_t kind, const char *p, size_t n)
{
	if (kind == OBS_REQUEST)
		return http_looks_like_request(p, n);
	return kind == OBS_RESPONSE && http_looks_like_response(p, n);
}

/* After each blank line, another method starts a pipelined request;
 * anything else is a body, and the split stops there (GET pipelines have
 * none, so this finds what clients pipeline). */
static int split_requests(const char *head, int len, struct proto_msg *m, int max)
{
	int n = 0, i = 0;

	if (max < 1 || len < 1)
		return 0;
	m[n++] = (struct proto_msg){0, len, false, 0};
	while (n < max) {
		const char *end = memmem(head + i, len - i, "\r\n\r\n", 4);

		if (!end)
			break;
		i = (int)(end - head) + 4;
		if (i >= len || !http_looks_like_request(head + i, len - i))
			break;
		m[n - 1].len = i - m[n - 1].off;
		m[n++] = (struct proto_msg){i, len - i, false, 0};
	}
	return n;
}

/* The response head split_responses read last, for the parse of the same
 * bytes that follows it (events.c splits a record, then parses each
 * message): a response head is read once, not twice (the second read was
 * 4% of the agent at 30,000 req/s). Each split sets it anew, the parse
 * that follows takes it (once), and it only stands for the same bytes at
 * the same place and length. The capture reader is one thread. */
static struct {
	const char *p; /* NULL: none */
	size_t n;
	int rc;
	struct http_response r;
} split_read;

/* Responses answer pipelined requests back to back: the next one starts
 * after this one's body, when the framing says where (a HEAD response may
 * mislead: then no response head is found there and the split stops).
 * ends: the response's last byte is in the segment (seg_len payload bytes,
 * of which len were captured); need: where it ends when that is past the
 * segment (the kernel counts the bytes that follow, bpf/http.h). A chunked
 * body's end is found by its last bytes (events.c). */
static int split_responses(const char *head, int len, int seg_len, struct proto_msg *m, int max)
{
	int n = 0, off = 0;

	split_read.p = NULL;
	while (n < max && off < len) {
		struct http_response r;
		int rc = http_parse_response(head + off, len - off, &r);
		int64_t next;

		split_read.p = head + off;
		split_read.n = (size_t)(len - off);
		split_read.rc = rc;
		split_read.r = r;

		m[n++] = (struct proto_msg){off, len - off, false, 0};
		if (rc != HTTP_PARSE_OK || r.chunked)
			break;
		next = off + (int64_t)r.head_len +
		       (r.status == 204 || r.status == 304 || r.status < 200 ? 0
			: r.content_length > 0				     ? r.content_length
									     : 0);
		if (r.content_length < 0 && r.status >= 200 && r.status != 204 && r.status != 304)
			break; /* delimited by the close */
		m[n - 1].need = next;
		if (next == seg_len) {
			m[n - 1].ends = true; /* ends with the segment */
			break;
		}
		if (next >= len || len - next < 8 || memcmp(head + next, "HTTP/1.", 7))
			break;
		m[n - 1].ends = true; /* another response follows in this segment */
		m[n - 1].len = (int)next - off;
		off = (int)next;
	}
	return n;
}

static int http1_split(uint8_t kind, const char *p, int n, int seg_len, struct proto_msg *msgs,
		       int max)
{
	if (kind == OBS_REQUEST)
		return split_requests(p, n, msgs, max);
	return split_responses(p, n, seg_len, msgs, max);
}

/* One context line of the kernel's (NUL-padded, a CR at its end kept)
 * onto the head being put together at b[*n]; false when it does not fit. */
static bool add_ctx_line(char *b, size_t *n, size_t cap, const char *line, size_t max)
{
	size_t len = strnlen(line, max);

	if (len && line[len - 1] == '\r')
		len--;
	if (*n + len + 2 > cap)
		return false;
	memcpy(b + *n, line, len);
	memcpy(b + *n + len, "\r\n", 2);
	*n += len + 2;
	return true;
}

/* A request record with context (longer than HTTP_HEAD_MAX): its head up
 * to its last whole line, then the context lines, into b. A second
 * traceparent line goes in too (then none is valid); the tracestate only
 * when the kernel copied its one line whole. Returns the length, 0 when
 * the record's bytes hold no whole line (its request line is cut). */
static size_t join_ctx(const char *p, size_t n, char *b, size_t cap, bool *ts_lost)
{
	struct http_req_ctx c;
	const char *lf = memrchr(p, '\n', HTTP_HEAD_MAX);
	size_t k;

	if (n < HTTP_HEAD_MAX + sizeof(c) || !lf)
		return 0;
	memcpy(&c, p + HTTP_HEAD_MAX, sizeof(c));
	k = (size_t)(lf - p) + 1;
	memcpy(b, p, k);
	*ts_lost = (c.flags & HTTP_CTX_TS_LOST) || c.n_tracestate > 1;
	for (int i = 0; i < c.n_traceparent && i < 2; i++)
		add_ctx_line(b, &k, cap, c.traceparent, sizeof(c.traceparent));
	if (c.n_tracestate && !*ts_lost &&
	    !add_ctx_line(b, &k, cap, c.tracestate, sizeof(c.tracestate)))
		*ts_lost = true;
	return k;
}

static void parse_request(const char *p, size_t n, struct obs *o)
{
	char joined[HTTP_HEAD_MAX + sizeof(struct http_req_ctx) + 8];
	struct http_request r;
	bool ts_lost = false;
	int rc;

	if (n > HTTP_HEAD_MAX) {
		size_t k = join_ctx(p, n, joined, sizeof(joined), &ts_lost);

		if (k) {
			p = joined;
			n = k;
		} else {
			n = HTTP_HEAD_MAX;
		}
	}
	rc = http_parse_request(p, n, &r);
	if (ts_lost)
		r.tracestate[0] = '\0'; /* never a part of the list for the whole */

	if (rc == HTTP_PARSE_NOT_HTTP || !r.method[0]) {
		o->parse = OBS_PARSE_BAD;
		return;
	}
	o->parse = rc == HTTP_PARSE_OK ? OBS_PARSE_OK : OBS_PARSE_CUT;
	memcpy(o->method, r.method, sizeof(o->method));
	memcpy(o->target, r.path, sizeof(o->target));
	o->target_truncated = r.path_truncated;
	memcpy(o->query, r.query, sizeof(o->query));
	o->query_truncated = r.query_truncated;
	o->version = (uint8_t)r.version;
	memcpy(o->user_agent, r.user_agent, sizeof(o->user_agent));
	/* RFC 9112 6.3: the response to HEAD has no body */
	o->bodiless_response = !strcmp(r.method, "HEAD");
	memcpy(o->host, r.host, sizeof(o->host));
	/* W3C: with several traceparent headers, none is valid */
	if (r.n_traceparent == 1)
		memcpy(o->traceparent, r.traceparent, sizeof(o->traceparent));
	memcpy(o->tracestate, r.tracestate, sizeof(o->tracestate));
}

static void parse_response(const char *p, size_t n, struct obs *o)
{
	struct http_response r;
	int rc;

	if (split_read.p == p && split_read.n == n) {
		rc = split_read.rc;
		r = split_read.r;
	} else {
		rc = http_parse_response(p, n, &r);
	}
	split_read.p = NULL;

	if (rc == HTTP_PARSE_NOT_HTTP) {
		o->parse = OBS_PARSE_BAD;
		return;
	}
	o->parse = rc == HTTP_PARSE_OK ? OBS_PARSE_OK : OBS_PARSE_CUT;
	o->status = r.status;
	o->chunked = rc == HTTP_PARSE_OK && r.chunked;
	/* RFC 9112 6.3: 204 and 304 have no body whatever their headers say;
	 * without a length or chunks the close ends it; a head cut before its
	 * framing headers leaves its end to what follows it on the socket */
	if (r.status == 204 || r.status == 304)
		o->body = OBS_BODY_NONE;
	else if (rc == HTTP_PARSE_OK && !r.chunked && r.content_length == 0)
		o->body = OBS_BODY_NONE;
	else if (rc == HTTP_PARSE_OK && !r.chunked && r.content_length < 0)
		o->body = OBS_BODY_TO_CLOSE;
	else if (rc == HTTP_PARSE_OK)
		o->body = OBS_BODY_LENGTH;
	else
		o->body = OBS_BODY_FRAMED;
}

static void http1_parse(uint8_t kind, const char *p, size_t n, struct obs *o)
{
	if (kind != OBS_REQUEST && n > HTTP1_PARSE_MAX)
		n = HTTP1_PARSE_MAX;
	o->proto = OBS_PROTO_HTTP1;
	o->stream_id = 0;
	if (kind == OBS_REQUEST)
		parse_request(p, n, o);
	else
		parse_response(p, n, o);
}

const struct proto_parser proto_http1 = {
    .name = "http1",
    .id = OBS_PROTO_HTTP1,
    .detect = http1_detect,
    .split = http1_split,
    .parse = http1_parse,
};
