/* SPDX-License-Identifier: Apache-2.0 */
/* prometheus.c: text exposition 0.0.4 (prometheus.h).
 *
 * A scrape can hold hundreds of thousands of lines, so a series is kept
 * compact until prom_finish(): its label text (rendered and checked once, in
 * one arena shared by all series), its value, and for a histogram its
 * cumulative counts (another arena) and the pre-formatted le bounds (a cache
 * keyed by the bounds array). prom_finish() sorts families and series
 * records, sizes the output once and writes every line with memcpy: the 17
 * lines of a histogram series reuse one label text and the first line's
 * prefix. The text exists once, in the output, never per series. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus.h"

struct pbuf {
	char *s;
	size_t len, cap;
	bool failed;
};

/* Room for n more bytes and a NUL: where to write them, NULL on ENOMEM.
 * Callers write through the pointer and add to len themselves, so a span
 * is one capacity check and one memcpy, not a check per byte. */
static char *pb_reserve(struct pbuf *b, size_t n)
{
	if (b->failed)
		return NULL;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *ns;

		while (cap < b->len + n + 1)
			cap *= 2;
		ns = realloc(b->s, cap);
		if (!ns) {
			b->failed = true;
			return NULL;
		}
		b->s = ns;
		b->cap = cap;
	}
	return b->s + b->len;
}

static inline char *put(char *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static const char digits2[201] = "00010203040506070809"
				 "10111213141516171819"
				 "20212223242526272829"
				 "30313233343536373839"
				 "40414243444546474849"
				 "50515253545556575859"
				 "60616263646566676869"
				 "70717273747576777879"
				 "80818283848586878889"
				 "90919293949596979899";

/* v in decimal at p (at most 20 bytes): counts are most of a histogram's
 * numbers, and printf's format parsing costs more than the digits. */
static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	char *e = tmp + sizeof(tmp), *q = e;

	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;

		v /= 100;
		*--q = digits2[d + 1];
		*--q = digits2[d];
	}
	if (v >= 10) {
		*--q = digits2[v * 2 + 1];
		*--q = digits2[v * 2];
	} else {
		*--q = (char)('0' + v);
	}
	return put(p, q, (size_t)(e - q));
}

/* One series. The label text lives in w->keys at key (NUL-terminated, so
 * that it can be a sort key without copying); k points at it once the
 * arena stops moving, in prom_finish(). */
struct series {
	size_t key, keylen;
	const char *k;
	size_t seq;    /* insertion order, to sort stably */
	double value;  /* a sample's value, a histogram's sum */
	size_t counts; /* histogram: index in w->counts of nbounds + 1 cumulative counts */
	size_t bounds; /* histogram: index in w->bounds */
};

struct family {
	char *name;
	size_t namelen;
	char *help; /* escaped, NULL for none */
	size_t helplen;
	enum prom_type type;
	struct series *v;
	size_t n, cap;
};

/* Bucket bounds formatted once per distinct array: every label set of a
 * histogram family shares them, and formatting a double (snprintf, strtod,
 * localeconv) is the dearest thing a line would otherwise do. Keyed by
 * the values, not the pointer: a caller may reuse one array for other
 * bounds. */
#define LE_STRIDE 32 /* prom_format_double needs at most 25 */

struct bounds_fmt {
	size_t n;
	double *vals;	    /* n copied values */
	unsigned char *len; /* n + 1 lengths */
	char *le;	    /* n + 1 strings of LE_STRIDE, the last "+Inf" */
	size_t lemax;
};

struct prom_writer {
	struct family *fam;
	size_t nfam, capfam;
	struct family *cur;
	struct pbuf keys;
	uint64_t *counts;
	size_t ncounts, capcounts;
	struct bounds_fmt *bounds;
	size_t nbounds, capbounds, lastbounds;
	size_t seq;
	size_t dropped;
	bool failed; /* an allocation failed */
};

struct prom_writer *prom_writer_new(void) { return calloc(1, sizeof(struct prom_writer)); }

void prom_writer_free(struct prom_writer *w)
{
	size_t i;

	if (!w)
		return;
	for (i = 0; i < w->nfam; i++) {
		free(w->fam[i].v);
		free(w->fam[i].name);
		free(w->fam[i].help);
	}
	for (i = 0; i < w->nbounds; i++)
		free(w->bounds[i].vals);
	free(w->bounds);
	free(w->fam);
	free(w->keys.s);
	free(w->counts);
	free(w);
}

size_t prom_dropped(const struct prom_writer *w) { return w->dropped; }

/* Character classes of names and label values, one lookup per byte
 * (ranges are disjoint: -Woverride-init). NUL and bytes >= 0x80 are in none,
 * which ends a name and a plain run. */
