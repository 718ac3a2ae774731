/* SPDX-License-Identifier: Apache-2.0 */
/* Pod cgroups: the kubelet's pod and container cgroup names
 * (agent/lib/podcg_name.c): every QoS class under the systemd and
 * cgroupfs drivers, the containerd, CRI-O and Docker scopes, and names that
 * only look like them; and the search (podcg.c) over a directory tree laid
 * out like a node's, the kubepods root nested as kind nests it. */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/podcg.h"
#include "lib/podcg_name.h"

#define UID "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
#define UID_ "1b4e28ba_2fa1_11d2_883f_0016d3cca427"
#define CID "4a3bd56f0e1e7d8c0b2f8a9e6d5c4b3a29181716151413121110090807060504"

static void test_pod_paths(void **state)
{
	static const struct {
		enum podcg_driver drv;
		enum podcg_qos qos;
		const char *path;
	} cases[] = {
	    {PODCG_SYSTEMD, PODCG_GUARANTEED, "kubepods.slice/kubepods-pod" UID_ ".slice"},
	    {PODCG_SYSTEMD, PODCG_BURSTABLE,
	     "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice"},
	    {PODCG_SYSTEMD, PODCG_BESTEFFORT,
	     "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice"},
	    {PODCG_CGROUPFS, PODCG_GUARANTEED, "kubepods/pod" UID},
	    {PODCG_CGROUPFS, PODCG_BURSTABLE, "kubepods/burstable/pod" UID},
	    {PODCG_CGROUPFS, PODCG_BESTEFFORT, "kubepods/besteffort/pod" UID},
	};
	char buf[256], uid[PODCG_UID_LEN + 1];
	enum podcg_qos qos;
	enum podcg_driver drv;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *leaf;

		assert_int_equal(podcg_pod_path(buf, sizeof(buf), cases[i].drv, cases[i].qos, UID),
				 strlen(cases[i].path));
		assert_string_equal(buf, cases[i].path);
		/* the last component reads back as the pod, and every
		 * directory above it as a kubepods level the search enters */
		leaf = strrchr(buf, '/') + 1;
		memset(uid, 0, sizeof(uid));
		assert_true(podcg_parse_pod(leaf, uid, &qos, &drv));
		assert_string_equal(uid, UID);
		assert_int_equal(drv, cases[i].drv);
		if (drv == PODCG_SYSTEMD)
			assert_int_equal(qos, cases[i].qos);
		for (char *p = strtok(buf, "/"); p && p < leaf; p = strtok(NULL, "/"))
			assert_true(podcg_is_kubepods_dir(p));
	}
	/* no room, a UID that is not one, a QoS class out of range */
	assert_int_equal(podcg_pod_path(buf, 20, PODCG_SYSTEMD, PODCG_BURSTABLE, UID), -1);
	assert_int_equal(podcg_pod_path(buf, sizeof(buf), PODCG_SYSTEMD, PODCG_BURSTABLE, "x"), -1);
	assert_int_equal(podcg_pod_path(buf, sizeof(buf), PODCG_CGROUPFS, PODCG_BURSTABLE, UID_),
			 -1);
	assert_int_equal(podcg_pod_path(buf, sizeof(buf), PODCG_CGROUPFS, 7, UID), -1);
}

static void test_pod_names(void **state)
{
	char uid[PODCG_UID_LEN + 1];
	enum podcg_qos qos;
	enum podcg_driver drv;

	(void)state;
	/* kind's --cgroup-root prefixes the systemd names */
	assert_true(
	    podcg_parse_pod("kubelet-kubepods-besteffort-pod" UID_ ".slice", uid, &qos, &drv));
	assert_string_equal(uid, UID);
	assert_int_equal(qos, PODCG_BESTEFFORT);
	/* upper-case hex is a UID too */
	assert_true(podcg_parse_pod("pod1B4E28BA-2FA1-11D2-883F-0016D3CCA427", uid, &qos, &drv));
	assert_int_equal(drv, PODCG_CGROUPFS);
	/* look-alikes */
	static const char *const not_pods[] = {
	    "kubepods.slice",
	    "kubepods-burstable.slice",
	    "kubepods-pod" UID ".slice",   /* dashes where systemd has '_' */
	    "kubepods-pod" UID_,	   /* no .slice */
	    "kubepods-pod" UID_ ".slice2", /* trailing */
	    "xkubepods-pod" UID_ ".slice", /* no '-' before kubepods */
	    "kubepods-guaranteed-pod" UID_ ".slice",
	    "pod" UID_, /* cgroupfs keeps the dashes */
	    "pod" UID "0",
	    "pod1b4e28ba-2fa1-11d2-883f-0016d3cca42",
	    "pod1b4e28ba-2fa1-11d2-883f-0016d3cca42g",
	    "podcast",
	    "cri-containerd-" CID ".scope",
	};
	for (size_t i = 0; i < sizeof(not_pods) / sizeof(not_pods[0]); i++)
		assert_false(podcg_parse_pod(not_pods[i], uid, &qos, &drv));
	assert_false(podcg_is_kubepods_dir("system.slice"));
	assert_false(podcg_is_kubepods_dir("guaranteed"));
}

