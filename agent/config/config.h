/* SPDX-License-Identifier: Apache-2.0 */
/* config.h: the parsed, validated configuration set (the agent's desired state).
 *
 * config_load() reads every *.yaml file of a directory (or one file), checks
 * every document against its kind's schema and the cross references between
 * documents, and returns either a complete set or a list of errors. Nothing
 * half-parsed ever leaves this module: the caller applies a set whole or not at
 * all.
 *
 * config_load_sources() adds in-memory documents (the Kubernetes API's
 * objects, one JSON or YAML text each) to the files, and reads the core
 * Kubernetes kinds (v1 Service, discovery.k8s.io/v1 EndpointSlice, v1 Pod,
 * apps/v1 ReplicaSet, v1 Namespace, v1 List) as well as the bpfmesh.io kinds,
 * from files and from memory alike. A file wins over a custom resource, a
 * custom resource over an object discovered from a core kind. An invalid file
 * still refuses the whole set; an invalid in-memory object is left out (with
 * its errors as warnings), and so is whatever then fails for lack of it.
 */
#ifndef BPFMESH_CONFIG_H
#define BPFMESH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
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
	char file[CFG_PATH_MAX]; /* path as given (dir/name.yaml), or the in-memory source's name */
	int line;		 /* 1-based */
	int column;		 /* 1-based */
	bool memory;		 /* from an in-memory source (the API server), not a file */
	bool discovered;	 /* made from a core Kubernetes kind (Service, Pod) */
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

/* A container of a pod, from status.containerStatuses. */
struct cfg_container {
	char name[64]; /* DNS label */
	char id[128];  /* as the kubelet reports it: "containerd://<64 hex>", "" before it runs */
};

/* cfg_workload.instrumented (tracing.instrumented): zero is auto, so a
 * zeroed Workload (a pod) is auto. */
enum cfg_instrumented { CFG_INSTR_AUTO = 0, CFG_INSTR_TRUE = 1, CFG_INSTR_FALSE = 2 };
/* cfg_workload.inject: zero is unset, so a zeroed Workload (a pod) follows Telemetry. */
enum cfg_inject { CFG_INJECT_UNSET = 0, CFG_INJECT_ON = 1, CFG_INJECT_OFF = 2 };

struct cfg_workload {
	struct cfg_meta meta; /* a pod's: meta.name is the pod's name */
	char service[CFG_NAME_MAX];
	int service_idx;	   /* -1 for a pod whose service name is no configured service */
	char cgroup[CFG_PATH_MAX]; /* cgroup v2 path, relative to the mount or absolute; "" for a
				    * pod: the agent finds it from pod_uid */
	uint16_t *ports;
	int n_ports;
	char (*interfaces)[16]; /* host-side interfaces (IFNAMSIZ) for tc capture */
	int n_interfaces;
	uint8_t instrumented; /* tracing.instrumented: CFG_INSTR_* (an OpenTelemetry SDK
			       * exports its spans: bpfmesh exports no duplicates) */
	uint8_t inject; /* tracing.inject: CFG_INJECT_* (unset: Telemetry's propagation.inject) */

	/* A pod (meta.origin.discovered); all empty for a Workload document. */
	char pod_name[CFG_NAME_MAX];
	char pod_uid[64];
	char node_name[CFG_NAME_MAX];
	char owner_kind[64]; /* Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, ...; "" */
	char owner_name[CFG_NAME_MAX];
	struct cfg_container *containers;
	int n_containers;
	char (*k8s_services)[CFG_NAME_MAX]; /* Services of meta.ns whose selector selects it */
	int n_k8s_services;
	struct cfg_addr *addrs; /* status.podIPs */
	int n_addrs;
};

enum cfg_action { CFG_ALLOW = 0, CFG_DENY = 1 };

/* One spec.from entry as written: a workload name (a plain string or
 * {workload: NAME}), {service: [NS/]NAME} (the workloads of a service: the
 * Workloads that serve it and the pods its selector selects) or
 * {namespace: NS} (every workload of the namespace). */
enum cfg_from_kind { CFG_FROM_WORKLOAD = 0, CFG_FROM_SERVICE = 1, CFG_FROM_NAMESPACE = 2 };

struct cfg_from {
	enum cfg_from_kind kind;
	char ns[CFG_NAME_MAX];	 /* the policy's namespace unless written */
	char name[CFG_NAME_MAX]; /* workload or service; "" for a namespace */
};

