/* SPDX-License-Identifier: Apache-2.0 */
/* test_lograte.c: one log line per kind per interval, and the count of the
 * lines left out (lograte.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/lograte.h"

#define S 1000000000ULL

static char reported[8][LOGRATE_TEXT];
static uint64_t reported_n[8];
static int n_reported;

static void report(const char *text, uint64_t count, void *ctx)
{
	(void)ctx;
	if (n_reported < 8) {
		snprintf(reported[n_reported], sizeof(reported[0]), "%s", text);
		reported_n[n_reported++] = count;
	}
}

static void test_one_kind(void **state)
{
	static const char kind[] = "limit %s";
	struct lograte lr;
	uint64_t left = 99;

	(void)state;
	lograte_init(&lr, 10 * S);
	assert_true(lograte_allow(&lr, kind, "limit a", 100 * S, &left));
	assert_int_equal(left, 0);
	for (int i = 0; i < 1999; i++)
		assert_false(lograte_allow(&lr, kind, "limit b", 100 * S + i * 1000, &left));
	/* the interval has not passed: nothing to report yet */
	n_reported = 0;
	assert_int_equal(lograte_flush(&lr, 109 * S, report, NULL), 0);
	/* it has: one summary with the count and the text written last */
	assert_int_equal(lograte_flush(&lr, 110 * S, report, NULL), 1);
	assert_int_equal(n_reported, 1);
	assert_int_equal(reported_n[0], 1999);
	assert_string_equal(reported[0], "limit a");
	/* a summary starts a new interval, and counts restart */
	assert_false(lograte_allow(&lr, kind, "limit c", 111 * S, &left));
	assert_int_equal(lograte_flush(&lr, 115 * S, report, NULL), 0);
	/* a line allowed after the interval carries the count instead */
	assert_true(lograte_allow(&lr, kind, "limit d", 121 * S, &left));
	assert_int_equal(left, 1);
	assert_int_equal(lograte_flush(&lr, 200 * S, report, NULL), 0);
	lograte_destroy(&lr);
}

static void test_kinds(void **state)
{
	static const char kinds[LOGRATE_KINDS + 4][4];
	struct lograte lr;
	uint64_t left;

	(void)state;
	lograte_init(&lr, 10 * S);
	/* each kind its own budget */
	for (int i = 0; i < LOGRATE_KINDS - 1; i++)
		assert_true(lograte_allow(&lr, kinds[i], "x", 5 * S, &left));
	assert_false(lograte_allow(&lr, kinds[0], "x", 6 * S, &left));
	/* past the table, the newcomers share the last slot */
	assert_true(lograte_allow(&lr, kinds[LOGRATE_KINDS - 1], "y", 6 * S, &left));
	assert_false(lograte_allow(&lr, kinds[LOGRATE_KINDS], "z", 6 * S, &left));
	assert_false(lograte_allow(&lr, kinds[LOGRATE_KINDS + 3], "z", 6 * S, &left));
	n_reported = 0;
	assert_int_equal(lograte_flush(&lr, 20 * S, report, NULL), 2);
	assert_int_equal(reported_n[0] + reported_n[1], 3);
	lograte_destroy(&lr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_kind),
	    cmocka_unit_test(test_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
