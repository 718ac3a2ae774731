/* SPDX-License-Identifier: Apache-2.0 */
/* proto_http1_head.c: HTTP/1.x head prefixes (see proto_http1_head.h).
 * Strict where a wrong guess would mislabel a span (request line, status
 * line), lenient on header lines we do not use. */
#include <string.h>
#include <strings.h>

#include "trace/proto_http1_head.h"

static const char *const known_methods[] = {"GET",     "POST",	"PUT",	   "DELETE", "HEAD",
					    "OPTIONS", "PATCH", "CONNECT", "TRACE"};

/* An extension method (PURGE, PROPFIND, MKCOL, ...): 3-16 uppercase
 * letters, a space, then a target in origin, asterisk or absolute form. The
 * kernel (bpf/lib/http1.bpf.h) applies the same rule. */
static bool looks_like_other_method(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && i < 16 && p[i] >= 'A' && p[i] <= 'Z')
		i++;
	if (i < 3 || i + 1 >= n || p[i] != ' ' || (i == 3 && !memcmp(p, "PRI", 3)))
		return false; /* "PRI *" is the HTTP/2 preface */
	p += i + 1;
	n -= i + 1;
	return p[0] == '/' || p[0] == '*' || (n >= 4 && !memcmp(p, "http", 4));
}

bool http_looks_like_request(const char *p, size_t n)
{
	for (size_t i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++) {
		size_t len = strlen(known_methods[i]);

		if (n > len && !memcmp(p, known_methods[i], len) && p[len] == ' ')
			return true;
	}
	return looks_like_other_method(p, n);
}

bool http_looks_like_response(const char *p, size_t n)
{
	return n >= 7 && !memcmp(p, "HTTP/1.", 7);
}

/* RFC 9110 tchar, by table: a field name's every byte is one (a strchr()
 * per '-' of every name was 1.3% of the agent at 30k req/s) */
static const bool tchar_tab[256] = {
    ['!'] = true,	  ['#'] = true,		['$'] = true,	      ['%'] = true, ['&'] = true,
    ['\''] = true,	  ['*'] = true,		['+'] = true,	      ['-'] = true, ['.'] = true,
    ['^'] = true,	  ['_'] = true,		['`'] = true,	      ['|'] = true, ['~'] = true,
    ['0' ... '9'] = true, ['A' ... 'Z'] = true, ['a' ... 'z'] = true,
};

static bool is_tchar(unsigned char c) { return tchar_tab[c]; }

/* Visible characters; anything else ends a request-target. */
static bool is_target_char(unsigned char c) { return c > 0x20 && c < 0x7f; }

/* Copy up to len bytes into a HTTP_TARGET_MAX buffer; true when it all fit. */
static bool copy_part(char *dst, const char *src, size_t len)
{
	size_t n = len < HTTP_TARGET_MAX - 1 ? len : HTTP_TARGET_MAX - 1;

	memcpy(dst, src, n);
	dst[n] = '\0';
	return n == len;
}

/* The query after '?' at q, up to a '#' or the end of the target. */
static void split_query(struct http_request *r, const char *q, const char *end, bool cut)
{
	const char *f = memchr(q, '#', (size_t)(end - q));
	size_t qlen = (size_t)((f ? f : end) - q) - 1;

	r->query_truncated = !copy_part(r->query, q + 1, qlen) || (cut && !f);
}

/* Origin-form "/path?query". cut: the prefix ended inside the target, so the
 * last part seen (path or query) may continue. */
static void split_origin(struct http_request *r, const char *t, size_t len, bool cut)
{
	const char *q = memchr(t, '?', len), *f = memchr(t, '#', len);
	size_t plen = len;

	if (f && (!q || f < q))
		q = NULL; /* a '?' after a fragment mark is not a query */
	if (q)
		plen = (size_t)(q - t);
	else if (f)
		plen = (size_t)(f - t);
	r->path_truncated = !copy_part(r->path, t, plen) || (cut && !q && !f);
	if (q)
		split_query(r, q, t + len, cut);
}

