/* SPDX-License-Identifier: Apache-2.0 */
/* watch.c: inotify on the configuration directory and on its parent. The
 * directory's own watch sees files change; the parent's sees the directory
 * itself renamed, deleted or made again, which a watch on the old inode
 * never reports in a way that names the new one. A check once a second
 * catches whatever the events missed (a parent renamed, an overflow). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/watch.h"
#include "lib/log.h"

#define DIR_EVENTS                                                                                 \
	(IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |        \
	 IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
#define PARENT_EVENTS (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)

static bool yaml_name(const char *n)
{
	size_t len = strlen(n);

	return n[0] != '.' && ((len > 5 && !strcmp(n + len - 5, ".yaml")) ||
			       (len > 4 && !strcmp(n + len - 4, ".yml")));
}

static void mark(struct cfg_watch *w, uint64_t now) { w->changed_ns = now ? now : 1; }

static void writing_add(struct cfg_watch *w, const char *name, uint64_t now)
{
	for (int i = 0; i < w->n_writing; i++)
		if (!strcmp(w->writing[i], name))
			return;
	if (!w->n_writing)
		w->writing_since = now;
	/* more files in flight than tracked: the write-wait cap still holds */
	if (w->n_writing < CFGW_WRITING_MAX)
		snprintf(w->writing[w->n_writing++], sizeof(w->writing[0]), "%s", name);
}

static void writing_del(struct cfg_watch *w, const char *name)
{
	for (int i = 0; i < w->n_writing; i++) {
		if (strcmp(w->writing[i], name))
			continue;
		w->n_writing--;
		memmove(w->writing[i], w->writing[w->n_writing], sizeof(w->writing[0]));
		return;
	}
}

static void unwatch_dir(struct cfg_watch *w)
{
	if (w->wd_dir >= 0)
		inotify_rm_watch(w->fd, w->wd_dir);
	w->wd_dir = -1;
	w->dev = 0;
	w->ino = 0;
	w->n_writing = 0;
}

/* (Re)watch what w->dir names now; quiet when it does not exist (the
 * parent's watch says when it comes). */
static void watch_dir(struct cfg_watch *w)
{
	struct stat st;
	int wd;

	unwatch_dir(w);
	if (stat(w->dir, &st) || !S_ISDIR(st.st_mode))
		return;
	wd = inotify_add_watch(w->fd, w->dir, DIR_EVENTS | IN_ONLYDIR);
	if (wd < 0) {
		log_warn("config watch: cannot watch %s: %s", w->dir, strerror(errno));
		return;
	}
	w->wd_dir = wd;
	w->dev = st.st_dev;
	w->ino = st.st_ino;
}

static void split(const char *path, char *dir, size_t dlen, char *name, size_t nlen)
{
	const char *slash;
	size_t n = strlen(path);

	/* "cfg/" names cfg */
	while (n > 1 && path[n - 1] == '/')
		n--;
	slash = memrchr(path, '/', n);
	if (!slash) {
		snprintf(dir, dlen, ".");
		snprintf(name, nlen, "%.*s", (int)n, path);
	} else {
		snprintf(dir, dlen, "%.*s", slash == path ? 1 : (int)(slash - path), path);
		snprintf(name, nlen, "%.*s", (int)(n - (slash - path) - 1), slash + 1);
	}
}

int cfgw_open(struct cfg_watch *w, const char *path)
{
	struct stat st;

	memset(w, 0, sizeof(*w));
	w->fd = w->wd_dir = w->wd_parent = -1;
	if (strlen(path) >= sizeof(w->path))
		return -ENAMETOOLONG;
	snprintf(w->path, sizeof(w->path), "%s", path);
	w->is_file = !stat(path, &st) && !S_ISDIR(st.st_mode);
	if (w->is_file) {
		/* a single file: watch its directory, for its name (and a
		 * ConfigMap's "..data" under it) */
		split(path, w->dir, sizeof(w->dir), w->name, sizeof(w->name));
		snprintf(w->parent, sizeof(w->parent), "%s", w->dir);
	} else {
		snprintf(w->dir, sizeof(w->dir), "%s", path);
		split(path, w->parent, sizeof(w->parent), w->name, sizeof(w->name));
	}
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0)
		return -errno;
	if (!w->is_file) {
		w->wd_parent = inotify_add_watch(w->fd, w->parent, PARENT_EVENTS | IN_ONLYDIR);
		if (w->wd_parent < 0)
			log_warn("config watch: cannot watch %s (%s): a replaced %s is found "
				 "within a second, not at once",
				 w->parent, strerror(errno), w->path);
	}
	watch_dir(w);
	if (w->wd_dir < 0 && w->is_file) {
		int err = -errno;

		cfgw_close(w);
		return err ? err : -ENOENT;
	}
	return 0;
}

