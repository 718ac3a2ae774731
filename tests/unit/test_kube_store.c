/* SPDX-License-Identifier: Apache-2.0 */
/* test_kube_store.c: agent/kube's store: lists replace a resource's objects
 * (a relist that finds nothing new changes nothing), the generation moves
 * only on changes, snapshots are sorted, cached while nothing changes and
 * outlive the store, and the bounds hold. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube/store.h"

static const struct kobj_type types[2] = {
    {.resource = 0, .kind = "Service", .api_version = "v1", .namespaced = true},
    {.resource = 1, .kind = "Namespace", .api_version = "v1", .namespaced = false},
};

static struct kobj *obj(unsigned res, const char *ns, const char *name, const char *rv)
{
	char text[512];
	struct json_object *o;
	struct kobj *k;
	char err[256];
	bool big;

	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"resourceVersion\":\"%s\"}}",
		 name, ns, rv);
	o = json_tokener_parse(text);
	assert_non_null(o);
	k = kobj_from_json(o, &types[res], 1 << 20, &big, err, sizeof(err));
	json_object_put(o);
	assert_non_null(k);
	return k;
}

static struct kstore *store(size_t max_objects, size_t max_bytes)
{
	struct kstore_limits lim = {.max_objects = max_objects, .max_total_bytes = max_bytes};
	struct kstore *st = kstore_new(2, &lim);

	assert_non_null(st);
	return st;
}

static void expect_snapshot(struct kube_snapshot *s, const char *want)
{
	char got[1024] = "";

	for (size_t i = 0; i < s->n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%u:%s/%s@%s",
			 i ? " " : "", s->objects[i]->resource, s->objects[i]->ns,
			 s->objects[i]->name, s->objects[i]->resource_version);
	if (strcmp(got, want))
		fail_msg("snapshot: expected \"%s\", got \"%s\"", want, got);
}

static void test_synced_after_every_list(void **state)
{
	struct kstore *st = store(100, 1 << 20);
	struct kobj *l0[] = {obj(0, "b", "web", "5"), obj(0, "a", "web", "6")};
	struct kube_snapshot *s;

	(void)state;
	s = kstore_snapshot(st);
	assert_false(s->synced);
	kube_snapshot_put(s);
	assert_int_equal(kstore_replace(st, 0, l0, 2), 0);
	assert_true(kstore_publish(st));
	s = kstore_snapshot(st);
	assert_false(s->synced); /* resource 1 not listed yet */
	kube_snapshot_put(s);
	/* an empty list (or a 404) syncs too, and is a change */
	kstore_replace(st, 1, NULL, 0);
	assert_true(kstore_publish(st));
	s = kstore_snapshot(st);
	assert_true(s->synced);
	expect_snapshot(s, "0:a/web@6 0:b/web@5");
	kube_snapshot_put(s);
	kstore_free(st);
}

static void test_relist_unchanged(void **state)
{
	struct kstore *st = store(100, 1 << 20);
	struct kobj *l1[] = {obj(0, "a", "x", "1"), obj(0, "a", "y", "2")};
	struct kobj *l2[] = {obj(0, "a", "y", "2"), obj(0, "a", "x", "1")};
	struct kobj *l3[] = {obj(0, "a", "y", "2"), obj(0, "a", "x", "3")};
	struct kobj *l4[] = {obj(0, "a", "y", "2")};
	uint64_t g;

	(void)state;
	kstore_replace(st, 0, l1, 2);
	assert_true(kstore_publish(st));
	g = kstore_generation(st);
	/* the same objects in another order: nothing changed */
	kstore_replace(st, 0, l2, 2);
	assert_false(kstore_publish(st));
	assert_int_equal(kstore_generation(st), g);
	/* a newer version of one */
	kstore_replace(st, 0, l3, 2);
	assert_true(kstore_publish(st));
	/* one gone while the watch was down: the relist removes it */
	kstore_replace(st, 0, l4, 1);
	assert_true(kstore_publish(st));
	struct kube_snapshot *s = kstore_snapshot(st);

	expect_snapshot(s, "0:a/y@2");
	kube_snapshot_put(s);
	assert_int_equal(kstore_generation(st), g + 2);
	kstore_free(st);
}

