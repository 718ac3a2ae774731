/* SPDX-License-Identifier: Apache-2.0 */
/* test_evthreads.c: the per-socket thread table of the capture reader:
 * set, get per way, forget with backward shift (entries that probed past a
 * forgotten one are still found), growth, and the start-over at its cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "trace/evthreads.h"

static struct ev_thread th(uint32_t tid)
{
	struct ev_thread t = {.tgid = 1, .tid = tid, .cgroup_id = tid + 1};

	memcpy(t.comm, "x", 2);
	return t;
}

static void test_set_get_forget(void **state)
{
	struct evthreads t = {0};
	struct ev_thread a = th(10), b = th(20);

	(void)state;
	assert_null(evthreads_get(&t, 5, EVT_SEND));
	evthreads_set(&t, 5, EVT_SEND, &a);
	assert_int_equal(evthreads_get(&t, 5, EVT_SEND)->tid, 10);
	assert_null(evthreads_get(&t, 5, EVT_RECV)); /* each way on its own */
	evthreads_set(&t, 5, EVT_RECV, &b);
	evthreads_set(&t, 5, EVT_SEND, &b);
	assert_int_equal(evthreads_get(&t, 5, EVT_SEND)->tid, 20);
	assert_int_equal(t.n, 1);
	evthreads_set(&t, 0, EVT_SEND, &a); /* no socket has cookie 0 */
	assert_int_equal(t.n, 1);
	evthreads_forget(&t, 5);
	assert_null(evthreads_get(&t, 5, EVT_RECV));
	assert_int_equal(t.n, 0);
	evthreads_free(&t);
}

/* Thousands of sockets, consecutive and colliding cookies, half of them
 * forgotten in between: every one left is found, none forgotten is. */
static void test_many(void **state)
{
	struct evthreads t = {0};
	const int n = 5000;

	(void)state;
	for (int i = 1; i <= n; i++) {
		struct ev_thread a = th(i);
		uint64_t c = i % 2 ? (uint64_t)i : (uint64_t)i << 40;

		evthreads_set(&t, c, EVT_RECV, &a);
	}
	for (int i = 1; i <= n; i += 3)
		evthreads_forget(&t, i % 2 ? (uint64_t)i : (uint64_t)i << 40);
	for (int i = 1; i <= n; i++) {
		const struct ev_thread *g =
		    evthreads_get(&t, i % 2 ? (uint64_t)i : (uint64_t)i << 40, EVT_RECV);

		if ((i - 1) % 3 == 0) {
			assert_null(g);
		} else {
			assert_non_null(g);
			assert_int_equal(g->tid, i);
			assert_int_equal(g->cgroup_id, i + 1);
		}
	}
	assert_int_equal(t.n, n - (n + 2) / 3);
	assert_true(t.n <= t.cap / 2);
	evthreads_free(&t);
}

/* Past the cap (CLOSE records lost) the table starts over, it never grows
 * without bound. */
static void test_cap(void **state)
{
	struct evthreads t = {0};
	struct ev_thread a = th(1);

	(void)state;
	for (uint64_t c = 1; c <= (1U << 17) + 1; c++)
		evthreads_set(&t, c, EVT_SEND, &a);
	assert_int_equal(t.resets, 1);
	assert_int_equal(t.n, 1);
	assert_non_null(evthreads_get(&t, (1U << 17) + 1, EVT_SEND));
	assert_null(evthreads_get(&t, 1, EVT_SEND));
	evthreads_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_set_get_forget),
	    cmocka_unit_test(test_many),
	    cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
