/* SPDX-License-Identifier: Apache-2.0 */
/* config_errors.c: collecting the loader's error messages.
 *
 * Every problem is recorded rather than stopped at, so that `bpfmesh validate`
 * lists them all in one run; at the end they are sorted by file and position so
 * the output reads top to bottom whatever order the checks ran in.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

void *cfgp_grow(struct cfgp_loader *ld, void *arr, int n, int *cap, size_t size)
{
	void *p;
	int ncap;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(arr, (size_t)ncap * size);
	if (!p) {
		ld->oom = true;
		return NULL;
	}
	*cap = ncap;
	return p;
}

void *cfgp_reserve(struct cfgp_loader *ld, void *arr, int want, int *cap, size_t size)
{
	void *p;

	if (want <= *cap)
		return arr;
	p = realloc(arr, (size_t)want * size);
	if (!p) {
		ld->oom = true;
		return NULL;
	}
	*cap = want;
	return p;
}

/* Per source, the first CFGP_ERRS_PER_FILE errors are kept and the rest only
 * counted: a file of generated garbage must not make a million messages. */
static bool over_file_cap(struct cfgp_loader *ld, int file)
{
	int n = ld->run->n_srcs;

	if (file < 0 || file >= n)
		return false;
	if (!ld->file_errs) {
		ld->file_errs = calloc((size_t)n, sizeof(*ld->file_errs));
		ld->file_dropped = calloc((size_t)n, sizeof(*ld->file_dropped));
		if (!ld->file_errs || !ld->file_dropped) {
			ld->oom = true;
			return true;
		}
	}
	if (ld->file_errs[file] < CFGP_ERRS_PER_FILE) {
		ld->file_errs[file]++;
		return false;
	}
	ld->file_dropped[file]++;
	return true;
}

/* An error marks its object (or, without one, its source) bad, also when
 * the message itself is over the cap: the object is left out all the same. */
static void mark_bad(struct cfgp_loader *ld, struct cfgp_mark at)
{
	if (at.obj >= 0 && at.obj < ld->n_objs)
		ld->objs[at.obj].bad = true;
	else if (at.file >= 0 && at.file < ld->run->n_srcs && ld->src_bad)
		ld->src_bad[at.file] = true;
}

static void push(struct cfgp_loader *ld, struct cfgp_mark at, char *msg, int what, bool warning)
{
	struct cfgp_error *errs, **arr = warning ? &ld->warns : &ld->errs;
	int *n = warning ? &ld->n_warns : &ld->n_errs,
	    *cap = warning ? &ld->cap_warns : &ld->cap_errs;

	if (!msg) {
		ld->oom = true;
		return;
	}
	if (!warning) {
		mark_bad(ld, at);
		if (over_file_cap(ld, at.file)) {
			free(msg);
			return;
		}
	}
	errs = cfgp_grow(ld, *arr, *n, cap, sizeof(*errs));
	if (!errs) {
		free(msg);
		return;
	}
	*arr = errs;
	errs[*n] = (struct cfgp_error){.at = at, .seq = *n, .msg = msg, .what = what};
	(*n)++;
}

