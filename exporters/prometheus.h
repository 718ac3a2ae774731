/* SPDX-License-Identifier: Apache-2.0 */
/* prometheus.h: the Prometheus text exposition format, version 0.0.4, for
 * GET /metrics.
 *
 * Samples are added in any order, family by family or mixed; prom_finish()
 * writes every family once, in name order, with its # HELP and # TYPE, and
 * its samples sorted by their label text, so two scrapes of the same state
 * are byte for byte the same and a family fed from several places still has
 * one HELP and one TYPE. Labels are written in the order given (give them in
 * the same order for every sample of a family); a label whose value is empty
 * is left out, which is what Prometheus makes of it anyway. Label values are
 * escaped (\\, \", \n) and made valid UTF-8 (a bad byte becomes U+FFFD: a
 * route taken from a request path must not fail the whole scrape). Counter
 * families are named with "_total". A second sample with the same labels in
 * a family is dropped (and counted), as Prometheus would reject it.
 *
 *   struct prom_writer *w = prom_writer_new();
 *   struct prom_label l[] = {{"service", "users"}, {"reason", "refused"}};
 *   prom_family_begin(w, "bpfmesh_connect_refusals", PROM_COUNTER, "Refused connects.");
 *   prom_sample(w, l, 2, 42);
 *   prom_finish(w, &text, &len);   // text is malloc'd: the caller frees it
 *   prom_writer_free(w);
 *
 * Not thread-safe; a writer serves one scrape. */
#ifndef BPFMESH_PROMETHEUS_H
#define BPFMESH_PROMETHEUS_H

#include <stddef.h>
#include <stdint.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum prom_type {
	PROM_COUNTER,
	PROM_GAUGE,
	PROM_HISTOGRAM,
};

struct prom_label {
	const char *name;
	const char *value;
};

struct prom_writer;

struct prom_writer *prom_writer_new(void); /* NULL on ENOMEM */
void prom_writer_free(struct prom_writer *w);

/* Makes a family current, creating it on first use (the HELP of the first
 * call stays). A counter's name gets "_total" unless it has it. Returns 0,
 * -EINVAL for a name that is not [a-zA-Z_:][a-zA-Z0-9_:]* or a family
 * already begun with another type, -ENOMEM. */
int prom_family_begin(struct prom_writer *w, const char *name, enum prom_type type,
		      const char *help);

/* A sample of the current counter or gauge family. -EINVAL: no such family
 * current, a histogram family, or a label name that is not
 * [a-zA-Z_][a-zA-Z0-9_]* (or starts with "__"); -ENOMEM. */
int prom_sample(struct prom_writer *w, const struct prom_label *labels, size_t n, double value);

/* A series of the current histogram family: counts[0 .. nbounds] are per
 * bucket (not cumulative), counts[nbounds] above the last bound; bounds
 * ascending. Written as cumulative _bucket{le=...} lines ending in
 * le="+Inf", then _sum, then _count (equal to the +Inf bucket). -EINVAL also
 * for a label named "le". */
int prom_histogram(struct prom_writer *w, const struct prom_label *labels, size_t n,
		   const double *bounds, size_t nbounds, const uint64_t *counts, double sum);

/* The exposition, NUL-terminated, malloc'd for the caller. 0 or -ENOMEM (also
 * when any earlier allocation failed: a partial scrape would lie). */
int prom_finish(struct prom_writer *w, char **text, size_t *len);

size_t prom_dropped(const struct prom_writer *w); /* samples rejected or duplicate */

/* A float as Prometheus parses it ("+Inf", "-Inf", "NaN", "0.005", "1e-09"),
 * whatever the locale; returns buf. */
char *prom_format_double(char *buf, size_t size, double v);

#endif
