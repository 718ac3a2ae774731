/* SPDX-License-Identifier: Apache-2.0 */
/* access.c: AccessPolicy into lb_access (see access.h). The wanted entries
 * are computed whole, then the map is diffed against them: stale keys
 * deleted, the rest written. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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
}

/* The entries of one policy for one kernel service. */
static int want_policy(struct access *ac, struct wants *ws, const struct mesh_config *cfg,
		       const struct cfg_access_policy *ap, uint32_t svc_id)
{
	int action = lb_access_action_of(ap->action);
	int err;

	if (action < 0)
		return action;
	if (action == LB_ACCESS_ALLOW && (err = want_put(ws, svc_id, 0, LB_ACCESS_ALLOW_ONLY)))
		return err;
	for (int f = 0; f < ap->n_from; f++) {
		const struct cfg_workload *w = &cfg->workloads[ap->from_idx[f]];
		char path[1024];
		uint64_t id = 0;

		if (!cgroup_resolve(w->cgroup, path, sizeof(path)))
			id = cgroup_id_of(path);
		if (!id) {
			/* no such cgroup yet: nothing of it runs; looked up again */
			ac->missing++;
			continue;
		}
		if ((err = want_put(ws, svc_id, id, action)))
			return err;
	}
	return 0;
}

int access_apply(struct access *ac, const struct mesh_config *cfg, const struct lbmaps *lm)
{
	struct wants ws = {0};
	struct lb_access_key last, cur;
	bool have_last = false;
	int err = 0;

	ac->missing = 0;
	for (int i = 0; cfg && !err && i < cfg->n_access; i++) {
		const struct cfg_access_policy *ap = &cfg->access[i];

		/* one service has a kernel service per port and family */
		for (uint32_t id = 1; !err && id < lm->mir.max_svc; id++)
			if (lm->mir.svcs[id].used && lm->mir.svcs[id].cfg_si == ap->service_idx)
				err = want_policy(ac, &ws, cfg, ap, id);
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
