/* SPDX-License-Identifier: Apache-2.0 */
/* config_document.c: the envelope every object shares (apiVersion, kind,
 * metadata, spec), `kind: List`, names and their precedence between sources,
 * and the hand-off to the kind's own reader: a bpfmesh.io kind's, or a core
 * Kubernetes kind's (config_k8s_*.c). Other Kubernetes kinds are skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_k8s.h"

#define API_VERSION "bpfmesh.io/v1alpha1"

enum kind { K_NONE, K_SERVICE, K_POLICY, K_WORKLOAD, K_ACCESS, K_TELEMETRY };

static const char *const kind_names[] = {
    [K_SERVICE] = "Service",	 [K_POLICY] = "TrafficPolicy", [K_WORKLOAD] = "Workload",
    [K_ACCESS] = "AccessPolicy", [K_TELEMETRY] = "Telemetry",
};

/* The core kinds bpfmesh reads, by apiVersion and kind. */
static const struct core_kind {
	const char *api, *kind;
	void (*read)(struct cfgp_doc *d, yaml_node_t *root, struct cfgp_env *env);
	bool namespaced;
} core_kinds[] = {
    {"v1", "Service", cfgp_k8s_service, true},
    {"discovery.k8s.io/v1", "EndpointSlice", cfgp_k8s_slice, true},
    {"v1", "Pod", cfgp_k8s_pod, true},
    {"apps/v1", "ReplicaSet", cfgp_k8s_replicaset, true},
    {"v1", "Namespace", cfgp_k8s_namespace, false},
};

static void env_api(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	(void)d, (void)path;
	((struct cfgp_env *)base)->api = n;
}

static void env_kind(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	if (n->type != YAML_SCALAR_NODE) {
		cfgp_err(d, n, path, "expected a string");
		return;
	}
	((struct cfgp_env *)base)->kind = n;
}

static void env_metadata(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	struct cfgp_env *env = base;

	env->metadata = n;
	cfgp_walk(d, n, path, cfgp_meta_fields, env);
	env->name = cfgp_get(d, n, "name");
}

static void env_spec(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	if (n->type != YAML_MAPPING_NODE) {
		cfgp_err(d, n, path, "expected a mapping");
		return;
	}
	((struct cfgp_env *)base)->spec = n;
}

/* status: what a controller reports; kubectl writes it out, nobody edits it. */
static const struct cfgp_field env_fields[] = {
    F_FUNC("apiVersion", env_api),
    F_FUNC("kind", env_kind, .required = true),
    F_FUNC("metadata", env_metadata, .required = true),
    F_FUNC("spec", env_spec, .required = true),
    F_FUNC("status", cfgp_ignore),
    {0},
};

static enum kind check_kind(struct cfgp_doc *d, yaml_node_t *n)
{
	char q[CFGP_QUOTE_LEN];
	const char *s = cfgp_string(d, n, "kind");
	int k;

	if (!s)
		return K_NONE;
	for (k = K_SERVICE; k <= K_TELEMETRY; k++)
		if (!strcmp(s, kind_names[k]))
			return (enum kind)k;
	cfgp_err(d, n, "kind",
		 "unknown kind %s (expected Service, TrafficPolicy, Workload, AccessPolicy or "
		 "Telemetry)",
		 cfgp_quote(q, s));
	return K_NONE;
}

static const struct cfg_meta *meta_of(const struct mesh_config *cfg, const char *kind, int i)
{
	if (!strcmp(kind, "Service"))
		return i < cfg->n_services ? &cfg->services[i].meta : NULL;
	if (!strcmp(kind, "TrafficPolicy"))
		return i < cfg->n_policies ? &cfg->policies[i].meta : NULL;
	if (!strcmp(kind, "Workload"))
		return i < cfg->n_workloads ? &cfg->workloads[i].meta : NULL;
	if (!strcmp(kind, "AccessPolicy"))
		return i < cfg->n_access ? &cfg->access[i].meta : NULL;
	return NULL;
}

static int count_of(const struct mesh_config *cfg, enum kind k)
{
	switch (k) {
	case K_SERVICE:
		return cfg->n_services;
	case K_POLICY:
		return cfg->n_policies;
	case K_WORKLOAD:
		return cfg->n_workloads;
	case K_ACCESS:
		return cfg->n_access;
	default:
		return 0;
	}
}

/* Keys of the name index: "Service/ns/name" (names and namespaces have no
 * '/'). */
static void name_key(char *buf, size_t len, const char *kind, const char *ns, const char *name)
{
	snprintf(buf, len, "%s/%s/%s", kind, ns, name);
}

