/* SPDX-License-Identifier: Apache-2.0 */
/* pindir.c: walking, checking, locking and using the pin directory without
 * ever following a symlink in it (see pindir.h for why). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lb/pindir.h"
#include "lib/log.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static const char *const sub_names[PIN_NSUB] = {"maps", "links"};

enum pd_trust pindir_trust(uid_t owner, mode_t mode, bool pin_dir, uid_t euid)
{
	if (owner != 0 && owner != euid)
		return PD_OWNER;
	/* in a sticky directory others may add entries but not rename or
	 * remove ours: fine above the pin directory, never for it */
	if ((mode & (S_IWGRP | S_IWOTH)) && (pin_dir || !(mode & S_ISVTX)))
		return PD_WRITABLE;
	return PD_TRUSTED;
}

pid_t pindir_lock_holder(FILE *locks, dev_t dev, ino_t ino)
{
	char line[256], type[16];
	unsigned maj, min;
	unsigned long i;
	int pid;

	/* "1: FLOCK  ADVISORY  WRITE 1234 00:1f:5678 0 EOF"; waiters read
	 * "1: -> FLOCK ..." and are skipped by the type */
	while (fgets(line, sizeof(line), locks))
		if (sscanf(line, "%*d: %15s %*s %*s %d %x:%x:%lu", type, &pid, &maj, &min, &i) ==
			5 &&
		    !strcmp(type, "FLOCK") && maj == major(dev) && min == minor(dev) &&
		    i == (unsigned long)ino && pid > 0)
			return pid;
	return 0;
}

static pid_t find_holder(int fd)
{
	struct stat st;
	FILE *f;
	pid_t pid;

	if (fstat(fd, &st))
		return 0;
	f = fopen("/proc/locks", "re");
	if (!f)
		return 0;
	pid = pindir_lock_holder(f, st.st_dev, st.st_ino);
	fclose(f);
	return pid;
}

static bool on_bpffs(int fd)
{
	struct statfs sfs;

	return !fstatfs(fd, &sfs) && sfs.f_type == BPF_FS_MAGIC;
}

/* Log why shown is not trusted, or return 0. */
static int check_trust(int fd, const char *shown, bool pin_dir)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	switch (pindir_trust(st.st_uid, st.st_mode, pin_dir, geteuid())) {
	case PD_TRUSTED:
		return 0;
	case PD_OWNER:
		log_error("%s is owned by uid %u (mode %04o), not root: bpfmesh pins only under "
			  "directories that root owns and nobody else may write to; remove it or "
			  "pick another --bpffs",
			  shown, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		break;
	case PD_WRITABLE:
		log_error("%s is writable by its group or others (mode %04o), owner uid %u: "
			  "bpfmesh pins only under directories that root owns and nobody else "
			  "may write to; remove it, chmod go-w it, or pick another --bpffs",
			  shown, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
		break;
	}
	return -EPERM;
}

/* Say why name (shown) in dfd cannot be opened as a directory. */
static int explain_open_error(int dfd, const char *name, const char *shown, int err)
{
	struct stat st;

	if ((err == -ELOOP || err == -ENOTDIR) && !fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW)) {
		if (S_ISLNK(st.st_mode)) {
			log_error("%s is a symbolic link: bpfmesh follows no symlink on the way "
				  "to or in its pin directory; remove it, or give the real path",
				  shown);
			return -ELOOP;
		}
		log_error("%s is not a directory", shown);
		return -ENOTDIR;
	}
	if (err != -ENOENT)
		log_error("opening %s: %s", shown, strerror(-err));
	return err;
}

/* Open directory name in dfd without following a symlink; with create,
 * make it (0700) when it is missing. */
static int open_dir(int dfd, const char *name, const char *shown, bool create)
{
	int fd = openat(dfd, name, DIR_FLAGS), err;

	if (fd < 0 && errno == ENOENT && create) {
		if (!mkdirat(dfd, name, 0700)) {
			fd = openat(dfd, name, DIR_FLAGS);
			/* the umask may have taken more than asked for */
			if (fd >= 0 && fchmod(fd, 0700)) {
				err = -errno;
				close(fd);
				log_error("chmod 0700 %s: %s", shown, strerror(-err));
				return err;
			}
		} else if (errno == EEXIST) {
			fd = openat(dfd, name, DIR_FLAGS);
		} else {
			err = -errno;
			log_error("creating %s: %s", shown, strerror(-err));
			return err;
		}
	}
	return fd >= 0 ? fd : explain_open_error(dfd, name, shown, -errno);
}

/* Walk pd->path from / to the pin directory: no symlink anywhere, every
 * directory on the bpffs checked; nothing is created outside a bpffs. */
