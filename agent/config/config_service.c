/* SPDX-License-Identifier: Apache-2.0 */
/* config_service.c: the Service kind: virtual addresses, ports, endpoints and
 * the load-balancing policy.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

static const struct cfgp_enum protocols[] = {
    {"TCP", IPPROTO_TCP},
    {"UDP", IPPROTO_UDP},
    {NULL, 0},
};

const struct cfgp_enum cfgp_lb_policies[] = {
    {"random", CFG_LB_RANDOM},
    {"roundRobin", CFG_LB_ROUND_ROBIN},
    {"leastConnections", CFG_LB_LEAST_CONN},
    {"maglev", CFG_LB_MAGLEV},
    {NULL, 0},
};

static const struct cfgp_field port_fields[] = {
    F_STR("name", struct cfg_port, name),
    F_INT("port", struct cfg_port, port, 1, 65535, .required = true),
    F_INT("targetPort", struct cfg_port, target_port, 1, 65535),
    F_ENUM("protocol", struct cfg_port, protocol, protocols),
    {0},
};

static const struct cfgp_field endpoint_fields[] = {
    {.key = "address",
     .type = CFGP_ADDR,
     .off = offsetof(struct cfg_endpoint, addr),
     .required = true},
    F_INT("port", struct cfg_endpoint, port, 1, 65535),
    F_INT("weight", struct cfg_endpoint, weight, 1, 65535),
    {0},
};

static const struct cfgp_field addr_item = {.type = CFGP_ADDR};
static const struct cfgp_field port_item = F_GROUP(NULL, port_fields);
static const struct cfgp_field endpoint_item = F_GROUP(NULL, endpoint_fields);

static const struct cfgp_list addr_list = {
    .item = &addr_item,
    .elem = sizeof(struct cfg_addr),
    .min = 1,
    .max = CFGP_MAX_ADDRS,
    .noun = "addresses",
    .scope = " per service",
};
static const struct cfgp_list port_list = {
    .item = &port_item,
    .elem = sizeof(struct cfg_port),
    .min = 1,
    .max = CFGP_MAX_PORTS,
    .noun = "ports",
    .scope = " per service",
};
static const struct cfgp_list endpoint_list = {
    .item = &endpoint_item,
    .elem = sizeof(struct cfg_endpoint),
    .max = CFGP_MAX_ENDPOINTS,
    .noun = "endpoints",
    .scope = " per service",
};

static const struct cfgp_field lb_fields[] = {
    F_ENUM("policy", struct cfg_service, policy, cfgp_lb_policies),
    {0},
};

static const struct cfgp_field spec_fields[] = {
    F_LIST("addresses", struct cfg_service, addrs, n_addrs, &addr_list, .required = true),
    F_LIST("ports", struct cfg_service, ports, n_ports, &port_list, .required = true),
    F_LIST("endpoints", struct cfg_service, endpoints, n_endpoints, &endpoint_list),
    F_GROUP("loadBalancer", lb_fields),
    {0},
};

static const char *proto_name(uint8_t proto) { return proto == IPPROTO_UDP ? "UDP" : "TCP"; }

static yaml_node_t *item(const struct cfgp_doc *d, const yaml_node_t *seq, int i)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE ||
	    i >= (int)(seq->data.sequence.items.top - seq->data.sequence.items.start))
		return NULL;
	return cfgp_node(d, seq->data.sequence.items.start[i]);
}

/* A service port is what clients dial: two entries with the same port and
 * protocol would make the VIP ambiguous. */
static void check_ports(struct cfgp_doc *d, const struct cfg_service *s, yaml_node_t *seq)
{
	char path[CFGP_PATH_LEN], qb[CFGP_QUOTE_LEN];
	yaml_node_t *n;
	int i, j;

	for (i = 1; i < s->n_ports; i++) {
		const struct cfg_port *p = &s->ports[i];

		for (j = 0; j < i; j++) {
			const struct cfg_port *q = &s->ports[j];

			if (p->port && p->port == q->port && p->protocol == q->protocol) {
				n = item(d, seq, i);
				cfgp_index(path, "spec.ports", i);
				cfgp_err(d, n, path, "duplicate port %u/%s", p->port,
					 proto_name(p->protocol));
				break;
			}
			if (p->name[0] && !strcmp(p->name, q->name)) {
				n = cfgp_get(d, item(d, seq, i), "name");
				cfgp_index(path, "spec.ports", i);
				strcat(path, ".name");
				cfgp_err(d, n, path, "duplicate port name %s",
					 cfgp_quote(qb, p->name));
				break;
			}
		}
	}
}

static void check_addresses(struct cfgp_doc *d, const struct cfg_service *s, yaml_node_t *seq)
{
	char path[CFGP_PATH_LEN], text[INET6_ADDRSTRLEN];
	int i, j;

	for (i = 1; i < s->n_addrs; i++) {
		for (j = 0; j < i; j++) {
			if (!s->addrs[i].family || s->addrs[i].family != s->addrs[j].family ||
			    memcmp(s->addrs[i].addr, s->addrs[j].addr, 16))
				continue;
			inet_ntop(s->addrs[i].family, s->addrs[i].addr, text, sizeof(text));
			cfgp_index(path, "spec.addresses", i);
			cfgp_err(d, item(d, seq, i), path, "duplicate address %s", text);
			break;
		}
	}
}

