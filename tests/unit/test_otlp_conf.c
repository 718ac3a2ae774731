/* SPDX-License-Identifier: Apache-2.0 */
/* test_otlp_conf.c: the agent's side of the OTLP exporters: every field of a
 * Telemetry otlp section reaches struct otlp_settings whole (the longest
 * values the config takes included), a document without an otlp section
 * starts no exporter, and the exporters' log lines reach the agent's log at
 * their level. */
#include <errno.h>
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
#include "exporters/otlp.h"
#include "exporters/otlp_metrics.h"
#include "lib/log.h"
#include "trace/otlp_conf.h"

/* heap: the struct is large */
static struct cfg_telemetry *telemetry(void)
{
	struct cfg_telemetry *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->otlp_set = true;
	snprintf(t->otlp_endpoint, sizeof(t->otlp_endpoint), "https://otel.example.com:4318/");
	t->otlp_gzip = true;
	t->otlp_timeout_ms = 10000;
	return t;
}

static void test_every_field(void **state)
{
	struct cfg_telemetry *t = telemetry();
	struct cfg_header h[2] = {{"Authorization", "Bearer xyz"}, {"X-Empty", ""}};
	struct otlp_settings *s;

	(void)state;
	t->headers = h;
	t->n_headers = 2;
	t->otlp_gzip = false;
	t->otlp_timeout_ms = 2500;
	snprintf(t->tls_ca_file, sizeof(t->tls_ca_file), "/etc/ca.pem");
	snprintf(t->tls_cert_file, sizeof(t->tls_cert_file), "/etc/cert.pem");
	snprintf(t->tls_key_file, sizeof(t->tls_key_file), "/etc/key.pem");
	t->tls_insecure_skip_verify = true;
	s = otlp_conf_from_telemetry(t);
	assert_non_null(s);
	assert_string_equal(s->endpoint, "https://otel.example.com:4318/");
	assert_int_equal(s->n_headers, 2);
	assert_string_equal(s->headers[0].name, "Authorization");
	assert_string_equal(s->headers[0].value, "Bearer xyz");
	assert_string_equal(s->headers[1].name, "X-Empty");
	assert_string_equal(s->headers[1].value, "");
	assert_false(s->gzip);
	assert_int_equal(s->timeout_ms, 2500);
	assert_string_equal(s->ca_file, "/etc/ca.pem");
	assert_string_equal(s->cert_file, "/etc/cert.pem");
	assert_string_equal(s->key_file, "/etc/key.pem");
	assert_true(s->insecure_skip_verify);
	free(s);

	/* the defaults the config fills in pass through as they are */
	t->headers = NULL;
	t->n_headers = 0;
	t->otlp_gzip = true;
	t->tls_insecure_skip_verify = false;
	t->tls_ca_file[0] = 0;
	s = otlp_conf_from_telemetry(t);
	assert_non_null(s);
	assert_int_equal(s->n_headers, 0);
	assert_null(s->headers);
	assert_true(s->gzip);
	assert_false(s->insecure_skip_verify);
	assert_string_equal(s->ca_file, "");
	free(s);
	free(t);
}

/* The longest values the config takes are not cut. */
static void test_longest_values(void **state)
{
	struct cfg_telemetry *t = telemetry();
	struct cfg_header h;
	struct otlp_settings *s;
	struct otlp_metrics *m;
	size_t n = sizeof(t->otlp_endpoint) - 1;

	(void)state;
	memset(t->otlp_endpoint, 'a', n);
	memcpy(t->otlp_endpoint, "http://", 7);
	t->otlp_endpoint[n] = 0;
	memset(h.name, 'N', sizeof(h.name) - 1);
	h.name[sizeof(h.name) - 1] = 0;
	memset(h.value, 'v', sizeof(h.value) - 1);
	h.value[sizeof(h.value) - 1] = 0;
	t->headers = &h;
	t->n_headers = 1;
	memset(t->tls_key_file, 'k', sizeof(t->tls_key_file) - 1);
	t->tls_key_file[sizeof(t->tls_key_file) - 1] = 0;
	s = otlp_conf_from_telemetry(t);
	assert_non_null(s);
	assert_string_equal(s->endpoint, t->otlp_endpoint);
	assert_string_equal(s->headers[0].name, h.name);
	assert_string_equal(s->headers[0].value, h.value);
	assert_string_equal(s->key_file, t->tls_key_file);
	/* and the exporter takes the longest endpoint (with its signal path) */
	s->key_file[0] = 0;
	m = otlp_metrics_start(s, &(struct otlp_metrics_opts){.stop_grace_ms = 100});
	assert_non_null(m);
	otlp_metrics_stop(m);
	free(s);
	free(t);
}

/* No otlp section, no exporter: both exporters refuse with EINVAL. */
static void test_no_otlp_section(void **state)
{
	struct cfg_telemetry *t = telemetry();
	struct otlp_settings *s;

	(void)state;
	errno = 0;
	assert_null(otlp_conf_from_telemetry(NULL));
	assert_int_equal(errno, EINVAL);
	t->otlp_set = false;
	errno = 0;
	s = otlp_conf_from_telemetry(t);
	assert_null(s);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(otlp_start(s, NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(otlp_metrics_start(s, NULL));
	assert_int_equal(errno, EINVAL);
	free(t);
}

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
	    cmocka_unit_test(test_every_field),
	    cmocka_unit_test(test_longest_values),
	    cmocka_unit_test(test_no_otlp_section),
	    cmocka_unit_test(test_log_to_agent),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
