/* SPDX-License-Identifier: Apache-2.0 */
/* meshmetrics.c: collect the bpfmesh.* series and write them out. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/agent.h"
#include "bpf/http.h"
#include "exporters/otlp.h"
#include "lb/health.h"
#include "metrics/meshmetrics.h"
#include "metrics/metrics.h"
#include "trace/spanbuild.h"
#include "lb/svcstats.h"

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

void meshmetrics_free(struct mm_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->fams[i].samples);
	free(set->fams);
	memset(set, 0, sizeof(*set));
}

static void collect_endpoints(struct agent *a, struct mm_set *set)
{
	const struct mesh_config *cfg = a->cfg;
	struct mm_family *opened, *closed, *active, *selected, *failures, *h5xx, *state, *ejections;
	static const char *const states[] = {"healthy", "ejected", "half_open"};

	opened = mm_family(set, "bpfmesh.connections.opened", "{connection}",
			   "Connections to the endpoint that were established.", true);
	closed = mm_family(set, "bpfmesh.connections.closed", "{connection}",
			   "Established connections to the endpoint that ended.", true);
	active = mm_family(set, "bpfmesh.connections.active", "{connection}",
			   "Connections to the endpoint open now.", false);
	selected = mm_family(set, "bpfmesh.lb.selections", "{selection}",
			     "Times the load balancer chose the endpoint for a connect().", true);
	failures = mm_family(set, "bpfmesh.connect.failures", "{connection}",
			     "Connections to the endpoint that failed, by reason.", true);
	h5xx =
	    mm_family(set, "bpfmesh.endpoint.http_5xx", "{response}",
		      "HTTP 5xx responses from the endpoint on load-balanced connections.", true);
	state =
	    mm_family(set, "bpfmesh.endpoint.state", "1",
		      "Health of the endpoint: 1 for its current state, 0 for the others.", false);
	ejections = mm_family(set, "bpfmesh.endpoint.ejections", "{ejection}",
			      "Times the endpoint was ejected by outlier detection.", true);
	for (int si = 0; cfg && si < cfg->n_services; si++) {
		const struct cfg_service *s = &cfg->services[si];
		const char *svc = s->meta.name;

		for (int ei = 0; ei < s->n_endpoints; ei++) {
			const struct cfg_endpoint *e = &s->endpoints[ei];
			struct ep_view v;
			char ep[INET6_ADDRSTRLEN + 8];

			svcstats_endpoint(a, s, e, &v);
			if (e->port)
				snprintf(ep, sizeof(ep), "%s%s%s:%u",
					 e->addr.family == AF_INET6 ? "[" : "", v.address,
					 e->addr.family == AF_INET6 ? "]" : "", e->port);
			else
				snprintf(ep, sizeof(ep), "%s", v.address);
#define L2 2, "service.name", svc, "endpoint", ep
			mm_add(set, opened, v.sum.opened, L2);
			mm_add(set, closed, v.sum.closed, L2);
			mm_add(set, active, v.active, L2);
			mm_add(set, selected, v.sum.selected, L2);
			mm_add(set, h5xx, v.sum.http_5xx, L2);
			mm_add(set, ejections, v.worst.ejections, L2);
#undef L2
			mm_add(set, failures, v.sum.refused, 3, "service.name", svc, "endpoint", ep,
			       "reason", "refused");
			mm_add(set, failures, v.sum.timed_out, 3, "service.name", svc, "endpoint",
			       ep, "reason", "timeout");
			mm_add(set, failures, v.sum.reset, 3, "service.name", svc, "endpoint", ep,
			       "reason", "reset");
			for (int k = 0; k < 3; k++)
				mm_add(set, state, v.worst.state == k, 3, "service.name", svc,
				       "endpoint", ep, "state", states[k]);
		}
	}
}

static void collect_services(struct agent *a, struct mm_set *set)
{
	const struct mesh_config *cfg = a->cfg;
	static const char *const states[] = {"closed", "open", "half_open"};
	struct mm_family *breaker, *pool, *refusals;
	static const struct {
		int reason;
		const char *name;
	} r[] = {
	    {LB_DROP_NO_ENDPOINT, "no_endpoint"},     {LB_DROP_ALL_EJECTED, "all_ejected"},
	    {LB_DROP_BREAKER_OPEN, "breaker_open"},   {LB_DROP_BULKHEAD, "bulkhead"},
	    {LB_DROP_RATE_LIMIT, "rate_limited"},     {LB_DROP_TC_EJECTED, "tc_ejected"},
	    {LB_DROP_NO_BACKEND, "no_backend"},	      {LB_DROP_REVNAT_FULL, "revnat_full"},
	    {LB_DROP_ACCESS_DENIED, "access_denied"},
	};

	breaker = mm_family(
	    set, "bpfmesh.breaker.state", "1",
	    "Circuit breaker of the service: 1 for its current state, 0 for the others.", false);
	pool = mm_family(
	    set, "bpfmesh.pool.connections", "{connection}",
	    "Connections held against the service's connectionPool.tcp.maxConnections.", false);
	if (cfg && cfg->n_services) {
		struct svc_view *v = calloc(cfg->n_services, sizeof(*v));

		if (!v || svcstats_services(a, v, cfg->n_services))
			set->oom = true;
		for (int si = 0; v && !set->oom && si < cfg->n_services; si++) {
			for (int k = 0; k < 3; k++)
				mm_add(set, breaker, v[si].worst.breaker == k, 2, "service.name",
				       cfg->services[si].meta.name, "state", states[k]);
			mm_add(set, pool, v[si].pool_active, 1, "service.name",
			       cfg->services[si].meta.name);
		}
		free(v);
	}
	refusals = mm_family(set, "bpfmesh.refusals", "{connection}",
			     "connect() calls the kernel refused, by reason.", true);
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		mm_add(set, refusals, health_drops(&a->health, r[i].reason), 1, "reason",
		       r[i].name);
}

static void collect_tracing(struct agent *a, struct mm_set *set)
{
	struct tracing *t = &a->tracing;
	/* by http_drop_reason; HTTP_DROP_PIPELINE is no longer counted (the
	 * agent splits pipelined requests) */
	static const char *const drops[] = {"ringbuf_full", "conns_full", "load_failed"};
	struct mm_family *f;

	f = mm_family(set, "bpfmesh.capture.events", "{event}",
		      "Events read from the capture ring buffer.", true);
	mm_add(set, f, t->ev.events, 0);
	f = mm_family(set, "bpfmesh.capture.drops", "{event}",
		      "What HTTP capture lost in the kernel, by reason.", true);
	for (size_t i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
		mm_add(set, f, lbm_percpu_sum(t->ev.drops_fd, i), 1, "reason", drops[i]);
	f = mm_family(set, "bpfmesh.spans", "{span}", "Spans built, sampled or not.", true);
	mm_add(set, f, t->spans, 0);
	if (t->sb) {
		struct sb_stats st;

		sb_get_stats(t->sb, &st);
		f = mm_family(set, "bpfmesh.spans.sampled", "{span}", "Spans the sampler kept.",
			      true);
		mm_add(set, f, st.spans_sampled, 0);
		f = mm_family(set, "bpfmesh.spans.dropped", "{span}",
			      "Spans the span builder could not build or did not keep, by reason.",
			      true);
		for (int i = 0; i < SB_DROP__MAX; i++)
			mm_add(set, f, st.dropped[i], 1, "reason", sb_drop_name(i));
	}
	if (t->otlp) {
		struct otlp_stats os;

		otlp_get_stats(t->otlp, &os);
		f = mm_family(set, "bpfmesh.otlp.batches", "{batch}",
			      "OTLP export requests, by signal and result.", true);
		mm_add(set, f, os.batches_sent, 2, "signal", "traces", "result", "sent");
		mm_add(set, f, os.batches_failed, 2, "signal", "traces", "result", "failed");
		f = mm_family(set, "bpfmesh.otlp.spans.exported", "{span}",
			      "Spans the collector accepted.", true);
		mm_add(set, f, os.spans_exported, 0);
		f = mm_family(set, "bpfmesh.otlp.spans.dropped", "{span}",
			      "Spans the exporter gave up on, by reason.", true);
		for (int i = 0; i < OTLP_DROP__MAX; i++)
			mm_add(set, f, os.spans_dropped[i], 1, "reason", otlp_drop_name(i));
		f = mm_family(set, "bpfmesh.otlp.requests.failed", "{request}",
			      "OTLP requests without a 2xx answer (retried or not).", true);
		mm_add(set, f, os.requests_failed, 1, "signal", "traces");
	}
	if (t->otlp_metrics) {
		struct otlp_metrics_stats om;

		otlp_metrics_get_stats(t->otlp_metrics, &om);
		f = mm_family(set, "bpfmesh.otlp.batches", "{batch}",
			      "OTLP export requests, by signal and result.", true);
		mm_add(set, f, om.snapshots_sent, 2, "signal", "metrics", "result", "sent");
		mm_add(set, f, om.snapshots_failed, 2, "signal", "metrics", "result", "failed");
		f = mm_family(set, "bpfmesh.otlp.points.exported", "{point}",
			      "Metric data points the collector accepted.", true);
		mm_add(set, f, om.points_exported, 0);
		f = mm_family(set, "bpfmesh.otlp.requests.failed", "{request}",
			      "OTLP requests without a 2xx answer (retried or not).", true);
		mm_add(set, f, om.requests_failed, 1, "signal", "metrics");
	}
	if (t->metrics) {
		struct metrics_stats ms;

		metrics_get_stats(t->metrics, &ms);
		f = mm_family(
		    set, "bpfmesh.metrics.overflow", "{span}",
		    "Requests filed under an overflow series (cardinality caps), by kind.", true);
		for (int i = 0; i < METRICS_OVF__MAX; i++)
			mm_add(set, f, ms.overflow[i], 1, "kind", metrics_overflow_name(i));
	}
}

int meshmetrics_collect(struct agent *a, struct mm_set *set)
{
	struct mm_family *f;

	memset(set, 0, sizeof(*set));
	collect_endpoints(a, set);
	collect_services(a, set);
	collect_tracing(a, set);
	f = mm_family(set, "bpfmesh.config.reloads", "{reload}",
		      "Configuration loads, by result (rejected ones leave the previous in force).",
		      true);
	mm_add(set, f, a->reloads, 1, "result", "applied");
	mm_add(set, f, a->reload_errors, 1, "result", "rejected");
	return set->oom ? -ENOMEM : 0;
}

void mm_prom_name(const struct mm_family *f, char *buf, size_t len)
{
	size_t i;

	snprintf(buf, len, "%s%s", f->name, f->counter ? "_total" : "");
	for (i = 0; buf[i]; i++)
		if (buf[i] == '.')
			buf[i] = '_';
}

int meshmetrics_write_prom(const struct mm_set *set, struct prom_writer *w)
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

int meshmetrics_to_otlp(const struct mm_set *set, uint64_t start_unix_ns, uint64_t now_unix_ns,
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
