/* SPDX-License-Identifier: Apache-2.0 */
/* store.h: the current objects of every watched resource, the generation
 * that counts their changes, and the snapshots the agent reads. The client
 * thread writes, the agent's thread reads: one mutex guards it all, held for
 * pointer work only. */
#ifndef BPFMESH_KUBE_STORE_H
#define BPFMESH_KUBE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/client.h"
#include "kube/object.h"

struct kstore_limits {
	size_t max_objects;	/* per resource */
	size_t max_total_bytes; /* all objects' allocations together */
};

struct kstore;

struct kstore *kstore_new(unsigned n_res, const struct kstore_limits *lim);
void kstore_free(struct kstore *st);

/* ADDED or MODIFIED: o replaces the object of its key. Takes o's reference
 * in every case. 0; 1 when the stored object has o's resourceVersion already
 * (nothing changed); -ENOSPC when a bound refuses it (the old one, if any,
 * stays). */
int kstore_put(struct kstore *st, struct kobj *o);

/* DELETED: 0, or -ENOENT when no object has that key. */
int kstore_delete(struct kstore *st, unsigned res, const char *key);

/* A complete list: the resource's objects become objs[0..n) (the references
 * are taken) and the resource counts as synced. n = 0 empties it (a resource
 * found absent). Returns how many objects a bound refused. A list equal to
 * what is stored (same keys, same resourceVersions) changes nothing. */
size_t kstore_replace(struct kstore *st, unsigned res, struct kobj **objs, size_t n);

/* Ends a batch of changes: when anything changed since the last call, the
 * generation grows and true is returned (the client then signals). */
bool kstore_publish(struct kstore *st);

uint64_t kstore_generation(struct kstore *st);

/* The objects and bytes of one resource. */
void kstore_counts(struct kstore *st, unsigned res, size_t *objects, size_t *bytes);

/* The objects as of now, sorted; the cached one while the generation stands. */
struct kube_snapshot *kstore_snapshot(struct kstore *st);

#endif
