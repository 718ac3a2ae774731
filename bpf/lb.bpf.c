// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lb.bpf.c: socket-level load balancing. A connect() or UDP sendmsg() to a
 * service address is rewritten to one endpoint before the kernel routes it,
 * so no packet is ever NATed; getpeername() and UDP recvmsg() show the service
 * address back to the application. sockops counts connections per endpoint.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/lb_maps.bpf.h"
#include "lib/health_maps.bpf.h"
#include "lib/health.bpf.h"
#include "lib/lb_select.bpf.h"
#include "lib/lb_sock.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define ECONNREFUSED 111
#define EPERM 1
#define ECONNRESET 104
#define ETIMEDOUT 110
#define EHOSTUNREACH 113
#define ENETUNREACH 101
#define SOL_TCP 6
#define TCP_USER_TIMEOUT 18
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_SHOT 2

/* Given by the agent (libbpf's kconfig open option, computed from the
 * running kernel's tick), so no /boot/config-* is needed. */
extern int CONFIG_HZ __kconfig;

#define SYS_PROCEED 1
#define SYS_REJECT 0

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline void lb_count_drop(__u32 reason)
{
	__u64 *cnt = bpf_map_lookup_elem(&lb_drops, &reason);

	if (cnt)
		*cnt += 1;
}

static __always_inline __u8 lb_ctx_proto(struct bpf_sock_addr *ctx)
{
	if (ctx->type == SOCK_STREAM)
		return IPPROTO_TCP;
	if (ctx->type == SOCK_DGRAM)
		return IPPROTO_UDP;
	return 0;
}

/* A v4-mapped address in k becomes the IPv4 address it maps. A global
 * function: the verifier checks it once, and its caller goes on with one
 * key of unknown family rather than every later path twice. */
__noinline int lb_fe_unmap(struct lb_fe_key *k)
{
	__u32 *a;

	if (!k)
		return 0;
	a = (__u32 *)k->addr;
	if (k->family != AF_INET6 || !lb_v4mapped(a[0], a[1], a[2]))
		return 0;
	a[0] = a[3];
	a[1] = a[2] = a[3] = 0;
	k->family = AF_INET;
	return 1;
}

/* Read the address the application passed (destination for connect/sendmsg,
 * peer for getpeername/recvmsg) into a frontend-shaped key. hook is the
 * hook's family; a v4-mapped address of a v6 hook is read as the IPv4
 * address it maps (k->family AF_INET), so v4 services, endpoints and
 * per-socket state serve it, as Cilium's socket LB does. */
static __always_inline void lb_ctx_addr(struct bpf_sock_addr *ctx, int hook, struct lb_fe_key *k)
{
	__u32 *a = (__u32 *)k->addr;

	__builtin_memset(k, 0, sizeof(*k));
	k->family = hook;
	k->port = (__u16)ctx->user_port;
	if (hook == AF_INET) {
		a[0] = ctx->user_ip4;
	} else {
		a[0] = ctx->user_ip6[0];
		a[1] = ctx->user_ip6[1];
		a[2] = ctx->user_ip6[2];
		a[3] = ctx->user_ip6[3];
		lb_fe_unmap(k);
	}
}

/* Write addr (of family) where the hook's address lives: an IPv4 address
 * in a v6 hook as ::ffff:a.b.c.d. */
static __always_inline void lb_ctx_set_addr(struct bpf_sock_addr *ctx, int hook, int family,
					    const __u8 *addr, __u16 port)
{
	const __u32 *a = (const __u32 *)addr;

	if (hook == AF_INET) {
		ctx->user_ip4 = a[0];
	} else if (family == AF_INET) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = a[0];
	} else {
		ctx->user_ip6[0] = a[0];
		ctx->user_ip6[1] = a[1];
		ctx->user_ip6[2] = a[2];
		ctx->user_ip6[3] = a[3];
	}
	ctx->user_port = port;
}

/* Maglev key: the client's source address when the socket is bound (Istio's
 * consistentHash.useSourceIp), else the client's cgroup and network namespace,
 * so one workload sticks to one endpoint. family is the destination's: a v6
 * socket dialling ::ffff:VIP hashes its IPv4 source, as a v4 socket would. */
static __always_inline __u32 lb_maglev_hash(struct bpf_sock_addr *ctx, int family)
{
	struct bpf_sock *sk = ctx->sk;
	__u64 cg, ns;
	__u32 src = 0;

	if (sk) {
		if (family == AF_INET)
			src = sk->src_ip4;
		else
			src = sk->src_ip6[0] ^ sk->src_ip6[1] ^ sk->src_ip6[2] ^ sk->src_ip6[3];
	}
	if (src)
		return jhash_3words(src, family, 0, 0);
	cg = bpf_get_current_cgroup_id();
	ns = bpf_get_netns_cookie(ctx);
	return jhash_3words((__u32)cg, (__u32)(cg >> 32), (__u32)ns ^ (__u32)(ns >> 32), 1);
}

