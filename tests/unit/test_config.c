/* SPDX-License-Identifier: Apache-2.0 */
/* test_config.c: config_load(): parsed values and defaults of every kind, the
 * directory rules, and the exact text of every error message.
 *
 * Each test gets its own directory under /tmp. Error expectations are written
 * relative to it: "@" stands for the directory, and the single-file helper
 * prefixes "@/c.yaml:" so that a line reads "LINE:COL: FIELD: message".
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

#ifndef EXAMPLES_DIR
#define EXAMPLES_DIR "deploy/examples"
#endif

#define HDR "apiVersion: bpfmesh.io/v1alpha1\n"

#include "tmpdir.h"

/* Loads dir, which must be valid. */
static struct mesh_config *load_ok(const char *dir)
{
	struct mesh_config *cfg = NULL;
	struct cfg_errors errs = {0};
	int ret, i;

	ret = config_load(dir, &cfg, &errs);
	if (ret || !cfg || errs.n) {
		for (i = 0; i < errs.n; i++)
			print_error("unexpected error: %s\n", errs.msgs[i]);
		cfg_errors_free(&errs);
		fail_msg("config_load(%s): expected 0, got %d (%s)", dir, ret, strerror(-ret));
	}
	return cfg;
}

static struct mesh_config *load_text_ok(const char *dir, const char *text)
{
	put(dir, "c.yaml", text);
	return load_ok(dir);
}

/* "@" in s becomes dir. */
static void expand(char *dst, size_t n, const char *s, const char *dir)
{
	size_t o = 0;

	for (; *s && o + 1 < n; s++) {
		if (*s == '@') {
			o += (size_t)snprintf(dst + o, n - o, "%s", dir);
			if (o >= n)
				o = n - 1;
		} else {
			dst[o++] = *s;
		}
	}
	dst[o] = '\0';
}

/* Loads dir, which must be refused with exactly the messages in want (in
 * order) and ret as the result; *out must be NULL afterwards. */
static void expect_load(const char *dir, const char *prefix, int want_ret, const char *const *want,
			int n)
{
	struct mesh_config *cfg = (struct mesh_config *)&cfg; /* must be overwritten */
	struct cfg_errors errs = {0};
	char exp[8192], pat[8192];
	bool ok;
	int ret, i;

	ret = config_load(dir, &cfg, &errs);
	ok = ret == want_ret && cfg == NULL && errs.n == n;
	for (i = 0; ok && i < n; i++) {
		snprintf(pat, sizeof(pat), "%s%s", prefix, want[i]);
		expand(exp, sizeof(exp), pat, dir);
		ok = !strcmp(exp, errs.msgs[i]);
	}
	if (!ok) {
		print_error("expected result %d, config NULL and %d error(s):\n", want_ret, n);
		for (i = 0; i < n; i++) {
			snprintf(pat, sizeof(pat), "%s%s", prefix, want[i]);
			expand(exp, sizeof(exp), pat, dir);
			print_error("  %s\n", exp);
		}
		print_error("got result %d, config %s and %d error(s):\n", ret,
			    cfg ? "set" : "NULL", errs.n);
		for (i = 0; i < errs.n; i++)
			print_error("  %s\n", errs.msgs[i]);
	}
	cfg_errors_free(&errs);
	if (cfg && cfg != (struct mesh_config *)&cfg)
		config_free(cfg);
	if (!ok)
		fail();
}

#define N_ARGS(...) (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
/* Errors of a whole directory; messages start with "@/file.yaml:". */
#define EXPECT_DIR_ERRORS(dir, ret, ...)                                                           \
	expect_load(dir, "", ret, (const char *const[]){__VA_ARGS__}, N_ARGS(__VA_ARGS__))
/* text as the only file c.yaml; messages start at "LINE:COL:". */
#define EXPECT_ERRORS(dir, text, ...)                                                              \
	do {                                                                                       \
		put(dir, "c.yaml", text);                                                          \
		expect_load(dir, "@/c.yaml:", -EINVAL, (const char *const[]){__VA_ARGS__},         \
			    N_ARGS(__VA_ARGS__));                                                  \
	} while (0)

static void assert_addr(const struct cfg_addr *a, int family, const char *text)
{
	uint8_t want[16] = {0};

	assert_int_equal(inet_pton(family, text, want), 1);
	assert_int_equal(a->family, family);
	assert_memory_equal(a->addr, want, 16);
}

/* ---- valid documents ---- */

static void test_service_full(void **state)
{
	const char *dir = *state;
	struct mesh_config *cfg;
	const struct cfg_service *s;
	char file[4096];

	cfg = load_text_ok(dir, HDR "kind: Service\n"
				    "metadata:\n"
				    "  name: user-service\n"
				    "  labels: {app: user, tier: backend}\n"
				    "  annotations: {note: \"anything\"}\n"
				    "spec:\n"
				    "  addresses: [\"127.100.0.10\", \"fd00::10\"]\n"
				    "  ports:\n"
				    "  - {name: http, port: 80, targetPort: 8080, protocol: TCP}\n"
				    "  loadBalancer: {policy: roundRobin}\n"
				    "  endpoints:\n"
				    "  - {address: \"127.0.0.1\", port: 18081}\n"
				    "  - {address: \"127.0.0.1\", port: 18082, weight: 2}\n"
				    "  - {address: \"::1\"}\n");
	assert_int_equal(cfg->n_services, 1);
	assert_int_equal(cfg->n_policies + cfg->n_workloads + cfg->n_access, 0);
	assert_null(cfg->telemetry);
	s = &cfg->services[0];
	assert_string_equal(s->meta.name, "user-service");
	assert_string_equal(s->meta.ns, "default");
	snprintf(file, sizeof(file), "%s/c.yaml", dir);
	assert_string_equal(s->meta.origin.file, file);
	assert_int_equal(s->meta.origin.line, 1);
	assert_int_equal(s->meta.origin.column, 1);
	assert_int_equal(cfg->n_files, 1);
	assert_string_equal(cfg->files[0], file);

	assert_int_equal(s->n_addrs, 2);
	assert_addr(&s->addrs[0], AF_INET, "127.100.0.10");
	assert_addr(&s->addrs[1], AF_INET6, "fd00::10");
	assert_int_equal(s->n_ports, 1);
	assert_string_equal(s->ports[0].name, "http");
	assert_int_equal(s->ports[0].port, 80);
	assert_int_equal(s->ports[0].target_port, 8080);
	assert_int_equal(s->ports[0].protocol, IPPROTO_TCP);
	assert_int_equal(s->policy, CFG_LB_ROUND_ROBIN);
	assert_int_equal(s->n_endpoints, 3);
	assert_addr(&s->endpoints[0].addr, AF_INET, "127.0.0.1");
	assert_int_equal(s->endpoints[0].port, 18081);
	assert_int_equal(s->endpoints[0].weight, 1);
	assert_int_equal(s->endpoints[1].port, 18082);
	assert_int_equal(s->endpoints[1].weight, 2);
	/* The endpoint's family is independent of the VIP's. */
	assert_addr(&s->endpoints[2].addr, AF_INET6, "::1");
	assert_int_equal(s->endpoints[2].port, 0);
	assert_int_equal(s->endpoints[2].weight, 1);
	config_free(cfg);
}

static void test_service_defaults(void **state)
{
	const char *dir = *state;
	struct mesh_config *cfg;
	const struct cfg_service *s;

	cfg =
	    load_text_ok(dir, HDR "kind: Service\n"
				  "metadata: {name: db, namespace: shop}\n"
				  "spec:\n"
				  "  addresses: [\"10.96.0.1\"]\n"
				  "  ports: [{port: 5432}, {name: dns, port: 53, targetPort: 5353, "
				  "protocol: UDP}]\n"
				  "---\n" HDR "kind: Service\n"
				  "metadata: {name: empty}\n"
				  "spec:\n"
				  "  addresses: [\"10.96.0.2\"]\n"
				  "  ports: [{port: 80}]\n"
				  "  endpoints: []\n"
				  "---\n" HDR "kind: Service\n"
				  "metadata: {name: null-endpoints}\n"
				  "spec:\n"
				  "  addresses: [\"10.96.0.3\"]\n"
				  "  ports: [{port: 80}]\n"
				  "  endpoints:\n"
				  "  loadBalancer: {policy: maglev}\n");
	assert_int_equal(cfg->n_services, 3);
	s = &cfg->services[0];
	assert_string_equal(s->meta.name, "db");
	assert_string_equal(s->meta.ns, "shop");
	assert_int_equal(s->policy, CFG_LB_RANDOM);
	assert_int_equal(s->n_endpoints, 0);
	assert_null(s->endpoints);
	assert_int_equal(s->n_ports, 2);
	assert_string_equal(s->ports[0].name, "");
	assert_int_equal(s->ports[0].port, 5432);
	assert_int_equal(s->ports[0].target_port, 5432);
	assert_int_equal(s->ports[0].protocol, IPPROTO_TCP);
	assert_string_equal(s->ports[1].name, "dns");
	assert_int_equal(s->ports[1].target_port, 5353);
	assert_int_equal(s->ports[1].protocol, IPPROTO_UDP);

	assert_int_equal(cfg->services[1].n_endpoints, 0);
	assert_int_equal(cfg->services[1].meta.origin.line, 8);
	assert_int_equal(cfg->services[2].n_endpoints, 0);
	assert_int_equal(cfg->services[2].policy, CFG_LB_MAGLEV);

	assert_int_equal(config_find_service(cfg, "shop", "db"), 0);
	assert_int_equal(config_find_service(cfg, NULL, "empty"), 1);
	assert_int_equal(config_find_service(cfg, "default", "null-endpoints"), 2);
	assert_int_equal(config_find_service(cfg, NULL, "db"), -1);
	assert_int_equal(config_find_service(cfg, "shop", "nope"), -1);
	config_free(cfg);
}