struct cfg_access_policy {
	struct cfg_meta meta;
	char service[CFG_NAME_MAX];
	int service_idx;
	enum cfg_action action;
	struct cfg_from *entries; /* spec.from as written */
	int n_entries;
	/* The workloads the entries name, each once, in entry order: what the
	 * kernel enforces. from[] holds their names (meta.name). */
	char (*from)[CFG_NAME_MAX];
	int *from_idx; /* indexes into mesh_config.workloads */
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
	bool redact_query; /* tracing.redactQuery: url.query/url.full values "REDACTED" */

	char (*routes)[512]; /* http.route templates, each starts with '/' */
	int n_routes;

	char prometheus_listen[128]; /* host:port, empty = the agent's --listen */

	bool propagation_inject; /* propagation.inject: traceparent into outgoing requests */
};

/* An object read but not turned into configuration, and why: a headless or
 * ExternalName Service, an SCTP port, an FQDN EndpointSlice, a pod that has
 * stopped, a kind bpfmesh does not read, an object another source overrides,
 * an invalid in-memory object. For /api/v1/status. */
struct cfg_skipped {
	char kind[64];
	char ns[CFG_NAME_MAX]; /* "" for cluster-scoped or unnamed objects */
	char name[CFG_NAME_MAX];
	struct cfg_origin origin;
	char reason[512];
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
	char (*namespaces)[CFG_NAME_MAX]; /* v1 Namespace objects read */
	int n_namespaces;
	struct cfg_skipped *skipped;
	int n_skipped;
};

/* Errors are collected, not stopped at, so `bpfmesh validate` shows them all.
 * Each message reads "FILE:LINE:COL: FIELD.PATH: what is wrong". */
struct cfg_errors {
	char **msgs;
	int n;
};

/* Endpoints per service and address family that the kernel's tables hold:
 * a weighted slot table of LB_WEIGHT_TABLE_MAX slots (one at least per
 * endpoint) and an endpoint list of LB_MAX_EPS_PER_SVC (bpf/lb.h; the unit
 * tests check that the numbers agree), whatever the policy. */
#define CFG_MAX_ENDPOINTS 4096

/* An in-memory source, read like a file: YAML or JSON, one or more
 * documents (a `kind: List` too). name stands for the file in messages:
 * "k8s:Service/prod/web:LINE:COL: FIELD: message". */
struct cfg_source {
	const char *name;
	const char *text; /* need not end in NUL */
	size_t len;
};

/* Load a directory (every *.yaml and *.yml, sorted by name) or a single file.
 * Returns 0 and sets *out on success; returns -EINVAL with errs filled when any
 * document is invalid (then *out is NULL); other negative errno for I/O errors,
 * also described in errs. */
int config_load(const char *path, struct mesh_config **out, struct cfg_errors *errs);

/* config_load() of path (NULL: no files) and the in-memory sources mem[0..n_mem-1]
 * together. Errors of the files refuse the set as config_load() does (errs).
 * An in-memory object with an error is left out, and so, in turn, is every
 * object that then fails for its lack (bounded); their errors go to warnings,
 * the objects to (*out)->skipped. warnings also gets the conflicts between
 * sources that define the same kind, namespace and name (the file wins over
 * the custom resource, which wins over the object discovered from a core
 * kind). errs and warnings may be NULL. */
int config_load_sources(const char *path, const struct cfg_source *mem, int n_mem,
			struct mesh_config **out, struct cfg_errors *errs,
			struct cfg_errors *warnings);
/* What in-memory Services and EndpointSlices read into, kept from one load
 * to the next by source name and text, so that an unchanged object is not
 * parsed again: config_load_cached() with the same cache each time gives
 * what config_load_sources() gives. It holds one entry per such source of
 * the last load (those of objects that are gone are dropped). Not shared
 * between threads. */
struct cfg_cache;
struct cfg_cache_stats {
	size_t entries;	     /* after the last load */
	size_t hits, misses; /* sources of the last load (every pass) */
};
struct cfg_cache *cfg_cache_new(void);
void cfg_cache_free(struct cfg_cache *cache);
void cfg_cache_stats(const struct cfg_cache *cache, struct cfg_cache_stats *st);
/* config_load_sources() with a cache (NULL: none). */
int config_load_cached(const char *path, const struct cfg_source *mem, int n_mem,
		       struct cfg_cache *cache, struct mesh_config **out, struct cfg_errors *errs,
		       struct cfg_errors *warnings);
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
