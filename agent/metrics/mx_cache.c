/* SPDX-License-Identifier: Apache-2.0 */
/* mx_cache.c: the registry's lookup cache (mx_cache.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/mx_cache.h"

int mx_cache_init(struct mx_cache *c)
{
	memset(c, 0, sizeof(*c));
	c->slots = calloc(MX_CACHE_SLOTS, sizeof(*c->slots));
	return c->slots ? 0 : -ENOMEM;
}

void mx_cache_free(struct mx_cache *c)
{
	free(c->slots);
	memset(c, 0, sizeof(*c));
}

size_t mx_cache_key(char *key, const char *const *parts, int n)
{
	size_t len = 0;

	/* copied a byte at a time, its length written after it: the
	 * parts are short, and a strnlen and a memcpy per part (nine per
	 * span) cost more than the bytes */
	for (int i = 0; i < n; i++) {
		const char *p = parts[i];
		size_t at = len + 2, l = 0;

		if (at > MX_CACHE_KEY_MAX)
			return 0;
		while (p[l]) {
			if (at + l >= MX_CACHE_KEY_MAX)
				return 0;
			key[at + l] = p[l];
			l++;
		}
		key[len] = (char)(l & 0xff);
		key[len + 1] = (char)(l >> 8);
		len = at + l;
	}
	return len;
}

/* A word at a time (FNV-1a's byte at a time was a chain of a multiply per
 * byte, 3% of the agent), then the high bits folded into the low ones,
 * which pick the slot. */
uint64_t mx_cache_hash(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ len, w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, key + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	if (i < len) {
		w = 0;
		memcpy(&w, key + i, len - i);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	h ^= h >> 32;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 31);
}

bool mx_cache_get(struct mx_cache *c, const char *key, size_t len, uint64_t hash,
		  struct mx_cache_val *out)
{
	const struct mx_cache_slot *s;

	if (!c->slots || !len)
		return false;
	s = &c->slots[hash & (MX_CACHE_SLOTS - 1)];
	if (s->len != len || s->hash != hash || memcmp(s->key, key, len)) {
		c->misses++;
		return false;
	}
	c->hits++;
	*out = s->val;
	return true;
}

void mx_cache_put(struct mx_cache *c, const char *key, size_t len, uint64_t hash,
		  const struct mx_cache_val *val)
{
	struct mx_cache_slot *s;

	if (!c->slots || !len || len > MX_CACHE_KEY_MAX)
		return;
	s = &c->slots[hash & (MX_CACHE_SLOTS - 1)];
	s->hash = hash;
	s->len = (uint16_t)len;
	s->val = *val;
	memcpy(s->key, key, len);
}
