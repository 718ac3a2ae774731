/* SPDX-License-Identifier: Apache-2.0 */
/* proto_h2.c: HTTP/2 header fields -> observation fields (proto_h2.h).
 * Names arrive lower-case (RFC 9113 8.2.1); a field that does not fit is
 * left out rather than cut, except the path, whose prefix is marked. */
#include <stdio.h>
#include <string.h>

#include "trace/proto_h2.h"

void h2_head_reset(struct h2_head *h) { memset(h, 0, sizeof(*h)); }

static bool is(const uint8_t *name, size_t nlen, const char *s)
{
	return nlen == strlen(s) && !memcmp(name, s, nlen);
}

/* value into dst, whole or not at all */
static void copy_whole(char *dst, size_t size, const uint8_t *v, size_t n)
{
	if (n >= size || memchr(v, 0, n)) {
		dst[0] = '\0';
		return;
	}
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* Where a request-target stops being one: its first byte that is not
 * visible ASCII (RFC 9113 8.3.1, as HTTP/1.x's request line has it). HPACK
 * carries any octet, and a path becomes span names and routes that the
 * CLI prints on a terminal. */
static size_t target_len(const uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] <= 0x20 || v[i] >= 0x7f)
			return i;
	return n;
}

/* The path without its query; a prefix, marked, when it is too long or
 * goes on with a byte no request-target has (a query with one is left
 * out). */
static void set_path(struct h2_head *h, const uint8_t *v, size_t n)
{
	size_t ok = target_len(v, n);
	const uint8_t *q = memchr(v, '?', ok);
	bool cut = false;

	if (q) {
		/* a query with such a byte is left out, its path is whole */
		if (ok == n)
			copy_whole(h->query, sizeof(h->query), q + 1, n - (size_t)(q + 1 - v));
		n = (size_t)(q - v);
	} else {
		cut = ok < n;
		n = ok;
	}
	h->has_path = true;
	h->target_truncated = cut || n >= sizeof(h->target);
	if (n >= sizeof(h->target))
		n = sizeof(h->target) - 1;
	memcpy(h->target, v, n);
	h->target[n] = '\0';
}

static uint16_t parse_status(const uint8_t *v, size_t n)
{
	if (n != 3)
		return 0;
	for (size_t i = 0; i < 3; i++)
		if (v[i] < '0' || v[i] > '9')
			return 0;
	uint16_t s = (uint16_t)((v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0'));

	return s >= 100 && s <= 599 ? s : 0;
}

/* gRPC status codes are 0..16; anything else is not one */
static void set_grpc_status(struct h2_head *h, const uint8_t *v, size_t n)
{
	unsigned c = 0;

	if (!n || n > 2)
		return;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return;
		c = c * 10 + (v[i] - '0');
	}
	if (c > 16)
		return;
	h->has_grpc_status = true;
	h->grpc_status = (uint8_t)c;
}

/* W3C: several tracestate fields are one list, joined with commas; a list
 * that does not fit is dropped whole, never cut. */
static void join_tracestate(struct h2_head *h, const uint8_t *v, size_t n)
{
	size_t have = strlen(h->tracestate), sep = have ? 1 : 0;

	if (h->tracestate_full || !n)
		return;
	if (have + sep + n >= sizeof(h->tracestate) || memchr(v, 0, n)) {
		h->tracestate_full = true;
		h->tracestate[0] = '\0';
		return;
	}
	if (sep)
		h->tracestate[have++] = ',';
	memcpy(h->tracestate + have, v, n);
	h->tracestate[have + n] = '\0';
}

void h2_head_field(const uint8_t *name, size_t nlen, const uint8_t *v, size_t n, void *ctx)
{
	struct h2_head *h = ctx;

	if (is(name, nlen, ":method"))
		copy_whole(h->method, sizeof(h->method), v, n);
	else if (is(name, nlen, ":path"))
		set_path(h, v, n);
	else if (is(name, nlen, ":authority"))
		copy_whole(h->host, sizeof(h->host), v, n);
	else if (is(name, nlen, ":status"))
		h->status = parse_status(v, n);
	else if (is(name, nlen, "content-type"))
		h->grpc = n >= 16 && !memcmp(v, "application/grpc", 16) &&
			  (n == 16 || v[16] == '+' || v[16] == ';');
	else if (is(name, nlen, "grpc-status"))
		set_grpc_status(h, v, n);
	else if (is(name, nlen, "traceparent")) {
		if (!h->n_traceparent++)
			copy_whole(h->traceparent, sizeof(h->traceparent), v, n);
	} else if (is(name, nlen, "tracestate"))
		join_tracestate(h, v, n);
	else if (is(name, nlen, "user-agent"))
		copy_whole(h->user_agent, sizeof(h->user_agent), v,
			   n < sizeof(h->user_agent) ? n : sizeof(h->user_agent) - 1);
	else if (is(name, nlen, "host") && !h->host[0])
		copy_whole(h->host, sizeof(h->host), v, n); /* RFC 9113 8.3.1: :authority wins */
}

void h2_head_request(const struct h2_head *h, bool whole, struct obs *o)
{
	o->proto = OBS_PROTO_H2;
	o->parse = whole && h->method[0] && h->has_path ? OBS_PARSE_OK : OBS_PARSE_CUT;
	memcpy(o->method, h->method, sizeof(o->method));
	memcpy(o->target, h->target, sizeof(o->target));
	o->target_truncated = h->target_truncated;
	o->bodiless_response = !strcmp(h->method, "HEAD");
	memcpy(o->host, h->host, sizeof(o->host));
	memcpy(o->query, h->query, sizeof(o->query));
	memcpy(o->user_agent, h->user_agent, sizeof(o->user_agent));
	o->version = 20;
	/* W3C: with several traceparent fields, none is valid; a block decoded
	 * only in part may have lost a second one */
	if (h->n_traceparent == 1 && whole)
		memcpy(o->traceparent, h->traceparent, sizeof(o->traceparent));
	if (whole)
		memcpy(o->tracestate, h->tracestate, sizeof(o->tracestate));
	o->rpc = h->grpc ? OBS_RPC_GRPC : OBS_RPC_NONE;
	o->desync = !whole;
}

void h2_head_response(const struct h2_head *h, bool whole, struct obs *o)
{
	o->proto = OBS_PROTO_H2;
	o->parse = whole && h->status ? OBS_PARSE_OK : OBS_PARSE_CUT;
	o->status = h->status;
	o->version = 20;
	o->body = OBS_BODY_FRAMED; /* END_STREAM ends it */
	o->has_grpc_status = h->has_grpc_status;
	o->grpc_status = h->grpc_status;
	o->desync |= !whole;
}
