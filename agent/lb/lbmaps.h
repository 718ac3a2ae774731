/* SPDX-License-Identifier: Apache-2.0 */
/* lbmaps.h: the load-balancing map writer. It owns the pinned maps' fds and
 * the mirror of what they hold (lbmirror.h), asks the planner (lbplan.h) what
 * a configuration needs, and writes that plan through bpf syscalls in the
 * order that keeps traffic flowing: a reload never leaves a service without
 * endpoints, and removed endpoints are deleted only once no reader can hold
 * them. Also reads the per-endpoint counters back. */
#ifndef BPFMESH_LBMAPS_H
#define BPFMESH_LBMAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "lb/lbmirror.h"

/* Map fds, from the loaded skeleton. */
struct lbm_fds {
	int frontends, services, slots, maglev, backends, ep_stats, rr, svc_names;
	int ep_health, svc_rt, svc_policy, be_addr, ep_active;
};

struct lbmaps {
	struct lbm_fds fd;
	struct lbmirror mir; /* what the maps hold, and their sizes */
	uint64_t applies;
};

/* Set up the mirror and read back what pinned maps already hold (adoption). */
int lbmaps_init(struct lbmaps *lm, const struct lbm_fds *fds);
void lbmaps_free(struct lbmaps *lm);

/* Apply a whole configuration. A configuration that does not fit the maps is
 * refused before anything is written (*touched stays false) and err names the
 * limit and how to raise it; a failure while writing sets *touched. */
int lbmaps_apply(struct lbmaps *lm, const struct mesh_config *cfg, char *err, size_t errlen,
		 bool *touched);

/* Delete endpoints removed from the config once no reader can hold them. */
int lbmaps_gc(struct lbmaps *lm, bool force); /* how many endpoints it freed */

/* An endpoint's counters summed over CPUs, and its open connections. */
struct lb_ep_stats;
int lbm_ep_stats_read(const struct lbmaps *lm, uint32_t ep_id, struct lb_ep_stats *sum,
		      int64_t *active);

/* The kernel id of endpoint family/addr/port (host order), if it has one. */
bool lbm_backend_id(const struct lbmaps *lm, int family, const uint8_t *addr, uint16_t port,
		    uint32_t *id);

#endif