static void test_lb_policy_names(void **state)
{
	(void)state;
	assert_string_equal(cfg_lb_policy_name(CFG_LB_RANDOM), "random");
	assert_string_equal(cfg_lb_policy_name(CFG_LB_ROUND_ROBIN), "roundRobin");
	assert_string_equal(cfg_lb_policy_name(CFG_LB_LEAST_CONN), "leastConnections");
	assert_string_equal(cfg_lb_policy_name(CFG_LB_MAGLEV), "maglev");
	assert_null(cfg_lb_policy_name((enum cfg_lb_policy)42));
}

#define SVC_API                                                                                    \
	HDR "kind: Service\n"                                                                      \
	    "metadata: {name: api}\n"                                                              \
	    "spec: {addresses: [\"10.0.0.1\"], ports: [{port: 80}]}\n"

/* More services, appended after the documents under test so their line
 * numbers do not move: one TrafficPolicy per service is allowed. */
#define SVC_AP(n)                                                                                  \
	"---\n" HDR "kind: Service\n"                                                              \
	"metadata: {name: ap" #n "}\n"                                                             \
	"spec: {addresses: [\"10.0.0.1" #n "\"], ports: [{port: 80}]}\n"

static void test_traffic_policy_full(void **state)
{
	const char *dir = *state;
	struct mesh_config *cfg;
	const struct cfg_traffic_policy *p;

	cfg = load_text_ok(dir, SVC_API "---\n" HDR "kind: TrafficPolicy\n"
					"metadata: {name: api-policy}\n"
					"spec:\n"
					"  service: api\n"
					"  connectionPool:\n"
					"    tcp: {maxConnections: 100, connectTimeout: 250ms}\n"
					"  outlierDetection:\n"
					"    consecutive5xxErrors: 3\n"
					"    consecutiveGatewayErrors: 2\n"
					"    consecutiveConnectFailures: 4\n"
					"    interval: 5s\n"
					"    baseEjectionTime: 1m\n"
					"    maxEjectionTime: 10m\n"
					"    maxEjectionPercent: 50\n"
					"    terminateConnections: true\n"
					"  circuitBreaker:\n"
					"    failureRateThreshold: 25.5\n"
					"    slidingWindowSize: 20\n"
					"    minimumNumberOfCalls: 10\n"
					"    waitDurationInOpenState: 30s\n"
					"    permittedNumberOfCallsInHalfOpenState: 3\n"
					"  healthCheck:\n"
					"    http: {path: /healthz}\n"
					"    interval: 2s\n"
					"    timeout: 500ms\n"
					"    healthyThreshold: 2\n"
					"    unhealthyThreshold: 4\n"
					"  rateLimit: {connectionsPerSecond: 1000, burst: 2000}\n");
	assert_int_equal(cfg->n_policies, 1);
	p = &cfg->policies[0];
	assert_string_equal(p->meta.name, "api-policy");
	assert_string_equal(p->service, "api");
	assert_int_equal(p->service_idx, 0);
	assert_true(p->pool_set);
	assert_int_equal(p->max_connections, 100);
	assert_int_equal(p->connect_timeout_ms, 250);
	assert_true(p->outlier_set);
	assert_int_equal(p->consecutive_5xx, 3);
	assert_int_equal(p->consecutive_gateway, 2);
	assert_int_equal(p->consecutive_connect_failures, 4);
	assert_int_equal(p->interval_ms, 5000);
	assert_int_equal(p->base_ejection_ms, 60000);
	assert_int_equal(p->max_ejection_ms, 600000);
	assert_int_equal(p->max_ejection_percent, 50);
	assert_true(p->terminate_connections);
	assert_true(p->breaker_set);
	assert_true(p->failure_rate_threshold == 25.5);
	assert_int_equal(p->sliding_window_size, 20);
	assert_int_equal(p->minimum_calls, 10);
	assert_int_equal(p->wait_open_ms, 30000);
	assert_int_equal(p->permitted_half_open, 3);
	assert_true(p->health_set);
	assert_false(p->health_tcp);
	assert_string_equal(p->health_http_path, "/healthz");
	assert_int_equal(p->health_interval_ms, 2000);
	assert_int_equal(p->health_timeout_ms, 500);
	assert_int_equal(p->healthy_threshold, 2);
	assert_int_equal(p->unhealthy_threshold, 4);
	assert_true(p->rate_set);
	assert_int_equal(p->connections_per_second, 1000);
	assert_int_equal(p->burst, 2000);
	config_free(cfg);
}

static void assert_outlier_defaults(const struct cfg_traffic_policy *p)
{
	assert_int_equal(p->consecutive_5xx, 5);
	assert_int_equal(p->consecutive_gateway, 0);
	assert_int_equal(p->consecutive_connect_failures, 5);
	assert_int_equal(p->interval_ms, 10000);
	assert_int_equal(p->base_ejection_ms, 30000);
	assert_int_equal(p->max_ejection_ms, 300000);
	assert_int_equal(p->max_ejection_percent, 10);
	assert_false(p->terminate_connections);
}

static void assert_breaker_defaults(const struct cfg_traffic_policy *p)
{
	assert_true(p->failure_rate_threshold == 50);
	assert_int_equal(p->sliding_window_size, 100);
	assert_int_equal(p->minimum_calls, 100);
	assert_int_equal(p->wait_open_ms, 60000);
}

static void test_traffic_policy_defaults(void **state)
{
	const char *dir = *state;
	struct mesh_config *cfg;
	const struct cfg_traffic_policy *p;

	cfg = load_text_ok(dir, SVC_API "---\n" HDR "kind: TrafficPolicy\n"
					"metadata: {name: bare}\n"
					"spec: {service: api}\n"
					"---\n" HDR "kind: TrafficPolicy\n"
					"metadata: {name: outlier-only}\n"
					"spec: {service: ap2, outlierDetection: {}}\n"
					"---\n" HDR "kind: TrafficPolicy\n"
					"metadata: {name: others}\n"
					"spec:\n"
					"  service: ap3\n"
					"  connectionPool: {}\n"
					"  circuitBreaker: {}\n"
					"  healthCheck: {tcp: {}}\n"
					"  rateLimit: {connectionsPerSecond: 50}\n"
					"---\n" HDR "kind: TrafficPolicy\n"
					"metadata: {name: long-ejection}\n"
					"spec:\n"
					"  service: ap4\n"
					"  outlierDetection: {baseEjectionTime: 10m}\n"
					"  healthCheck:\n"
					"    tcp:\n" SVC_AP(2) SVC_AP(3) SVC_AP(4));
	assert_int_equal(cfg->n_policies, 4);

	p = &cfg->policies[0];
	assert_false(p->pool_set || p->outlier_set || p->breaker_set || p->health_set ||
		     p->rate_set);
	assert_int_equal(p->max_connections, 0);
	assert_int_equal(p->connect_timeout_ms, 0);
	assert_outlier_defaults(p);
	assert_breaker_defaults(p);
	assert_int_equal(p->permitted_half_open, 10);
	assert_int_equal(p->health_interval_ms, 10000);
	assert_int_equal(p->health_timeout_ms, 1000);
	assert_int_equal(p->healthy_threshold, 1);
	assert_int_equal(p->unhealthy_threshold, 3);

	/* Outlier detection without a breaker re-admits on a single probe. */
	p = &cfg->policies[1];
	assert_true(p->outlier_set);
	assert_false(p->breaker_set);
	assert_outlier_defaults(p);
	assert_int_equal(p->permitted_half_open, 1);

	p = &cfg->policies[2];
	assert_true(p->pool_set && p->breaker_set && p->health_set && p->rate_set);
	assert_false(p->outlier_set);
	assert_breaker_defaults(p);
	assert_int_equal(p->permitted_half_open, 10);
	assert_true(p->health_tcp);
	assert_string_equal(p->health_http_path, "");
	assert_int_equal(p->connections_per_second, 50);
	assert_int_equal(p->burst, 50);

	/* A long base ejection raises the default maximum instead of failing. */
	p = &cfg->policies[3];
	assert_int_equal(p->base_ejection_ms, 600000);
	assert_int_equal(p->max_ejection_ms, 600000);
	assert_true(p->health_tcp);
	config_free(cfg);
}

