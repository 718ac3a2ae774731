/* SPDX-License-Identifier: Apache-2.0 */
/* cli_cluster_merge.h: the cluster view's arithmetic: the latency sketches
 * of several agents (GET /api/v1/sketches, written by latency.c's
 * lat_sketch_write_json) merged bucket by bucket, and quantiles of the
 * merge answered exactly as one agent answers its own (lat_sketch_quantile):
 * the merged p99 is the p99 of one sketch fed every agent's samples. The CLI
 * may not include metrics/, so the wire carries each bucket's value and this
 * file needs no bucket arithmetic; tests/unit/test_cluster_merge.c holds it
 * to lat_sketch_quantile. */
#ifndef BPFMESH_CLI_CLUSTER_MERGE_H
#define BPFMESH_CLI_CLUSTER_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define CL_MAX_BUCKETS 65536 /* a layout larger than this is refused */

/* One side (server or client) of one service, merged so far. */
struct cl_side {
	bool seen;	   /* some agent had this side (not null) */
	uint64_t count;	   /* samples */
	uint64_t errors;   /* of them failed */
	uint64_t max_ns;   /* the largest sample of any agent */
	double rps;	   /* the agents' rates added: each sees its own node's traffic */
	uint64_t *buckets; /* dense, n_buckets of the layout; NULL until seen */
};

/* A service's rpcs in one answer: the agent keeps at most 200 routes of a
 * service (metrics.h max_routes); an answer with more is refused. */
#define CL_MAX_RPCS 256
/* The view's rpc lines, all services: a (service, side, route) first seen
 * past them is merged into its service and side's CL_RPC_OTHER line, as an
 * agent files a route past its cap (dense sketches: 7.4 KB each). */
#define CL_MAX_RPC_LINES 4096
#define CL_RPC_OTHER "_other"

/* One gRPC route ("package.Service/Method") of one side of a service. */
struct cl_rpc {
	char route[256];
	int side; /* 0 server, 1 client */
	struct cl_side s;
	unsigned agents;  /* agents that saw a call of it in the window */
	unsigned counted; /* the agent (v->agents + 1) last counted in agents */
};

struct cl_service {
	char ns[256];
	char name[256];
	struct cl_side side[2]; /* [0] server, [1] client, as metrics_side */
	unsigned agents;	/* agents that saw a request of it in the window */
	struct cl_rpc *rpc;	/* in the order first seen */
	size_t n_rpc, cap_rpc;
};

struct cl_view {
	bool has_layout; /* set by the first agent merged */
	double relative_error;
	int64_t k_low, k_high, n_buckets;
	uint64_t *values; /* n_buckets: the value each bucket answers with */
	uint32_t window_s;
	struct cl_service *svc; /* in the order first seen */
	size_t n, cap;
	unsigned agents; /* merged so far */
	size_t n_rpc;	 /* rpc lines of all services */
};

/* Merges one agent's /api/v1/sketches answer into v. 0, or -1 with the
 * reason in err; v is left unchanged on an error (the answer is checked
 * whole first: a layout or window other than the first agent's, a bucket
 * index out of range, a bucket whose value differs from the layout's, an
 * rpc without side or route, one twice, more than CL_MAX_RPCS of a service).
 * A service's "rpcs" are merged per (side, route); an answer without them
 * (an older agent) adds no rpc lines. */
int cl_merge(struct cl_view *v, json_object *doc, char *err, size_t err_len);

/* The q-quantile of a merged side in ns, as lat_sketch_quantile answers it:
 * the value of the bucket holding rank floor(q * (count - 1)), never above
 * the maximum; 0 when empty. */
uint64_t cl_quantile(const struct cl_view *v, const struct cl_side *s, double q);

void cl_view_free(struct cl_view *v);

#endif
