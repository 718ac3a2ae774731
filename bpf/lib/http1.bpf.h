/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* http1.bpf.h: the kernel side of HTTP/1.x, the protocol's part of capture
 * (http.bpf.c): which segment heads start a request or a response, the
 * status code read for outlier detection, and the trace context searched
 * for in a request head longer than its record. The agent's side of the
 * same protocol is agent/trace/proto_http1.c; what it parses is not parsed
 * here, a response's framing included: the kernel follows a response's
 * bytes by their TCP sequence numbers and stamps when they pass
 * (http.bpf.c), the agent knows from the head how many there must be.
 *
 * Only segment heads are looked at: a segment that does not start with an
 * HTTP method or "HTTP/1." costs one load of its first bytes (and one more when it
 * starts with three uppercase letters, for an extension method). A request
 * is read further only when its segment is longer than its record and its
 * head goes on past it, for its trace context (http1_ctx_search).
 */
#ifndef BPFMESH_HTTP1_BPF_H
#define BPFMESH_HTTP1_BPF_H

#include "http.h"
#include "lib/len.bpf.h"

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

/* Header names are read a word past an offset: the search window is
 * this many bytes past its size. */
#define HTTP1_SLACK 8
#define HTTP1_WIN 512 /* bytes of a request segment loaded at once by the context search */

/* The context search over a long request segment (http1_ctx_search): where
 * it is, the window of the segment it has loaded, and the lines it found. */
struct http1_ctx_scan {
	__u32 pos, lim;	     /* next offset in the segment; where the search stops */
	__u32 win, win_len;  /* the window holds win_len bytes from offset win */
	__u32 prev_lf;	     /* the last newline's offset */
	__u32 line_start;    /* pos starts a line */
	__u32 pend, pend_at; /* the line from pend_at is a traceparent (1) or tracestate (2) */
	__u32 tp_at, tp_len, ts_at,
	    ts_len; /* the first of each that ends past the record's bytes */
	__u8 n_tp, n_ts, ended, pad;
};

/* Capture's per-CPU scratch: the context search's state and window.
 * Heads themselves are loaded straight into their ring records. */
struct http1_scratch {
	struct http1_ctx_scan cs;
	char win[HTTP1_WIN + HTTP1_SLACK];
};

/* Eight bytes from off on (little-endian word) of a buffer of mask + 1
 * bytes (a power of two) with HTTP1_SLACK bytes after it. */
static __always_inline __u64 http1_load8(const char *h, __u32 off, __u32 mask)
{
	__u64 w;

	__builtin_memcpy(&w, &h[off & mask], 8);
	return w;
}

#define LOWER8 0x2020202020202020ULL	 /* ORed in: ASCII letters to lower case */
#define W_TRACEPAR 0x7261706563617274ULL /* "tracepar" */
#define W_ENT 0x3a746e65U		 /* "ent:" */
#define W_TRACESTA 0x6174736563617274ULL /* "tracesta" */
#define W_TE 0x3a6574U			 /* "te:" (3 bytes) */

/* What a bpf_loop callback of the context search gets. */
struct http1_ctx_loop {
	struct __sk_buff *skb;
	struct http1_scratch *sc;
	__u32 off; /* the segment's payload offset in skb */
};

/* A byte 0x80 in each byte of w that is '\n' (and maybe above the first
 * one: a borrow only runs upwards, so the lowest bit set is exact). */
