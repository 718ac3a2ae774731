// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* term.bpf.c: terminateConnections, the socket iterators that destroy the
 * mesh's sockets to ejected or removed endpoints. An object of its own
 * because bpf_sock_destroy (kernel 6.5) is a kfunc: where the kernel lacks
 * it, libbpf 1.1 fails the whole object that calls it (a __weak ksym is not
 * enough: "invalid kernel function call not eliminated"), and the load
 * balancer must load without it. The agent loads this object only when the
 * kernel's BTF has the kfunc and the tcp/udp iterators, and gives it the
 * load balancer's maps (lb_conns, lb_term) by fd: every map declared here is
 * the one lb.bpf.c made.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/lb_maps.bpf.h"
#include "lib/health_maps.bpf.h"
#include "lib/lb_addr.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define TCP_TIME_WAIT 6
#define TCP_NEW_SYN_RECV 12

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* terminateConnections: destroy the mesh's sockets to the endpoints listed
 * in lb_term (as Cilium's terminatePodConnections), so clients reconnect and
 * are balanced elsewhere. Only sockets sent through a service (an lb_conns
 * entry) are touched; a connection the application made straight to the
 * endpoint's address is its own business. The agent runs these iterators in
 * every network namespace with processes in the attached cgroup. */
static __always_inline int lb_term_sock(struct seq_file *seq, struct sock_common *skc)
{
	struct lb_be_key k = {};
	__u64 cookie;

	if (skc->skc_state == TCP_TIME_WAIT || skc->skc_state == TCP_NEW_SYN_RECV)
		return 0;
	k.family = skc->skc_family;
	if (k.family == AF_INET) {
		__builtin_memcpy(k.addr, &skc->skc_daddr, 4);
	} else if (k.family == AF_INET6) {
		const __u32 *d = skc->skc_v6_daddr.in6_u.u6_addr32;

		/* a v6 socket sent to a v4 endpoint (::ffff:a.b.c.d) */
		if (lb_v4mapped(d[0], d[1], d[2])) {
			__builtin_memcpy(k.addr, &d[3], 4);
			k.family = AF_INET;
		} else {
			__builtin_memcpy(k.addr, &skc->skc_v6_daddr, 16);
		}
	} else {
		return 0;
	}
	k.port = skc->skc_dport;
	if (!bpf_map_lookup_elem(&lb_term, &k))
		return 0;
	cookie = bpf_get_socket_cookie(skc);
	if (!bpf_map_lookup_elem(&lb_conns, &cookie))
		return 0;
	/* one byte per destroyed socket: the agent counts what it reads */
	if (!bpf_sock_destroy(skc))
		bpf_seq_write(seq, "x", 1);
	return 0;
}

SEC("iter/tcp")
int bm_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;

	return skc ? lb_term_sock(ctx->meta->seq, skc) : 0;
}

SEC("iter/udp")
int bm_iter_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;

	return udp ? lb_term_sock(ctx->meta->seq, &udp->inet.sk.__sk_common) : 0;
}
