/* SPDX-License-Identifier: Apache-2.0 */
/* test_inject_skip.c: the SDK-instrumented processes that traceparent
 * injection leaves alone (lb/inject_skip.c, inject_skip_plan): entries
 * follow the span builder's marks, one per pid, sorted; a pid that exited
 * or was reused is marked GONE (the kernel skips it no more) and stays so
 * while its mark lasts, then goes; the table is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bpf/inject.h"
#include "lb/inject.h"

/* A fake /proc: pid -> start time; 0 = no such process. */
static uint64_t starts[64];
static int calls;

static int fake_start(uint32_t tgid, uint64_t *st, void *ctx)
{
	(void)ctx;
	calls++;
	if (tgid >= 64 || !starts[tgid])
		return -1;
	*st = starts[tgid];
	return 0;
}

static size_t plan(const struct inject_skip_ent *cur, size_t n_cur, struct inject_sdk_proc *want,
		   size_t n_want, bool recheck, struct inject_skip_ent *out, size_t max)
{
	return inject_skip_plan(cur, n_cur, want, n_want, recheck, fake_start, NULL, out, max);
}

static int reset(void **state)
{
	(void)state;
	memset(starts, 0, sizeof(starts));
	calls = 0;
	return 0;
}

/* New marks become entries, sorted by pid, with their cgroup and start
 * time; a marked process that exited already gets none. */
static void test_new_entries(void **state)
{
	struct inject_sdk_proc want[] = {{30, 300}, {10, 100}, {20, 200}};
	struct inject_skip_ent out[8];

	(void)state;
	starts[10] = 1000;
	starts[30] = 3000; /* 20 exited */
	assert_int_equal(plan(NULL, 0, want, 3, false, out, 8), 2);
	assert_int_equal(out[0].tgid, 10);
	assert_int_equal(out[0].v.cgroup_id, 100);
	assert_int_equal(out[0].v.start_ticks, 1000);
	assert_int_equal(out[0].v.flags, 0);
	assert_int_equal(out[1].tgid, 30);
	assert_int_equal(out[1].v.cgroup_id, 300);
	assert_int_equal(out[1].v.start_ticks, 3000);
}

/* A wanted entry stays as it is without reading /proc again; an entry no
 * longer wanted (its mark expired) goes. */
static void test_keep_and_expire(void **state)
{
	struct inject_skip_ent cur[] = {{10, {100, 1000, 0, 0}}, {20, {200, 2000, 0, 0}}};
	struct inject_sdk_proc want[] = {{20, 200}};
	struct inject_skip_ent out[8];

	(void)state;
	assert_int_equal(plan(cur, 2, want, 1, false, out, 8), 1);
	assert_int_equal(calls, 0);
	assert_int_equal(out[0].tgid, 20);
	assert_memory_equal(&out[0].v, &cur[1].v, sizeof(out[0].v));
}

/* On a recheck, an entry whose process exited, or whose pid now has
 * another start time (reused in the same cgroup), is GONE; GONE stays
 * while the mark lasts, even when the pid's new owner is there. */
static void test_gone_on_recheck(void **state)
{
	struct inject_skip_ent cur[] = {
	    {10, {100, 1000, 0, 0}}, {20, {200, 2000, 0, 0}}, {30, {300, 3000, 0, 0}}};
	struct inject_sdk_proc want[] = {{10, 100}, {20, 200}, {30, 300}};
	struct inject_skip_ent out[8], out2[8];

	(void)state;
	starts[10] = 1000; /* still there */
	starts[20] = 2500; /* reused */
	/* 30 exited */
	assert_int_equal(plan(cur, 3, want, 3, true, out, 8), 3);
	assert_int_equal(out[0].v.flags, 0);
	assert_int_equal(out[1].v.flags, INJECT_SKIP_GONE);
	assert_int_equal(out[2].v.flags, INJECT_SKIP_GONE);
	assert_int_equal(out[1].v.start_ticks, 2000);
	/* the next beat, the new owner of 20 marked nothing: still GONE */
	starts[30] = 3500;
	assert_int_equal(plan(out, 3, want, 3, true, out2, 8), 3);
	assert_int_equal(out2[1].v.flags, INJECT_SKIP_GONE);
	assert_int_equal(out2[2].v.flags, INJECT_SKIP_GONE);
	/* marks expired: the entries go */
	assert_int_equal(plan(out2, 3, want, 1, true, out, 8), 1);
	assert_int_equal(out[0].tgid, 10);
}

/* A pid marked in another cgroup than its entry's is another process: a
 * new entry, with the new cgroup; a pid marked in two cgroups keeps the
 * entry it has (one entry per pid). */
static void test_cgroup_changes(void **state)
{
	struct inject_skip_ent cur[] = {{10, {100, 1000, 0, 0}}, {20, {200, 2000, 0, 0}}};
	struct inject_sdk_proc want[] = {{10, 111}, {20, 222}, {20, 200}};
	struct inject_skip_ent out[8];

	(void)state;
	starts[10] = 1100;
	starts[20] = 2000;
	assert_int_equal(plan(cur, 2, want, 3, false, out, 8), 2);
	assert_int_equal(out[0].v.cgroup_id, 111);
	assert_int_equal(out[0].v.start_ticks, 1100);
	assert_int_equal(out[1].v.cgroup_id, 200);
}

/* At most max entries. */
static void test_bounded(void **state)
{
	struct inject_sdk_proc want[40];
	struct inject_skip_ent out[16];

	(void)state;
	for (int i = 0; i < 40; i++) {
		want[i] = (struct inject_sdk_proc){(uint32_t)i + 1, 5};
		starts[i + 1] = 7;
	}
	assert_int_equal(plan(NULL, 0, want, 40, false, out, 16), 16);
	for (int i = 1; i < 16; i++)
		assert_true(out[i - 1].tgid < out[i].tgid);
}

#define T(fn) cmocka_unit_test_setup(fn, reset)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_new_entries),    T(test_keep_and_expire), T(test_gone_on_recheck),
	    T(test_cgroup_changes), T(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
