/* SPDX-License-Identifier: Apache-2.0 */
/* config_discover_pod.c: pods become Workloads, once every source has been
 * read (a pod's ReplicaSet and Services may come after it).
 *
 * The workload is named after the pod, in the pod's namespace; its service
 * name is the label app.kubernetes.io/name, else app, else the pod's owner
 * (a ReplicaSet resolved to its Deployment through the ReplicaSet's own
 * owner when the ReplicaSet was read, else by cutting the pod-template-hash
 * off its name; a StatefulSet, DaemonSet or other owner as it is), else the
 * pod's name. It carries what the agent needs to find its cgroup and name
 * its signals: the pod's UID, node, containers, IPs and the Services whose
 * selector selects it. A pod that has stopped is skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_k8s.h"

/* The controller among the owner references, else the first. */
static const struct cfgp_owner *owner_of(const struct cfgp_owner *o, int n)
{
	for (int i = 0; i < n; i++)
		if (o[i].controller)
			return &o[i];
	return n ? &o[0] : NULL;
}

static const struct cfgp_k8s_rs *find_rs(const struct strmap *rss, const struct cfgp_k8s *k,
					 const char *ns, const char *name)
{
	char key[2 * CFG_NAME_MAX];
	uint32_t i;

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	return strmap_get(rss, key, &i) ? &k->rss[i] : NULL;
}

static void resolve_owner(const struct strmap *rss, const struct cfgp_k8s *k,
			  const struct cfgp_k8s_pod *p, struct cfg_workload *w)
{
	const struct cfgp_owner *o = owner_of(p->owners, p->n_owners), *ro;
	const struct cfgp_k8s_rs *rs;
	const char *hash;
	size_t len, hl;

	if (!o)
		return;
	snprintf(w->owner_kind, sizeof(w->owner_kind), "%s", o->kind);
	snprintf(w->owner_name, sizeof(w->owner_name), "%s", o->name);
	if (strcmp(o->kind, "ReplicaSet"))
		return;
	rs = find_rs(rss, k, p->meta.ns, o->name);
	if (rs) {
		ro = owner_of(rs->owners, rs->n_owners);
		if (ro) {
			snprintf(w->owner_kind, sizeof(w->owner_kind), "%s", ro->kind);
			snprintf(w->owner_name, sizeof(w->owner_name), "%s", ro->name);
		}
		return;
	}
	/* A Deployment names its ReplicaSets <deployment>-<pod-template-hash>. */
	hash = cfgp_label(p->labels, p->n_labels, "pod-template-hash");
	len = strlen(o->name);
	hl = hash ? strlen(hash) : 0;
	if (hl && len > hl + 1 && o->name[len - hl - 1] == '-' &&
	    !strcmp(o->name + len - hl, hash)) {
		snprintf(w->owner_kind, sizeof(w->owner_kind), "Deployment");
		snprintf(w->owner_name, sizeof(w->owner_name), "%.*s", (int)(len - hl - 1),
			 o->name);
	}
}

static const char *service_name(const struct cfgp_k8s_pod *p, const struct cfg_workload *w)
{
	const char *v = cfgp_label(p->labels, p->n_labels, "app.kubernetes.io/name");

	if (v && *v)
		return v;
	v = cfgp_label(p->labels, p->n_labels, "app");
	if (v && *v)
		return v;
	return w->owner_name[0] ? w->owner_name : p->meta.name;
}

static int cmp_name(const void *a, const void *b) { return strcmp(a, b); }

static bool selects(const struct cfgp_loader *ld, const struct cfgp_k8s_svc *s,
		    const struct cfgp_k8s_pod *p)
{
	return !ld->objs[s->obj].bad && !strcmp(s->meta.ns, p->meta.ns) &&
	       cfgp_selects(s->selector, s->n_selector, p->labels, p->n_labels);
}

/* The Services of the pod's namespace whose selector selects it, sorted,
 * each name once (a file and the API may both have it). */
static int selected_by(const struct cfgp_loader *ld, const struct cfgp_k8s_pod *p,
		       struct cfg_workload *w)
{
	const struct cfgp_k8s *k = ld->k8s;
	int i, n = 0;