static int walk(struct pindir *pd, const char *path, bool create)
{
	char buf[sizeof(pd->path)], *comp, *save = NULL, *next;
	bool bpf = false;
	int dfd, fd, err;

	if (path[0] != '/') {
		log_error("pin directory %s: give an absolute path", path);
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(buf)) {
		log_error("pin directory %s: path too long", path);
		return -ENAMETOOLONG;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	pd->path[0] = 0;
	dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	for (comp = strtok_r(buf, "/", &save); comp; comp = next) {
		next = strtok_r(NULL, "/", &save);
		if (!strcmp(comp, ".."))
			err = -EINVAL;
		else if (!strcmp(comp, "."))
			continue;
		else
			err = 0;
		snprintf(pd->path + strlen(pd->path), sizeof(pd->path) - strlen(pd->path), "/%s",
			 comp);
		if (err) {
			log_error("pin directory %s: '..' is not allowed in it", path);
			goto fail;
		}
		fd = open_dir(dfd, comp, pd->path, create && bpf);
		if (fd < 0) {
			err = fd;
			if (err == -ENOENT && create)
				log_error(
				    "%s does not exist and %s is not on a bpffs: mount one (mount "
				    "-t bpf bpf DIR), or pick a --bpffs under /sys/fs/bpf",
				    pd->path, path);
			goto fail;
		}
		bpf = on_bpffs(fd);
		/* above the bpffs, only root can change anything */
		if (bpf && (err = check_trust(fd, pd->path, !next))) {
			close(fd);
			goto fail;
		}
		if (!next) {
			pd->parent_fd = dfd;
			pd->fd = fd;
			break;
		}
		close(dfd);
		dfd = fd;
	}
	if (pd->fd < 0) {
		log_error("pin directory %s: not a directory under /", path);
		err = -EINVAL;
		goto fail;
	}
	if (!bpf) {
		log_error("%s is not on a bpffs: mount one there (mount -t bpf bpf DIR), or pick a "
			  "--bpffs under /sys/fs/bpf",
			  pd->path);
		return -ENOTSUP;
	}
	return 0;
fail:
	close(dfd);
	return err;
}

static bool still_linked(const struct pindir *pd)
{
	const char *name = strrchr(pd->path, '/') + 1;
	struct stat a, b;

	return !fstatat(pd->parent_fd, name, &a, AT_SYMLINK_NOFOLLOW) && !fstat(pd->fd, &b) &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Open (or make) a directory below the pin directory; -ENOENT when absent
 * and not asked to make it. */
static int open_below(const struct pindir *pd, const char *name, bool create)
{
	char shown[sizeof(pd->path) + 16];
	int fd, err;

	snprintf(shown, sizeof(shown), "%s/%s", pd->path, name);
	fd = open_dir(pd->fd, name, shown, create);
	if (fd < 0)
		return fd;
	err = check_trust(fd, shown, true);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static int take_lock(struct pindir *pd)
{
	int fd = open_below(pd, "lock", true);

	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = -errno;

		if (err == -EWOULDBLOCK) {
			pd->holder = find_holder(fd);
			err = -EBUSY;
		} else {
			log_error("locking %s/lock: %s", pd->path, strerror(-err));
		}
		close(fd);
		return err;
	}
	pd->lock_fd = fd;
	return 0;
}

void pindir_init(struct pindir *pd)
{
	pd->parent_fd = pd->fd = pd->lock_fd = -1;
	for (int i = 0; i < PIN_NSUB; i++)
		pd->sub_fd[i] = -1;
}

int pindir_open(struct pindir *pd, const char *path, unsigned flags)
{
	bool create = flags & PINDIR_CREATE;
	int err, i, tries;

	memset(pd, 0, sizeof(*pd));
	pindir_init(pd);
	for (tries = 0;; tries++) {
		err = walk(pd, path, create);
		if (err || (flags & PINDIR_NOLOCK))
			break;
		err = take_lock(pd);
		/* a detach may have removed the directory between the walk and
		 * the lock: then the lock guards nothing, start over */
		if (err || still_linked(pd))
			break;
		pindir_close(pd);
		if (tries == 3) {
			log_error("%s keeps being replaced while it is locked", pd->path);
			return -EAGAIN;
		}
	}
	for (i = 0; !err && i < PIN_NSUB; i++) {
		pd->sub_fd[i] = open_below(pd, sub_names[i], create);
		if (pd->sub_fd[i] == -ENOENT && !create)
			continue;
		if (pd->sub_fd[i] < 0)
			err = pd->sub_fd[i];
	}
	return err;
}

void pindir_close(struct pindir *pd)
{
	int *fds[] = {&pd->parent_fd, &pd->fd, &pd->lock_fd, &pd->sub_fd[0], &pd->sub_fd[1]};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	pindir_init(pd);
}

/* What an entry of sub is, without following it: 0 for a pin, or a
 * negative errno after logging. */
static int check_entry(const struct pindir *pd, enum pin_sub sub, const char *name,
		       const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		return 0;
	if (S_ISLNK(st->st_mode)) {
		log_error("%s/%s/%s is a symbolic link: bpfmesh follows no symlink in its pin "
			  "directory; remove it",
			  pd->path, sub_names[sub], name);
		return -ELOOP;
	}
	log_error("%s/%s/%s is not a pinned object (mode %06o)", pd->path, sub_names[sub], name,
		  (unsigned)st->st_mode);
	return -EINVAL;
}

int pindir_check_entries(const struct pindir *pd)
{
	for (int i = 0; i < PIN_NSUB; i++) {
		DIR *d = pindir_opendir(pd, i);
		struct dirent *de;
		struct stat st;
		int err = 0;

		if (!d)
			continue;
		while (!err && (de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (!fstatat(pd->sub_fd[i], de->d_name, &st, AT_SYMLINK_NOFOLLOW))
				err = check_entry(pd, i, de->d_name, &st);
		}
		closedir(d);
		if (err)
			return err;
	}
	return 0;
}

int pindir_get(const struct pindir *pd, enum pin_sub sub, const char *name)
{
	char proc[64];
	struct stat st;
	int ofd, fd, err;

	if (pd->sub_fd[sub] < 0)
		return -ENOENT;
	ofd = openat(pd->sub_fd[sub], name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (ofd < 0)
		return -errno;
	err = fstat(ofd, &st) ? -errno : check_entry(pd, sub, name, &st);
	if (err) {
		close(ofd);
		return err;
	}
	/* the magic link resolves to exactly the file opened above */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", ofd);
	fd = bpf_obj_get(proc);
	err = fd < 0 ? -errno : 0;
	close(ofd);
	if (err) {
		/* the entry is there: a missing /proc must not read as "no pin" */
		log_error("opening the pin %s/%s/%s through %s: %s", pd->path, sub_names[sub], name,
			  proc, strerror(-err));
		return err == -ENOENT ? -EIO : err;
	}
	return fd;
}

int pindir_pin(const struct pindir *pd, enum pin_sub sub, const char *name, int fd)
{
	char path[64 + 256];
	int err;

	if (pd->sub_fd[sub] < 0)
		return -ENOENT;
	/* relative to the checked directory; the last component is created,
	 * never followed (an existing entry: EEXIST) */
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", pd->sub_fd[sub], name);
	if (!bpf_obj_pin(fd, path))
		return 0;
	err = -errno;
	log_error("pinning %s/%s/%s: %s", pd->path, sub_names[sub], name, strerror(-err));
	return err;
}

int pindir_unpin(const struct pindir *pd, enum pin_sub sub, const char *name)
{
	struct stat st;
	int err;

	if (pd->sub_fd[sub] < 0)
		return -ENOENT;
	if (fstatat(pd->sub_fd[sub], name, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	err = check_entry(pd, sub, name, &st);
	if (err)
		return err;
	if (!unlinkat(pd->sub_fd[sub], name, 0))
		return 0;
	err = -errno;
	log_warn("removing %s/%s/%s: %s", pd->path, sub_names[sub], name, strerror(-err));
	return err;
}

DIR *pindir_opendir(const struct pindir *pd, enum pin_sub sub)
{
	int fd;
	DIR *d;

	if (pd->sub_fd[sub] < 0)
		return NULL;
	/* a new open file description: readdir keeps its position there */
	fd = openat(pd->sub_fd[sub], ".", DIR_FLAGS);
	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d)
		close(fd);
	return d;
}

static int remove_dir(int dfd, const char *name, const char *shown)
{
	if (!unlinkat(dfd, name, AT_REMOVEDIR) || errno == ENOENT)
		return 0;
	log_warn("left %s: %s", shown, strerror(errno));
	return 1;
}

int pindir_remove(struct pindir *pd)
{
	char shown[sizeof(pd->path) + 16];
	int left = 0;

	for (int i = 0; i < PIN_NSUB; i++) {
		snprintf(shown, sizeof(shown), "%s/%s", pd->path, sub_names[i]);
		left += remove_dir(pd->fd, sub_names[i], shown);
	}
	snprintf(shown, sizeof(shown), "%s/lock", pd->path);
	left += remove_dir(pd->fd, "lock", shown);
	if (still_linked(pd))
		left += remove_dir(pd->parent_fd, strrchr(pd->path, '/') + 1, pd->path);
	return left;
}
