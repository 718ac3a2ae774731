/* SPDX-License-Identifier: Apache-2.0 */
/* config_k8s.h: the core Kubernetes objects as the loader keeps them between
 * reading (config_k8s_*.c) and discovery (config_discover*.c), which turns
 * them into services and workloads once every source has been read: an
 * EndpointSlice may come before its Service, a ReplicaSet after its pods.
 * Only agent/config*.c include it.
 */
#ifndef BPFMESH_CONFIG_K8S_H
#define BPFMESH_CONFIG_K8S_H

#include "config/config_internal.h"

struct cfgp_kv {
	char *key, *val;
};

struct cfgp_owner {
	char kind[64];
	char name[CFG_NAME_MAX];
	bool controller;
};

/* What the envelope reads of any object; metadata's labels and owners are
 * kept only for the core kinds (keep). */
struct cfgp_env {
	yaml_node_t *api, *kind, *metadata, *spec, *name;
	struct cfg_meta meta;
	bool keep;
	char uid[64];
	struct cfgp_kv *labels;
	int n_labels;
	struct cfgp_owner *owners;
	int n_owners;
};

void cfgp_env_free(struct cfgp_env *env);
/* The metadata fields every object may have (config_meta.c). */
extern const struct cfgp_field cfgp_meta_fields[];
/* The value of label key, NULL when absent. */
const char *cfgp_label(const struct cfgp_kv *labels, int n, const char *key);
/* Whether every key=value of sel is among labels (an empty sel selects nothing). */
bool cfgp_selects(const struct cfgp_kv *sel, int n_sel, const struct cfgp_kv *labels, int n);
/* A map of strings (labels, a selector) into kv; errors as any field's. */
void cfgp_string_map(struct cfgp_doc *d, yaml_node_t *n, const char *path, struct cfgp_kv **kv,
		     int *cnt);
void cfgp_kv_free(struct cfgp_kv *kv, int n);

/* v1 Service spec.ports[] */
struct cfgp_k8s_port {
	char name[64];
	uint16_t port;
	uint16_t target_num;  /* targetPort as a number; 0: named or absent */
	char target_name[64]; /* targetPort as a name */
	uint8_t protocol;     /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
};

struct cfgp_k8s_svc {
	int obj;
	struct cfg_meta meta;
	struct cfgp_mark name_at, spec_at;
	char type[32];
	bool headless; /* clusterIP(s) None */
	struct cfg_addr *ips;
	struct cfgp_mark *ip_at;
	int n_ips;
	struct cfgp_k8s_port *ports;
	int n_ports;
	struct cfgp_kv *selector;
	int n_selector;
	int policy; /* enum cfg_lb_policy of the annotation; -1: none */
	bool client_ip;
};

/* discovery.k8s.io/v1 EndpointSlice endpoints[] and ports[]. A condition
 * not given means what Kubernetes says it means for each (config_discover.c). */
#define CFGP_COND_UNSET 0
#define CFGP_COND_FALSE 1
#define CFGP_COND_TRUE 2

struct cfgp_k8s_ep {
	struct cfg_addr addr;
	struct cfgp_mark at;
	int8_t ready, serving, terminating; /* CFGP_COND_* */
};

struct cfgp_k8s_eport {
	char name[64];
	uint16_t port; /* 0: not given (not usable) */
	uint8_t protocol;
};

struct cfgp_k8s_slice {
	int obj;
	struct cfg_meta meta;
	struct cfgp_mark at;
	char service[CFG_NAME_MAX]; /* label kubernetes.io/service-name */
	int family;
	struct cfgp_k8s_ep *eps;
	int n_eps;
	struct cfgp_k8s_eport *ports;
	int n_ports;
};

struct cfgp_k8s_pod {
	int obj;
	struct cfg_meta meta;
	struct cfgp_mark name_at;
	char uid[64];
	char node[CFG_NAME_MAX];
	char phase[32];
	struct cfgp_kv *labels;
	int n_labels;
	struct cfgp_owner *owners;
	int n_owners;
	struct cfg_addr *ips; /* status.podIPs, else status.podIP */
	int n_ips;
	struct cfg_addr pod_ip;
	struct cfg_container *containers;
	int n_containers;
};

struct cfgp_k8s_rs {
	struct cfg_meta meta;
	struct cfgp_owner *owners;
	int n_owners;
};

struct cfgp_k8s {
	struct cfgp_k8s_svc *svcs;
	int n_svcs, cap_svcs;
	struct cfgp_k8s_slice *slices;
	int n_slices, cap_slices;
	struct cfgp_k8s_pod *pods;
	int n_pods, cap_pods;
	struct cfgp_k8s_rs *rss;
	int n_rss, cap_rss;
};

void cfgp_k8s_free(struct cfgp_k8s *k);

/* Readers of one object each; env holds its metadata (owned by the reader
 * from here on for what it keeps). */
void cfgp_k8s_service(struct cfgp_doc *d, yaml_node_t *root, struct cfgp_env *env);
void cfgp_k8s_slice(struct cfgp_doc *d, yaml_node_t *root, struct cfgp_env *env);
void cfgp_k8s_pod(struct cfgp_doc *d, yaml_node_t *root, struct cfgp_env *env);
void cfgp_k8s_replicaset(struct cfgp_doc *d, yaml_node_t *root, struct cfgp_env *env);
void cfgp_k8s_namespace(struct cfgp_doc *d, yaml_node_t *root, struct cfgp_env *env);

/* Discovery of workloads from pods (config_discover_pod.c). */
void cfgp_discover_pods(struct cfgp_loader *ld);

#endif
