/* SPDX-License-Identifier: Apache-2.0 */
/* test_kubeconfig.c: agent/kube's connection settings: the in-cluster
 * service account (IPv6 host, token rotation), the kubeconfig forms kubectl
 * writes (token, tokenFile, certificates as files and as base64 data,
 * relative paths, insecure-skip-tls-verify, contexts) and an error that names
 * the missing piece for each way one can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube/kubeconfig.h"

#define SEC 1000000000ULL
/* "-----BEGIN CERTIFICATE-----\nCA\n" in base64, as kubectl writes -data */
#define CA_PEM "-----BEGIN CERTIFICATE-----\nCA\n"
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg=="

struct fx {
	char dir[64];
	char path[128]; /* dir/config */
	struct kube_settings s;
	char err[1024];
};

static void put(const struct fx *f, const char *rel, const char *text)
{
	char p[256];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/bpfmesh-kubeconfig.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/config", f->dir);
	assert_int_equal(mkdir(strcat(strcpy((char[128]){0}, f->dir), "/sa"), 0755), 0);
	put(f, "sa/token", "tok-1\n");
	put(f, "sa/ca.crt", CA_PEM);
	put(f, "ca.crt", CA_PEM);
	put(f, "client.crt", "cert");
	put(f, "client.key", "key");
	put(f, "token", "file-token\n");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	kube_settings_clear(&f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	free(f);
	return 0;
}

/* a kubeconfig with one context "c" -> cluster "k" and user "u" */
static int load(struct fx *f, const char *cluster, const char *user)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
		 "contexts:\n- name: c\n  context: {cluster: k, user: u, namespace: x}\n"
		 "clusters:\n- name: k\n  cluster:\n%s\n"
		 "users:\n- name: u\n  user:\n%s\n",
		 cluster, user);
	put(f, "config", text);
	kube_settings_clear(&f->s);
	return kube_settings_kubeconfig(&f->s, f->path, NULL, f->err, sizeof(f->err));
}

static void expect_error(struct fx *f, const char *cluster, const char *user, const char *part)
{
	if (!load(f, cluster, user))
		fail_msg("accepted; expected an error with \"%s\"", part);
	if (!strstr(f->err, part))
		fail_msg("error \"%s\" does not say \"%s\"", f->err, part);
}

/* ---- in-cluster ------------------------------------------------------------- */

static int in_cluster(struct fx *f)
{
	char sa[128];

	snprintf(sa, sizeof(sa), "%s/sa", f->dir);
	kube_settings_clear(&f->s);
	return kube_settings_in_cluster(&f->s, sa, f->err, sizeof(f->err));
}

static void test_in_cluster(void **state)
{
	struct fx *f = *state;

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(in_cluster(f), 0);
	assert_string_equal(f->s.server, "https://10.96.0.1:443");
	assert_string_equal(f->s.token, "tok-1");
	assert_non_null(strstr(f->s.ca_file, "/sa/ca.crt"));
	assert_non_null(strstr(f->s.token_file, "/sa/token"));

	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	assert_int_equal(in_cluster(f), 0);
	assert_string_equal(f->s.server, "https://[fd00:10:96::1]:443");
}

static void test_in_cluster_errors(void **state)
{
	struct fx *f = *state;
	char p[256];

	assert_int_equal(in_cluster(f), -1);
	assert_non_null(strstr(f->err, "KUBERNETES_SERVICE_HOST"));
	assert_non_null(strstr(f->err, "--kubeconfig"));
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	assert_int_equal(in_cluster(f), -1);
	assert_non_null(strstr(f->err, "KUBERNETES_SERVICE_PORT \"https\""));
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	snprintf(p, sizeof(p), "%s/sa/ca.crt", f->dir);
	unlink(p);
	assert_int_equal(in_cluster(f), -1);
	assert_non_null(strstr(f->err, "ca.crt"));
	put(f, "sa/ca.crt", CA_PEM);
	snprintf(p, sizeof(p), "%s/sa/token", f->dir);
	unlink(p);
	assert_int_equal(in_cluster(f), -1);
	assert_non_null(strstr(f->err, "token"));
	assert_null(f->s.token);
}

