/* SPDX-License-Identifier: Apache-2.0 */
/* tracing.h: the agent's tracing pipeline: kernel capture events ->
 * observations (events.c, with the protocol parsers of proto.h) -> their
 * service (identity.c) -> spans (spanbuild.c) -> the sinks the agent
 * registered (agent/daemon/exports.c: request metrics, the recent-span
 * store, the OTLP exporter). Runs on the agent's main thread under the
 * agent's lock. */
#ifndef BPFMESH_TRACING_H
#define BPFMESH_TRACING_H

#include <stdint.h>

#include <stdbool.h>

#include "config/config.h"
#include "exporters/span.h"
#include "trace/events.h"
#include "trace/identity.h"
#include "trace/spanbuild.h"

struct spanbuild;

/* A consumer of finished spans. Called on the agent's main thread; must not
 * call back into the pipeline. pk: sp packed (span_pack.h), when the span
 * builder had it so, else NULL; a sink that keeps spans packed takes it. */
typedef void (*span_sink_fn)(const struct span *sp, const struct span_packed *pk, void *ctx);

#define TRACING_MAX_SINKS 8
#define TRACING_KERNEL_DROPS 5 /* reasons of bpf/http.h's http_drops, 0..HTTP_DROP_HEAD_LONG */

struct span_sink {
	const char *name; /* for logs */
	span_sink_fn fn;
	void *ctx;
	bool sampled_only; /* else every span, sampled or not (sp->sampled says) */
};

struct tracing {
	struct events ev;
	struct spanbuild *sb;
	struct span_sink sinks[TRACING_MAX_SINKS];
	int n_sinks;
	const struct mesh_config *cfg; /* in force */
	struct identity id;	       /* whose a socket is */
	char host[64];
	int64_t clock_offset_ns; /* unix = monotonic + offset */
	char sb_key[4096];	 /* the Telemetry settings the builder was made with */
	uint64_t spans;
	int lb_conns_fd;     /* -1: no load balancer to ask */
	int h2_lb_fd;	     /* capture's copy of lb_conns for HTTP/2 clients; -1: none */
	int http_conns_fd;   /* capture's per-socket state (bpf/http.h); -1: none */
	uint64_t inject_key; /* injection's span-id tag key, 0 while off (sb_set_inject_key) */
};

/* The pipeline's counters, stage by stage, read at once: the API
 * (/api/v1/config "tracing") and the bpfmesh.* metrics both show these. */
struct tracing_stats {
	/* capture: the kernel side and the ring reader */
	uint64_t capture_events;		     /* records read from the ring */
	uint64_t capture_bytes;			     /* their bytes */
	uint64_t requests, responses, closes;	     /* of those, by kind */
	uint64_t kernel_drops[TRACING_KERNEL_DROPS]; /* http_drops, by reason */
	struct h2_stats h2;			     /* HTTP/2 connections (h2_conn.h) */
	/* TLS ClientHellos the kernel counted (bpf/http.h HTTP_COUNT_TLS_*):
	 * [0] sent by a meshed socket (its client), [1] received (its server) */
	uint64_t tls_hellos[2];
	/* the span builder (all zero before the first configuration) */
	struct sb_stats builder;
	uint64_t spans; /* handed to the sinks, sampled or not */
};

/* by index of tracing_stats.kernel_drops: "ringbuf_full", ...; NULL for a
 * reason no longer counted (not exported) */
const char *tracing_kernel_drop_name(int i);

void tracing_get_stats(struct tracing *t, struct tracing_stats *st);

int tracing_init(struct tracing *t, int ring_fd, int drops_fd);
/* Every finished span goes to each sink, in the order added (sampled_only:
 * only spans the sampler kept). 0, or -ENOSPC past TRACING_MAX_SINKS. */
int tracing_add_sink(struct tracing *t, const char *name, span_sink_fn fn, void *ctx,
		     bool sampled_only);
void tracing_free(struct tracing *t);
/* A new configuration in force (call after it replaced the old one). */
void tracing_apply(struct tracing *t, const struct mesh_config *cfg);
/* This node's name (k8s.node.name of pods that do not name theirs); NULL or
 * "" off Kubernetes. */
void tracing_set_node_name(struct tracing *t, const char *node);

/* bm_h2_outcome (bpf/h2.h): HTTP/2 responses feed outlier detection (-1: not) */
void tracing_set_h2_outcome(struct tracing *t, int prog_fd);
/* The load balancer's lb_conns map (bpf/lb.h): CLIENT spans then name the
 * service address the application connected to in server.*. -1: none. */
void tracing_set_lb_conns(struct tracing *t, int fd);
/* Capture's h2_lb map (bpf/lib/h2.bpf.h): lb_conns' entry of each balanced
 * HTTP/2 client socket, copied when capture recognised it and kept after
 * the socket closed, which lb_conns' entry is not. -1: none. */
void tracing_set_h2_lb(struct tracing *t, int fd);
/* Capture's per-socket state (http_conns3): how far a response got, read
 * for one that went quiet (sb_config.resp_at); -1: not known. */
void tracing_set_http_conns(struct tracing *t, int fd);
/* Injection's key (agent/lb/inject.h), 0 when off: the builder tells the
 * kernel's headers from the applications' by it. */
void tracing_set_inject_key(struct tracing *t, uint64_t key);
int tracing_fd(struct tracing *t);
/* The processes the span builder holds SDK-instrumented now (sb_sdk_procs). */
size_t tracing_sdk_procs(struct tracing *t, struct sb_sdk_id *out, size_t max);
void tracing_consume(struct tracing *t);
void tracing_tick(struct tracing *t, uint64_t now_mono_ns);

#endif
