/* SPDX-License-Identifier: Apache-2.0 */
/* exp_log.h: the exporters' log. The exporters say what happened (a failed
 * POST, dropped spans, a refused header) through one hook that the program
 * using them installs; the agent forwards to its own log, with its time
 * stamps and verbosity. Until a hook is installed, lines go to stderr
 * (debug lines are left out). Rate limiting is the exporters' business and
 * happens before the hook is called. */
#ifndef BPFMESH_EXP_LOG_H
#define BPFMESH_EXP_LOG_H

enum exp_log_level {
	EXP_LOG_ERROR = 0,
	EXP_LOG_WARN = 1,
	EXP_LOG_INFO = 2,
	EXP_LOG_DEBUG = 3,
};

/* One message, without a trailing newline; msg is valid during the call only.
 * Called from the exporters' own threads as well as the caller's. */
typedef void (*exp_log_fn)(enum exp_log_level level, const char *msg);

/* Installs fn for every exporter; NULL goes back to stderr. Any thread. */
void exp_log_set(exp_log_fn fn);

/* Formats one message (at most EXP_LOG_LINE_MAX - 1 bytes) and hands it to the hook. */
void exp_log(enum exp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define EXP_LOG_LINE_MAX 2048

#define exp_log_error(...) exp_log(EXP_LOG_ERROR, __VA_ARGS__)
#define exp_log_warn(...) exp_log(EXP_LOG_WARN, __VA_ARGS__)
#define exp_log_info(...) exp_log(EXP_LOG_INFO, __VA_ARGS__)
#define exp_log_debug(...) exp_log(EXP_LOG_DEBUG, __VA_ARGS__)

#endif
