/* SPDX-License-Identifier: Apache-2.0 */
/* config_meta.c: metadata, as every object has it: name rules, labels and
 * annotations, owner references, and the fields the API server fills in
 * (uid, resourceVersion, managedFields, ...), which `kubectl get -o yaml`
 * writes out and bpfmesh accepts unread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_k8s.h"

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
const char *cfgp_check_name(const char *s)
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

const char *cfgp_check_namespace(const char *s)
{
	if (!is_label(s, strlen(s), 63))
		return "is not a valid namespace (RFC 1123 label: at most 63 lowercase letters, "
		       "digits and '-', starting and ending with a letter or digit)";
	return NULL;
}

void cfgp_kv_free(struct cfgp_kv *kv, int n)
{
	for (int i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].val);
	}
	free(kv);
}

/* A key given twice is an error (Kubernetes refuses it). With kv, the pairs
 * are kept, at most CFGP_MAX_LABELS of them. */
void cfgp_string_map(struct cfgp_doc *d, yaml_node_t *n, const char *path, struct cfgp_kv **kv,
		     int *cnt)
{
	char sub[CFGP_PATH_LEN];
	struct strmap seen = {0};
	yaml_node_pair_t *p;
	yaml_node_t *k, *v;
	int pairs;

	if (n->type != YAML_MAPPING_NODE) {
		cfgp_err(d, n, path, "expected a mapping");
		return;
	}
	pairs = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (kv && pairs > CFGP_MAX_LABELS) {
		cfgp_err(d, n, path, "%d labels exceed the limit of %d", pairs, CFGP_MAX_LABELS);
		return;
	}
	if (kv && pairs && !(*kv = calloc((size_t)pairs, sizeof(**kv)))) {
		d->ld->oom = true;
		return;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const char *val;

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
		if (v->type != YAML_SCALAR_NODE) {
			cfgp_err(d, v, sub, "expected a string");
			continue;
		}
		if (!kv)
			continue;
		/* `app: ""` and `app:` are the same empty label */
		val = cfgp_is_null(v) ? "" : (const char *)v->data.scalar.value;
		(*kv)[*cnt].key = strdup((char *)k->data.scalar.value);
		(*kv)[*cnt].val = strdup(val);
		if (!(*kv)[*cnt].key || !(*kv)[*cnt].val)
			d->ld->oom = true;
		(*cnt)++;
	}
	strmap_free(&seen);
}

const char *cfgp_label(const struct cfgp_kv *labels, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(labels[i].key, key))
			return labels[i].val;
	return NULL;
}

bool cfgp_selects(const struct cfgp_kv *sel, int n_sel, const struct cfgp_kv *labels, int n)
{
	const char *v;

	if (!n_sel)
		return false;
	for (int i = 0; i < n_sel; i++)
		if (!(v = cfgp_label(labels, n, sel[i].key)) || strcmp(v, sel[i].val))
			return false;
	return true;
}

static void labels(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	struct cfgp_env *env = base;

	if (env->keep)
		cfgp_string_map(d, n, path, &env->labels, &env->n_labels);
	else
		cfgp_string_map(d, n, path, NULL, NULL);
}

static void annotations(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	(void)base;
	cfgp_string_map(d, n, path, NULL, NULL);
}

static const struct cfgp_field owner_fields[] = {
    F_STR("kind", struct cfgp_owner, kind, .required = true),
    F_STR("name", struct cfgp_owner, name, .required = true),
    F_BOOL("controller", struct cfgp_owner, controller),
    F_ANY, /* apiVersion, uid, blockOwnerDeletion */
    {0},
};

static const struct cfgp_field owner_item = F_GROUP(NULL, owner_fields);

static const struct cfgp_list owner_list = {
    .item = &owner_item,
    .elem = sizeof(struct cfgp_owner),
    .max = CFGP_MAX_OWNERS,
    .noun = "owner references",
};

/* Names are checked as Kubernetes checks them; the rest of what the API
 * server writes is accepted unread. */
const struct cfgp_field cfgp_meta_fields[] = {
    F_STR("name", struct cfgp_env, meta.name, .required = true, .check = cfgp_check_name),
    F_STR("namespace", struct cfgp_env, meta.ns, .check = cfgp_check_namespace),
    F_FUNC("labels", labels),
    F_FUNC("annotations", annotations),
    F_STR("uid", struct cfgp_env, uid),
    F_LIST("ownerReferences", struct cfgp_env, owners, n_owners, &owner_list),
    F_FUNC("resourceVersion", cfgp_ignore),
    F_FUNC("generation", cfgp_ignore),
    F_FUNC("creationTimestamp", cfgp_ignore),
    F_FUNC("deletionTimestamp", cfgp_ignore),
    F_FUNC("deletionGracePeriodSeconds", cfgp_ignore),
    F_FUNC("generateName", cfgp_ignore),
    F_FUNC("selfLink", cfgp_ignore),
    F_FUNC("managedFields", cfgp_ignore),
    F_FUNC("finalizers", cfgp_ignore),
    {0},
};

void cfgp_env_free(struct cfgp_env *env)
{
	cfgp_kv_free(env->labels, env->n_labels);
	free(env->owners);
	env->labels = NULL;
	env->owners = NULL;
	env->n_labels = env->n_owners = 0;
}
