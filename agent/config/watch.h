/* SPDX-License-Identifier: Apache-2.0 */
/* watch.h: when to re-read the configuration path. It watches the path, not
 * the directory it named at start: a directory moved away, deleted and made
 * again, or a Kubernetes ConfigMap volume swapping its "..data" symlink, is
 * followed to whatever the path names now. A file still being written is
 * waited for (until it is closed, at most CFGW_WRITE_WAIT_NS), so a reload
 * never sees half a file that happens to parse.
 *
 *   cfgw_open(&w, path);
 *   poll cfgw_fd(&w); on POLLIN cfgw_read(&w, now);
 *   every loop: cfgw_check(&w, now); if (cfgw_due(&w, now)) reload;
 *
 * Single-threaded; never blocks. */
#ifndef BPFMESH_CFG_WATCH_H
#define BPFMESH_CFG_WATCH_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CFGW_QUIET_NS 150000000ULL	 /* a multi-file update is seen whole */
#define CFGW_WRITE_WAIT_NS 5000000000ULL /* a file held open longer is read anyway */
#define CFGW_CHECK_NS 1000000000ULL	 /* re-check what the path names */
#define CFGW_WRITING_MAX 16		 /* files tracked as being written */

struct cfg_watch {
	int fd;	       /* inotify, -1 when inotify is unavailable */
	int wd_dir;    /* the directory whose files make the configuration, -1: none */
	int wd_parent; /* its parent, to see the directory itself replaced */
	bool is_file;  /* the path is one file: only its name matters */
	char path[PATH_MAX];
	char dir[PATH_MAX]; /* path (a directory) or its directory (a file) */
	char parent[PATH_MAX];
	char name[NAME_MAX + 1]; /* the last component of dir (or of path, for a file) */
	dev_t dev;		 /* what dir named when it was watched */
	ino_t ino;
	uint64_t changed_ns; /* last relevant event, 0: nothing pending */
	uint64_t checked_ns;
	char writing[CFGW_WRITING_MAX][NAME_MAX + 1]; /* written, not yet closed */
	int n_writing;
	uint64_t writing_since;
	uint64_t rewatches; /* times the directory was found replaced and watched again */
};

/* Starts watching; a path that does not exist yet is watched for through
 * its parent. 0 or a negative errno (then the caller has no watch; logged). */
int cfgw_open(struct cfg_watch *w, const char *path);
void cfgw_close(struct cfg_watch *w);
int cfgw_fd(const struct cfg_watch *w);
/* Reads every pending event. */
void cfgw_read(struct cfg_watch *w, uint64_t now_ns);
/* Every loop: once a second, checks that the watched directory is still the
 * one the path names, and watches the new one when not (logged). */
void cfgw_check(struct cfg_watch *w, uint64_t now_ns);
/* Whether to reload now: something changed, the path has been quiet for
 * CFGW_QUIET_NS, and no file is being written (or has been for longer than
 * CFGW_WRITE_WAIT_NS). Clears the pending change when it says yes. */
bool cfgw_due(struct cfg_watch *w, uint64_t now_ns);
/* Ask for a reload at the next cfgw_due() (SIGHUP). */
void cfgw_poke(struct cfg_watch *w, uint64_t now_ns);

#endif
