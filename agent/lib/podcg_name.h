/* SPDX-License-Identifier: Apache-2.0 */
/* podcg_name.h: the names the kubelet gives pod and container cgroups, with
 * no file system behind them: which directory name is which pod, and the
 * path a pod of a QoS class gets under each cgroup driver.
 *
 *   systemd:  kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice/<scope>
 *             (Guaranteed: kubepods.slice/kubepods-pod<uid_>.slice; uid_ is the
 *             UID with '-' replaced by '_')
 *   cgroupfs: kubepods/<qos>/pod<uid>/<container id>  (Guaranteed: kubepods/pod<uid>)
 *   scopes:   cri-containerd-<id>.scope, crio-<id>.scope, docker-<id>.scope */
#ifndef BPFMESH_PODCG_NAME_H
#define BPFMESH_PODCG_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define PODCG_UID_LEN 36 /* 8-4-4-4-12 hex digits and dashes */

enum podcg_driver { PODCG_SYSTEMD = 0, PODCG_CGROUPFS = 1 };
enum podcg_qos { PODCG_GUARANTEED = 0, PODCG_BURSTABLE = 1, PODCG_BESTEFFORT = 2 };
enum podcg_runtime {
	PODCG_RT_UNKNOWN = 0,
	PODCG_RT_CONTAINERD = 1,
	PODCG_RT_CRIO = 2,
	PODCG_RT_DOCKER = 3,
};

/* A directory name that is a pod's cgroup: true with the pod's UID (with
 * dashes, PODCG_UID_LEN + 1 bytes), its QoS class and the driver that named
 * it. A systemd name may carry a prefix ("kubelet-kubepods-...": kind's
 * --cgroup-root); a cgroupfs pod's QoS class is its parent directory's name,
 * so it reads as guaranteed here. */
bool podcg_parse_pod(const char *name, char *uid, enum podcg_qos *qos, enum podcg_driver *drv);

/* A directory name that is a kubepods root or QoS level ("kubepods",
 * "kubepods.slice", "burstable", "kubepods-besteffort.slice", ...): where a
 * search goes on looking for pods. */
bool podcg_is_kubepods_dir(const char *name);

/* The pod's cgroup relative to the directory that holds the kubepods root,
 * e.g. "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice".
 * uid with dashes. The length written, or -1 (bad UID, or no room). */
int podcg_pod_path(char *buf, size_t len, enum podcg_driver drv, enum podcg_qos qos,
		   const char *uid);

/* A container's cgroup name below its pod's: "cri-containerd-<id>.scope"
 * (systemd) or "<id>" (cgroupfs). -1 as above. */
int podcg_container_name(char *buf, size_t len, enum podcg_driver drv, enum podcg_runtime rt,
			 const char *id);

/* A container cgroup's name: true with its runtime and id (up to idlen
 * bytes); "<runtime>-<id>" without ".scope" too. A bare cgroupfs name is
 * PODCG_RT_UNKNOWN. A conmon scope ("crio-conmon-<id>.scope") is no
 * container's. */
bool podcg_parse_container(const char *name, enum podcg_runtime *rt, char *id, size_t idlen);

/* The runtime and id of a container ID as the kubelet reports it,
 * "containerd://<id>", "cri-o://<id>", "docker://<id>". */
bool podcg_parse_container_id(const char *cid, enum podcg_runtime *rt, const char **id);

const char *podcg_qos_name(enum podcg_qos qos); /* "guaranteed", "burstable", "besteffort" */

#endif
