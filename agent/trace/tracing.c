/* SPDX-License-Identifier: Apache-2.0 */
/* tracing.c: wiring of the tracing pipeline: observations from the capture
 * reader get the service of their socket (identity.h) before they go to the
 * span builder. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpf/http.h"
#include "bpf/lb.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/percpu.h"
#include "trace/spanbuild.h"
#include "trace/tracing.h"

static void emit(const struct span *sp, const struct span_packed *pk, void *ctx)
{
	struct tracing *t = ctx;

	t->spans++;
	for (int i = 0; i < t->n_sinks; i++)
		if (sp->sampled || !t->sinks[i].sampled_only)
			t->sinks[i].fn(sp, pk, t->sinks[i].ctx);
}

int tracing_add_sink(struct tracing *t, const char *name, span_sink_fn fn, void *ctx,
		     bool sampled_only)
{
	if (t->n_sinks == TRACING_MAX_SINKS)
		return -ENOSPC;
	t->sinks[t->n_sinks++] = (struct span_sink){name, fn, ctx, sampled_only};
	return 0;
}

static void on_obs(struct obs *o, void *ctx)
{
	struct tracing *t = ctx;

	if (!t->sb)
		return;
	/* only a request says which process a socket serves */
	if (o->kind == OBS_REQUEST)
		identity_resolve(&t->id, o);
	sb_feed(t->sb, o);
	if (o->kind == OBS_CLOSE)
		identity_forget(&t->id, o->cookie);
}

static int64_t clock_offset(void)
{
	struct timespec r, m;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000LL + (r.tv_nsec - m.tv_nsec);
}

/* The builder's settings as text, to rebuild it only when they change. */
static void sb_key_of(const struct cfg_telemetry *tel, char *key, size_t len)
{
	size_t off;

	if (!tel) {
		snprintf(key, len, "none");
		return;
	}
	off = snprintf(key, len, "%g|%d|%llu|%d", tel->sampling_ratio, tel->sample_errors,
		       (unsigned long long)tel->sample_slower_than_ms, tel->redact_query);
	for (int i = 0; i < tel->n_routes && off < len; i++)
		off += snprintf(key + off, len - off, "|%s", tel->routes[i]);
}

/* A connect()ed socket the load balancer sent to an endpoint has its
 * service address in lb_conns, by the socket's cookie, while it lives; an
 * HTTP/2 client's also in h2_lb after it closed (an HTTP/1.x client's
 * first request record carries it, bpf/http.h HTTP_EVF_SVC). */
static int lb_service_addr(uint64_t cookie, struct obs_addr *out, void *ctx)
{
	struct tracing *t = ctx;
	struct lb_conn c;

	if ((t->lb_conns_fd < 0 || bpf_map_lookup_elem(t->lb_conns_fd, &cookie, &c)) &&
	    (t->h2_lb_fd < 0 || bpf_map_lookup_elem(t->h2_lb_fd, &cookie, &c)))
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->family = c.family;
	memcpy(out->addr, c.addr, c.family == AF_INET ? 4 : 16);
	out->port = ntohs(c.port);
	return 0;
}

/* How far the HTTP/1.x response in flight on a socket got: capture's
 * state of the socket (bpf/http.h), while a response is in flight. */
static int http_resp_at(uint64_t cookie, struct obs_resp_at *at, uint64_t *last_ns, void *ctx)
{
	struct tracing *t = ctx;
	struct http_conn c;

	if (t->http_conns_fd < 0 || bpf_map_lookup_elem(t->http_conns_fd, &cookie, &c) ||
	    !c.resp_state)
		return -ENOENT;
	_Static_assert(sizeof(*at) == sizeof(c.resp), "obs_resp_at is http_resp_at");
	memcpy(at, &c.resp, sizeof(*at));
	*last_ns = c.resp_last;
	return 0;
}

static void rebuild(struct tracing *t, const struct cfg_telemetry *tel)
{
	const char **routes = NULL;
	struct sb_config c = {
	    .emit = emit,
	    .emit_ctx = t,
	    .host_name = t->host,
	    .clock_offset_ns = t->clock_offset_ns,
	    .sampling_ratio = tel ? tel->sampling_ratio : 1.0,
	    .sample_errors = tel ? tel->sample_errors : true,
	    .sample_slower_than_ms = tel ? tel->sample_slower_than_ms : 0,
	    .emit_unsampled = true,
	    .redact_query = tel && tel->redact_query,
	    .service_addr = t->lb_conns_fd >= 0 ? lb_service_addr : NULL,
	    .service_addr_ctx = t,
	    .resp_at = t->http_conns_fd >= 0 ? http_resp_at : NULL,
	    .resp_at_ctx = t,
	};

	if (tel && tel->n_routes) {
		routes = calloc(tel->n_routes, sizeof(*routes));
		for (int i = 0; routes && i < tel->n_routes; i++)
			routes[i] = tel->routes[i];
		c.routes = routes;
		c.n_routes = routes ? tel->n_routes : 0;
	}
	if (t->sb) {
		sb_flush(t->sb);
		sb_free(t->sb);
	}
	t->sb = sb_new(&c);
	if (!t->sb)
		log_error("span builder: %s", strerror(errno));
	else
		sb_set_inject_key(t->sb, t->inject_key);
	free(routes);
}

