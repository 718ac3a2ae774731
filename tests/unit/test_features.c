/* SPDX-License-Identifier: Apache-2.0 */
/* test_features.c: from a kernel's feature set to what the agent loads
 * (lb/features.c), without a kernel: Debian 12's 6.1 and 6.12 as
 * `make test-kernels` found them, what is off and the one line that says
 * so, and the configuration a kernel without bpf_sock_destroy refuses. */
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

#include "cfgfile.h"

#include "config/config.h"
#include "lb/features.h"

#define HDR "apiVersion: bpfmesh.io/v1alpha1\n"

/* Debian 12's 6.1.0: no bpf_sock_destroy (6.5), no sock_*_length
 * tracepoints (6.3), no tcx (6.6). */
static struct kfeatures k61(void)
{
	struct kfeatures f = {.hz = 250};

	for (int i = 0; i < KF_N; i++)
		f.known[i] = true;
	f.has[KF_BTF] = f.has[KF_RINGBUF] = f.has[KF_CGROUP_LINKS] = true;
	f.has[KF_SOCK_ITERS] = f.has[KF_BPF_JIT] = true;
	return f;
}

/* Debian 12's 6.12 (and the reference 6.18): everything. */
static struct kfeatures k612(void)
{
	struct kfeatures f = k61();

	f.has[KF_SOCK_DESTROY] = f.has[KF_TCX] = f.has[KF_SOCK_LENGTH_TP] = true;
	return f;
}

/* The line of p that starts with prefix, or NULL. */
static const char *off_line(const struct kplan *p, const char *prefix)
{
	for (int i = 0; i < p->n_off; i++)
		if (!strncmp(p->off[i], prefix, strlen(prefix)))
			return p->off[i];
	return NULL;
}

static void test_new_kernel_loads_everything(void **state)
{
	struct kfeatures f = k612();
	struct kplan p;

	(void)state;
	kplan_make(&f, &p);
	assert_true(p.terminate);
	assert_true(p.thread_tps);
	assert_false(p.tc_classic);
	if (p.n_off)
		fail_msg("expected nothing off, got \"%s\"", p.off[0]);
}

static void test_debian_61(void **state)
{
	struct kfeatures f = k61();
	struct kplan p;
	const char *l;

	(void)state;
	kplan_make(&f, &p);
	assert_false(p.terminate);
	assert_false(p.thread_tps);
	assert_true(p.tc_classic);
	assert_int_equal(p.n_off, 3);
	l = off_line(&p, "terminateConnections off:");
	assert_non_null(l);
	assert_string_equal(l, "terminateConnections off: needs kernel 6.5 (bpf_sock_destroy)");
	l = off_line(&p, "span thread identity off:");
	assert_non_null(l);
	assert_non_null(strstr(l, "needs kernel 6.3 (sock_send_length/sock_recv_length"));
	l = off_line(&p, "tcx off:");
	assert_non_null(l);
	assert_non_null(strstr(l, "classic tc (clsact) filters"));
}

/* Each feature alone takes out only what needs it. */
static void test_each_feature_alone(void **state)
{
	struct kfeatures f;
	struct kplan p;

	(void)state;
	f = k612();
	f.has[KF_SOCK_ITERS] = false;
	kplan_make(&f, &p);
	assert_false(p.terminate);
	assert_true(p.thread_tps);
	assert_false(p.tc_classic);
	assert_int_equal(p.n_off, 1);
	assert_non_null(strstr(p.off[0], "needs kernel 5.9 (tcp and udp socket iterators)"));

	f = k612();
	f.has[KF_SOCK_LENGTH_TP] = false;
	kplan_make(&f, &p);
	assert_true(p.terminate);
	assert_false(p.thread_tps);
	assert_int_equal(p.n_off, 1);

	f = k612();
	f.has[KF_TCX] = false;
	kplan_make(&f, &p);
	assert_true(p.terminate);
	assert_true(p.tc_classic);
	assert_int_equal(p.n_off, 1);
}

