/* SPDX-License-Identifier: Apache-2.0 */
/* test_mx_cache.c: the metrics registry's lookup cache: keys that cannot
 * be mistaken for each other, bounded slots, eviction, keys too long. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "metrics/mx_cache.h"

static size_t key_of(char *key, const char *a, const char *b)
{
	const char *parts[] = {a, b};

	return mx_cache_key(key, parts, 2);
}

/* "a" + "bc" and "ab" + "c" are two keys, and "" parts count. */
static void test_keys_are_unambiguous(void **state)
{
	char k1[MX_CACHE_KEY_MAX], k2[MX_CACHE_KEY_MAX], k3[MX_CACHE_KEY_MAX];
	size_t n1 = key_of(k1, "a", "bc"), n2 = key_of(k2, "ab", "c"), n3 = key_of(k3, "abc", "");

	(void)state;
	assert_int_equal(n1, n2);
	assert_int_equal(n1, n3);
	assert_memory_not_equal(k1, k2, n1);
	assert_memory_not_equal(k1, k3, n1);
	assert_memory_not_equal(k2, k3, n1);
}

/* The hash, a word at a time: a key and the same key with zero bytes
 * after it (the padding of its last word) differ; a change of any one byte
 * changes it; similar keys spread over the slots. */
static void test_hash_words(void **state)
{
	char k[48] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJK", name[32];
	char key[MX_CACHE_KEY_MAX];
	uint64_t h = mx_cache_hash(k, 40);
	int slots[MX_CACHE_SLOTS] = {0};

	(void)state;
	assert_int_not_equal(mx_cache_hash("ab", 2), mx_cache_hash("ab\0", 3));
	assert_int_not_equal(mx_cache_hash("", 0), mx_cache_hash("\0", 1));
	for (int i = 0; i < 40; i++) {
		char was = k[i];

		k[i] ^= 1;
		assert_int_not_equal(mx_cache_hash(k, 40), h);
		k[i] = was;
	}
	for (int i = 0; i < 64 * MX_CACHE_SLOTS; i++) {
		size_t n;

		snprintf(name, sizeof(name), "/api/v1/users/%d", i);
		n = key_of(key, "default/web", name);
		slots[mx_cache_hash(key, n) & (MX_CACHE_SLOTS - 1)]++;
	}
	/* 64 a slot on average */
	for (int i = 0; i < MX_CACHE_SLOTS; i++)
		assert_in_range(slots[i], 32, 128);
}

static void test_hit_miss_and_replace(void **state)
{
	struct mx_cache c;
	struct mx_cache_val v = {1, 2, 3, -1}, got;
	char k[MX_CACHE_KEY_MAX], other[MX_CACHE_KEY_MAX];
	size_t n = key_of(k, "web", "/users/{id}"), no = key_of(other, "web", "/users/{id}x");
	uint64_t h = mx_cache_hash(k, n);

	(void)state;
	assert_int_equal(mx_cache_init(&c), 0);
	assert_false(mx_cache_get(&c, k, n, h, &got));
	mx_cache_put(&c, k, n, h, &v);
	assert_true(mx_cache_get(&c, k, n, h, &got));
	assert_memory_equal(&got, &v, sizeof(v));
	/* another key is a miss, even when it lands in the same slot */
	assert_false(mx_cache_get(&c, other, no, h, &got));
	/* a new value for the key replaces the old */
	v.hist = 7;
	mx_cache_put(&c, k, n, h, &v);
	assert_true(mx_cache_get(&c, k, n, h, &got));
	assert_int_equal(got.hist, 7);
	assert_int_equal(c.hits, 2);
	assert_int_equal(c.misses, 2);
	mx_cache_free(&c);
}

/* Two keys of one slot: the newer evicts the older; the table never holds
 * more than MX_CACHE_SLOTS entries whatever is put. */
static void test_bounded_and_evicting(void **state)
{
	struct mx_cache c;
	char k[2][MX_CACHE_KEY_MAX], name[32];
	size_t n[2];
	uint64_t h[2];
	struct mx_cache_val v = {0, 0, 0, 0}, got;
	int found = 0, held = 0;

	(void)state;
	assert_int_equal(mx_cache_init(&c), 0);
	n[0] = key_of(k[0], "svc", "/0");
	h[0] = mx_cache_hash(k[0], n[0]);
	for (int i = 1; i < 100000 && !found; i++) {
		snprintf(name, sizeof(name), "/%d", i);
		n[1] = key_of(k[1], "svc", name);
		h[1] = mx_cache_hash(k[1], n[1]);
		found = (h[1] & (MX_CACHE_SLOTS - 1)) == (h[0] & (MX_CACHE_SLOTS - 1));
	}
	assert_true(found);
	mx_cache_put(&c, k[0], n[0], h[0], &v);
	v.svc = 1;
	mx_cache_put(&c, k[1], n[1], h[1], &v);
	assert_false(mx_cache_get(&c, k[0], n[0], h[0], &got));
	assert_true(mx_cache_get(&c, k[1], n[1], h[1], &got));
	assert_int_equal(got.svc, 1);

	for (int i = 0; i < 10 * MX_CACHE_SLOTS; i++) {
		char key[MX_CACHE_KEY_MAX];
		size_t len;

		snprintf(name, sizeof(name), "/many/%d", i);
		len = key_of(key, "svc", name);
		mx_cache_put(&c, key, len, mx_cache_hash(key, len), &v);
	}
	for (int i = 0; i < MX_CACHE_SLOTS; i++)
		held += c.slots[i].len > 0;
	assert_true(held <= MX_CACHE_SLOTS);
	mx_cache_free(&c);
	assert_null(c.slots);
}

/* A key longer than the slots hold is not cached: get and put do nothing. */
static void test_long_key_not_cached(void **state)
{
	struct mx_cache c;
	char big[MX_CACHE_KEY_MAX + 10], key[MX_CACHE_KEY_MAX];
	struct mx_cache_val v = {0, 0, 0, 0}, got;
	size_t n;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(mx_cache_init(&c), 0);
	n = key_of(key, "svc", big);
	assert_int_equal(n, 0);
	mx_cache_put(&c, key, n, mx_cache_hash(key, n), &v);
	assert_false(mx_cache_get(&c, key, n, mx_cache_hash(key, n), &got));
	for (int i = 0; i < MX_CACHE_SLOTS; i++)
		assert_int_equal(c.slots[i].len, 0);
	mx_cache_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys_are_unambiguous),
	    cmocka_unit_test(test_hash_words),
	    cmocka_unit_test(test_hit_miss_and_replace),
	    cmocka_unit_test(test_bounded_and_evicting),
	    cmocka_unit_test(test_long_key_not_cached),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