int cfgp_find(const struct cfgp_loader *ld, const char *kind, const char *ns, const char *name)
{
	char key[3 * CFG_NAME_MAX];
	uint32_t i;

	name_key(key, sizeof(key), kind, ns, name);
	return strmap_get(&ld->names, key, &i) ? (int)i : -1;
}

int cfgp_rank(const struct cfg_origin *o) { return (o->discovered ? 2 : 0) + (o->memory ? 1 : 0); }

const char *cfgp_rank_name(const struct cfg_origin *o)
{
	static const char *const names[] = {"file", "custom resource",
					    "Kubernetes object of a file", "Kubernetes object"};

	return names[cfgp_rank(o)];
}

/* Names are unique per kind and namespace, as in Kubernetes. One hash lookup
 * per object. */
enum cfgp_claim cfgp_claim(struct cfgp_loader *ld, const char *kind, const struct cfg_meta *meta,
			   int idx, struct cfgp_mark at, const char *path)
{
	const struct cfg_meta *m;
	char q[CFGP_QUOTE_LEN], full[2 * CFG_NAME_MAX], key[3 * CFG_NAME_MAX];
	int i = cfgp_find(ld, kind, meta->ns, meta->name);

	if (i < 0) {
		name_key(key, sizeof(key), kind, meta->ns, meta->name);
		if (strmap_put(&ld->names, key, (uint32_t)idx))
			ld->oom = true;
		return CFGP_CLAIMED;
	}
	m = meta_of(ld->cfg, kind, i);
	if (!m)
		return CFGP_DUPLICATE;
	snprintf(full, sizeof(full), "%s/%s", m->ns, m->name);
	if (cfgp_rank(&m->origin) >= cfgp_rank(&meta->origin)) {
		cfgp_err_at(ld, at, path, "duplicate %s %s (first defined at %s:%d:%d)", kind,
			    cfgp_quote(q, full), m->origin.file, m->origin.line, m->origin.column);
		return CFGP_DUPLICATE;
	}
	cfgp_warn_at(ld, at, path,
		     "%s %s is also defined at %s:%d:%d (%s), which wins over this %s", kind,
		     cfgp_quote(q, full), m->origin.file, m->origin.line, m->origin.column,
		     cfgp_rank_name(&m->origin), cfgp_rank_name(&meta->origin));
	cfgp_skip(ld, kind, meta->ns, meta->name,
		  (struct cfgp_mark){.file = at.file,
				     .obj = at.obj,
				     .line = meta->origin.line,
				     .column = meta->origin.column},
		  "overridden by the %s at %s:%d:%d", cfgp_rank_name(&m->origin), m->origin.file,
		  m->origin.line, m->origin.column);
	return CFGP_OVERRIDDEN;
}

/* The document about to be added gets the next index of its kind (every
 * document of a kind is added, even with errors, unless another source's
 * wins). */
static enum cfgp_claim check_duplicate(struct cfgp_doc *d, enum kind k, const struct cfgp_env *env)
{
	if (!env->meta.name[0] || !env->name)
		return CFGP_CLAIMED;
	return cfgp_claim(d->ld, kind_names[k], &env->meta, count_of(d->ld->cfg, k),
			  cfgp_mark_of(d, env->name), "metadata.name");
}

static void telemetry(struct cfgp_doc *d, const struct cfgp_env *env)
{
	struct mesh_config *cfg = d->ld->cfg;
	const struct cfg_origin *first;
	struct cfg_telemetry *t;

	/* one Telemetry: a file's wins over a custom resource */
	if (cfg->telemetry &&
	    cfgp_rank(&cfg->telemetry->meta.origin) < cfgp_rank(&env->meta.origin)) {
		first = &cfg->telemetry->meta.origin;
		cfgp_warn_at(
		    d->ld, cfgp_mark_of(d, env->kind), "kind",
		    "only one Telemetry applies: the one at %s:%d:%d (%s) wins over this %s",
		    first->file, first->line, first->column, cfgp_rank_name(first),
		    cfgp_rank_name(&env->meta.origin));
		cfgp_skip(d->ld, "Telemetry", env->meta.ns, env->meta.name, d->ld->objs[d->obj].at,
			  "overridden by the %s at %s:%d:%d", cfgp_rank_name(first), first->file,
			  first->line, first->column);
		return;
	}
	t = cfgp_telemetry(d, env->spec, &env->meta);
	if (!t)
		return;
	if (!cfg->telemetry) {
		cfg->telemetry = t;
		return;
	}
	/* Checked in full all the same, so a second fix-up round is not needed. */
	first = &cfg->telemetry->meta.origin;
	cfgp_err(d, env->kind, "kind", "only one Telemetry document is allowed (first at %s:%d:%d)",
		 first->file, first->line, first->column);
	cfgp_telemetry_free(t);
}

