/* SPDX-License-Identifier: Apache-2.0 */
/* bpffs.c: mounting bpffs where a fresh machine has none, as Cilium's agent
 * does: Debian 12 without systemd's mount (a container, a minimal VM) has an
 * empty /sys/fs/bpf directory of sysfs, and pins cannot go there. tracefs is
 * not mounted: the agent's tracepoints are tp_btf programs, attached by BTF
 * id through BPF_RAW_TRACEPOINT_OPEN, which never read tracefs. */
#include <errno.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "lib/bpffs.h"
#include "lib/log.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

const char *bpffs_std_root(const char *path)
{
	size_t n = strlen(BPFFS_ROOT);

	return !strncmp(path, BPFFS_ROOT, n) && (path[n] == '/' || !path[n]) ? BPFFS_ROOT : NULL;
}

bool bpffs_is_at(const char *dir)
{
	struct statfs sfs;

	return !statfs(dir, &sfs) && sfs.f_type == BPF_FS_MAGIC;
}

int bpffs_mount_if_missing(const char *path)
{
	const char *root = bpffs_std_root(path);
	int err;

	if (!root || bpffs_is_at(root))
		return 0;
	/* sysfs has the directory; a bare /sys/fs (a tmpfs) may not */
	if (mkdir(root, 0755) && errno != EEXIST) {
		err = -errno;
		log_error("bpffs is not mounted at %s and %s cannot be created: %s", root, root,
			  strerror(-err));
		return err;
	}
	/* systemd's options: only root may look inside */
	if (mount("bpf", root, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700")) {
		err = -errno;
		log_error("bpffs is not mounted at %s and mounting it failed: %s (mount -t bpf "
			  "bpf %s)",
			  root, strerror(-err), root);
		return err;
	}
	log_info("mounted bpffs at %s (none was mounted there; mode 0700, nosuid, nodev, noexec)",
		 root);
	return 0;
}