static void split_target(struct http_request *r, const char *t, size_t len, bool cut)
{
	size_t i;

	if (len && t[0] == '/') {
		split_origin(r, t, len, cut);
		return;
	}
	/* absolute-form, as sent to proxies: keep the path of the URL */
	if ((len >= 7 && !strncasecmp(t, "http://", 7)) ||
	    (len >= 8 && !strncasecmp(t, "https://", 8))) {
		i = t[4] == ':' ? 7 : 8;
		while (i < len && t[i] != '/' && t[i] != '?' && t[i] != '#')
			i++;
		if (i == len && cut) {
			r->path_truncated = true; /* still inside the authority */
		} else if (i < len && t[i] == '/') {
			split_origin(r, t + i, len - i, cut);
		} else {
			/* "http://host" and "http://host?q" ask for "/" */
			strcpy(r->path, "/");
			if (i < len && t[i] == '?')
				split_query(r, t + i, t + len, cut);
		}
		return;
	}
	if (len == 1 && t[0] == '*' && !cut) {
		strcpy(r->path, "*");
		return;
	}
	/* authority-form (CONNECT host:port) has no path */
	r->path_truncated = cut;
}

struct hdr_out {
	int64_t *content_length;
	bool *chunked;
	bool *conn_close;
	struct http_request *req; /* NULL for a response */
	bool cl_invalid;
	bool tracestate_full; /* a tracestate line did not fit: none is kept */
	bool host_seen;
	bool ua_seen;
};

/* want: lowercase letters and '-'. A byte ORed with 0x20 is a lowercase
 * letter only when it is that letter in either case, and is '-' only when
 * it is '-' or CR: no name holds a CR (names are tchars), no value we
 * compare holds a '-'. So this is strncasecmp() without its call. */
static bool name_is(const char *name, size_t len, const char *want)
{
	size_t i;

	for (i = 0; i < len && want[i]; i++)
		if (((unsigned char)name[i] | 0x20) != (unsigned char)want[i])
			return false;
	return i == len && !want[i];
}

static void trim(const char **v, size_t *len)
{
	while (*len && (**v == ' ' || **v == '\t'))
		(*v)++, (*len)--;
	while (*len && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t'))
		(*len)--;
}

static void hdr_content_length(struct hdr_out *h, const char *v, size_t len)
{
	int64_t val = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9' || val > (INT64_MAX - 9) / 10)
			break;
		val = val * 10 + (v[i] - '0');
	}
	/* RFC 9112 6.3: an invalid or conflicting length makes the framing unknown */
	if (!len || i != len || (*h->content_length >= 0 && *h->content_length != val))
		h->cl_invalid = true;
	*h->content_length = h->cl_invalid ? -1 : val;
}

/* Walk a comma-separated list; return whether token appears (ci), and leave
 * the last element in *last. */
static bool list_has(const char *v, size_t len, const char *token, const char **last,
		     size_t *last_len)
{
	bool found = false;
	size_t i = 0;

	while (i <= len) {
		size_t s = i, elen;
		const char *e;

		while (i < len && v[i] != ',')
			i++;
		e = v + s;
		elen = i - s;
		trim(&e, &elen);
		if (elen) {
			found |= name_is(e, elen, token);
			*last = e;
			*last_len = elen;
		}
		i++;
	}
	return found;
}

/* A field value into a buffer of size bytes: cut to fit (cut), or left
 * empty when it does not fit. */
static void copy_value(char *dst, size_t size, const char *v, size_t len, bool cut)
{
	if (len >= size) {
		if (!cut) {
			dst[0] = '\0';
			return;
		}
		len = size - 1;
	}
	memcpy(dst, v, len);
	dst[len] = '\0';
}

/* Field lines of one name combine into one value, comma-joined (RFC 9110
 * 5.3); a list that does not fit is dropped whole, never cut. */
static void join_tracestate(struct hdr_out *h, const char *v, size_t len)
{
	char *ts = h->req->tracestate;
	size_t have = strlen(ts), sep = have && len ? 1 : 0;

	if (h->tracestate_full || !len)
		return;
	if (have + sep + len >= sizeof(h->req->tracestate)) {
		h->tracestate_full = true;
		ts[0] = '\0';
		return;
	}
	if (sep)
		ts[have++] = ',';
	memcpy(ts + have, v, len);
	ts[have + len] = '\0';
}

