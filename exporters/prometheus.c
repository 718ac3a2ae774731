/* SPDX-License-Identifier: Apache-2.0 */
/* prometheus.c: text exposition 0.0.4 (prometheus.h). Each series is
 * rendered to text when added and kept with its label text as sort key;
 * prom_finish() sorts families and series and concatenates. */
#include <errno.h>
#include <inttypes.h>
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

static void pb_put(struct pbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *ns;

		while (cap < b->len + n + 1)
			cap *= 2;
		ns = realloc(b->s, cap);
		if (!ns) {
			b->failed = true;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

static void pb_str(struct pbuf *b, const char *s) { pb_put(b, s, strlen(s)); }

static void pb_chr(struct pbuf *b, char c) { pb_put(b, &c, 1); }

/* One series: its label text (the sort key) and its lines, in one block. */
struct series {
	char *mem; /* key, NUL, lines */
	size_t keylen;
	size_t seq; /* insertion order, to sort stably */
};

struct family {
	char *name;
	char *help;
	enum prom_type type;
	struct series *v;
	size_t n, cap;
};

struct prom_writer {
	struct family *fam;
	size_t nfam, capfam;
	struct family *cur;
	size_t seq;
	size_t dropped;
	bool failed; /* an allocation failed */
};

struct prom_writer *prom_writer_new(void) { return calloc(1, sizeof(struct prom_writer)); }

void prom_writer_free(struct prom_writer *w)
{
	size_t i, j;

	if (!w)
		return;
	for (i = 0; i < w->nfam; i++) {
		for (j = 0; j < w->fam[i].n; j++)
			free(w->fam[i].v[j].mem);
		free(w->fam[i].v);
		free(w->fam[i].name);
		free(w->fam[i].help);
	}
	free(w->fam);
	free(w);
}

size_t prom_dropped(const struct prom_writer *w) { return w->dropped; }

static bool valid_name(const char *s, bool colon)
{
	const char *p;

	if (!*s)
		return false;
	for (p = s; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (colon && c == ':') || (p != s && c >= '0' && c <= '9');

		if (!ok)
			return false;
	}
	return true;
}

static bool valid_label_name(const char *s) { return valid_name(s, false) && strncmp(s, "__", 2); }

/* Length of the valid UTF-8 sequence at p (up to end), 0 if there is none:
 * no overlong forms, no surrogates, nothing past U+10FFFF, as Go's
 * utf8.ValidString, which Prometheus applies to label values. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
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
	if ((size_t)(end - p) < n)
		return 0;
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

/* Escapes a label value (quote too) or a HELP text (no quote), repairing
 * bad UTF-8. */
static void pb_escaped(struct pbuf *b, const char *s, bool quote)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);

	while (p < end) {
		size_t n = utf8_seq(p, end);

		if (!n) {
			pb_str(b, "\xef\xbf\xbd"); /* U+FFFD */
			p++;
		} else if (*p == '\\') {
			pb_str(b, "\\\\");
			p++;
		} else if (*p == '\n') {
			pb_str(b, "\\n");
			p++;
		} else if (quote && *p == '"') {
			pb_str(b, "\\\"");
			p++;
		} else {
			pb_put(b, (const char *)p, n);
			p += n;
		}
	}
}

char *prom_format_double(char *buf, size_t size, double v)
{
	const char *dp;
	int prec;

	if (isnan(v)) {
		snprintf(buf, size, "NaN");
		return buf;
	}
	if (isinf(v)) {
		snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
		return buf;
	}
	/* whole numbers (counts, mostly) as integers: exact and short */
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, size, "%.0f", v);
		return buf;
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

static struct family *family_find(struct prom_writer *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->nfam; i++)
		if (!strcmp(w->fam[i].name, name))
			return &w->fam[i];
	return NULL;
}

