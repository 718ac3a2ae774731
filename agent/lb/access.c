/* SPDX-License-Identifier: Apache-2.0 */
/* access.c: AccessPolicy into lb_access (see access.h). The wanted entries
 * are computed whole, then the map is diffed against them: stale keys
 * deleted, the rest written. The cgroups they name are followed, so a
 * cgroup removed and made again is in the map within milliseconds. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lb/access.h"
#include "lb/lbabi.h"
#include "bpf/lb.h"
#include "lib/cgroup.h"
#include "lib/log.h"

struct want {
	struct lb_access_key key;
	uint8_t action;
};

struct wants {
	struct want *w;
	int n, cap;
};

static int want_put(struct wants *ws, uint32_t svc_id, uint64_t cg, uint8_t action)
{
	for (int i = 0; i < ws->n; i++) {
		struct want *w = &ws->w[i];

		if (w->key.svc_id == svc_id && w->key.cgroup_id == cg) {
			if (action == LB_ACCESS_DENY) /* DENY wins */
				w->action = action;
			return 0;
		}
	}
	if (ws->n == ws->cap) {
		int cap = ws->cap ? ws->cap * 2 : 32;
		void *p = realloc(ws->w, cap * sizeof(*ws->w));

		if (!p)
			return -ENOMEM;
		ws->w = p;
		ws->cap = cap;
	}
	ws->w[ws->n++] =
	    (struct want){.key = {.svc_id = svc_id, .cgroup_id = cg}, .action = action};
	return 0;
}

static bool wanted(const struct wants *ws, const struct lb_access_key *k)
{
	for (int i = 0; i < ws->n; i++)
		if (!memcmp(&ws->w[i].key, k, sizeof(*k)))
			return true;
	return false;
}

void access_init(struct access *ac, int map_fd)
{
	memset(ac, 0, sizeof(*ac));
	ac->map_fd = map_fd;
	ac->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ac->ifd < 0)
		log_warn("access policy: no inotify (%s): cgroups made again are followed "
			 "once a second",
			 strerror(errno));
}

void access_free(struct access *ac)
{
	if (ac->ifd >= 0)
		close(ac->ifd);
	ac->ifd = -1;
	free(ac->cgs);
	ac->cgs = NULL;
	ac->n_cgs = ac->cap_cgs = 0;
}

int access_fd(const struct access *ac) { return ac->ifd; }

/* Levels below the cgroup2 mount: the kernel's walk sees the calling
 * task's ancestors from the root (level 0) to LB_CG_DEPTH_MAX - 1. */
static int cg_level(const char *abs, const char *mount)
{
	const char *p = abs + strlen(mount);
	int level = 0;

	for (; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			level++;
	return level;
}

static void follow(struct access *ac, const char *path, uint64_t id)
{
	char dir[CFG_PATH_MAX];
	struct stat st;
	char *slash;

	for (int i = 0; i < ac->n_cgs; i++)
		if (!strcmp(ac->cgs[i].path, path))
			return;
	if (ac->n_cgs == ac->cap_cgs) {
		int cap = ac->cap_cgs ? ac->cap_cgs * 2 : 16;
		void *p = realloc(ac->cgs, cap * sizeof(*ac->cgs));

		if (!p)
			return; /* the once-a-second check misses it; the apply stands */
		ac->cgs = p;
		ac->cap_cgs = cap;
	}
	snprintf(ac->cgs[ac->n_cgs].path, sizeof(ac->cgs[0].path), "%s", path);
	ac->cgs[ac->n_cgs++].id = id;
	if (ac->ifd < 0)
		return;
	/* the parent says when the cgroup is made or removed; when the parent
	 * is missing too, its nearest existing ancestor says when that comes */
	snprintf(dir, sizeof(dir), "%s", path);
	while ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = 0;
		if (!stat(dir, &st) && S_ISDIR(st.st_mode)) {
			inotify_add_watch(ac->ifd, dir,
					  IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
					      IN_DELETE_SELF | IN_ONLYDIR);
			break;
		}
	}
}

/* Drop every watch: the next apply sets the ones it needs. Watch
 * descriptors are not reused by inotify until it wraps, so the ones of a
 * removed directory (IN_IGNORED) need no care. */
static void unfollow_all(struct access *ac)
{
	ac->n_cgs = 0;
	if (ac->ifd >= 0) {
		close(ac->ifd);
		ac->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	}
}

