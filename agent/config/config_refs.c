/* SPDX-License-Identifier: Apache-2.0 */
/* config_refs.c: the checks that need every document at once: names that
 * refer to other objects, and virtual addresses claimed by two services.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

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

/* References stay inside the referring document's namespace. */
static void resolve_ref(struct cfgp_loader *ld, const struct cfgp_ref *r)
{
	struct mesh_config *cfg = ld->cfg;
	char q[CFGP_QUOTE_LEN], full[2 * CFG_NAME_MAX], path[CFGP_PATH_LEN];
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
		ns = cfg->access[r->obj].meta.ns;
		name = cfg->access[r->obj].from[r->item];
		*(idx = &cfg->access[r->obj].from_idx[r->item]) =
		    cfgp_find(ld, "Workload", ns, name);
		if (*idx < 0) {
			snprintf(full, sizeof(full), "%s/%s", ns, name);
			snprintf(path, sizeof(path), "spec.from[%d]", r->item);
			cfgp_err_at(ld, r->at, path, "unknown workload %s", cfgp_quote(q, full));
		}
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
}
