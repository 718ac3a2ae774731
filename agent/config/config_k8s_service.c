/* SPDX-License-Identifier: Apache-2.0 */
/* config_k8s_service.c: reading a v1 Service and a discovery.k8s.io/v1
 * EndpointSlice into the loader's Kubernetes objects (config_k8s.h). Fields
 * bpfmesh does not use are accepted unread; the ones it uses are checked as
 * strictly as a bpfmesh document's.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_k8s.h"

#define KS struct cfgp_k8s_svc
#define KP struct cfgp_k8s_port
#define KE struct cfgp_k8s_ep
#define KEP struct cfgp_k8s_eport
#define KSL struct cfgp_k8s_slice

#define LB_POLICY_ANNOTATION "bpfmesh.io/lb-policy"

static const struct cfgp_enum protocols[] = {
    {"TCP", IPPROTO_TCP},
    {"UDP", IPPROTO_UDP},
    {"SCTP", IPPROTO_SCTP},
    {NULL, 0},
};

static const struct cfgp_enum affinities[] = {
    {"None", 0},
    {"ClientIP", 1},
    {NULL, 0},
};

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_UDP ? "UDP" : p == IPPROTO_SCTP ? "SCTP" : "TCP";
}

/* IntOrString: a number is the pod's port, a string the name of a
 * container port. */
static void target_port(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	static const struct cfgp_field num = F_INT(NULL, KP, target_num, 1, 65535);
	KP *p = base;
	const char *s;

	if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    strchr("0123456789-+", ((char *)n->data.scalar.value)[0])) {
		cfgp_value(d, n, path, &num, base);
		return;
	}
	if (!(s = cfgp_string(d, n, path)))
		return;
	if (strlen(s) >= sizeof(p->target_name)) {
		cfgp_err(d, n, path, "longer than %zu characters", sizeof(p->target_name) - 1);
		return;
	}
	strcpy(p->target_name, s);
}

static const struct cfgp_field port_fields[] = {
    F_STR("name", KP, name),
    F_INT("port", KP, port, 1, 65535, .required = true),
    F_FUNC("targetPort", target_port),
    F_ENUM("protocol", KP, protocol, protocols),
    F_ANY, /* nodePort, appProtocol */
    {0},
};

static const struct cfgp_field port_item = F_GROUP(NULL, port_fields);

static const struct cfgp_list port_list = {
    .item = &port_item,
    .elem = sizeof(KP),
    .max = CFGP_MAX_PORTS,
    .noun = "ports",
    .scope = " per service",
};

/* clusterIP(s) and the selector are read from the spec node afterwards. */
static const struct cfgp_field spec_fields[] = {
    F_STR("type", KS, type),
    F_FUNC("clusterIP", cfgp_ignore),
    F_FUNC("clusterIPs", cfgp_ignore),
    F_LIST("ports", KS, ports, n_ports, &port_list),
    F_FUNC("selector", cfgp_ignore),
    F_ENUM("sessionAffinity", KS, client_ip, affinities),
    F_ANY,
    {0},
};

static void spec(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	cfgp_walk(d, n, path, spec_fields, base);
}

static const struct cfgp_field svc_fields[] = {
    F_FUNC("apiVersion", cfgp_ignore), F_FUNC("kind", cfgp_ignore),
    F_FUNC("metadata", cfgp_ignore),   F_FUNC("spec", spec, .required = true),
    F_FUNC("status", cfgp_ignore),     {0},
};

/* One clusterIP: "None" makes the service headless, "" says nothing. */
static void cluster_ip(struct cfgp_doc *d, yaml_node_t *n, const char *path, KS *s)
{
	static const struct cfgp_field addr = {.type = CFGP_ADDR};
	const char *v = cfgp_string(d, n, path);

	if (!v || !*v)
		return;
	if (!strcmp(v, "None")) {
		s->headless = true;
		return;
	}
	if (s->n_ips == CFGP_MAX_ADDRS) {
		cfgp_err(d, n, path, "more than %d cluster IPs", CFGP_MAX_ADDRS);
		return;
	}
	cfgp_value(d, n, path, &addr, &s->ips[s->n_ips]);
	if (s->ips[s->n_ips].family)
		s->ip_at[s->n_ips++] = cfgp_mark_of(d, n);
}

