/* SPDX-License-Identifier: Apache-2.0 */
/* config_k8s_pod.c: reading a v1 Pod, an apps/v1 ReplicaSet (for the
 * Deployment that owns a pod) and a v1 Namespace into the loader's
 * Kubernetes objects (config_k8s.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_k8s.h"

#define KPOD struct cfgp_k8s_pod

static const struct cfgp_field spec_fields[] = {
    F_STR("nodeName", KPOD, node),
    F_ANY,
    {0},
};

/* An empty podIP (a pod not yet scheduled) says nothing. */
static void pod_ip(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	static const struct cfgp_field f = {.type = CFGP_ADDR, .off = offsetof(KPOD, pod_ip)};

	if (n->type == YAML_SCALAR_NODE && !n->data.scalar.value[0])
		return;
	cfgp_value(d, n, path, &f, base);
}

static const struct cfgp_field ip_fields[] = {
    {.key = "ip", .type = CFGP_ADDR, .off = 0, .required = true},
    {0},
};

static const struct cfgp_field container_fields[] = {
    F_STR("name", struct cfg_container, name, .required = true),
    F_STR("containerID", struct cfg_container, id),
    F_ANY, /* image, ready, restartCount, state, ... */
    {0},
};

static const struct cfgp_field ip_item = F_GROUP(NULL, ip_fields);
static const struct cfgp_field container_item = F_GROUP(NULL, container_fields);

static const struct cfgp_list ip_list = {
    .item = &ip_item,
    .elem = sizeof(struct cfg_addr),
    .max = CFGP_MAX_ADDRS,
    .noun = "pod IPs",
};

static const struct cfgp_list container_list = {
    .item = &container_item,
    .elem = sizeof(struct cfg_container),
    .max = CFGP_MAX_CONTAINERS,
    .noun = "containers",
};

static const struct cfgp_field status_fields[] = {
    F_STR("phase", KPOD, phase),
    F_FUNC("podIP", pod_ip),
    F_LIST("podIPs", KPOD, ips, n_ips, &ip_list),
    F_LIST("containerStatuses", KPOD, containers, n_containers, &container_list),
    F_ANY,
    {0},
};

static const struct cfgp_field pod_fields[] = {
    F_FUNC("apiVersion", cfgp_ignore), F_FUNC("kind", cfgp_ignore),
    F_FUNC("metadata", cfgp_ignore),   F_GROUP("spec", spec_fields),
    F_GROUP("status", status_fields),  {0},
};

static const struct cfgp_field any_fields[] = {
    F_ANY,
    {0},
};

void cfgp_k8s_pod(struct cfgp_doc *d, yaml_node_t *root, struct cfgp_env *env)
{
	struct cfgp_k8s *k = d->ld->k8s;
	KPOD *p = cfgp_grow(d->ld, k->pods, k->n_pods, &k->cap_pods, sizeof(*p));

	if (!p)
		return;
	k->pods = p;
	p = &p[k->n_pods++];
	memset(p, 0, sizeof(*p));
	p->obj = d->obj;
	p->meta = env->meta;
	p->name_at = cfgp_mark_of(d, env->name);
	snprintf(p->uid, sizeof(p->uid), "%s", env->uid);
	p->labels = env->labels;
	p->n_labels = env->n_labels;
	p->owners = env->owners;
	p->n_owners = env->n_owners;
	env->labels = NULL;
	env->owners = NULL;
	env->n_labels = env->n_owners = 0;
	cfgp_walk(d, root, "", pod_fields, p);
}

void cfgp_k8s_replicaset(struct cfgp_doc *d, yaml_node_t *root, struct cfgp_env *env)
{
	struct cfgp_k8s *k = d->ld->k8s;
	struct cfgp_k8s_rs *r = cfgp_grow(d->ld, k->rss, k->n_rss, &k->cap_rss, sizeof(*r));

	(void)root;
	if (!r)
		return;
	k->rss = r;
	r = &r[k->n_rss++];
	memset(r, 0, sizeof(*r));
	r->meta = env->meta;
	r->owners = env->owners;
	r->n_owners = env->n_owners;
	env->owners = NULL;
	env->n_owners = 0;
}

/* For AccessPolicy entries that name a namespace: each name once. */
void cfgp_k8s_namespace(struct cfgp_doc *d, yaml_node_t *root, struct cfgp_env *env)
{
	struct mesh_config *cfg = d->ld->cfg;
	char(*ns)[CFG_NAME_MAX];
	int i;

	cfgp_walk(d, root, "", any_fields, NULL);
	for (i = 0; i < cfg->n_namespaces; i++)
		if (!strcmp(cfg->namespaces[i], env->meta.name))
			return;
	ns = realloc(cfg->namespaces, (size_t)(cfg->n_namespaces + 1) * sizeof(*ns));
	if (!ns) {
		d->ld->oom = true;
		return;
	}
	cfg->namespaces = ns;
	snprintf(ns[cfg->n_namespaces++], CFG_NAME_MAX, "%s", env->meta.name);
}

void cfgp_k8s_free(struct cfgp_k8s *k)
{
	int i;

	if (!k)
		return;
	for (i = 0; i < k->n_svcs; i++) {
		free(k->svcs[i].ips);
		free(k->svcs[i].ip_at);
		free(k->svcs[i].ports);
		cfgp_kv_free(k->svcs[i].selector, k->svcs[i].n_selector);
	}
	free(k->svcs);
	for (i = 0; i < k->n_slices; i++) {
		free(k->slices[i].eps);
		free(k->slices[i].ports);
	}
	free(k->slices);
	for (i = 0; i < k->n_pods; i++) {
		cfgp_kv_free(k->pods[i].labels, k->pods[i].n_labels);
		free(k->pods[i].owners);
		free(k->pods[i].ips);
		free(k->pods[i].containers);
	}
	free(k->pods);
	for (i = 0; i < k->n_rss; i++)
		free(k->rss[i].owners);
	free(k->rss);
	free(k);
}