static void test_put_same_version(void **state)
{
	struct kstore *st = store(100, 1 << 20);

	(void)state;
	assert_int_equal(kstore_put(st, obj(0, "a", "x", "1")), 0);
	assert_true(kstore_publish(st));
	/* the watch replaying an event the list had: no change */
	assert_int_equal(kstore_put(st, obj(0, "a", "x", "1")), 1);
	assert_false(kstore_publish(st));
	assert_int_equal(kstore_delete(st, 0, "a/x"), 0);
	assert_int_equal(kstore_delete(st, 0, "a/x"), -ENOENT);
	assert_true(kstore_publish(st));
	kstore_free(st);
}

static void test_snapshot_cached_and_outlives(void **state)
{
	struct kstore *st = store(100, 1 << 20);
	struct kube_snapshot *a, *b, *c;

	(void)state;
	kstore_put(st, obj(0, "ns", "svc", "1"));
	kstore_put(st, obj(1, "", "kube-system", "2"));
	kstore_publish(st);
	a = kstore_snapshot(st);
	b = kstore_snapshot(st);
	/* nothing changed: the same snapshot, not a copy */
	assert_ptr_equal(a, b);
	kstore_put(st, obj(0, "ns", "svc", "3"));
	kstore_publish(st);
	c = kstore_snapshot(st);
	assert_ptr_not_equal(a, c);
	assert_true(c->generation > a->generation);
	expect_snapshot(a, "0:ns/svc@1 1:/kube-system@2");
	expect_snapshot(c, "0:ns/svc@3 1:/kube-system@2");
	kstore_free(st);
	/* held snapshots stay readable after the store is gone */
	assert_string_equal(a->objects[0]->resource_version, "1");
	assert_string_equal(c->objects[1]->kind, "Namespace");
	kube_snapshot_put(a);
	kube_snapshot_put(b);
	kube_snapshot_put(c);
}

static void test_bounds(void **state)
{
	struct kobj *probe = obj(0, "a", "x", "1");
	size_t one = probe->size;
	struct kstore *st = store(3, one * 4 + one / 2);
	struct kobj *list[] = {obj(0, "a", "1", "1"), obj(0, "a", "2", "1"), obj(0, "a", "3", "1"),
			       obj(0, "a", "4", "1")};
	size_t n, bytes;

	(void)state;
	kobj_put(probe);
	/* four in a list for three places: one refused */
	assert_int_equal(kstore_replace(st, 0, list, 4), 1);
	kstore_counts(st, 0, &n, &bytes);
	assert_int_equal(n, 3);
	assert_int_equal(kstore_put(st, obj(0, "a", "9", "1")), -ENOSPC);
	/* the total byte bound spans resources: one more fits, two do not */
	assert_int_equal(kstore_put(st, obj(1, "", "n1", "1")), 0);
	assert_int_equal(kstore_put(st, obj(1, "", "n2", "1")), -ENOSPC);
	/* replacing one keeps the count */
	assert_int_equal(kstore_put(st, obj(0, "a", "1", "2")), 0);
	kstore_free(st);
}

static void test_many(void **state)
{
	struct kstore *st = store(100000, 1 << 30);
	struct kube_snapshot *s;
	char name[32];

	(void)state;
	/* enough to grow the table and leave tombstones */
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "o%05d", i);
		assert_int_equal(kstore_put(st, obj(0, "ns", name, "1")), 0);
	}
	for (int i = 0; i < 5000; i += 2) {
		snprintf(name, sizeof(name), "ns/o%05d", i);
		assert_int_equal(kstore_delete(st, 0, name), 0);
	}
	for (int i = 0; i < 5000; i += 4) {
		snprintf(name, sizeof(name), "o%05d", i);
		assert_int_equal(kstore_put(st, obj(0, "ns", name, "2")), 0);
	}
	kstore_publish(st);
	s = kstore_snapshot(st);
	assert_int_equal(s->n, 2500 + 1250);
	for (size_t i = 1; i < s->n; i++)
		assert_true(strcmp(s->objects[i - 1]->name, s->objects[i]->name) < 0);
	kube_snapshot_put(s);
	kstore_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_synced_after_every_list),
	    cmocka_unit_test(test_relist_unchanged),
	    cmocka_unit_test(test_put_same_version),
	    cmocka_unit_test(test_snapshot_cached_and_outlives),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