void cfgw_close(struct cfg_watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->wd_dir = w->wd_parent = -1;
}

int cfgw_fd(const struct cfg_watch *w) { return w->fd; }

static void replaced(struct cfg_watch *w, uint64_t now, const char *how)
{
	watch_dir(w);
	w->rewatches++;
	mark(w, now);
	if (w->wd_dir >= 0)
		log_info("config directory %s %s: watching the directory it names now", w->dir,
			 how);
	else
		log_warn("config directory %s %s and is gone: the configuration in force stays "
			 "until it comes back",
			 w->dir, how);
}

static bool is_link(const struct cfg_watch *w, const char *name)
{
	char p[PATH_MAX + NAME_MAX + 2];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", w->dir, name);
	return !lstat(p, &st) && S_ISLNK(st.st_mode);
}

static void on_dir_event(struct cfg_watch *w, const struct inotify_event *e, uint64_t now)
{
	const char *n = e->len ? e->name : "";

	if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
		replaced(w, now, e->mask & IN_DELETE_SELF ? "was deleted" : "was moved away");
		return;
	}
	if (w->is_file && strcmp(n, w->name) && strncmp(n, "..", 2))
		return;
	if (e->mask & IN_ISDIR) {
		/* a ConfigMap's timestamped data directory: its "..data" link
		 * swap is what counts */
		if (e->mask & (IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE))
			mark(w, now);
		return;
	}
	if (yaml_name(n) && (e->mask & (IN_CREATE | IN_MODIFY)) && !is_link(w, n)) {
		/* created or written, not yet closed: wait for it (a symlink,
		 * as a ConfigMap makes, is whole once it exists) */
		writing_add(w, n, now);
		mark(w, now);
		return;
	}
	if (e->mask & (IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM))
		writing_del(w, n);
	if (e->mask &
	    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_CREATE))
		mark(w, now);
}

void cfgw_read(struct cfg_watch *w, uint64_t now)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	if (w->fd < 0)
		return;
	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const void *)p;

			p += sizeof(*e) + e->len;
			if (e->mask & IN_Q_OVERFLOW) {
				/* events lost: re-read everything */
				w->checked_ns = 0;
				mark(w, now);
			} else if (e->wd == w->wd_dir && w->wd_dir >= 0) {
				on_dir_event(w, e, now);
			} else if (e->wd == w->wd_parent && e->len && !strcmp(e->name, w->name)) {
				replaced(w, now,
					 e->mask & (IN_CREATE | IN_MOVED_TO) ? "was replaced"
									     : "was removed");
			}
		}
	}
}

void cfgw_check(struct cfg_watch *w, uint64_t now)
{
	struct stat st;
	bool same;

	if (w->fd < 0 || (w->checked_ns && now - w->checked_ns < CFGW_CHECK_NS))
		return;
	w->checked_ns = now;
	same = !stat(w->dir, &st) && S_ISDIR(st.st_mode) && w->wd_dir >= 0 && st.st_dev == w->dev &&
	       st.st_ino == w->ino;
	if (!same && (w->wd_dir >= 0 || !stat(w->dir, &st)))
		replaced(w, now, "changed without an event");
}

bool cfgw_due(struct cfg_watch *w, uint64_t now)
{
	if (!w->changed_ns || now - w->changed_ns < CFGW_QUIET_NS)
		return false;
	if (w->n_writing && now - w->writing_since < CFGW_WRITE_WAIT_NS)
		return false;
	if (w->n_writing)
		log_warn("config: %s is still open for writing after %llu s; reading it as it is",
			 w->writing[0], (unsigned long long)(CFGW_WRITE_WAIT_NS / 1000000000ULL));
	w->n_writing = 0;
	w->changed_ns = 0;
	return true;
}

void cfgw_poke(struct cfg_watch *w, uint64_t now)
{
	/* without the quiet period: a signal is one deliberate request */
	w->changed_ns = now > CFGW_QUIET_NS ? now - CFGW_QUIET_NS : 1;
}