/* Lines added at load time go after the plan's, and never overflow. */
static void test_off_lines_bounded(void **state)
{
	struct kfeatures f = k61();
	struct kplan p;

	(void)state;
	kplan_make(&f, &p);
	kplan_off(&p, "HTTP capture off: refused");
	assert_int_equal(p.n_off, 4);
	assert_string_equal(p.off[3], "HTTP capture off: refused");
	for (int i = 0; i < 2 * KPLAN_MAX_OFF; i++)
		kplan_off(&p, "x");
	assert_int_equal(p.n_off, KPLAN_MAX_OFF);
}

/* The keys of /api/v1/status and the metric's label: tests/kernels/init
 * and dashboards read them. */
static void test_names(void **state)
{
	static const char *const want[KF_N] = {
	    "btf", "ringbuf", "cgroupLinks",	      "sockDestroy", "socketIterators",
	    "tcx", "bpfJit",  "sockLengthTracepoints"};

	(void)state;
	for (int i = 0; i < KF_N; i++)
		assert_string_equal(kfeat_name(i), want[i]);
	assert_string_equal(kfeat_name(KF_N), "?");
}

/* ---- configuration against the kernel ---- */

struct fx {
	char dir[64];
	char file[96];
	struct mesh_config *cfg;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/bpfmesh-test-features-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->file, sizeof(f->file), "%s/c.yaml", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	config_free(f->cfg);
	unlink(f->file);
	rmdir(f->dir);
	free(f);
	return 0;
}

static const struct mesh_config *load(struct fx *f, const char *text)
{
	return cfgfile_load(f->dir, f->file, &f->cfg, text);
}

#define SVC                                                                                        \
	HDR "kind: Service\nmetadata: {name: web}\nspec:\n  addresses: [\"127.100.0.10\"]\n"       \
	    "  ports: [{name: http, port: 80, targetPort: 8080}]\n"                                \
	    "  endpoints: [{address: \"127.0.0.1\"}]\n"                                            \
	    "  loadBalancer: {policy: random}\n"
#define POLICY(term)                                                                               \
	"---\n" HDR "kind: TrafficPolicy\nmetadata: {name: web-tp}\nspec:\n  service: web\n"       \
	"  outlierDetection: {consecutiveConnectFailures: 1, terminateConnections: " term "}\n"

static void test_terminate_refused_without_sock_destroy(void **state)
{
	struct fx *f = *state;
	struct kfeatures k = k61();
	struct kplan p;
	char err[512] = "";
	const struct mesh_config *cfg = load(f, SVC POLICY("true"));

	kplan_make(&k, &p);
	assert_int_equal(kplan_check_config(&p, cfg, err, sizeof(err)), -EOPNOTSUPP);
	/* where, what, and what the kernel lacks */
	assert_non_null(strstr(err, "c.yaml:"));
	assert_non_null(strstr(err, "TrafficPolicy default/web-tp"));
	assert_non_null(strstr(err, "spec.outlierDetection.terminateConnections"));
	assert_non_null(strstr(err, "needs kernel 6.5"));

	k = k612();
	kplan_make(&k, &p);
	assert_int_equal(kplan_check_config(&p, cfg, err, sizeof(err)), 0);
}

/* Outlier detection without terminateConnections, and Workload.interfaces
 * (classic tc serves them), load on 6.1. */
static void test_61_serves_the_rest(void **state)
{
	struct fx *f = *state;
	struct kfeatures k = k61();
	struct kplan p;
	char err[512] = "";
	const struct mesh_config *cfg = load(
	    f, SVC POLICY("false") "---\n" HDR
				   "kind: Workload\nmetadata: {name: web}\nspec:\n  service: web\n"
				   "  cgroup: mesh/web\n  interfaces: [veth-web]\n");

	kplan_make(&k, &p);
	assert_int_equal(kplan_check_config(&p, cfg, err, sizeof(err)), 0);
	assert_int_equal(kplan_check_config(&p, NULL, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_kernel_loads_everything),
	    cmocka_unit_test(test_debian_61),
	    cmocka_unit_test(test_each_feature_alone),
	    cmocka_unit_test(test_off_lines_bounded),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test_setup_teardown(test_terminate_refused_without_sock_destroy, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_61_serves_the_rest, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
