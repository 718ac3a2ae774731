/* SPDX-License-Identifier: Apache-2.0 */
/* object.c: an API object normalised to the text the agent reads: kind and
 * apiVersion always present (a list's items come without them), no
 * managedFields (the server's bookkeeping, often half of an object). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/object.h"

void kobj_put(struct kobj *o)
{
	if (o && __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(o);
}

int kobj_key(char *buf, size_t len, bool namespaced, const char *ns, const char *name)
{
	int n = namespaced ? snprintf(buf, len, "%s/%s", ns, name) : snprintf(buf, len, "%s", name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static const char *meta_string(struct json_object *meta, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(meta, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* kind and apiVersion: set when missing, left as the server wrote them */
static int ensure_string(struct json_object *o, const char *key, const char *val)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return 0;
	v = json_object_new_string(val);
	return v ? json_object_object_add(o, key, v) : -1;
}

struct kobj *kobj_from_json(struct json_object *o, const struct kobj_type *t, size_t max_bytes,
			    bool *too_big, char *err, size_t err_len)
{
	struct json_object *meta;
	const char *name, *ns, *rv, *text;
	size_t text_len, sz, off = 0, key_len;
	struct kobj *k;
	char *p;

	*too_big = false;
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "metadata", &meta) ||
	    !json_object_is_type(meta, json_type_object)) {
		snprintf(err, err_len, "%s: an object without metadata", t->kind);
		return NULL;
	}
	name = meta_string(meta, "name");
	ns = meta_string(meta, "namespace");
	rv = meta_string(meta, "resourceVersion");
	if (!name || !*name) {
		snprintf(err, err_len, "%s: an object without metadata.name", t->kind);
		return NULL;
	}
	if (!t->namespaced)
		ns = "";
	else if (!ns || !*ns) {
		snprintf(err, err_len, "%s %s: a namespaced object without metadata.namespace",
			 t->kind, name);
		return NULL;
	}
	if (!rv)
		rv = "";
	json_object_object_del(meta, "managedFields");
	if (ensure_string(o, "kind", t->kind) || ensure_string(o, "apiVersion", t->api_version)) {
		snprintf(err, err_len, "%s %s: out of memory", t->kind, name);
		return NULL;
	}
	text = json_object_to_json_string_length(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &text_len);
	if (!text) {
		snprintf(err, err_len, "%s %s: out of memory", t->kind, name);
		return NULL;
	}
	if (text_len > max_bytes) {
		*too_big = true;
		snprintf(err, err_len, "%s %s%s%s: %zu bytes, more than the bound of %zu", t->kind,
			 ns, *ns ? "/" : "", name, text_len, max_bytes);
		return NULL;
	}
	/* name and namespace are copied before the text: they point into o */
	key_len = strlen(ns) + 1 + strlen(name) + 1;
	/* kind and apiVersion too: a snapshot may outlive the client */
	sz = sizeof(*k) + key_len + strlen(ns) + 1 + strlen(name) + 1 + strlen(rv) + 1 +
	     strlen(t->kind) + 1 + strlen(t->api_version) + 1 + text_len + 1;
	k = malloc(sz);
	if (!k) {
		snprintf(err, err_len, "%s %s: out of memory", t->kind, name);
		return NULL;
	}
	p = k->data;
	k->refs = 1;
	k->size = sz;
#define COPY(dst, s)                                                                               \
	do {                                                                                       \
		size_t l_ = strlen(s) + 1;                                                         \
		memcpy(p + off, s, l_);                                                            \
		(dst) = p + off;                                                                   \
		off += l_;                                                                         \
	} while (0)
	kobj_key(p, key_len, t->namespaced, ns, name);
	k->key = p;
	off = strlen(p) + 1;
	COPY(k->pub.ns, ns);
	COPY(k->pub.name, name);
	COPY(k->pub.resource_version, rv);
	COPY(k->pub.kind, t->kind);
	COPY(k->pub.api_version, t->api_version);
#undef COPY
	memcpy(p + off, text, text_len + 1);
	k->pub.json = p + off;
	k->pub.json_len = text_len;
	k->pub.resource = t->resource;
	return k;
}
