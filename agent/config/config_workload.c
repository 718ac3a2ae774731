/* SPDX-License-Identifier: Apache-2.0 */
/* config_workload.c: the Workload kind: which cgroup's processes serve which
 * service, on which ports, behind which host interfaces, and whether an
 * OpenTelemetry SDK traces them.
 */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* The kernel's dev_valid_name(): what `ip link` would accept. */
static const char *check_ifname(const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, "..") || strpbrk(s, "/: \t\n\v\f\r"))
		return "is not a valid interface name";
	return NULL;
}

static const char *check_cgroup(const char *s) { return *s ? NULL : "is not a cgroup path"; }

static const struct cfgp_field port_item = {
    .type = CFGP_INT,
    .size = sizeof(uint16_t),
    .min = 1,
    .max = 65535,
};
static const struct cfgp_field ifname_item = {
    .type = CFGP_STR,
    .size = 16,
    .check = check_ifname,
};

static const struct cfgp_list port_list = {
    .item = &port_item,
    .elem = sizeof(uint16_t),
    .noun = "ports",
    .max = CFGP_MAX_WL_PORTS,
};
static const struct cfgp_list ifname_list = {
    .item = &ifname_item,
    .elem = 16,
    .noun = "interfaces",
    .max = CFGP_MAX_WL_IFACES,
};

/* tracing.instrumented: an OpenTelemetry SDK in the process exports its
 * spans (true), or bpfmesh's spans are wanted whatever it sends (false);
 * auto: known by the traceparents it sends (config.h: CFG_INSTR_*). */
static const struct cfgp_enum instrumented_names[] = {
    {"auto", CFG_INSTR_AUTO},
    {"true", CFG_INSTR_TRUE},
    {"false", CFG_INSTR_FALSE},
    {NULL, 0},
};

/* tracing.inject overrides Telemetry's propagation.inject for this
 * workload only when it is written (config.h: CFG_INJECT_*). */
static const struct cfgp_enum inject_names[] = {
    {"true", CFG_INJECT_ON},
    {"false", CFG_INJECT_OFF},
    {NULL, 0},
};

static const struct cfgp_field tracing_fields[] = {
    F_ENUM("instrumented", struct cfg_workload, instrumented, instrumented_names),
    F_ENUM("inject", struct cfg_workload, inject, inject_names),
    {0},
};

static const struct cfgp_field spec_fields[] = {
    F_STR("service", struct cfg_workload, service, .required = true, .check = cfgp_check_ref),
    F_STR("cgroup", struct cfg_workload, cgroup, .required = true, .check = check_cgroup),
    F_LIST("ports", struct cfg_workload, ports, n_ports, &port_list),
    F_LIST("interfaces", struct cfg_workload, interfaces, n_interfaces, &ifname_list),
    F_GROUP("tracing", tracing_fields),
    {0},
};

void cfgp_workload(struct cfgp_doc *d, yaml_node_t *spec, const struct cfg_meta *meta)
{
	struct mesh_config *cfg = d->ld->cfg;
	struct cfg_workload *w;

	w = cfgp_grow(d->ld, cfg->workloads, cfg->n_workloads, &d->ld->cap_workloads, sizeof(*w));
	if (!w)
		return;
	cfg->workloads = w;
	w = &w[cfg->n_workloads++];
	memset(w, 0, sizeof(*w));
	w->meta = *meta;
	w->service_idx = -1;

	cfgp_walk(d, spec, "spec", spec_fields, w);

	if (w->service[0])
		cfgp_add_ref(d, cfgp_get(d, spec, "service"), CFGP_REF_WORKLOAD_SERVICE,
			     cfg->n_workloads - 1, 0);
}
