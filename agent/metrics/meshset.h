/* SPDX-License-Identifier: Apache-2.0 */
/* meshset.h: a neutral list of counter and gauge families (the mesh's own
 * bpfmesh.* metrics are collected into one by agent/daemon/meshmetrics.c),
 * written as Prometheus text (bpfmesh_* families) or as OTLP metrics, so
 * both exports carry the same series. Names and label keys are
 * OpenTelemetry style ("service.name"); the Prometheus view turns dots into
 * underscores and adds _total to counters, as OpenTelemetry's Prometheus
 * exporters do. */
#ifndef BPFMESH_MESHSET_H
#define BPFMESH_MESHSET_H

#include <stdbool.h>
#include <stddef.h>

#include "exporters/otlp_metrics.h"
#include "exporters/prometheus.h"

#define MM_LABELS 4
#define MM_VALUE_MAX 160

struct mm_sample {
	const char *keys[MM_LABELS];
	char values[MM_LABELS][MM_VALUE_MAX];
	int n_labels;
	double value;
};

struct mm_family {
	const char *name; /* "bpfmesh.connections.opened" */
	const char *unit; /* UCUM, e.g. "{connection}" */
	const char *help;
	bool counter; /* else a gauge */
	struct mm_sample *samples;
	size_t n, cap;
};

struct mm_set {
	struct mm_family *fams;
	size_t n, cap;
	bool oom; /* something could not be added */
};

void mm_set_free(struct mm_set *set);

/* One family per name: a second call with the same name returns the first
 * family (NULL when out of memory, noted in set->oom). */
struct mm_family *mm_family(struct mm_set *set, const char *name, const char *unit,
			    const char *help, bool counter);
/* labels: n_labels (key, value) pairs as const char *. */
void mm_add(struct mm_set *set, struct mm_family *f, double value, int n_labels, ...);

/* The Prometheus name of a family: "bpfmesh_connections_opened_total". */
void mm_prom_name(const struct mm_family *f, char *buf, size_t len);
int mm_set_write_prom(const struct mm_set *set, struct prom_writer *w);

/* OTLP metrics for one resource: *out (malloc'd, with its points and
 * attributes in one block, free() it) holds set->n metrics. start and now in
 * unix ns. 0 or -ENOMEM. */
int mm_set_to_otlp(const struct mm_set *set, uint64_t start_unix_ns, uint64_t now_unix_ns,
		   struct otlp_metric **out, size_t *n_out, void **block);

#endif
