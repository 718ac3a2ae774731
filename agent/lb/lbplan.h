/* SPDX-License-Identifier: Apache-2.0 */
/* lbplan.h: the load-balancing planner. From a configuration and the mirror
 * of what the pinned maps hold, it computes what they must hold next: one
 * kernel service per service port and address family, the endpoints and their
 * ids, the weighted slot and maglev tables, the generation each changed
 * service is written to, the frontends, and what goes away. It refuses, with
 * the limit and how to raise it, a configuration that does not fit the maps.
 * Pure: no bpf syscalls, no file descriptors. lbmaps.c writes a plan and
 * commits each step to the mirror with the lbplan_commit_* functions. */
#ifndef BPFMESH_LBPLAN_H
#define BPFMESH_LBPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/lb.h"
#include "config/config.h"
#include "lb/lbmirror.h"

/* An endpoint to write to lb_backends: a new one (its id allocated by the
 * plan) or one flagged removed that the configuration names again. */
struct lbplan_be {
	uint32_t id;
	bool is_new;
	int family;
	uint8_t addr[16];
	uint16_t port; /* host order */
};

/* One kernel service: a service port in one address family. */
struct lbplan_svc {
	char key[248];	    /* "ns/name:port/PROTO/v4" */
	uint32_t id;	    /* svc_id: the mirror's, or allocated by the plan */
	bool is_new;	    /* new id: its name, round-robin cursor and runtime state start fresh */
	bool changed;	    /* tables differ from the active generation: write val.gen, then flip */
	int cfg_si, cfg_pi; /* the config service and port it comes from */
	uint8_t proto;
	uint16_t port;	   /* host order */
	uint32_t n_eps;	   /* endpoints of this family */
	uint32_t *eps;	   /* their ep ids, in config order (the endpoint list) */
	uint32_t *weights; /* weight of each eps[] entry */
	uint64_t *hashes;  /* lb_endpoint_hash() of each eps[] entry (maglev seeds);
			      0 unless the policy is maglev */
	uint32_t n_slots;
	uint32_t *slots; /* ep ids of the weighted table (random, roundRobin) */
	int table_err;	 /* lb_weighted_table() failed: the writer stops at this service */
	/* entries the generation written holds beyond the new tables: deleted */
	uint32_t clear_slots, clear_eps;
	bool maglev;	   /* it has a maglev table (policy maglev, endpoints present) */
	bool maglev_drop;  /* its lb_maglev2 entry goes (changed to another policy or emptied) */
	struct lb_svc val; /* the lb_services value once the plan is written */
};

/* A frontend to add or repoint. */
struct lbplan_fe {
	struct lb_fe_key key;
	uint32_t svc_id;
	char hex[LBM_FE_HEX_LEN]; /* the mirror's registry key */
};

struct lbplan {
	struct lbplan_svc *svcs; /* in config order: service, port, then v4 before v6 */
	int n_svcs;
	struct lbplan_be *bes; /* in first-use order */
	int n_bes;
	struct lbplan_fe *fes; /* to add or repoint */
	int n_fes;
	struct lb_fe_key *fes_del; /* no longer wanted */
	int n_fes_del;
	uint32_t *svcs_del; /* svc ids no longer wanted */
	int n_svcs_del;
	uint32_t *bes_gone; /* ep ids no longer referenced: flagged removed, collected later */
	int n_bes_gone;
	size_t n_fes_wanted; /* frontends of the configuration, changed or not */
};

/* Plan cfg against m. 0, or a negative errno with err set and nothing of the
 * plan to write: -ENOSPC when a map is too small (err names the map, what is
 * needed, the limit and the flag that raises it), -ENOMEM, -EINVAL. */
int lbplan_build(const struct lbmirror *m, const struct mesh_config *cfg, struct lbplan *p,
		 char *err, size_t errlen);
void lbplan_free(struct lbplan *p);

/* Fill table[0..LB_MAGLEV_M-1] with the ep ids of ps's maglev table. */
int lbplan_maglev_table(const struct lbplan_svc *ps, uint32_t *table);

/* The mirror once a step was written. lbmaps.c commits each step as the
 * kernel accepts it, so a failed apply leaves the mirror true to the maps. */
int lbplan_commit_backend(struct lbmirror *m, const struct lbplan_be *b);
void lbplan_commit_service_id(struct lbmirror *m, const struct lbplan_svc *ps);
void lbplan_commit_service(struct lbmirror *m, const struct lbplan_svc *ps);
void lbplan_commit_frontend(struct lbmirror *m, const struct lbplan_fe *f);
void lbplan_commit_frontend_del(struct lbmirror *m, const struct lb_fe_key *k);
void lbplan_commit_backend_gone(struct lbmirror *m, uint32_t id, uint64_t now_ns);

/* Every step at once: the mirror after the whole plan was written. */
int lbplan_commit(struct lbmirror *m, const struct lbplan *p, uint64_t now_ns);

#endif
