/* SPDX-License-Identifier: Apache-2.0 */
/* lb_select.bpf.h: endpoint selection, one function per loadBalancer.policy.
 * Each returns an endpoint id or LB_EP_NONE; none of them writes maps except
 * the round-robin cursor. */
#ifndef BPFMESH_LB_SELECT_BPF_H
#define BPFMESH_LB_SELECT_BPF_H

#include "lb_maps.bpf.h"
#include "jhash.bpf.h"

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

static __always_inline __u32 lb_select_random(const struct lb_svc *svc, __u32 svc_id)
{
	if (!svc->n_slots)
		return LB_EP_NONE;
	return lb_weighted_slot(svc, svc_id, bpf_get_prandom_u32() % svc->n_slots);
}

/* The slot table is laid out by smooth weighted round robin in the agent, so
 * walking it in order interleaves endpoints in proportion to their weights. */
static __always_inline __u32 lb_select_round_robin(const struct lb_svc *svc, __u32 svc_id)
{
	__u32 *cursor;
	__u32 idx;

	if (!svc->n_slots)
		return LB_EP_NONE;
	cursor = bpf_map_lookup_elem(&lb_rr, &svc_id);
	if (!cursor)
		return LB_EP_NONE;
	idx = __sync_fetch_and_add(cursor, 1);
	return lb_weighted_slot(svc, svc_id, idx % svc->n_slots);
}

struct lc_ctx {
	__u32 svc_id;
	__u32 gen_bit;
	__u32 n;
	__u32 start;
	__u32 best;
	__u64 best_active;
	__u64 best_weight;
};

static long lc_visit(__u32 i, struct lc_ctx *c)
{
	struct lb_slot_key key = { .svc_id = c->svc_id };
	struct lb_ep_stats *st;
	struct lb_slot *slot;
	__u64 active, weight;
	__u32 j = c->start + i;

	if (i >= c->n)
		return 1;
	if (j >= c->n)
		j -= c->n;
	key.slot = c->gen_bit | LB_SLOT_LIST_BIT | (j & LB_SLOT_IDX_MASK);
	slot = bpf_map_lookup_elem(&lb_slots, &key);
	if (!slot)
		return 0;
	st = bpf_map_lookup_elem(&lb_ep_stats, &slot->ep_id);
	active = (st && st->active > 0) ? (__u64)st->active : 0;
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

static __always_inline __u32 lb_select_least_conn(const struct lb_svc *svc, __u32 svc_id)
{
	struct lc_ctx c = {
		.svc_id = svc_id,
		.gen_bit = lb_gen_bit(svc),
		.n = svc->n_eps,
		.best = LB_EP_NONE,
	};

	if (!c.n)
		return LB_EP_NONE;
	if (c.n > LB_MAX_EPS_PER_SVC)
		c.n = LB_MAX_EPS_PER_SVC;
	c.start = bpf_get_prandom_u32() % c.n;
	bpf_loop(LB_MAX_EPS_PER_SVC, lc_visit, &c, 0);
	return c.best;
}

static __always_inline __u32 lb_select_maglev(__u32 svc_id, __u32 hash)
{
	__u32 idx = hash % LB_MAGLEV_M;
	__u32 *ep;
	void *table;

	table = bpf_map_lookup_elem(&lb_maglev, &svc_id);
	if (!table)
		return LB_EP_NONE;
	ep = bpf_map_lookup_elem(table, &idx);
	return ep ? *ep : LB_EP_NONE;
}

#endif
