/* SPDX-License-Identifier: Apache-2.0 */
/* podcg.h: whether a cgroup v2 path is a pod's, and which container's, read
 * from the names the kubelet gives its cgroups:
 *   systemd driver:  kubepods.slice/kubepods-<qos>.slice/
 *                    kubepods-<qos>-pod<uid, '-' as '_'>.slice/<runtime>-<id>.scope
 *                    (guaranteed pods: kubepods-pod<uid>.slice under kubepods.slice)
 *   cgroupfs driver: kubepods/<qos>/pod<uid>/<id>   (guaranteed: kubepods/pod<uid>/<id>)
 * where <runtime> is cri-containerd, crio or docker. Anything above the
 * kubepods level (a test's cgroup, a kind node's) does not matter: the pod
 * is found by its UID in one path component. Pure functions. */
#ifndef BPFMESH_PODCG_H
#define BPFMESH_PODCG_H

#include <stdbool.h>
#include <stddef.h>

/* Whether path (relative or absolute) lies in the cgroup of the pod with
 * UID uid. When it does and names a container below the pod's cgroup, its
 * id (the runtime's, hex) goes to cid, else cid is "". */
bool podcg_match(const char *path, const char *uid, char *cid, size_t cid_len);

/* Whether a container id from status.containerStatuses
 * ("containerd://<hex>", "cri-o://<hex>", "docker://<hex>") is cid. */
bool podcg_same_container(const char *status_id, const char *cid);

#endif
