/* SPDX-License-Identifier: Apache-2.0 */
/* config_refs.c: the checks that need every document at once: names that
 * refer to other objects, and virtual addresses claimed by two services.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_k8s.h"

void cfgp_add_ref(struct cfgp_doc *d, const yaml_node_t *n, enum cfgp_ref_kind kind, int obj,
		  int item)
{
	struct cfgp_loader *ld = d->ld;
	struct cfgp_ref *refs;

	refs = cfgp_grow(ld, ld->refs, ld->n_refs, &ld->cap_refs, sizeof(*refs));
	if (!refs)
		return;
	ld->refs = refs;
	refs[ld->n_refs++] = (struct cfgp_ref){
	    .kind = kind,
	    .obj = obj,
	    .item = item,
	    .at = cfgp_mark_of(d, n),
	};
}

static bool names_workloads(const struct mesh_config *cfg, const struct cfg_from *e, int wi)
{
	const struct cfg_workload *w = &cfg->workloads[wi];

	if (strcmp(w->meta.ns, e->ns))
		return false;
	if (e->kind == CFG_FROM_NAMESPACE)
		return true;
	if (!strcmp(w->service, e->name))
		return true;
	for (int i = 0; i < w->n_k8s_services; i++)
		if (!strcmp(w->k8s_services[i], e->name))
			return true;
	return false;
}

static bool known_service(const struct cfgp_loader *ld, const char *ns, const char *name)
{
	for (int i = 0; i < ld->k8s->n_svcs; i++)
		if (!strcmp(ld->k8s->svcs[i].meta.ns, ns) &&
		    !strcmp(ld->k8s->svcs[i].meta.name, name))
			return true;
	return cfgp_find(ld, "Service", ns, name) >= 0;
}

static bool known_namespace(const struct mesh_config *cfg, const char *ns)
{
	if (!cfg->n_namespaces) /* files: no Namespace objects to check against */
		return true;
	for (int i = 0; i < cfg->n_namespaces; i++)
		if (!strcmp(cfg->namespaces[i], ns))
			return true;
	return false;
}

/* A workload must exist, as any reference's target. A service or a
 * namespace may have no workload here (its pods run on other nodes); one
 * that does not exist at all is likely a typo, so it is said, but it is no
 * error: the entry then names no workload, which for ALLOW admits nobody
 * more and for DENY refuses nobody. */
static void resolve_from(struct cfgp_loader *ld, const struct cfgp_ref *r)
{
	const struct mesh_config *cfg = ld->cfg;
	const struct cfg_from *e = &cfg->access[r->obj].entries[r->item];
	char q[CFGP_QUOTE_LEN], full[2 * CFG_NAME_MAX], path[CFGP_PATH_LEN];
	int i;

	snprintf(full, sizeof(full), "%s/%s", e->ns, e->name);
	snprintf(path, sizeof(path), "spec.from[%d]", r->item);
	switch (e->kind) {
	case CFG_FROM_WORKLOAD:
		if (cfgp_find(ld, "Workload", e->ns, e->name) < 0)
			cfgp_err_at(ld, r->at, path, "unknown workload %s", cfgp_quote(q, full));
		return;
	case CFG_FROM_SERVICE:
		if (known_service(ld, e->ns, e->name))
			return;
		break;
	case CFG_FROM_NAMESPACE:
		if (known_namespace(cfg, e->ns))
			return;
		break;
	}
	for (i = 0; i < cfg->n_workloads; i++)
		if (names_workloads(cfg, e, i))
			return;
	if (e->kind == CFG_FROM_SERVICE)
		cfgp_warn_at(ld, r->at, path, "no service %s is known: the entry names no workload",
			     cfgp_quote(q, full));
	else
		cfgp_warn_at(ld, r->at, path,
			     "no namespace %s is known: the entry names no workload",
			     cfgp_quote(q, e->ns));
}

struct from_list {
	int *idx;
	int n, cap;
	bool *seen;
};

static int add_from(struct from_list *l, int wi)
{
	int *idx;

	if (wi < 0 || l->seen[wi])
		return 0;
	l->seen[wi] = true;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 4;
		idx = realloc(l->idx, (size_t)l->cap * sizeof(*idx));
		if (!idx)
			return -1;
		l->idx = idx;
	}
	l->idx[l->n++] = wi;
	return 0;
}