int tracing_init(struct tracing *t, int ring_fd, int drops_fd)
{
	memset(t, 0, sizeof(*t));
	t->lb_conns_fd = -1;
	t->h2_lb_fd = -1;
	t->http_conns_fd = -1;
	gethostname(t->host, sizeof(t->host) - 1);
	t->clock_offset_ns = clock_offset();
	if (identity_init(&t->id))
		return -ENOMEM;
	snprintf(t->sb_key, sizeof(t->sb_key), "unset");
	return events_init(&t->ev, ring_fd, drops_fd, on_obs, t);
}

void tracing_apply(struct tracing *t, const struct mesh_config *cfg)
{
	const struct cfg_telemetry *tel = cfg ? cfg->telemetry : NULL;
	char key[sizeof(t->sb_key)];

	t->cfg = cfg;
	identity_set_config(&t->id, cfg);
	sb_key_of(tel, key, sizeof(key));
	if (strcmp(key, t->sb_key) || !t->sb) {
		rebuild(t, tel);
		snprintf(t->sb_key, sizeof(t->sb_key), "%s", key);
	}
}

void tracing_set_node_name(struct tracing *t, const char *node)
{
	identity_set_node_name(&t->id, node);
}

void tracing_set_h2_outcome(struct tracing *t, int prog_fd) { t->ev.h2_out.prog_fd = prog_fd; }

void tracing_set_lb_conns(struct tracing *t, int fd)
{
	t->lb_conns_fd = fd;
	snprintf(t->sb_key, sizeof(t->sb_key), "unset"); /* the builder is made anew */
}

void tracing_set_h2_lb(struct tracing *t, int fd) { t->h2_lb_fd = fd; }

void tracing_set_http_conns(struct tracing *t, int fd)
{
	t->http_conns_fd = fd;
	snprintf(t->sb_key, sizeof(t->sb_key), "unset"); /* the builder is made anew */
}

void tracing_set_inject_key(struct tracing *t, uint64_t key)
{
	t->inject_key = key;
	if (t->sb)
		sb_set_inject_key(t->sb, key);
}

const char *tracing_kernel_drop_name(int i)
{
	/* by http_drop_reason; HTTP_DROP_PIPELINE is no longer counted (the
	 * agent splits pipelined requests): NULL, not exported */
	static const char *const names[TRACING_KERNEL_DROPS] = {
	    "ringbuf_full", "conns_full", "load_failed", NULL, "head_too_long"};

	return i >= 0 && i < TRACING_KERNEL_DROPS ? names[i] : "unknown";
}

void tracing_get_stats(struct tracing *t, struct tracing_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->capture_events = t->ev.events;
	st->capture_bytes = t->ev.bytes;
	st->requests = t->ev.requests;
	st->responses = t->ev.responses;
	st->closes = t->ev.closes;
	st->h2 = t->ev.h2.st;
	for (int i = 0; i < TRACING_KERNEL_DROPS; i++)
		st->kernel_drops[i] = percpu_sum(t->ev.drops_fd, i);
	st->tls_hellos[0] = percpu_sum(t->ev.drops_fd, HTTP_COUNT_TLS_SENT);
	st->tls_hellos[1] = percpu_sum(t->ev.drops_fd, HTTP_COUNT_TLS_RECV);
	if (t->sb)
		sb_get_stats(t->sb, &st->builder);
	st->spans = t->spans;
}

int tracing_fd(struct tracing *t) { return events_fd(&t->ev); }

void tracing_consume(struct tracing *t) { events_consume(&t->ev); }

void tracing_tick(struct tracing *t, uint64_t now)
{
	events_tick(&t->ev, now);
	if (t->sb)
		sb_tick(t->sb, now);
}

size_t tracing_sdk_procs(struct tracing *t, struct sb_sdk_id *out, size_t max)
{
	return t->sb ? sb_sdk_procs(t->sb, out, max) : 0;
}

void tracing_free(struct tracing *t)
{
	if (t->sb) {
		sb_flush(t->sb);
		sb_free(t->sb);
	}
	t->sb = NULL;
	events_free(&t->ev);
	identity_free(&t->id);
}
