/* SPDX-License-Identifier: Apache-2.0 */
/* test_tracectx.c: W3C Trace Context traceparent values: version 00, later
 * versions read by their version-00 prefix, and every way a value is
 * invalid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "trace/tracectx.h"

static void test_traceparent(void **state)
{
	static const uint8_t tid[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
					0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
	static const uint8_t sid[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
	struct trace_parent tp;

	(void)state;
#define TP(s) tracectx_parse_traceparent(s, strlen(s), &tp)
	assert_int_equal(TP("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), 0);
	assert_memory_equal(tp.trace_id, tid, 16);
	assert_memory_equal(tp.span_id, sid, 8);
	assert_int_equal(tp.flags, 1);
	assert_int_equal(TP("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"), 0);
	assert_int_equal(tp.flags, 0);
	/* uppercase hex, zero ids, version ff, wrong shapes */
	assert_int_not_equal(TP("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), 0);
	assert_int_not_equal(TP("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), 0);
	assert_int_not_equal(TP("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"), 0);
	assert_int_not_equal(TP("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), 0);
	assert_int_not_equal(TP("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx"), 0);
	assert_int_not_equal(TP("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"), 0);
	assert_int_not_equal(TP("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), 0);
	assert_int_not_equal(TP("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"), 0);
	assert_int_not_equal(TP("garbage"), 0);
	assert_int_not_equal(TP(""), 0);
	/* a later version is read by its version-00 prefix */
	assert_int_equal(TP("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"), 0);
	assert_int_not_equal(TP("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"), 0);
#undef TP
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_traceparent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