static void test_workload_and_access(void **state)
{
	const char *dir = *state;
	struct mesh_config *cfg;
	const struct cfg_workload *w;
	const struct cfg_access_policy *a;

	cfg = load_text_ok(dir, HDR "kind: AccessPolicy\n"
				    "metadata: {name: web-access}\n"
				    "spec:\n"
				    "  service: web\n"
				    "  action: DENY\n"
				    "  from: [client, web-1]\n"
				    "---\n" HDR "kind: Workload\n"
				    "metadata: {name: web-1}\n"
				    "spec:\n"
				    "  service: web\n"
				    "  cgroup: /sys/fs/cgroup/shop/web\n"
				    "  ports: [8080, 8081]\n"
				    "  interfaces: [veth-web0, eth0]\n"
				    "---\n" HDR "kind: Workload\n"
				    "metadata: {name: client}\n"
				    "spec: {service: web, cgroup: shop/client}\n"
				    "---\n" HDR "kind: AccessPolicy\n"
				    "metadata: {name: open}\n"
				    "spec: {service: web, action: ALLOW}\n"
				    "---\n" HDR "kind: Service\n"
				    "metadata: {name: web}\n"
				    "spec: {addresses: [\"10.0.0.2\"], ports: [{port: 80}]}\n");
	assert_int_equal(cfg->n_workloads, 2);
	w = &cfg->workloads[0];
	assert_string_equal(w->meta.name, "web-1");
	assert_string_equal(w->service, "web");
	assert_int_equal(w->service_idx, 0);
	assert_string_equal(w->cgroup, "/sys/fs/cgroup/shop/web");
	assert_int_equal(w->n_ports, 2);
	assert_int_equal(w->ports[0], 8080);
	assert_int_equal(w->ports[1], 8081);
	assert_int_equal(w->n_interfaces, 2);
	assert_string_equal(w->interfaces[0], "veth-web0");
	assert_string_equal(w->interfaces[1], "eth0");
	w = &cfg->workloads[1];
	assert_string_equal(w->cgroup, "shop/client");
	assert_int_equal(w->n_ports, 0);
	assert_null(w->ports);
	assert_int_equal(w->n_interfaces, 0);

	assert_int_equal(cfg->n_access, 2);
	a = &cfg->access[0];
	assert_int_equal(a->service_idx, 0);
	assert_int_equal(a->action, CFG_DENY);
	assert_int_equal(a->n_from, 2);
	assert_string_equal(a->from[0], "client");
	assert_int_equal(a->from_idx[0], 1);
	assert_string_equal(a->from[1], "web-1");
	assert_int_equal(a->from_idx[1], 0);
	a = &cfg->access[1];
	assert_int_equal(a->action, CFG_ALLOW);
	assert_int_equal(a->n_from, 0);
	config_free(cfg);
}

static void test_telemetry_full(void **state)
{
	const char *dir = *state;
	struct mesh_config *cfg;
	const struct cfg_telemetry *t;

	cfg = load_text_ok(dir, HDR "kind: Telemetry\n"
				    "metadata: {name: telemetry, namespace: mesh-system}\n"
				    "spec:\n"
				    "  otlp:\n"
				    "    endpoint: https://otel.example.com:4318\n"
				    "    headers: {authorization: \"Bearer abc\", x-tenant: shop}\n"
				    "    compression: none\n"
				    "    timeout: 5s\n"
				    "    tls:\n"
				    "      caFile: /etc/ca.pem\n"
				    "      certFile: /etc/cert.pem\n"
				    "      keyFile: /etc/key.pem\n"
				    "      insecureSkipVerify: true\n"
				    "  sampling: {ratio: 0.25, alwaysSampleErrors: false, "
				    "latencyThreshold: 300ms}\n"
				    "  tracing: {redactQuery: true}\n"
				    "  routes: [\"/api/v1/users/{id}\", /cart]\n"
				    "  prometheus: {listen: \"127.0.0.1:9464\"}\n");
	t = cfg->telemetry;
	assert_non_null(t);
	assert_string_equal(t->meta.name, "telemetry");
	assert_string_equal(t->meta.ns, "mesh-system");
	assert_true(t->otlp_set);
	assert_string_equal(t->otlp_endpoint, "https://otel.example.com:4318");
	assert_int_equal(t->n_headers, 2);
	assert_string_equal(t->headers[0].name, "authorization");
	assert_string_equal(t->headers[0].value, "Bearer abc");
	assert_string_equal(t->headers[1].name, "x-tenant");
	assert_string_equal(t->headers[1].value, "shop");
	assert_false(t->otlp_gzip);
	assert_int_equal(t->otlp_timeout_ms, 5000);
	assert_string_equal(t->tls_ca_file, "/etc/ca.pem");
	assert_string_equal(t->tls_cert_file, "/etc/cert.pem");
	assert_string_equal(t->tls_key_file, "/etc/key.pem");
	assert_true(t->tls_insecure_skip_verify);
	assert_true(t->sampling_ratio == 0.25);
	assert_false(t->sample_errors);
	assert_int_equal(t->sample_slower_than_ms, 300);
	assert_true(t->redact_query);
	assert_int_equal(t->n_routes, 2);
	assert_string_equal(t->routes[0], "/api/v1/users/{id}");
	assert_string_equal(t->routes[1], "/cart");
	assert_string_equal(t->prometheus_listen, "127.0.0.1:9464");
	config_free(cfg);
}

static void test_telemetry_defaults(void **state)
{
	const char *dir = *state;
	struct mesh_config *cfg;
	const struct cfg_telemetry *t;

	cfg = load_text_ok(dir, HDR "kind: Telemetry\n"
				    "metadata: {name: telemetry}\n"
				    "spec: {}\n");
	t = cfg->telemetry;
	assert_non_null(t);
	assert_false(t->otlp_set);
	assert_string_equal(t->otlp_endpoint, "");
	assert_int_equal(t->n_headers, 0);
	assert_true(t->otlp_gzip);
	assert_int_equal(t->otlp_timeout_ms, 10000);
	assert_false(t->tls_insecure_skip_verify);
	assert_true(t->sampling_ratio == 1.0);
	assert_true(t->sample_errors);
	assert_int_equal(t->sample_slower_than_ms, 0);
	assert_false(t->redact_query);
	assert_int_equal(t->n_routes, 0);
	assert_string_equal(t->prometheus_listen, "");
	config_free(cfg);

	cfg = load_text_ok(dir,
			   HDR "kind: Telemetry\n"
			       "metadata: {name: telemetry}\n"
			       "spec:\n"
			       "  otlp: {endpoint: \"http://127.0.0.1:4318\", compression: gzip}\n"
			       "  prometheus: {listen: \"[::1]:9464\"}\n");
	t = cfg->telemetry;
	assert_true(t->otlp_set);
	assert_true(t->otlp_gzip);
	assert_int_equal(t->otlp_timeout_ms, 10000);
	assert_true(t->sampling_ratio == 1.0);
	assert_string_equal(t->prometheus_listen, "[::1]:9464");
	config_free(cfg);
}

/* Workload spec.tracing.instrumented: auto (the default), true, false;
 * anything else is refused with what is allowed. */
static void test_workload_tracing(void **state)
{
	const char *dir = *state;
	struct mesh_config *cfg;

	cfg = load_text_ok(dir,
			   HDR "kind: Service\n"
			       "metadata: {name: web}\n"
			       "spec: {addresses: [\"10.0.0.1\"], ports: [{port: 80}]}\n"
			       "---\n" HDR "kind: Workload\n"
			       "metadata: {name: a}\n"
			       "spec: {service: web, cgroup: a}\n"
			       "---\n" HDR "kind: Workload\n"
			       "metadata: {name: b}\n"
			       "spec: {service: web, cgroup: b, tracing: {instrumented: true}}\n"
			       "---\n" HDR "kind: Workload\n"
			       "metadata: {name: c}\n"
			       "spec: {service: web, cgroup: c, tracing: {instrumented: false}}\n"
			       "---\n" HDR "kind: Workload\n"
			       "metadata: {name: d}\n"
			       "spec: {service: web, cgroup: d, tracing: {instrumented: auto}}\n");
	assert_int_equal(cfg->n_workloads, 4);
	assert_int_equal(cfg->workloads[0].instrumented, CFG_INSTR_AUTO);
	assert_int_equal(cfg->workloads[1].instrumented, CFG_INSTR_TRUE);
	assert_int_equal(cfg->workloads[2].instrumented, CFG_INSTR_FALSE);
	assert_int_equal(cfg->workloads[3].instrumented, CFG_INSTR_AUTO);
	config_free(cfg);
	EXPECT_ERRORS(dir,
		      HDR "kind: Workload\n"
			  "metadata: {name: a}\n"
			  "spec:\n"
			  "  service: web\n"
			  "  cgroup: a\n"
			  "  tracing: {instrumented: yes, sampled: 1}\n",
		      "5:12: spec.service: unknown service \"default/web\"",
		      "7:27: spec.tracing.instrumented: \"yes\" is not one of auto, true, false",
		      "7:32: spec.tracing.sampled: unknown field");
}

/* Files are read in name order, *.yaml and *.yml only, hidden ones skipped;
 * references may point into a later file; empty documents are skipped. */
static void test_directory(void **state)
{
	const char *dir = *state;
	struct mesh_config *cfg;
	char path[4096], want[4096];

	put(dir, "b.yml",
	    "# workloads\n"
	    "---\n" HDR "kind: Workload\n"
	    "metadata: {name: cart-1}\n"
	    "spec: {service: cart, cgroup: shop/cart}\n"
	    "---\n"
	    "---\n" HDR "kind: Workload\n"
	    "metadata: {name: cart-1, namespace: staging}\n"
	    "spec: {service: cart, cgroup: staging/cart}\n");
	put(dir, "a.yaml",
	    HDR "kind: Service\n"
		"metadata: {name: cart}\n"
		"spec: {addresses: [\"10.0.0.1\"], ports: [{port: 80}]}\n"
		"---\n" HDR "kind: Service\n"
		"metadata: {name: cart, namespace: staging}\n"
		"spec: {addresses: [\"10.0.1.1\"], ports: [{port: 80}]}\n");
	put(dir, "c.yaml",
	    HDR "kind: TrafficPolicy\n"
		"metadata: {name: cart}\n"
		"spec: {service: cart}\n");
	put(dir, "notes.txt", "not: [yaml\n");
	put(dir, ".hidden.yaml", "not: [yaml\n");
	put(dir, "c.yaml.orig", "not: [yaml\n");
	snprintf(path, sizeof(path), "%s/sub.yaml", dir);
	assert_int_equal(mkdir(path, 0700), 0);

	cfg = load_ok(dir);
	assert_int_equal(cfg->n_files, 3);
	snprintf(want, sizeof(want), "%s/a.yaml", dir);
	assert_string_equal(cfg->files[0], want);
	snprintf(want, sizeof(want), "%s/b.yml", dir);
	assert_string_equal(cfg->files[1], want);
	snprintf(want, sizeof(want), "%s/c.yaml", dir);
	assert_string_equal(cfg->files[2], want);

	assert_int_equal(cfg->n_services, 2);
	assert_string_equal(cfg->services[1].meta.ns, "staging");
	assert_int_equal(cfg->services[1].meta.origin.line, 6);
	assert_int_equal(cfg->n_workloads, 2);
	/* A Workload refers to the service of its own namespace. */
	assert_int_equal(cfg->workloads[0].service_idx, 0);
	assert_int_equal(cfg->workloads[1].service_idx, 1);
	snprintf(want, sizeof(want), "%s/b.yml", dir);
	assert_string_equal(cfg->workloads[1].meta.origin.file, want);
	assert_int_equal(cfg->workloads[1].meta.origin.line, 9);
	assert_int_equal(cfg->n_policies, 1);
	assert_int_equal(cfg->policies[0].service_idx, 0);
	config_free(cfg);

	/* A trailing slash does not double up in the file names. */
	snprintf(path, sizeof(path), "%s/", dir);
	cfg = load_ok(path);
	snprintf(want, sizeof(want), "%s/a.yaml", dir);
	assert_string_equal(cfg->files[0], want);
	config_free(cfg);
}