int prom_family_begin(struct prom_writer *w, const char *name, enum prom_type type,
		      const char *help)
{
	struct pbuf nb = {0};
	struct family *f;
	size_t nl = strlen(name);

	if (!valid_name(name, true) || type > PROM_HISTOGRAM) {
		w->cur = NULL;
		return -EINVAL;
	}
	pb_str(&nb, name);
	if (type == PROM_COUNTER && (nl < 6 || strcmp(name + nl - 6, "_total")))
		pb_str(&nb, "_total");
	if (nb.failed) {
		w->failed = true;
		return -ENOMEM;
	}
	f = family_find(w, nb.s);
	if (f) {
		free(nb.s);
		w->cur = f->type == type ? f : NULL;
		return w->cur ? 0 : -EINVAL;
	}
	if (w->nfam == w->capfam) {
		size_t cap = w->capfam ? w->capfam * 2 : 16;
		struct family *nf = realloc(w->fam, cap * sizeof(*nf));

		if (!nf) {
			free(nb.s);
			w->failed = true;
			return -ENOMEM;
		}
		w->fam = nf;
		w->capfam = cap;
	}
	f = &w->fam[w->nfam];
	memset(f, 0, sizeof(*f));
	f->name = nb.s;
	f->type = type;
	if (help && *help) {
		struct pbuf hb = {0};

		pb_escaped(&hb, help, false);
		if (hb.failed) {
			free(nb.s);
			w->failed = true;
			return -ENOMEM;
		}
		f->help = hb.s;
	}
	w->nfam++;
	w->cur = f;
	return 0;
}

/* {a="x",b="y"} with the empty values left out, and extra (le) last. */
static int render_labels(struct pbuf *b, const struct prom_label *labels, size_t n,
			 const char *extra_name, const char *extra_value)
{
	bool open = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!labels[i].name || !valid_label_name(labels[i].name))
			return -EINVAL;
		if (extra_name && !strcmp(labels[i].name, extra_name))
			return -EINVAL;
		if (!labels[i].value || !labels[i].value[0])
			continue;
		pb_chr(b, open ? ',' : '{');
		open = true;
		pb_str(b, labels[i].name);
		pb_str(b, "=\"");
		pb_escaped(b, labels[i].value, true);
		pb_chr(b, '"');
	}
	if (extra_name) {
		pb_chr(b, open ? ',' : '{');
		open = true;
		pb_str(b, extra_name);
		pb_str(b, "=\"");
		pb_str(b, extra_value);
		pb_chr(b, '"');
	}
	if (open)
		pb_chr(b, '}');
	return 0;
}

static int add_series(struct prom_writer *w, struct pbuf *key, struct pbuf *lines)
{
	struct family *f = w->cur;
	struct series *s;

	pb_chr(key, 0); /* key, NUL, lines in one block */
	pb_put(key, lines->s ? lines->s : "", lines->len);
	free(lines->s);
	if (key->failed || lines->failed) {
		free(key->s);
		w->failed = true;
		return -ENOMEM;
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct series *nv = realloc(f->v, cap * sizeof(*nv));

		if (!nv) {
			free(key->s);
			w->failed = true;
			return -ENOMEM;
		}
		f->v = nv;
		f->cap = cap;
	}
	s = &f->v[f->n++];
	s->mem = key->s;
	s->keylen = strlen(key->s);
	s->seq = w->seq++;
	return 0;
}

static void line(struct pbuf *b, const char *name, const char *suffix, const char *labels,
		 const char *value)
{
	pb_str(b, name);
	pb_str(b, suffix);
	pb_str(b, labels);
	pb_chr(b, ' ');
	pb_str(b, value);
	pb_chr(b, '\n');
}

int prom_sample(struct prom_writer *w, const struct prom_label *labels, size_t n, double value)
{
	struct pbuf key = {0}, lines = {0};
	char num[64];

	if (!w->cur || w->cur->type == PROM_HISTOGRAM ||
	    render_labels(&key, labels, n, NULL, NULL)) {
		free(key.s);
		w->dropped++;
		return -EINVAL;
	}
	line(&lines, w->cur->name, "", key.s ? key.s : "",
	     prom_format_double(num, sizeof(num), value));
	return add_series(w, &key, &lines);
}