/* The workloads of a policy's entries, each once, in entry order. */
static int flatten(struct cfgp_loader *ld, struct cfg_access_policy *a, bool *seen)
{
	const struct mesh_config *cfg = ld->cfg;
	struct from_list l = {.seen = seen};
	int i, e, rc = 0;

	memset(seen, 0, (size_t)cfg->n_workloads * sizeof(*seen));
	for (e = 0; e < a->n_entries && !rc; e++) {
		const struct cfg_from *f = &a->entries[e];

		if (f->kind == CFG_FROM_WORKLOAD) {
			rc = add_from(&l, cfgp_find(ld, "Workload", f->ns, f->name));
			continue;
		}
		for (i = 0; i < cfg->n_workloads && !rc; i++)
			if (names_workloads(cfg, f, i))
				rc = add_from(&l, i);
	}
	a->from_idx = l.idx;
	if (rc || !l.n)
		return rc;
	a->from = calloc((size_t)l.n, sizeof(*a->from));
	if (!a->from)
		return -1;
	for (i = 0; i < l.n; i++)
		snprintf(a->from[i], CFG_NAME_MAX, "%s", cfg->workloads[l.idx[i]].meta.name);
	a->n_from = l.n;
	return 0;
}

static void flatten_all(struct cfgp_loader *ld)
{
	struct mesh_config *cfg = ld->cfg;
	bool *seen;

	if (!cfg->n_access)
		return;
	seen = calloc((size_t)cfg->n_workloads + 1, sizeof(*seen));
	if (!seen) {
		ld->oom = true;
		return;
	}
	for (int i = 0; i < cfg->n_access && !ld->oom; i++)
		if (flatten(ld, &cfg->access[i], seen))
			ld->oom = true;
	free(seen);
}

/* References stay inside the referring document's namespace. */
static void resolve_ref(struct cfgp_loader *ld, const struct cfgp_ref *r)
{
	struct mesh_config *cfg = ld->cfg;
	char q[CFGP_QUOTE_LEN], full[2 * CFG_NAME_MAX];
	const char *ns = NULL, *name = NULL;
	int *idx = NULL;

	switch (r->kind) {
	case CFGP_REF_POLICY_SERVICE:
		ns = cfg->policies[r->obj].meta.ns;
		name = cfg->policies[r->obj].service;
		idx = &cfg->policies[r->obj].service_idx;
		break;
	case CFGP_REF_WORKLOAD_SERVICE:
		ns = cfg->workloads[r->obj].meta.ns;
		name = cfg->workloads[r->obj].service;
		idx = &cfg->workloads[r->obj].service_idx;
		break;
	case CFGP_REF_ACCESS_SERVICE:
		ns = cfg->access[r->obj].meta.ns;
		name = cfg->access[r->obj].service;
		idx = &cfg->access[r->obj].service_idx;
		break;
	case CFGP_REF_ACCESS_FROM:
		resolve_from(ld, r);
		return;
	}
	if (!idx)
		return;
	*idx = cfgp_find(ld, "Service", ns, name);
	if (*idx < 0) {
		snprintf(full, sizeof(full), "%s/%s", ns, name);
		cfgp_err_at(ld, r->at, "spec.service", "unknown service %s", cfgp_quote(q, full));
	}
}

/* One (address, port, protocol) a service answers on. */
struct vip {
	struct cfg_addr addr;
	uint16_t port;
	uint8_t proto;
	int use; /* index in ld->uses: document order, so the first claim wins */
};

static int cmp_vip(const void *a, const void *b)
{
	const struct vip *x = a, *y = b;
	int c;

	if (x->addr.family != y->addr.family)
		return x->addr.family < y->addr.family ? -1 : 1;
	c = memcmp(x->addr.addr, y->addr.addr, sizeof(x->addr.addr));
	if (c)
		return c;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return x->use < y->use ? -1 : x->use > y->use;
}

