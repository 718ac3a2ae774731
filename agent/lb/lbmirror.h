/* SPDX-License-Identifier: Apache-2.0 */
/* lbmirror.h: the agent's mirror of the pinned load-balancing maps: which
 * service and endpoint ids are in use, what each service's active generation
 * holds, which frontends point where, and the map sizes. lbplan.c reads it to
 * plan the next state; lbmaps.c fills it from pinned maps at start (adoption)
 * and commits each write the kernel accepted. No bpf syscalls here. */
#ifndef BPFMESH_LBMIRROR_H
#define BPFMESH_LBMIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strmap.h"

struct lb_backend;
struct lb_be_key;
struct lb_fe_key;
struct lb_svc;

/* One kernel service (lb_services entry, one per service port and family). */
struct lbm_svc {
	bool used;
	bool known;	/* tables below mirror the kernel's active generation */
	uint8_t policy; /* enum lb_policy */
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
	bool maglev;	   /* an lb_maglev2 entry exists */
	int cfg_si;	   /* index of its service in the configuration in force */
	char key[248];	   /* "ns/name:port/PROTO/v4" */
};

/* One endpoint (lb_backends entry). */
struct lbm_backend {
	bool used;
	bool removed;
	int family;
	uint8_t addr[16];
	uint16_t port;	     /* host order */
	uint64_t removed_ns; /* CLOCK_MONOTONIC when flagged removed */
};

/* Endpoint ids by binary (family, address, port), sized once for max_be
 * ids: open addressing over ids, the key read from bes[id]. Replaces a text
 * key per endpoint ("4|10.0.0.1|8080"), which cost the planner an
 * inet_ntop, a snprintf and a strdup per endpoint and apply. */
struct lbm_beidx {
	uint32_t *slot; /* 0: empty; LBM_BEIDX_TOMB: deleted; else an ep id */
	size_t cap;	/* power of two, at least twice max_be */
	size_t len;	/* ids present */
	size_t used;	/* ids + tombstones */
};
#define LBM_BEIDX_TOMB UINT32_MAX

/* The sizes of the maps the mirror stands for (max_entries). */
struct lbm_limits {
	uint32_t max_fe, max_svc, max_be, max_slots, max_maglev;
};

struct lbmirror {
	uint32_t max_fe, max_svc, max_be, max_slots, max_maglev;
	struct lbm_svc *svcs;	    /* index = svc_id */
	struct lbm_backend *bes;    /* index = ep_id */
	bool gc_pending;	    /* some backend waits in removed state for lbmaps_gc */
	struct strmap svc_ids;	    /* key -> svc_id */
	struct lbm_beidx be_ids;    /* (family, addr, port) -> ep_id of bes[] */
	struct strmap fes;	    /* frontend key (hex) -> svc_id */
	uint32_t next_svc, next_be; /* allocation cursors: ids are reused late */
};

/* An empty mirror for maps of these sizes: 0, -EINVAL or -ENOMEM. */
int lbmirror_init(struct lbmirror *m, const struct lbm_limits *lim);
void lbmirror_free(struct lbmirror *m);

/* Adoption: record what pinned maps left by an earlier agent hold. */
void lbmirror_adopt_backend(struct lbmirror *m, uint32_t id, const struct lb_backend *be,
			    uint64_t now_ns);
void lbmirror_adopt_service(struct lbmirror *m, uint32_t id, const struct lb_svc *sv,
			    const char *key);
void lbmirror_adopt_frontend(struct lbmirror *m, const struct lb_fe_key *k, uint32_t svc_id);

/* Forget a service, or an endpoint the garbage collector deleted. */
void lbmirror_forget_service(struct lbmirror *m, uint32_t id);
void lbmirror_forget_backend(struct lbmirror *m, uint32_t id);

/* The kernel id of endpoint family/addr/port (host order), if it has one. */
bool lbmirror_backend_id(const struct lbmirror *m, int family, const uint8_t *addr, uint16_t port,
			 uint32_t *id);
/* Index id, whose bes[] entry was just filled, by its endpoint. */
void lbmirror_commit_backend_id(struct lbmirror *m, uint32_t id);

/* Hash of an endpoint's identity as the registries compare it: family, the
 * family's address bytes (4 or 16), port. */
uint64_t lbm_backend_hash(int family, const uint8_t *addr, uint16_t port);
/* Whether b is the endpoint family/addr/port, compared the same way. */
bool lbm_backend_is(const struct lbm_backend *b, int family, const uint8_t *addr, uint16_t port);

/* Registry key of a frontend (hex of struct lb_fe_key, LBM_FE_HEX_LEN bytes
 * with the NUL) and back. */
#define LBM_FE_HEX_LEN 41
void lbm_fe_hex(const struct lb_fe_key *k, char *buf);
void lbm_fe_unhex(const char *s, struct lb_fe_key *k);

/* "10.0.0.1:8080" or "[::1]:8080", for logs and the API. */
void lbm_backend_str(const struct lbm_backend *be, char *buf, size_t len);

/* The endpoint as the tc guard and the socket iterators key it. */
void lbm_be_key(const struct lbm_backend *b, struct lb_be_key *k);

#endif