static void test_empty_directory(void **state)
{
	struct mesh_config *cfg = load_ok(*state);

	assert_int_equal(cfg->n_files, 0);
	assert_int_equal(cfg->n_services + cfg->n_policies + cfg->n_workloads + cfg->n_access, 0);
	assert_null(cfg->telemetry);
	config_free(cfg);
}

static void test_single_file(void **state)
{
	const char *dir = *state;
	struct mesh_config *cfg;
	char path[4096];

	put(dir, "mesh.conf", SVC_API);
	snprintf(path, sizeof(path), "%s/mesh.conf", dir);
	cfg = load_ok(path);
	assert_int_equal(cfg->n_files, 1);
	assert_string_equal(cfg->files[0], path);
	assert_int_equal(cfg->n_services, 1);
	assert_string_equal(cfg->services[0].meta.origin.file, path);
	config_free(cfg);
}

/* The examples shipped in deploy/ must stay loadable. */
static void test_examples(void **state)
{
	struct mesh_config *cfg;
	struct dirent *de;
	bool any = false;
	size_t len;
	DIR *d;

	(void)state;
	/* the examples are part of the tree: missing ones are a failure */
	d = opendir(EXAMPLES_DIR);
	if (!d)
		fail_msg("%s does not exist", EXAMPLES_DIR);
	while ((de = readdir(d))) {
		len = strlen(de->d_name);
		if ((len > 5 && !strcmp(de->d_name + len - 5, ".yaml")) ||
		    (len > 4 && !strcmp(de->d_name + len - 4, ".yml")))
			any = true;
	}
	closedir(d);
	if (!any)
		fail_msg("%s has no yaml files", EXAMPLES_DIR);
	cfg = load_ok(EXAMPLES_DIR);
	assert_true(cfg->n_services > 0);
	config_free(cfg);
}

/* ---- invalid documents: one exact message each ---- */

static void test_unknown_kind(void **state)
{
	EXPECT_ERRORS(*state,
		      HDR "kind: Foo\n"
			  "metadata: {name: x}\n"
			  "spec: {}\n",
		      "2:7: kind: unknown kind \"Foo\" (expected Service, TrafficPolicy, Workload, "
		      "AccessPolicy or Telemetry)");
}

static void test_api_version(void **state)
{
	EXPECT_ERRORS(*state,
		      "apiVersion: v1\n"
		      "kind: Telemetry\n"
		      "metadata: {name: t}\n"
		      "spec: {}\n"
		      "---\n"
		      "kind: Workload\n"
		      "metadata: {name: w}\n"
		      "spec: {service: s, cgroup: x}\n"
		      "---\n"
		      "apiVersion: [bpfmesh.io/v1alpha1]\n"
		      "kind: Telemetry\n"
		      "metadata: {name: t2}\n"
		      "spec: {}\n",
		      "1:13: apiVersion: must be \"bpfmesh.io/v1alpha1\"",
		      "6:1: apiVersion: must be \"bpfmesh.io/v1alpha1\"",
		      "8:17: spec.service: unknown service \"default/s\"",
		      "10:13: apiVersion: must be \"bpfmesh.io/v1alpha1\"",
		      "11:7: kind: only one Telemetry document is allowed (first at @/c.yaml:1:1)");
}

static void test_unknown_field(void **state)
{
	EXPECT_ERRORS(*state,
		      HDR "kind: Service\n"
			  "metadata:\n"
			  "  name: s\n"
			  "  nmespace: x\n"
			  "spec:\n"
			  "  addresses: [\"10.0.0.1\"]\n"
			  "  ports: [{port: 80}]\n"
			  "  endpoints:\n"
			  "  - {adress: \"10.1.0.1\"}\n"
			  "state: {}\n",
		      "5:3: metadata.nmespace: unknown field",
		      "10:5: spec.endpoints[0].address: required field is missing",
		      "10:6: spec.endpoints[0].adress: unknown field",
		      "11:1: state: unknown field");
}

static void test_wrong_types(void **state)
{
	EXPECT_ERRORS(*state,
		      HDR "kind: Service\n"
			  "metadata: {name: s}\n"
			  "spec:\n"
			  "  addresses: \"10.0.0.1\"\n"
			  "  ports:\n"
			  "  - {name: [a], port: http}\n"
			  "  - {port: \"80\"}\n"
			  "  - {port: 8.5}\n"
			  "  loadBalancer: roundRobin\n"
			  "---\n" HDR "kind: TrafficPolicy\n"
			  "metadata: {name: p}\n"
			  "spec:\n"
			  "  service: s\n"
			  "  outlierDetection: {terminateConnections: \"yes\"}\n"
			  "  circuitBreaker: {failureRateThreshold: lots}\n"
			  "  rateLimit: {connectionsPerSecond: {a: 1}}\n"
			  "  healthCheck: [tcp]\n",
		      "5:14: spec.addresses: expected a sequence",
		      "7:12: spec.ports[0].name: expected a string",
		      "7:23: spec.ports[0].port: expected an integer, got \"http\"",
		      "8:12: spec.ports[1].port: expected an integer, got \"80\"",
		      "9:12: spec.ports[2].port: expected an integer, got \"8.5\"",
		      "10:17: spec.loadBalancer: expected a mapping",
		      "17:44: spec.outlierDetection.terminateConnections: expected a boolean, got "
		      "\"yes\"",
		      "18:42: spec.circuitBreaker.failureRateThreshold: expected a number, got "
		      "\"lots\"",
		      "19:37: spec.rateLimit.connectionsPerSecond: expected an integer",
		      "20:16: spec.healthCheck: expected a mapping");
}

static void test_bad_addresses(void **state)
{
	EXPECT_ERRORS(*state,
		      HDR "kind: Service\n"
			  "metadata: {name: s}\n"
			  "spec:\n"
			  "  addresses: [\"10.0.0.300\", fd00::1, \"\"]\n"
			  "  ports: [{port: 80}]\n"
			  "  endpoints:\n"
			  "  - {address: \"fe80::1%eth0\"}\n"
			  "  - {address: 10.0.0.1/32}\n",
		      "5:15: spec.addresses[0]: \"10.0.0.300\" is not an IPv4 or IPv6 address",
		      "5:38: spec.addresses[2]: \"\" is not an IPv4 or IPv6 address",
		      "8:15: spec.endpoints[0].address: \"fe80::1%eth0\" is not an IPv4 or IPv6 "
		      "address",
		      "9:15: spec.endpoints[1].address: \"10.0.0.1/32\" is not an IPv4 or IPv6 "
		      "address");
}

static void test_bad_durations(void **state)
{
	EXPECT_ERRORS(
	    *state,
	    SVC_API "---\n" HDR "kind: TrafficPolicy\n"
		    "metadata: {name: p}\n"
		    "spec:\n"
		    "  service: api\n"
		    "  outlierDetection:\n"
		    "    interval: 5 seconds\n"
		    "    baseEjectionTime: 10\n"
		    "  healthCheck: {tcp: {}, timeout: 0s}\n"
		    "  connectionPool: {tcp: {connectTimeout: -1s}}\n",
	    "12:15: spec.outlierDetection.interval: \"5 seconds\" is not a duration (e.g. "
	    "500ms, 5s, 1m)",
	    "13:23: spec.outlierDetection.baseEjectionTime: \"10\" is not a duration (e.g. "
	    "500ms, 5s, 1m)",
	    "14:35: spec.healthCheck.timeout: must be greater than 0",
	    "15:42: spec.connectionPool.tcp.connectTimeout: \"-1s\" is not a duration (e.g. "
	    "500ms, 5s, 1m)");
}