static __always_inline __u32 lb_select(struct bpf_sock_addr *ctx, int family,
				       const struct lb_svc *svc, __u32 svc_id, __u64 now)
{
	switch (svc->policy) {
	case LB_POLICY_ROUND_ROBIN:
		return lb_select_round_robin(svc, svc_id, now);
	case LB_POLICY_LEAST_CONN:
		return lb_select_least_conn(svc, svc_id, now);
	case LB_POLICY_MAGLEV:
		return lb_select_maglev(svc, svc_id, lb_maglev_hash(ctx, family), now);
	default:
		return lb_select_random(svc, svc_id, now);
	}
}

/* An unconnected UDP socket keeps talking to the endpoint it was first sent
 * to, while that endpoint still exists, so request/response protocols work.
 * *had is the endpoint the socket has affinity to (LB_EP_NONE: none), the
 * result the one to use (LB_EP_NONE: choose again). */
static __always_inline __u32 lb_udp_affinity(__u32 svc_id, __u64 cookie, __u64 now, __u32 *had)
{
	struct lb_aff_key key = {.cookie = cookie, .svc_id = svc_id};
	struct lb_backend *be;
	__u32 *ep = bpf_map_lookup_elem(&lb_udp_aff2, &key);
	__u32 id;

	*had = LB_EP_NONE;
	if (!ep)
		return LB_EP_NONE;
	id = *ep;
	*had = id;
	be = bpf_map_lookup_elem(&lb_backends, &id);
	if (!be || !be->family || (be->flags & LB_BE_F_REMOVED) ||
	    !lb_ep_available(id, svc_id, now))
		return LB_EP_NONE;
	return id;
}

/* Service protections, checked before an endpoint is chosen, for connect()
 * only: an unconnected UDP socket's datagrams are not calls. */
static __always_inline __u32 lb_admit(const struct lb_svc *svc, __u32 svc_id, bool tcp, __u64 now,
				      bool *pool)
{
	struct lb_svc_policy *pol;

	*pool = false;
	if (!(svc->flags & LB_SVC_F_POLICY))
		return 0;
	pol = bpf_map_lookup_elem(&lb_svc_policy, &svc_id);
	if (!pol)
		return 0;
	if (!lb_breaker_admit(svc_id, pol, now))
		return LB_DROP_BREAKER_OPEN + 1;
	if (!lb_rate_admit(svc_id, pol, now))
		return LB_DROP_RATE_LIMIT + 1;
	if (tcp && (pol->flags & LB_POL_POOL)) {
		if (!lb_pool_take(svc_id, pol))
			return LB_DROP_BULKHEAD + 1;
		*pool = true;
	}
	return 0;
}

/* AccessPolicy: may the calling task's workload connect to the service? Its
 * cgroup and every ancestor are looked up (a Workload names a subtree). */
static __always_inline bool lb_access_ok(__u32 svc_id)
{
	struct lb_access_key k = {.svc_id = svc_id};
	bool allowed = false, allow_only;
	__u8 *v;

	v = bpf_map_lookup_elem(&lb_access, &k);
	allow_only = v && *v == LB_ACCESS_ALLOW_ONLY;
	for (int lvl = 0; lvl < LB_CG_DEPTH_MAX; lvl++) {
		k.cgroup_id = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!k.cgroup_id)
			break;
		v = bpf_map_lookup_elem(&lb_access, &k);
		if (!v)
			continue;
		if (*v == LB_ACCESS_DENY)
			return false;
		allowed |= *v == LB_ACCESS_ALLOW;
	}
	return !allow_only || allowed;
}

/* hook: the hook's address family; key.family, the family of the service
 * address (AF_INET for ::ffff:VIP), is what services, endpoints and the
 * per-socket state are kept in. */
