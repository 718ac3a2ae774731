/* SPDX-License-Identifier: Apache-2.0 */
/* mx_cache.h: the series a span's labels led to last time, by those labels:
 * a bounded, direct-mapped table in front of the registry's key map, so
 * that the spans of a busy series (nearly all of them) cost one key, one
 * hash and one compare instead of building and looking up four keys. A
 * slot holds one entry; a new entry for a slot evicts the old one. It only
 * remembers indices, which the registry never moves nor reuses (series are
 * not deleted), so a stale entry cannot point at another series. */
#ifndef BPFMESH_MX_CACHE_H
#define BPFMESH_MX_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MX_CACHE_SLOTS 64    /* a power of two */
#define MX_CACHE_KEY_MAX 512 /* longer keys are not cached */

/* Where a span's labels lead: its service, its duration histogram, its
 * route and (CLIENT spans with a peer) its endpoint; -1: none. */
struct mx_cache_val {
	int32_t svc, hist, route, ep;
};

struct mx_cache_slot {
	uint64_t hash;
	uint16_t len; /* 0: empty */
	struct mx_cache_val val;
	char key[MX_CACHE_KEY_MAX];
};

struct mx_cache {
	struct mx_cache_slot *slots; /* MX_CACHE_SLOTS, NULL: no cache (out of memory) */
	uint64_t hits, misses;
};

int mx_cache_init(struct mx_cache *c);
void mx_cache_free(struct mx_cache *c);

/* A key from parts, each length-prefixed (no part can be mistaken for two):
 * its length, 0 when it does not fit MX_CACHE_KEY_MAX (then: not cached). */
size_t mx_cache_key(char *key, const char *const *parts, int n);
uint64_t mx_cache_hash(const char *key, size_t len);

bool mx_cache_get(struct mx_cache *c, const char *key, size_t len, uint64_t hash,
		  struct mx_cache_val *out);
void mx_cache_put(struct mx_cache *c, const char *key, size_t len, uint64_t hash,
		  const struct mx_cache_val *val);

#endif