enum {
	C_FIRST = 1,  /* [a-zA-Z_] */
	C_DIGIT = 2,  /* [0-9] */
	C_COLON = 4,  /* : */
	C_PLAIN = 8,  /* copied as is into a label value */
	C_HPLAIN = 16 /* copied as is into a HELP text */
};

#define C_PH (C_PLAIN | C_HPLAIN)

static const unsigned char cclass[256] = {
    [0x01 ... 0x09] = C_PH,	    [0x0b ... 0x21] = C_PH,	    ['"'] = C_HPLAIN,
    [0x23 ... 0x2f] = C_PH,	    ['0' ... '9'] = C_PH | C_DIGIT, [':'] = C_PH | C_COLON,
    [0x3b ... 0x40] = C_PH,	    ['A' ... 'Z'] = C_PH | C_FIRST, ['['] = C_PH,
    [']' ... '^'] = C_PH,	    ['_'] = C_PH | C_FIRST,	    ['`'] = C_PH,
    ['a' ... 'z'] = C_PH | C_FIRST, [0x7b ... 0x7f] = C_PH,
};

/* Length of a valid name, 0 for an invalid one. */
static size_t valid_name(const char *s, bool colon)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char first = C_FIRST | (colon ? C_COLON : 0), rest = first | C_DIGIT;

	if (!(cclass[*p] & first))
		return 0;
	for (p++; *p; p++)
		if (!(cclass[*p] & rest))
			return 0;
	return (size_t)(p - (const unsigned char *)s);
}

static size_t valid_label_name(const char *s)
{
	return s[0] == '_' && s[1] == '_' ? 0 : valid_name(s, false);
}

/* Length of the valid UTF-8 sequence at p, 0 if there is none: no overlong
 * forms, no surrogates, nothing past U+10FFFF, as Go's utf8.ValidString,
 * which Prometheus applies to label values. p is NUL-terminated: a sequence
 * cut short by the end fails at the NUL, which is no continuation byte. */
static size_t utf8_seq(const unsigned char *p)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Escapes a label value (quote too) or a HELP text (no quote) to d,
 * repairing bad UTF-8; d has room for 3 bytes per input byte (U+FFFD for a
 * bad one). Runs of plain ASCII, nearly everything, go as one memcpy. */
static char *put_escaped(char *d, const char *s, bool quote)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char plain = quote ? C_PLAIN : C_HPLAIN;

	for (;;) {
		const unsigned char *run = p;
		size_t n;

		while (cclass[*p] & plain)
			p++;
		d = put(d, run, (size_t)(p - run));
		if (!*p)
			return d;
		if (*p == '\\') {
			d = put(d, "\\\\", 2);
			p++;
		} else if (*p == '\n') {
			d = put(d, "\\n", 2);
			p++;
		} else if (*p == '"') {
			d = put(d, "\\\"", 2);
			p++;
		} else if ((n = utf8_seq(p))) {
			d = put(d, p, n);
			p += n;
		} else {
			d = put(d, "\xef\xbf\xbd", 3); /* U+FFFD */
			p++;
		}
	}
}

/* What snprintf(buf, size, "%s", s) leaves, without the format parsing. */
static char *copy_trunc(char *buf, size_t size, const char *s, size_t n)
{
	if (size) {
		if (n >= size)
			n = size - 1;
		memcpy(buf, s, n);
		buf[n] = 0;
	}
	return buf;
}

char *prom_format_double(char *buf, size_t size, double v)
{
	const char *dp;
	int prec;

	if (isnan(v))
		return copy_trunc(buf, size, "NaN", 3);
	if (isinf(v))
		return copy_trunc(buf, size, v > 0 ? "+Inf" : "-Inf", 4);
	/* whole numbers (counts, mostly) as integers: exact and short; what
	 * "%.0f" writes, "-0" included */
	if (fabs(v) < 1e15 && v == (double)(int64_t)v) {
		char tmp[24], *p = tmp;

		if (signbit(v))
			*p++ = '-';
		p = put_u64(p, (uint64_t)fabs(v));
		return copy_trunc(buf, size, tmp, (size_t)(p - tmp));
	}
	/* the shortest %g that reads back as the same double */
	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (prec == 17)
		snprintf(buf, size, "%.17g", v);
	/* printf follows LC_NUMERIC; Prometheus wants a '.' */
	dp = localeconv()->decimal_point;
	if (dp && strcmp(dp, ".")) {
		char *at = strstr(buf, dp);

		if (at) {
			size_t dl = strlen(dp);

			*at = '.';
			memmove(at + 1, at + dl, strlen(at + dl) + 1);
		}
	}
	return buf;
}

