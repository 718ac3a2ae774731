/* SPDX-License-Identifier: Apache-2.0 */
/* jsonw.c: JSON output. Commas are tracked so callers just emit values. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jsonw.h"

static void put(struct jsonw *w, const char *s, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 1024;
		char *nb;

		while (cap < w->len + n + 1)
			cap *= 2;
		nb = realloc(w->buf, cap);
		if (!nb) {
			w->failed = true;
			return;
		}
		w->buf = nb;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = 0;
}

static void sep(struct jsonw *w)
{
	if (w->need_comma)
		put(w, ",", 1);
	w->need_comma = true;
}

void jw_raw(struct jsonw *w, const char *s) { put(w, s, strlen(s)); }

void jw_obj_open(struct jsonw *w)
{
	sep(w);
	put(w, "{", 1);
	w->need_comma = false;
}

void jw_obj_close(struct jsonw *w)
{
	put(w, "}", 1);
	w->need_comma = true;
}

void jw_arr_open(struct jsonw *w)
{
	sep(w);
	put(w, "[", 1);
	w->need_comma = false;
}

void jw_arr_close(struct jsonw *w)
{
	put(w, "]", 1);
	w->need_comma = true;
}

static void put_escaped(struct jsonw *w, const char *s)
{
	put(w, "\"", 1);
	for (; *s; s++) {
		unsigned char c = *s;
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = c;
			put(w, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(w, esc, 6);
		} else {
			put(w, (const char *)&c, 1);
		}
	}
	put(w, "\"", 1);
}

void jw_key(struct jsonw *w, const char *k)
{
	sep(w);
	put_escaped(w, k);
	put(w, ":", 1);
	w->need_comma = false;
}

void jw_str(struct jsonw *w, const char *s)
{
	sep(w);
	put_escaped(w, s ? s : "");
}

void jw_u64(struct jsonw *w, uint64_t v)
{
	char b[32];

	sep(w);
	put(w, b, snprintf(b, sizeof(b), "%" PRIu64, v));
}

void jw_i64(struct jsonw *w, int64_t v)
{
	char b[32];

	sep(w);
	put(w, b, snprintf(b, sizeof(b), "%" PRId64, v));
}

void jw_dbl(struct jsonw *w, double v)
{
	char b[64];

	sep(w);
	put(w, b, snprintf(b, sizeof(b), "%.6g", v));
}

void jw_null(struct jsonw *w)
{
	sep(w);
	jw_raw(w, "null");
}

void jw_bool(struct jsonw *w, bool v)
{
	sep(w);
	jw_raw(w, v ? "true" : "false");
}

void jw_kstr(struct jsonw *w, const char *k, const char *v)
{
	jw_key(w, k);
	jw_str(w, v);
}

void jw_ku64(struct jsonw *w, const char *k, uint64_t v)
{
	jw_key(w, k);
	jw_u64(w, v);
}

void jw_ki64(struct jsonw *w, const char *k, int64_t v)
{
	jw_key(w, k);
	jw_i64(w, v);
}

void jw_kbool(struct jsonw *w, const char *k, bool v)
{
	jw_key(w, k);
	jw_bool(w, v);
}

void jw_free(struct jsonw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}
