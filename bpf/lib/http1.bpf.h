/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* http1.bpf.h: the kernel side of HTTP/1.x, the protocol's part of capture
 * (http.bpf.c): which segment heads start a request or a response, the
 * framing of a response (Content-Length or chunked) scanned from its head,
 * when a body segment brings the response's last byte, and the status code
 * read for outlier detection. The agent's side of the same protocol is
 * agent/trace/proto_http1.c; what it parses is not parsed here.
 *
 * Only segment heads are looked at: a segment that does not start with an
 * HTTP method or "HTTP/1." costs one 8-byte load (and one more when it
 * starts with three uppercase letters, for an extension method). Only a response head is
 * scanned, two words or a line end per bpf_loop call.
 */
#ifndef BPFMESH_HTTP1_BPF_H
#define BPFMESH_HTTP1_BPF_H

#include "http.h"

static __always_inline bool http1_is_upper(__u8 c) { return (__u8)(c - 'A') < 26; }

#define HTTP1_EXT_HEAD 24 /* 16 letters, a space and "http" fit */

/* An extension method (RFC 9110 allows any token; PURGE, PROPFIND, MKCOL,
 * ...): 3-16 uppercase letters, a space, and a request-target that starts
 * with '/', '*' or "http" (origin, asterisk, absolute form). Only a segment
 * whose first three bytes are uppercase letters, and not a known method,
 * gets here, so other traffic pays three compares; this one loads the head
 * again, HTTP1_EXT_HEAD bytes at most. "PRI *" is the HTTP/2 preface. */
static __always_inline bool http1_is_ext_request(struct __sk_buff *skb, __u32 off, __u32 len,
						 __u64 w)
{
	char b[32] = {};
	__u32 n = len < HTTP1_EXT_HEAD ? len : HTTP1_EXT_HEAD, i = 0;
	__u8 c;

	if (!http1_is_upper(w) || !http1_is_upper(w >> 8) || !http1_is_upper(w >> 16))
		return false;
	if ((__u32)w == 0x20495250) /* "PRI " */
		return false;
		/* a method that ends inside the word is judged there, unless its
		 * target may be "http..." (more bytes): EHLO, AUTH, ... load nothing */
#pragma unroll
	for (int k = 3; k < 7; k++) {
		if (i)
			continue;
		c = w >> (8 * k);
		if (c == ' ')
			i = k;
		else if (!http1_is_upper(c))
			return false;
	}
	if (i) {
		c = w >> (8 * (i + 1));
		if (c == '/' || c == '*')
			return true;
		if (c != 'h')
			return false;
		i = 0;
	}
	if (n < 8 || bpf_skb_load_bytes(skb, off, b, n))
		return false;
		/* bytes past n stay 0, which ends the method as no letter */
#pragma unroll
	for (int k = 3; k < 17; k++) {
		if (i)
			continue;
		if (b[k] == ' ')
			i = k;
		else if (!http1_is_upper(b[k]))
			return false;
	}
	if (!i || i + 2 > n)
		return false;
	c = b[(i + 1) & 31];
	if (c == '/' || c == '*')
		return true;
	return i + 5 <= n && c == 'h' && b[(i + 2) & 31] == 't' && b[(i + 3) & 31] == 't' &&
	       b[(i + 4) & 31] == 'p';
}

/* "GET ", "POST", "PUT ", "DELE", "HEAD", "OPTI", "PATC", "CONN", "TRAC" as
 * little-endian words, then the byte after the method must be a space; any
 * other method by the rule above. w: the segment's first 8 bytes (len >= 8
 * payload bytes from off). */
static __always_inline bool http1_is_request(struct __sk_buff *skb, __u32 off, __u32 len, __u64 w)
{
	__u32 lo = (__u32)w;
	__u8 b4 = w >> 32, b5 = w >> 40, b6 = w >> 48, b7 = w >> 56;

	switch (lo) {
	case 0x20544547: /* "GET " */
	case 0x20545550: /* "PUT " */
		return true;
	case 0x54534f50: /* "POST" */
	case 0x44414548: /* "HEAD" */
		if (b4 == ' ')
			return true;
		break;
	case 0x43544150: /* "PATC" */
	case 0x43415254: /* "TRAC" */
		if (b5 == ' ')
			return true;
		break;
	case 0x454c4544: /* "DELE" */
		if (b6 == ' ')
			return true;
		break;
	case 0x4954504f: /* "OPTI" */
	case 0x4e4e4f43: /* "CONN" */
		if (b7 == 'S' || b7 == 'T')
			return true;
		break;
	}
	return http1_is_ext_request(skb, off, len, w);
}

