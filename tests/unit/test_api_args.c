/* SPDX-License-Identifier: Apache-2.0 */
/* test_api_args.c: the API's parameter checks (api_args.c), the routing of
 * service paths, and its bearer token: reading the file, which paths need
 * it, comparing it; the paths that need root without one. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api_args.h"
#include "api/api_auth.h"
#include "lib/token.h"

static void test_long(void **state)
{
	static const struct {
		const char *in;
		long want; /* -1: rejected */
	} cases[] = {
	    {"1", 1},	  {"1000", 1000}, {"42", 42},	{"007", 7},
	    {"0", -1},	  {"1001", -1},	  {"", -1},	{"abc", -1},
	    {"5abc", -1}, {"+5", -1},	  {" 5", -1},	{"5 ", -1},
	    {"-1", -1},	  {"1e3", -1},	  {"0x10", -1}, {"99999999999999999999999", -1},
	    {"10.0", -1},
	};
	long v;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = api_arg_long(cases[i].in, 1, 1000, &v);

		if (cases[i].want < 0) {
			if (rc != -EINVAL)
				fail_msg("'%s': expected -EINVAL, got %d (v %ld)", cases[i].in, rc,
					 v);
		} else if (rc || v != cases[i].want) {
			fail_msg("'%s': expected %ld, got rc %d v %ld", cases[i].in, cases[i].want,
				 rc, v);
		}
	}
	/* a small maximum: no digit may slip past it */
	assert_int_equal(api_arg_long("7", 1, 5, &v), -EINVAL);
	assert_int_equal(api_arg_long("5", 1, 5, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(api_arg_long(NULL, 1, 5, &v), -EINVAL);
}

static void test_service(void **state)
{
	static const struct {
		const char *in, *ns, *name; /* ns NULL: rejected */
	} cases[] = {
	    {"web", "default", "web"},
	    {"shop/web", "shop", "web"},
	    {"user-service", "default", "user-service"},
	    {"a.b.c", "default", "a.b.c"},
	    {"x1/y-2.z", "x1", "y-2.z"},
	    {"", NULL, NULL},
	    {"/web", NULL, NULL},
	    {"shop/", NULL, NULL},
	    {"web/", NULL, NULL},
	    {"a/b/c", NULL, NULL},
	    {"//x", NULL, NULL},
	    {"Web", NULL, NULL},
	    {"-web", NULL, NULL},
	    {"web-", NULL, NULL},
	    {"we b", NULL, NULL},
	    {"we%ZZb", NULL, NULL},
	    {"a..b", NULL, NULL},
	    {".a", NULL, NULL},
	    {"a.", NULL, NULL},
	    {"s.p/web", NULL, NULL}, /* a namespace is one label */
	    {"web\n", NULL, NULL},
	};
	char ns[254], name[254];
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = api_arg_service(cases[i].in, ns, sizeof(ns), name, sizeof(name), &why);

		if (!cases[i].ns) {
			if (rc != -EINVAL || !why || !*why)
				fail_msg("'%s': expected a rejection with a reason", cases[i].in);
			continue;
		}
		if (rc)
			fail_msg("'%s': rejected: %s", cases[i].in, why);
		assert_string_equal(ns, cases[i].ns);
		assert_string_equal(name, cases[i].name);
	}
}

static void test_service_lengths(void **state)
{
	char label[70], long_name[300], in[400], ns[254], name[254];
	const char *why;

	(void)state;
	memset(label, 'a', 63);
	label[63] = 0;
	assert_int_equal(api_arg_service(label, ns, sizeof(ns), name, sizeof(name), &why), 0);
	label[63] = 'a';
	label[64] = 0;
	assert_int_equal(api_arg_service(label, ns, sizeof(ns), name, sizeof(name), &why), -EINVAL);
	/* 4 labels of 63 and dots: 255 characters, over the 253 of RFC 1123 */
	label[63] = 0;
	snprintf(long_name, sizeof(long_name), "%s.%s.%s.%s", label, label, label, label);
	assert_int_equal(api_arg_service(long_name, ns, sizeof(ns), name, sizeof(name), &why),
			 -EINVAL);
	snprintf(in, sizeof(in), "%s/web", label);
	assert_int_equal(api_arg_service(in, ns, sizeof(ns), name, sizeof(name), &why), 0);
	assert_string_equal(ns, label);
}

