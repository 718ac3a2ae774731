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
 * starts with three uppercase letters, for an extension method). A response
 * head is scanned in its ring record, four words or a line end per bpf_loop
 * call; a request only when its segment is longer than its record and its
 * head goes on past it, for its trace context (http1_ctx_search).
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
	/* where the value of the last Content-Length (Transfer-Encoding)
	 * line starts, 0 = none: values are read once the loop is done, so
	 * that the loop's body, which the verifier walks again and again, stays
	 * small */
	__u32 cl_at, te_at;
};

/* Header names and values are read a word past an offset: a response
 * record is reserved this many bytes past its head class, and the search
 * window as much past its size. */
#define HTTP1_SLACK 8
#define HTTP1_RESP_SHORT 256 /* the first class a response head is copied in */
#define HTTP1_WIN 512	     /* bytes of a request segment loaded at once by the context search */

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

/* Capture's per-CPU scratch: the states of the scans and the search's
 * window. Heads themselves are loaded straight into their ring records. */
struct http1_scratch {
	struct http1_scan st;
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
#define W_CONTENT_ 0x2d746e65746e6f63ULL /* "content-" */
#define W_LENGTH 0x003a6874676e656cULL	 /* "length:" (7 bytes) */
#define W_TRANSFER 0x726566736e617274ULL /* "transfer" */
#define W_ENCODIN 0x6e69646f636e652dULL	 /* "-encodin" */
#define W_G 0x3a67U			 /* "g:" */
#define W_CHUNKED 0x0064656b6e756863ULL	 /* "chunked" (7 bytes) */
#define W_TRACEPAR 0x7261706563617274ULL /* "tracepar" */
#define W_ENT 0x3a746e65U		 /* "ent:" */
#define W_TRACESTA 0x6174736563617274ULL /* "tracesta" */
#define W_TE 0x3a6574U			 /* "te:" (3 bytes) */
#define BYTES7 0x00ffffffffffffffULL

/* 1 when a < b, else 0, without a branch: the verifier walks one path
 * where a compare would fork it (the digit loop below forked at every
 * digit and was half of the programs' instructions processed). */
static __always_inline __u64 http1_lt(__u64 a, __u64 b)
{
	__u64 d = a - b;

	barrier_var(d);
	return d >> 63;
}

/* Content-Length's digits (at most 18), after up to 8 spaces, from q on;
 * -1 when there are none. Loops, not unrolled: unrolled, clang loads every
 * byte first and spills them (the stack it took with the scan's callback
 * went past 512 bytes). A digit is taken without a branch and the loop
 * stops at the first byte that is not one: with a branch per test, the
 * verifier walked every combination and the digits were half of the
 * programs' instructions processed. */
static __always_inline __s64 http1_parse_length(const char *h, __u32 mask, __u32 q, __u32 n)
{
	__u64 v = 0, run = 1, any = 0;

#pragma clang loop unroll(disable)
	for (int k = 0; k < 8; k++)
		q += http1_lt(q, n) & http1_lt((__u8)(h[q & mask] ^ ' '), 1);
#pragma clang loop unroll(disable)
	for (int k = 0; k < 18; k++) {
		__u64 d = (__u8)(h[(q + k) & mask] - '0');

		run &= http1_lt(q + k, n) & http1_lt(d, 10);
		v = v * (1 + 9 * run) + d * run;
		any |= run;
		if (!run)
			break;
	}
	return any ? (__s64)v : -1;
}

/* Does the header value from q on (up to its line end) name chunked? */
static __always_inline bool http1_value_chunked(const char *h, __u32 mask, __u32 q, __u32 n)
{
#pragma unroll
	for (int k = 0; k < 32; k++) {
		if (q + k + 7 > n || h[(q + k) & mask] == '\r')
			return false;
		if (((http1_load8(h, q + k, mask) | LOWER8) & BYTES7) == W_CHUNKED)
			return true;
	}
	return false;
}

/* A line ends at p: the head ends here, or the next line may be a header
 * that frames the body. Returns true when the head ended. */
static __always_inline bool http1_on_newline(const char *h, __u32 mask, struct http1_scan *st,
					     __u32 p)
{
	__u64 w1, w2;

	if (p >= 3 && (__u32)http1_load8(h, p - 3, mask) == 0x0a0d0a0d) { /* "\r\n\r\n" */
		st->hdr_end = p + 1;
		return true;
	}
	if (p + 20 > st->n)
		return false;
	w1 = http1_load8(h, p + 1, mask) | LOWER8;
	w2 = http1_load8(h, p + 9, mask) | LOWER8;
	if (w1 == W_CONTENT_ && (w2 & BYTES7) == W_LENGTH)
		st->cl_at = p + 16;
	else if (w1 == W_TRANSFER && w2 == W_ENCODIN &&
		 (((__u16)http1_load8(h, p + 17, mask)) | 0x0020) == W_G)
		st->te_at = p + 19;
	return false;
}

/* What a bpf_loop callback of the scan gets: the head in its ring record
 * and the scratch; the context search the segment instead of the head. */
struct http1_loop_ctx {
	const char *h;
	struct http1_scratch *sc;
};

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

/* Where the first newline of the 32 bytes from pos is, counted from pos,
 * or 32 when there is none: the two halves' answers combined without a
 * branch. */
static __always_inline __u32 http1_first_newline32(const char *h, __u32 mask, __u32 pos)
{
	__u32 a = http1_first_newline(h, mask, pos);
	__u32 b = http1_first_newline(h, mask, pos + 16);
	__u64 in_a = http1_lt(a, 16);

	return (__u32)(in_a * a + (1 - in_a) * (16 + b));
}

/* One step of the scan of a head of mask + 1 bytes from st.pos: 32 bytes
 * without a newline cost four loads and a few ALU operations and move on;
 * else the step moves past the first newline, which is looked at. A step
 * costs about as much as 50 instructions do (the loop's call), so it takes
 * as many bytes as a typical header line has. Unrolled for each byte of a
 * word, or with a path per word, the callback was several times its size
 * and most of the programs' load time. */
static __always_inline long http1_scan_one(const char *h, __u32 mask, struct http1_scan *st)
{
	__u32 pos = st->pos;

	if (pos >= st->n || pos > mask)
		return 1;
	pos += http1_first_newline32(h, mask, pos);
	if (pos >= st->n)
		return 1;
	if (pos - st->pos == 32) {
		st->pos = pos;
		return 0;
	}
	st->pos = pos + 1;
	return http1_on_newline(h, mask, st, pos);
}

/* A scan callback per head class: the mask must be known to the verifier
 * to bound each read in the record. The head comes through the stack: no
 * lookup per word. */
static long http1_scan_step_short(__u32 i, void *ctx)
{
	struct http1_loop_ctx *x = ctx;

	(void)i;
	return http1_scan_one(x->h, HTTP1_RESP_SHORT - 1, &x->sc->st);
}

static long http1_scan_step_full(__u32 i, void *ctx)
{
	struct http1_loop_ctx *x = ctx;

	(void)i;
	return http1_scan_one(x->h, HTTP_SCAN_MAX - 1, &x->sc->st);
}

/* Scan the response head h (n of its bytes, in a buffer of class bytes and
 * HTTP1_SLACK after them) for the framing of its body. */
static __always_inline void http1_scan_head(const char *h, __u32 n, __u32 class,
					    struct http1_scratch *sc)
{
	struct http1_loop_ctx x = {.h = h, .sc = sc};

