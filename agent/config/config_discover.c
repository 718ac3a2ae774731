/* SPDX-License-Identifier: Apache-2.0 */
/* config_discover.c: Kubernetes Services and their EndpointSlices become
 * bpfmesh services, once every source has been read.
 *
 * A Service ns/name is bpfmesh service ns/name: its cluster IPs are the
 * addresses, its TCP and UDP ports the ports, the endpoints of the
 * EndpointSlices labelled kubernetes.io/service-name=name the endpoints. As
 * kube-proxy does, the ready endpoints are used, and the serving ones that
 * are terminating only when a family has no ready endpoint. A targetPort is
 * resolved from the slices' ports (by the service port's name): a
 * single-port service takes each slice's number; a multi-port service has
 * one targetPort per port, the one most endpoints use, and leaves out the
 * slices that map its ports otherwise (a rollout that renumbers a named
 * port).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_k8s.h"

/* The slices of each "ns/service": a head per key, chained by next[]. */
struct slice_index {
	struct strmap heads;
	int *next;
	bool *seen;
};

static void slice_key(char *buf, size_t len, const char *ns, const char *name)
{
	snprintf(buf, len, "%s/%s", ns, name);
}

static int index_slices(struct cfgp_loader *ld, struct slice_index *ix)
{
	const struct cfgp_k8s *k = ld->k8s;
	char key[2 * CFG_NAME_MAX];
	uint32_t head;
	int i;

	ix->next = calloc((size_t)k->n_slices + 1, sizeof(*ix->next));
	ix->seen = calloc((size_t)k->n_slices + 1, sizeof(*ix->seen));
	if (!ix->next || !ix->seen)
		return -1;
	/* backwards, so that each chain is in source order */
	for (i = k->n_slices - 1; i >= 0; i--) {
		const struct cfgp_k8s_slice *s = &k->slices[i];

		ix->next[i] = -1;
		if (!s->family || ld->objs[s->obj].bad)
			continue;
		slice_key(key, sizeof(key), s->meta.ns, s->service);
		if (strmap_get(&ix->heads, key, &head))
			ix->next[i] = (int)head;
		if (strmap_put(&ix->heads, key, (uint32_t)i))
			return -1;
	}
	return 0;
}

static int first_slice(const struct slice_index *ix, const char *ns, const char *name)
{
	char key[2 * CFG_NAME_MAX];
	uint32_t head;

	slice_key(key, sizeof(key), ns, name);
	return strmap_get(&ix->heads, key, &head) ? (int)head : -1;
}

/* Kubernetes: a ready or serving condition not given means true, a
 * terminating one false. */
static bool is_ready(const struct cfgp_k8s_ep *e) { return e->ready != CFGP_COND_FALSE; }

static bool is_serving(const struct cfgp_k8s_ep *e) { return e->serving != CFGP_COND_FALSE; }

static bool is_terminating(const struct cfgp_k8s_ep *e) { return e->terminating == CFGP_COND_TRUE; }

/* The slice's number for service port p, 0 when it has none. */
static uint16_t slice_port(const struct cfgp_k8s_slice *s, const struct cfg_port *p)
{
	for (int i = 0; i < s->n_ports; i++)
		if (!strcmp(s->ports[i].name, p->name) && s->ports[i].protocol == p->protocol)
			return s->ports[i].port;
	return 0;
}

/* Whether the slice's endpoint e is used: ready, or serving and terminating
 * when its family has no ready endpoint. */
static bool usable(const struct cfgp_k8s_ep *e, const bool any_ready[2])
{
	if (!e->addr.family)
		return false;
	if (any_ready[e->addr.family == AF_INET6])
		return is_ready(e);
	return is_serving(e) && is_terminating(e);
}

static void find_ready(const struct cfgp_k8s *k, const struct slice_index *ix, int head,
		       bool any_ready[2])
{
	for (int i = head; i >= 0; i = ix->next[i])
		for (int j = 0; j < k->slices[i].n_eps; j++)
			if (k->slices[i].eps[j].addr.family && is_ready(&k->slices[i].eps[j]))
				any_ready[k->slices[i].eps[j].addr.family == AF_INET6] = true;
}

/* Port j's targetPort: the number most used endpoints get from their
 * slices (the smallest of a tie), else the Service's own number. */
static uint16_t majority(const struct cfgp_k8s *k, const struct slice_index *ix, int head,
			 const struct cfg_port *p, uint16_t fallback, const bool any_ready[2])
{
	uint16_t best = 0;
	int best_n = 0;

	for (int i = head; i >= 0; i = ix->next[i]) {
		uint16_t num = slice_port(&k->slices[i], p);
		int n = 0;

		if (!num)
			continue;
		/* counted once per number: from the first slice that has it */
		for (int o = head; o != i; o = ix->next[o])
			if (slice_port(&k->slices[o], p) == num)
				goto next;
		for (int o = i; o >= 0; o = ix->next[o]) {
			if (slice_port(&k->slices[o], p) != num)
				continue;
			for (int j = 0; j < k->slices[o].n_eps; j++)
				n += usable(&k->slices[o].eps[j], any_ready);
		}
		if (n > best_n || (n == best_n && num < best)) {
			best = num;
			best_n = n;
		}
	next:;
	}
	return best ? best : fallback;
}

