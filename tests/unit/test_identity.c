/* SPDX-License-Identifier: Apache-2.0 */
/* test_identity.c: the service of a socket's process, as the pipeline
 * resolves it before the span builder: a Workload by the kernel's cgroup id
 * (a port it serves preferred), a Service by endpoint address (IPv4-mapped
 * IPv6 folded), else the process name; once per socket, kept while the
 * thread is unknown, again for another process, after a configuration
 * change or a close; the socket memory is bounded. The Workload case needs
 * root (it makes an empty cgroup of its own, and open_by_handle_at()). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/cgroup.h"
#include "trace/identity.h"

struct fx {
	struct identity id;
	struct mesh_config cfg;
	struct cfg_service svc;
	struct cfg_port port;
	struct cfg_endpoint eps[2];
	struct cfg_workload wl[2];
	uint16_t admin_port;
	char cg_name[64], cg_path[600];
	uint64_t cg_id;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char mnt[512];

	assert_int_equal(identity_init(&f->id), 0);
	/* user-service: 127.0.0.1:18081 and [::1] on targetPort 8080 */
	snprintf(f->svc.meta.name, sizeof(f->svc.meta.name), "user-service");
	snprintf(f->svc.meta.ns, sizeof(f->svc.meta.ns), "shop");
	f->port.port = 80;
	f->port.target_port = 8080;
	f->svc.ports = &f->port;
	f->svc.n_ports = 1;
	f->eps[0].addr.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", f->eps[0].addr.addr);
	f->eps[0].port = 18081;
	f->eps[1].addr.family = AF_INET6;
	inet_pton(AF_INET6, "::1", f->eps[1].addr.addr);
	f->svc.endpoints = f->eps;
	f->svc.n_endpoints = 2;
	f->cfg.services = &f->svc;
	f->cfg.n_services = 1;
	/* a cgroup of the test's own, empty: a Workload of two services,
	 * admin on port 9000 */
	snprintf(f->cg_name, sizeof(f->cg_name), "bpfmesh-unit-identity-%d", (int)getpid());
	if (geteuid() == 0 && !cgroup2_mount(mnt, sizeof(mnt))) {
		snprintf(f->cg_path, sizeof(f->cg_path), "%s/%s", mnt, f->cg_name);
		if (!mkdir(f->cg_path, 0755))
			f->cg_id = cgroup_id_of(f->cg_path);
		else
			f->cg_path[0] = '\0';
	}
	for (int i = 0; i < 2; i++) {
		snprintf(f->wl[i].meta.ns, sizeof(f->wl[i].meta.ns), "shop");
		snprintf(f->wl[i].cgroup, sizeof(f->wl[i].cgroup), "%s", f->cg_name);
	}
	snprintf(f->wl[0].service, sizeof(f->wl[0].service), "gateway");
	snprintf(f->wl[1].service, sizeof(f->wl[1].service), "gateway-admin");
	f->admin_port = 9000;
	f->wl[1].ports = &f->admin_port;
	f->wl[1].n_ports = 1;
	f->cfg.workloads = f->wl;
	f->cfg.n_workloads = 2;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	identity_free(&f->id);
	if (f->cg_path[0])
		rmdir(f->cg_path);
	free(f);
	return 0;
}

/* A request observation on socket cookie, local ip:port. */
static struct obs req(uint64_t cookie, int family, const char *ip, uint16_t port, uint32_t tgid,
		      uint64_t cg_id, const char *comm)
{
	struct obs o;

	memset(&o, 0, sizeof(o));
	o.cookie = cookie;
	o.kind = OBS_REQUEST;
	o.local.family = family;
	assert_int_equal(inet_pton(family, ip, o.local.addr), 1);
	o.local.port = port;
	o.tgid = tgid;
	o.cgroup_id = cg_id;
	snprintf(o.comm, sizeof(o.comm), "%s", comm);
	return o;
}

static void expect(struct identity *id, struct obs o, const char *name, const char *ns)
{
	identity_resolve(id, &o);
	if (strcmp(o.service, name) || strcmp(o.service_ns, ns))
		fail_msg("cookie %llu: expected %s/%s, got %s/%s", (unsigned long long)o.cookie, ns,
			 name, o.service_ns, o.service);
	assert_false(o.not_traced);
}

/* obs.id_seq: one number per resolution, the same while a socket's answer
 * is reused, so the span builder may skip comparing the fields. */