/* name, or name "_total" when total, is f's name */
static bool family_is(const struct family *f, const char *name, size_t nl, bool total)
{
	return f->namelen == nl + (total ? 6 : 0) && !memcmp(f->name, name, nl) &&
	       (!total || !memcmp(f->name + nl, "_total", 6));
}

int prom_family_begin(struct prom_writer *w, const char *name, enum prom_type type,
		      const char *help)
{
	struct family *f = NULL;
	size_t nl, i;
	bool total;

	if (type > PROM_HISTOGRAM || !(nl = valid_name(name, true))) {
		w->cur = NULL;
		return -EINVAL;
	}
	total = type == PROM_COUNTER && (nl < 6 || memcmp(name + nl - 6, "_total", 6));
	/* the current family first: callers begin it again for every series */
	if (w->cur && family_is(w->cur, name, nl, total))
		f = w->cur;
	for (i = 0; !f && i < w->nfam; i++)
		if (family_is(&w->fam[i], name, nl, total))
			f = &w->fam[i];
	if (f) {
		w->cur = f->type == type ? f : NULL;
		return w->cur ? 0 : -EINVAL;
	}
	if (w->nfam == w->capfam) {
		size_t cap = w->capfam ? w->capfam * 2 : 16;
		struct family *nf = realloc(w->fam, cap * sizeof(*nf));

		if (!nf)
			goto nomem;
		w->fam = nf;
		w->capfam = cap;
	}
	f = &w->fam[w->nfam];
	memset(f, 0, sizeof(*f));
	f->namelen = nl + (total ? 6 : 0);
	f->name = malloc(f->namelen + 1);
	if (!f->name)
		goto nomem;
	memcpy(f->name, name, nl);
	memcpy(f->name + nl, total ? "_total" : "", total ? 7 : 1);
	if (help && *help) {
		f->help = malloc(3 * strlen(help) + 1);
		if (!f->help) {
			free(f->name);
			goto nomem;
		}
		f->helplen = (size_t)(put_escaped(f->help, help, false) - f->help);
	}
	f->type = type;
	w->nfam++;
	w->cur = f;
	return 0;
nomem:
	w->cur = NULL;
	w->failed = true;
	return -ENOMEM;
}

/* {a="x",b="y"}, the empty values left out, appended to w->keys with a NUL;
 * *keylen is its length. -EINVAL (nothing appended) for a bad label name,
 * or "le" when no_le. */
static int render_key(struct prom_writer *w, const struct prom_label *labels, size_t n, bool no_le,
		      size_t *keylen)
{
	/* name lengths from the check, kept for the usual few labels */
	size_t i, room = 3, nlen[16];
	char *start, *p;

	for (i = 0; i < n; i++) {
		size_t l;

		if (!labels[i].name || !(l = valid_label_name(labels[i].name)))
			return -EINVAL;
		if (no_le && l == 2 && !memcmp(labels[i].name, "le", 2))
			return -EINVAL;
		if (i < 16)
			nlen[i] = l;
		if (labels[i].value && labels[i].value[0])
			room += l + 4 + 3 * strlen(labels[i].value);
	}
	p = start = pb_reserve(&w->keys, room);
	if (!p) {
		w->failed = true;
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		if (!labels[i].value || !labels[i].value[0])
			continue;
		*p = p == start ? '{' : ',';
		p++;
		p = put(p, labels[i].name, i < 16 ? nlen[i] : strlen(labels[i].name));
		p = put(p, "=\"", 2);
		p = put_escaped(p, labels[i].value, true);
		*p++ = '"';
	}
	if (p != start)
		*p++ = '}';
	*keylen = (size_t)(p - start);
	*p++ = 0;
	w->keys.len += (size_t)(p - start);
	return 0;
}

static struct series *add_series(struct prom_writer *w, size_t key, size_t keylen)
{
	struct family *f = w->cur;
	struct series *s;

	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct series *nv = realloc(f->v, cap * sizeof(*nv));

		if (!nv) {
			w->failed = true;
			return NULL;
		}
		f->v = nv;
		f->cap = cap;
	}
	s = &f->v[f->n++];
	memset(s, 0, sizeof(*s));
	s->key = key;
	s->keylen = keylen;
	s->seq = w->seq++;
	return s;
}

