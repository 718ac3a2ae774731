/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_strings.c: UTF-8 cleaning for the OTLP encoders, printable copies of
 * collector messages for the log. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_strings.h"

/* Length of the UTF-8 sequence at s (1..4), or 0 when it is not valid. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k;

	while (*p) {
		if (!(k = utf8_seq(p)))
			return false;
		p += k;
	}
	return true;
}

/* A copy of s with every byte that starts no valid sequence replaced by U+FFFD. */
static char *utf8_sanitize(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(strlen(s) * 3 + 1), *o = out;
	size_t k;

	if (!out)
		return NULL;
	while (*p) {
		k = utf8_seq(p);
		if (k) {
			memcpy(o, p, k);
			o += k;
			p += k;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		}
	}
	*o = 0;
	return out;
}

char *otlp_utf8_clean(struct otlp_strpool *pool, const char *s)
{
	char *copy, **grown;

	if (utf8_valid(s))
		return (char *)s;
	if (pool->n == pool->cap) {
		size_t cap = pool->cap ? pool->cap * 2 : 16;

		grown = realloc(pool->owned, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		pool->owned = grown;
		pool->cap = cap;
	}
	if (!(copy = utf8_sanitize(s)))
		return NULL;
	pool->owned[pool->n++] = copy;
	return copy;
}

void otlp_strpool_free(struct otlp_strpool *pool)
{
	for (size_t i = 0; i < pool->n; i++)
		free(pool->owned[i]);
	free(pool->owned);
	*pool = (struct otlp_strpool){0};
}

void otlp_copy_printable(char *dst, size_t size, const uint8_t *src, size_t len)
{
	size_t i;

	if (!size)
		return;
	for (i = 0; i < len && i + 1 < size; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
	dst[i] = 0;
}
