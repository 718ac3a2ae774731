/* SPDX-License-Identifier: Apache-2.0 */
/* api_latency.h: per-service request rate, error rate and latency
 * percentiles over a sliding window, from the request metrics registry
 * (metrics.h), as JSON for /api/v1/services and
 * /api/v1/services/{name}/latency. Called with the agent's lock held. */
#ifndef BPFMESH_API_LATENCY_H
#define BPFMESH_API_LATENCY_H

#include <stdint.h>

#include "daemon/agent.h"
#include "lib/jsonw.h"

#define API_WINDOW_DEFAULT_S 60

/* ?window=: a duration ("60s", "5m", "1m30s", or bare seconds "90") from
 * 10 s to 15 min. 0, or -EINVAL with *why set for the client. */
int api_arg_window(const char *s, uint32_t *window_s, const char **why);

/* "latency": {"windowSeconds": W, "relativeError": 0.01, "server": SIDE|null,
 * "client": SIDE|null}, SIDE being {"requests", "errors", "rps",
 * "errorRate", "p50Ms", "p90Ms", "p99Ms", "maxMs"} (null: never seen). */
void api_write_latency_brief(struct agent *a, struct jsonw *w, const char *ns, const char *service,
			     uint32_t window_s);

/* "routes": [{"side", "route", "method", "rpc", SIDE fields}...], in the
 * order first seen; rpc true for a gRPC route (package.Service/Method). */
void api_write_latency_routes(struct agent *a, struct jsonw *w, const char *ns, const char *service,
			      uint32_t window_s);

/* "rpcs": the same for the gRPC routes only. */
void api_write_latency_rpcs(struct agent *a, struct jsonw *w, const char *ns, const char *service,
			    uint32_t window_s);

/* The whole answer of /api/v1/services/{namespace}/{name}/latency (a bare
 * {name} is of namespace default; of no namespace, for a process that no
 * configuration names, when default has no such service): the brief, then
 * "routes" (side, route, method and SIDE fields) and "endpoints" (the client
 * side per endpoint called). -ENOENT when the service is neither configured
 * nor seen in any request. */
int api_write_latency(struct agent *a, struct jsonw *w, const char *ns, const char *service,
		      uint32_t window_s);

#endif