static void test_resolution_numbers(void **state)
{
	struct fx *f = *state;
	struct obs a = req(1, AF_INET, "127.0.0.1", 18081, 42, 0, "httpsvc");
	struct obs a2 = a, b = req(2, AF_INET, "127.0.0.1", 18081, 42, 0, "httpsvc"), a3;

	identity_resolve(&f->id, &a);
	identity_resolve(&f->id, &a2);
	identity_resolve(&f->id, &b);
	if (!a.id_seq || a2.id_seq != a.id_seq)
		fail_msg("socket 1 reused: expected id_seq %llu twice, got %llu then %llu",
			 (unsigned long long)a.id_seq, (unsigned long long)a.id_seq,
			 (unsigned long long)a2.id_seq);
	if (!b.id_seq || b.id_seq == a.id_seq)
		fail_msg("socket 2: expected an id_seq of its own, got %llu (socket 1: %llu)",
			 (unsigned long long)b.id_seq, (unsigned long long)a.id_seq);
	/* a new configuration resolves again: a new number, new fields */
	identity_set_config(&f->id, &f->cfg);
	a3 = req(1, AF_INET, "127.0.0.1", 18081, 42, 0, "httpsvc");
	identity_resolve(&f->id, &a3);
	assert_string_equal(a3.service, "user-service");
	if (!a3.id_seq || a3.id_seq == a.id_seq || a3.id_seq == b.id_seq)
		fail_msg("socket 1 resolved again: expected a new id_seq, got %llu",
			 (unsigned long long)a3.id_seq);
}

static void test_no_config(void **state)
{
	struct fx *f = *state;

	expect(&f->id, req(1, AF_INET, "127.0.0.1", 18081, 42, 0, "httpsvc"), "httpsvc", "");
	expect(&f->id, req(2, AF_INET, "127.0.0.1", 18081, 0, 0, ""), "unknown_service", "");
}

static void test_service_endpoint(void **state)
{
	struct fx *f = *state;

	identity_set_config(&f->id, &f->cfg);
	expect(&f->id, req(1, AF_INET, "127.0.0.1", 18081, 0, 0, "x"), "user-service", "shop");
	/* a dual-stack socket's view of the same address */
	expect(&f->id, req(2, AF_INET6, "::ffff:127.0.0.1", 18081, 0, 0, "x"), "user-service",
	       "shop");
	/* an endpoint without a port serves on the targetPort */
	expect(&f->id, req(3, AF_INET6, "::1", 8080, 0, 0, "x"), "user-service", "shop");
	/* the address on another port, or another address: the process name */
	expect(&f->id, req(4, AF_INET, "127.0.0.1", 8080, 0, 0, "x"), "x", "");
	expect(&f->id, req(5, AF_INET, "127.0.0.2", 18081, 0, 0, "x"), "x", "");
}

static void test_workload_by_cgroup_id(void **state)
{
	struct fx *f = *state;
	uint32_t gone = 0x7ffffff0; /* no such process: the id alone names its cgroup */

	if (!f->cg_id) {
		print_message("    not root or no cgroup v2: the Workload case is not run\n");
		skip();
	}
	identity_set_config(&f->id, &f->cfg);
	expect(&f->id, req(1, AF_INET, "127.0.0.1", 8000, gone, f->cg_id, "gw"), "gateway", "shop");
	/* a Workload that serves the socket's port wins */
	expect(&f->id, req(2, AF_INET, "127.0.0.1", 9000, gone, f->cg_id, "gw"), "gateway-admin",
	       "shop");
	/* a Workload beats a Service endpoint */
	expect(&f->id, req(3, AF_INET, "127.0.0.1", 18081, gone, f->cg_id, "gw"), "gateway",
	       "shop");
	/* the same process in another cgroup (unknown id, no /proc entry) */
	expect(&f->id, req(4, AF_INET, "127.0.0.1", 8000, gone, 0, "gw"), "gw", "");
}

/* The Workload's tracing.instrumented goes with the observation, auto
 * where none says; a changed configuration is seen at the next request. */