int prom_sample(struct prom_writer *w, const struct prom_label *labels, size_t n, double value)
{
	size_t key = w->keys.len, keylen;
	struct series *s;
	int err;

	if (!w->cur || w->cur->type == PROM_HISTOGRAM) {
		w->dropped++;
		return -EINVAL;
	}
	err = render_key(w, labels, n, false, &keylen);
	if (err == -EINVAL)
		w->dropped++;
	if (err)
		return err;
	s = add_series(w, key, keylen);
	if (!s)
		return -ENOMEM;
	s->value = value;
	return 0;
}

/* The cache entry for bounds[0 .. n), formatted on first use; SIZE_MAX on
 * ENOMEM. */
static size_t bounds_lookup(struct prom_writer *w, const double *bounds, size_t n)
{
	struct bounds_fmt *b;
	size_t i;

	for (i = 0; i < w->nbounds; i++) {
		/* the last one used first: one family's series come together */
		size_t k = (w->lastbounds + i) % w->nbounds;

		b = &w->bounds[k];
		if (b->n == n && (!n || !memcmp(b->vals, bounds, n * sizeof(*bounds)))) {
			w->lastbounds = k;
			return k;
		}
	}
	if (w->nbounds == w->capbounds) {
		size_t cap = w->capbounds ? w->capbounds * 2 : 4;
		struct bounds_fmt *nb = realloc(w->bounds, cap * sizeof(*nb));

		if (!nb)
			return SIZE_MAX;
		w->bounds = nb;
		w->capbounds = cap;
	}
	b = &w->bounds[w->nbounds];
	memset(b, 0, sizeof(*b));
	/* one block: values, lengths, strings */
	b->vals = malloc(n * sizeof(double) + (n + 1) * (1 + LE_STRIDE));
	if (!b->vals)
		return SIZE_MAX;
	b->len = (unsigned char *)(b->vals + n);
	b->le = (char *)(b->len + n + 1);
	b->n = n;
	if (n)
		memcpy(b->vals, bounds, n * sizeof(*bounds));
	for (i = 0; i <= n; i++) {
		char *s = b->le + i * LE_STRIDE;

		if (i < n)
			prom_format_double(s, LE_STRIDE, bounds[i]);
		else
			memcpy(s, "+Inf", 5);
		b->len[i] = (unsigned char)strlen(s);
		if (b->len[i] > b->lemax)
			b->lemax = b->len[i];
	}
	w->lastbounds = w->nbounds;
	return w->nbounds++;
}

int prom_histogram(struct prom_writer *w, const struct prom_label *labels, size_t n,
		   const double *bounds, size_t nbounds, const uint64_t *counts, double sum)
{
	size_t key = w->keys.len, keylen, bi, i;
	struct series *s;
	uint64_t cum = 0;
	int err;

	if (!w->cur || w->cur->type != PROM_HISTOGRAM) {
		w->dropped++;
		return -EINVAL;
	}
	err = render_key(w, labels, n, true, &keylen);
	if (err == -EINVAL)
		w->dropped++;
	if (err)
		return err;
	bi = bounds_lookup(w, bounds, nbounds);
	if (bi == SIZE_MAX)
		goto nomem;
	if (w->capcounts - w->ncounts < nbounds + 1) {
		size_t cap = w->capcounts ? w->capcounts : 256;
		uint64_t *nc;

		while (cap - w->ncounts < nbounds + 1)
			cap *= 2;
		nc = realloc(w->counts, cap * sizeof(*nc));
		if (!nc)
			goto nomem;
		w->counts = nc;
		w->capcounts = cap;
	}
	s = add_series(w, key, keylen);
	if (!s)
		return -ENOMEM;
	s->value = sum;
	s->bounds = bi;
	s->counts = w->ncounts;
	for (i = 0; i <= nbounds; i++) {
		cum += counts[i];
		w->counts[w->ncounts++] = cum;
	}
	return 0;
nomem:
	w->failed = true;
	return -ENOMEM;
}

static int cmp_family(const void *a, const void *b)
{
	return strcmp(((const struct family *)a)->name, ((const struct family *)b)->name);
}

/* Keys hold no NUL: memcmp and then the length order as strcmp would. */
static int cmp_key(const struct series *x, const struct series *y)
{
	size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
	int c = memcmp(x->k, y->k, n);

	if (c)
		return c;
	return x->keylen < y->keylen ? -1 : x->keylen > y->keylen;
}

