/* SPDX-License-Identifier: Apache-2.0 */
/* config.h: the parsed, validated configuration set (the agent's desired state).
 *
 * config_load() reads every *.yaml file of a directory (or one file), checks
 * every document against its kind's schema and the cross references between
 * documents, and returns either a complete set or a list of errors. Nothing
 * half-parsed ever leaves this module: the caller applies a set whole or not at
 * all.
 */
#ifndef BPFMESH_CONFIG_H
#define BPFMESH_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define CFG_NAME_MAX 254 /* RFC 1123 subdomain (253) + NUL */
#define CFG_PATH_MAX 4096

enum cfg_lb_policy {
	CFG_LB_RANDOM = 0,
	CFG_LB_ROUND_ROBIN = 1,
	CFG_LB_LEAST_CONN = 2,
	CFG_LB_MAGLEV = 3,
};

/* Where a document or a value came from, for error messages and /api/v1/config. */
struct cfg_origin {
	char file[CFG_PATH_MAX]; /* path as given (dir/name.yaml) */
	int line;		 /* 1-based */
	int column;		 /* 1-based */
};

struct cfg_meta {
	char name[CFG_NAME_MAX];
	char ns[CFG_NAME_MAX];	  /* "default" when absent */
	struct cfg_origin origin; /* the document's start */
};

/* An IP address; v4 uses the first 4 bytes of addr, network byte order. */
struct cfg_addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
};

struct cfg_port {
	char name[64];
	uint16_t port;
	uint16_t target_port; /* = port when absent */
	uint8_t protocol;     /* IPPROTO_TCP (default) or IPPROTO_UDP */
};

struct cfg_endpoint {
	struct cfg_addr addr;
	uint16_t port;	 /* 0: use the service port's targetPort */
	uint32_t weight; /* default 1, range 1..65535 */
};

struct cfg_service {
	struct cfg_meta meta;
	struct cfg_addr *addrs;
	int n_addrs;
	struct cfg_port *ports;
	int n_ports;
	struct cfg_endpoint *endpoints;
	int n_endpoints;
	enum cfg_lb_policy policy;
};

/* Durations are in milliseconds. A field left out of the document keeps the
 * default documented beside it; *_set flags say whether a section was present. */
struct cfg_traffic_policy {
	struct cfg_meta meta;
	char service[CFG_NAME_MAX];
	int service_idx; /* index into mesh_config.services */

	bool pool_set;
	uint32_t max_connections;    /* 0 = unlimited */
	uint64_t connect_timeout_ms; /* 0 = kernel default */

	bool outlier_set;
	uint32_t consecutive_5xx;	       /* default 5, 0 disables */
	uint32_t consecutive_gateway;	       /* default 0 (disabled) */
	uint32_t consecutive_connect_failures; /* default 5, 0 disables */
	uint64_t interval_ms;		       /* default 10000 */
	uint64_t base_ejection_ms;	       /* default 30000 */
	uint64_t max_ejection_ms;	       /* default 300000 */
	uint32_t max_ejection_percent;	       /* default 10 */
	bool terminate_connections;	       /* default false */

	bool breaker_set;
	double failure_rate_threshold; /* percent, default 50, (0,100] */
	uint32_t sliding_window_size;  /* default 100 */
	uint32_t minimum_calls;	       /* default 100 */
	uint64_t wait_open_ms;	       /* default 60000 */
	uint32_t permitted_half_open;  /* default 10 (1 when only outlierDetection) */

	bool health_set;
	bool health_tcp;	      /* tcp check instead of http */
	char health_http_path[1024];  /* starts with '/' */
	uint64_t health_interval_ms;  /* default 10000 */
	uint64_t health_timeout_ms;   /* default 1000 */
	uint32_t healthy_threshold;   /* default 1 */
	uint32_t unhealthy_threshold; /* default 3 */

	bool rate_set;
	uint32_t connections_per_second; /* >= 1 */
	uint32_t burst;			 /* default = connections_per_second */
};

struct cfg_workload {
	struct cfg_meta meta;
	char service[CFG_NAME_MAX];
	int service_idx;
	char cgroup[CFG_PATH_MAX]; /* cgroup v2 path, relative to the mount or absolute */
	uint16_t *ports;
	int n_ports;
	char (*interfaces)[16]; /* host-side interfaces (IFNAMSIZ) for tc capture */
	int n_interfaces;
};

enum cfg_action { CFG_ALLOW = 0, CFG_DENY = 1 };

struct cfg_access_policy {
	struct cfg_meta meta;
	char service[CFG_NAME_MAX];
	int service_idx;
	enum cfg_action action;
	char (*from)[CFG_NAME_MAX]; /* workload names */
	int *from_idx;		    /* indexes into mesh_config.workloads */
	int n_from;
};

struct cfg_header {
	char name[256];
	char value[1024];
};

struct cfg_telemetry {
	struct cfg_meta meta;
	bool otlp_set;
	char otlp_endpoint[1024]; /* http:// or https:// URL */
	struct cfg_header *headers;
	int n_headers;
	bool otlp_gzip;			   /* compression: gzip (default) | none */
	uint64_t otlp_timeout_ms;	   /* default 10000 */
	uint64_t otlp_metrics_interval_ms; /* metricsInterval: /v1/metrics every, default 10000 */
	char tls_ca_file[CFG_PATH_MAX];
	char tls_cert_file[CFG_PATH_MAX];
	char tls_key_file[CFG_PATH_MAX];
	bool tls_insecure_skip_verify;

	double sampling_ratio;		/* default 1.0, range [0,1] */
	bool sample_errors;		/* sampling.alwaysSampleErrors, default true */
	uint64_t sample_slower_than_ms; /* sampling.latencyThreshold, 0 = off */

	char (*routes)[512]; /* http.route templates, each starts with '/' */
	int n_routes;

	char prometheus_listen[128]; /* host:port, empty = the agent's --listen */
};

struct mesh_config {
	struct cfg_service *services;
	int n_services;
	struct cfg_traffic_policy *policies;
	int n_policies;
	struct cfg_workload *workloads;
	int n_workloads;
	struct cfg_access_policy *access;
	int n_access;
	struct cfg_telemetry *telemetry; /* NULL when absent; at most one */
	char **files;			 /* the source files, sorted */
	int n_files;
};

/* Errors are collected, not stopped at, so `bpfmesh validate` shows them all.
 * Each message reads "FILE:LINE:COL: FIELD.PATH: what is wrong". */
struct cfg_errors {
	char **msgs;
	int n;
};

/* Load a directory (every *.yaml and *.yml, sorted by name) or a single file.
 * Returns 0 and sets *out on success; returns -EINVAL with errs filled when any
 * document is invalid (then *out is NULL); other negative errno for I/O errors,
 * also described in errs. */
int config_load(const char *path, struct mesh_config **out, struct cfg_errors *errs);
void config_free(struct mesh_config *cfg);
void cfg_errors_free(struct cfg_errors *errs);

/* Lookups used by the agent (NULL / -1 when absent). */
int config_find_service(const struct mesh_config *cfg, const char *ns, const char *name);
const char *cfg_lb_policy_name(enum cfg_lb_policy p);

/* "1m30s", "500ms", "1.5s", "2h"; units ns us ms s m h (Go syntax).
 * Returns 0 and the value in milliseconds (rounded up to 1 ms when a
 * positive value is below 1 ms), or -EINVAL. "0" alone is allowed. */
int parse_duration_ms(const char *s, uint64_t *out_ms);

#endif