static void test_ranges(void **state)
{
	EXPECT_ERRORS(
	    *state,
	    HDR "kind: Service\n"
		"metadata: {name: s}\n"
		"spec:\n"
		"  addresses: [\"10.0.0.1\"]\n"
		"  ports: [{port: 0, targetPort: 65536}]\n"
		"  endpoints:\n"
		"  - {address: \"10.1.0.1\", weight: 0}\n"
		"  - {address: \"10.1.0.2\", port: 70000, weight: 99999999999999999999}\n"
		"---\n" HDR "kind: TrafficPolicy\n"
		"metadata: {name: p}\n"
		"spec:\n"
		"  service: s\n"
		"  outlierDetection: {maxEjectionPercent: 101, consecutive5xxErrors: -1}\n"
		"  circuitBreaker: {failureRateThreshold: 0, slidingWindowSize: 0}\n"
		"  rateLimit: {connectionsPerSecond: 0}\n"
		"---\n" HDR "kind: Telemetry\n"
		"metadata: {name: t}\n"
		"spec: {sampling: {ratio: 1.5}}\n",
	    "6:18: spec.ports[0].port: 0 is out of range 1-65535",
	    "6:33: spec.ports[0].targetPort: 65536 is out of range 1-65535",
	    "8:35: spec.endpoints[0].weight: 0 is out of range 1-65535",
	    "9:33: spec.endpoints[1].port: 70000 is out of range 1-65535",
	    "9:48: spec.endpoints[1].weight: 99999999999999999999 is out of range 1-65535",
	    "16:42: spec.outlierDetection.maxEjectionPercent: 101 is out of range 0-100",
	    "16:69: spec.outlierDetection.consecutive5xxErrors: -1 is out of range "
	    "0-4294967295",
	    "17:42: spec.circuitBreaker.failureRateThreshold: 0 is out of range 1-100",
	    "17:64: spec.circuitBreaker.slidingWindowSize: 0 is out of range 1-1024",
	    "18:37: spec.rateLimit.connectionsPerSecond: 0 is out of range 1-4294967295",
	    "23:26: spec.sampling.ratio: 1.5 is out of range 0-1");
}

static void test_duplicate_names(void **state)
{
	const char *dir = *state;

	put(dir, "a.yaml",
	    HDR "kind: Service\n"
		"metadata: {name: web}\n"
		"spec: {addresses: [\"10.0.0.1\"], ports: [{port: 80}]}\n"
		"---\n" HDR "kind: Workload\n"
		"metadata: {name: web}\n"
		"spec: {service: web, cgroup: web}\n");
	put(dir, "b.yaml",
	    HDR "kind: Service\n"
		"metadata: {name: web, namespace: staging}\n"
		"spec: {addresses: [\"10.0.1.1\"], ports: [{port: 80}]}\n"
		"---\n" HDR "kind: Service\n"
		"metadata:\n"
		"  name: web\n"
		"spec: {addresses: [\"10.0.2.1\"], ports: [{port: 80}]}\n"
		"---\n" HDR "kind: Workload\n"
		"metadata: {name: web, namespace: default}\n"
		"spec: {service: web, cgroup: web}\n");
	EXPECT_DIR_ERRORS(
	    dir, -EINVAL,
	    "@/b.yaml:9:9: metadata.name: duplicate Service \"default/web\" (first "
	    "defined at @/a.yaml:1:1)",
	    "@/b.yaml:14:18: metadata.name: duplicate Workload \"default/web\" (first "
	    "defined at @/a.yaml:6:1)");
}

static void test_unknown_references(void **state)
{
	EXPECT_ERRORS(*state,
		      HDR "kind: Service\n"
			  "metadata: {name: web}\n"
			  "spec: {addresses: [\"10.0.0.1\"], ports: [{port: 80}]}\n"
			  "---\n" HDR "kind: TrafficPolicy\n"
			  "metadata: {name: p}\n"
			  "spec: {service: nope}\n"
			  "---\n" HDR "kind: Workload\n"
			  "metadata: {name: w, namespace: shop}\n"
			  "spec: {service: web, cgroup: shop/w}\n"
			  "---\n" HDR "kind: AccessPolicy\n"
			  "metadata: {name: a}\n"
			  "spec:\n"
			  "  service: web\n"
			  "  action: ALLOW\n"
			  "  from: [x, w]\n",
		      "9:17: spec.service: unknown service \"default/nope\"",
		      "14:17: spec.service: unknown service \"shop/web\"",
		      "22:10: spec.from[0]: unknown workload \"default/x\"",
		      "22:13: spec.from[1]: unknown workload \"default/w\"");
}

/* An empty name is a mistake, not a reference to nothing that applies to
 * nothing. */
static void test_empty_references(void **state)
{
	EXPECT_ERRORS(*state,
		      HDR "kind: Service\n"
			  "metadata: {name: web}\n"
			  "spec: {addresses: [\"10.0.0.1\"], ports: [{port: 80}]}\n"
			  "---\n" HDR "kind: TrafficPolicy\n"
			  "metadata: {name: p}\n"
			  "spec: {service: \"\"}\n"
			  "---\n" HDR "kind: Workload\n"
			  "metadata: {name: w}\n"
			  "spec: {service: \"\", cgroup: w}\n"
			  "---\n" HDR "kind: AccessPolicy\n"
			  "metadata: {name: a}\n"
			  "spec: {service: web, action: DENY, from: [\"\"]}\n",
		      "9:17: spec.service: \"\" is empty: name a document",
		      "14:17: spec.service: \"\" is empty: name a document",
		      "19:43: spec.from[0]: \"\" is empty: name a document");
}

static void test_empty_files(void **state)
{
	const char *dir = *state;

	put(dir, "a.yaml", "");
	put(dir, "b.yaml", "# only a comment\n\n");
	put(dir, "c.yaml", "---\n");
	put(dir, "d.yaml", "---\n---\n...\n");
	EXPECT_DIR_ERRORS(dir, -EINVAL, "@/a.yaml:1:1: file has no documents",
			  "@/b.yaml:1:1: file has no documents",
			  "@/c.yaml:1:1: file has no documents",
			  "@/d.yaml:1:1: file has no documents");
}

static void test_invalid_yaml(void **state)
{
	const char *dir = *state;

	put(dir, "a.yaml", HDR "kind: [Service\n");
	put(dir, "b.yaml", HDR "kind: Service: x\n");
	put(dir, "c.yaml", HDR "metadata: *undefined\n");
	put(dir, "d.yaml", "kind: \xff\n");
	/* A document before the broken one is still checked. */
	put(dir, "e.yaml", HDR "kind: Nope\n---\n\tx: 1\n");
	EXPECT_DIR_ERRORS(
	    dir, -EINVAL,
	    "@/a.yaml:3:1: invalid YAML: did not find expected ',' or ']' while "
	    "parsing a flow sequence",
	    "@/b.yaml:2:14: invalid YAML: mapping values are not allowed in this "
	    "context",
	    "@/c.yaml:2:11: invalid YAML: found undefined alias",
	    "@/d.yaml:1:7: invalid YAML: invalid leading UTF-8 octet",
	    "@/e.yaml:1:1: metadata: required field is missing",
	    "@/e.yaml:1:1: spec: required field is missing",
	    "@/e.yaml:2:7: kind: unknown kind \"Nope\" (expected Service, TrafficPolicy, "
	    "Workload, AccessPolicy or Telemetry)",
	    "@/e.yaml:4:1: invalid YAML: found character that cannot start any token "
	    "while scanning for the next token");
}

static void test_missing_fields(void **state)
{
	EXPECT_ERRORS(
	    *state,
	    HDR "kind: Service\n"
		"metadata: {name: s}\n"
		"spec: {}\n"
		"---\n" HDR "kind: TrafficPolicy\n"
		"metadata: {name: p}\n"
		"spec:\n"
		"  rateLimit: {burst: 5}\n"
		"---\n" HDR "kind: Workload\n"
		"metadata: {name: w}\n"
		"spec: {service: s}\n"
		"---\n" HDR "kind: AccessPolicy\n"
		"metadata: {name: a}\n"
		"spec: {service: s}\n"
		"---\n" HDR "kind: Service\n"
		"metadata: {namespace: x}\n"
		"spec: {addresses: [], ports: [{name: http}]}\n"
		"---\n" HDR "metadata: {name: nokind}\n"
		"---\n" HDR "kind: Telemetry\n"
		"spec:\n",
	    "4:7: spec.addresses: required field is missing",
	    "4:7: spec.ports: required field is missing",
	    "10:3: spec.service: required field is missing",
	    "10:14: spec.rateLimit.connectionsPerSecond: required field is missing",
	    "15:7: spec.cgroup: required field is missing",
	    "20:7: spec.action: required field is missing",
	    "24:11: metadata.name: required field is missing",
	    "25:19: spec.addresses: must not be empty",
	    "25:31: spec.ports[0].port: required field is missing",
	    "27:1: kind: required field is missing", "27:1: spec: required field is missing",
	    "30:1: metadata: required field is missing", "30:1: spec: required field is missing");
}

static void test_bad_enums(void **state)
{
	EXPECT_ERRORS(
	    *state,
	    HDR "kind: Service\n"
		"metadata: {name: s}\n"
		"spec:\n"
		"  addresses: [\"10.0.0.1\"]\n"
		"  ports: [{port: 80, protocol: SCTP}, {port: 81, protocol: tcp}]\n"
		"  loadBalancer: {policy: fastest}\n"
		"---\n" HDR "kind: AccessPolicy\n"
		"metadata: {name: a}\n"
		"spec: {service: s, action: MAYBE}\n"
		"---\n" HDR "kind: Telemetry\n"
		"metadata: {name: t}\n"
		"spec: {otlp: {endpoint: \"http://c:4318\", compression: brotli}}\n",
	    "6:32: spec.ports[0].protocol: \"SCTP\" is not one of TCP, UDP",
	    "6:60: spec.ports[1].protocol: \"tcp\" is not one of TCP, UDP",
	    "7:26: spec.loadBalancer.policy: \"fastest\" is not one of random, roundRobin, "
	    "leastConnections, maglev",
	    "12:28: spec.action: \"MAYBE\" is not one of ALLOW, DENY",
	    "17:55: spec.otlp.compression: \"brotli\" is not one of gzip, none");
}

static void test_endpoint_port_multi_port(void **state)
{
	EXPECT_ERRORS(
	    *state,
	    HDR "kind: Service\n"
		"metadata: {name: s}\n"
		"spec:\n"
		"  addresses: [\"10.0.0.1\"]\n"
		"  endpoints:\n"
		"  - {address: \"10.1.0.1\", port: 8080}\n"
		"  - {address: \"10.1.0.2\"}\n"
		"  - address: \"10.1.0.3\"\n"
		"    port: 8081\n"
		"  ports: [{port: 80}, {port: 443}]\n",
	    "7:33: spec.endpoints[0].port: only allowed when the service has exactly one "
	    "port",
	    "10:11: spec.endpoints[2].port: only allowed when the service has exactly one "
	    "port");
}

