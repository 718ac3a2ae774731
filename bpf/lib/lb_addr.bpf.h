/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* lb_addr.bpf.h: address forms the load balancer and its socket iterators
 * both meet. */
#ifndef BPFMESH_LB_ADDR_BPF_H
#define BPFMESH_LB_ADDR_BPF_H

#include <bpf/bpf_endian.h>

/* ::ffff:a.b.c.d, how an AF_INET6 socket reaches an IPv4 address */
static __always_inline bool lb_v4mapped(__u32 a0, __u32 a1, __u32 a2)
{
	return !a0 && !a1 && a2 == bpf_htonl(0xffff);
}

#endif