static char *vformat(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

const char *cfgp_src_name(const struct cfgp_loader *ld, int file)
{
	return file >= 0 && file < ld->run->n_srcs ? ld->run->srcs[file].name : "";
}

/* An item of a kind: List says which: "items[3].spec.ports[0]". */
static void verr_at(struct cfgp_loader *ld, struct cfgp_mark at, const char *path, const char *fmt,
		    va_list ap, bool warning)
{
	char *what = vformat(fmt, ap), *msg = NULL, item[32] = "";
	int loc = 0;

	if (!what) {
		ld->oom = true;
		return;
	}
	if (at.obj >= 0 && at.obj < ld->n_objs && ld->objs[at.obj].item >= 0)
		snprintf(item, sizeof(item), "items[%d]%s", ld->objs[at.obj].item,
			 path && *path ? "." : ": ");
	if (asprintf(&msg, "%s:%d:%d: %n%s%s%s%s", cfgp_src_name(ld, at.file), at.line, at.column,
		     &loc, item, path && *path ? path : "", path && *path ? ": " : "", what) < 0)
		msg = NULL;
	free(what);
	push(ld, at, msg, loc, warning);
}

void cfgp_err_at(struct cfgp_loader *ld, struct cfgp_mark at, const char *path, const char *fmt,
		 ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(ld, at, path, fmt, ap, false);
	va_end(ap);
}

void cfgp_warn_at(struct cfgp_loader *ld, struct cfgp_mark at, const char *path, const char *fmt,
		  ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(ld, at, path, fmt, ap, true);
	va_end(ap);
}

struct cfgp_mark cfgp_mark_of(const struct cfgp_doc *d, const yaml_node_t *n)
{
	return (struct cfgp_mark){
	    .file = d->file,
	    .obj = d->obj,
	    .line = (int)n->start_mark.line + 1,
	    .column = (int)n->start_mark.column + 1,
	};
}

void cfgp_err(struct cfgp_doc *d, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(d->ld, cfgp_mark_of(d, n), path, fmt, ap, false);
	va_end(ap);
}

void cfgp_err_raw(struct cfgp_loader *ld, int file, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = vformat(fmt, ap);
	va_end(ap);
	push(ld, (struct cfgp_mark){.file = file, .obj = -1}, msg, 0, false);
}

int cfgp_cmp_errors(const void *a, const void *b)
{
	const struct cfgp_error *x = a, *y = b;

	if (x->at.file != y->at.file)
		return x->at.file < y->at.file ? -1 : 1;
	if (x->at.line != y->at.line)
		return x->at.line < y->at.line ? -1 : 1;
	if (x->at.column != y->at.column)
		return x->at.column < y->at.column ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void cfgp_errors_sort(struct cfgp_loader *ld)
{
	int i;

	/* after the source's own: they sort last within the source */
	for (i = 0; ld->file_dropped && i < ld->run->n_srcs; i++) {
		int more = ld->file_dropped[i];
		char *msg;

		if (!more)
			continue;
		ld->file_dropped[i] = 0;
		if (asprintf(&msg, "%s: %d more error%s not shown", cfgp_src_name(ld, i), more,
			     more == 1 ? "" : "s") < 0)
			msg = NULL;
		ld->file_errs[i] = 0; /* let this one in */
		push(ld, (struct cfgp_mark){.file = i, .obj = -1, .line = INT_MAX}, msg, 0, false);
	}
	if (ld->n_errs)
		qsort(ld->errs, (size_t)ld->n_errs, sizeof(*ld->errs), cfgp_cmp_errors);
	if (ld->n_warns)
		qsort(ld->warns, (size_t)ld->n_warns, sizeof(*ld->warns), cfgp_cmp_errors);
}

void cfgp_errors_give(struct cfgp_error *errs, int n, struct cfg_errors *out)
{
	char **msgs;
	int i;

	if (out && n) {
		msgs = realloc(out->msgs, (size_t)(out->n + n) * sizeof(*msgs));
		if (msgs) {
			for (i = 0; i < n; i++)
				msgs[out->n + i] = errs[i].msg;
			out->msgs = msgs;
			out->n += n;
			free(errs);
			return;
		}
	}
	for (i = 0; i < n; i++)
		free(errs[i].msg);
	free(errs);
}

void cfg_errors_free(struct cfg_errors *errs)
{
	int i;

	if (!errs)
		return;
	for (i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}

/* User text goes into one-line messages: escape what would break the line or
 * the terminal, and cut what would drown the message. */
const char *cfgp_quote(char buf[CFGP_QUOTE_LEN], const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const size_t room = CFGP_QUOTE_LEN - 6; /* closing quote, "...", NUL */
	size_t o = 0;
	unsigned char c;

	buf[o++] = '"';
	for (; (c = (unsigned char)*s); s++) {
		if (o + 4 > room) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (c == '\t') {
			buf[o++] = '\\';
			buf[o++] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 0xf];
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

void cfgp_skip(struct cfgp_loader *ld, const char *kind, const char *ns, const char *name,
	       struct cfgp_mark at, const char *fmt, ...)
{
	struct mesh_config *cfg = ld->cfg;
	struct cfg_skipped *s;
	va_list ap;

	s = cfgp_grow(ld, cfg->skipped, cfg->n_skipped, &ld->cap_skipped, sizeof(*s));
	if (!s)
		return;
	cfg->skipped = s;
	s = &s[cfg->n_skipped++];
	memset(s, 0, sizeof(*s));
	snprintf(s->kind, sizeof(s->kind), "%s", kind ? kind : "");
	snprintf(s->ns, sizeof(s->ns), "%s", ns ? ns : "");
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "");
	snprintf(s->origin.file, sizeof(s->origin.file), "%s", cfgp_src_name(ld, at.file));
	s->origin.line = at.line;
	s->origin.column = at.column;
	s->origin.memory = at.file >= ld->run->n_files;
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
}