/* A service address is served by the endpoints of its own family (a v6
 * socket cannot reach a v4 endpoint through a v6 address, nor the reverse;
 * IPv4 clients on v6 sockets dial the v4 address as ::ffff:a.b.c.d): an
 * address whose family no endpoint has would refuse every connect(). */
static void check_address_families(struct cfgp_doc *d, const struct cfg_service *s,
				   yaml_node_t *seq)
{
	char path[CFGP_PATH_LEN], text[INET6_ADDRSTRLEN];
	bool has[2] = {false, false};
	int i;

	for (i = 0; i < s->n_endpoints; i++)
		has[s->endpoints[i].addr.family == AF_INET6] |= s->endpoints[i].addr.family != 0;
	if (!has[0] && !has[1])
		return; /* no endpoints (yet): refused as such, at once */
	for (i = 0; i < s->n_addrs; i++) {
		int fam = s->addrs[i].family;

		if (!fam || has[fam == AF_INET6])
			continue;
		inet_ntop(fam, s->addrs[i].addr, text, sizeof(text));
		cfgp_index(path, "spec.addresses", i);
		cfgp_err(d, item(d, seq, i), path, "%s is an %s address but every endpoint is %s",
			 text, fam == AF_INET6 ? "IPv6" : "IPv4",
			 fam == AF_INET6 ? "IPv4" : "IPv6");
	}
}

/* An endpoint port replaces the targetPort; with several service ports it
 * could not say which one it replaces. */
static void check_endpoint_ports(struct cfgp_doc *d, const struct cfg_service *s, yaml_node_t *seq)
{
	char path[CFGP_PATH_LEN];
	int i;

	if (s->n_ports <= 1)
		return;
	for (i = 0; i < s->n_endpoints; i++) {
		if (!s->endpoints[i].port)
			continue;
		cfgp_index(path, "spec.endpoints", i);
		strcat(path, ".port");
		cfgp_err(d, cfgp_get(d, item(d, seq, i), "port"), path,
			 "only allowed when the service has exactly one port");
	}
}

void cfgp_add_addr_use(struct cfgp_loader *ld, int svc, int addr, struct cfgp_mark at)
{
	struct cfgp_addr_use *uses;

	uses = cfgp_grow(ld, ld->uses, ld->n_uses, &ld->cap_uses, sizeof(*uses));
	if (!uses)
		return;
	ld->uses = uses;
	uses[ld->n_uses++] = (struct cfgp_addr_use){.svc = svc, .addr = addr, .at = at};
}

static void record_addresses(struct cfgp_doc *d, int svc, yaml_node_t *seq)
{
	const struct cfg_service *s = &d->ld->cfg->services[svc];
	int i;

	for (i = 0; i < s->n_addrs; i++)
		if (s->addrs[i].family)
			cfgp_add_addr_use(d->ld, svc, i, cfgp_mark_of(d, item(d, seq, i)));
}

/* The kernel builds a table per service port and family: each family's
 * endpoints must fit it (config.h). */
void cfgp_check_endpoint_limit(struct cfgp_loader *ld, const struct cfg_service *s,
			       struct cfgp_mark at, const char *path, const char *whence)
{
	int v4 = 0, v6 = 0, i;

	for (i = 0; i < s->n_endpoints; i++) {
		v4 += s->endpoints[i].addr.family == AF_INET;
		v6 += s->endpoints[i].addr.family == AF_INET6;
	}
	if (v4 <= CFG_MAX_ENDPOINTS && v6 <= CFG_MAX_ENDPOINTS)
		return;
	cfgp_err_at(ld, at, path,
		    "%d %s endpoints%s exceed the limit of %d per service and address family",
		    v4 > CFG_MAX_ENDPOINTS ? v4 : v6, v4 > CFG_MAX_ENDPOINTS ? "IPv4" : "IPv6",
		    whence, CFG_MAX_ENDPOINTS);
}

void cfgp_service(struct cfgp_doc *d, yaml_node_t *spec, const struct cfg_meta *meta)
{
	struct mesh_config *cfg = d->ld->cfg;
	struct cfg_service *s;
	int i;

	s = cfgp_grow(d->ld, cfg->services, cfg->n_services, &d->ld->cap_services, sizeof(*s));
	if (!s)
		return;
	cfg->services = s;
	s = &s[cfg->n_services++];
	memset(s, 0, sizeof(*s));
	s->meta = *meta;
	s->policy = CFG_LB_RANDOM;

	cfgp_walk(d, spec, "spec", spec_fields, s);

	for (i = 0; i < s->n_ports; i++) {
		if (!s->ports[i].protocol)
			s->ports[i].protocol = IPPROTO_TCP;
		if (!s->ports[i].target_port)
			s->ports[i].target_port = s->ports[i].port;
	}
	for (i = 0; i < s->n_endpoints; i++)
		if (!s->endpoints[i].weight)
			s->endpoints[i].weight = 1;

	check_ports(d, s, cfgp_get(d, spec, "ports"));
	check_addresses(d, s, cfgp_get(d, spec, "addresses"));
	check_address_families(d, s, cfgp_get(d, spec, "addresses"));
	check_endpoint_ports(d, s, cfgp_get(d, spec, "endpoints"));
	if (s->n_endpoints)
		cfgp_check_endpoint_limit(d->ld, s, cfgp_mark_of(d, cfgp_get(d, spec, "endpoints")),
					  "spec.endpoints", "");
	record_addresses(d, cfg->n_services - 1, cfgp_get(d, spec, "addresses"));
}