/* Every valid name reaches its service and its latency, "latency" too. */
static void test_service_path(void **state)
{
	static const struct {
		const char *in, *ns, *name; /* ns NULL: rejected */
		bool latency;
		const char *alt; /* also the latency of default/alt */
	} cases[] = {
	    {"web", "default", "web", false, NULL},
	    {"latency", "default", "latency", false, NULL},
	    {"shop/web", "shop", "web", false, NULL},
	    {"latency/web", "latency", "web", false, NULL},
	    {"default/latency", "default", "latency", false, "default"},
	    {"latency/latency", "latency", "latency", false, "latency"},
	    {"web/latency", "web", "latency", false, "web"},
	    {"shop/web/latency", "shop", "web", true, NULL},
	    {"latency/latency/latency", "latency", "latency", true, NULL},
	    {"default/latency/latency", "default", "latency", true, NULL},
	    /* not a namespace (a label has no dot): only the latency reading */
	    {"web.v2/latency", "default", "web.v2", true, NULL},
	    {"a.b/latency/latency", NULL, NULL, false, NULL},
	    {"", NULL, NULL, false, NULL},
	    {"/latency", NULL, NULL, false, NULL},
	    {"latency/", NULL, NULL, false, NULL},
	    {"web/latency/", NULL, NULL, false, NULL},
	    {"a/b/c", NULL, NULL, false, NULL},
	    {"a/b/c/latency", NULL, NULL, false, NULL},
	    {"latency/latency/latency/latency", NULL, NULL, false, NULL},
	    {"Latency", NULL, NULL, false, NULL},
	    {"web/Latency", NULL, NULL, false, NULL},
	};
	struct api_svc_path p;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = api_arg_service_path(cases[i].in, &p, &why);

		if (!cases[i].ns) {
			if (rc != -EINVAL || !why || !*why)
				fail_msg("'%s': expected a rejection with a reason", cases[i].in);
			continue;
		}
		if (rc)
			fail_msg("'%s': rejected: %s", cases[i].in, why);
		if (strcmp(p.ns, cases[i].ns) || strcmp(p.name, cases[i].name) ||
		    p.latency != cases[i].latency || p.alt != !!cases[i].alt ||
		    (cases[i].alt && strcmp(p.alt_name, cases[i].alt)))
			fail_msg("'%s': got %s/%s latency %d alt %d '%s'", cases[i].in, p.ns,
				 p.name, p.latency, p.alt, p.alt_name);
	}
}

static void test_text(void **state)
{
	(void)state;
	assert_int_equal(api_arg_text("curl", 10), 0);
	assert_int_equal(api_arg_text("kworker/0:1", 20), 0);
	assert_int_equal(api_arg_text("", 10), 0);
	assert_int_equal(api_arg_text("a\x01"
				      "b",
				      10),
			 -EINVAL);
	assert_int_equal(api_arg_text("a\x7f", 10), -EINVAL);
	assert_int_equal(api_arg_text("0123456789a", 10), -EINVAL);
}

static void test_unescape(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"/api/v1/services/web", "/api/v1/services/web"},
	    {"%77eb", "web"},
	    {"a%2Fb", "a/b"},
	    {"a%2fb", "a/b"},
	    {"100%", "100%"},
	    {"%zz", "%zz"},
	    {"%4", "%4"},
	    {"%", "%"},
	    {"a%20b", "a b"},
	    /* control characters stay visible to the checks, as DEL */
	    {"web%00junk", "web\x7fjunk"},
	    {"a%0Ab", "a\x7f"
		      "b"},
	    {"a%7fb", "a\x7f"
		      "b"},
	    {"%c3%a9", "\xc3\xa9"},
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		assert_int_equal(api_unescape(NULL, NULL, buf), strlen(cases[i].want));
		assert_string_equal(buf, cases[i].want);
	}
}

/* Write content to a new file in /tmp; returns its path (static). */
static const char *token_file(const char *content)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/bpfmesh-test-token.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	return path;
}

