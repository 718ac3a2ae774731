/* SPDX-License-Identifier: Apache-2.0 */
/* config_traffic.c: the TrafficPolicy kind: connection pool, outlier
 * detection, circuit breaker, health checks and rate limit of one service.
 *
 * The sections are flattened into struct cfg_traffic_policy; a *_set flag says
 * which ones the document had, the rest keep the defaults set below.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

#define TP struct cfg_traffic_policy

static const char *check_http_path(const char *s)
{
	return s[0] == '/' ? NULL : "does not start with '/'";
}

static const struct cfgp_field tcp_pool_fields[] = {
    F_INT("maxConnections", TP, max_connections, 0, UINT32_MAX),
    F_DUR("connectTimeout", TP, connect_timeout_ms, 0),
    {0},
};

static const struct cfgp_field pool_fields[] = {
    F_GROUP("tcp", tcp_pool_fields),
    {0},
};

static const struct cfgp_field outlier_fields[] = {
    F_INT("consecutive5xxErrors", TP, consecutive_5xx, 0, UINT32_MAX),
    F_INT("consecutiveGatewayErrors", TP, consecutive_gateway, 0, UINT32_MAX),
    F_INT("consecutiveConnectFailures", TP, consecutive_connect_failures, 0, UINT32_MAX),
    F_DUR("interval", TP, interval_ms, 1),
    F_DUR("baseEjectionTime", TP, base_ejection_ms, 0),
    F_DUR("maxEjectionTime", TP, max_ejection_ms, 0),
    F_INT("maxEjectionPercent", TP, max_ejection_percent, 0, 100),
    F_BOOL("terminateConnections", TP, terminate_connections),
    {0},
};

static const struct cfgp_field breaker_fields[] = {
    F_NUM("failureRateThreshold", TP, failure_rate_threshold, 1, 100),
    F_INT("slidingWindowSize", TP, sliding_window_size, 1, 1024), /* kernel window bits */
    F_INT("minimumNumberOfCalls", TP, minimum_calls, 1, UINT32_MAX),
    F_DUR("waitDurationInOpenState", TP, wait_open_ms, 1),
    F_INT("permittedNumberOfCallsInHalfOpenState", TP, permitted_half_open, 1, UINT32_MAX),
    {0},
};

static const struct cfgp_field http_check_fields[] = {
    F_STR("path", TP, health_http_path, .required = true, .check = check_http_path),
    {0},
};

static const struct cfgp_field no_fields[] = {{0}};

/* `tcp: {}` and a bare `tcp:` both ask for a TCP connect check. */
static void tcp_check(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	((TP *)base)->health_tcp = true;
	if (!cfgp_is_null(n))
		cfgp_walk(d, n, path, no_fields, base);
}

static const struct cfgp_field health_fields[] = {
    F_GROUP("http", http_check_fields),
    F_FUNC("tcp", tcp_check, .null_ok = true),
    F_DUR("interval", TP, health_interval_ms, 1),
    F_DUR("timeout", TP, health_timeout_ms, 1),
    F_INT("healthyThreshold", TP, healthy_threshold, 1, UINT32_MAX),
    F_INT("unhealthyThreshold", TP, unhealthy_threshold, 1, UINT32_MAX),
    {0},
};

static const struct cfgp_field rate_fields[] = {
    F_INT("connectionsPerSecond", TP, connections_per_second, 1, UINT32_MAX, .required = true),
    F_INT("burst", TP, burst, 1, UINT32_MAX),
    {0},
};

static const struct cfgp_field spec_fields[] = {
    F_STR("service", TP, service, .required = true, .check = cfgp_check_ref),
    F_SECTION("connectionPool", pool_fields, TP, pool_set),
    F_SECTION("outlierDetection", outlier_fields, TP, outlier_set),
    F_SECTION("circuitBreaker", breaker_fields, TP, breaker_set),
    F_SECTION("healthCheck", health_fields, TP, health_set),
    F_SECTION("rateLimit", rate_fields, TP, rate_set),
    {0},
};

static void set_defaults(TP *p)
{
	p->service_idx = -1;
	p->consecutive_5xx = 5;
	p->consecutive_connect_failures = 5;
	p->interval_ms = 10000;
	p->base_ejection_ms = 30000;
	p->max_ejection_ms = 300000;
	p->max_ejection_percent = 10;
	p->failure_rate_threshold = 50;
	p->sliding_window_size = 100;
	p->minimum_calls = 100;
	p->wait_open_ms = 60000;
	p->permitted_half_open = 10;
	p->health_interval_ms = 10000;
	p->health_timeout_ms = 1000;
	p->healthy_threshold = 1;
	p->unhealthy_threshold = 3;
}

static void check_outlier(struct cfgp_doc *d, TP *p, yaml_node_t *od)
{
	yaml_node_t *max = cfgp_get(d, od, "maxEjectionTime");

	/* A long baseEjectionTime alone should not trip over the default maximum. */
	if (cfgp_is_null(max)) {
		if (p->max_ejection_ms < p->base_ejection_ms)
			p->max_ejection_ms = p->base_ejection_ms;
		return;
	}
	if (p->max_ejection_ms < p->base_ejection_ms)
		cfgp_err(d, max, "spec.outlierDetection.maxEjectionTime",
			 "must not be shorter than baseEjectionTime");
}

static void check_health(struct cfgp_doc *d, TP *p, yaml_node_t *hc)
{
	bool http = !cfgp_is_null(cfgp_get(d, hc, "http"));

	if (http && p->health_tcp)
		cfgp_err(d, hc, "spec.healthCheck", "http and tcp are mutually exclusive");
	else if (!http && !p->health_tcp)
		cfgp_err(d, hc, "spec.healthCheck", "one of http or tcp is required");
}

void cfgp_traffic_policy(struct cfgp_doc *d, yaml_node_t *spec, const struct cfg_meta *meta)
{
	struct mesh_config *cfg = d->ld->cfg;
	TP *p;

	p = cfgp_grow(d->ld, cfg->policies, cfg->n_policies, &d->ld->cap_policies, sizeof(*p));
	if (!p)
		return;
	cfg->policies = p;
	p = &p[cfg->n_policies++];
	memset(p, 0, sizeof(*p));
	p->meta = *meta;
	set_defaults(p);

	cfgp_walk(d, spec, "spec", spec_fields, p);

	if (p->outlier_set)
		check_outlier(d, p, cfgp_get(d, spec, "outlierDetection"));
	/* Outlier detection alone re-admits an ejected endpoint on probation:
	 * a single call decides whether it stays in or is ejected again. */
	if (p->outlier_set && !p->breaker_set)
		p->permitted_half_open = 1;
	if (p->health_set)
		check_health(d, p, cfgp_get(d, spec, "healthCheck"));
	if (p->rate_set && !p->burst)
		p->burst = p->connections_per_second;
	if (p->service[0])
		cfgp_add_ref(d, cfgp_get(d, spec, "service"), CFGP_REF_POLICY_SERVICE,
			     cfg->n_policies - 1, 0);
}