	__builtin_memset(&sc->st, 0, sizeof(sc->st));
	sc->st.n = n;
	sc->st.cl = -1;
	/* "HTTP/1.x NNN" is 12 bytes: the status line's end is past them */
	sc->st.pos = 12;
	if (class == HTTP1_RESP_SHORT)
		bpf_loop(HTTP1_RESP_SHORT, http1_scan_step_short, &x, 0); /* >= 1 byte per step */
	else
		bpf_loop(HTTP_SCAN_MAX, http1_scan_step_full, &x, 0);
	if (sc->st.cl_at)
		sc->st.cl = http1_parse_length(h, class - 1, sc->st.cl_at, n);
	if (sc->st.te_at)
		sc->st.chunked = http1_value_chunked(h, class - 1, sc->st.te_at, n);
}

/* Does a response copied in its first HTTP1_RESP_SHORT bytes give the
 * agent all it reads of a segment of len bytes? Yes when its head ended
 * there and its framing says the rest of the segment is its body: the
 * agent then reads no further (another response pipelined after it, or a
 * body delimited by the close, need the longer copy). */
static __always_inline bool http1_short_copy_enough(const struct http1_scratch *sc, __u32 len)
{
	if (len <= HTTP1_RESP_SHORT)
		return true;
	if (!sc->st.hdr_end)
		return false;
	if (sc->st.cl >= 0)
		return sc->st.hdr_end + sc->st.cl >= len;
	return sc->st.chunked;
}

/* Load the window of the context search from the segment's offset at on. */
static __always_inline int http1_ctx_load(struct http1_ctx_loop *x, __u32 at)
{
	struct http1_ctx_scan *cs = &x->sc->cs;
	__u32 n = cs->lim - at;

	if (n > HTTP1_WIN)
		n = HTTP1_WIN;
	/* 1..HTTP1_WIN for every verifier (see load_head in http.bpf.c) */
	barrier_var(n);
	n = ((n - 1) & (HTTP1_WIN - 1)) + 1;
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

/* Does the segment (len payload bytes from off) end the last chunk? */
static __always_inline bool http1_ends_chunked(struct __sk_buff *skb, __u32 off, __u32 len)
{
	char t[5];

	if (len < 5 || bpf_skb_load_bytes(skb, off + len - 5, t, 5))
		return false;
	return t[0] == '0' && t[1] == '\r' && t[2] == '\n' && t[3] == '\r' && t[4] == '\n';
}

/* The framing of the response whose head was scanned into sc (a segment
 * of len payload bytes from off): c says what is still to come; true when
 * the whole response was in this segment. */
static __always_inline __u8 http1_response_framing(struct __sk_buff *skb, __u32 off, __u32 len,
						   const struct http1_scratch *sc,
						   struct http_conn *c)
{
	__u8 complete = 0;

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
