/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* lb_sock.bpf.h: the load balancer's per-socket state and its life: what a
 * connect()ed socket was sent to (lb_conns), the reverse entries and
 * affinity of unconnected UDP sockets (lb_udp_rev, lb_udp_aff2, indexed per
 * socket in lb_udp_sk), and the MPTCP socket's view of its first subflow
 * (lb_mptcp_sk). Everything made here is freed on the socket's close path,
 * and a full map refuses a new socket rather than evict a live one.
 */
#ifndef BPFMESH_LB_SOCK_BPF_H
#define BPFMESH_LB_SOCK_BPF_H

#include <bpf/bpf_core_read.h>
#include "lb_maps.bpf.h"
#include "health.bpf.h"
#include "lb_addr.bpf.h"

static __always_inline bool lb_addr_eq(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* The socket is gone (or connects elsewhere): its bulkhead slot, its
 * open-connection count and its lb_conns entry go too. */
static __always_inline void lb_conn_release(__u64 cookie)
{
	struct lb_conn *c = bpf_map_lookup_elem(&lb_conns, &cookie);

	if (!c)
		return;
	if (c->pool) {
		c->pool = 0;
		lb_pool_release(c->svc_id);
	}
	/* closed by the application before TCP reached CLOSE: it stops
	 * counting as open now, since sockops will not find it later */
	if (c->counted) {
		struct lb_ep_stats *st = bpf_map_lookup_elem(&lb_ep_stats, &c->ep_id);
		__s64 *live = bpf_map_lookup_elem(&lb_ep_active, &c->ep_id);

		c->counted = 0;
		if (st)
			st->closed++;
		if (live)
			__sync_fetch_and_add(live, -1);
	}
	bpf_map_delete_elem(&lb_conns, &cookie);
}

/* MPTCP: the hook ran on the first subflow (sk); the MPTCP socket keeps the
 * subflow's key and what its getpeername() shows. The helper is probed
 * against the kernel's BTF, so kernels without it (before 5.19) still load
 * and balance MPTCP's subflows as before. */
static __always_inline bool lb_mptcp_track(struct bpf_sock *sk, __u64 cookie,
					   const struct lb_conn *c)
{
	struct lb_mptcp_sk *m;
	struct mptcp_sock *msk;

	if (!bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_skc_to_mptcp_sock))
		return true;
	msk = bpf_skc_to_mptcp_sock(sk);
	if (!msk)
		return true;
	m = bpf_sk_storage_get(&lb_mptcp_sk, msk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!m)
		return false;
	/* connect() again after a failure may run on a new first subflow */
	if (m->sf_cookie && m->sf_cookie != cookie)
		lb_conn_release(m->sf_cookie);
	m->sf_cookie = cookie;
	m->conn = *c;
	return true;
}

/* Remember a connect()ed socket's endpoint. Returns a refusal reason + 1
 * (the map is full), or 0. */
static __always_inline __u32 lb_conn_track(struct bpf_sock *sk, __u64 cookie,
					   const struct lb_conn *c, bool tcp)
{
	if (bpf_map_update_elem(&lb_conns, &cookie, c, BPF_ANY))
		return LB_DROP_CONNS_FULL + 1;
	if (tcp && !lb_mptcp_track(sk, cookie, c)) {
		bpf_map_delete_elem(&lb_conns, &cookie);
		return LB_DROP_CONNS_FULL + 1;
	}
	return 0;
}

/* The MPTCP socket the application held is released: free its subflow's
 * lb_conns entry (the subflow itself never passes sock_release). */
static __always_inline void lb_mptcp_forget(struct bpf_sock *ctx)
{
	struct lb_mptcp_sk *m = bpf_sk_storage_get(&lb_mptcp_sk, ctx, 0, 0);

	if (!m || !m->sf_cookie)
		return;
	lb_conn_release(m->sf_cookie);
	m->sf_cookie = 0;
}

static __always_inline bool lb_udp_pair_is(const struct lb_udp_pair *p, const __u8 *addr,
					   __u16 port, __u8 family)
{
	return p->port == port && p->family == family && lb_addr_eq(p->addr, addr);
}

/* All pairs taken: free one whose service the socket now sends to another
 * endpoint (its affinity moved, say after an ejection), so a long-lived
 * socket is not refused after so many endpoint changes. Its lb_udp_rev
 * entry, if still its own, only served late replies from that endpoint.
 * The keys the pair named stay covered: the pairs that wrote their current
 * values are indexed too. Returns the slot, or LB_UDP_PAIRS_MAX. */
static __always_inline __u32 lb_udp_recycle(struct lb_udp_sk *s, __u64 cookie)
{
	struct lb_revnat_key rk = {.cookie = cookie};
	struct lb_aff_key ak = {.cookie = cookie};
	struct lb_backend *be;
	struct lb_revnat *rv;
	__u32 *ep;

	for (__u32 i = 0; i < LB_UDP_PAIRS_MAX; i++) {
		struct lb_udp_pair *p = &s->pairs[i];

		ak.svc_id = p->svc_id;
		ep = bpf_map_lookup_elem(&lb_udp_aff2, &ak);
		be = ep ? bpf_map_lookup_elem(&lb_backends, ep) : NULL;
		if (be && lb_udp_pair_is(p, be->addr, be->port, be->family))
			continue; /* still where the service's datagrams go */
		__builtin_memcpy(rk.addr, p->addr, sizeof(rk.addr));
		rk.port = p->port;
		rk.family = p->family;
		rv = bpf_map_lookup_elem(&lb_udp_rev, &rk);
		if (rv && rv->svc_id == p->svc_id)
			bpf_map_delete_elem(&lb_udp_rev, &rk);
		return i;
	}
	return LB_UDP_PAIRS_MAX;
}