static void test_token_rotation(void **state)
{
	struct fx *f = *state;
	char p[256], tmp[256], err[256];
	const char *t;

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(in_cluster(f), 0);
	/* the kubelet writes the new token beside and renames it in */
	put(f, "sa/token.new", "tok-2-longer\n");
	snprintf(p, sizeof(p), "%s/sa/token", f->dir);
	snprintf(tmp, sizeof(tmp), "%s/sa/token.new", f->dir);
	assert_int_equal(rename(tmp, p), 0);
	t = kube_settings_token(&f->s, false, f->s.token_seen.read_ns + 1, err, sizeof(err));
	assert_string_equal(t, "tok-2-longer");
	assert_string_equal(err, "");
	/* same size, rewritten in place: the ctime moves */
	usleep(20000);
	put(f, "sa/token", "tok-3-longer\n");
	t = kube_settings_token(&f->s, false, f->s.token_seen.read_ns + 1, err, sizeof(err));
	assert_string_equal(t, "tok-3-longer");
	/* gone for a moment (mid-rotation): the last token stays, err says why */
	unlink(p);
	t = kube_settings_token(&f->s, false, f->s.token_seen.read_ns + 1, err, sizeof(err));
	assert_string_equal(t, "tok-3-longer");
	assert_non_null(strstr(err, "token"));
	put(f, "sa/token", "tok-4\n");
	t = kube_settings_token(&f->s, false, f->s.token_seen.read_ns + 61 * SEC, err, sizeof(err));
	assert_string_equal(t, "tok-4");
	/* a 401 forces a read even when nothing looks changed */
	t = kube_settings_token(&f->s, true, f->s.token_seen.read_ns, err, sizeof(err));
	assert_string_equal(t, "tok-4");
}

/* ---- kubeconfig forms ----------------------------------------------------------- */

static void test_token_and_ca_file(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load(f,
			      "    server: https://api.example:6443/\n"
			      "    certificate-authority: ca.crt",
			      "    token: abc.def"),
			 0);
	/* the trailing slash goes; the relative CA is beside the kubeconfig */
	assert_string_equal(f->s.server, "https://api.example:6443");
	assert_string_equal(f->s.token, "abc.def");
	assert_string_equal(f->s.token_file, "");
	char want[256];

	snprintf(want, sizeof(want), "%s/ca.crt", f->dir);
	assert_string_equal(f->s.ca_file, want);
	assert_null(f->s.ca_data.data);
	assert_false(f->s.insecure_skip_tls_verify);
	assert_non_null(strstr(f->s.origin, "context c"));
}

static void test_data_forms(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load(f,
			      "    server: https://[fd00::1]:6443\n"
			      "    certificate-authority-data: " CA_B64 "\n"
			      "    certificate-authority: ca.crt",
			      "    client-certificate-data: Y2VydA==\n"
			      "    client-key-data: a2V5"),
			 0);
	/* data wins over a file, as for kubectl */
	assert_string_equal(f->s.ca_file, "");
	assert_int_equal(f->s.ca_data.len, strlen(CA_PEM));
	assert_memory_equal(f->s.ca_data.data, CA_PEM, strlen(CA_PEM));
	assert_int_equal(f->s.cert_data.len, 4);
	assert_memory_equal(f->s.cert_data.data, "cert", 4);
	assert_memory_equal(f->s.key_data.data, "key", 3);
	assert_null(f->s.token);
	assert_string_equal(f->s.server, "https://[fd00::1]:6443");

	/* a copy owns its blobs */
	struct kube_settings c;

	assert_int_equal(kube_settings_copy(&c, &f->s), 0);
	assert_ptr_not_equal(c.ca_data.data, f->s.ca_data.data);
	assert_memory_equal(c.key_data.data, "key", 3);
	kube_settings_clear(&c);
}

static void test_cert_files_token_file(void **state)
{
	struct fx *f = *state;
	char want[256];

	assert_int_equal(load(f,
			      "    server: http://127.0.0.1:8080\n"
			      "    insecure-skip-tls-verify: true\n"
			      "    proxy-url: http://proxy:3128",
			      "    client-certificate: client.crt\n"
			      "    client-key: client.key\n"
			      "    token: static\n"
			      "    tokenFile: token"),
			 0);
	snprintf(want, sizeof(want), "%s/client.key", f->dir);
	assert_string_equal(f->s.key_file, want);
	snprintf(want, sizeof(want), "%s/token", f->dir);
	assert_string_equal(f->s.token_file, want);
	/* the file wins over the static token: it is what rotates */
	assert_string_equal(f->s.token, "file-token");
	assert_true(f->s.insecure_skip_tls_verify);
	assert_string_equal(f->s.proxy_url, "http://proxy:3128");
}

static void test_anonymous_and_json(void **state)
{
	struct fx *f = *state;

	/* a user with nothing set is anonymous */
	assert_int_equal(load(f, "    server: http://127.0.0.1:8080", "    {}"), 0);
	assert_null(f->s.token);
	/* kubeconfig as JSON, and a context chosen by name */
	put(f, "config",
	    "{\"current-context\":\"a\",\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":"
	    "\"x\"}},{\"name\":\"b\",\"context\":{\"cluster\":\"y\",\"user\":\"u\"}}],"
	    "\"clusters\":[{\"name\":\"x\",\"cluster\":{\"server\":\"http://x\"}},{\"name\":"
	    "\"y\",\"cluster\":{\"server\":\"http://y:1\"}}],\"users\":[{\"name\":\"u\","
	    "\"user\":{\"token\":\"t\"}}]}");
	kube_settings_clear(&f->s);
	assert_int_equal(kube_settings_kubeconfig(&f->s, f->path, NULL, f->err, sizeof(f->err)), 0);
	assert_string_equal(f->s.server, "http://x");
	kube_settings_clear(&f->s);
	assert_int_equal(kube_settings_kubeconfig(&f->s, f->path, "b", f->err, sizeof(f->err)), 0);
	assert_string_equal(f->s.server, "http://y:1");
	assert_string_equal(f->s.token, "t");
}