static int cmp_endpoint(const void *a, const void *b)
{
	const struct cfg_endpoint *x = a, *y = b;
	int c;

	if (x->addr.family != y->addr.family)
		return x->addr.family < y->addr.family ? -1 : 1;
	c = memcmp(x->addr.addr, y->addr.addr, sizeof(x->addr.addr));
	if (c)
		return c;
	return (x->port > y->port) - (x->port < y->port);
}

/* Whether slice s serves every port of svc at its targetPort (a multi-port
 * service), or has the one port (single-port; *num is its number). */
static bool slice_fits(const struct cfgp_k8s_slice *s, const struct cfg_service *svc, uint16_t *num)
{
	if (svc->n_ports == 1) {
		*num = slice_port(s, &svc->ports[0]);
		return *num != 0;
	}
	*num = 0;
	for (int j = 0; j < svc->n_ports; j++)
		if (slice_port(s, &svc->ports[j]) != svc->ports[j].target_port)
			return false;
	return true;
}

/* The endpoints of svc from its slices, sorted and each once. */
static void endpoints(struct cfgp_loader *ld, const struct slice_index *ix, int head,
		      const struct cfgp_k8s_svc *ks, struct cfg_service *svc)
{
	const struct cfgp_k8s *k = ld->k8s;
	bool any_ready[2] = {false, false};
	struct cfg_endpoint *eps;
	int n = 0, i, j, out;

	find_ready(k, ix, head, any_ready);
	for (j = 0; j < svc->n_ports; j++) {
		const struct cfgp_k8s_port *kp = NULL;

		for (i = 0; i < ks->n_ports; i++)
			if (!strcmp(ks->ports[i].name, svc->ports[j].name) &&
			    ks->ports[i].protocol == svc->ports[j].protocol)
				kp = &ks->ports[i];
		svc->ports[j].target_port =
		    majority(k, ix, head, &svc->ports[j],
			     kp && kp->target_num ? kp->target_num : svc->ports[j].port, any_ready);
	}
	for (i = head; i >= 0; i = ix->next[i])
		n += k->slices[i].n_eps;
	if (!n)
		return;
	eps = calloc((size_t)n, sizeof(*eps));
	if (!eps) {
		ld->oom = true;
		return;
	}
	n = 0;
	for (i = head; i >= 0; i = ix->next[i]) {
		const struct cfgp_k8s_slice *s = &k->slices[i];
		uint16_t num;

		if (!slice_fits(s, svc, &num)) {
			if (svc->n_ports > 1)
				cfgp_skip(
				    ld, "EndpointSlice", s->meta.ns, s->meta.name, s->at,
				    "its ports are not the other EndpointSlices' (a multi-port "
				    "service has one targetPort per port): its endpoints are "
				    "left out");
			else
				cfgp_skip(ld, "EndpointSlice", s->meta.ns, s->meta.name, s->at,
					  "no port \"%s\" (%s): its endpoints are left out",
					  svc->ports[0].name,
					  svc->ports[0].protocol == IPPROTO_UDP ? "UDP" : "TCP");
			continue;
		}
		for (j = 0; j < s->n_eps; j++) {
			if (!usable(&s->eps[j], any_ready))
				continue;
			eps[n].addr = s->eps[j].addr;
			eps[n].port = num != svc->ports[0].target_port ? num : 0;
			eps[n].weight = 1;
			n++;
		}
	}
	/* a pod can be in two slices for a moment while the controller moves it */
	qsort(eps, (size_t)n, sizeof(*eps), cmp_endpoint);
	for (i = 0, out = 0; i < n; i++)
		if (!out || cmp_endpoint(&eps[out - 1], &eps[i]))
			eps[out++] = eps[i];
	svc->endpoints = eps;
	svc->n_endpoints = out;
}

/* Why a Service is no bpfmesh service, NULL when it is one. */
static const char *why_not(const struct cfgp_k8s_svc *ks, int n_ports)
{
	if (!strcmp(ks->type, "ExternalName"))
		return "type ExternalName: a DNS name, no cluster IP to balance";
	if (ks->headless)
		return "headless (clusterIP None): clients connect to the pods themselves";
	if (!ks->n_ips)
		return "no cluster IP";
	if (!ks->n_ports)
		return "no ports";
	if (!n_ports)
		return "no TCP or UDP port";
	return NULL;
}

