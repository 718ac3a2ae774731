/* SPDX-License-Identifier: Apache-2.0 */
/* podcg.c: a bounded walk of the cgroup v2 tree for the directories the
 * kubelet names after pod UIDs (podcg_name.c knows the names). The walk does
 * not enter a pod's directory (only containers are below it) and stops once
 * every pod it looks for is found. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/podcg.h"
#include "lib/podcg_name.h"

static bool wants_cgroup(const struct cfg_workload *w) { return w->pod_uid[0] && !w->cgroup[0]; }

int podcg_unresolved(const struct mesh_config *cfg)
{
	int n = 0;

	for (int i = 0; cfg && i < cfg->n_workloads; i++)
		n += wants_cgroup(&cfg->workloads[i]);
	return n;
}

struct walk {
	struct mesh_config *cfg;
	const char *mount;
	size_t mount_len;
	const char *skip; /* a subtree searched already */
	struct podcg_result *res;
};

static void found_pod(struct walk *w, const char *path, const char *uid)
{
	const char *rel = path;

	/* relative to the mount, as a Workload's cgroup is written */
	if (!strncmp(path, w->mount, w->mount_len) && path[w->mount_len] == '/')
		rel = path + w->mount_len + 1;
	for (int i = 0; i < w->cfg->n_workloads; i++) {
		struct cfg_workload *wl = &w->cfg->workloads[i];

		if (!wants_cgroup(wl) || strcasecmp(wl->pod_uid, uid))
			continue;
		snprintf(wl->cgroup, sizeof(wl->cgroup), "%s", rel);
		w->res->found++;
		w->res->unresolved--;
	}
}

static void walk_dir(struct walk *w, const char *path, int depth)
{
	struct dirent *de;
	DIR *d;

	if (w->res->unresolved <= 0)
		return;
	if (w->res->dirs >= PODCG_MAX_DIRS || depth > PODCG_MAX_DEPTH) {
		w->res->truncated = true;
		return;
	}
	d = opendir(path);
	if (!d)
		return; /* gone under the walk, or not readable: not there yet */
	w->res->dirs++;
	while (w->res->unresolved > 0 && (de = readdir(d))) {
		char sub[CFG_PATH_MAX], uid[PODCG_UID_LEN + 1];
		enum podcg_qos qos;
		enum podcg_driver drv;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub))
			continue;
		if (podcg_parse_pod(de->d_name, uid, &qos, &drv)) {
			found_pod(w, sub, uid);
			continue;
		}
		if (w->skip && !strcmp(sub, w->skip))
			continue;
		walk_dir(w, sub, depth + 1);
	}
	closedir(d);
}

void podcg_fill(struct mesh_config *cfg, const char *mount, const char *first,
		struct podcg_result *res)
{
	struct walk w = {.cfg = cfg, .mount = mount, .mount_len = strlen(mount), .res = res};
	int depth = 0;

	memset(res, 0, sizeof(*res));
	res->unresolved = podcg_unresolved(cfg);
	if (!res->unresolved || !mount[0])
		return;
	if (first && first[0] && strcmp(first, mount)) {
		/* depth counts from the mount, wherever the walk starts */
		for (const char *p = first + w.mount_len; *p; p++)
			depth += *p == '/';
		walk_dir(&w, first, depth);
		w.skip = first;
	}
	walk_dir(&w, mount, 0);
}
