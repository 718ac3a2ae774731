/* SPDX-License-Identifier: Apache-2.0 */
/* bpffs.h: the BPF filesystem the pins live on: is it there, and mounting it
 * at its standard place when it is not (a fresh machine). */
#ifndef BPFMESH_BPFFS_H
#define BPFMESH_BPFFS_H

#include <stdbool.h>

/* Where systemd, Cilium and the kernel's docs put it. */
#define BPFFS_ROOT "/sys/fs/bpf"

/* BPFFS_ROOT when path is under it, else NULL: the only place bpfmesh mounts
 * a bpffs itself. */
const char *bpffs_std_root(const char *path);

/* dir is a directory on a bpffs. */
bool bpffs_is_at(const char *dir);

/* When path is under BPFFS_ROOT and no bpffs is mounted there, mount one and
 * say so in the log. 0, or a negative errno after logging why. */
int bpffs_mount_if_missing(const char *path);

#endif
