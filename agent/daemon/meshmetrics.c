/* SPDX-License-Identifier: Apache-2.0 */
/* meshmetrics.c: the mesh's own series (bpfmesh.*), read from the agent:
 * per endpoint and service from the kernel's maps, refusals, the capture
 * and span pipeline, the exporters, config reloads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/agent.h"
#include "daemon/meshmetrics.h"
#include "exporters/otlp.h"
#include "lb/health.h"
#include "lb/svcstats.h"
#include "metrics/metrics.h"
#include "trace/spanbuild.h"

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
		const char *svc = s->meta.name, *ns = s->meta.ns;

		for (int ei = 0; ei < s->n_endpoints; ei++) {
			const struct cfg_endpoint *e = &s->endpoints[ei];
			struct ep_view v;
			char ep[INET6_ADDRSTRLEN + 8];

			svcstats_endpoint(&a->lm, &a->health, s, e, &v);
			if (e->port)
				snprintf(ep, sizeof(ep), "%s%s%s:%u",
					 e->addr.family == AF_INET6 ? "[" : "", v.address,
					 e->addr.family == AF_INET6 ? "]" : "", e->port);
			else
				snprintf(ep, sizeof(ep), "%s", v.address);
/* every per-service series names its service by namespace and name */
#define SVC_EP "service.name", svc, "service.namespace", ns, "endpoint", ep
			mm_add(set, opened, v.sum.opened, 3, SVC_EP);
			mm_add(set, closed, v.sum.closed, 3, SVC_EP);
			mm_add(set, active, v.active, 3, SVC_EP);
			mm_add(set, selected, v.sum.selected, 3, SVC_EP);
			mm_add(set, h5xx, v.sum.http_5xx, 3, SVC_EP);
			mm_add(set, ejections, v.worst.ejections, 3, SVC_EP);
			mm_add(set, failures, v.sum.refused, 4, SVC_EP, "reason", "refused");
			mm_add(set, failures, v.sum.timed_out, 4, SVC_EP, "reason", "timeout");
			mm_add(set, failures, v.sum.reset, 4, SVC_EP, "reason", "reset");
			for (int k = 0; k < 3; k++)
				mm_add(set, state, v.worst.state == k, 4, SVC_EP, "state",
				       states[k]);
		}
	}
#undef SVC_EP
}

static void collect_services(struct agent *a, struct mm_set *set)
{
	const struct mesh_config *cfg = a->cfg;
	static const char *const states[] = {"closed", "open", "half_open"};
	struct mm_family *breaker, *pool, *refusals;

	breaker = mm_family(
	    set, "bpfmesh.breaker.state", "1",
	    "Circuit breaker of the service: 1 for its current state, 0 for the others.", false);
	pool = mm_family(
	    set, "bpfmesh.pool.connections", "{connection}",
	    "Connections held against the service's connectionPool.tcp.maxConnections.", false);
	if (cfg && cfg->n_services) {
		struct svc_view *v = calloc(cfg->n_services, sizeof(*v));

		if (!v || svcstats_services(&a->lm, &a->health, v, cfg->n_services))
			set->oom = true;
		for (int si = 0; v && !set->oom && si < cfg->n_services; si++) {
			for (int k = 0; k < 3; k++)
				mm_add(set, breaker, v[si].worst.breaker == k, 3, "service.name",
				       cfg->services[si].meta.name, "service.namespace",
				       cfg->services[si].meta.ns, "state", states[k]);
			mm_add(set, pool, v[si].pool_active, 2, "service.name",
			       cfg->services[si].meta.name, "service.namespace",
			       cfg->services[si].meta.ns);
		}
		free(v);
	}
	refusals = mm_family(set, "bpfmesh.refusals", "{connection}",
			     "connect() calls the kernel refused, by reason.", true);
	for (int i = 0; i < health_n_refusals; i++)
		mm_add(set, refusals, health_drops(&a->health, health_refusals[i].reason), 1,
		       "reason", health_refusals[i].name);
}

/* traceparent injection's counters (bpf/inject.h), by outcome */
static void collect_injection(struct agent *a, struct mm_set *set)
{
	static const char *const names[INJECT_ST_MAX] = {
	    "injected", "has_traceparent", "head_too_big", "head_split", "push_failed", NULL};
	uint64_t st[INJECT_ST_MAX];
	struct mm_family *f;

	injector_stats(&a->inj, st);
	f = mm_family(set, "bpfmesh.inject.requests", "{request}",
		      "Requests the traceparent injection saw, by outcome.", true);
	for (int i = 0; i < INJECT_ST_MAX; i++)
		if (names[i])
			mm_add(set, f, st[i], 1, "outcome", names[i]);
}

