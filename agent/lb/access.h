/* SPDX-License-Identifier: Apache-2.0 */
/* access.h: AccessPolicy into the kernel's lb_access map. connect() (and a
 * UDP sendmsg) to a service fails with EPERM when a DENY policy names the
 * caller's workload, or when the service has ALLOW policies and none names
 * it (Istio's AuthorizationPolicy order: DENY first, then ALLOW). A
 * workload is its cgroup subtree; the kernel checks the caller's cgroup and
 * its ancestors (bpf/lb.bpf.c, lb_access_ok). */
#ifndef BPFMESH_ACCESS_H
#define BPFMESH_ACCESS_H

#include <stdint.h>

#include "config/config.h"
#include "lb/lbmaps.h"

struct access {
	int map_fd;	  /* lb_access */
	int missing;	  /* workload cgroups that do not exist (yet): retried */
	uint32_t entries; /* in the map now */
};

void access_init(struct access *ac, int map_fd);
/* Make lb_access say what cfg's AccessPolicies say, for the kernel services
 * lm has (call after lbmaps_apply, which sets LB_SVC_F_ACCESS). 0 or a
 * negative errno (the map then holds part of it; the next call converges). */
int access_apply(struct access *ac, const struct mesh_config *cfg, const struct lbmaps *lm);

#endif