int prom_histogram(struct prom_writer *w, const struct prom_label *labels, size_t n,
		   const double *bounds, size_t nbounds, const uint64_t *counts, double sum)
{
	struct pbuf key = {0}, lines = {0};
	char num[64], le[64];
	uint64_t cum = 0;
	size_t i;

	if (!w->cur || w->cur->type != PROM_HISTOGRAM || render_labels(&key, labels, n, "le", "")) {
		free(key.s);
		w->dropped++;
		return -EINVAL;
	}
	/* the sort key is the labels without le */
	free(key.s);
	memset(&key, 0, sizeof(key));
	render_labels(&key, labels, n, NULL, NULL);
	for (i = 0; i <= nbounds; i++) {
		struct pbuf lb = {0};

		cum += counts[i];
		if (i < nbounds)
			prom_format_double(le, sizeof(le), bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		render_labels(&lb, labels, n, "le", le);
		snprintf(num, sizeof(num), "%" PRIu64, cum);
		line(&lines, w->cur->name, "_bucket", lb.s ? lb.s : "", num);
		lines.failed |= lb.failed;
		free(lb.s);
	}
	line(&lines, w->cur->name, "_sum", key.s ? key.s : "",
	     prom_format_double(num, sizeof(num), sum));
	snprintf(num, sizeof(num), "%" PRIu64, cum);
	line(&lines, w->cur->name, "_count", key.s ? key.s : "", num);
	return add_series(w, &key, &lines);
}

struct http_ctx {
	struct prom_writer *w;
	int err;
};

static const char *const http_family[METRICS_SIDES] = {
    "http_server_request_duration_seconds",
    "http_client_request_duration_seconds",
};
static const char *const http_help[METRICS_SIDES] = {
    "Duration of HTTP server requests.",
    "Duration of HTTP client requests.",
};

static void http_one(const struct metrics_hist *h, void *arg)
{
	struct http_ctx *c = arg;
	struct prom_label l[] = {
	    {"service_name", h->service},
	    {"http_request_method", h->method},
	    {"http_response_status_code", h->status_code},
	    {"http_route", h->route},
	};
	int err;

	err = prom_family_begin(c->w, http_family[h->side], PROM_HISTOGRAM, http_help[h->side]);
	if (!err)
		err = prom_histogram(c->w, l, 4, metrics_http_bounds, METRICS_HTTP_BOUNDS,
				     h->counts, h->sum);
	if (err && !c->err)
		c->err = err;
}

int prom_write_http_histograms(struct prom_writer *w, const struct metrics *m)
{
	struct http_ctx c = {w, 0};
	int side, err;

	for (side = 0; side < METRICS_SIDES; side++) {
		err = prom_family_begin(w, http_family[side], PROM_HISTOGRAM, http_help[side]);
		if (err)
			return err;
	}
	metrics_foreach_histogram(m, http_one, &c);
	return c.err == -ENOMEM ? -ENOMEM : 0;
}

static int cmp_family(const void *a, const void *b)
{
	return strcmp(((const struct family *)a)->name, ((const struct family *)b)->name);
}

static int cmp_series(const void *a, const void *b)
{
	const struct series *x = a, *y = b;
	int c = strcmp(x->mem, y->mem);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static const char *type_name(enum prom_type t)
{
	return t == PROM_COUNTER ? "counter" : t == PROM_GAUGE ? "gauge" : "histogram";
}

int prom_finish(struct prom_writer *w, char **text, size_t *len)
{
	struct pbuf out = {0};
	size_t i, j;

	*text = NULL;
	*len = 0;
	if (w->failed)
		return -ENOMEM;
	/* families move: the current one is forgotten */
	w->cur = NULL;
	if (w->nfam)
		qsort(w->fam, w->nfam, sizeof(*w->fam), cmp_family);
	for (i = 0; i < w->nfam; i++) {
		struct family *f = &w->fam[i];

		if (f->help) {
			pb_str(&out, "# HELP ");
			pb_str(&out, f->name);
			pb_chr(&out, ' ');
			pb_str(&out, f->help);
			pb_chr(&out, '\n');
		}
		pb_str(&out, "# TYPE ");
		pb_str(&out, f->name);
		pb_chr(&out, ' ');
		pb_str(&out, type_name(f->type));
		pb_chr(&out, '\n');
		if (f->n) /* qsort wants a base even for nothing */
			qsort(f->v, f->n, sizeof(*f->v), cmp_series);
		for (j = 0; j < f->n; j++) {
			if (j && !strcmp(f->v[j].mem, f->v[j - 1].mem)) {
				w->dropped++; /* the same series twice */
				continue;
			}
			pb_str(&out, f->v[j].mem + f->v[j].keylen + 1);
		}
	}
	if (out.failed) {
		free(out.s);
		return -ENOMEM;
	}
	if (!out.s)
		pb_str(&out, "");
	if (out.failed)
		return -ENOMEM;
	*text = out.s;
	*len = out.len;
	return 0;
}
