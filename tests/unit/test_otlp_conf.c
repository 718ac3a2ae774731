/* SPDX-License-Identifier: Apache-2.0 */
/* test_otlp_conf.c: the agent's side of the OTLP exporters: their log lines
 * reach the agent's log at their level. */
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
#include "lib/log.h"
#include "trace/otlp_conf.h"

/* What fn writes to stderr, malloc'd. */
static char *stderr_of(void (*fn)(void))
{
	char path[] = "/tmp/test_otlp_conf.XXXXXX", *text = calloc(1, 4096);
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

static void log_each_level(void)
{
	exp_log_error("otlp: e %d", 1);
	exp_log_warn("otlp: w %d", 2);
	exp_log_info("otlp: i %d", 3);
	exp_log_debug("otlp: d %d", 4);
}

/* The agent's hook: log_msg() lines ("TIME LEVEL message"), its verbosity. */
static void test_log_to_agent(void **state)
{
	int lvl = log_verbosity;
	char *text;

	(void)state;
	otlp_conf_log_to_agent(); /* as agent_main() does; the setup did too */
	log_verbosity = LOG_INFO;
	text = stderr_of(log_each_level);
	assert_non_null(strstr(text, "Z error otlp: e 1\n"));
	assert_non_null(strstr(text, "Z warn  otlp: w 2\n"));
	assert_non_null(strstr(text, "Z info  otlp: i 3\n"));
	assert_null(strstr(text, "otlp: d 4"));
	free(text);
	log_verbosity = LOG_DEBUG;
	text = stderr_of(log_each_level);
	assert_non_null(strstr(text, "Z debug otlp: d 4\n"));
	free(text);
	log_verbosity = lvl;
}

/* As the agent runs: the exporters' lines in its log, warnings and up. */
static int setup(void **state)
{
	(void)state;
	otlp_conf_log_to_agent();
	log_verbosity = LOG_WARN;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_log_to_agent),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
