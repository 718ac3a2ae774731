/* SPDX-License-Identifier: Apache-2.0 */
/* test_healthcheck.c: the HTTP health check's status line parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "lb/healthcheck.h"

static int code(const char *s) { return hc_status_code(s, strlen(s)); }

static void test_status_codes(void **state)
{
	(void)state;
	assert_int_equal(code("HTTP/1.1 200 OK\r\n"), 200);
	assert_int_equal(code("HTTP/1.0 204 No Content\r\n"), 204);
	assert_int_equal(code("HTTP/1.1 503 Service Unavailable\r\n"), 503);
	assert_int_equal(code("HTTP/1.1 200"), 200);
	/* not HTTP, or cut short */
	assert_int_equal(code("ep1\n"), -1);
	assert_int_equal(code("HTTP/1.1 20"), -1);
	assert_int_equal(code("HTTP/2 200 OK\r\n"), -1);
	assert_int_equal(code("HTTP/1.1 2x0 OK\r\n"), -1);
	assert_int_equal(code("SSH-2.0-OpenSSH_9.2\r\n"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
