// SPDX-License-Identifier: Apache-2.0
/* capture_prog.c: the run time of the capture programs per packet kind, for
 * bench/capture.sh. BPF_PROG_TEST_RUN of the cgroup_skb egress program (the
 * ingress one runs the same code) on crafted IPv4 packets: a segment without
 * a head (a body or any other TCP payload of a socket capture knows), one
 * that starts with uppercase letters (SMTP), a pure ACK, a request head
 * (wrk's) and one with an extension method, a response head (nginx's, one segment), and a
 * response head whose body follows in later segments. The maps are the
 * program's own (nothing pinned) and the ring is emptied between batches.
 * The harness's own cost per run is included: it is printed first, as the
 * run time of a program that returns at once, so that a kind's own cost is
 * its figure less that; take bpf_stats in capture.sh part 3 for what
 * packets cost under real traffic.
 *
 * Before that, the load itself: its wall time and, per program, the
 * instructions the verifier processed.
 *
 *   capture_prog [RUNS]   prints "load_ms N", "insns PROGRAM N",
 *                         "harness ns_per_run" and "KIND ns_per_run" lines
 *
 * The floor of bpf_stats under real traffic: a program that returns at once,
 * attached beside the capture programs, runs on the same packets with the
 * same instrumentation (two clock reads, the program's call and return, the
 * counters' update; about 60 ns here), and its run_time_ns / run_cnt is
 * what every program's figure in part 3 carries over its own work.
 *
 *   capture_prog floor CGROUP_DIR
 *                         attaches one to CGROUP_DIR's egress and one to its
 *                         ingress (bpf links, allowing others) and one to the
 *                         sock_send_length tracepoint, prints "floor
 *                         EGRESS_ID INGRESS_ID TRACEPOINT_ID" (program ids)
 *                         and waits to be killed: the links go with the
 *                         process
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "skel/http.skel.h"
#include "tests/bpf/capfix.h" /* the same segments as the in-kernel tests */

static int on_event(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	(*(long *)ctx)++;
	return 0;
}

/* ns per run over runs runs, in batches that the ring holds. */
static double measure(int fd, struct ring_buffer *rb, const char *payload, int runs)
{
	static uint8_t pkt[8192];
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	double total = 0;
	int done = 0;

	opts.data_in = pkt;
	opts.data_size_in = capfix_craft(pkt, payload, strlen(payload));
	while (done < runs) {
		opts.repeat = runs - done < 1000 ? runs - done : 1000;
		if (bpf_prog_test_run_opts(fd, &opts)) {
			perror("BPF_PROG_TEST_RUN");
			exit(1);
		}
		total += (double)opts.duration * opts.repeat;
		done += opts.repeat;
		ring_buffer__consume(rb);
	}
	return total / runs;
}

/* r0 = 1 (pass); exit */
static const struct bpf_insn noop_insns[] = {
    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1},
    {.code = BPF_JMP | BPF_EXIT},
};

/* A program that returns at once, linked to the cgroup at type; its id in
 * *id. The link's fd stays open: the attachment lives as long as we do. */
static int floor_link(int cg, enum bpf_attach_type type, const char *name, __u32 *id)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = type);
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);
	int fd = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SKB, name, "GPL", noop_insns, 2, &opts);

	if (fd < 0 || bpf_link_create(fd, cg, type, NULL) < 0 ||
	    bpf_obj_get_info_by_fd(fd, &info, &len))
		return -1;
	*id = info.id;
	return 0;
}

/* The same on the sock_send_length tracepoint (tp_btf, as bm_http_send):
 * a tracepoint program's floor, which is not a cgroup_skb one's. */
static int floor_tp(__u32 *id)
{
	static const struct bpf_insn ret0[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	int btf_id = libbpf_find_vmlinux_btf_id("sock_send_length", BPF_TRACE_RAW_TP);
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_RAW_TP,
		    .attach_btf_id = btf_id);
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);
	int fd;

	if (btf_id < 0)
		return -1;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "bm_floor_tp", "GPL", ret0, 2, &opts);
	if (fd < 0 || bpf_raw_tracepoint_open(NULL, fd) < 0 ||
	    bpf_obj_get_info_by_fd(fd, &info, &len))
		return -1;
	*id = info.id;
	return 0;
}

static int floor_attach(const char *cgroup)
{
	int cg = open(cgroup, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	__u32 eg, in, tp;

	if (cg < 0 || floor_link(cg, BPF_CGROUP_INET_EGRESS, "bm_floor_eg", &eg) ||
	    floor_link(cg, BPF_CGROUP_INET_INGRESS, "bm_floor_in", &in) || floor_tp(&tp)) {
		perror("capture_prog floor");
		return 1;
	}
	printf("floor %u %u %u\n", eg, in, tp);
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
				   "Date: Thu, 03 Dec 2026 06:00:00 GMT\r\n"
				   "Content-Type: text/plain\r\nContent-Length: 2\r\n"
				   "Connection: keep-alive\r\n\r\nok";
	static const char resp_big[] =
	    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 100000\r\n\r\nxx";
	char body[1400];
	int runs = argc > 1 ? atoi(argv[1]) : 20000;
	struct http_bpf *skel;
	struct bpf_map *map;
	struct bpf_program *prog;
	struct ring_buffer *rb;
	struct timespec t0, t1;
	long n = 0;
	int fd, noop;

	if (argc == 3 && !strcmp(argv[1], "floor"))
		return floor_attach(argv[2]);
	libbpf_set_print(NULL);
	skel = http_bpf__open();
	if (!skel)
		return 1;
	bpf_object__for_each_map(map, skel->obj) bpf_map__set_pin_path(map, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (http_bpf__load(skel)) {
		fprintf(stderr, "capture_prog: loading the capture programs failed\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("load_ms %.0f\n", (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	bpf_object__for_each_program(prog, skel->obj)
	{
		struct bpf_prog_info info = {0};
		__u32 len = sizeof(info);

		if (!bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			printf("insns %s %u\n", bpf_program__name(prog), info.verified_insns);
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.http_events), on_event, &n, NULL);
	if (!rb)
		return 1;
	fd = bpf_program__fd(skel->progs.bm_http_egress);
	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = 0;
	/* the harness alone: a program that returns at once, on a pure ACK */
	noop = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SKB, "bm_noop", "GPL", noop_insns, 2, NULL);
	if (noop >= 0) {
		printf("harness %.0f\n", measure(noop, rb, "", runs));
		close(noop);
	}
	/* a request first: the socket is then one capture knows */
	measure(fd, rb, req, 10);
	printf("ack %.0f\n", measure(fd, rb, "", runs));
	printf("no_head %.0f\n", measure(fd, rb, body, runs));
	/* text protocols start with uppercase words: the extension-method check */
	printf("no_head_upper %.0f\n", measure(fd, rb, "EHLO mail.example.com\r\n", runs));
	printf("request_head_ext %.0f\n",
	       measure(fd, rb, "PROPFIND / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", runs));
	printf("request_head %.0f\n", measure(fd, rb, req, runs));
	printf("response_head %.0f\n", measure(fd, rb, resp, runs));
	printf("response_head_body_follows %.0f\n", measure(fd, rb, resp_big, runs));
	printf("records %ld\n", n);
	ring_buffer__free(rb);
	http_bpf__destroy(skel);
	return 0;
}