static void discover_service(struct cfgp_loader *ld, const struct slice_index *ix,
			     const struct cfgp_k8s_svc *ks)
{
	struct mesh_config *cfg = ld->cfg;
	struct cfg_service *s;
	const char *why;
	int i, n_ports = 0, si = cfg->n_services;

	if (ld->objs[ks->obj].bad)
		return;
	for (i = 0; i < ks->n_ports; i++) {
		const struct cfgp_k8s_port *p = &ks->ports[i];

		if (p->protocol != IPPROTO_SCTP)
			n_ports++;
		else if (strcmp(ks->type, "ExternalName") && !ks->headless)
			cfgp_skip(ld, "Service", ks->meta.ns, ks->meta.name, ld->objs[ks->obj].at,
				  "port %s%s%u/SCTP: bpfmesh balances TCP and UDP only",
				  p->name[0] ? p->name : "", p->name[0] ? " " : "", p->port);
	}
	if ((why = why_not(ks, n_ports))) {
		cfgp_skip(ld, "Service", ks->meta.ns, ks->meta.name, ld->objs[ks->obj].at, "%s",
			  why);
		return;
	}
	if (cfgp_claim(ld, "Service", &ks->meta, si, ks->name_at, "metadata.name") != CFGP_CLAIMED)
		return;
	s = &cfg->services[cfg->n_services++];
	memset(s, 0, sizeof(*s));
	s->meta = ks->meta;
	s->policy = ks->policy >= 0 ? (enum cfg_lb_policy)ks->policy
		    : ks->client_ip ? CFG_LB_MAGLEV
				    : CFG_LB_RANDOM;
	s->addrs = calloc((size_t)ks->n_ips, sizeof(*s->addrs));
	s->ports = calloc((size_t)n_ports, sizeof(*s->ports));
	if (!s->addrs || !s->ports) {
		ld->oom = true;
		return;
	}
	memcpy(s->addrs, ks->ips, (size_t)ks->n_ips * sizeof(*s->addrs));
	s->n_addrs = ks->n_ips;
	for (i = 0; i < ks->n_ports; i++) {
		const struct cfgp_k8s_port *p = &ks->ports[i];

		if (p->protocol == IPPROTO_SCTP)
			continue;
		snprintf(s->ports[s->n_ports].name, sizeof(s->ports[0].name), "%s", p->name);
		s->ports[s->n_ports].port = p->port;
		s->ports[s->n_ports].protocol = p->protocol;
		s->n_ports++;
	}
	endpoints(ld, ix, first_slice(ix, ks->meta.ns, ks->meta.name), ks, s);
	cfgp_check_endpoint_limit(ld, s, ks->spec_at, NULL, " of its EndpointSlices");
	for (i = 0; i < s->n_addrs; i++)
		cfgp_add_addr_use(ld, si, i, ks->ip_at[i]);
}

/* Slices that no Service read names are reported, not used. */
static void orphan_slices(struct cfgp_loader *ld, struct slice_index *ix)
{
	const struct cfgp_k8s *k = ld->k8s;
	char full[2 * CFG_NAME_MAX];
	int i, j;

	for (i = 0; i < k->n_svcs; i++)
		for (j = first_slice(ix, k->svcs[i].meta.ns, k->svcs[i].meta.name); j >= 0;
		     j = ix->next[j])
			ix->seen[j] = true;
	for (i = 0; i < k->n_slices; i++) {
		const struct cfgp_k8s_slice *s = &k->slices[i];

		if (ix->seen[i] || !s->family || ld->objs[s->obj].bad)
			continue;
		snprintf(full, sizeof(full), "%s/%s", s->meta.ns, s->service);
		cfgp_skip(ld, "EndpointSlice", s->meta.ns, s->meta.name, s->at,
			  "its Service \"%s\" is not among the objects read", full);
	}
}

void cfgp_discover(struct cfgp_loader *ld)
{
	struct cfgp_k8s *k = ld->k8s;
	struct slice_index ix = {0};
	struct cfg_service *s;
	int i;

	if (!k->n_svcs && !k->n_slices && !k->n_pods)
		return;
	/* room for every Service: the array does not move while they come */
	s = cfgp_reserve(ld, ld->cfg->services, ld->cfg->n_services + k->n_svcs + 1,
			 &ld->cap_services, sizeof(*s));
	if (!s || index_slices(ld, &ix)) {
		if (s)
			ld->cfg->services = s;
		ld->oom = true;
		goto out;
	}
	ld->cfg->services = s;
	for (i = 0; i < k->n_svcs && !ld->oom; i++)
		discover_service(ld, &ix, &k->svcs[i]);
	orphan_slices(ld, &ix);
	cfgp_discover_pods(ld);
out:
	strmap_free(&ix.heads);
	free(ix.next);
	free(ix.seen);
}
