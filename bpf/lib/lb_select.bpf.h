/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* lb_select.bpf.h: endpoint selection, one function per loadBalancer.policy.
 * Each returns an endpoint id, or LB_EP_NONE when no endpoint may take the
 * connection: ejected endpoints are never chosen, half-open ones only while
 * they have trial permits (taken by lb_ep_available()). */
#ifndef BPFMESH_LB_SELECT_BPF_H
#define BPFMESH_LB_SELECT_BPF_H

#include "lb_maps.bpf.h"
#include "health.bpf.h"
#include "jhash.bpf.h"

/* How far a policy's first choice is probed before scanning the list. */
#define LB_PROBE 8

static __always_inline __u32 lb_gen_bit(const struct lb_svc *svc)
{
	return svc->gen ? LB_SLOT_GEN_BIT : 0;
}

static __always_inline __u32 lb_weighted_slot(const struct lb_svc *svc, __u32 svc_id, __u32 idx)
{
	struct lb_slot_key key = {
	    .svc_id = svc_id,
	    .slot = lb_gen_bit(svc) | (idx & LB_SLOT_IDX_MASK),
	};
	struct lb_slot *slot = bpf_map_lookup_elem(&lb_slots, &key);

	return slot ? slot->ep_id : LB_EP_NONE;
}

/* Read-only: could this endpoint take a connection (no permit is taken)? */
static __always_inline bool lb_ep_eligible(__u32 ep_id, __u64 now)
{
	struct lb_ep_health *h = bpf_map_lookup_elem(&lb_ep_health, &ep_id);

	return !h || hl_ep_eligible(h, now);
}

/* A walk over a service's endpoint list from a random start, shared by the
 * fallback scan and least connections. */
struct list_walk {
	__u32 svc_id;
	__u32 gen_bit;
	__u32 n;
	__u32 start;
	__u64 now;
};

static __always_inline bool list_walk_init(struct list_walk *w, const struct lb_svc *svc,
					   __u32 svc_id, __u64 now)
{
	w->svc_id = svc_id;
	w->gen_bit = lb_gen_bit(svc);
	w->n = svc->n_eps;
	w->now = now;
	if (!w->n)
		return false;
	if (w->n > LB_MAX_EPS_PER_SVC)
		w->n = LB_MAX_EPS_PER_SVC;
	w->start = bpf_get_prandom_u32() % w->n;
	return true;
}

/* The i-th list entry of the walk (i < w->n), or NULL when it is missing. */
static __always_inline struct lb_slot *list_walk_at(const struct list_walk *w, __u32 i)
{
	struct lb_slot_key key = {.svc_id = w->svc_id};
	__u32 j = w->start + i;

	if (j >= w->n)
		j -= w->n;
	key.slot = w->gen_bit | LB_SLOT_LIST_BIT | (j & LB_SLOT_IDX_MASK);
	return bpf_map_lookup_elem(&lb_slots, &key);
}

struct scan_ctx {
	struct list_walk w;
	__u32 found;
};

/* Fallback: the first endpoint of the list, from a random start, that may
 * take the connection. */
static long scan_visit(__u32 i, struct scan_ctx *c)
{
	struct lb_slot *slot;

	if (i >= c->w.n)
		return 1;
	slot = list_walk_at(&c->w, i);
	if (slot && lb_ep_available(slot->ep_id, c->w.svc_id, c->w.now)) {
		c->found = slot->ep_id;
		return 1;
	}
	return 0;
}

static __always_inline __u32 lb_scan_available(const struct lb_svc *svc, __u32 svc_id, __u64 now)
{
	struct scan_ctx c = {.found = LB_EP_NONE};

	if (!list_walk_init(&c.w, svc, svc_id, now))
		return LB_EP_NONE;
	bpf_loop(LB_MAX_EPS_PER_SVC, scan_visit, &c, 0);
	return c.found;
}

/* Walk the weighted table from idx: the first endpoint that may take the
 * connection within LB_PROBE slots, else a scan of the whole list. */
static __always_inline __u32 lb_pick_from(const struct lb_svc *svc, __u32 svc_id, __u32 idx,
					  __u64 now)
{
	__u32 k, ep;

	for (k = 0; k < LB_PROBE; k++) {
		if (k >= svc->n_slots)
			break;
		ep = lb_weighted_slot(svc, svc_id, (idx + k) % svc->n_slots);
		if (ep != LB_EP_NONE && lb_ep_available(ep, svc_id, now))
			return ep;
	}
	return lb_scan_available(svc, svc_id, now);
}