static __always_inline int lb_xlate(struct bpf_sock_addr *ctx, int hook, bool sendmsg)
{
	struct lb_fe_key key;
	struct lb_backend *be;
	struct lb_ep_stats *st;
	struct lb_svc *svc;
	struct lb_fe *fe;
	__u32 ep_id = LB_EP_NONE, aff_ep = LB_EP_NONE, refusal;
	bool pool = false;
	__u64 cookie, now;

	lb_ctx_addr(ctx, hook, &key);
	key.proto = lb_ctx_proto(ctx);
	if (!key.proto)
		return SYS_PROCEED;
	fe = bpf_map_lookup_elem(&lb_frontends, &key);
	if (!fe)
		return SYS_PROCEED;
	svc = bpf_map_lookup_elem(&lb_services, &fe->svc_id);
	if (!svc)
		return SYS_PROCEED;
	if ((svc->flags & LB_SVC_F_ACCESS) && !lb_access_ok(fe->svc_id)) {
		lb_count_drop(LB_DROP_ACCESS_DENIED);
		bpf_set_retval(-EPERM);
		return SYS_REJECT;
	}

	cookie = bpf_get_socket_cookie(ctx);
	now = bpf_ktime_get_ns();
	if (sendmsg) {
		ep_id = lb_udp_affinity(fe->svc_id, cookie, now, &aff_ep);
	} else {
		refusal = lb_admit(svc, fe->svc_id, key.proto == IPPROTO_TCP, now, &pool);
		if (refusal) {
			lb_count_drop(refusal - 1);
			goto refuse;
		}
	}
	if (ep_id == LB_EP_NONE)
		ep_id = lb_select(ctx, key.family, svc, fe->svc_id, now);
	if (ep_id == LB_EP_NONE) {
		lb_count_drop(svc->n_eps ? LB_DROP_ALL_EJECTED : LB_DROP_NO_ENDPOINT);
		goto refuse;
	}
	be = bpf_map_lookup_elem(&lb_backends, &ep_id);
	if (!be || be->family != key.family) {
		lb_count_drop(LB_DROP_NO_BACKEND);
		goto refuse;
	}

	/* no per-socket state, no translation: a socket that could not show
	 * the service address back would see the endpoint's */
	if (sendmsg) {
		refusal = lb_udp_bind(ctx->sk, cookie, fe->svc_id, ep_id, aff_ep, be, &key);
	} else {
		struct lb_conn c = {}, *old;

		/* a socket connected again (UDP, or TCP after a failure) gives
		 * back its bulkhead slot first; only policies take slots */
		if (svc->flags & LB_SVC_F_POLICY) {
			old = bpf_map_lookup_elem(&lb_conns, &cookie);
			if (old && old->pool) {
				old->pool = 0;
				lb_pool_release(old->svc_id);
			}
		}
		__builtin_memcpy(c.addr, key.addr, sizeof(c.addr));
		__builtin_memcpy(c.ep_addr, be->addr, sizeof(c.ep_addr));
		c.port = key.port;
		c.ep_port = be->port;
		c.ep_id = ep_id;
		c.svc_id = fe->svc_id;
		c.family = key.family;
		c.pool = pool;
		refusal = lb_conn_track(ctx->sk, cookie, &c, key.proto == IPPROTO_TCP);
		if (!refusal)
			pool = false;
	}
	if (refusal) {
		lb_count_drop(refusal - 1);
		goto refuse;
	}
	st = bpf_map_lookup_elem(&lb_ep_stats, &ep_id);
	if (st)
		st->selected++; /* per CPU */

	lb_ctx_set_addr(ctx, hook, key.family, be->addr, be->port);
	return SYS_PROCEED;

refuse:
	if (pool)
		lb_pool_release(fe->svc_id);
	/* fail fast: the caller sees ECONNREFUSED at once instead of EPERM or
	 * a connect timeout to an address nobody serves */
	bpf_set_retval(-ECONNREFUSED);
	return SYS_REJECT;
}

/* Show the service address instead of the endpoint the socket was sent to:
 * connect()ed sockets from lb_conns (an MPTCP socket from its storage),
 * unconnected UDP from lb_udp_rev. */
static __always_inline int lb_revxlate(struct bpf_sock_addr *ctx, int hook, bool udp_msg)
{
	struct lb_revnat_key rk = {};
	struct lb_fe_key peer;
	struct lb_revnat *rv;
	struct lb_conn *c;
	__u64 cookie = bpf_get_socket_cookie(ctx);

	lb_ctx_addr(ctx, hook, &peer);
	c = bpf_map_lookup_elem(&lb_conns, &cookie);
	if (!c && !udp_msg && ctx->protocol == IPPROTO_MPTCP) {
		struct lb_mptcp_sk *m = bpf_sk_storage_get(&lb_mptcp_sk, ctx->sk, 0, 0);

		if (m && m->sf_cookie)
			c = &m->conn;
	}
	if (c && c->ep_port == peer.port && c->family == peer.family &&
	    lb_addr_eq(c->ep_addr, peer.addr)) {
		lb_ctx_set_addr(ctx, hook, c->family, c->addr, c->port);
		return SYS_PROCEED;
	}
	if (!udp_msg)
		return SYS_PROCEED;
	rk.cookie = cookie;
	__builtin_memcpy(rk.addr, peer.addr, sizeof(rk.addr));
	rk.port = peer.port;
	rk.family = peer.family;
	rv = bpf_map_lookup_elem(&lb_udp_rev, &rk);
	if (rv)
		lb_ctx_set_addr(ctx, hook, peer.family, rv->addr, rv->port);
	return SYS_PROCEED;
}

