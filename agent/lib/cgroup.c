/* SPDX-License-Identifier: Apache-2.0 */
/* cgroup.c: cgroup v2 lookups. The mount point differs between hosts
 * (/sys/fs/cgroup, /sys/fs/cgroup/unified, ...), so it is always read from
 * /proc/mounts, never assumed. */
#include <errno.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/cgroup.h"

int cgroup2_mount(char *buf, size_t len)
{
	struct mntent *m;
	FILE *f = setmntent("/proc/mounts", "r");
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while ((m = getmntent(f))) {
		if (!strcmp(m->mnt_type, "cgroup2")) {
			snprintf(buf, len, "%s", m->mnt_dir);
			rc = 0;
			break;
		}
	}
	endmntent(f);
	return rc;
}

int cgroup_resolve(const char *path, char *buf, size_t len)
{
	char mnt[512];
	int rc;

	if (path && path[0] == '/') {
		snprintf(buf, len, "%s", path);
		return 0;
	}
	rc = cgroup2_mount(mnt, sizeof(mnt));
	if (rc)
		return rc;
	if (!path || !path[0])
		snprintf(buf, len, "%s", mnt);
	else
		snprintf(buf, len, "%s/%s", mnt, path);
	return 0;
}

uint64_t cgroup_id_of(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return 0;
	return st.st_ino;
}
