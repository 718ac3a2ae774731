/* SPDX-License-Identifier: Apache-2.0 */
/* config_access.c: the AccessPolicy kind: which workloads may (ALLOW) or may
 * not (DENY) connect to a service.
 */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

static const struct cfgp_enum actions[] = {
    {"ALLOW", CFG_ALLOW},
    {"DENY", CFG_DENY},
    {NULL, 0},
};

static const struct cfgp_field from_item = {
    .type = CFGP_STR,
    .size = CFG_NAME_MAX,
    .check = cfgp_check_ref,
};

static const struct cfgp_list from_list = {
    .item = &from_item,
    .elem = CFG_NAME_MAX,
    .noun = "workloads",
    .max = CFGP_MAX_FROM,
    .scope = " per AccessPolicy",
};

static const struct cfgp_field spec_fields[] = {
    F_STR("service", struct cfg_access_policy, service, .required = true, .check = cfgp_check_ref),
    F_ENUM("action", struct cfg_access_policy, action, actions, .required = true),
    F_LIST("from", struct cfg_access_policy, from, n_from, &from_list),
    {0},
};

void cfgp_access_policy(struct cfgp_doc *d, yaml_node_t *spec, const struct cfg_meta *meta)
{
	struct mesh_config *cfg = d->ld->cfg;
	struct cfg_access_policy *a;
	yaml_node_t *from;
	int i, idx;

	a = cfgp_grow(d->ld, cfg->access, cfg->n_access, &d->ld->cap_access, sizeof(*a));
	if (!a)
		return;
	cfg->access = a;
	idx = cfg->n_access++;
	a = &a[idx];
	memset(a, 0, sizeof(*a));
	a->meta = *meta;
	a->service_idx = -1;

	cfgp_walk(d, spec, "spec", spec_fields, a);

	if (a->n_from) {
		a->from_idx = malloc((size_t)a->n_from * sizeof(*a->from_idx));
		if (!a->from_idx) {
			d->ld->oom = true;
			return;
		}
		for (i = 0; i < a->n_from; i++)
			a->from_idx[i] = -1;
	}
	if (a->service[0])
		cfgp_add_ref(d, cfgp_get(d, spec, "service"), CFGP_REF_ACCESS_SERVICE, idx, 0);
	from = cfgp_get(d, spec, "from");
	for (i = 0; i < a->n_from; i++)
		if (a->from[i][0])
			cfgp_add_ref(d, cfgp_node(d, from->data.sequence.items.start[i]),
				     CFGP_REF_ACCESS_FROM, idx, i);
}