SEC("cgroup/connect4")
int bm_connect4(struct bpf_sock_addr *ctx) { return lb_xlate(ctx, AF_INET, false); }

SEC("cgroup/connect6")
int bm_connect6(struct bpf_sock_addr *ctx) { return lb_xlate(ctx, AF_INET6, false); }

SEC("cgroup/sendmsg4")
int bm_sendmsg4(struct bpf_sock_addr *ctx) { return lb_xlate(ctx, AF_INET, true); }

SEC("cgroup/sendmsg6")
int bm_sendmsg6(struct bpf_sock_addr *ctx) { return lb_xlate(ctx, AF_INET6, true); }

SEC("cgroup/recvmsg4")
int bm_recvmsg4(struct bpf_sock_addr *ctx) { return lb_revxlate(ctx, AF_INET, true); }

SEC("cgroup/recvmsg6")
int bm_recvmsg6(struct bpf_sock_addr *ctx) { return lb_revxlate(ctx, AF_INET6, true); }

SEC("cgroup/getpeername4")
int bm_getpeername4(struct bpf_sock_addr *ctx) { return lb_revxlate(ctx, AF_INET, false); }

SEC("cgroup/getpeername6")
int bm_getpeername6(struct bpf_sock_addr *ctx) { return lb_revxlate(ctx, AF_INET6, false); }

/* The error a connection attempt ended with (sk_err), read through BTF. */
static __always_inline int lb_sk_err(struct bpf_sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	return tp ? tp->inet_conn.icsk_inet.sk.sk_err : 0;
}

static __always_inline void lb_stat_add(__u32 ep_id, int field)
{
	struct lb_ep_stats *st = bpf_map_lookup_elem(&lb_ep_stats, &ep_id);

	if (!st)
		return;
	switch (field) {
	case 0:
		st->refused++;
		break;
	case 1:
		st->timed_out++;
		break;
	case 2:
		st->reset++;
		break;
	}
}

static __always_inline __u32 lb_connect_timeout_ms(const struct lb_conn *ls)
{
	struct lb_svc_policy *pol = bpf_map_lookup_elem(&lb_svc_policy, &ls->svc_id);

	return pol ? pol->connect_timeout_ms : 0;
}

/* Connection lifecycle per endpoint: counts for leastConnections and the
 * metrics, and the connect outcomes passive health runs on. */
