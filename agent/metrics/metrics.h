/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.h: the registry of request metrics, fed with every finished span
 * (sampled or not, sb_config.emit_unsampled). It keeps
 *  - the OpenTelemetry HTTP duration histograms, cumulative since start, per
 *    (side, service.namespace, service.name, http.request.method, http.response.status_code,
 *    http.route), with the OTel default buckets, for Prometheus and OTLP;
 *    gRPC spans go to the RPC duration histograms instead, per (side,
 *    service, rpc.service/rpc.method, rpc.grpc.status_code);
 *  - sliding-window latency sketches (latency.h) per (service, side), per
 *    (service, side, route, method) and per (service, endpoint) of the
 *    client side, for the latency API and `bpfmesh top`.
 *
 * A service is its namespace and name (span.service_namespace and
 * service_name): web of prod and web of staging never share a series.
 * Processes that no configuration names have the namespace "".
 *
 * Cardinality is bounded twice: per service, the number of series of each
 * kind is capped, and the whole registry has a byte budget. A span that
 * would need a series past either lands in an overflow series (labels
 * METRICS_OTHER, method "_OTHER", status class "5xx"), and a counter per kind
 * says how many did. Services past their cap go to a service METRICS_OTHER.
 * Past the budget, sketches also stop growing (latency.h).
 *
 * Memory (test_metrics measures it): a histogram series takes about 300 bytes
 * with its key, a window series about 200 bytes plus its sketch (latency.h:
 * ~1.6 KB at 1 request/s, ~3 KB at 10/s, ~7 KB at 100/s, 0.7 KB for the slot
 * headers once active, nothing once idle 15 min).
 *
 * Errors: a SERVER span with a 5xx, a CLIENT span with a 4xx or 5xx, or any
 * span with status ERROR (no response: reset, timeout).
 *
 * Single-threaded: the caller locks around every call. Times are
 * CLOCK_MONOTONIC ns. */
#ifndef BPFMESH_METRICS_H
#define BPFMESH_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/latency.h"
#include "exporters/span.h"

enum metrics_side {
	METRICS_SERVER = 0,
	METRICS_CLIENT = 1,
	METRICS_SIDES,
};

/* OTel's default explicit buckets for http.server.request.duration, seconds. */
#define METRICS_HTTP_BOUNDS 14
extern const double metrics_http_bounds[METRICS_HTTP_BOUNDS];

#define METRICS_OTHER "_other"	      /* service, route and endpoint of overflow series */
#define METRICS_METHOD_OTHER "_OTHER" /* OTel's method for one outside the known set */

struct metrics_config {
	uint32_t max_services;	 /* 0 = 512 */
	uint32_t max_histograms; /* per service; 0 = 500 */
	uint32_t max_routes;	 /* (side, route, method) windows per service; 0 = 200 */
	uint32_t max_endpoints;	 /* endpoint windows per service; 0 = 128 */
	size_t max_bytes;	 /* whole registry; 0 = 32 MiB */
};

enum metrics_overflow {
	METRICS_OVF_SERVICE = 0,
	METRICS_OVF_HISTOGRAM,
	METRICS_OVF_ROUTE,
	METRICS_OVF_ENDPOINT,
	METRICS_OVF__MAX,
};

struct metrics_stats {
	uint64_t spans;			     /* recorded */
	uint64_t errors;		     /* of which errors */
	uint64_t ignored;		     /* neither SERVER nor CLIENT */
	uint64_t overflow[METRICS_OVF__MAX]; /* spans filed under an overflow series */
	uint64_t sketch_degraded;	     /* samples filed in a nearest bucket (budget) */
	uint32_t services, histograms, routes, endpoints; /* series now */
	size_t bytes;					  /* held now, sketches included */
	size_t sketch_bytes;				  /* of which sketches */
};

struct metrics;

/* NULL on ENOMEM. now_ns: when observing began (rates never reach back further). */
struct metrics *metrics_new(const struct metrics_config *cfg, uint64_t now_ns);
void metrics_free(struct metrics *m);

/* One finished span, filed under now_ns (the time it ended, or simply now). */
void metrics_record(struct metrics *m, const struct span *sp, uint64_t now_ns);
bool metrics_span_is_error(const struct span *sp);

