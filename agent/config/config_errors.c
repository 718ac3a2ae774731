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

/* Per file, the first CFGP_ERRS_PER_FILE errors are kept and the rest only
 * counted: a file of generated garbage must not make a million messages. */
static bool over_file_cap(struct cfgp_loader *ld, int file)
{
	int n = ld->cfg->n_files;

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

static void push(struct cfgp_loader *ld, struct cfgp_mark at, char *msg)
{
	struct cfgp_error *errs;

	if (!msg) {
		ld->oom = true;
		return;
	}
	if (over_file_cap(ld, at.file)) {
		free(msg);
		return;
	}
	errs = cfgp_grow(ld, ld->errs, ld->n_errs, &ld->cap_errs, sizeof(*errs));
	if (!errs) {
		free(msg);
		return;
	}
	ld->errs = errs;
	errs[ld->n_errs] = (struct cfgp_error){.at = at, .seq = ld->n_errs, .msg = msg};
	ld->n_errs++;
}

static char *vformat(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

static void verr_at(struct cfgp_loader *ld, struct cfgp_mark at, const char *path, const char *fmt,
		    va_list ap)
{
	char *what = vformat(fmt, ap), *msg = NULL;

	if (!what) {
		ld->oom = true;
		return;
	}
	if (asprintf(&msg, "%s:%d:%d: %s%s%s", ld->cfg->files[at.file], at.line, at.column,
		     path && *path ? path : "", path && *path ? ": " : "", what) < 0)
		msg = NULL;
	free(what);
	push(ld, at, msg);
}

void cfgp_err_at(struct cfgp_loader *ld, struct cfgp_mark at, const char *path, const char *fmt,
		 ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(ld, at, path, fmt, ap);
	va_end(ap);
}

struct cfgp_mark cfgp_mark_of(const struct cfgp_doc *d, const yaml_node_t *n)
{
	return (struct cfgp_mark){
	    .file = d->file,
	    .line = (int)n->start_mark.line + 1,
	    .column = (int)n->start_mark.column + 1,
	};
}

void cfgp_err(struct cfgp_doc *d, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(d->ld, cfgp_mark_of(d, n), path, fmt, ap);
	va_end(ap);
}

void cfgp_err_raw(struct cfgp_loader *ld, int file, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = vformat(fmt, ap);
	va_end(ap);
	push(ld, (struct cfgp_mark){.file = file}, msg);
}

static int cmp_errors(const void *a, const void *b)
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

void cfgp_errors_finish(struct cfgp_loader *ld, struct cfg_errors *errs)
{
	int i;

	/* after the file's own: they sort last within the file */
	for (i = 0; ld->file_dropped && i < ld->cfg->n_files; i++) {
		int more = ld->file_dropped[i];
		char *msg;

		if (!more)
			continue;
		ld->file_dropped[i] = 0;
		if (asprintf(&msg, "%s: %d more error%s not shown", ld->cfg->files[i], more,
			     more == 1 ? "" : "s") < 0)
			msg = NULL;
		ld->file_errs[i] = 0; /* let this one in */
		push(ld, (struct cfgp_mark){.file = i, .line = INT_MAX}, msg);
	}
	if (ld->n_errs)
		qsort(ld->errs, (size_t)ld->n_errs, sizeof(*ld->errs), cmp_errors);
	if (errs && ld->n_errs) {
		errs->msgs = calloc((size_t)ld->n_errs, sizeof(*errs->msgs));
		if (errs->msgs) {
			for (i = 0; i < ld->n_errs; i++)
				errs->msgs[i] = ld->errs[i].msg;
			errs->n = ld->n_errs;
			free(ld->errs);
			ld->errs = NULL;
			ld->n_errs = 0;
			return;
		}
	}
	for (i = 0; i < ld->n_errs; i++)
		free(ld->errs[i].msg);
	free(ld->errs);
	ld->errs = NULL;
	ld->n_errs = 0;
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
