/* SPDX-License-Identifier: Apache-2.0 */
/* object.h: one API object as the client keeps it: its JSON text and the
 * metadata that key it, immutable and refcounted, so a snapshot is a list of
 * pointers and a change copies one object, not all of them. */
#ifndef BPFMESH_KUBE_OBJECT_H
#define BPFMESH_KUBE_OBJECT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube/client.h"

/* what a resource's objects are: set on each, checked against each */
struct kobj_type {
	unsigned resource; /* index in the client's resources */
	const char *kind;
	const char *api_version;
	bool namespaced;
};

struct kobj {
	int refs;	 /* atomic: the store and snapshots on two threads */
	size_t size;	 /* the allocation, for the byte bounds */
	const char *key; /* "namespace/name", or "name" when cluster-scoped */
	struct kube_object pub;
	char data[]; /* the strings pub and key point into */
};

/* The object `o` of type t (a list item or a watch event's object, modified
 * here: metadata.managedFields removed, kind and apiVersion added when
 * missing). NULL with the reason in err: no metadata.name, a namespaced
 * object without namespace, text over max_bytes (*too_big set), or no
 * memory. */
struct kobj *kobj_from_json(struct json_object *o, const struct kobj_type *t, size_t max_bytes,
			    bool *too_big, char *err, size_t err_len);

static inline struct kobj *kobj_get(struct kobj *o)
{
	__atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
	return o;
}

void kobj_put(struct kobj *o);

/* The store's key of an object: "ns/name" or "name"; -1 if it does not fit. */
int kobj_key(char *buf, size_t len, bool namespaced, const char *ns, const char *name);

#endif