static __always_inline __u64 http1_newlines(__u64 w)
{
	__u64 x = w ^ 0x0a0a0a0a0a0a0a0aULL; /* a zero byte where w has '\n' */

	return (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
}

/* Where the first newline of the 16 bytes from pos is, counted from pos,
 * or 16 when there is none. Which word holds it is computed, not branched
 * on: one path into what follows keeps that inlined (and verified) once. */
static __always_inline __u32 http1_first_newline(const char *h, __u32 mask, __u32 pos)
{
	__u64 m0 = http1_newlines(http1_load8(h, pos, mask));
	__u64 m1 = http1_newlines(http1_load8(h, pos + 8, mask));
	__u64 m, nz, second;

	if (!(m0 | m1))
		return 16;
	/* second = 1 when the first word has none; the barrier keeps clang
	 * from turning the sign bit back into a compare and a branch */
	nz = m0 | -m0;
	barrier_var(nz);
	second = (nz >> 63) ^ 1;
	m = m0 | (m1 & -second);
	/* m's lowest bit is 0x80 << 8b for the newline at byte b; the
	 * multiply puts b in the top byte (byte 7 - b of the constant is b) */
	return 8 * (__u32)second + (__u32)((((m & -m) >> 7) * 0x0001020304050607ULL) >> 56);
}

/* Load the window of the context search from the segment's offset at on. */
static __always_inline int http1_ctx_load(struct http1_ctx_loop *x, __u32 at)
{
	struct http1_ctx_scan *cs = &x->sc->cs;
	__u32 n = cs->lim - at;

	if (n > HTTP1_WIN)
		n = HTTP1_WIN;
	n = len_1_to(n, HTTP1_WIN);
	if (bpf_skb_load_bytes(x->skb, x->off + at, x->sc->win, n))
		return -1;
	cs->win = at;
	cs->win_len = n;
	return 0;
}

/* A line that starts at pos (rel in the window): a traceparent or
 * tracestate line? Names in any case; a cut line never ends, so a match
 * read past the segment's end is never kept. */
static __always_inline void http1_ctx_name(struct http1_ctx_scan *cs, const char *win, __u32 rel,
					   __u32 pos)
{
	__u64 w = http1_load8(win, rel, HTTP1_WIN - 1) | LOWER8;
	__u32 t = (__u32)http1_load8(win, rel + 8, HTTP1_WIN - 1) | 0x20202020;

	if (w == W_TRACEPAR && t == W_ENT)
		cs->pend = 1;
	else if (w == W_TRACESTA && (t & 0xffffff) == W_TE)
		cs->pend = 2;
	else
		return;
	cs->pend_at = pos;
}

/* A line ended at the newline q: keep it when it is a context line that
 * ends past the record's HTTP_HEAD_MAX bytes (the agent reads those). */
static __always_inline void http1_ctx_line(struct http1_ctx_scan *cs, __u32 q)
{
	__u32 len = q - cs->pend_at;

	if (!cs->pend || q < HTTP_HEAD_MAX)
		return;
	if (cs->pend == 1) {
		if (!cs->n_tp++) {
			cs->tp_at = cs->pend_at;
			cs->tp_len = len;
		}
	} else if (!cs->n_ts++) {
		cs->ts_at = cs->pend_at;
		cs->ts_len = len;
	}
}

/* One step of the context search: the line start at pos looked at, then
 * on to the next newline (16 bytes at a time), where the line ends, or the
 * head with a blank line. The window is reloaded when fewer than 32 of
 * its bytes are left ahead and the segment has more. */
static long http1_ctx_step(__u32 i, void *ctx)
{
	struct http1_ctx_loop *x = ctx;
	struct http1_ctx_scan *cs = &x->sc->cs;
	const char *win = x->sc->win;
	__u32 pos = cs->pos, end, rel, q;

	(void)i;
	if (pos >= cs->lim)
		return 1;
	end = cs->win + cs->win_len;
	if (pos + 32 > end && end < cs->lim) {
		if (http1_ctx_load(x, pos))
			return 1;
		end = cs->win + cs->win_len;
	}
	if (pos < cs->win)
		return 1;
	rel = pos - cs->win;
	if (cs->line_start) {
		cs->line_start = 0;
		http1_ctx_name(cs, win, rel, pos);
	}
	q = http1_first_newline(win, HTTP1_WIN - 1, rel);
	if (q == 16) {
		cs->pos = pos + 16;
		return 0;
	}
	q += pos;
	if (q >= end) { /* past the bytes loaded: the segment ends there */
		cs->pos = end;
		return 0;
	}
	/* an empty line ("\n" or "\r\n" right after a newline) ends the head */
	if (q == cs->prev_lf + 1 || (q == cs->prev_lf + 2 && q > cs->win &&
				     win[(q - 1 - cs->win) & (HTTP1_WIN - 1)] == '\r')) {
		cs->ended = 1;
		return 1;
	}
	http1_ctx_line(cs, q);
	cs->pend = 0;
	cs->prev_lf = q;
	cs->pos = q + 1;
	cs->line_start = 1;
	return 0;
}

/* Search a request segment (len payload bytes from off, longer than
 * HTTP_HEAD_MAX) for the traceparent and tracestate lines of its first
 * head that end past HTTP_HEAD_MAX, up to HTTP_CTX_SCAN bytes. The search
 * starts at the segment's start: the head may end within the record's
 * bytes, and what follows it then is a body or another request. Returns
 * whether the head ended within what was searched. */
static __always_inline bool http1_ctx_search(struct __sk_buff *skb, __u32 off, __u32 len,
					     struct http1_scratch *sc)
{
	struct http1_ctx_loop x = {.skb = skb, .sc = sc, .off = off};
	struct http1_ctx_scan *cs = &sc->cs;

	__builtin_memset(cs, 0, sizeof(*cs));
	cs->lim = len < HTTP_CTX_SCAN ? len : HTTP_CTX_SCAN;
	cs->prev_lf = (__u32)-8; /* no newline yet: none of the blank-line tests match */
	/* a step per line or per 16 bytes: a head of empty-ish lines takes one
	 * per 2 bytes */
	bpf_loop(HTTP_CTX_SCAN / 2 + HTTP_CTX_SCAN / 16, http1_ctx_step, &x, 0);
	return cs->ended;
}

/* The status code of a response head whose bytes 8..11 are " NNN" (as a
 * little-endian word), 100..599; 0 when it is not three digits from 1xx
 * to 5xx. */
static __always_inline __u32 http1_status_word(__u32 w)
{
	__u8 a = w >> 8, b = w >> 16, c = w >> 24;

	if ((__u8)w != ' ' || a < '1' || a > '5' || b < '0' || b > '9' || c < '0' || c > '9')
		return 0;
	return (a - '0') * 100 + (b - '0') * 10 + (c - '0');
}

/* The status code of a response head ("HTTP/1.x NNN", len bytes from
 * off), 0 when it has none: from w, its first 16 bytes, already loaded
 * when it has them; from the packet when it has 12 to 15. */
static __always_inline __u32 http1_status_head(struct __sk_buff *skb, __u32 off, __u32 len,
					       const __u64 w[2])
{
	__u32 sw;

	if (len >= 16) {
		__builtin_memcpy(&sw, (const char *)w + 8, 4);
		return http1_status_word(sw);
	}
	if (len < 12 || bpf_skb_load_bytes(skb, off + 8, &sw, 4))
		return 0;
	return http1_status_word(sw);
}

#endif