static void report_conflict(struct cfgp_loader *ld, const struct vip *v, const struct vip *owner)
{
	const struct cfgp_addr_use *u = &ld->uses[v->use];
	const struct cfg_service *other = &ld->cfg->services[ld->uses[owner->use].svc];
	char text[INET6_ADDRSTRLEN], path[CFGP_PATH_LEN], full[2 * CFG_NAME_MAX];
	char q[CFGP_QUOTE_LEN];
	bool v6 = v->addr.family == AF_INET6;

	inet_ntop(v->addr.family, v->addr.addr, text, sizeof(text));
	snprintf(path, sizeof(path), "spec.addresses[%d]", u->addr);
	snprintf(full, sizeof(full), "%s/%s", other->meta.ns, other->meta.name);
	cfgp_err_at(ld, u->at, path, "%s%s%s:%u/%s is already used by service %s", v6 ? "[" : "",
		    text, v6 ? "]" : "", v->port, v->proto == IPPROTO_UDP ? "UDP" : "TCP",
		    cfgp_quote(q, full));
}

/* Two services on the same VIP and port would share one kernel map key; the
 * later document loses, once per address however many ports collide. */
static void check_vips(struct cfgp_loader *ld)
{
	struct mesh_config *cfg = ld->cfg;
	struct vip *v;
	bool *reported;
	int n = 0, i, j, first = 0;

	for (i = 0; i < ld->n_uses; i++)
		n += cfg->services[ld->uses[i].svc].n_ports;
	if (!n)
		return;
	v = calloc((size_t)n, sizeof(*v));
	reported = calloc((size_t)ld->n_uses, sizeof(*reported));
	if (!v || !reported) {
		ld->oom = true;
		goto cleanup;
	}
	n = 0;
	for (i = 0; i < ld->n_uses; i++) {
		const struct cfg_service *s = &cfg->services[ld->uses[i].svc];

		for (j = 0; j < s->n_ports; j++) {
			if (!s->ports[j].port)
				continue;
			v[n++] = (struct vip){
			    .addr = s->addrs[ld->uses[i].addr],
			    .port = s->ports[j].port,
			    .proto = s->ports[j].protocol,
			    .use = i,
			};
		}
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_vip);
	for (i = 1; i < n; i++) {
		if (memcmp(&v[i].addr, &v[first].addr, sizeof(v[i].addr)) ||
		    v[i].port != v[first].port || v[i].proto != v[first].proto) {
			first = i;
			continue;
		}
		if (ld->uses[v[i].use].svc == ld->uses[v[first].use].svc || reported[v[i].use])
			continue;
		reported[v[i].use] = true;
		report_conflict(ld, &v[i], &v[first]);
	}
cleanup:
	free(v);
	free(reported);
}

/* One TrafficPolicy per service: two would leave the kernel's rules to the
 * order of the files. */
static void check_one_policy(struct cfgp_loader *ld)
{
	struct mesh_config *cfg = ld->cfg;
	char q[CFGP_QUOTE_LEN], full[2 * CFG_NAME_MAX + 1];
	int i, j;

	for (i = 0; i < ld->n_refs; i++) {
		const struct cfgp_ref *r = &ld->refs[i];
		const struct cfg_traffic_policy *p;

		/* r->obj indexes the array of its own kind: policies may be
		 * NULL, or shorter, when r is another kind's reference */
		if (r->kind != CFGP_REF_POLICY_SERVICE)
			continue;
		p = &cfg->policies[r->obj];
		if (p->service_idx < 0)
			continue;
		for (j = 0; j < r->obj; j++) {
			const struct cfg_traffic_policy *o = &cfg->policies[j];

			if (o->service_idx != p->service_idx)
				continue;
			snprintf(full, sizeof(full), "%s/%s", p->meta.ns, p->service);
			cfgp_err_at(ld, r->at, "spec.service",
				    "service %s already has TrafficPolicy \"%s/%s\" (at %s:%d:%d)",
				    cfgp_quote(q, full), o->meta.ns, o->meta.name,
				    o->meta.origin.file, o->meta.origin.line,
				    o->meta.origin.column);
			break;
		}
	}
}

void cfgp_resolve(struct cfgp_loader *ld)
{
	int i;

	/* After an allocation failure the objects may lack their arrays. */
	if (ld->oom)
		return;
	for (i = 0; i < ld->n_refs; i++)
		resolve_ref(ld, &ld->refs[i]);
	check_vips(ld);
	check_one_policy(ld);
	flatten_all(ld);
}
