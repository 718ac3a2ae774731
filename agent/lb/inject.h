/* SPDX-License-Identifier: Apache-2.0 */
/* inject.h: traceparent injection (bpf/inject.bpf.c): loaded, self-tested
 * and attached when a configuration first turns it on somewhere, detached
 * when a reload turns it off everywhere. Its programs and maps are the
 * agent's own, never pinned: injection stops with the agent. */
#ifndef BPFMESH_LB_INJECT_H
#define BPFMESH_LB_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/inject.h"
#include "config/config.h"

struct inject_bpf;
struct bpf_link;

struct injector {
	struct inject_bpf *skel;
	struct bpf_link *links[3];  /* bm_inject_c4, _c6, _ops on the agent's cgroup */
	bool on;		    /* attached: sockets of injecting cgroups get headers */
	bool refused;		    /* the kernel or the self-test said no: not tried again */
	uint64_t key;		    /* the span-id tag's key (inject.h), 0 while off */
	char status[192];	    /* "on", "off: ..." (status.tracing.injection) */
	char selftest[160];	    /* the last self-test's outcome */
	uint64_t st[INJECT_ST_MAX]; /* counters of earlier loads, kept across detach */
	/* what inject_skip holds (inject_skip.c), sorted by tgid */
	struct inject_skip_ent *skip;
	size_t n_skip;
	uint64_t skip_checked_ns; /* the last look at the entries' processes */
	/* capture's pinned http_serving (lib/serving.bpf.h), shared with the
	 * programs at load; 0: none (the programs get an empty map of their own) */
	int serving_fd;
};

/* A process to keep injection away from (an SDK exports its spans). */
struct inject_sdk_proc {
	uint32_t tgid;
	uint64_t cgroup_id;
};

/* An entry of inject_skip. */
struct inject_skip_ent {
	uint32_t tgid;
	struct inject_skip v;
};

/* A process's start time (/proc/PID/stat starttime): 0, or -1 when there
 * is no such process. */
typedef int (*inject_start_fn)(uint32_t tgid, uint64_t *start_ticks, void *ctx);

/* The table inject_skip should hold, from the one it holds (cur, sorted by
 * tgid) and the processes to skip (want, any order, sorted in place): a wanted process
 * keeps its entry; a new one gets its cgroup and start time (none if it
 * has exited); with recheck, an entry whose process exited or whose pid now
 * has another start time is marked INJECT_SKIP_GONE and stays so while it
 * is wanted (the pid's next owner is not skipped); an entry not wanted
 * goes. At most max entries (INJECT_MAX_SKIP), sorted by tgid. Pure but
 * for start. Returns how many were written to out. */
size_t inject_skip_plan(const struct inject_skip_ent *cur, size_t n_cur,
			struct inject_sdk_proc *want, size_t n_want, bool recheck,
			inject_start_fn start, void *ctx, struct inject_skip_ent *out, size_t max);
/* Make inject_skip follow want (a no-op while injection is off); the
 * entries' processes are looked at again once a second. */
void injector_skip_sync(struct injector *in, const struct inject_sdk_proc *want, size_t n_want,
			uint64_t now_ns);
/* Processes excluded now (entries not GONE). */
size_t injector_skipped(const struct injector *in);
/* Processes seen serving HTTP requests (http_serving) that still run:
 * injection leaves them alone. 0 while injection is off. */
size_t injector_serving(const struct injector *in);

/* Is injection on for any process under cfg: Telemetry's propagation.inject
 * or a Workload's tracing.inject: true. */
bool inject_wanted(const struct mesh_config *cfg);

/* Make the kernel follow cfg: load, self-test and attach on the first
 * configuration that wants injection; write the Workloads' settings and
 * the sampling threshold (sampling.h) of the trace ids the kernel makes;
 * detach when none wants it. cgroup_fd: the agent's cgroup. 0, or a
 * negative errno after logging (status then says why it is off). */
int injector_apply(struct injector *in, const struct mesh_config *cfg, int cgroup_fd,
		   uint64_t threshold);
/* The counters (enum inject_stat) summed over CPUs and loads. */
void injector_stats(const struct injector *in, uint64_t st[INJECT_ST_MAX]);
void injector_close(struct injector *in);

/* The self-test (inject_selftest.c; grafana/beyla#2941: sockets in a
 * sockhash misreport FIONREAD on some kernels): a loopback pair, the
 * client's socket in sockhash_fd, a request through the real sk_msg
 * program. The server must receive exactly the request plus one header
 * (and FIONREAD say so), the client must see the response with poll,
 * FIONREAD and splice. 0, or -1 with why (e.g. "FIONREAD 0 after 38
 * bytes"). */
int inject_selftest(int sockhash_fd, char *why, size_t len);

#endif