bool access_changed(struct access *ac, uint64_t now)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;

	if (ac->ifd >= 0)
		while (read(ac->ifd, buf, sizeof(buf)) > 0)
			changed = true;
	if (!changed && ac->n_cgs && now - ac->checked_ns >= 1000000000ULL) {
		ac->checked_ns = now;
		for (int i = 0; i < ac->n_cgs && !changed; i++)
			changed = cgroup_id_of(ac->cgs[i].path) != ac->cgs[i].id;
	}
	if (changed)
		ac->follows++;
	return changed;
}

/* The entries of one policy for one kernel service. */
static int want_policy(struct access *ac, struct wants *ws, const struct mesh_config *cfg,
		       const struct cfg_access_policy *ap, uint32_t svc_id, const char *mount,
		       bool verbose)
{
	int action = lb_access_action_of(ap->action);
	int err;

	if (action < 0)
		return action;
	if (action == LB_ACCESS_ALLOW && (err = want_put(ws, svc_id, 0, LB_ACCESS_ALLOW_ONLY)))
		return err;
	for (int f = 0; f < ap->n_from; f++) {
		const struct cfg_workload *w = &cfg->workloads[ap->from_idx[f]];
		char path[CFG_PATH_MAX];
		uint64_t id = 0;

		/* a pod's cgroup is not known until its UID is found on the
		 * node: "" would resolve to the mount, that is every process */
		if (!w->cgroup[0] || cgroup_resolve(w->cgroup, path, sizeof(path)))
			continue;
		id = cgroup_id_of(path);
		follow(ac, path, id);
		if (!id) {
			/* no such cgroup yet: nothing of it runs; followed */
			ac->missing++;
			continue;
		}
		if (mount[0] && cg_level(path, mount) >= LB_CG_DEPTH_MAX) {
			/* the kernel walks LB_CG_DEPTH_MAX levels from the root:
			 * this one can never match (STYLE: say so, do not guess) */
			ac->too_deep++;
			if (verbose)
				log_warn(
				    "access policy %s/%s: workload %s's cgroup %s is %d levels "
				    "deep; "
				    "the kernel checks %d levels, so the policy cannot apply to it",
				    ap->meta.ns, ap->meta.name, w->meta.name, path,
				    cg_level(path, mount), LB_CG_DEPTH_MAX);
			continue;
		}
		if ((err = want_put(ws, svc_id, id, action)))
			return err;
	}
	return 0;
}

static int apply(struct access *ac, const struct mesh_config *cfg, const struct lbmaps *lm,
		 bool verbose)
{
	struct wants ws = {0};
	struct lb_access_key last, cur;
	bool have_last = false;
	int err = 0;

	char mount[512] = "";

	ac->missing = ac->too_deep = 0;
	unfollow_all(ac);
	cgroup2_mount(mount, sizeof(mount));
	for (int i = 0; cfg && !err && i < cfg->n_access; i++) {
		const struct cfg_access_policy *ap = &cfg->access[i];

		/* one service has a kernel service per port and family */
		for (uint32_t id = 1; !err && id < lm->mir.max_svc; id++)
			if (lm->mir.svcs[id].used && lm->mir.svcs[id].cfg_si == ap->service_idx)
				err = want_policy(ac, &ws, cfg, ap, id, mount, verbose);
	}
	if (err)
		goto out;
	/* stale entries first go, then the wanted ones are (re)written */
	while (!bpf_map_get_next_key(ac->map_fd, have_last ? &last : NULL, &cur)) {
		if (!wanted(&ws, &cur) && !bpf_map_delete_elem(ac->map_fd, &cur))
			continue; /* deleted: the walk goes on from the last kept key */
		last = cur;
		have_last = true;
	}
	ac->entries = 0;
	for (int i = 0; i < ws.n; i++) {
		if (bpf_map_update_elem(ac->map_fd, &ws.w[i].key, &ws.w[i].action, BPF_ANY)) {
			err = -errno;
			log_error(
			    "access policy: lb_access full or unwritable (%s): %d entries wanted",
			    strerror(errno), ws.n);
			break;
		}
		ac->entries++;
	}
out:
	free(ws.w);
	return err;
}

int access_apply(struct access *ac, const struct mesh_config *cfg, const struct lbmaps *lm)
{
	return apply(ac, cfg, lm, true);
}

int access_follow(struct access *ac, const struct mesh_config *cfg, const struct lbmaps *lm)
{
	/* what a reload already said is not said again on every cgroup event */
	return apply(ac, cfg, lm, false);
}