static void name_object(struct cfgp_doc *d, const char *kind, const struct cfg_meta *meta)
{
	struct cfgp_obj *o = &d->ld->objs[d->obj];

	snprintf(o->kind, sizeof(o->kind), "%s", kind);
	snprintf(o->ns, sizeof(o->ns), "%s", meta->ns);
	snprintf(o->name, sizeof(o->name), "%s", meta->name);
}

static void start_meta(struct cfgp_doc *d, yaml_node_t *root, struct cfgp_env *env, bool core,
		       bool namespaced)
{
	struct cfgp_mark at = cfgp_mark_of(d, root);

	if (namespaced)
		strcpy(env->meta.ns, "default");
	snprintf(env->meta.origin.file, sizeof(env->meta.origin.file), "%s",
		 cfgp_src_name(d->ld, d->file));
	env->meta.origin.line = at.line;
	env->meta.origin.column = at.column;
	env->meta.origin.memory = d->ld->run->srcs[d->file].memory;
	env->meta.origin.discovered = core;
}

static void bpfmesh_object(struct cfgp_doc *d, yaml_node_t *root)
{
	struct cfgp_env env = {0};
	enum kind k = K_NONE;

	start_meta(d, root, &env, false, true);
	cfgp_walk(d, root, "", env_fields, &env);
	if (!env.api || env.api->type != YAML_SCALAR_NODE ||
	    strcmp((char *)env.api->data.scalar.value, API_VERSION))
		cfgp_err(d, env.api ? env.api : root, "apiVersion", "must be \"" API_VERSION "\"");
	if (env.kind)
		k = check_kind(d, env.kind);
	name_object(d, k != K_NONE ? kind_names[k] : "", &env.meta);

	/* An object whose spec is missing or wrong is still registered, so that
	 * documents referring to it do not report a second, misleading error. */
	if (k != K_TELEMETRY && k != K_NONE && check_duplicate(d, k, &env) == CFGP_OVERRIDDEN)
		k = K_NONE;
	switch (k) {
	case K_SERVICE:
		cfgp_service(d, env.spec, &env.meta);
		break;
	case K_POLICY:
		cfgp_traffic_policy(d, env.spec, &env.meta);
		break;
	case K_WORKLOAD:
		cfgp_workload(d, env.spec, &env.meta);
		break;
	case K_ACCESS:
		cfgp_access_policy(d, env.spec, &env.meta);
		break;
	case K_TELEMETRY:
		telemetry(d, &env);
		break;
	case K_NONE:
		break;
	}
	cfgp_env_free(&env);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool is_bpfmesh_kind(const char *s)
{
	for (int k = K_SERVICE; k <= K_TELEMETRY; k++)
		if (!strcmp(s, kind_names[k]))
			return true;
	return false;
}

/* A core kind is read; any other Kubernetes kind (a Deployment, a ConfigMap
 * of `kubectl get all -o yaml`) is skipped, by name. */
static void core_object(struct cfgp_doc *d, yaml_node_t *root, const char *api, yaml_node_t *kind)
{
	const struct core_kind *ck = NULL;
	struct cfgp_env env = {.keep = true};
	yaml_node_t *md;
	const char *k;
	size_t i;

	if (!kind) {
		cfgp_err(d, root, "kind", "required field is missing");
		return;
	}
	if (!(k = cfgp_string(d, kind, "kind")))
		return;
	for (i = 0; i < sizeof(core_kinds) / sizeof(core_kinds[0]); i++)
		if (!strcmp(core_kinds[i].api, api) && !strcmp(core_kinds[i].kind, k))
			ck = &core_kinds[i];
	start_meta(d, root, &env, true, !ck || ck->namespaced);
	md = cfgp_get(d, root, "metadata");
	if (!ck) {
		struct cfgp_mark at = cfgp_mark_of(d, root);
		const char *name = scalar(cfgp_get(d, md, "name"));
		const char *ns = scalar(cfgp_get(d, md, "namespace"));

		snprintf(env.meta.name, sizeof(env.meta.name), "%s", name ? name : "");
		snprintf(env.meta.ns, sizeof(env.meta.ns), "%s", ns ? ns : "");
		name_object(d, k, &env.meta);
		cfgp_skip(d->ld, k, env.meta.ns, env.meta.name, at, "%s %s is not read by bpfmesh",
			  api, k);
		return;
	}
	if (!md || cfgp_is_null(md))
		cfgp_err(d, root, "metadata", "required field is missing");
	else
		env_metadata(d, md, "metadata", &env);
	name_object(d, k, &env.meta);
	if (!env.meta.name[0]) {
		cfgp_env_free(&env);
		return;
	}
	ck->read(d, root, &env);
	cfgp_env_free(&env);
}

static void object(struct cfgp_doc *d, yaml_node_t *root)
{
	yaml_node_t *api_n, *kind_n;
	const char *api, *kind;

	if (root->type != YAML_MAPPING_NODE) {
		cfgp_err(d, root, NULL, "expected a mapping");
		return;
	}
	api_n = cfgp_get(d, root, "apiVersion");
	kind_n = cfgp_get(d, root, "kind");
	api = scalar(api_n);
	kind = scalar(kind_n);
	if (api && !strcmp(api, "v1") && kind && !strcmp(kind, "Service"))
		core_object(d, root, api, kind_n);
	else if (api && strncmp(api, "bpfmesh.io/", 11) && !(kind && is_bpfmesh_kind(kind)))
		core_object(d, root, api, kind_n);
	else
		bpfmesh_object(d, root);
}

static int new_object(struct cfgp_doc *d, int doc, int item, const yaml_node_t *n)
{
	struct cfgp_loader *ld = d->ld;
	struct cfgp_obj *o = cfgp_grow(ld, ld->objs, ld->n_objs, &ld->cap_objs, sizeof(*o));

	if (!o)
		return -1;
	ld->objs = o;
	o = &o[ld->n_objs];
	memset(o, 0, sizeof(*o));
	o->src = d->file;
	o->doc = doc;
	o->item = item;
	d->obj = -1;
	o->at = cfgp_mark_of(d, n);
	o->at.obj = ld->n_objs;
	return ld->n_objs++;
}

static const struct cfgp_field list_fields[] = {
    F_FUNC("apiVersion", cfgp_ignore),
    F_FUNC("kind", cfgp_ignore),
    F_FUNC("metadata", cfgp_ignore),
    F_FUNC("items", cfgp_ignore, .required = true),
    {0},
};

/* kubectl's `kind: List`: each item is an object of its own, left out on
 * its own. */
static void list(struct cfgp_doc *d, yaml_node_t *root, int doc)
{
	yaml_node_t *api = cfgp_get(d, root, "apiVersion"), *items, *item;
	int i, n, list_obj = d->obj;

	cfgp_walk(d, root, "", list_fields, NULL);
	snprintf(d->ld->objs[list_obj].kind, sizeof(d->ld->objs[list_obj].kind), "List");
	if (!scalar(api) || strcmp(scalar(api), "v1"))
		cfgp_err(d, api ? api : root, "apiVersion", "must be \"v1\" for a List");
	items = cfgp_get(d, root, "items");
	if (!items || cfgp_is_null(items))
		return;
	if (items->type != YAML_SEQUENCE_NODE) {
		cfgp_err(d, items, "items", "expected a sequence");
		return;
	}
	n = (int)(items->data.sequence.items.top - items->data.sequence.items.start);
	if (n > CFGP_MAX_ITEMS) {
		cfgp_err(d, items, "items", "%d items exceed the limit of %d per List", n,
			 CFGP_MAX_ITEMS);
		return;
	}
	for (i = 0; i < n && !d->ld->oom; i++) {
		item = cfgp_node(d, items->data.sequence.items.start[i]);
		if ((d->obj = new_object(d, doc, i, item)) < 0)
			break;
		if (cfgp_left_out(d->ld, d->file, doc, i))
			continue;
		if (item->type == YAML_MAPPING_NODE && scalar(cfgp_get(d, item, "kind")) &&
		    !strcmp(scalar(cfgp_get(d, item, "kind")), "List")) {
			snprintf(d->ld->objs[d->obj].kind, sizeof(d->ld->objs[d->obj].kind),
				 "List");
			cfgp_err(d, item, "kind", "a List inside a List is not read");
		} else
			object(d, item);
	}
	d->obj = list_obj;
}

void cfgp_document(struct cfgp_doc *d, yaml_node_t *root, int doc)
{
	const char *kind;

	if ((d->obj = new_object(d, doc, -1, root)) < 0)
		return;
	if (cfgp_left_out(d->ld, d->file, doc, -1))
		return;
	kind = root->type == YAML_MAPPING_NODE ? scalar(cfgp_get(d, root, "kind")) : NULL;
	if (kind && !strcmp(kind, "List"))
		list(d, root, doc);
	else
		object(d, root);
	d->obj = -1;
}