static void test_address_conflicts(void **state)
{
	EXPECT_ERRORS(*state,
		      HDR "kind: Service\n"
			  "metadata: {name: a}\n"
			  "spec: {addresses: [\"127.100.0.10\"], ports: [{port: 80}]}\n"
			  "---\n" HDR "kind: Service\n"
			  "metadata: {name: b}\n"
			  "spec:\n"
			  "  addresses: [\"fd00::1\", \"127.100.0.10\"]\n"
			  "  ports: [{port: 80}, {port: 80, protocol: UDP}]\n"
			  "---\n" HDR "kind: Service\n"
			  "metadata: {name: c}\n"
			  "spec: {addresses: [\"fd00:0::1\"], ports: [{port: 80}]}\n"
			  "---\n" HDR "kind: Service\n"
			  "metadata: {name: d, namespace: other}\n"
			  "spec: {addresses: [\"127.100.0.10\"], ports: [{port: 443}, {port: 80, "
			  "protocol: UDP}]}\n"
			  "---\n" HDR "kind: Service\n"
			  "metadata: {name: e}\n"
			  "spec:\n"
			  "  addresses: [\"10.0.0.1\", \"10.0.0.2\", \"10.0.0.1\"]\n"
			  "  ports: [{name: x, port: 80}, {name: x, port: 81}, {port: 80}]\n",
		      "10:26: spec.addresses[1]: 127.100.0.10:80/TCP is already used by service "
		      "\"default/a\"",
		      "16:20: spec.addresses[0]: [fd00::1]:80/TCP is already used by service "
		      "\"default/b\"",
		      "21:20: spec.addresses[0]: 127.100.0.10:80/UDP is already used by service "
		      "\"default/b\"",
		      "27:39: spec.addresses[2]: duplicate address 10.0.0.1",
		      "28:39: spec.ports[1].name: duplicate port name \"x\"",
		      "28:53: spec.ports[2]: duplicate port 80/TCP");
}

/* A service address needs an endpoint of its family: a v6 address with only
 * v4 endpoints (or the reverse) would refuse every connect(). */
static void test_address_families(void **state)
{
	struct mesh_config *cfg;

	cfg =
	    load_text_ok(*state, HDR "kind: Service\n"
				     "metadata: {name: dual}\n"
				     "spec:\n"
				     "  addresses: [\"127.100.0.10\", \"fd00::10\"]\n"
				     "  ports: [{port: 80}]\n"
				     "  endpoints: [{address: \"127.0.0.1\"}, {address: \"::1\"}]\n"
				     "---\n" HDR "kind: Service\n"
				     "metadata: {name: v6}\n"
				     "spec:\n"
				     "  addresses: [\"fd00::11\"]\n"
				     "  ports: [{port: 80}]\n"
				     "  endpoints: [{address: \"::1\"}]\n"
				     "---\n" HDR "kind: Service\n"
				     "metadata: {name: none-yet}\n"
				     "spec: {addresses: [\"fd00::12\"], ports: [{port: 80}]}\n");
	assert_int_equal(cfg->n_services, 3);
	config_free(cfg);

	EXPECT_ERRORS(*state,
		      HDR "kind: Service\n"
			  "metadata: {name: a}\n"
			  "spec:\n"
			  "  addresses: [\"127.100.0.10\", \"fd00::10\"]\n"
			  "  ports: [{port: 80}]\n"
			  "  endpoints: [{address: \"127.0.0.1\"}, {address: \"127.0.0.2\"}]\n"
			  "---\n" HDR "kind: Service\n"
			  "metadata: {name: b}\n"
			  "spec:\n"
			  "  addresses:\n"
			  "  - \"127.100.0.11\"\n"
			  "  ports: [{port: 80}]\n"
			  "  endpoints: [{address: \"::1\"}]\n",
		      "5:31: spec.addresses[1]: fd00::10 is an IPv6 address but every endpoint is "
		      "IPv4",
		      "14:5: spec.addresses[0]: 127.100.0.11 is an IPv4 address but every endpoint "
		      "is IPv6");
}

static void test_second_telemetry(void **state)
{
	const char *dir = *state;

	put(dir, "a.yaml",
	    HDR "kind: Telemetry\n"
		"metadata: {name: one}\n"
		"spec: {}\n");
	put(dir, "b.yaml",
	    "\n" HDR "kind: Telemetry\n"
	    "metadata: {name: two, namespace: other}\n"
	    "spec: {sampling: {ratio: 2}}\n");
	EXPECT_DIR_ERRORS(dir, -EINVAL,
			  "@/b.yaml:3:7: kind: only one Telemetry document is allowed (first at "
			  "@/a.yaml:1:1)",
			  "@/b.yaml:5:26: spec.sampling.ratio: 2 is out of range 0-1");
}

/* Appends n "  - {address: "10.x.y.z"}" lines to buf. */
static void add_endpoints(char *buf, size_t size, int n)
{
	size_t len = strlen(buf);
	int i;

	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, size - len, "  - {address: \"10.1.%d.%d\"}\n",
					i / 250, i % 250 + 1);
}

/* Endpoints per service and family: as many as the kernel's tables hold
 * (config.h: 4096), whatever the policy. */
static void test_limits(void **state)
{
	const char *dir = *state;
	const size_t size = 1 << 18;
	char *text = calloc(1, size);
	size_t len;
	int i;

	assert_non_null(text);
	/* 256 endpoints are fine... */
	strcpy(text, HDR "kind: Service\n"
			 "metadata: {name: s}\n"
			 "spec:\n"
			 "  addresses: [\"10.0.0.1\"]\n"
			 "  ports: [{port: 80}]\n"
			 "  loadBalancer: {policy: leastConnections}\n"
			 "  endpoints:\n");
	add_endpoints(text, size, 256);
	put(dir, "c.yaml", text);
	config_free(load_ok(dir));

	/* ...and 4096 with the other policies, but not 4097... */
	strcpy(text, HDR "kind: Service\n"
			 "metadata: {name: s}\n"
			 "spec:\n"
			 "  addresses: [\"10.0.0.1\"]\n"
			 "  ports: [{port: 80}]\n"
			 "  endpoints:\n");
	add_endpoints(text, size, 4096);
	put(dir, "c.yaml", text);
	config_free(load_ok(dir));
	add_endpoints(text, size, 1);
	EXPECT_ERRORS(
	    dir, text,
	    "8:3: spec.endpoints: 4097 IPv4 endpoints exceed the limit of 4096 per service "
	    "and address family");

	/* ...300 are with leastConnections; 17 addresses or 17 ports are not. */
	strcpy(text, HDR "kind: Service\n"
			 "metadata: {name: s}\n"
			 "spec:\n"
			 "  loadBalancer: {policy: leastConnections}\n"
			 "  addresses: [");
	len = strlen(text);
	for (i = 0; i < 17; i++)
		len += (size_t)snprintf(text + len, size - len, "%s\"10.0.0.%d\"", i ? ", " : "",
					i + 1);
	strcat(text, "]\n  ports: [");
	len = strlen(text);
	for (i = 0; i < 17; i++)
		len +=
		    (size_t)snprintf(text + len, size - len, "%s{port: %d}", i ? ", " : "", i + 1);
	strcat(text, "]\n  endpoints:\n");
	add_endpoints(text, size, 300);
	EXPECT_ERRORS(dir, text,
		      "6:14: spec.addresses: 17 addresses exceed the limit of 16 per service",
		      "7:10: spec.ports: 17 ports exceed the limit of 16 per service");
	free(text);
}

static void test_io_errors(void **state)
{
	const char *dir = *state;
	char path[4096];

	snprintf(path, sizeof(path), "%s/missing", dir);
	/* "@" expands to the path loaded, here the missing one. */
	expect_load(path, "", -ENOENT,
		    (const char *const[]){"@: cannot open: No such file or directory"}, 1);

	put(dir, "a.yaml", SVC_API);
	snprintf(path, sizeof(path), "%s/b.yaml", dir);
	assert_int_equal(symlink("/nonexistent/b.yaml", path), 0);
	EXPECT_DIR_ERRORS(dir, -ENOENT, "@/b.yaml: cannot open: No such file or directory");
}

/* One bad document anywhere refuses the whole set. */
static void test_atomic(void **state)
{
	const char *dir = *state;

	put(dir, "a.yaml", SVC_API);
	put(dir, "b.yaml",
	    HDR "kind: Service\n"
		"metadata: {name: other}\n"
		"spec: {addresses: [\"10.0.0.2\"], ports: [{port: 80}]}\n"
		"---\n" HDR "kind: Workload\n"
		"metadata: {name: w}\n"
		"spec: {service: api, cgroup: w, ports: [http]}\n");
	put(dir, "c.yaml",
	    SVC_API "---\n" HDR "kind: Workload\n"
		    "metadata: {name: w2}\n"
		    "spec: {service: api, cgroup: w}\n");
	EXPECT_DIR_ERRORS(dir, -EINVAL,
			  "@/b.yaml:9:41: spec.ports[0]: expected an integer, got \"http\"",
			  "@/c.yaml:3:18: metadata.name: duplicate Service \"default/api\" (first "
			  "defined at @/a.yaml:1:1)",
			  "@/c.yaml:4:20: spec.addresses[0]: 10.0.0.1:80/TCP is already used by "
			  "service \"default/api\"");

	/* Without errs the result is the same. */
	{
		struct mesh_config *cfg = (struct mesh_config *)&cfg;

		assert_int_equal(config_load(dir, &cfg, NULL), -EINVAL);
		assert_null(cfg);
	}
}

