/* SPDX-License-Identifier: Apache-2.0 */
/* capfix.h: what the in-kernel tests of the capture programs share: the
 * capture object loaded with nothing pinned (nothing outlives a test), and
 * an IPv4 TCP segment for BPF_PROG_TEST_RUN. */
#ifndef BPFMESH_TESTS_CAPFIX_H
#define BPFMESH_TESTS_CAPFIX_H

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "skel/http.skel.h"

/* The capture programs, loaded, their maps unpinned; NULL when the kernel
 * refused them (said on stderr). */
static inline struct http_bpf *capfix_load(void)
{
	struct http_bpf *skel = http_bpf__open();
	struct bpf_map *map;

	if (!skel)
		return NULL;
	bpf_object__for_each_map(map, skel->obj) bpf_map__set_pin_path(map, NULL);
	if (http_bpf__load(skel)) {
		fprintf(stderr, "loading the capture programs failed (root? BTF?)\n");
		http_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* One Ethernet + IPv4 + TCP packet from 10.0.0.1:40000 to 10.0.0.2:80
 * carrying payload (sequence number 0); the program sees it from the IP
 * header on. buf holds 54 + plen bytes. */
static inline size_t capfix_craft(uint8_t *buf, const void *payload, size_t plen)
{
	struct ethhdr *eth = (void *)buf;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip + 1);

	memset(buf, 0, sizeof(*eth) + sizeof(*ip) + sizeof(*tcp));
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->protocol = IPPROTO_TCP;
	ip->ttl = 64;
	ip->tot_len = htons(sizeof(*ip) + sizeof(*tcp) + plen);
	ip->saddr = htonl(0x0a000001);
	ip->daddr = htonl(0x0a000002);
	tcp->source = htons(40000);
	tcp->dest = htons(80);
	tcp->doff = 5;
	tcp->ack = 1;
	memcpy(tcp + 1, payload, plen);
	return sizeof(*eth) + sizeof(*ip) + sizeof(*tcp) + plen;
}

#endif
