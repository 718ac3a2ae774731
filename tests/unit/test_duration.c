/* SPDX-License-Identifier: Apache-2.0 */
/* test_duration.c: parse_duration_ms(), Go's duration syntax in milliseconds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "config/config.h"

struct good {
	const char *in;
	uint64_t ms;
};

static void test_valid(void **state)
{
	static const struct good cases[] = {
	    {"0", 0},
	    {"+0", 0},
	    {"0s", 0},
	    {"0ms", 0},
	    {"300ms", 300},
	    {"5s", 5000},
	    {"1m", 60000},
	    {"2h", 7200000},
	    {"1.5h", 5400000},
	    {"2h45m", 9900000},
	    {"1m30s", 90000},
	    {"1.5s", 1500},
	    {".5s", 500},
	    {"1.s", 1000},
	    {"+5s", 5000},
	    {"1h0.5m", 3630000},
	    {"100000000ns", 100},
	    {"2000us", 2},
	    {"2000\xc2\xb5s", 2}, /* micro sign */
	    {"2000\xce\xbcs", 2}, /* Greek mu */
	    {"1m1m", 120000},
	    {"2562047h", 2562047ULL * 3600000}, /* just below Go's int64 ns limit */
	};
	uint64_t ms;
	size_t i;
	int err;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms = 12345;
		err = parse_duration_ms(cases[i].in, &ms);
		if (err || ms != cases[i].ms)
			fail_msg(
			    "parse_duration_ms(\"%s\"): expected 0 and %llu ms, got %d and %llu ms",
			    cases[i].in, (unsigned long long)cases[i].ms, err,
			    (unsigned long long)ms);
	}
}

/* A positive value below the resolution must not become 0 ("no timeout");
 * above it, values are truncated like Go's Duration.Milliseconds(). */
static void test_rounding(void **state)
{
	static const struct good cases[] = {
	    {"500us", 1}, {"1ns", 1}, {"999999ns", 1}, {"1500us", 1}, {"1.9ms", 1}, {"2.5ms", 2},
	};
	uint64_t ms;
	size_t i;
	int err;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms = 12345;
		err = parse_duration_ms(cases[i].in, &ms);
		if (err || ms != cases[i].ms)
			fail_msg(
			    "parse_duration_ms(\"%s\"): expected 0 and %llu ms, got %d and %llu ms",
			    cases[i].in, (unsigned long long)cases[i].ms, err,
			    (unsigned long long)ms);
	}
}

static void test_invalid(void **state)
{
	static const char *const cases[] = {
	    "",
	    "+",
	    "-5s",
	    "-0",
	    "5",
	    "00",
	    "s",
	    ".s",
	    "5 seconds",
	    "5 s",
	    " 5s",
	    "5s ",
	    "5sec",
	    "5d",
	    "5S",
	    "1h-5m",
	    "1..5s",
	    "5s5",
	    "2562048h",		       /* beyond int64 nanoseconds */
	    "9999999999999999999999h", /* overflows while reading digits */
	    "9223372036854775807ns1ns",
	};
	uint64_t ms;
	size_t i;
	int err;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms = 12345;
		err = parse_duration_ms(cases[i], &ms);
		if (err != -EINVAL || ms != 12345)
			fail_msg(
			    "parse_duration_ms(\"%s\"): expected -EINVAL and no output, got %d "
			    "and %llu ms",
			    cases[i], err, (unsigned long long)ms);
	}
	assert_int_equal(parse_duration_ms(NULL, &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_rounding),
	    cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
