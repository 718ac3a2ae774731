/* SPDX-License-Identifier: Apache-2.0 */
/* api_services.c: services with their endpoints and the kernel's counters
 * (lb_ep_stats), and the configuration in force. Called with a->lock held. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "api/api_latency.h"
#include "api/api_services.h"
#include "bpf/lb.h"
#include "exporters/otlp.h"
#include "lb/health.h"
#include "trace/spanbuild.h"
#include "lb/svcstats.h"

/* Writes the endpoint; returns whether it is healthy on every port. */
static bool write_endpoint(struct agent *a, struct jsonw *w, const struct cfg_service *s,
			   const struct cfg_endpoint *e)
{
	struct ep_view v;

	svcstats_endpoint(&a->lm, &a->health, s, e, &v);
	jw_obj_open(w);
	jw_kstr(w, "address", v.address);
	if (e->port)
		jw_ku64(w, "port", e->port);
	jw_ku64(w, "weight", e->weight);
	jw_kstr(w, "health", health_state_name(v.worst.state));
	if (v.worst.state != LB_EP_HEALTHY || v.worst.reason)
		jw_kstr(w, "reason", health_reason_name(v.worst.reason));
	jw_ku64(w, "ejections", v.worst.ejections);
	jw_ku64(w, "ejectedForMs", v.ejected_left_ns / 1000000);
	jw_ku64(w, "selected", v.sum.selected);
	jw_ku64(w, "connectionsOpened", v.sum.opened);
	jw_ku64(w, "connectionsClosed", v.sum.closed);
	jw_ki64(w, "connectionsActive", v.active);
	jw_ku64(w, "connectRefused", v.sum.refused);
	jw_ku64(w, "connectTimeouts", v.sum.timed_out);
	jw_ku64(w, "resets", v.sum.reset);
	jw_ku64(w, "http5xx", v.sum.http_5xx);
	jw_obj_close(w);
	return v.worst.state == LB_EP_HEALTHY;
}

/* The worst breaker state among the service's kernel services (one per
 * port and address family), with the failure rate of its window. */
static void write_breaker(struct agent *a, struct jsonw *w, int si, const struct svc_view *pre)
{
	struct svc_view v;

	if (pre)
		v = *pre;
	else
		svcstats_service(&a->lm, &a->health, si, &v);
	jw_key(w, "breaker");
	jw_obj_open(w);
	jw_kstr(w, "state", health_breaker_name(v.worst.breaker));
	jw_ku64(w, "calls", v.worst.win_count);
	jw_ku64(w, "failures", v.worst.win_failures);
	jw_key(w, "failureRate");
	jw_dbl(w, v.worst.win_count ? 100.0 * v.worst.win_failures / v.worst.win_count : 0);
	jw_obj_close(w);
	jw_ku64(w, "poolConnections", v.pool_active);
}

/* window_s 0: without latency (the config view); single: with its routes,
 * else with its gRPC routes (rpcs). */
static void write_service(struct agent *a, struct jsonw *w, const struct cfg_service *s,
			  uint32_t window_s, bool single, const struct svc_view *pre)
{
	char ip[INET6_ADDRSTRLEN];
	int i, healthy = 0;

	jw_obj_open(w);
	jw_kstr(w, "name", s->meta.name);
	jw_kstr(w, "namespace", s->meta.ns);
	jw_kstr(w, "policy", cfg_lb_policy_name(s->policy));
	jw_key(w, "addresses");
	jw_arr_open(w);
	for (i = 0; i < s->n_addrs; i++) {
		inet_ntop(s->addrs[i].family, s->addrs[i].addr, ip, sizeof(ip));
		jw_str(w, ip);
	}
	jw_arr_close(w);
	jw_key(w, "ports");
	jw_arr_open(w);
	for (i = 0; i < s->n_ports; i++) {
		jw_obj_open(w);
		jw_kstr(w, "name", s->ports[i].name);
		jw_ku64(w, "port", s->ports[i].port);
		jw_ku64(w, "targetPort", s->ports[i].target_port);
		jw_kstr(w, "protocol", s->ports[i].protocol == IPPROTO_UDP ? "UDP" : "TCP");
		jw_obj_close(w);
	}
	jw_arr_close(w);
	write_breaker(a, w, (int)(s - a->cfg->services), pre);
	jw_key(w, "endpoints");
	jw_arr_open(w);
	for (i = 0; i < s->n_endpoints; i++)
		healthy += write_endpoint(a, w, s, &s->endpoints[i]);
	jw_arr_close(w);
	jw_ku64(w, "endpointsTotal", s->n_endpoints);
	jw_ku64(w, "endpointsHealthy", healthy);
	if (window_s) {
		api_write_latency_brief(a, w, s->meta.ns, s->meta.name, window_s);
		if (single)
			api_write_latency_routes(a, w, s->meta.ns, s->meta.name, window_s);
		else
			api_write_latency_rpcs(a, w, s->meta.ns, s->meta.name, window_s);
	}
	jw_obj_close(w);
}

int api_write_services(struct agent *a, struct jsonw *w, const char *ns, const char *name,
		       uint32_t window_s)
{
	const struct mesh_config *cfg = a->cfg;
	struct svc_view *views;
	int i;

	if (name) {
		i = cfg ? config_find_service(cfg, ns, name) : -1;
		if (i < 0)
			return -ENOENT;
		write_service(a, w, &cfg->services[i], window_s, true, NULL);
		return 0;
	}
	jw_obj_open(w);
	jw_key(w, "services");
	jw_arr_open(w);
	/* the breakers of all services in one pass over the kernel services */
	views = cfg && cfg->n_services ? calloc(cfg->n_services, sizeof(*views)) : NULL;
	if (views && svcstats_services(&a->lm, &a->health, views, cfg->n_services)) {
		free(views);
		views = NULL;
	}
	for (i = 0; cfg && i < cfg->n_services; i++)
		write_service(a, w, &cfg->services[i], window_s, false, views ? &views[i] : NULL);
	free(views);
	jw_arr_close(w);
	api_write_refusals(a, w);
	jw_obj_close(w);
	return 0;
}

