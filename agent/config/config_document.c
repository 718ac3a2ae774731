/* SPDX-License-Identifier: Apache-2.0 */
/* config_document.c: the envelope every document shares (apiVersion, kind,
 * metadata, spec), name rules and duplicates, and the hand-off to the kind's
 * own parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

#define API_VERSION "bpfmesh.io/v1alpha1"

enum kind { K_NONE, K_SERVICE, K_POLICY, K_WORKLOAD, K_ACCESS, K_TELEMETRY };

static const char *const kind_names[] = {
    [K_SERVICE] = "Service",	 [K_POLICY] = "TrafficPolicy", [K_WORKLOAD] = "Workload",
    [K_ACCESS] = "AccessPolicy", [K_TELEMETRY] = "Telemetry",
};

/* What the envelope walk collects before the kind is known. */
struct envelope {
	yaml_node_t *api, *kind, *metadata, *spec;
	struct cfg_meta meta;
};

static bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most max characters. */
static bool is_label(const char *s, size_t len, size_t max)
{
	size_t i;

	if (!len || len > max || !lower_alnum(s[0]) || !lower_alnum(s[len - 1]))
		return false;
	for (i = 0; i < len; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* RFC 1123 subdomain, as Kubernetes checks object names: dot-separated labels. */
static const char *check_name(const char *s)
{
	const char *dot;

	for (;;) {
		dot = strchr(s, '.');
		if (!is_label(s, dot ? (size_t)(dot - s) : strlen(s), 63))
			return "is not a valid name (RFC 1123: lowercase letters, digits, '-' and "
			       "'.', starting and ending with a letter or digit)";
		if (!dot)
			return NULL;
		s = dot + 1;
	}
}

static const char *check_namespace(const char *s)
{
	if (!is_label(s, strlen(s), 63))
		return "is not a valid namespace (RFC 1123 label: at most 63 lowercase letters, "
		       "digits and '-', starting and ending with a letter or digit)";
	return NULL;
}

/* labels and annotations are accepted for tooling and otherwise ignored;
 * a key given twice is an error there too (Kubernetes refuses it). */
static void string_map(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	char sub[CFGP_PATH_LEN];
	struct strmap seen = {0};
	yaml_node_pair_t *p;
	yaml_node_t *k, *v;

	(void)base;
	if (n->type != YAML_MAPPING_NODE) {
		cfgp_err(d, n, path, "expected a mapping");
		return;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		k = cfgp_node(d, p->key);
		v = cfgp_node(d, p->value);
		if (k->type != YAML_SCALAR_NODE) {
			cfgp_err(d, k, path, "mapping keys must be strings");
			continue;
		}
		cfgp_join(sub, path, (char *)k->data.scalar.value);
		if (strmap_get(&seen, (char *)k->data.scalar.value, NULL))
			cfgp_err(d, k, sub, "duplicate key");
		else if (strmap_put(&seen, (char *)k->data.scalar.value, 0))
			d->ld->oom = true;
		if (v->type != YAML_SCALAR_NODE)
			cfgp_err(d, v, sub, "expected a string");
	}
	strmap_free(&seen);
}

static const struct cfgp_field meta_fields[] = {
    F_STR("name", struct cfg_meta, name, .required = true, .check = check_name),
    F_STR("namespace", struct cfg_meta, ns, .check = check_namespace),
    F_FUNC("labels", string_map),
    F_FUNC("annotations", string_map),
    {0},
};

static void env_api(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	(void)d, (void)path;
	((struct envelope *)base)->api = n;
}

static void env_kind(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	if (n->type != YAML_SCALAR_NODE) {
		cfgp_err(d, n, path, "expected a string");
		return;
	}
	((struct envelope *)base)->kind = n;
}

static void env_metadata(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	struct envelope *env = base;

	env->metadata = n;
	cfgp_walk(d, n, path, meta_fields, &env->meta);
}

static void env_spec(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	if (n->type != YAML_MAPPING_NODE) {
		cfgp_err(d, n, path, "expected a mapping");
		return;
	}
	((struct envelope *)base)->spec = n;
}

static const struct cfgp_field env_fields[] = {
    F_FUNC("apiVersion", env_api),
    F_FUNC("kind", env_kind, .required = true),
    F_FUNC("metadata", env_metadata, .required = true),
    F_FUNC("spec", env_spec, .required = true),
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

static const struct cfg_meta *meta_at(const struct mesh_config *cfg, enum kind k, int i)
{
	switch (k) {
	case K_SERVICE:
		return i < cfg->n_services ? &cfg->services[i].meta : NULL;
	case K_POLICY:
		return i < cfg->n_policies ? &cfg->policies[i].meta : NULL;
	case K_WORKLOAD:
		return i < cfg->n_workloads ? &cfg->workloads[i].meta : NULL;
	case K_ACCESS:
		return i < cfg->n_access ? &cfg->access[i].meta : NULL;
	default:
		return NULL;
	}
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

/* Names are unique per kind and namespace, as in Kubernetes. The document
 * about to be added gets the next index of its kind (every document of a
 * kind is added, even with errors). One hash lookup per document. */
static void check_duplicate(struct cfgp_doc *d, enum kind k, const struct envelope *env)
{
	const struct cfg_meta *m;
	char q[CFGP_QUOTE_LEN], full[2 * CFG_NAME_MAX], key[3 * CFG_NAME_MAX];
	yaml_node_t *name = cfgp_get(d, env->metadata, "name");
	int i;

	if (!env->meta.name[0] || !name)
		return;
	i = cfgp_find(d->ld, kind_names[k], env->meta.ns, env->meta.name);
	if (i < 0) {
		name_key(key, sizeof(key), kind_names[k], env->meta.ns, env->meta.name);
		if (strmap_put(&d->ld->names, key, (uint32_t)count_of(d->ld->cfg, k)))
			d->ld->oom = true;
		return;
	}
	m = meta_at(d->ld->cfg, k, i);
	if (!m)
		return;
	snprintf(full, sizeof(full), "%s/%s", m->ns, m->name);
	cfgp_err(d, name, "metadata.name", "duplicate %s %s (first defined at %s:%d:%d)",
		 kind_names[k], cfgp_quote(q, full), m->origin.file, m->origin.line,
		 m->origin.column);
}

static void telemetry(struct cfgp_doc *d, const struct envelope *env)
{
	struct mesh_config *cfg = d->ld->cfg;
	struct cfg_telemetry *t = cfgp_telemetry(d, env->spec, &env->meta);
	const struct cfg_origin *first;

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

void cfgp_document(struct cfgp_doc *d, yaml_node_t *root)
{
	struct envelope env = {0};
	struct cfgp_mark at;
	enum kind k = K_NONE;

	if (root->type != YAML_MAPPING_NODE) {
		cfgp_err(d, root, NULL, "expected a mapping");
		return;
	}
	at = cfgp_mark_of(d, root);
	strcpy(env.meta.ns, "default");
	strcpy(env.meta.origin.file, d->ld->cfg->files[d->file]);
	env.meta.origin.line = at.line;
	env.meta.origin.column = at.column;

	cfgp_walk(d, root, "", env_fields, &env);
	if (!env.api || env.api->type != YAML_SCALAR_NODE ||
	    strcmp((char *)env.api->data.scalar.value, API_VERSION))
		cfgp_err(d, env.api ? env.api : root, "apiVersion", "must be \"" API_VERSION "\"");
	if (env.kind)
		k = check_kind(d, env.kind);

	/* An object whose spec is missing or wrong is still registered, so that
	 * documents referring to it do not report a second, misleading error. */
	if (k != K_TELEMETRY && k != K_NONE)
		check_duplicate(d, k, &env);
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
}
