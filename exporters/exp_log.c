/* SPDX-License-Identifier: Apache-2.0 */
/* exp_log.c: the exporters' log hook (exp_log.h). The hook is an atomic
 * pointer because exporter threads may log while the program installs it. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "exp_log.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* The default: "otlp: ..." lines on stderr, one write() each so lines of
 * two threads do not interleave. */
static void to_stderr(enum exp_log_level level, const char *msg)
{
	char line[EXP_LOG_LINE_MAX + 16];
	int n;

	if (level >= EXP_LOG_DEBUG)
		return;
	n = snprintf(line, sizeof(line), "%s: %s\n", level_names[level], msg);
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

static _Atomic(exp_log_fn) hook = to_stderr;

void exp_log_set(exp_log_fn fn) { atomic_store(&hook, fn ? fn : to_stderr); }

void exp_log(enum exp_log_level level, const char *fmt, ...)
{
	char msg[EXP_LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atomic_load (&hook)(level, msg);
}
