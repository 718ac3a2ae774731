/* SPDX-License-Identifier: Apache-2.0 */
/* api_services.c: services with their endpoints and the kernel's counters
 * (lb_ep_stats), and the configuration in force. Called with a->lock held. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include <bpf/bpf.h>

#include "bpf/lb.h"
#include "api_services.h"

static void addr_str(const struct cfg_addr *a, char *buf, size_t len)
{
	inet_ntop(a->family, a->addr, buf, len);
}

static void write_endpoint(struct agent *a, struct jsonw *w, const struct cfg_service *s,
			   const struct cfg_endpoint *e)
{
	struct lb_ep_stats sum = {};
	char ip[INET6_ADDRSTRLEN], key[128];
	int pi;

	addr_str(&e->addr, ip, sizeof(ip));
	jw_obj_open(w);
	jw_kstr(w, "address", ip);
	if (e->port)
		jw_ku64(w, "port", e->port);
	jw_ku64(w, "weight", e->weight);
	/* an endpoint serves every port of its service: add their counters */
	for (pi = 0; pi < s->n_ports; pi++) {
		uint16_t port = e->port ? e->port : s->ports[pi].target_port;
		struct lb_ep_stats st;
		uint32_t id;

		snprintf(key, sizeof(key), "%s|%s|%u", e->addr.family == AF_INET ? "4" : "6", ip,
			 port);
		if (!strmap_get(&a->lm.be_ids, key, &id))
			continue;
		if (bpf_map_lookup_elem(a->lm.fd.ep_stats, &id, &st))
			continue;
		sum.selected += st.selected;
		sum.opened += st.opened;
		sum.closed += st.closed;
		sum.active += st.active;
	}
	jw_kstr(w, "health", "healthy");
	jw_ku64(w, "selected", sum.selected);
	jw_ku64(w, "connectionsOpened", sum.opened);
	jw_ku64(w, "connectionsClosed", sum.closed);
	jw_ki64(w, "connectionsActive", sum.active);
	jw_obj_close(w);
}

static void write_service(struct agent *a, struct jsonw *w, const struct cfg_service *s)
{
	char ip[INET6_ADDRSTRLEN];
	int i;

	jw_obj_open(w);
	jw_kstr(w, "name", s->meta.name);
	jw_kstr(w, "namespace", s->meta.ns);
	jw_kstr(w, "policy", cfg_lb_policy_name(s->policy));
	jw_key(w, "addresses");
	jw_arr_open(w);
	for (i = 0; i < s->n_addrs; i++) {
		addr_str(&s->addrs[i], ip, sizeof(ip));
		jw_str(w, ip);
	}
	jw_arr_close(w);
	jw_key(w, "ports");
	jw_arr_open(w);
	for (i = 0; i < s->n_ports; i++) {
		jw_obj_open(w);
		jw_kstr(w, "name", s->ports[i].name);
		jw_ku64(w, "port", s->ports[i].port);
		jw_ku64(w, "targetPort", s->ports[i].target_port);
		jw_kstr(w, "protocol", s->ports[i].protocol == IPPROTO_UDP ? "UDP" : "TCP");
		jw_obj_close(w);
	}
	jw_arr_close(w);
	jw_ku64(w, "endpointsTotal", s->n_endpoints);
	jw_ku64(w, "endpointsHealthy", s->n_endpoints);
	jw_key(w, "endpoints");
	jw_arr_open(w);
	for (i = 0; i < s->n_endpoints; i++)
		write_endpoint(a, w, s, &s->endpoints[i]);
	jw_arr_close(w);
	jw_obj_close(w);
}

int api_write_services(struct agent *a, struct jsonw *w, const char *name)
{
	const struct mesh_config *cfg = a->cfg;
	char ns[CFG_NAME_MAX] = "default";
	const char *n = name;
	int i;

	if (name) {
		const char *slash = strchr(name, '/');

		if (slash) {
			snprintf(ns, sizeof(ns), "%.*s", (int)(slash - name), name);
			n = slash + 1;
		}
		i = cfg ? config_find_service(cfg, ns, n) : -1;
		if (i < 0)
			return -ENOENT;
		write_service(a, w, &cfg->services[i]);
		return 0;
	}
	jw_obj_open(w);
	jw_key(w, "services");
	jw_arr_open(w);
	for (i = 0; cfg && i < cfg->n_services; i++)
		write_service(a, w, &cfg->services[i]);
	jw_arr_close(w);
	jw_obj_close(w);
	return 0;
}

void api_write_config(struct agent *a, struct jsonw *w)
{
	const struct mesh_config *cfg = a->cfg;
	int i;

	jw_obj_open(w);
	jw_kstr(w, "source", a->opts.config);
	jw_kbool(w, "applied", a->applied);
	jw_ku64(w, "reloads", a->reloads);
	jw_ku64(w, "reloadErrors", a->reload_errors);
	jw_kstr(w, "lastError", a->last_error);
	jw_key(w, "files");
	jw_arr_open(w);
	for (i = 0; cfg && i < cfg->n_files; i++)
		jw_str(w, cfg->files[i]);
	jw_arr_close(w);
	jw_key(w, "services");
	jw_arr_open(w);
	for (i = 0; cfg && i < cfg->n_services; i++)
		write_service(a, w, &cfg->services[i]);
	jw_arr_close(w);
	jw_key(w, "documents");
	jw_obj_open(w);
	jw_ku64(w, "Service", cfg ? cfg->n_services : 0);
	jw_ku64(w, "TrafficPolicy", cfg ? cfg->n_policies : 0);
	jw_ku64(w, "Workload", cfg ? cfg->n_workloads : 0);
	jw_ku64(w, "AccessPolicy", cfg ? cfg->n_access : 0);
	jw_ku64(w, "Telemetry", cfg && cfg->telemetry ? 1 : 0);
	jw_obj_close(w);
	jw_obj_close(w);
}