static int cmp_series(const void *a, const void *b)
{
	const struct series *x = a, *y = b;
	int c = cmp_key(x, y);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static const char *type_name(enum prom_type t)
{
	return t == PROM_COUNTER ? "counter" : t == PROM_GAUGE ? "gauge" : "histogram";
}

/* The most a series' lines can take: each line is name, suffix (8), labels
 * (with le), a space, a number (prom_format_double into 32 bytes: at most
 * 31) and a newline. */
static size_t series_room(const struct prom_writer *w, const struct family *f,
			  const struct series *s)
{
	const size_t line = f->namelen + s->keylen + 8 + 40;

	if (f->type != PROM_HISTOGRAM)
		return line;
	return (w->bounds[s->bounds].n + 3) * line +
	       (w->bounds[s->bounds].n + 1) * (8 /* ,le="" */ + w->bounds[s->bounds].lemax);
}

static char *put_histogram(char *p, const struct prom_writer *w, const struct family *f,
			   const struct series *s)
{
	const struct bounds_fmt *b = &w->bounds[s->bounds];
	const uint64_t *cum = w->counts + s->counts;
	char *prefix = p, num[32];
	size_t plen, i;

	/* name_bucket{labels,le=" once; the other buckets copy it */
	p = put(p, f->name, f->namelen);
	p = put(p, "_bucket", 7);
	if (s->keylen)
		p = put(put(p, s->k, s->keylen - 1), ",le=\"", 5);
	else
		p = put(p, "{le=\"", 5);
	plen = (size_t)(p - prefix);
	for (i = 0; i <= b->n; i++) {
		if (i)
			p = put(p, prefix, plen);
		p = put(p, b->le + i * LE_STRIDE, b->len[i]);
		p = put(p, "\"} ", 3);
		p = put_u64(p, cum[i]);
		*p++ = '\n';
	}
	p = put(put(put(p, f->name, f->namelen), "_sum", 4), s->k, s->keylen);
	*p++ = ' ';
	prom_format_double(num, sizeof(num), s->value);
	p = put(p, num, strlen(num));
	*p++ = '\n';
	p = put(put(put(p, f->name, f->namelen), "_count", 6), s->k, s->keylen);
	*p++ = ' ';
	p = put_u64(p, cum[b->n]);
	*p++ = '\n';
	return p;
}

static char *put_sample(char *p, const struct family *f, const struct series *s)
{
	char num[32];

	p = put(put(p, f->name, f->namelen), s->k, s->keylen);
	*p++ = ' ';
	prom_format_double(num, sizeof(num), s->value);
	p = put(p, num, strlen(num));
	*p++ = '\n';
	return p;
}

static void sort_series(struct family *f, const char *keys)
{
	bool sorted = true;
	size_t j;

	for (j = 0; j < f->n; j++) {
		f->v[j].k = keys + f->v[j].key;
		if (j && sorted && cmp_series(&f->v[j - 1], &f->v[j]) > 0)
			sorted = false;
	}
	/* the registry hands out series by service already: often no sort */
	if (!sorted)
		qsort(f->v, f->n, sizeof(*f->v), cmp_series);
}

int prom_finish(struct prom_writer *w, char **text, size_t *len)
{
	const char *keys = w->keys.s ? w->keys.s : "";
	size_t room = 1, i, j;
	char *out, *p, *shrunk;

	*text = NULL;
	*len = 0;
	if (w->failed)
		return -ENOMEM;
	/* families move: the current one is forgotten */
	w->cur = NULL;
	if (w->nfam)
		qsort(w->fam, w->nfam, sizeof(*w->fam), cmp_family);
	for (i = 0; i < w->nfam; i++) {
		const struct family *f = &w->fam[i];

		room += 2 * f->namelen + f->helplen + 32;
		for (j = 0; j < f->n; j++)
			room += series_room(w, f, &f->v[j]);
	}
	p = out = malloc(room);
	if (!out)
		return -ENOMEM;
	for (i = 0; i < w->nfam; i++) {
		struct family *f = &w->fam[i];

		if (f->help) {
			p = put(put(p, "# HELP ", 7), f->name, f->namelen);
			*p++ = ' ';
			p = put(p, f->help, f->helplen);
			*p++ = '\n';
		}
		p = put(put(p, "# TYPE ", 7), f->name, f->namelen);
		*p++ = ' ';
		p = put(p, type_name(f->type), strlen(type_name(f->type)));
		*p++ = '\n';
		sort_series(f, keys);
		for (j = 0; j < f->n; j++) {
			if (j && !cmp_key(&f->v[j], &f->v[j - 1])) {
				w->dropped++; /* the same series twice */
				continue;
			}
			if (f->type == PROM_HISTOGRAM)
				p = put_histogram(p, w, f, &f->v[j]);
			else
				p = put_sample(p, f, &f->v[j]);
		}
	}
	*p = 0;
	*len = (size_t)(p - out);
	/* the bound is generous; give back what the text did not use */
	shrunk = realloc(out, *len + 1);
	*text = shrunk ? shrunk : out;
	return 0;
}
