/* SPDX-License-Identifier: Apache-2.0 */
/* capfix.h: what the in-kernel tests of the capture programs share: the
 * capture object loaded with nothing pinned (nothing outlives a test), and
 * IPv4 TCP segments for BPF_PROG_TEST_RUN (also bench/capture_prog.c's), and
 * ring records copied out. */
#ifndef BPFMESH_TESTS_CAPFIX_H
#define BPFMESH_TESTS_CAPFIX_H

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "bpf/http.h"
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

/* A ring record (data, size bytes) into ev and, when it carries one, its
 * request's trace context into ctx; both zeroed first, as records are
 * sized to what they carry. */
static inline void capfix_copy_record(struct http_event *ev, struct http_req_ctx *ctx,
				      const void *data, size_t size)
{
	memset(ev, 0, sizeof(*ev));
	memset(ctx, 0, sizeof(*ctx));
	if (size >= HTTP_EV_MAX)
		memcpy(ctx, (const char *)data + HTTP_EV_HDR + HTTP_HEAD_MAX, sizeof(*ctx));
	memcpy(ev, data, size < sizeof(*ev) ? size : sizeof(*ev));
}

/* One Ethernet + IPv4 + TCP segment of the connection 10.0.0.1:lport (the
 * pod, the client) <-> 10.0.0.2:80, the way from_pod says, with sequence
 * number seq and plen bytes of payload; the program sees it from the IP
 * header on. buf holds 54 + plen bytes. */
static inline size_t capfix_segment(uint8_t *buf, uint16_t lport, bool from_pod, uint32_t seq,
				    const void *payload, size_t plen)
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
	ip->saddr = htonl(from_pod ? 0x0a000001 : 0x0a000002);
	ip->daddr = htonl(from_pod ? 0x0a000002 : 0x0a000001);
	tcp->source = htons(from_pod ? lport : 80);
	tcp->dest = htons(from_pod ? 80 : lport);
	tcp->seq = htonl(seq);
	tcp->doff = 5;
	tcp->ack = 1;
	memcpy(tcp + 1, payload, plen);
	return sizeof(*eth) + sizeof(*ip) + sizeof(*tcp) + plen;
}

/* From 10.0.0.1:40000 to 10.0.0.2:80, sequence number 0. */
static inline size_t capfix_craft(uint8_t *buf, const void *payload, size_t plen)
{
	return capfix_segment(buf, 40000, true, 0, payload, plen);
}

#endif
