/* SPDX-License-Identifier: Apache-2.0 */
/* strmap.h: a string -> uint32 hash map (open addressing), for the agent's
 * id registries (service and endpoint keys to kernel ids). */
#ifndef BPFMESH_STRMAP_H
#define BPFMESH_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strmap_entry {
	char *key; /* NULL: empty slot; STRMAP_TOMB: deleted */
	uint32_t val;
};

struct strmap {
	struct strmap_entry *e;
	size_t cap; /* power of two */
	size_t len;
	size_t used; /* live + tombstones */
};

int strmap_put(struct strmap *m, const char *key, uint32_t val);
bool strmap_get(const struct strmap *m, const char *key, uint32_t *val);
bool strmap_del(struct strmap *m, const char *key);
void strmap_free(struct strmap *m);

/* Iterate: for (size_t i = 0; strmap_next(m, &i, &k, &v);) */
bool strmap_next(const struct strmap *m, size_t *pos, const char **key, uint32_t *val);

#endif