static void test_errors(void **state)
{
	struct fx *f = *state;
	const char *srv = "    server: https://h:6443";

	expect_error(f, "    insecure-skip-tls-verify: true", "    token: t", "has no server");
	expect_error(f, "    server: ftp://h", "    token: t", "not an http:// or https:// URL");
	expect_error(f, "    server: https://", "    token: t", "has no host");
	expect_error(f, "    server: https://h\n    certificate-authority: missing.crt",
		     "    token: t", "missing.crt: No such file");
	expect_error(f, "    server: https://h\n    certificate-authority-data: '@@@'",
		     "    token: t", "certificate-authority-data is not valid base64");
	expect_error(f, "    server: https://h\n    insecure-skip-tls-verify: maybe",
		     "    token: t", "not true or false");
	expect_error(f, "    server: https://h\n    tls-server-name: api", "    token: t",
		     "tls-server-name is not supported");
	expect_error(f, srv, "    client-certificate: client.crt",
		     "client-certificate without client-key");
	expect_error(f, srv, "    client-key-data: a2V5", "client-key without client-certificate");
	expect_error(f, srv, "    exec: {command: aws}", "exec credentials are not supported");
	expect_error(f, srv, "    auth-provider: {name: gcp}", "auth-provider credentials");
	expect_error(f, srv, "    username: admin\n    password: x", "username credentials");
	expect_error(f, srv, "    tokenFile: nope", "tokenFile /tmp/");
	expect_error(f, srv, "    tokenFile: nope", "nope: No such file");
	expect_error(f, srv, "    token: [a, b]", "token is not a string");
	expect_error(f, srv, "    token: \"a b\"", "the token has a space");

	put(f, "config", "apiVersion: v1\nkind: Config\nclusters: []\n");
	assert_int_equal(kube_settings_kubeconfig(&f->s, f->path, NULL, f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "current-context is not set"));
	put(f, "config",
	    "current-context: c\ncontexts:\n- {name: a, context: {cluster: k}}\n"
	    "- {name: b, context: {cluster: k}}\n");
	assert_int_equal(kube_settings_kubeconfig(&f->s, f->path, NULL, f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "context \"c\" not found (contexts: \"a\", \"b\")"));
	put(f, "config", "current-context: c\ncontexts:\n- {name: c, context: {cluster: k}}\n");
	assert_int_equal(kube_settings_kubeconfig(&f->s, f->path, NULL, f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "cluster \"k\" not found (clusters: none)"));
	put(f, "config",
	    "current-context: c\ncontexts:\n- {name: c, context: {cluster: k, user: v}}\n"
	    "clusters:\n- {name: k, cluster: {server: 'http://h'}}\nusers:\n- {name: u}\n");
	assert_int_equal(kube_settings_kubeconfig(&f->s, f->path, NULL, f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "user \"v\" not found (users: \"u\")"));
	put(f, "config", "current-context: c\ncontexts:\n- {name: c, context: {user: u}}\n");
	assert_int_equal(kube_settings_kubeconfig(&f->s, f->path, NULL, f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "context \"c\" names no cluster"));
	put(f, "config", "a: [b\n");
	assert_int_equal(kube_settings_kubeconfig(&f->s, f->path, NULL, f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "config:2:"));
	assert_int_equal(
	    kube_settings_kubeconfig(&f->s, "/nonexistent/kc", NULL, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "/nonexistent/kc: No such file"));
	/* on every error the settings are left empty */
	assert_string_equal(f->s.server, "");
	assert_null(f->s.token);
}

static void test_base64(void **state)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
	    {"", ""},
	    {"Zg==", "f"},
	    {"Zm8=", "fo"},
	    {"Zm9v", "foo"},
	    {"Zm9vYg==", "foob"},
	    {"Zm9vYmE=", "fooba"},
	    {"Zm9vYmFy", "foobar"},
	    {"Zm9v\nYmFy\n", "foobar"},
	    {"Zm9vYg", "foob"},
	};
	static const char *const bad[] = {"Zm9v!", "Zg==Zg", "Z", "Zm9vY", "Zg===", NULL};
	struct kube_blob b;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(kube_base64_decode(ok[i].in, strlen(ok[i].in), &b), 0);
		assert_int_equal(b.len, strlen(ok[i].out));
		assert_memory_equal(b.data, ok[i].out, b.len);
		free(b.data);
	}
	for (int i = 0; bad[i]; i++)
		if (!kube_base64_decode(bad[i], strlen(bad[i]), &b))
			fail_msg("accepted as base64: %s", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_in_cluster, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_in_cluster_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_token_rotation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_token_and_ca_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_data_forms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cert_files_token_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_anonymous_and_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