static void test_names(void **state)
{
	char long_name[300], *text;

	memset(long_name, 'a', 254);
	long_name[254] = '\0';
	assert_int_not_equal(
	    asprintf(&text,
		     HDR "kind: Service\n"
			 "metadata: {name: User_Service, namespace: a.b}\n"
			 "spec: {addresses: [\"10.0.0.1\"], ports: [{port: 80}]}\n"
			 "---\n" HDR "kind: Service\n"
			 "metadata: {name: -web, namespace: \"\"}\n"
			 "spec: {addresses: [\"10.0.0.2\"], ports: [{port: 80}]}\n"
			 "---\n" HDR "kind: Service\n"
			 "metadata: {name: %s}\n"
			 "spec: {addresses: [\"10.0.0.3\"], ports: [{port: 80}]}\n"
			 "---\n" HDR "kind: Service\n"
			 "metadata: {name: web.v1.example-1, namespace: a-1}\n"
			 "spec: {addresses: [\"10.0.0.4\"], ports: [{port: 80}]}\n"
			 "---\n" HDR "kind: Service\n"
			 "metadata: {name: \"a\\0b\", labels: [x], annotations: {a: {b: "
			 "c}}}\n"
			 "spec: {addresses: [\"10.0.0.5\"], ports: [{port: 80}]}\n",
		     long_name),
	    -1);
	EXPECT_ERRORS(
	    *state, text,
	    "3:18: metadata.name: \"User_Service\" is not a valid name (RFC 1123: lowercase "
	    "letters, digits, '-' and '.', starting and ending with a letter or digit)",
	    "3:43: metadata.namespace: \"a.b\" is not a valid namespace (RFC 1123 label: at "
	    "most 63 lowercase letters, digits and '-', starting and ending with a letter "
	    "or digit)",
	    "8:18: metadata.name: \"-web\" is not a valid name (RFC 1123: lowercase "
	    "letters, digits, '-' and '.', starting and ending with a letter or digit)",
	    "8:35: metadata.namespace: \"\" is not a valid namespace (RFC 1123 label: at "
	    "most 63 lowercase letters, digits and '-', starting and ending with a letter "
	    "or digit)",
	    "13:18: metadata.name: longer than 253 characters",
	    "23:18: metadata.name: contains a NUL character",
	    "23:34: metadata.labels: expected a mapping",
	    "23:56: metadata.annotations.a: expected a string");
	free(text);
}

static void test_duplicate_fields(void **state)
{
	EXPECT_ERRORS(*state,
		      HDR "kind: Service\n"
			  "kind: Service\n"
			  "metadata: {name: s}\n"
			  "spec:\n"
			  "  addresses: [\"10.0.0.1\"]\n"
			  "  ports: [{port: 80, port: 81}]\n"
			  "  addresses: [\"10.0.0.2\"]\n"
			  "  [complex]: key\n",
		      "3:1: kind: duplicate field", "7:22: spec.ports[0].port: duplicate field",
		      "8:3: spec.addresses: duplicate field",
		      "9:3: spec: mapping keys must be strings");
}

static void test_one_policy_per_service(void **state)
{
	EXPECT_ERRORS(*state,
		      SVC_API "---\n" HDR "kind: TrafficPolicy\n"
			      "metadata: {name: first}\n"
			      "spec: {service: api}\n"
			      "---\n" HDR "kind: TrafficPolicy\n"
			      "metadata: {name: second}\n"
			      "spec: {service: api}\n",
		      "14:17: spec.service: service \"default/api\" already has TrafficPolicy "
		      "\"default/first\" (at @/c.yaml:6:1)");
}

/* References of other kinds with no TrafficPolicy at all: the one-policy
 * check took &policies[r->obj] of every reference before looking at its
 * kind, NULL + 0 (UBSan: "applying zero offset to null pointer"; found by
 * tests/fuzz/fuzz_config.c). */
static void test_references_without_policies(void **state)
{
	struct mesh_config *cfg;

	cfg = load_text_ok(*state, SVC_API "---\n" HDR "kind: Workload\n"
					   "metadata: {name: client}\n"
					   "spec: {service: api, cgroup: shop/client}\n"
					   "---\n" HDR "kind: AccessPolicy\n"
					   "metadata: {name: deny}\n"
					   "spec: {service: api, action: DENY, from: [client]}\n");
	assert_int_equal(cfg->n_policies, 0);
	assert_null(cfg->policies);
	assert_int_equal(cfg->n_access, 1);
	assert_int_equal(cfg->access[0].service_idx, 0);
	assert_int_equal(cfg->access[0].from_idx[0], 0);
	config_free(cfg);
}

static void test_health_check(void **state)
{
	EXPECT_ERRORS(*state,
		      SVC_API
		      "---\n" HDR "kind: TrafficPolicy\n"
		      "metadata: {name: both}\n"
		      "spec: {service: api, healthCheck: {http: {path: /h}, tcp: {}}}\n"
		      "---\n" HDR "kind: TrafficPolicy\n"
		      "metadata: {name: neither}\n"
		      "spec: {service: ap2, healthCheck: {interval: 1s}}\n"
		      "---\n" HDR "kind: TrafficPolicy\n"
		      "metadata: {name: bad-path}\n"
		      "spec: {service: ap3, healthCheck: {http: {path: healthz}}}\n"
		      "---\n" HDR "kind: TrafficPolicy\n"
		      "metadata: {name: tcp-fields}\n"
		      "spec: {service: ap4, healthCheck: {tcp: {port: 1}, http: {}}}\n"
		      "---\n" HDR "kind: TrafficPolicy\n"
		      "metadata: {name: ejection}\n"
		      "spec:\n"
		      "  service: ap5\n"
		      "  outlierDetection: {baseEjectionTime: 1m, maxEjectionTime: 30s}\n" SVC_AP(2)
			  SVC_AP(3) SVC_AP(4) SVC_AP(5),
		      "9:35: spec.healthCheck: http and tcp are mutually exclusive",
		      "14:35: spec.healthCheck: one of http or tcp is required",
		      "19:49: spec.healthCheck.http.path: \"healthz\" does not start with '/'",
		      "24:35: spec.healthCheck: http and tcp are mutually exclusive",
		      "24:42: spec.healthCheck.tcp.port: unknown field",
		      "24:58: spec.healthCheck.http.path: required field is missing",
		      "31:61: spec.outlierDetection.maxEjectionTime: must not be shorter than "
		      "baseEjectionTime");
}

static void test_workload_and_telemetry_checks(void **state)
{
	EXPECT_ERRORS(
	    *state,
	    SVC_API "---\n" HDR "kind: Workload\n"
		    "metadata: {name: w}\n"
		    "spec:\n"
		    "  service: api\n"
		    "  cgroup: \"\"\n"
		    "  ports: [80, 0]\n"
		    "  interfaces: [eth/0, averyveryverylongname, ok0]\n"
		    "---\n" HDR "kind: Telemetry\n"
		    "metadata: {name: t}\n"
		    "spec:\n"
		    "  otlp:\n"
		    "    endpoint: collector:4318\n"
		    "    headers: {\"\": x, a: [b]}\n"
		    "    tls: {certFile: /c.pem}\n"
		    "  routes: [api/v1, \"/ok\"]\n"
		    "  prometheus: {listen: \"9090\"}\n",
	    "11:11: spec.cgroup: \"\" is not a cgroup path",
	    "12:15: spec.ports[1]: 0 is out of range 1-65535",
	    "13:16: spec.interfaces[0]: \"eth/0\" is not a valid interface name",
	    "13:23: spec.interfaces[1]: longer than 15 characters",
	    "20:15: spec.otlp.endpoint: \"collector:4318\" is not an http:// or https:// URL",
	    "21:15: spec.otlp.headers: \"\" is not a valid header name",
	    "21:25: spec.otlp.headers.a: expected a string",
	    "22:10: spec.otlp.tls.keyFile: required when certFile is set",
	    "23:12: spec.routes[0]: \"api/v1\" does not start with '/'",
	    "24:24: spec.prometheus.listen: \"9090\" is not host:port");
}

/* Aliases are resolved by libyaml to shared nodes; a cycle must not hang the
 * walk, and sharing a valid node is fine. */
static void test_aliases(void **state)
{
	const char *dir = *state;
	struct mesh_config *cfg;

	cfg = load_text_ok(dir, HDR "kind: Service\n"
				    "metadata: {name: a}\n"
				    "spec:\n"
				    "  addresses: [\"10.0.0.1\"]\n"
				    "  ports: &ports [{port: 80}]\n"
				    "---\n" HDR "kind: Service\n"
				    "metadata: {name: b}\n"
				    "spec:\n"
				    "  addresses: [\"10.0.0.2\"]\n"
				    "  ports: [{port: 80}]\n"
				    "  endpoints: [&ep {address: \"10.1.0.1\", weight: 3}, *ep]\n");
	assert_int_equal(cfg->n_services, 2);
	assert_int_equal(cfg->services[1].n_endpoints, 2);
	assert_int_equal(cfg->services[1].endpoints[1].weight, 3);
	config_free(cfg);

	EXPECT_ERRORS(dir,
		      HDR "kind: Service\n"
			  "metadata: {name: a}\n"
			  "spec: &s {addresses: *s, ports: [&p [*p]]}\n",
		      "4:7: spec.addresses: expected a sequence",
		      "4:34: spec.ports[0]: expected a mapping");
}

