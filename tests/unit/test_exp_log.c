/* SPDX-License-Identifier: Apache-2.0 */
/* test_exp_log.c: the exporters' log hook: an installed hook gets the level
 * and the formatted message; without one (or after exp_log_set(NULL)) lines
 * go to stderr with their level, debug lines left out; long messages are cut,
 * not overrun. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "exporters/exp_log.h"

static struct {
	int calls;
	enum exp_log_level level;
	char msg[EXP_LOG_LINE_MAX + 16];
	size_t len;
} got;

static void capture(enum exp_log_level level, const char *msg)
{
	got.calls++;
	got.level = level;
	got.len = strlen(msg);
	snprintf(got.msg, sizeof(got.msg), "%s", msg);
}

/* What fn writes to stderr, malloc'd. */
static char *stderr_of(void (*fn)(void))
{
	char path[] = "/tmp/test_exp_log.XXXXXX", *text = calloc(1, 4096);
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0 && text);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, text, 4095, 0);
	assert_true(n >= 0);
	close(fd);
	unlink(path);
	return text;
}

static void test_hook_gets_level_and_message(void **state)
{
	(void)state;
	memset(&got, 0, sizeof(got));
	exp_log_set(capture);
	exp_log_warn("otlp: header %s is not sent", "Expect");
	assert_int_equal(got.calls, 1);
	assert_int_equal(got.level, EXP_LOG_WARN);
	assert_string_equal(got.msg, "otlp: header Expect is not sent");
	/* the hook filters, not exp_log(): debug lines reach it too */
	exp_log_debug("attempt %u", 3u);
	assert_int_equal(got.calls, 2);
	assert_int_equal(got.level, EXP_LOG_DEBUG);
	assert_string_equal(got.msg, "attempt 3");
	exp_log_set(NULL);
}

static void test_long_message_cut(void **state)
{
	char *big = malloc(3 * EXP_LOG_LINE_MAX);

	(void)state;
	assert_non_null(big);
	memset(big, 'x', 3 * EXP_LOG_LINE_MAX - 1);
	big[3 * EXP_LOG_LINE_MAX - 1] = 0;
	memset(&got, 0, sizeof(got));
	exp_log_set(capture);
	exp_log_error("%s", big);
	exp_log_set(NULL);
	assert_int_equal(got.calls, 1);
	assert_int_equal(got.len, EXP_LOG_LINE_MAX - 1);
	free(big);
}

static void log_three(void)
{
	exp_log_error("e %d", 1);
	exp_log_info("i %d", 2);
	exp_log_debug("d %d", 3);
}

static void test_default_is_stderr(void **state)
{
	char *text;

	(void)state;
	exp_log_set(capture);
	exp_log_set(NULL); /* back to the default */
	memset(&got, 0, sizeof(got));
	text = stderr_of(log_three);
	assert_int_equal(got.calls, 0);
	assert_string_equal(text, "error: e 1\ninfo: i 2\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hook_gets_level_and_message),
	    cmocka_unit_test(test_long_message_cut),
	    cmocka_unit_test(test_default_is_stderr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