static void test_containers(void **state)
{
	static const struct {
		const char *cid;
		enum podcg_runtime rt;
		const char *systemd;
	} cases[] = {
	    {"containerd://" CID, PODCG_RT_CONTAINERD, "cri-containerd-" CID ".scope"},
	    {"cri-o://" CID, PODCG_RT_CRIO, "crio-" CID ".scope"},
	    {"docker://" CID, PODCG_RT_DOCKER, "docker-" CID ".scope"},
	};
	char buf[256], id[128];
	enum podcg_runtime rt;
	const char *idp;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_true(podcg_parse_container_id(cases[i].cid, &rt, &idp));
		assert_int_equal(rt, cases[i].rt);
		assert_string_equal(idp, CID);
		/* systemd: the runtime's scope; cgroupfs: the bare id */
		assert_true(podcg_container_name(buf, sizeof(buf), PODCG_SYSTEMD, rt, idp) > 0);
		assert_string_equal(buf, cases[i].systemd);
		assert_true(podcg_parse_container(buf, &rt, id, sizeof(id)));
		assert_int_equal(rt, cases[i].rt);
		assert_string_equal(id, CID);
		assert_true(
		    podcg_container_name(buf, sizeof(buf), PODCG_CGROUPFS, cases[i].rt, idp) > 0);
		assert_string_equal(buf, CID);
		assert_true(podcg_parse_container(buf, &rt, id, sizeof(id)));
		assert_int_equal(rt, PODCG_RT_UNKNOWN);
	}
	assert_false(podcg_parse_container_id("rkt://" CID, &rt, &idp));
	assert_false(podcg_parse_container_id("containerd://", &rt, &idp));
	assert_false(podcg_parse_container("cri-containerd-.scope", &rt, id, sizeof(id)));
	assert_false(podcg_parse_container("cri-containerd-xyz.scope", &rt, id, sizeof(id)));
	assert_false(podcg_parse_container("session-4.scope", &rt, id, sizeof(id)));
	assert_false(podcg_parse_container("crio-conmon-" CID ".scope", &rt, id, sizeof(id)));
	assert_false(podcg_parse_container("cri-containerd-" CID ".scope", &rt, id, 16));
	assert_int_equal(podcg_container_name(buf, sizeof(buf), PODCG_SYSTEMD, PODCG_RT_CRIO, ""),
			 -1);
	assert_int_equal(podcg_container_name(buf, 10, PODCG_SYSTEMD, PODCG_RT_CRIO, CID), -1);
}

static void mkdirs(const char *root, const char *rel)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", root, rel);

	for (int i = (int)strlen(root) + 1; i <= n; i++) {
		if (path[i] != '/' && path[i])
			continue;
		path[i] = 0;
		mkdir(path, 0755);
		if (i < n)
			path[i] = '/';
	}
}

#define UID2 "00000000-0000-0000-0000-00000000000b"
#define UID3 "00000000-0000-0000-0000-00000000000c"

static void test_search(void **state)
{
	char root[] = "/tmp/podcg-test.XXXXXX", agent_cg[PATH_MAX], cmd[PATH_MAX + 16];
	struct cfg_workload wl[4] = {};
	struct mesh_config cfg = {.workloads = wl, .n_workloads = 4};
	struct podcg_result r;

	(void)state;
	assert_non_null(mkdtemp(root));
	/* systemd driver, nested under another cgroup (kind); cgroupfs at the top */
	mkdirs(root, "system.slice/ssh.service");
	mkdirs(root, "kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
		     "kubelet-kubepods-burstable-pod" UID_ ".slice/cri-containerd-" CID ".scope");
	mkdirs(root, "kubepods/besteffort/pod" UID2 "/" CID);
	snprintf(wl[0].pod_uid, sizeof(wl[0].pod_uid), "%s", UID);
	snprintf(wl[1].pod_uid, sizeof(wl[1].pod_uid), "%s", UID2);
	snprintf(wl[2].pod_uid, sizeof(wl[2].pod_uid), "%s", UID3);
	/* a Workload document keeps its own cgroup */
	snprintf(wl[3].cgroup, sizeof(wl[3].cgroup), "system.slice/ssh.service");
	snprintf(agent_cg, sizeof(agent_cg), "%s/kubelet.slice", root);

	assert_int_equal(podcg_unresolved(&cfg), 3);
	podcg_fill(&cfg, root, agent_cg, &r);
	assert_int_equal(r.found, 2);
	assert_int_equal(r.unresolved, 1);
	assert_false(r.truncated);
	assert_string_equal(wl[0].cgroup, "kubelet.slice/kubelet-kubepods.slice/"
					  "kubelet-kubepods-burstable.slice/"
					  "kubelet-kubepods-burstable-pod" UID_ ".slice");
	assert_string_equal(wl[1].cgroup, "kubepods/besteffort/pod" UID2);
	assert_string_equal(wl[2].cgroup, "");
	assert_string_equal(wl[3].cgroup, "system.slice/ssh.service");

	/* the third pod's cgroup is made later: found by the next search,
	 * which leaves the others alone */
	mkdirs(root, "kubepods/pod" UID3);
	podcg_fill(&cfg, root, NULL, &r);
	assert_int_equal(r.found, 1);
	assert_int_equal(r.unresolved, 0);
	assert_string_equal(wl[2].cgroup, "kubepods/pod" UID3);
	assert_int_equal(podcg_unresolved(&cfg), 0);
	/* nothing to look for: no directory read */
	podcg_fill(&cfg, root, NULL, &r);
	assert_int_equal(r.dirs, 0);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pod_paths),
	    cmocka_unit_test(test_pod_names),
	    cmocka_unit_test(test_containers),
	    cmocka_unit_test(test_search),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