static void test_workload_instrumented(void **state)
{
	struct fx *f = *state;
	uint32_t gone = 0x7ffffff0;
	struct obs o;

	if (!f->cg_id) {
		print_message("    not root or no cgroup v2: the Workload case is not run\n");
		skip();
	}
	f->wl[1].instrumented = CFG_INSTR_TRUE;
	identity_set_config(&f->id, &f->cfg);
	o = req(1, AF_INET, "127.0.0.1", 9000, gone, f->cg_id, "gw");
	identity_resolve(&f->id, &o);
	assert_int_equal(o.instrumented, OBS_INSTR_YES);
	o = req(2, AF_INET, "127.0.0.1", 8000, gone, f->cg_id, "gw");
	identity_resolve(&f->id, &o);
	assert_int_equal(o.instrumented, OBS_INSTR_AUTO);
	/* a Service endpoint, no Workload: auto */
	o = req(3, AF_INET, "127.0.0.1", 18081, 0, 0, "x");
	identity_resolve(&f->id, &o);
	assert_int_equal(o.instrumented, OBS_INSTR_AUTO);
	f->wl[0].instrumented = CFG_INSTR_FALSE;
	identity_set_config(&f->id, &f->cfg);
	o = req(2, AF_INET, "127.0.0.1", 8000, gone, f->cg_id, "gw");
	identity_resolve(&f->id, &o);
	assert_int_equal(o.instrumented, OBS_INSTR_NO);
}

#define POD_UID "3f0a7c1e-0e8e-4f55-b0a1-6b8b1c9d2e70"
#define POD_CID "4b825dc642cb6eb9a060e54bf8d69288fbee4904aa2e3c5e1f0a1b2c3d4e5f60"

/* Makes dir/rel one level at a time; its cgroup id, 0 on failure. */
static uint64_t mkcg(const char *dir, const char *rel, char *made, size_t len)
{
	char path[1024];
	const char *p = rel;

	while ((p = strchr(p, '/'))) {
		snprintf(path, sizeof(path), "%s/%.*s", dir, (int)(p - rel), rel);
		mkdir(path, 0755);
		p++;
	}
	snprintf(made, len, "%s/%s", dir, rel);
	if (mkdir(made, 0755))
		return 0;
	return cgroup_id_of(made);
}

/* Removes dir/rel and its parents up to dir. */
static void rmcg(const char *dir, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	while (strlen(path) > strlen(dir)) {
		rmdir(path);
		*strrchr(path, '/') = 0;
	}
}

/* A pod: found by its UID in a kubelet-style cgroup path below the test's
 * cgroup, with the container its runtime scope names; its identity goes
 * with the observation. */
static void test_pod_by_cgroup(void **state)
{
	static const char rel_ctr[] =
	    "kubepods.slice/kubepods-burstable.slice/"
	    "kubepods-burstable-pod3f0a7c1e_0e8e_4f55_b0a1_6b8b1c9d2e70.slice/"
	    "cri-containerd-" POD_CID ".scope";
	struct fx *f = *state;
	struct cfg_workload wl[3];
	struct cfg_container ctr[2] = {{"log-shipper", "containerd://0123"},
				       {"web", "containerd://" POD_CID}};
	char made[1024], pod_dir[1024];
	uint64_t ctr_id, pod_id;
	struct obs o;

	if (!f->cg_id) {
		print_message("    not root or no cgroup v2: the pod case is not run\n");
		skip();
	}
	ctr_id = mkcg(f->cg_path, rel_ctr, made, sizeof(made));
	snprintf(pod_dir, sizeof(pod_dir), "%s", made);
	*strrchr(pod_dir, '/') = 0;
	pod_id = cgroup_id_of(pod_dir);
	memcpy(wl, f->wl, 2 * sizeof(*wl));
	memset(&wl[2], 0, sizeof(wl[2]));
	snprintf(wl[2].meta.name, sizeof(wl[2].meta.name), "web-7c9f8d6b5d-x2kqp");
	snprintf(wl[2].meta.ns, sizeof(wl[2].meta.ns), "prod");
	snprintf(wl[2].service, sizeof(wl[2].service), "web");
	snprintf(wl[2].pod_name, sizeof(wl[2].pod_name), "web-7c9f8d6b5d-x2kqp");
	snprintf(wl[2].pod_uid, sizeof(wl[2].pod_uid), POD_UID);
	snprintf(wl[2].owner_kind, sizeof(wl[2].owner_kind), "Deployment");
	snprintf(wl[2].owner_name, sizeof(wl[2].owner_name), "web");
	wl[2].containers = ctr;
	wl[2].n_containers = 2;
	f->cfg.workloads = wl;
	f->cfg.n_workloads = 3;
	identity_set_config(&f->id, &f->cfg);
	identity_set_node_name(&f->id, "node-a");
	if (!ctr_id || !pod_id) {
		rmcg(f->cg_path, rel_ctr);
		fail_msg("could not make the pod's cgroups under %s", f->cg_path);
	}

	/* the container's cgroup: the pod beats the Workload of the test's
	 * cgroup, which holds it too */
	o = req(1, AF_INET, "127.0.0.1", 8080, 0x7ffffff0, ctr_id, "web");
	identity_resolve(&f->id, &o);
	assert_string_equal(o.service, "web");
	assert_string_equal(o.service_ns, "prod");
	assert_string_equal(o.k8s.pod_name, "web-7c9f8d6b5d-x2kqp");
	assert_string_equal(o.k8s.pod_uid, POD_UID);
	assert_string_equal(o.k8s.container_name, "web");
	assert_string_equal(o.k8s.owner_kind, "Deployment");
	assert_string_equal(o.k8s.owner_name, "web");
	/* no spec.nodeName: the agent's node */
	assert_string_equal(o.k8s.node_name, "node-a");

	/* the pod's own cgroup names no container; the pod's node wins */
	snprintf(wl[2].node_name, sizeof(wl[2].node_name), "kind-worker");
	identity_set_config(&f->id, &f->cfg);
	o = req(2, AF_INET, "127.0.0.1", 8080, 0x7ffffff0, pod_id, "web");
	identity_resolve(&f->id, &o);
	assert_string_equal(o.k8s.pod_uid, POD_UID);
	assert_string_equal(o.k8s.container_name, "");
	assert_string_equal(o.k8s.node_name, "kind-worker");

	/* a process of the Workload that is no pod carries no k8s identity */
	o = req(3, AF_INET, "127.0.0.1", 8000, 0x7ffffff0, f->cg_id, "gw");
	identity_resolve(&f->id, &o);
	assert_string_equal(o.service, "gateway");
	assert_string_equal(o.k8s.pod_uid, "");
	assert_string_equal(o.k8s.pod_name, "");
	rmcg(f->cg_path, rel_ctr);
}