/* The field names read, told apart by length first: most lines of a head
 * (Date, Server, Content-Type, ...) are none of them, and most fail there.
 * Framing first (read in both directions), then those of requests only. */
enum hdr_name {
	HDR_OTHER,
	HDR_CONTENT_LENGTH,
	HDR_TRANSFER_ENCODING,
	HDR_CONNECTION, /* the last read in responses too */
	HDR_TRACEPARENT,
	HDR_TRACESTATE,
	HDR_HOST,
	HDR_USER_AGENT,
};

static enum hdr_name hdr_name_of(const char *l, size_t nlen)
{
	switch (nlen) {
	case 4:
		return name_is(l, nlen, "host") ? HDR_HOST : HDR_OTHER;
	case 10:
		if (name_is(l, nlen, "connection"))
			return HDR_CONNECTION;
		if (name_is(l, nlen, "tracestate"))
			return HDR_TRACESTATE;
		return name_is(l, nlen, "user-agent") ? HDR_USER_AGENT : HDR_OTHER;
	case 11:
		return name_is(l, nlen, "traceparent") ? HDR_TRACEPARENT : HDR_OTHER;
	case 14:
		return name_is(l, nlen, "content-length") ? HDR_CONTENT_LENGTH : HDR_OTHER;
	case 17:
		return name_is(l, nlen, "transfer-encoding") ? HDR_TRANSFER_ENCODING : HDR_OTHER;
	default:
		return HDR_OTHER;
	}
}

static void header_line(struct hdr_out *h, const char *l, size_t len)
{
	const char *v, *last = NULL;
	size_t nlen = 0, vlen, last_len = 0;
	enum hdr_name name;

	/* the name: tchars up to the first ':' (not a tchar) */
	while (nlen < len && is_tchar((unsigned char)l[nlen]))
		nlen++;
	if (!nlen || nlen == len || l[nlen] != ':')
		return; /* not a field line; nothing we use */
	name = hdr_name_of(l, nlen);
	if (name == HDR_OTHER || (!h->req && name > HDR_CONNECTION))
		return; /* a response's: framing only */
	v = l + nlen + 1;
	vlen = len - nlen - 1;
	trim(&v, &vlen);
	switch (name) {
	case HDR_CONTENT_LENGTH:
		hdr_content_length(h, v, vlen);
		break;
	case HDR_TRANSFER_ENCODING:
		list_has(v, vlen, "chunked", &last, &last_len);
		*h->chunked = last && name_is(last, last_len, "chunked");
		break;
	case HDR_CONNECTION:
		if (list_has(v, vlen, "close", &last, &last_len))
			*h->conn_close = true;
		break;
	case HDR_TRACEPARENT:
		/* W3C: a request with several traceparent headers has no valid
		 * one, so the count goes with the first */
		if (!h->req->n_traceparent++)
			copy_value(h->req->traceparent, sizeof(h->req->traceparent), v, vlen, true);
		break;
	case HDR_TRACESTATE:
		join_tracestate(h, v, vlen);
		break;
	case HDR_HOST:
		if (!h->host_seen) {
			h->host_seen = true;
			copy_value(h->req->host, sizeof(h->req->host), v, vlen, false);
		}
		break;
	case HDR_USER_AGENT:
		if (!h->ua_seen) {
			h->ua_seen = true;
			copy_value(h->req->user_agent, sizeof(h->req->user_agent), v, vlen, true);
		}
		break;
	case HDR_OTHER:
		break;
	}
}

/* Field lines from i on, up to the blank line. A line not ended by LF within
 * the prefix may be cut, so it is not read. */
static int parse_fields(const char *p, size_t n, size_t i, struct hdr_out *h, size_t *head_len)
{
	for (;;) {
		const char *lf = memchr(p + i, '\n', n - i);
		size_t e, le;

		if (!lf)
			return HTTP_PARSE_TRUNCATED;
		e = (size_t)(lf - p);
		le = e > i && p[e - 1] == '\r' ? e - 1 : e;
		if (le == i) {
			*head_len = e + 1;
			return HTTP_PARSE_OK;
		}
		/* obs-fold continues a previous field; none we read is folded in practice */
		if (p[i] != ' ' && p[i] != '\t')
			header_line(h, p + i, le - i);
		i = e + 1;
	}
}

