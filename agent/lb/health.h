/* SPDX-License-Identifier: Apache-2.0 */
/* health.h: the agent's side of endpoint health and service protection:
 * turns TrafficPolicy into lb_svc_policy, logs the kernel's transitions,
 * decays ejection multipliers, and reads the state for the API. */
#ifndef BPFMESH_HEALTH_AGENT_H
#define BPFMESH_HEALTH_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "bpf/health.h"
#include "config/config.h"
#include "lb/lbmaps.h"

struct ring_buffer;
struct terminator;

struct health {
	struct lbmaps *lm;
	const struct mesh_config *cfg; /* the configuration in force */
	struct ring_buffer *rb;
	int events_fd, drops_fd, lost_fd;
	uint64_t transitions; /* events seen */
	uint64_t last_tick_ns;
	struct terminator *term; /* for terminateConnections, or NULL */
	uint8_t *watch;		 /* endpoints the tick looks at (not healthy, or ejected before) */
	bool scanned; /* every endpoint looked at once, for state left by an earlier agent */
};

int health_init(struct health *h, struct lbmaps *lm, int events_fd, int drops_fd, int lost_fd);
void health_free(struct health *h);

/* Write every kernel service's policy from the TrafficPolicies in cfg. */
int health_apply(struct health *h, const struct mesh_config *cfg);

/* Fill a kernel policy from a TrafficPolicy (pure; unit-tested). */
void health_policy_from_cfg(const struct cfg_traffic_policy *tp, struct lb_svc_policy *pol);

/* The TrafficPolicy of config service si, or NULL. */
const struct cfg_traffic_policy *health_policy_of(const struct mesh_config *cfg, int si);

/* fd to poll for transition events, and the handler to call when it is readable. */
int health_events_fd(struct health *h);
void health_consume(struct health *h);

/* Once a second: ejection multipliers decay by one per outlierDetection.interval
 * an endpoint stays healthy (Envoy), and half-open endpoints whose trial never
 * reported get their permits back. */
void health_tick(struct health *h, uint64_t now_ns);

/* Reads for the API. */
int health_ep_read(struct health *h, uint32_t ep_id, struct lb_ep_health *out);
int health_svc_read(struct health *h, uint32_t svc_id, struct lb_svc_rt *out);
uint64_t health_drops(struct health *h, int reason);

/* CLOCK_MONOTONIC in ns: the kernel's bpf_ktime_get_ns() clock. */
uint64_t health_now_ns(void);

const char *health_state_name(int state);
const char *health_reason_name(int reason);
const char *health_breaker_name(int state);

/* The reasons the kernel refuses a connect() (lb_drops), with their names
 * for metrics ("no_endpoint") and for the API ("noEndpoint"); one table so
 * both say the same. */
struct health_refusal {
	int reason; /* enum lb_drop_reason */
	const char *name;
	const char *json;
};

extern const struct health_refusal health_refusals[];
extern const int health_n_refusals;

#endif
