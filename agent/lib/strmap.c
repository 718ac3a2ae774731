/* SPDX-License-Identifier: Apache-2.0 */
/* strmap.c: open addressing with linear probing and tombstones; grows at 70%. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strmap.h"

static char tomb_mark;
#define STRMAP_TOMB (&tomb_mark)

static uint64_t strmap_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

static int strmap_grow(struct strmap *m)
{
	struct strmap_entry *old = m->e;
	size_t old_cap = m->cap, i;

	m->cap = old_cap ? old_cap * 2 : 64;
	m->e = calloc(m->cap, sizeof(*m->e));
	if (!m->e) {
		m->e = old;
		m->cap = old_cap;
		return -ENOMEM;
	}
	m->len = m->used = 0;
	for (i = 0; i < old_cap; i++) {
		if (old[i].key && old[i].key != STRMAP_TOMB) {
			size_t j = strmap_hash(old[i].key) & (m->cap - 1);

			while (m->e[j].key)
				j = (j + 1) & (m->cap - 1);
			m->e[j] = old[i];
			m->len++;
			m->used++;
		}
	}
	free(old);
	return 0;
}

static struct strmap_entry *strmap_find(const struct strmap *m, const char *key)
{
	size_t j;

	if (!m->cap)
		return NULL;
	for (j = strmap_hash(key) & (m->cap - 1); m->e[j].key; j = (j + 1) & (m->cap - 1))
		if (m->e[j].key != STRMAP_TOMB && !strcmp(m->e[j].key, key))
			return &m->e[j];
	return NULL;
}

int strmap_put(struct strmap *m, const char *key, uint32_t val)
{
	struct strmap_entry *e = strmap_find(m, key);
	size_t j;

	if (e) {
		e->val = val;
		return 0;
	}
	if ((m->used + 1) * 10 >= m->cap * 7) {
		int err = strmap_grow(m);

		if (err)
			return err;
	}
	for (j = strmap_hash(key) & (m->cap - 1); m->e[j].key && m->e[j].key != STRMAP_TOMB;
	     j = (j + 1) & (m->cap - 1))
		;
	if (!m->e[j].key)
		m->used++;
	m->e[j].key = strdup(key);
	if (!m->e[j].key)
		return -ENOMEM;
	m->e[j].val = val;
	m->len++;
	return 0;
}

bool strmap_get(const struct strmap *m, const char *key, uint32_t *val)
{
	struct strmap_entry *e = strmap_find(m, key);

	if (e && val)
		*val = e->val;
	return e != NULL;
}

bool strmap_del(struct strmap *m, const char *key)
{
	struct strmap_entry *e = strmap_find(m, key);

	if (!e)
		return false;
	free(e->key);
	e->key = STRMAP_TOMB;
	m->len--;
	return true;
}

bool strmap_next(const struct strmap *m, size_t *pos, const char **key, uint32_t *val)
{
	for (; *pos < m->cap; (*pos)++) {
		struct strmap_entry *e = &m->e[*pos];

		if (e->key && e->key != STRMAP_TOMB) {
			*key = e->key;
			*val = e->val;
			(*pos)++;
			return true;
		}
	}
	return false;
}

void strmap_free(struct strmap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		if (m->e[i].key && m->e[i].key != STRMAP_TOMB)
			free(m->e[i].key);
	free(m->e);
	memset(m, 0, sizeof(*m));
}