/* "HTTP/1.x" at p+i: 1 when complete (version set), 0 when cut, -1 when not. */
static int parse_version(const char *p, size_t n, size_t i, int *version)
{
	size_t avail = n - i;

	if (memcmp(p + i, "HTTP/1.", avail < 7 ? avail : 7))
		return -1;
	if (avail < 8)
		return 0;
	if (p[i + 7] != '0' && p[i + 7] != '1')
		return -1;
	*version = p[i + 7] == '1' ? 11 : 10;
	return 1;
}

/* After the version at i: CRLF (or LF) ends the line. */
static int line_end(const char *p, size_t n, size_t *i)
{
	if (*i < n && p[*i] == '\r')
		(*i)++;
	if (*i == n)
		return HTTP_PARSE_TRUNCATED;
	if (p[*i] != '\n')
		return HTTP_PARSE_NOT_HTTP;
	(*i)++;
	return HTTP_PARSE_OK;
}

int http_parse_request(const char *p, size_t n, struct http_request *r)
{
	struct hdr_out h = {
	    &r->content_length, &r->chunked, &r->conn_close, r, false, false, false, false};
	size_t i = 0, ts;
	int rc;

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	while (i < n && i < HTTP_METHOD_MAX && is_tchar((unsigned char)p[i]))
		i++;
	if (i == n && n < HTTP_METHOD_MAX)
		return n ? HTTP_PARSE_TRUNCATED : HTTP_PARSE_NOT_HTTP;
	if (i == 0 || i >= HTTP_METHOD_MAX || p[i] != ' ')
		return HTTP_PARSE_NOT_HTTP;
	memcpy(r->method, p, i);
	ts = ++i;
	while (i < n && is_target_char((unsigned char)p[i]))
		i++;
	if (i == n) {
		split_target(r, p + ts, i - ts, true);
		return HTTP_PARSE_TRUNCATED;
	}
	/* one space, then the version: anything else (HTTP/0.9, junk) is not 1.x */
	if (i == ts || p[i] != ' ')
		return HTTP_PARSE_NOT_HTTP;
	split_target(r, p + ts, i - ts, false);
	i++;
	if (i == n)
		return HTTP_PARSE_TRUNCATED;
	rc = parse_version(p, n, i, &r->version);
	if (rc <= 0)
		return rc < 0 ? HTTP_PARSE_NOT_HTTP : HTTP_PARSE_TRUNCATED;
	i += 8;
	rc = line_end(p, n, &i);
	if (rc != HTTP_PARSE_OK)
		return rc;
	return parse_fields(p, n, i, &h, &r->head_len);
}

int http_parse_response(const char *p, size_t n, struct http_response *r)
{
	struct hdr_out h = {
	    &r->content_length, &r->chunked, &r->conn_close, NULL, false, false, false, false};
	unsigned status = 0;
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	if (!n)
		return HTTP_PARSE_NOT_HTTP;
	rc = parse_version(p, n, 0, &r->version);
	if (rc <= 0)
		return rc < 0 ? HTTP_PARSE_NOT_HTTP : HTTP_PARSE_TRUNCATED;
	if (n == 8)
		return HTTP_PARSE_TRUNCATED;
	if (p[8] != ' ')
		return HTTP_PARSE_NOT_HTTP;
	for (i = 9; i < 12 && i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return HTTP_PARSE_NOT_HTTP;
		status = status * 10 + (unsigned)(p[i] - '0');
	}
	if (i < 12)
		return HTTP_PARSE_TRUNCATED; /* cut inside the code: no status */
	if (status < 100 || status > 599)
		return HTTP_PARSE_NOT_HTTP;
	r->status = (uint16_t)status;
	if (i == n)
		return HTTP_PARSE_TRUNCATED;
	/* reason-phrase, possibly empty; some servers drop the space before CRLF */
	if (p[i] != ' ' && p[i] != '\r' && p[i] != '\n')
		return HTTP_PARSE_NOT_HTTP;
	while (i < n && p[i] != '\n')
		i++;
	if (i == n)
		return HTTP_PARSE_TRUNCATED;
	return parse_fields(p, n, i + 1, &h, &r->head_len);
}