/* Every few seconds: releases sketch slots no window reaches any more. */
void metrics_tick(struct metrics *m, uint64_t now_ns);

void metrics_get_stats(const struct metrics *m, struct metrics_stats *out);
const char *metrics_overflow_name(enum metrics_overflow kind); /* "service", ... */
const char *metrics_side_name(enum metrics_side side);	       /* "server", "client" */

/* The histograms, services in (namespace, name) order. counts are per bucket, not
 * cumulative: METRICS_HTTP_BOUNDS + 1 of them, the last one above the last
 * bound. Empty strings are labels without a value. */
struct metrics_hist {
	enum metrics_side side;
	/* a gRPC series (rpc.server.duration, rpc.client.duration): route is
	 * "package.Service/Method", status_code the gRPC status code ("" when
	 * unknown), method "" */
	bool rpc;
	const char *service;
	const char *service_ns;
	/* what all the service's spans had in common of their pod's
	 * identity: one pod's, or only node and owner when they came from
	 * several pods; all "" for no pod */
	const struct span_k8s *k8s;
	const char *method;
	const char *status_code; /* "200"; "5xx" in an overflow series; "" without a response */
	const char *route;
	const uint64_t *counts;
	double sum; /* seconds */
	uint64_t count;
};
typedef void (*metrics_hist_fn)(const struct metrics_hist *h, void *ctx);
void metrics_foreach_histogram(const struct metrics *m, metrics_hist_fn fn, void *ctx);

/* Known services in (namespace, name) order; returns how many. */
typedef void (*metrics_service_fn)(const char *ns, const char *service, void *ctx);
size_t metrics_foreach_service(const struct metrics *m, metrics_service_fn fn, void *ctx);

/* Over the last window_s seconds (10 s .. 15 min, see latency.h). These
 * return 0, or -ENOENT for a service, route or endpoint never seen. */
int metrics_service_summary(const struct metrics *m, const char *ns, const char *service,
			    enum metrics_side side, uint32_t window_s, uint64_t now_ns,
			    struct lat_summary *out);
/* The same with the window's sketch itself, for merging across agents. */
int metrics_service_sketch(const struct metrics *m, const char *ns, const char *service,
			   enum metrics_side side, uint32_t window_s, uint64_t now_ns,
			   struct lat_sketch *acc, struct lat_summary *out);
/* One route; method NULL merges every method of the route. */
int metrics_route_summary(const struct metrics *m, const char *ns, const char *service,
			  enum metrics_side side, const char *route, const char *method,
			  uint32_t window_s, uint64_t now_ns, struct lat_summary *out);

/* The same with the window's sketch itself (the methods merged likewise),
 * for merging across agents. */
int metrics_route_sketch(const struct metrics *m, const char *ns, const char *service,
			 enum metrics_side side, const char *route, const char *method,
			 uint32_t window_s, uint64_t now_ns, struct lat_sketch *acc,
			 struct lat_summary *out);

typedef void (*metrics_route_fn)(enum metrics_side side, const char *route, const char *method,
				 bool rpc, const struct lat_summary *s, void *ctx);
/* Every (side, route, method) of a service, in the order first seen; rpc:
 * a gRPC route ("package.Service/Method"). */
int metrics_foreach_route(const struct metrics *m, const char *ns, const char *service,
			  uint32_t window_s, uint64_t now_ns, metrics_route_fn fn, void *ctx);

/* Every (side, route) of a service's gRPC routes, once however many methods
 * it has, in the order first seen: at most max_routes of each service. */
typedef void (*metrics_rpc_fn)(enum metrics_side side, const char *route, void *ctx);
int metrics_foreach_rpc(const struct metrics *m, const char *ns, const char *service,
			metrics_rpc_fn fn, void *ctx);

/* The client side's endpoints: network.peer.address:port where the span has
 * it, else server.address:port. */
typedef void (*metrics_endpoint_fn)(const char *address, uint16_t port, const struct lat_summary *s,
				    void *ctx);
int metrics_foreach_endpoint(const struct metrics *m, const char *ns, const char *service,
			     uint32_t window_s, uint64_t now_ns, metrics_endpoint_fn fn, void *ctx);

#endif