	for (i = 0; i < k->n_svcs; i++)
		n += selects(ld, &k->svcs[i], p);
	if (!n)
		return 0;
	w->k8s_services = calloc((size_t)n, sizeof(*w->k8s_services));
	if (!w->k8s_services)
		return -1;
	for (i = 0, n = 0; i < k->n_svcs; i++)
		if (selects(ld, &k->svcs[i], p))
			snprintf(w->k8s_services[n++], CFG_NAME_MAX, "%s", k->svcs[i].meta.name);
	qsort(w->k8s_services, (size_t)n, sizeof(*w->k8s_services), cmp_name);
	for (i = 1, w->n_k8s_services = 1; i < n; i++)
		if (strcmp(w->k8s_services[i], w->k8s_services[w->n_k8s_services - 1]))
			memmove(w->k8s_services[w->n_k8s_services++], w->k8s_services[i],
				CFG_NAME_MAX);
	return 0;
}

static int fill(struct cfgp_loader *ld, const struct strmap *rss, const struct cfgp_k8s_pod *p,
		struct cfg_workload *w)
{
	memset(w, 0, sizeof(*w));
	w->meta = p->meta;
	snprintf(w->pod_name, sizeof(w->pod_name), "%s", p->meta.name);
	snprintf(w->pod_uid, sizeof(w->pod_uid), "%s", p->uid);
	snprintf(w->node_name, sizeof(w->node_name), "%s", p->node);
	resolve_owner(rss, ld->k8s, p, w);
	snprintf(w->service, sizeof(w->service), "%s", service_name(p, w));
	w->service_idx = cfgp_find(ld, "Service", p->meta.ns, w->service);
	if (p->n_containers) {
		w->containers = calloc((size_t)p->n_containers, sizeof(*w->containers));
		if (!w->containers)
			return -1;
		memcpy(w->containers, p->containers,
		       (size_t)p->n_containers * sizeof(*w->containers));
		w->n_containers = p->n_containers;
	}
	if (p->n_ips || p->pod_ip.family) {
		w->addrs = calloc(p->n_ips ? (size_t)p->n_ips : 1, sizeof(*w->addrs));
		if (!w->addrs)
			return -1;
		if (p->n_ips)
			memcpy(w->addrs, p->ips, (size_t)p->n_ips * sizeof(*w->addrs));
		else
			w->addrs[0] = p->pod_ip;
		w->n_addrs = p->n_ips ? p->n_ips : 1;
	}
	return selected_by(ld, p, w);
}

void cfgp_discover_pods(struct cfgp_loader *ld)
{
	const struct cfgp_k8s *k = ld->k8s;
	struct mesh_config *cfg = ld->cfg;
	struct strmap rss = {0};
	char key[2 * CFG_NAME_MAX];
	struct cfg_workload *w;
	int i;

	if (!k->n_pods)
		return;
	for (i = 0; i < k->n_rss; i++) {
		snprintf(key, sizeof(key), "%s/%s", k->rss[i].meta.ns, k->rss[i].meta.name);
		if (strmap_put(&rss, key, (uint32_t)i))
			goto oom;
	}
	/* room for every pod: the array does not move while they come */
	w = cfgp_reserve(ld, cfg->workloads, cfg->n_workloads + k->n_pods, &ld->cap_workloads,
			 sizeof(*w));
	if (!w)
		goto oom;
	cfg->workloads = w;
	for (i = 0; i < k->n_pods; i++) {
		const struct cfgp_k8s_pod *p = &k->pods[i];

		if (ld->objs[p->obj].bad)
			continue;
		if (!strcmp(p->phase, "Succeeded") || !strcmp(p->phase, "Failed")) {
			cfgp_skip(ld, "Pod", p->meta.ns, p->meta.name, ld->objs[p->obj].at,
				  "phase %s: the pod has stopped", p->phase);
			continue;
		}
		if (cfgp_claim(ld, "Workload", &p->meta, cfg->n_workloads, p->name_at,
			       "metadata.name") != CFGP_CLAIMED)
			continue;
		w = &cfg->workloads[cfg->n_workloads++];
		if (fill(ld, &rss, p, w))
			goto oom;
	}
	strmap_free(&rss);
	return;
oom:
	ld->oom = true;
	strmap_free(&rss);
}