static __always_inline bool http1_is_response(__u64 w)
{
	/* "HTTP/1." */
	return (w & 0x00ffffffffffffffULL) == 0x002e312f50545448ULL;
}

/* What the scan of one response head found. It lives in a map value, not
 * on the stack: the verifier then treats every field as unknown, so the
 * bpf_loop callback converges at once instead of being explored value by
 * value. */
struct http1_scan {
	__u32 n;       /* bytes in the head buffer */
	__u32 hdr_end; /* offset after the first "\r\n\r\n", 0 = not found */
	__s64 cl;      /* Content-Length, -1 = none */
	__u32 chunked; /* Transfer-Encoding names chunked */
	__u32 pos;     /* where the scan goes on */
};

#define HTTP1_SLACK 32 /* header names and values are read a word past an offset */

/* Capture's per-CPU scratch: the record being built, its head filled
 * straight from the segment, and the scan over that head, in one map value
 * so that the head is scanned where it will be sent from. */
struct http1_scratch {
	struct http1_scan st;
	struct http_event ev;
	char slack[HTTP1_SLACK];
};

/* Eight head bytes from off on (little-endian word); the slack keeps a read
 * past the last offset inside the map value. */
static __always_inline __u64 http1_load8(const struct http1_scratch *sc, __u32 off)
{
	__u64 w;

	__builtin_memcpy(&w, &sc->ev.head[off & (HTTP_SCAN_MAX - 1)], 8);
	return w;
}

#define LOWER8 0x2020202020202020ULL	 /* ORed in: ASCII letters to lower case */
#define W_CONTENT_ 0x2d746e65746e6f63ULL /* "content-" */
#define W_LENGTH 0x003a6874676e656cULL	 /* "length:" (7 bytes) */
#define W_TRANSFER 0x726566736e617274ULL /* "transfer" */
#define W_ENCODIN 0x6e69646f636e652dULL	 /* "-encodin" */
#define W_G 0x3a67U			 /* "g:" */
#define W_CHUNKED 0x0064656b6e756863ULL	 /* "chunked" (7 bytes) */
#define BYTES7 0x00ffffffffffffffULL

/* Content-Length's digits, after optional spaces, from q on. */
static __always_inline __s64 http1_parse_length(const struct http1_scratch *sc, __u32 q, __u32 n)
{
	__s64 v = -1;

#pragma unroll
	for (int k = 0; k < 24; k++) {
		char c;

		if (q + k >= n)
			break;
		c = sc->ev.head[(q + k) & (HTTP_SCAN_MAX - 1)];
		if (c >= '0' && c <= '9')
			v = (v < 0 ? 0 : v) * 10 + (c - '0');
		else if (c != ' ' || v >= 0)
			break;
	}
	return v;
}

/* Does the header value from q on (up to its line end) name chunked? */
static __always_inline bool http1_value_chunked(const struct http1_scratch *sc, __u32 q, __u32 n)
{
#pragma unroll
	for (int k = 0; k < 32; k++) {
		if (q + k + 7 > n || sc->ev.head[(q + k) & (HTTP_SCAN_MAX - 1)] == '\r')
			return false;
		if (((http1_load8(sc, q + k) | LOWER8) & BYTES7) == W_CHUNKED)
			return true;
	}
	return false;
}

/* A line ends at p: the head ends here, or the next line may be a header
 * that frames the body. Returns true when the head ended. */
static __always_inline bool http1_on_newline(struct http1_scratch *sc, __u32 p)
{
	struct http1_scan *st = &sc->st;
	__u32 n = st->n;
	__u64 w1, w2;

	if (p >= 3 && (__u32)http1_load8(sc, p - 3) == 0x0a0d0a0d) { /* "\r\n\r\n" */
		st->hdr_end = p + 1;
		return true;
	}
	if (p + 20 > n)
		return false;
	w1 = http1_load8(sc, p + 1) | LOWER8;
	w2 = http1_load8(sc, p + 9) | LOWER8;
	if (w1 == W_CONTENT_ && (w2 & BYTES7) == W_LENGTH)
		st->cl = http1_parse_length(sc, p + 16, n);
	else if (w1 == W_TRANSFER && w2 == W_ENCODIN &&
		 (((__u16)http1_load8(sc, p + 17)) | 0x0020) == W_G &&
		 http1_value_chunked(sc, p + 19, n))
		st->chunked = 1;
	return false;
}

struct http1_scan_ctx {
	struct http1_scratch *sc;
};