static __always_inline __u32 lb_select_random(const struct lb_svc *svc, __u32 svc_id, __u64 now)
{
	if (!svc->n_slots)
		return LB_EP_NONE;
	return lb_pick_from(svc, svc_id, bpf_get_prandom_u32() % svc->n_slots, now);
}

/* The slot table is laid out by smooth weighted round robin in the agent, so
 * walking it in order interleaves endpoints in proportion to their weights. */
static __always_inline __u32 lb_select_round_robin(const struct lb_svc *svc, __u32 svc_id,
						   __u64 now)
{
	__u32 *cursor;

	if (!svc->n_slots)
		return LB_EP_NONE;
	cursor = bpf_map_lookup_elem(&lb_rr, &svc_id);
	if (!cursor)
		return LB_EP_NONE;
	return lb_pick_from(svc, svc_id, __sync_fetch_and_add(cursor, 1) % svc->n_slots, now);
}

struct lc_ctx {
	struct list_walk w;
	__u32 best;
	__u64 best_active;
	__u64 best_weight;
};

static long lc_visit(__u32 i, struct lc_ctx *c)
{
	struct lb_slot *slot;
	__u64 active, weight;
	__s64 *live;

	if (i >= c->w.n)
		return 1;
	slot = list_walk_at(&c->w, i);
	if (!slot || !lb_ep_eligible(slot->ep_id, c->w.now))
		return 0;
	live = bpf_map_lookup_elem(&lb_ep_active, &slot->ep_id);
	active = (live && *live > 0) ? (__u64)*live : 0;
	weight = slot->weight ? slot->weight : 1;
	/* fewest active connections per unit of weight; ties go to the first
	 * seen from a random start, so equal endpoints share the load */
	if (c->best == LB_EP_NONE || active * c->best_weight < c->best_active * weight) {
		c->best = slot->ep_id;
		c->best_active = active;
		c->best_weight = weight;
	}
	return 0;
}

/* Every endpoint up to LB_LC_WINDOW; beyond, the LB_LC_WINDOW list entries
 * from a random start: a bounded cost per connect that still leans every
 * connection to the least loaded of a large sample (Envoy's least request
 * compares two), and reaches every endpoint. */
static __always_inline __u32 lb_select_least_conn(const struct lb_svc *svc, __u32 svc_id, __u64 now)
{
	struct lc_ctx c = {.best = LB_EP_NONE};

	if (!list_walk_init(&c.w, svc, svc_id, now))
		return LB_EP_NONE;
	bpf_loop(LB_LC_WINDOW, lc_visit, &c, 0);
	if (c.best != LB_EP_NONE && lb_ep_available(c.best, svc_id, now))
		return c.best;
	/* lost a race for the last half-open permit, or none eligible in the
	 * window: the whole list */
	return lb_scan_available(svc, svc_id, now);
}

/* Maglev: an unavailable endpoint's flows go to the next entries of the
 * table, which spreads them like the table does. A service without its
 * table picks from the whole list: the agent writes the table when it
 * applies the config, after its programs took over, so an agent that
 * adopted an earlier agent's maps (whose tables it cannot use: the outer
 * map was renamed, lb_maps.bpf.h) has none for a moment, and traffic must
 * not stop for that. */
static __always_inline __u32 lb_select_maglev(const struct lb_svc *svc, __u32 svc_id, __u32 hash,
					      __u64 now)
{
	__u32 idx = hash % LB_MAGLEV_M, k, *ep;
	void *table;

	table = bpf_map_lookup_elem(&lb_maglev2, &svc_id);
	if (!table)
		return lb_scan_available(svc, svc_id, now);
	for (k = 0; k < LB_PROBE; k++) {
		__u32 i = (idx + k * 7919) % LB_MAGLEV_M;

		ep = bpf_map_lookup_elem(table, &i);
		if (ep && *ep != LB_EP_NONE && lb_ep_available(*ep, svc_id, now))
			return *ep;
	}
	return lb_scan_available(svc, svc_id, now);
}

#endif