/* spec.clusterIPs (dual stack), else spec.clusterIP (older objects). */
static void cluster_ips(struct cfgp_doc *d, yaml_node_t *spec, KS *s)
{
	yaml_node_t *ips = cfgp_get(d, spec, "clusterIPs"), *ip = cfgp_get(d, spec, "clusterIP");
	char path[CFGP_PATH_LEN];
	int i, n;

	s->ips = calloc(CFGP_MAX_ADDRS, sizeof(*s->ips));
	s->ip_at = calloc(CFGP_MAX_ADDRS, sizeof(*s->ip_at));
	if (!s->ips || !s->ip_at) {
		d->ld->oom = true;
		return;
	}
	if (ips && !cfgp_is_null(ips)) {
		if (ips->type != YAML_SEQUENCE_NODE) {
			cfgp_err(d, ips, "spec.clusterIPs", "expected a sequence");
			return;
		}
		n = (int)(ips->data.sequence.items.top - ips->data.sequence.items.start);
		for (i = 0; i < n; i++) {
			cfgp_index(path, "spec.clusterIPs", i);
			cluster_ip(d, cfgp_node(d, ips->data.sequence.items.start[i]), path, s);
		}
		if (n)
			return;
	}
	if (ip && !cfgp_is_null(ip))
		cluster_ip(d, ip, "spec.clusterIP", s);
}

/* The lb-policy annotation chooses any policy; a wrong value is this
 * Service's error. */
static void lb_annotation(struct cfgp_doc *d, yaml_node_t *root, KS *s)
{
	static const struct cfgp_field f = {
	    .type = CFGP_ENUM, .size = sizeof(int), .names = cfgp_lb_policies};
	yaml_node_t *ann = cfgp_get(d, cfgp_get(d, root, "metadata"), "annotations");
	yaml_node_t *v = cfgp_get(d, ann, LB_POLICY_ANNOTATION);
	int before = d->ld->n_errs, policy = -1;

	if (!v || v->type != YAML_SCALAR_NODE)
		return; /* absent, or reported by the metadata walk */
	cfgp_value(d, v, "metadata.annotations." LB_POLICY_ANNOTATION, &f, &policy);
	if (d->ld->n_errs == before)
		s->policy = policy;
}

static void check_ports(struct cfgp_doc *d, const KS *s, yaml_node_t *seq)
{
	char path[CFGP_PATH_LEN], q[CFGP_QUOTE_LEN];
	int i, j;

	for (i = 1; i < s->n_ports; i++) {
		for (j = 0; j < i; j++) {
			const KP *p = &s->ports[i], *o = &s->ports[j];

			cfgp_index(path, "spec.ports", i);
			if (p->port && p->port == o->port && p->protocol == o->protocol) {
				cfgp_err(d, cfgp_node(d, seq->data.sequence.items.start[i]), path,
					 "duplicate port %u/%s", p->port, proto_name(p->protocol));
				break;
			}
			if (!strcmp(p->name, o->name)) {
				cfgp_err(d, cfgp_node(d, seq->data.sequence.items.start[i]), path,
					 "duplicate port name %s", cfgp_quote(q, p->name));
				break;
			}
		}
	}
}

static void *grow(struct cfgp_loader *ld, void **arr, int n, int *cap, size_t size)
{
	void *p = cfgp_grow(ld, *arr, n, cap, size);

	if (p)
		*arr = p;
	return p;
}