/* A byte 0x80 in each byte of w that is '\n' (and maybe above the first
 * one: a borrow only runs upwards, so the lowest bit set is exact). */
static __always_inline __u64 http1_newlines(__u64 w)
{
	__u64 x = w ^ 0x0a0a0a0a0a0a0a0aULL; /* a zero byte where w has '\n' */

	return (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
}

/* One step of the scan from st.pos: two words without a newline cost two
 * loads and a few ALU operations and move on by 16 bytes; else the step
 * moves past the first newline, which is looked at. Which word holds it is
 * computed, not branched on: one path into http1_on_newline keeps it
 * inlined (and verified) once. Unrolled for each byte of a word, or with a
 * path per word, the callback was several times its size and most of the
 * programs' load time. */
static long http1_scan_step(__u32 i, void *ctx)
{
	/* the map value comes through the stack: no lookup per word */
	struct http1_scratch *sc = ((struct http1_scan_ctx *)ctx)->sc;
	__u32 pos = sc->st.pos, b;
	__u64 m0, m1, m, nz, second;

	(void)i;
	if (pos >= sc->st.n || pos >= HTTP_SCAN_MAX)
		return 1;
	m0 = http1_newlines(http1_load8(sc, pos));
	m1 = http1_newlines(http1_load8(sc, pos + 8));
	if (!(m0 | m1)) {
		sc->st.pos = pos + 16;
		return 0;
	}
	/* second = 1 when the first word has none; the barrier keeps clang
	 * from turning the sign bit back into a compare and a branch */
	nz = m0 | -m0;
	barrier_var(nz);
	second = (nz >> 63) ^ 1;
	m = m0 | (m1 & -second);
	/* m's lowest bit is 0x80 << 8b for the newline at byte b; the
	 * multiply puts b in the top byte (byte 7 - b of the constant is b) */
	b = (((m & -m) >> 7) * 0x0001020304050607ULL) >> 56;
	pos += 8 * (__u32)second + b;
	if (pos >= sc->st.n)
		return 1;
	sc->st.pos = pos + 1;
	return http1_on_newline(sc, pos);
}

/* Does the segment (len payload bytes from off) end the last chunk? */
static __always_inline bool http1_ends_chunked(struct __sk_buff *skb, __u32 off, __u32 len)
{
	char t[5];

	if (len < 5 || bpf_skb_load_bytes(skb, off + len - 5, t, 5))
		return false;
	return t[0] == '0' && t[1] == '\r' && t[2] == '\n' && t[3] == '\r' && t[4] == '\n';
}

/* The framing of the response whose head is in sc (a segment of len payload
 * bytes from off): c says what is still to come; true when the whole
 * response was in this segment. */
static __always_inline __u8 http1_response_framing(struct __sk_buff *skb, __u32 off, __u32 len,
						   struct http1_scratch *sc, struct http_conn *c)
{
	struct http1_scan_ctx ctx;
	__u8 complete = 0;

	ctx.sc = sc;
	/* "HTTP/1.x NNN" is 12 bytes: the status line's end is past them */
	sc->st.pos = 12;
	bpf_loop(HTTP_SCAN_MAX, http1_scan_step, &ctx, 0); /* >= 1 byte per step */
	if (sc->st.hdr_end && sc->st.cl >= 0) {
		c->resp_left = sc->st.cl - (__s64)(len - sc->st.hdr_end);
		if (c->resp_left <= 0)
			complete = 1;
		else
			c->resp_mode = 1;
	} else if (sc->st.hdr_end && sc->st.chunked) {
		if (http1_ends_chunked(skb, off, len))
			complete = 1;
		else
			c->resp_mode = 2;
	}
	return complete;
}

/* A body segment (len payload bytes from off) of the response in flight on
 * c: true when it brings the response's last byte. */
static __always_inline bool http1_body_ends(struct __sk_buff *skb, __u32 off, __u32 len,
					    struct http_conn *c)
{
	if (c->resp_mode == 1) {
		c->resp_left -= len;
		return c->resp_left <= 0;
	}
	return c->resp_mode == 2 && http1_ends_chunked(skb, off, len);
}

/* The status code of a response head of at least 12 bytes ("HTTP/1.x NNN"),
 * 100..599; 0 when it is not three digits from 1xx to 5xx. */
static __always_inline __u32 http1_status(const char *head)
{
	if (head[9] < '1' || head[9] > '5' || head[10] < '0' || head[10] > '9' || head[11] < '0' ||
	    head[11] > '9')
		return 0;
	return (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
}

#endif
