/* SPDX-License-Identifier: Apache-2.0 */
/* test_events_ring.c: the agent's reader of the capture ring
 * (agent/trace/events.c) on records the capture program wrote: read in
 * chunks, with the CPU offered to others between them until a read has
 * taken half the ring, it must deliver every record once, in order. */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/http.h"
#include "skel/http.skel.h"
#include "trace/events.h"
#include "trace/obs.h"

static struct http_bpf *skel;
static int n_requests, n_other;
static uint64_t last_ts;
static bool in_order = true;

static void on_obs(struct obs *o, void *ctx)
{
	(void)ctx;
	if (o->kind != OBS_REQUEST) {
		n_other++;
		return;
	}
	if (o->ts_ns < last_ts)
		in_order = false;
	last_ts = o->ts_ns;
	n_requests++;
}

static int setup(void **state)
{
	struct bpf_map *map;

	(void)state;
	skel = http_bpf__open();
	if (!skel)
		return -1;
	bpf_object__for_each_map(map, skel->obj)
	    bpf_map__set_pin_path(map, NULL); /* a test pins nothing */
	if (http_bpf__load(skel)) {
		fprintf(stderr, "loading the capture programs failed (root? BTF?)\n");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	http_bpf__destroy(skel);
	return 0;
}

/* wrk's request head, repeat times through the egress program: as many
 * REQUEST records of one socket. */
static void requests(int repeat)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
	uint8_t pkt[256];
	struct ethhdr *eth = (void *)pkt;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip + 1);
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	memset(pkt, 0, sizeof(pkt));
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->protocol = IPPROTO_TCP;
	ip->ttl = 64;
	ip->tot_len = htons(sizeof(*ip) + sizeof(*tcp) + sizeof(req) - 1);
	ip->saddr = htonl(0x0a000001);
	ip->daddr = htonl(0x0a000002);
	tcp->source = htons(40000);
	tcp->dest = htons(80);
	tcp->doff = 5;
	tcp->ack = 1;
	memcpy(tcp + 1, req, sizeof(req) - 1);
	opts.data_in = pkt;
	opts.data_size_in = sizeof(*eth) + sizeof(*ip) + sizeof(*tcp) + sizeof(req) - 1;
	opts.repeat = repeat;
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.bm_http_egress), &opts),
			 0);
}

static void read_all(int n)
{
	struct events ev;

	n_requests = n_other = 0;
	last_ts = 0;
	in_order = true;
	assert_int_equal(events_init(&ev, bpf_map__fd(skel->maps.http_events), -1, on_obs, NULL),
			 0);
	ev.no_threads = true; /* requests go on at once, without a thread record */
	requests(n);
	events_consume(&ev);
	assert_int_equal(ev.events, n);
	assert_int_equal(n_requests, n);
	assert_int_equal(n_other, 0);
	assert_true(in_order);
	/* a second read finds nothing left behind */
	events_consume(&ev);
	assert_int_equal(ev.events, n);
	events_free(&ev);
}

/* A few chunks: the reads stopped at each chunk's end go on where they
 * stopped. */
static void test_chunks(void **state)
{
	(void)state;
	read_all(1000);
}

/* Past half the ring (8 MiB; a request record takes about 160 bytes): the
 * rest of the backlog in one go, nothing lost at the switch. */
static void test_past_half_the_ring(void **state)
{
	(void)state;
	read_all(40000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chunks),
	    cmocka_unit_test(test_past_half_the_ring),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