static void test_token_read(void **state)
{
	static const struct {
		const char *content, *want; /* want NULL: rejected */
	} cases[] = {
	    {"abc\n", "abc"},
	    {"abc", "abc"},
	    {"abc\r\n", "abc"},
	    {"abc\n\n", "abc"},
	    {"a.b-c_d~e+f/g=", "a.b-c_d~e+f/g="},
	    {"", NULL},
	    {"\n", NULL},
	    {"ab c\n", NULL},
	    {"abc\ndef\n", NULL},
	    {"\tabc", NULL},
	    {"ab\xc3\xa9", NULL},
	};
	char err[600];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = token_file(cases[i].content);
		char *tok = token_file_read(path, err, sizeof(err));

		if (cases[i].want) {
			if (!tok)
				fail_msg("case %zu: rejected: %s", i, err);
			assert_string_equal(tok, cases[i].want);
		} else if (tok) {
			fail_msg("case %zu: expected a rejection, got '%s'", i, tok);
		} else {
			assert_non_null(strstr(err, path));
		}
		free(tok);
		unlink(path);
	}
	assert_null(token_file_read("/nonexistent/bpfmesh-token", err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
}

static void test_auth(void **state)
{
	struct api_auth au;
	const char *path = token_file("s3cret\n");
	char err[600];

	(void)state;
	assert_int_equal(api_auth_init(&au, NULL, false, err, sizeof(err)), 0);
	assert_false(api_auth_needed(&au, "/api/v1/services"));
	assert_int_equal(api_auth_init(&au, path, false, err, sizeof(err)), 0);
	unlink(path);

	assert_true(api_auth_needed(&au, "/api/v1/services"));
	assert_true(api_auth_needed(&au, "/api/v1/nothing"));
	assert_true(api_auth_needed(&au, "/healthz/"));
	assert_false(api_auth_needed(&au, "/healthz"));
	assert_false(api_auth_needed(&au, "/readyz"));
	assert_false(api_auth_needed(&au, "/metrics"));
	au.metrics = true;
	assert_true(api_auth_needed(&au, "/metrics"));
	assert_false(api_auth_needed(&au, "/readyz"));

	assert_null(api_auth_verify(&au, "Bearer s3cret"));
	assert_null(api_auth_verify(&au, "bearer s3cret"));
	assert_null(api_auth_verify(&au, "BEARER   s3cret  "));
	assert_non_null(api_auth_verify(&au, NULL));
	assert_non_null(api_auth_verify(&au, ""));
	assert_non_null(api_auth_verify(&au, "Bearer"));
	assert_non_null(api_auth_verify(&au, "Bearer "));
	assert_non_null(api_auth_verify(&au, "s3cret"));
	assert_non_null(api_auth_verify(&au, "Basic s3cret"));
	assert_non_null(api_auth_verify(&au, "Bearer s3cre"));
	assert_non_null(api_auth_verify(&au, "Bearer s3crett"));
	assert_non_null(api_auth_verify(&au, "Bearer s3cres"));
	/* a guess that repeats the secret's prefix must not match */
	assert_non_null(api_auth_verify(&au, "Bearer s3cs3c"));
	assert_string_equal(api_auth_verify(&au, "Bearer wrong"), "invalid token");
	api_auth_free(&au);
	assert_null(au.token);

	assert_int_equal(api_auth_init(&au, "/nonexistent/bpfmesh-token", false, err, sizeof(err)),
			 -1);
}

static void test_sensitive(void **state)
{
	(void)state;
	assert_true(api_path_sensitive("/api/v1/traces"));
	assert_true(api_path_sensitive("/api/v1/config"));
	assert_false(api_path_sensitive("/api/v1/services"));
	assert_false(api_path_sensitive("/api/v1/status"));
	assert_false(api_path_sensitive("/metrics"));
	assert_false(api_path_sensitive("/healthz"));
	/* not served at all (404), so nothing to protect */
	assert_false(api_path_sensitive("/api/v1/traces/"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_long),
	    cmocka_unit_test(test_service),
	    cmocka_unit_test(test_service_lengths),
	    cmocka_unit_test(test_service_path),
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_unescape),
	    cmocka_unit_test(test_token_read),
	    cmocka_unit_test(test_auth),
	    cmocka_unit_test(test_sensitive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