static void test_not_a_mapping(void **state)
{
	EXPECT_ERRORS(*state,
		      "- just\n"
		      "- a list\n"
		      "---\n"
		      "plain text\n"
		      "---\n" HDR "kind: Service\n"
		      "metadata: [s]\n"
		      "spec: [x]\n",
		      "1:1: expected a mapping", "4:1: expected a mapping",
		      "8:11: metadata: expected a mapping", "9:7: spec: expected a mapping");
}

/* ---- what one file may make the loader do ---- */

/* One mapping of 300 bad fields, aliased 200 times where the walk goes:
 * 60,000 errors from an 8 KB file before the limit; now one message, before
 * any walk. */
static void test_alias_bomb(void **state)
{
	size_t cap = 16384, o = 0;
	char *text = malloc(cap);

	assert_non_null(text);
	o += (size_t)snprintf(text + o, cap - o,
			      HDR "kind: Service\nmetadata: {name: s}\nspec:\n"
				  "  addresses: [\"127.100.0.1\"]\n  ports: [{port: 80}]\n"
				  "  x: &e {");
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(text + o, cap - o, "%sf%d: 1", i ? ", " : "", i);
	o += (size_t)snprintf(text + o, cap - o, "}\n  endpoints: [");
	for (int i = 0; i < 200; i++)
		o += (size_t)snprintf(text + o, cap - o, "%s*e", i ? ", " : "");
	snprintf(text + o, cap - o, "]\n");
	EXPECT_ERRORS(*state, text,
		      "1:1: document has 623 nodes but expands to more than 100000 through YAML "
		      "aliases; refused");
	free(text);
}

static void test_deep_nesting(void **state)
{
	char text[512];
	size_t o = 0;

	o += (size_t)snprintf(text + o, sizeof(text) - o, "a: ");
	for (int i = 0; i < 100; i++)
		text[o++] = '[';
	for (int i = 0; i < 100; i++)
		text[o++] = ']';
	text[o++] = '\n';
	text[o] = 0;
	EXPECT_ERRORS(*state, text, "1:1: document nests deeper than 64 levels; refused");
}

/* 30 errors in one file: the first 20 and a count of the rest. */
static void test_errors_capped_per_file(void **state)
{
	char text[4096];
	size_t o = 0;

	o += (size_t)snprintf(text + o, sizeof(text) - o,
			      HDR "kind: Workload\nmetadata: {name: w}\nspec:\n");
	for (int i = 0; i < 30; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "  bogus%02d: 1\n", i);
	EXPECT_ERRORS(*state, text, "5:3: spec.bogus00: unknown field",
		      "6:3: spec.bogus01: unknown field", "7:3: spec.bogus02: unknown field",
		      "8:3: spec.bogus03: unknown field", "9:3: spec.bogus04: unknown field",
		      "10:3: spec.bogus05: unknown field", "11:3: spec.bogus06: unknown field",
		      "12:3: spec.bogus07: unknown field", "13:3: spec.bogus08: unknown field",
		      "14:3: spec.bogus09: unknown field", "15:3: spec.bogus10: unknown field",
		      "16:3: spec.bogus11: unknown field", "17:3: spec.bogus12: unknown field",
		      "18:3: spec.bogus13: unknown field", "19:3: spec.bogus14: unknown field",
		      "20:3: spec.bogus15: unknown field", "21:3: spec.bogus16: unknown field",
		      "22:3: spec.bogus17: unknown field", "23:3: spec.bogus18: unknown field",
		      "24:3: spec.bogus19: unknown field", " 12 more errors not shown");
}

/* text with a list of n items "{item}" (%d is the index) under key */
static char *with_list(const char *head, const char *item, int n, const char *tail)
{
	size_t cap = strlen(head) + strlen(tail) + (size_t)n * (strlen(item) + 16) + 16, o = 0;
	char *t = malloc(cap);

	assert_non_null(t);
	o += (size_t)snprintf(t + o, cap - o, "%s[", head);
	for (int i = 0; i < n; i++) {
		o += (size_t)snprintf(t + o, cap - o, i ? ", " : "");
		o += (size_t)snprintf(t + o, cap - o, item, i);
	}
	snprintf(t + o, cap - o, "]%s", tail);
	return t;
}

static void test_list_limits(void **state)
{
	char *t;

	t = with_list(HDR "kind: Telemetry\nmetadata: {name: t}\nspec:\n  routes: ", "/r%d", 1025,
		      "\n");
	EXPECT_ERRORS(*state, t, "5:11: spec.routes: 1025 routes exceed the limit of 1024");
	free(t);
	t = with_list(HDR "kind: Workload\nmetadata: {name: w}\nspec:\n  service: s\n  cgroup: x\n"
			  "  ports: ",
		      "%d", 65, "\n");
	EXPECT_ERRORS(*state, t, "5:12: spec.service: unknown service \"default/s\"",
		      "7:10: spec.ports: 65 ports exceed the limit of 64");
	free(t);
	t = with_list(HDR "kind: Workload\nmetadata: {name: w}\nspec:\n  service: s\n  cgroup: x\n"
			  "  interfaces: ",
		      "v%d", 65, "\n");
	EXPECT_ERRORS(*state, t, "5:12: spec.service: unknown service \"default/s\"",
		      "7:15: spec.interfaces: 65 interfaces exceed the limit of 64");
	free(t);
	t = with_list(HDR "kind: AccessPolicy\nmetadata: {name: a}\nspec:\n  service: s\n"
			  "  action: DENY\n  from: ",
		      "w%d", 1025, "\n");
	EXPECT_ERRORS(*state, t, "5:12: spec.service: unknown service \"default/s\"",
		      "7:9: spec.from: 1025 workloads exceed the limit of 1024 per AccessPolicy");
	free(t);
}

static void test_integer_forms(void **state)
{
	EXPECT_ERRORS(*state,
		      HDR
		      "kind: Service\nmetadata: {name: s}\nspec:\n"
		      "  addresses: [\"127.100.0.1\"]\n"
		      "  ports: [{name: a, port: 0100}, {name: b, port: +81}, {name: c, port: 0}]\n"
		      "  endpoints: [{address: 127.0.0.1}]\n",
		      "6:27: spec.ports[0].port: 0100 has a leading zero, which YAML 1.1 reads as "
		      "an octal number; write it without the zero",
		      "6:50: spec.ports[1].port: +81: write the number without '+'",
		      "6:72: spec.ports[2].port: 0 is out of range 1-65535");
}

static void test_label_duplicate_keys(void **state)
{
	EXPECT_ERRORS(*state,
		      HDR "kind: Workload\nmetadata:\n  name: w\n  labels: {app: a, app: b}\n"
			  "  annotations: {x: \"1\", y: \"2\", x: \"3\"}\n"
			  "spec: {service: s, cgroup: x}\n",
		      "5:20: metadata.labels.app: duplicate key",
		      "6:33: metadata.annotations.x: duplicate key",
		      "7:17: spec.service: unknown service \"default/s\"");
}

/* 3,000 documents: every duplicate found (by the name index, not a scan
 * per document), and references resolved through it. */
static void test_many_documents(void **state)
{
	const int n = 3000;
	size_t cap = (size_t)n * 160 + 512, o = 0;
	char *t = malloc(cap);

	assert_non_null(t);
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(t + o, cap - o,
				      "---\n" HDR "kind: Workload\nmetadata: {name: w%d}\n"
				      "spec: {service: s, cgroup: c}\n",
				      i);
	snprintf(t + o, cap - o,
		 "---\n" HDR
		 "kind: Workload\nmetadata: {name: w7}\nspec: {service: s, cgroup: c}\n");
	put(*state, "c.yaml", t);
	free(t);
	{
		struct mesh_config *cfg = NULL;
		struct cfg_errors errs = {0};
		int dup = 0, unknown = 0, more = 0;

		assert_int_equal(config_load(*state, &cfg, &errs), -EINVAL);
		for (int i = 0; i < errs.n; i++) {
			dup += strstr(errs.msgs[i], "duplicate Workload \"default/w7\"") != NULL;
			unknown += strstr(errs.msgs[i], "unknown service") != NULL;
			more += strstr(errs.msgs[i], "more errors not shown") != NULL;
		}
		/* a duplicate (found while the documents are read) and 3,001
		 * unknown services (found after): the first 20 shown, the rest
		 * counted */
		assert_int_equal(errs.n, 21);
		assert_int_equal(dup, 1);
		assert_int_equal(unknown, 19);
		assert_int_equal(more, 1);
		cfg_errors_free(&errs);
	}
}

static void test_fifo_refused(void **state)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/f.yaml", (char *)*state);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* the directory skips it; named alone it is refused, without blocking */
	config_free(load_ok(*state));
	{
		struct mesh_config *cfg = NULL;
		struct cfg_errors errs = {0};

		assert_int_equal(config_load(path, &cfg, &errs), -EINVAL);
		assert_int_equal(errs.n, 1);
		assert_non_null(strstr(errs.msgs[0], "not a regular file"));
		cfg_errors_free(&errs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_alias_bomb, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors_capped_per_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_integer_forms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_label_duplicate_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_documents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fifo_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_references_without_policies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_service_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_service_defaults, setup, teardown),
	    cmocka_unit_test(test_lb_policy_names),
	    cmocka_unit_test_setup_teardown(test_traffic_policy_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_traffic_policy_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_workload_and_access, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_telemetry_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_telemetry_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_workload_tracing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_single_file, setup, teardown),
	    cmocka_unit_test(test_examples),
	    cmocka_unit_test_setup_teardown(test_unknown_kind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_field, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_addresses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_durations, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_references, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_references, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_yaml, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_enums, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_endpoint_port_multi_port, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_address_conflicts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_address_families, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_second_telemetry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_io_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_health_check, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_policy_per_service, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_workload_and_telemetry_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_a_mapping, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
