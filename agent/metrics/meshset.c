/* SPDX-License-Identifier: Apache-2.0 */
/* meshset.c: a neutral list of counter and gauge families, built by
 * mm_family()/mm_add() and written as Prometheus text or OTLP metrics. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/meshset.h"

struct mm_family *mm_family(struct mm_set *set, const char *name, const char *unit,
			    const char *help, bool counter)
{
	struct mm_family *f;

	/* one family per name, whoever adds to it (traces and metrics export) */
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->fams[i].name, name))
			return &set->fams[i];
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 32;
		void *p = realloc(set->fams, cap * sizeof(*set->fams));

		if (!p) {
			set->oom = true;
			return NULL;
		}
		set->fams = p;
		set->cap = cap;
	}
	f = &set->fams[set->n++];
	*f = (struct mm_family){.name = name, .unit = unit, .help = help, .counter = counter};
	return f;
}

void mm_add(struct mm_set *set, struct mm_family *f, double value, int n_labels, ...)
{
	struct mm_sample *s;
	va_list ap;

	if (!f || n_labels > MM_LABELS)
		return;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		void *p = realloc(f->samples, cap * sizeof(*f->samples));

		if (!p) {
			set->oom = true;
			return;
		}
		f->samples = p;
		f->cap = cap;
	}
	s = &f->samples[f->n++];
	memset(s, 0, sizeof(*s));
	s->value = value;
	s->n_labels = n_labels;
	va_start(ap, n_labels);
	for (int i = 0; i < n_labels; i++) {
		s->keys[i] = va_arg(ap, const char *);
		snprintf(s->values[i], MM_VALUE_MAX, "%s", va_arg(ap, const char *));
	}
	va_end(ap);
}

void mm_set_free(struct mm_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->fams[i].samples);
	free(set->fams);
	memset(set, 0, sizeof(*set));
}

void mm_prom_name(const struct mm_family *f, char *buf, size_t len)
{
	size_t i;

	snprintf(buf, len, "%s%s", f->name, f->counter ? "_total" : "");
	for (i = 0; buf[i]; i++)
		if (buf[i] == '.')
			buf[i] = '_';
}

int mm_set_write_prom(const struct mm_set *set, struct prom_writer *w)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct mm_family *f = &set->fams[i];
		char name[128], keys[MM_LABELS][64];
		int err;

		mm_prom_name(f, name, sizeof(name));
		err = prom_family_begin(w, name, f->counter ? PROM_COUNTER : PROM_GAUGE, f->help);
		if (err)
			return err;
		for (size_t j = 0; j < f->n; j++) {
			const struct mm_sample *s = &f->samples[j];
			struct prom_label l[MM_LABELS];

			for (int k = 0; k < s->n_labels; k++) {
				snprintf(keys[k], sizeof(keys[k]), "%s", s->keys[k]);
				for (char *c = keys[k]; *c; c++)
					if (*c == '.')
						*c = '_';
				l[k] = (struct prom_label){keys[k], s->values[k]};
			}
			prom_sample(w, l, s->n_labels, s->value);
		}
	}
	return 0;
}

int mm_set_to_otlp(const struct mm_set *set, uint64_t start_unix_ns, uint64_t now_unix_ns,
		   struct otlp_metric **out, size_t *n_out, void **block)
{
	size_t n_points = 0, off_m, off_p, off_a;
	struct otlp_metric *m;
	struct otlp_number_point *p;
	struct otlp_attr *at;
	char *mem;

	for (size_t i = 0; i < set->n; i++)
		n_points += set->fams[i].n;
	off_m = 0;
	off_p = set->n * sizeof(*m);
	off_a = off_p + n_points * sizeof(*p);
	mem = calloc(1, off_a + n_points * MM_LABELS * sizeof(*at) + 1);
	if (!mem)
		return -ENOMEM;
	m = (void *)(mem + off_m);
	p = (void *)(mem + off_p);
	at = (void *)(mem + off_a);
	for (size_t i = 0; i < set->n; i++) {
		const struct mm_family *f = &set->fams[i];

		m[i] = (struct otlp_metric){
		    .name = f->name,
		    .description = f->help,
		    .unit = f->unit,
		    .kind = f->counter ? OTLP_METRIC_SUM : OTLP_METRIC_GAUGE,
		    .monotonic = f->counter,
		    .numbers = p,
		    .n_points = f->n,
		};
		for (size_t j = 0; j < f->n; j++, p++) {
			const struct mm_sample *s = &f->samples[j];

			for (int k = 0; k < s->n_labels; k++)
				at[k] = OTLP_ATTR_STR(s->keys[k], s->values[k]);
			*p = (struct otlp_number_point){
			    .attrs = at,
			    .n_attrs = s->n_labels,
			    .start_unix_ns = f->counter ? start_unix_ns : 0,
			    .time_unix_ns = now_unix_ns,
			    .as_int = (int64_t)s->value,
			};
			at += MM_LABELS;
		}
	}
	*out = m;
	*n_out = set->n;
	*block = mem;
	return 0;
}
