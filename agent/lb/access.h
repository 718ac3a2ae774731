/* SPDX-License-Identifier: Apache-2.0 */
/* access.h: AccessPolicy into the kernel's lb_access map. connect() (and a
 * UDP sendmsg) to a service fails with EPERM when a DENY policy names the
 * caller's workload, or when the service has ALLOW policies and none names
 * it (Istio's AuthorizationPolicy order: DENY first, then ALLOW). A
 * workload is its cgroup subtree; the kernel checks the caller's cgroup and
 * its ancestors (bpf/lb.bpf.c, lb_access_ok). */
#ifndef BPFMESH_ACCESS_H
#define BPFMESH_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "lb/lbmaps.h"

/* A workload cgroup an AccessPolicy names, as last resolved. */
struct access_cg {
	char path[CFG_PATH_MAX]; /* absolute */
	uint64_t id;		 /* 0: does not exist */
};

struct access {
	int map_fd;	  /* lb_access */
	int missing;	  /* workload cgroups that do not exist (yet) */
	int too_deep;	  /* workload cgroups deeper than the kernel's walk reaches */
	uint32_t entries; /* in the map now */
	/* Following the cgroups: a cgroup made again (a service restart
	 * does it) has a new id, which the map must hold before the new
	 * cgroup's processes connect. inotify on each cgroup's nearest
	 * existing ancestor says at once; a check every second catches what
	 * it cannot (a cgroup2 mount without inotify). */
	int ifd;
	struct access_cg *cgs;
	int n_cgs, cap_cgs;
	uint64_t checked_ns;
	uint64_t follows; /* re-resolutions after a cgroup came or went */
};

void access_init(struct access *ac, int map_fd);
void access_free(struct access *ac);
/* The inotify descriptor to poll (-1 without inotify). */
int access_fd(const struct access *ac);
/* Whether a cgroup an AccessPolicy names came, went or was made again
 * since the last apply: reads the events, and once a second compares the
 * ids. Then access_apply() again. */
bool access_changed(struct access *ac, uint64_t now_ns);
/* Make lb_access say what cfg's AccessPolicies say, for the kernel services
 * lm has (call after lbmaps_apply, which sets LB_SVC_F_ACCESS). 0 or a
 * negative errno (the map then holds part of it; the next call converges). */
int access_apply(struct access *ac, const struct mesh_config *cfg, const struct lbmaps *lm);
/* The same after access_changed() said so, without the warnings a reload
 * already logged. */
int access_follow(struct access *ac, const struct mesh_config *cfg, const struct lbmaps *lm);

#endif
