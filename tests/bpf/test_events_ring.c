/* SPDX-License-Identifier: Apache-2.0 */
/* test_events_ring.c: the agent's reader of the capture ring
 * (agent/trace/events.c) on records the capture program wrote: read in
 * chunks, with the CPU offered to others between them while it is less
 * than a quarter of the ring behind, it must deliver every record once, in
 * order, and it must know how far behind it is. */
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
#include "capfix.h"
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
	(void)state;
	skel = capfix_load();
	return skel ? 0 : -1;
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
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	opts.data_in = pkt;
	opts.data_size_in = capfix_craft(pkt, req, sizeof(req) - 1);
	opts.repeat = repeat;
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.bm_http_egress), &opts),
			 0);
}

/* A request record in the ring: the ring's own 8-byte header, the record's
 * and its 64-byte head class, in 8-byte units. */
#define REQ_RECORD (8 + HTTP_EV_HDR + 64)

/* Reads n records; returns how many times the reader yielded. */
static uint64_t read_all(int n)
{
	struct events ev;
	uint64_t yields;

	n_requests = n_other = 0;
	last_ts = 0;
	in_order = true;
	assert_int_equal(events_init(&ev, bpf_map__fd(skel->maps.http_events), -1, on_obs, NULL),
			 0);
	ev.no_threads = true; /* requests go on at once, without a thread record */
	assert_int_equal(ev.yield_backlog, 8 * 1024 * 1024 / 4);
	assert_int_equal(events_backlog(&ev), 0);
	requests(n);
	assert_int_equal(events_backlog(&ev), (uint64_t)n * REQ_RECORD);
	events_consume(&ev);
	assert_int_equal(events_backlog(&ev), 0);
	assert_int_equal(ev.events, n);
	/* the records' own bytes: the class, not the ring's header */
	assert_int_equal(ev.bytes, (uint64_t)n * (HTTP_EV_HDR + 64));
	assert_int_equal(n_requests, n);
	assert_int_equal(n_other, 0);
	assert_true(in_order);
	/* a second read finds nothing left behind */
	events_consume(&ev);
	assert_int_equal(ev.events, n);
	yields = ev.yields;
	events_free(&ev);
	return yields;
}

/* A few chunks (256 records each), the CPU offered after each: the reads
 * stopped at each chunk's end go on where they stopped. */
static void test_chunks(void **state)
{
	(void)state;
	assert_int_equal(read_all(1000), 3);
}

/* Further behind than a quarter of the ring (8 MiB; 40,000 request records
 * are 6.7 MB): the backlog in one go, without offering the CPU. */
static void test_past_a_quarter_of_the_ring(void **state)
{
	(void)state;
	assert_int_equal(read_all(40000), 0);
}

/* Just under a quarter: chunks again. */
static void test_under_a_quarter_of_the_ring(void **state)
{
	int n = 2 * 1024 * 1024 / REQ_RECORD - 1;

	(void)state;
	assert_int_equal(read_all(n), (uint64_t)n / 256);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chunks),
	    cmocka_unit_test(test_past_a_quarter_of_the_ring),
	    cmocka_unit_test(test_under_a_quarter_of_the_ring),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