/* Index the (service, endpoint) pair whose lb_udp_rev or lb_udp_aff2 entry
 * the socket just wrote in its storage s, so lb_udp_forget can delete it,
 * unless it is indexed already. sendmsg() runs its hook under the socket
 * lock: there is one writer per socket. A global function, so the verifier
 * checks its loops once instead of on every path of the caller. Returns a
 * refusal reason + 1, or 0. */
__noinline int lb_udp_index(struct lb_udp_sk *s, const struct lb_revnat_key *rk, __u32 svc_id)
{
	struct lb_udp_pair *p;
	__u32 i, n, slot;

	if (!s || !rk)
		return LB_DROP_REVNAT_FULL + 1;
	n = s->n;
	for (i = 0; i < LB_UDP_PAIRS_MAX && i < n; i++) {
		p = &s->pairs[i];
		if (p->svc_id == svc_id && lb_udp_pair_is(p, rk->addr, rk->port, rk->family))
			return 0;
	}
	if (n < LB_UDP_PAIRS_MAX) {
		slot = n;
		s->n = n + 1;
	} else {
		slot = lb_udp_recycle(s, rk->cookie);
		if (slot >= LB_UDP_PAIRS_MAX)
			return LB_DROP_UDP_PAIRS + 1;
	}
	p = &s->pairs[slot];
	__builtin_memcpy(p->addr, rk->addr, sizeof(p->addr));
	p->port = rk->port;
	p->family = rk->family;
	p->svc_id = svc_id;
	return 0;
}

static __always_inline __u32 lb_udp_remember(struct bpf_sock *sk, const struct lb_revnat_key *rk,
					     __u32 svc_id)
{
	struct lb_udp_sk *s;

	s = bpf_sk_storage_get(&lb_udp_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return LB_DROP_REVNAT_FULL + 1;
	return lb_udp_index(s, rk, svc_id);
}

/* An unconnected UDP socket sends to ep_id of svc_id: make sure recvmsg()
 * can show the service address (key) back and the next datagram sticks to
 * the endpoint. aff_ep is the affinity the socket had (LB_EP_NONE: none).
 * What is written is indexed on the socket; if anything does not fit, the
 * keys this call made are taken back and the datagram is refused. Returns a
 * refusal reason + 1, or 0. */
static __always_inline __u32 lb_udp_bind(struct bpf_sock *sk, __u64 cookie, __u32 svc_id,
					 __u32 ep_id, __u32 aff_ep, const struct lb_backend *be,
					 const struct lb_fe_key *key)
{
	struct lb_aff_key ak = {.cookie = cookie, .svc_id = svc_id};
	struct lb_revnat_key rk = {.cookie = cookie};
	struct lb_revnat rv = {.port = key->port, .svc_id = svc_id}, *old;
	bool new_rev, rev_ok;
	__u32 refusal;

	__builtin_memcpy(rk.addr, be->addr, sizeof(rk.addr));
	rk.port = be->port;
	rk.family = key->family;
	__builtin_memcpy(rv.addr, key->addr, sizeof(rv.addr));
	old = bpf_map_lookup_elem(&lb_udp_rev, &rk);
	new_rev = !old;
	rev_ok =
	    old && old->svc_id == svc_id && old->port == rv.port && lb_addr_eq(old->addr, rv.addr);
	/* the common case, another datagram where the last one went: no write */
	if (rev_ok && aff_ep == ep_id)
		return 0;
	if (!rev_ok && bpf_map_update_elem(&lb_udp_rev, &rk, &rv, BPF_ANY))
		return LB_DROP_REVNAT_FULL + 1;
	if (aff_ep != ep_id && bpf_map_update_elem(&lb_udp_aff2, &ak, &ep_id, BPF_ANY)) {
		refusal = LB_DROP_REVNAT_FULL + 1;
		goto undo;
	}
	refusal = lb_udp_remember(sk, &rk, svc_id);
	if (!refusal)
		return 0;
	if (aff_ep == LB_EP_NONE)
		bpf_map_delete_elem(&lb_udp_aff2, &ak);
undo:
	if (new_rev)
		bpf_map_delete_elem(&lb_udp_rev, &rk);
	return refusal;
}

/* The UDP socket is released: delete every key its pairs name. */
static __always_inline void lb_udp_forget(struct bpf_sock *ctx, __u64 cookie)
{
	struct lb_revnat_key rk = {.cookie = cookie};
	struct lb_aff_key ak = {.cookie = cookie};
	struct lb_udp_sk *s = bpf_sk_storage_get(&lb_udp_sk, ctx, 0, 0);
	__u32 n;

	if (!s)
		return;
	n = s->n;
	for (__u32 i = 0; i < LB_UDP_PAIRS_MAX && i < n; i++) {
		const struct lb_udp_pair *p = &s->pairs[i];

		__builtin_memcpy(rk.addr, p->addr, sizeof(rk.addr));
		rk.port = p->port;
		rk.family = p->family;
		bpf_map_delete_elem(&lb_udp_rev, &rk);
		ak.svc_id = p->svc_id;
		bpf_map_delete_elem(&lb_udp_aff2, &ak);
	}
	s->n = 0;
}

#endif
