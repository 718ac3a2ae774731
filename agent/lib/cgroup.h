/* SPDX-License-Identifier: Apache-2.0 */
/* cgroup.h: finding the cgroup v2 mount and resolving cgroup paths. */
#ifndef BPFMESH_CGROUP_H
#define BPFMESH_CGROUP_H

#include <stddef.h>
#include <stdint.h>

/* The cgroup2 mount point from /proc/mounts, or -ENOENT. */
int cgroup2_mount(char *buf, size_t len);

/* An absolute path is used as is; a relative one is taken under the mount. */
int cgroup_resolve(const char *path, char *buf, size_t len);

/* The cgroup id (the kernfs inode number of its directory), or 0. */
uint64_t cgroup_id_of(const char *path);

#endif