static void test_once_per_socket(void **state)
{
	struct fx *f = *state;
	uint64_t resolved;

	identity_set_config(&f->id, &f->cfg);
	expect(&f->id, req(7, AF_INET, "127.0.0.1", 8000, 42, 0, "first"), "first", "");
	resolved = f->id.resolved;
	/* the same process again, and a request whose thread is unknown: the
	 * socket's service stands, nothing is resolved */
	expect(&f->id, req(7, AF_INET, "127.0.0.1", 8000, 42, 0, "first"), "first", "");
	expect(&f->id, req(7, AF_INET, "127.0.0.1", 8000, 0, 0, ""), "first", "");
	assert_int_equal(f->id.resolved, resolved);
	assert_int_equal(f->id.reused, 2);
	/* another process on the socket (a passed descriptor) */
	expect(&f->id, req(7, AF_INET, "127.0.0.1", 8000, 43, 0, "second"), "second", "");
	assert_int_equal(f->id.resolved, resolved + 1);
	/* a new configuration: resolved again, whatever the thread */
	identity_set_config(&f->id, NULL);
	expect(&f->id, req(7, AF_INET, "127.0.0.1", 8000, 0, 0, ""), "unknown_service", "");
	assert_int_equal(f->id.resolved, resolved + 2);
	/* closed: forgotten */
	expect(&f->id, req(8, AF_INET, "127.0.0.1", 8000, 44, 0, "third"), "third", "");
	assert_int_equal(f->id.n_socks, 2);
	identity_forget(&f->id, 8);
	identity_forget(&f->id, 999); /* never seen */
	assert_int_equal(f->id.n_socks, 1);
	expect(&f->id, req(8, AF_INET, "127.0.0.1", 8000, 0, 0, ""), "unknown_service", "");
}

static void test_bounded(void **state)
{
	struct fx *f = *state;

	for (uint64_t c = 1; c <= IDENTITY_SOCKETS + 100; c++) {
		struct obs o = req(c, AF_INET, "127.0.0.1", 8000, (uint32_t)c, 0, "p");

		identity_resolve(&f->id, &o);
	}
	assert_int_equal(f->id.n_socks, IDENTITY_SOCKETS);
	/* the least recently used went first: socket 1 is resolved anew */
	f->id.resolved = 0;
	expect(&f->id, req(IDENTITY_SOCKETS + 100, AF_INET, "127.0.0.1", 8000, 0, 0, ""), "p", "");
	assert_int_equal(f->id.resolved, 0);
	expect(&f->id, req(1, AF_INET, "127.0.0.1", 8000, 0, 0, ""), "unknown_service", "");
	assert_int_equal(f->id.resolved, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resolution_numbers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_service_endpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_workload_by_cgroup_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_workload_instrumented, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pod_by_cgroup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_once_per_socket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
