/* SPDX-License-Identifier: Apache-2.0 */
/* test_podcg_match.c: a pod and its container from the cgroup path, in the forms
 * the kubelet writes with either cgroup driver, every QoS class and the
 * usual runtimes, under whatever parent cgroup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "trace/podcg.h"

#define UID "3f0a7c1e-0e8e-4f55-b0a1-6b8b1c9d2e70"
#define UID_ "3f0a7c1e_0e8e_4f55_b0a1_6b8b1c9d2e70"
#define CID "4b825dc642cb6eb9a060e54bf8d69288fbee4904aa2e3c5e1f0a1b2c3d4e5f60"

static void expect(const char *path, bool match, const char *cid)
{
	char got[128] = "junk";

	if (podcg_match(path, UID, got, sizeof(got)) != match)
		fail_msg("%s: expected %s", path, match ? "a match" : "no match");
	if (strcmp(got, cid))
		fail_msg("%s: expected container '%s', got '%s'", path, cid, got);
}

static void test_systemd(void **state)
{
	(void)state;
	expect("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	       ".slice/cri-containerd-" CID ".scope",
	       true, CID);
	expect("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	       ".slice/crio-" CID ".scope",
	       true, CID);
	/* guaranteed pods sit right under kubepods.slice */
	expect("kubepods.slice/kubepods-pod" UID_ ".slice/docker-" CID ".scope", true, CID);
	/* the pod's own cgroup, and a conmon scope: no container */
	expect("kubepods.slice/kubepods-pod" UID_ ".slice", true, "");
	expect("kubepods.slice/kubepods-pod" UID_ ".slice/crio-conmon-" CID ".scope", true, "");
	/* below a kind node's or a test's cgroup */
	expect("system.slice/docker-abc.scope/kubelet.slice/kubepods.slice/kubepods-pod" UID_
	       ".slice/cri-containerd-" CID ".scope",
	       true, CID);
}

static void test_cgroupfs(void **state)
{
	(void)state;
	expect("kubepods/burstable/pod" UID "/" CID, true, CID);
	expect("kubepods/besteffort/pod" UID "/" CID "/", true, CID);
	expect("kubepods/pod" UID "/" CID, true, CID);
	expect("kubepods/pod" UID, true, "");
	expect("bpfmesh-e2e/kubepods/pod" UID "/docker-" CID, true, CID);
}

static void test_no_match(void **state)
{
	char cid[128];

	(void)state;
	expect("", false, "");
	expect("kubepods/burstable/pod" UID "x/" CID, false, "");
	expect("kubepods/burstable/podX" UID "/" CID, false, "");
	expect("kubepods.slice/kubepods-pod" UID ".slice/x", false, ""); /* dashes kept */
	expect("kubepods.slice/kubepods-pod" UID_ "0.slice/x", false, "");
	expect("system.slice/pod" UID_ ".slice", false, "");
	expect("user.slice/user-0.slice/session-1.scope", false, "");
	/* not a hex id: no container */
	expect("kubepods/pod" UID "/not-an-id", true, "");
	assert_false(podcg_match("kubepods/pod" UID, "", cid, sizeof(cid)));
}

static void test_same_container(void **state)
{
	(void)state;
	assert_true(podcg_same_container("containerd://" CID, CID));
	assert_true(podcg_same_container("cri-o://" CID, CID));
	assert_true(podcg_same_container(CID, CID));
	assert_false(podcg_same_container("containerd://" CID, "4b82"));
	assert_false(podcg_same_container("", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_systemd),
	    cmocka_unit_test(test_cgroupfs),
	    cmocka_unit_test(test_no_match),
	    cmocka_unit_test(test_same_container),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