static void collect_tracing(struct agent *a, struct mm_set *set)
{
	struct tracing_stats ts;
	struct exports_stats xs;
	struct mm_family *f;

	tracing_get_stats(&a->tracing, &ts);
	exports_get_stats(&a->exp, &xs);
	f = mm_family(set, "bpfmesh.capture.events", "{event}",
		      "Events read from the capture ring buffer.", true);
	mm_add(set, f, ts.capture_events, 0);
	f = mm_family(set, "bpfmesh.capture.drops", "{event}",
		      "What HTTP capture lost in the kernel, by reason.", true);
	for (int i = 0; i < TRACING_KERNEL_DROPS; i++)
		if (tracing_kernel_drop_name(i))
			mm_add(set, f, ts.kernel_drops[i], 1, "reason",
			       tracing_kernel_drop_name(i));
	f = mm_family(set, "bpfmesh.capture.http2.requests", "{request}",
		      "HTTP/2 requests (streams) seen.", true);
	mm_add(set, f, ts.h2.streams, 0);
	f = mm_family(set, "bpfmesh.capture.http2.desync_requests", "{request}",
		      "HTTP/2 requests of a connection that had lost bytes: timed and counted, "
		      "fields (path) may be missing.",
		      true);
	mm_add(set, f, ts.h2.desync_requests, 0);
	f = mm_family(set, "bpfmesh.capture.tls_connections", "{connection}",
		      "TLS connections (a ClientHello) capture cannot read, by the side of the "
		      "meshed socket: client (sent it) or server (received it).",
		      true);
	mm_add(set, f, ts.tls_hellos[0], 1, "side", "client");
	mm_add(set, f, ts.tls_hellos[1], 1, "side", "server");
	f = mm_family(set, "bpfmesh.spans", "{span}", "Spans built, sampled or not.", true);
	mm_add(set, f, ts.spans, 0);
	if (a->tracing.sb) {
		f = mm_family(set, "bpfmesh.spans.sampled", "{span}", "Spans the sampler kept.",
			      true);
		mm_add(set, f, ts.builder.spans_sampled, 0);
		f = mm_family(set, "bpfmesh.spans.dropped", "{span}",
			      "Spans the span builder could not build or did not keep, by reason.",
			      true);
		for (int i = 0; i < SB_DROP__MAX; i++)
			mm_add(set, f, ts.builder.dropped[i], 1, "reason", sb_drop_name(i));
	}
	if (xs.otlp) {
		f = mm_family(set, "bpfmesh.otlp.batches", "{batch}",
			      "OTLP export requests, by signal and result.", true);
		mm_add(set, f, xs.traces.batches_sent, 2, "signal", "traces", "result", "sent");
		mm_add(set, f, xs.traces.batches_failed, 2, "signal", "traces", "result", "failed");
		f = mm_family(set, "bpfmesh.otlp.spans.exported", "{span}",
			      "Spans the collector accepted.", true);
		mm_add(set, f, xs.traces.spans_exported, 0);
		f = mm_family(set, "bpfmesh.otlp.spans.dropped", "{span}",
			      "Spans the exporter gave up on, by reason.", true);
		for (int i = 0; i < OTLP_DROP__MAX; i++)
			mm_add(set, f, xs.traces.spans_dropped[i], 1, "reason", otlp_drop_name(i));
		f = mm_family(set, "bpfmesh.otlp.requests.failed", "{request}",
			      "OTLP requests without a 2xx answer (retried or not).", true);
		mm_add(set, f, xs.traces.requests_failed, 1, "signal", "traces");
	}
	if (xs.otlp_metrics) {
		f = mm_family(set, "bpfmesh.otlp.batches", "{batch}",
			      "OTLP export requests, by signal and result.", true);
		mm_add(set, f, xs.metrics_export.snapshots_sent, 2, "signal", "metrics", "result",
		       "sent");
		mm_add(set, f, xs.metrics_export.snapshots_failed, 2, "signal", "metrics", "result",
		       "failed");
		f = mm_family(set, "bpfmesh.otlp.points.exported", "{point}",
			      "Metric data points the collector accepted.", true);
		mm_add(set, f, xs.metrics_export.points_exported, 0);
		f = mm_family(set, "bpfmesh.otlp.requests.failed", "{request}",
			      "OTLP requests without a 2xx answer (retried or not).", true);
		mm_add(set, f, xs.metrics_export.requests_failed, 1, "signal", "metrics");
	}
	collect_injection(a, set);
	f = mm_family(set, "bpfmesh.metrics.overflow", "{span}",
		      "Requests filed under an overflow series (cardinality caps), by kind.", true);
	for (int i = 0; i < METRICS_OVF__MAX; i++)
		mm_add(set, f, xs.registry.overflow[i], 1, "kind", metrics_overflow_name(i));
}

/* Kubernetes API errors per resource (an outage counts every failed
 * retry); nothing in file-only mode. */
static void collect_kube(struct agent *a, struct mm_set *set)
{
	struct kube_resource_status st[KUBESYNC_MAX_RES];
	size_t n = kubesync_status(a->kube, st, KUBESYNC_MAX_RES);
	struct mm_family *f;

	if (!a->kube)
		return;
	f = mm_family(set, "bpfmesh.kube.watch.errors", "{error}",
		      "Failed Kubernetes API list and watch requests, by resource.", true);
	for (size_t i = 0; i < n && i < KUBESYNC_MAX_RES; i++)
		mm_add(set, f, st[i].errors, 1, "resource", st[i].name);
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
	collect_kube(a, set);
	f = mm_family(set, "bpfmesh.kernel.feature", "1",
		      "What the running kernel offers the agent: 1 present, 0 absent "
		      "(kernel.features of /api/v1/status).",
		      false);
	for (int i = 0; i < KF_N; i++)
		if (a->ld.feat.known[i])
			mm_add(set, f, a->ld.feat.has[i], 1, "feature", kfeat_name(i));
	return set->oom ? -ENOMEM : 0;
}
