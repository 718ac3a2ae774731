/* SPDX-License-Identifier: Apache-2.0 */
/* lbmaps.h: writes the desired load-balancing state (services, endpoints,
 * selection tables) into the kernel maps of bpf/lb.bpf.c, as a diff against
 * what is there, so a reload never leaves a service without endpoints. */
#ifndef BPFMESH_LBMAPS_H
#define BPFMESH_LBMAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "lib/strmap.h"

struct lbm_svc {
	bool used;
	bool known; /* tables below mirror the kernel's active generation */
	uint8_t policy;
	uint8_t gen;
	uint8_t family;
	uint8_t proto;
	uint8_t flags; /* LB_SVC_F_* written */
	uint16_t port; /* host order */
	uint32_t n_slots, n_eps;
	uint32_t stale_slots, stale_eps;
	uint32_t *slots;   /* ep ids of the weighted table */
	uint32_t *eps;	   /* ep ids of the endpoint list */
	uint32_t *weights; /* weight of each eps[] entry */
	bool maglev;	   /* an lb_maglev entry exists */
	int cfg_si;	   /* index of its service in the configuration in force */
	char key[248];	   /* "ns/name:port/PROTO/v4" */
};

struct lbm_backend {
	bool used;
	bool removed;
	int family;
	uint8_t addr[16];
	uint16_t port; /* host order */
	struct timespec removed_at;
};

/* Map fds and limits, from the loaded skeleton. */
struct lbm_fds {
	int frontends, services, slots, maglev, backends, ep_stats, rr, svc_names;
	int ep_health, svc_rt, svc_policy, be_addr, ep_active;
};

struct lbmaps {
	struct lbm_fds fd;
	uint32_t max_fe, max_svc, max_be, max_slots, max_maglev;
	struct lbm_svc *svcs;	    /* index = svc_id */
	struct lbm_backend *bes;    /* index = ep_id */
	bool gc_pending;	    /* some backend waits in removed state for lbmaps_gc */
	struct strmap svc_ids;	    /* key -> svc_id */
	struct strmap be_ids;	    /* backend key -> ep_id */
	struct strmap fes;	    /* frontend key (hex) -> svc_id */
	uint32_t next_svc, next_be; /* allocation cursors: ids are reused late */
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
void lbmaps_gc(struct lbmaps *lm, bool force);

/* An endpoint's counters summed over CPUs, and its open connections. */
struct lb_ep_stats;
int lbm_ep_stats_read(const struct lbmaps *lm, uint32_t ep_id, struct lb_ep_stats *sum,
		      int64_t *active);

/* The kernel id of endpoint family/addr/port (host order), if it has one. */
bool lbm_backend_id(const struct lbmaps *lm, int family, const uint8_t *addr, uint16_t port,
		    uint32_t *id);

/* The endpoint as the tc guard and the socket iterators key it. */
struct lb_be_key;
void lbm_be_key(const struct lbm_backend *b, struct lb_be_key *k);

/* Backend key and formatting helpers shared with the API. */
void lbm_backend_str(const struct lbm_backend *be, char *buf, size_t len);

#endif
