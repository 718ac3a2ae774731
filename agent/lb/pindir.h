/* SPDX-License-Identifier: Apache-2.0 */
/* pindir.h: the pin directory (<bpffs>/maps, <bpffs>/links), trusted only
 * when it deserves it, and held by one process at a time.
 *
 * /sys/fs/bpf is mode 1777 on many hosts: anyone can make the pin directory
 * before the agent does and put a symlink to another agent's link in it, or
 * empty it later. So the path is walked component by component with
 * O_NOFOLLOW; every directory of it on the bpffs must be owned by root (or by
 * the user the agent runs as) and writable by nobody else (a sticky
 * directory above the pin directory, like /sys/fs/bpf itself, excepted); and
 * every later use goes through the directory fds checked here: pins are
 * opened with O_PATH|O_NOFOLLOW and handed to the kernel as /proc/self/fd/N,
 * so nothing can be swapped between the check and the use. A flock on the
 * directory <pin dir>/lock keeps a second agent, and detach, off a pin
 * directory in use; bpffs cannot hold regular files, and flock works on a
 * directory's fd as well. */
#ifndef BPFMESH_PINDIR_H
#define BPFMESH_PINDIR_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

enum pin_sub { PIN_MAPS, PIN_LINKS, PIN_NSUB };

struct pindir {
	char path[512];	      /* as walked: no doubled or trailing slash */
	int parent_fd;	      /* the directory holding the pin directory */
	int fd;		      /* the pin directory */
	int sub_fd[PIN_NSUB]; /* maps/ and links/; -1: absent */
	int lock_fd;	      /* lock/, flock()ed; -1: not held */
	pid_t holder;	      /* after -EBUSY: who holds the lock (0: unknown) */
};

#define PINDIR_CREATE 1u /* make what is missing, 0700 (the agent) */
#define PINDIR_NOLOCK 2u /* do not take the lock (detach --force) */

/* A pindir that holds nothing (pindir_close() is then a no-op). */
void pindir_init(struct pindir *pd);
/* Walk, check and open path; then lock it. 0; -ENOENT when it does not
 * exist (without PINDIR_CREATE; nothing logged); -EBUSY when another process
 * holds the lock (pd->holder; nothing logged); another negative errno after
 * logging why (an untrusted directory: -EPERM; a symlink: -ELOOP). Either
 * way pindir_close() releases what was opened. */
int pindir_open(struct pindir *pd, const char *path, unsigned flags);
void pindir_close(struct pindir *pd);

/* Refuse (-ELOOP or -EINVAL, logged) when maps/ or links/ hold anything but
 * pins: only root could have put it there, and the agent follows nothing. */
int pindir_check_entries(const struct pindir *pd);

/* The object pinned as sub/name: an fd; -ENOENT when nothing is pinned there
 * (nothing logged); another negative errno after logging (a symlink: -ELOOP). */
int pindir_get(const struct pindir *pd, enum pin_sub sub, const char *name);
/* Pin fd as sub/name (never over an existing entry). 0 or a negative errno
 * after logging. */
int pindir_pin(const struct pindir *pd, enum pin_sub sub, const char *name, int fd);
/* Remove the pin sub/name: 0, -ENOENT, or a negative errno after logging
 * (anything but a pin is left in place). */
int pindir_unpin(const struct pindir *pd, enum pin_sub sub, const char *name);
/* The entries of sub, on a descriptor of their own (closedir() it), or NULL. */
DIR *pindir_opendir(const struct pindir *pd, enum pin_sub sub);
/* Remove maps/, links/, lock/ and the pin directory; what is not empty stays
 * (logged). Returns the number of directories left. */
int pindir_remove(struct pindir *pd);

/* Why a directory on the bpffs is not trusted: PD_OWNER, PD_WRITABLE or
 * PD_TRUSTED. pin_dir: the pin directory or one below it (no sticky excuse). */
enum pd_trust { PD_TRUSTED, PD_OWNER, PD_WRITABLE };
enum pd_trust pindir_trust(uid_t owner, mode_t mode, bool pin_dir, uid_t euid);
/* The pid holding a flock on (dev, ino) in /proc/locks' format, or 0. */
pid_t pindir_lock_holder(FILE *locks, dev_t dev, ino_t ino);

#endif
