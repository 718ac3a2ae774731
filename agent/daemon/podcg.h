/* SPDX-License-Identifier: Apache-2.0 */
/* podcg.h: the cgroups of this node's pods. A pod read from the API server
 * is a Workload without a cgroup (config/): its cgroup is the directory the
 * kubelet made for its UID somewhere under the cgroup v2 mount (the kubepods
 * root sits at the top on most nodes, nested under another cgroup in kind
 * and k3s). Its containers' scopes are below it, so the Workload's prefix
 * match covers them. */
#ifndef BPFMESH_PODCG_H
#define BPFMESH_PODCG_H

#include "config/config.h"

/* Bounds of one search: directories read, and levels below the mount. */
#define PODCG_MAX_DIRS 65536
#define PODCG_MAX_DEPTH 12

struct podcg_result {
	int found;	/* pod workloads given a cgroup now */
	int unresolved; /* pod workloads still without one (not made yet) */
	int dirs;	/* directories read */
	bool truncated; /* a bound stopped the search */
};

/* Gives every pod workload of cfg without a cgroup the path (relative to
 * the mount) of its pod's cgroup: the subtree of first (the agent's
 * --cgroup, absolute; NULL: none) is searched first, then the rest of the
 * mount. mount: the cgroup v2 mount. Stops as soon as every pod has one. */
void podcg_fill(struct mesh_config *cfg, const char *mount, const char *first,
		struct podcg_result *res);

/* Pod workloads of cfg without a cgroup. */
int podcg_unresolved(const struct mesh_config *cfg);

#endif
