/* SPDX-License-Identifier: Apache-2.0 */
/* spanbuild.h: the span builder turns the stream of observations (obs.h)
 * into finished spans (span.h): it pairs responses with requests per
 * socket, links the two sides of a same-node call, nests a process's
 * outgoing calls under the request it is serving, honours W3C traceparent
 * headers, and samples per trace. It reads the fields that the protocol's
 * parser (proto.h) and the pipeline's identity (identity.h) put in each
 * observation and never a byte of the wire; the one value it decodes is the
 * traceparent, with tracectx.h, as every protocol carries it alike.
 *
 * A span's service is the one its request's observation names; a socket
 * keeps the latest (its responses are ignored while it is not traced).
 *
 * Parents, strongest first:
 * - a request with a valid traceparent is the child of the span it names,
 *   in its trace (headers win): a SERVER span whatever same-node pairing
 *   says, a CLIENT span (the application propagates its own context) even
 *   when the thread was serving a request; except a header that was only
 *   passed on unchanged (the one a request the process serves came with):
 *   then it names an ancestor, and the same-node CLIENT span (for a SERVER
 *   span) or the SERVER span served (for a CLIENT span, as below) is the
 *   closer parent in the same trace;
 * - a SERVER span whose CLIENT side was seen on this node is that CLIENT
 *   span's child (in its trace);
 * - a CLIENT request is the child of the SERVER request its thread is
 *   serving, with evidence only: the same thread read that request, the
 *   call comes between that read and its response, and the thread serves
 *   no other request then (an event loop with several in flight: no
 *   parent, even when the second request is observed after the call).
 * Otherwise a span is a root, in a trace of its own. A traceparent counts
 * as valid by the W3C rules (version 00 of exactly 55 characters, a later
 * version read by its version-00 prefix, never ff; lowercase hex; trace-id
 * and parent-id not all zero, one traceparent header only); any other is
 * ignored. The sampled flag of a traceparent decides its trace's sampling,
 * errors and slow spans included (W3C parent-based); the overrides keep only
 * traces that started here.
 *
 * OpenTelemetry SDKs: a process that sends a traceparent of its own (not
 * one passed on), or whose Workload says tracing.instrumented: true
 * (obs.instrumented; false: never), exports its spans with an SDK for
 * sdk_ttl_ns after the last one it sent (per pid and cgroup; a request of
 * unknown thread goes by its service). Its SERVER spans and its CLIENT
 * spans with a traceparent are the SDK's duplicates: emitted unsampled,
 * for the histograms only (sdk_duplicates). Its calls without one (the
 * SDK's own exports to its collector) are roots, never nested: a nesting
 * made before the process was known loses its parent at emit, with a trace
 * of its own that its callee's SERVER span on this node follows.
 *
 * Names and routes (OpenTelemetry HTTP conventions): a SERVER span is named
 * "METHOD route", a CLIENT span "METHOD" ("HTTP" for an unknown method).
 * Every span carries its route in span.route, the latency histograms key on
 * it for both kinds, but http.route is a server attribute: exporters set it
 * on SERVER spans only.
 *
 * Per socket, open requests wait in a FIFO (SB_FIFO_MAX deep): a response
 * belongs to the oldest request still waiting for one, which is right for
 * keep-alive and for pipelining (HTTP/1.1 answers in order); an observation
 * with a stream id (HTTP/2) pairs with the request of its stream instead,
 * and its span ends with its stream (RESPONSE_END, or a reset: ERROR),
 * never by the response-end timeout (a streaming RPC). A span starts at
 * the request's first byte and ends at the last byte of its response
 * (OBS_RESPONSE_END, or an OBS_RESPONSE_AT or a close that says all the
 * bytes its head announced have passed, or cfg.resp_at asked at a tick).
 * When none comes, the span ends where its response started: once the
 * next response on that socket begins, once the socket closes (or, for a
 * response framed by the close itself, at its last byte before the
 * close), or after response_end_timeout_ns (at its latest byte known then);
 * a RESPONSE_END that comes later, while the span is still held, still
 * sets its end. A socket that closes with
 * requests unanswered ends them with status ERROR and a status message
 * ("connection reset", "connection timed out", "connection closed before the
 * response"); http.response.status_code stays 0, it is never made up. So
 * does a close (or a reset) before the end of a response whose head declared
 * its length (Content-Length, chunked): ERROR, error.type, ended at the close.
 *
 * Finished spans are held, not emitted at once: at least pair_window_ns so
 * that the other side of a same-node call, observed a little later, can still
 * be linked, and then until no span of the same trace on this node is still
 * open (at most max_hold_ns), so that one sampling decision covers the whole
 * local part of a trace, errors and slow spans found late included.
 *
 * Single-threaded: one caller feeds, ticks and reads the stats. The emit
 * callback must not call back into the builder. */
