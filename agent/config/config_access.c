/* SPDX-License-Identifier: Apache-2.0 */
/* config_access.c: the AccessPolicy kind: which workloads may (ALLOW) or may
 * not (DENY) connect to a service.
 *
 * A spec.from entry names a workload (a plain name, as earlier versions
 * wrote it, or {workload: NAME}), the workloads of a service
 * ({service: NAME} or {service: NS/NAME}: the Workloads that serve it and
 * the pods its selector selects) or those of a namespace ({namespace: NS}).
 * config_refs.c turns the entries into the list of workloads.
 */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

static const struct cfgp_enum actions[] = {
    {"ALLOW", CFG_ALLOW},
    {"DENY", CFG_DENY},
    {NULL, 0},
};

static const struct cfgp_field name_field = {
    .type = CFGP_STR,
    .off = offsetof(struct cfg_from, name),
    .size = CFG_NAME_MAX,
    .check = cfgp_check_ref,
};

static void from_workload(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	((struct cfg_from *)base)->kind = CFG_FROM_WORKLOAD;
	cfgp_value(d, n, path, &name_field, base);
}

/* NAME in the policy's namespace, or NS/NAME. */
static void from_service(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	struct cfg_from *e = base;
	char q[CFGP_QUOTE_LEN];
	const char *s, *slash, *why;

	e->kind = CFG_FROM_SERVICE;
	if (!(s = cfgp_string(d, n, path)))
		return;
	slash = strchr(s, '/');
	if (slash &&
	    ((size_t)(slash - s) >= sizeof(e->ns) || strlen(slash + 1) >= sizeof(e->name))) {
		cfgp_err(d, n, path, "%s is too long", cfgp_quote(q, s));
		return;
	}
	if (!slash && strlen(s) >= sizeof(e->name)) {
		cfgp_err(d, n, path, "longer than %zu characters", sizeof(e->name) - 1);
		return;
	}
	if (slash) {
		memcpy(e->ns, s, (size_t)(slash - s));
		e->ns[slash - s] = '\0';
		strcpy(e->name, slash + 1);
		if ((why = cfgp_check_namespace(e->ns))) {
			char qn[CFGP_QUOTE_LEN];

			cfgp_err(d, n, path, "%s: %s %s", cfgp_quote(q, s), cfgp_quote(qn, e->ns),
				 why);
			return;
		}
	} else {
		strcpy(e->name, s);
	}
	if ((why = cfgp_check_name(e->name)))
		cfgp_err(d, n, path, "%s %s", cfgp_quote(q, s), why);
}

static void from_namespace(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	struct cfg_from *e = base;
	char q[CFGP_QUOTE_LEN];
	const char *s, *why;

	e->kind = CFG_FROM_NAMESPACE;
	if (!(s = cfgp_string(d, n, path)))
		return;
	if ((why = cfgp_check_namespace(s))) {
		cfgp_err(d, n, path, "%s %s", cfgp_quote(q, s), why);
		return;
	}
	strcpy(e->ns, s);
}

static const struct cfgp_field entry_fields[] = {
    F_FUNC("workload", from_workload),
    F_FUNC("service", from_service),
    F_FUNC("namespace", from_namespace),
    {0},
};

static void from_entry(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	int keys = 0;

	if (n->type != YAML_MAPPING_NODE) {
		from_workload(d, n, path, base);
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = cfgp_node(d, p->key);

		for (int i = 0; k->type == YAML_SCALAR_NODE && entry_fields[i].key; i++)
			keys += !strcmp((char *)k->data.scalar.value, entry_fields[i].key) &&
				!cfgp_is_null(cfgp_node(d, p->value));
	}
	if (keys > 1) {
		cfgp_err(d, n, path, "give one of workload, service and namespace, not %d", keys);
		return;
	}
	cfgp_walk(d, n, path, entry_fields, base);
	if (!keys)
		cfgp_err(d, n, path, "give one of workload, service and namespace");
}

static const struct cfgp_field from_item = {.type = CFGP_FUNC, .fn = from_entry};

static const struct cfgp_list from_list = {
    .item = &from_item,
    .elem = sizeof(struct cfg_from),
    .noun = "workloads",
    .max = CFGP_MAX_FROM,
    .scope = " per AccessPolicy",
};

static const struct cfgp_field spec_fields[] = {
    F_STR("service", struct cfg_access_policy, service, .required = true, .check = cfgp_check_ref),
    F_ENUM("action", struct cfg_access_policy, action, actions, .required = true),
    F_LIST("from", struct cfg_access_policy, entries, n_entries, &from_list),
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

	if (a->service[0])
		cfgp_add_ref(d, cfgp_get(d, spec, "service"), CFGP_REF_ACCESS_SERVICE, idx, 0);
	from = cfgp_get(d, spec, "from");
	for (i = 0; i < a->n_entries; i++) {
		struct cfg_from *e = &a->entries[i];

		bool named = e->kind == CFG_FROM_NAMESPACE ? e->ns[0] : e->name[0];

		if (e->kind != CFG_FROM_NAMESPACE && !e->ns[0])
			strcpy(e->ns, meta->ns);
		if (named)
			cfgp_add_ref(d, cfgp_node(d, from->data.sequence.items.start[i]),
				     CFGP_REF_ACCESS_FROM, idx, i);
	}
}