void cfgp_k8s_service(struct cfgp_doc *d, yaml_node_t *root, struct cfgp_env *env)
{
	struct cfgp_k8s *k = d->ld->k8s;
	yaml_node_t *sp = cfgp_get(d, root, "spec"), *sel;
	KS *s;
	int i;

	if (!grow(d->ld, (void **)&k->svcs, k->n_svcs, &k->cap_svcs, sizeof(*s)))
		return;
	s = &k->svcs[k->n_svcs++];
	memset(s, 0, sizeof(*s));
	s->obj = d->obj;
	s->meta = env->meta;
	s->name_at = cfgp_mark_of(d, env->name);
	s->spec_at = cfgp_mark_of(d, sp ? sp : root);
	s->policy = -1;

	cfgp_walk(d, root, "", svc_fields, s);
	if (!sp || sp->type != YAML_MAPPING_NODE)
		return;
	cluster_ips(d, sp, s);
	sel = cfgp_get(d, sp, "selector");
	if (sel && !cfgp_is_null(sel))
		cfgp_string_map(d, sel, "spec.selector", &s->selector, &s->n_selector);
	for (i = 0; i < s->n_ports; i++)
		if (!s->ports[i].protocol)
			s->ports[i].protocol = IPPROTO_TCP;
	if (s->n_ports)
		check_ports(d, s, cfgp_get(d, sp, "ports"));
	lb_annotation(d, root, s);
}

/* ---- EndpointSlice ---- */

static const struct cfgp_enum address_types[] = {
    {"IPv4", AF_INET},
    {"IPv6", AF_INET6},
    {"FQDN", -1},
    {NULL, 0},
};

static void condition(struct cfgp_doc *d, yaml_node_t *n, const char *path, int8_t *dst)
{
	static const struct cfgp_field f = {.type = CFGP_BOOL};
	bool b = false;

	cfgp_value(d, n, path, &f, &b);
	*dst = b ? CFGP_COND_TRUE : CFGP_COND_FALSE;
}

static void cond_ready(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	condition(d, n, path, &((KE *)base)->ready);
}

static void cond_serving(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	condition(d, n, path, &((KE *)base)->serving);
}

static void cond_terminating(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	condition(d, n, path, &((KE *)base)->terminating);
}

static const struct cfgp_field cond_fields[] = {
    F_FUNC("ready", cond_ready),
    F_FUNC("serving", cond_serving),
    F_FUNC("terminating", cond_terminating),
    F_ANY,
    {0},
};

/* Kubernetes keeps one address per endpoint (consumers use the first). */
static void ep_addresses(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	static const struct cfgp_field addr = {.type = CFGP_ADDR};
	char sub[CFGP_PATH_LEN];
	KE *e = base;
	int cnt;

	if (n->type != YAML_SEQUENCE_NODE) {
		cfgp_err(d, n, path, "expected a sequence");
		return;
	}
	cnt = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (!cnt) {
		cfgp_err(d, n, path, "must not be empty");
		return;
	}
	if (cnt > CFGP_MAX_SLICE_ADDRS) {
		cfgp_err(d, n, path, "%d addresses exceed the limit of %d per endpoint", cnt,
			 CFGP_MAX_SLICE_ADDRS);
		return;
	}
	cfgp_index(sub, path, 0);
	n = cfgp_node(d, n->data.sequence.items.start[0]);
	e->at = cfgp_mark_of(d, n);
	cfgp_value(d, n, sub, &addr, &e->addr);
}

static const struct cfgp_field ep_fields[] = {
    F_FUNC("addresses", ep_addresses, .required = true),
    F_GROUP("conditions", cond_fields),
    F_ANY, /* hostname, nodeName, zone, targetRef, hints, deprecatedTopology */
    {0},
};

static const struct cfgp_field eport_fields[] = {
    F_STR("name", KEP, name),
    F_INT("port", KEP, port, 1, 65535),
    F_ENUM("protocol", KEP, protocol, protocols),
    F_ANY, /* appProtocol */
    {0},
};

static const struct cfgp_field ep_item = F_GROUP(NULL, ep_fields);
static const struct cfgp_field eport_item = F_GROUP(NULL, eport_fields);