#ifndef BPFMESH_SPANBUILD_H
#define BPFMESH_SPANBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/obs.h"
#include "exporters/span.h"
#include "exporters/span_pack.h"

/* Every finished span, sampled or not when emit_unsampled (then sp->sampled
 * says which: latency histograms want them all, OTLP only the sampled).
 * pk: sp packed, when the builder held it packed (most spans), else NULL. */
typedef void (*sb_emit_fn)(const struct span *sp, const struct span_packed *pk, void *ctx);

/* The address a CLIENT socket's connect() named, before the load balancer
 * sent it to an endpoint: 0 and *out, or < 0 when it was not load-balanced
 * (or is not known). Asked once per CLIENT socket, when its first request
 * is fed and capture did not answer already (obs.lb_known, which HTTP/1
 * capture sets on a client socket's first request): the agent reads it
 * from the load balancer's map, whose entry goes with the socket, so a
 * connection closed by then is not known and the Host header names the
 * server instead. */
typedef int (*sb_service_addr_fn)(uint64_t cookie, struct obs_addr *out, void *ctx);

/* How far the HTTP/1.x response in flight on a socket got, and when its
 * latest byte passed (*last_ns, CLOCK_MONOTONIC): 0 and *at, or < 0 when
 * nothing is known. The agent reads the kernel's per-socket state
 * (bpf/http.h struct http_conn). Asked at sb_tick() for a response whose
 * length its head declared and whose last byte no record has reported
 * yet: a keep-alive connection that goes quiet after a response longer
 * than a segment says nothing more until its next request. */
typedef int (*sb_resp_at_fn)(uint64_t cookie, struct obs_resp_at *at, uint64_t *last_ns, void *ctx);

struct sb_config {
	sb_emit_fn emit; /* required */
	void *emit_ctx;
	const char *host_name;	 /* host.name; NULL = "" */
	int64_t clock_offset_ns; /* unix time = CLOCK_MONOTONIC + this */

	double sampling_ratio;		/* Telemetry sampling.ratio, [0, 1] */
	bool sample_errors;		/* sampling.alwaysSampleErrors */
	uint64_t sample_slower_than_ms; /* sampling.latencyThreshold, 0 = off */
	bool emit_unsampled;		/* emit spans the sampler drops, sampled = 0 */
	bool redact_query; /* Telemetry tracing.redactQuery: every url.query value "REDACTED" */
	/* CLIENT server.*: the service address the application connected to;
	 * NULL: the Host header, else the socket's peer */
	sb_service_addr_fn service_addr;
	void *service_addr_ctx;
	sb_resp_at_fn resp_at; /* NULL: a response ends with what follows it */
	void *resp_at_ctx;

	const char *const *routes; /* Telemetry.routes templates (copied) */
	int n_routes;
	int route_cap; /* distinct heuristic routes per service; 0 = 100 */

	/* Zero picks the default given. */
	uint64_t pair_window_ns;	  /* 200 ms */
	uint64_t max_hold_ns;		  /* 10 s */
	uint64_t response_end_timeout_ns; /* 5 s */
	uint64_t idle_timeout_ns;	  /* 300 s: forget a silent socket */
	uint64_t sdk_ttl_ns;		  /* 10 min: a process's own traceparent marks it SDK'd */
	uint32_t max_sockets;		  /* 16384 */
	uint32_t max_pending;		  /* 8192 spans open or held */
	uint64_t seed;			  /* ids; 0 = from getrandom() */
};

#define SB_FIFO_MAX 32 /* open requests tracked per socket */

