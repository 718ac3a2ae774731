/* SPDX-License-Identifier: Apache-2.0 */
/* api_sketch.h: GET /api/v1/sketches?window=60s: every service's latency
 * sketch over the window, bucket by bucket, so that `bpfmesh services
 * --cluster` merges the agents of a cluster exactly (the merged p99 is the
 * p99 of one sketch fed every agent's samples). Called with the agent's lock
 * held. */
#ifndef BPFMESH_API_SKETCH_H
#define BPFMESH_API_SKETCH_H

#include <stdint.h>

#include "daemon/agent.h"
#include "lib/jsonw.h"

/* {"windowSeconds": W, "layout": {...}, "services": [{"namespace", "name",
 * "server": SKETCH|null, "client": SKETCH|null, "rpcs": [RPC...]}]}: the
 * configured services in order, then those seen in requests only (namespace
 * ""); SKETCH is {"rps", "spanNs", "count", "errors", "maxNs", "buckets":
 * [[index, count, valueNs]...]} (latency.h), null for a side never seen; RPC
 * is a gRPC route's SKETCH with "side" and "route" ("package.Service/Method")
 * added, one per (side, route), at most the registry's max_routes of a
 * service (metrics.h). */
void api_write_sketches(struct agent *a, struct jsonw *w, uint32_t window_s);

#endif