SEC("sockops")
int bm_sockops(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct lb_ep_stats *st;
	struct lb_conn *ls;
	__s64 *live;
	__u64 now, cookie;
	__u32 ms;
	int err, zero = 0;

	if (!sk)
		return 1;
	/* the ops below, before the lookup: every TCP socket of the cgroup
	 * calls this for others too (RWND_INIT, NEEDS_ECN, BASE_RTT,
	 * PASSIVE_ESTABLISHED_CB...), about nine times per short connection
	 * with both ends here, and a cookie and a miss in lb_conns each were
	 * a microsecond per connection (bench/README.md) */
	switch (skops->op) {
	case BPF_SOCK_OPS_TIMEOUT_INIT:
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_STATE_CB:
		break;
	default:
		return 1;
	}
	cookie = bpf_get_socket_cookie(skops);
	ls = bpf_map_lookup_elem(&lb_conns, &cookie);
	if (!ls || ls->ep_id == LB_EP_NONE)
		return 1;
	switch (skops->op) {
	case BPF_SOCK_OPS_TIMEOUT_INIT:
		/* a first SYN timeout no longer than connectTimeout, so the
		 * attempt ends when TCP_USER_TIMEOUT says, not at the next
		 * default retransmission */
		ms = lb_connect_timeout_ms(ls);
		if (ms && ms < 1000) {
			skops->reply = ms * CONFIG_HZ / 1000 ? ms * CONFIG_HZ / 1000 : 1;
			return 1;
		}
		break;
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
						     BPF_SOCK_OPS_STATE_CB_FLAG);
		ms = lb_connect_timeout_ms(ls);
		if (ms && !bpf_setsockopt(skops, SOL_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms)))
			ls->user_timeout = 1;
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		if (ls->user_timeout) {
			bpf_setsockopt(skops, SOL_TCP, TCP_USER_TIMEOUT, &zero, sizeof(zero));
			ls->user_timeout = 0;
		}
		if (!ls->outcome) {
			ls->outcome = 1;
			now = bpf_ktime_get_ns();
			lb_ep_success(ls->ep_id, now);
			lb_breaker_record(ls->svc_id, false, now);
		}
		if (ls->counted)
			break;
		st = bpf_map_lookup_elem(&lb_ep_stats, &ls->ep_id);
		if (st)
			st->opened++;
		live = bpf_map_lookup_elem(&lb_ep_active, &ls->ep_id);
		if (live) {
			__sync_fetch_and_add(live, 1);
			ls->counted = 1;
		}
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
						     BPF_SOCK_OPS_STATE_CB_FLAG);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] != BPF_TCP_CLOSE)
			break;
		err = lb_sk_err(sk);
		now = bpf_ktime_get_ns();
		if (skops->args[0] == BPF_TCP_SYN_SENT && !ls->outcome) {
			ls->outcome = 1;
			/* an attempt the application gave up on (err 0) says
			 * nothing about the endpoint */
			if (err == ECONNREFUSED || err == ETIMEDOUT || err == EHOSTUNREACH ||
			    err == ENETUNREACH) {
				lb_stat_add(ls->ep_id, err == ECONNREFUSED ? 0 : 1);
				lb_ep_failure(ls->ep_id, ls->svc_id, LB_REASON_CONNECT_FAILURES,
					      now);
				lb_breaker_record(ls->svc_id, true, now);
			}
		}
		if (!ls->counted)
			break;
		ls->counted = 0;
		if (err == ECONNRESET || err == ETIMEDOUT) {
			lb_stat_add(ls->ep_id, 2);
			lb_breaker_record(ls->svc_id, true, now);
		}
		st = bpf_map_lookup_elem(&lb_ep_stats, &ls->ep_id);
		if (st)
			st->closed++;
		live = bpf_map_lookup_elem(&lb_ep_active, &ls->ep_id);
		if (live)
			__sync_fetch_and_add(live, -1);
		break;
	}
	return 1;
}

/* The socket is gone: free what the load balancer kept for it. Every
 * socket the application held passes here (an MPTCP subflow does not: its
 * MPTCP socket frees its entry); nothing is left behind in a map. */
SEC("cgroup/sock_release")
int bm_sock_release(struct bpf_sock *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);

	if (ctx->protocol == IPPROTO_UDP)
		lb_udp_forget(ctx, cookie);
	else if (ctx->protocol == IPPROTO_MPTCP)
		lb_mptcp_forget(ctx);
	lb_conn_release(cookie);
	return 1;
}

/* tc guard, on the host-side interface of endpoints that clients reach
 * without passing a cgroup hook (another namespace, another host): a new
 * connection (SYN) to an ejected endpoint is dropped; established flows go on. */
SEC("tc")
int bm_tc_guard(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct lb_be_key key = {};
	struct lb_ep_health *h;
	struct tcphdr *tcp;
	__u32 *ep;

	if ((void *)(eth + 1) > end)
		return TC_ACT_UNSPEC;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP || ip->ihl < 5)
			return TC_ACT_UNSPEC;
		tcp = (void *)ip + ip->ihl * 4;
		__builtin_memcpy(key.addr, &ip->daddr, 4);
		key.family = AF_INET;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		/* extension headers are not walked: TCP must follow at once */
		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return TC_ACT_UNSPEC;
		tcp = (void *)(ip6 + 1);
		__builtin_memcpy(key.addr, &ip6->daddr, 16);
		key.family = AF_INET6;
	} else {
		return TC_ACT_UNSPEC;
	}
	if ((void *)(tcp + 1) > end || !tcp->syn || tcp->ack)
		return TC_ACT_UNSPEC;
	key.port = tcp->dest;
	ep = bpf_map_lookup_elem(&lb_be_addr, &key);
	if (!ep)
		return TC_ACT_UNSPEC;
	h = bpf_map_lookup_elem(&lb_ep_health, ep);
	if (!h || h->state != LB_EP_EJECTED)
		return TC_ACT_UNSPEC;
	if (h->reason != LB_REASON_ACTIVE_CHECK && bpf_ktime_get_ns() >= h->ejected_until)
		return TC_ACT_UNSPEC;
	lb_count_drop(LB_DROP_TC_EJECTED);
	return TC_ACT_SHOT;
}