enum sb_drop {
	SB_DROP_SAMPLED_OUT = 0, /* the sampler said no (still emitted when emit_unsampled) */
	SB_DROP_BAD_HEAD,	 /* a request its parser could not read (OBS_PARSE_BAD) */
	SB_DROP_FIFO_FULL,	 /* SB_FIFO_MAX requests already open on the socket */
	SB_DROP_PENDING_FULL,	 /* max_pending spans open, none finished to make room */
	SB_DROP_SOCKET_EVICTED,	 /* still open when its socket was evicted (max_sockets) */
	SB_DROP_IDLE,		 /* still open when its socket was silent idle_timeout_ns */
	SB_DROP_FLUSH,		 /* still open at sb_flush() */
	SB_DROP_NOT_TRACED,	 /* the observation said the process is not traced */
	SB_DROP__MAX,
};

struct sb_stats {
	uint64_t observations;
	uint64_t spans_emitted; /* emit calls */
	uint64_t spans_sampled; /* of which sampled */
	uint64_t dropped[SB_DROP__MAX];
	uint64_t unpaired_responses;  /* a response with no open request on its socket */
	uint64_t unpaired_ends;	      /* a RESPONSE_END with no response to end */
	uint64_t pairs;		      /* same-node CLIENT -> SERVER links */
	uint64_t nested;	      /* in-process SERVER -> CLIENT links */
	uint64_t traceparents;	      /* SERVER requests that carried a valid traceparent */
	uint64_t client_traceparents; /* CLIENT requests that carried a valid traceparent */
	uint64_t injected;	      /* CLIENT requests with the traceparent bpfmesh added */
	uint64_t early_emits;	      /* held spans emitted early to make room */
	uint64_t route_overflows;     /* requests routed to ROUTE_OVERFLOW (cap hit) */
	uint64_t sdk_duplicates;      /* spans not exported: the process's SDK exports them */
	uint64_t sdk_marks;	      /* own traceparents that marked a process SDK-instrumented */
	uint32_t sdk_processes;	      /* processes SDK-instrumented now (seen within sdk_ttl_ns) */
	uint32_t sockets;	      /* tracked now */
	uint32_t pending;	      /* spans open or held now */
};

struct spanbuild;

/* NULL with errno set (EINVAL without emit, ENOMEM). */
struct spanbuild *sb_new(const struct sb_config *cfg);
void sb_free(struct spanbuild *sb); /* drops what is held, emits nothing */

void sb_feed(struct spanbuild *sb, const struct obs *obs);

/* Call often (every 50-100 ms) with CLOCK_MONOTONIC: ends responses whose
 * RESPONSE_END is overdue, emits held spans that are due, forgets idle
 * sockets. */
void sb_tick(struct spanbuild *sb, uint64_t now_ns);

/* At shutdown: end what can be ended, emit every finished span now. */
void sb_flush(struct spanbuild *sb);

/* Configuration changes while running. */
void sb_set_clock_offset(struct spanbuild *sb, int64_t offset_ns);
void sb_set_sampling(struct spanbuild *sb, double ratio, bool errors, uint64_t slower_than_ms);
/* Replaces the templates and forgets every service's routes. 0 or -ENOMEM
 * (then the old templates stay). */
int sb_set_routes(struct spanbuild *sb, const char *const *routes, int n_routes, int route_cap);

/* The key of the span-id tags of injected traceparents (inject_ids.h), 0
 * while injection is off: a CLIENT request that carries one is a span with
 * exactly the header's trace id and span id, a root (the kernel made the
 * trace id; see spanbuild_link.c for a thread that serves a request). */
void sb_set_inject_key(struct spanbuild *sb, uint64_t key);
void sb_get_stats(const struct spanbuild *sb, struct sb_stats *out);
/* A process marked SDK-instrumented now (it sent a traceparent of its own
 * within sdk_ttl_ns; never one whose Workload says instrumented: false):
 * the daemon keeps traceparent injection away from it. */
struct sb_sdk_id {
	uint32_t tgid;
	uint64_t cgroup_id;
};
/* Up to max of them into out; how many were written. */
size_t sb_sdk_procs(const struct spanbuild *sb, struct sb_sdk_id *out, size_t max);
const char *sb_drop_name(enum sb_drop why); /* "sampled_out", "bad_head", ... */

/* A URL query with the values of sensitive keys (sig, token, ...; all of
 * them when all) made "REDACTED", keys kept; cut to fit dst. The span
 * store's API view redacts every value (spanstore.c). */
void sb_redact_query(char *dst, size_t size, const char *q, bool all);

#endif