/* The tracing pipeline's counters: capture, span builder, OTLP exporter. */
void api_write_tracing(struct agent *a, struct jsonw *w)
{
	struct tracing_stats ts;
	struct exports_stats xs;

	tracing_get_stats(&a->tracing, &ts);
	exports_get_stats(&a->exp, &xs);
	jw_key(w, "tracing");
	jw_obj_open(w);
	jw_ku64(w, "captureEvents", ts.capture_events);
	jw_ku64(w, "captureBytes", ts.capture_bytes);
	jw_ku64(w, "requestsSeen", ts.requests);
	jw_ku64(w, "spans", ts.spans);
	jw_key(w, "http2");
	jw_obj_open(w);
	jw_ku64(w, "connections", ts.h2.conns);
	jw_ku64(w, "requests", ts.h2.streams);
	jw_ku64(w, "desyncRequests", ts.h2.desync_requests);
	jw_ku64(w, "gaps", ts.h2.gaps);
	jw_ku64(w, "records", ts.h2.records);
	jw_ku64(w, "frames", ts.h2.frames);
	jw_ku64(w, "stops", ts.h2.stops);
	jw_obj_close(w);
	/* encrypted connections capture cannot read, by their ClientHello */
	jw_key(w, "tls");
	jw_obj_open(w);
	jw_ku64(w, "clientHellosSent", ts.tls_hellos[0]);
	jw_ku64(w, "clientHellosReceived", ts.tls_hellos[1]);
	jw_obj_close(w);
	if (a->tracing.sb) {
		const struct sb_stats *st = &ts.builder;

		jw_ku64(w, "spansSampled", st->spans_sampled);
		jw_ku64(w, "sameNodePairs", st->pairs);
		jw_ku64(w, "nestedInProcess", st->nested);
		jw_ku64(w, "serverTraceparents", st->traceparents);
		jw_ku64(w, "clientTraceparents", st->client_traceparents);
		jw_ku64(w, "sdkProcesses", st->sdk_processes);
		jw_ku64(w, "sdkDuplicates", st->sdk_duplicates);
		jw_ku64(w, "unpairedResponses", st->unpaired_responses);
		jw_ku64(w, "spansHeld", st->pending);
		jw_ku64(w, "sockets", st->sockets);
		jw_key(w, "builderDrops");
		jw_obj_open(w);
		for (int i = 0; i < SB_DROP__MAX; i++)
			jw_ku64(w, sb_drop_name(i), st->dropped[i]);
		jw_obj_close(w);
	}
	if (xs.otlp) {
		const struct otlp_stats *os = &xs.traces;

		jw_key(w, "otlp");
		jw_obj_open(w);
		jw_ku64(w, "submitted", os->spans_submitted);
		jw_ku64(w, "exported", os->spans_exported);
		jw_ku64(w, "batchesSent", os->batches_sent);
		jw_ku64(w, "batchesFailed", os->batches_failed);
		jw_ku64(w, "requestsFailed", os->requests_failed);
		jw_ku64(w, "retries", os->retries);
		jw_ku64(w, "queueLength", os->queue_len);
		jw_ku64(w, "queueCapacity", os->queue_cap);
		jw_key(w, "dropped");
		jw_obj_open(w);
		for (int i = 0; i < OTLP_DROP__MAX; i++)
			jw_ku64(w, otlp_drop_name(i), os->spans_dropped[i]);
		jw_obj_close(w);
		jw_obj_close(w);
	}
	jw_obj_close(w);
}

/* connect()s the kernel refused, by reason (lb_drops). */
void api_write_refusals(struct agent *a, struct jsonw *w)
{
	jw_key(w, "refusals");
	jw_obj_open(w);
	for (int i = 0; i < health_n_refusals; i++)
		jw_ku64(w, health_refusals[i].json,
			health_drops(&a->health, health_refusals[i].reason));
	jw_obj_close(w);
}

void api_write_config(struct agent *a, struct jsonw *w)
{
	const struct mesh_config *cfg = a->cfg;
	int i;

	jw_obj_open(w);
	jw_kstr(w, "source", a->opts.config);
	jw_kbool(w, "applied", a->applied);
	jw_ku64(w, "reloads", a->reloads);
	jw_ku64(w, "reloadErrors", a->reload_errors);
	jw_kstr(w, "lastError", a->last_error);
	jw_key(w, "files");
	jw_arr_open(w);
	for (i = 0; cfg && i < cfg->n_files; i++)
		jw_str(w, cfg->files[i]);
	jw_arr_close(w);
	jw_key(w, "services");
	jw_arr_open(w);
	for (i = 0; cfg && i < cfg->n_services; i++)
		write_service(a, w, &cfg->services[i], 0, false, NULL);
	jw_arr_close(w);
	api_write_tracing(a, w);
	jw_key(w, "documents");
	jw_obj_open(w);
	jw_ku64(w, "Service", cfg ? cfg->n_services : 0);
	jw_ku64(w, "TrafficPolicy", cfg ? cfg->n_policies : 0);
	jw_ku64(w, "Workload", cfg ? cfg->n_workloads : 0);
	jw_ku64(w, "AccessPolicy", cfg ? cfg->n_access : 0);
	jw_ku64(w, "Telemetry", cfg && cfg->telemetry ? 1 : 0);
	jw_obj_close(w);
	jw_obj_close(w);
}