static const struct cfgp_list ep_list = {
    .item = &ep_item,
    .elem = sizeof(KE),
    .max = CFGP_MAX_SLICE_ENDPOINTS,
    .noun = "endpoints",
    .scope = " per EndpointSlice",
};

static const struct cfgp_list eport_list = {
    .item = &eport_item,
    .elem = sizeof(KEP),
    .max = CFGP_MAX_SLICE_PORTS,
    .noun = "ports",
    .scope = " per EndpointSlice",
};

static const struct cfgp_field slice_fields[] = {
    F_FUNC("apiVersion", cfgp_ignore),
    F_FUNC("kind", cfgp_ignore),
    F_FUNC("metadata", cfgp_ignore),
    F_ENUM("addressType", KSL, family, address_types, .required = true),
    F_LIST("endpoints", KSL, eps, n_eps, &ep_list),
    F_LIST("ports", KSL, ports, n_ports, &eport_list),
    {0},
};

static const struct cfgp_field slice_fqdn_fields[] = {
    F_ENUM("addressType", KSL, family, address_types, .required = true),
    F_ANY,
    {0},
};

/* An address of the other family than addressType says. */
static void check_families(struct cfgp_doc *d, const KSL *s, yaml_node_t *seq)
{
	char path[CFGP_PATH_LEN], text[INET6_ADDRSTRLEN];
	int i;

	for (i = 0; i < s->n_eps; i++) {
		const KE *e = &s->eps[i];
		yaml_node_t *addrs;

		if (!e->addr.family || e->addr.family == s->family)
			continue;
		addrs = cfgp_get(d, cfgp_node(d, seq->data.sequence.items.start[i]), "addresses");
		cfgp_index(path, "endpoints", i);
		strcat(path, ".addresses[0]");
		inet_ntop(e->addr.family, e->addr.addr, text, sizeof(text));
		cfgp_err(d, cfgp_node(d, addrs->data.sequence.items.start[0]), path,
			 "%s is not an %s address (addressType %s)", text,
			 s->family == AF_INET ? "IPv4" : "IPv6",
			 s->family == AF_INET ? "IPv4" : "IPv6");
	}
}

void cfgp_k8s_slice(struct cfgp_doc *d, yaml_node_t *root, struct cfgp_env *env)
{
	struct cfgp_k8s *k = d->ld->k8s;
	const char *svc = cfgp_label(env->labels, env->n_labels, "kubernetes.io/service-name");
	struct cfgp_mark at = d->ld->objs[d->obj].at;
	KSL *s;
	int i;

	if (!grow(d->ld, (void **)&k->slices, k->n_slices, &k->cap_slices, sizeof(*s)))
		return;
	s = &k->slices[k->n_slices++];
	memset(s, 0, sizeof(*s));
	s->obj = d->obj;
	s->meta = env->meta;
	s->at = at;
	/* an FQDN slice's addresses are host names: nothing to balance to */
	if (cfgp_get(d, root, "addressType") &&
	    cfgp_get(d, root, "addressType")->type == YAML_SCALAR_NODE &&
	    !strcmp((char *)cfgp_get(d, root, "addressType")->data.scalar.value, "FQDN")) {
		cfgp_walk(d, root, "", slice_fqdn_fields, s);
		s->family = 0;
		cfgp_skip(d->ld, "EndpointSlice", s->meta.ns, s->meta.name, at,
			  "addressType FQDN: bpfmesh balances to IP addresses only");
		return;
	}
	cfgp_walk(d, root, "", slice_fields, s);
	if (s->family > 0 && s->n_eps)
		check_families(d, s, cfgp_get(d, root, "endpoints"));
	for (i = 0; i < s->n_ports; i++)
		if (!s->ports[i].protocol)
			s->ports[i].protocol = IPPROTO_TCP;
	if (!svc || !*svc) {
		cfgp_skip(d->ld, "EndpointSlice", s->meta.ns, s->meta.name, at,
			  "no kubernetes.io/service-name label: it belongs to no Service");
		s->family = 0;
		return;
	}
	snprintf(s->service, sizeof(s->service), "%s", svc);
}
