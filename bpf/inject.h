/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* inject.h: the ABI of traceparent injection (bpf/inject.bpf.c), shared with
 * the agent (agent/lb/inject.c loads it, agent/trace reads the ids back).
 *
 * The kernel makes the ids of the header it adds. The agent learns them
 * from the capture's REQUEST record, which shows the header (cgroup_skb
 * egress runs after sk_msg): a span id the kernel made carries a tag, a
 * keyed hash of its other half and of the connection, so the agent tells
 * an injected header from the application's own (or one the application
 * forwards from another connection) without a map or a record per request. */
#ifndef BPFMESH_INJECT_H
#define BPFMESH_INJECT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Bytes of a message searched for the end of a request head: a head that
 * does not end within them is left alone and counted (INJECT_ST_HEAD_BIG).
 * An existing traceparent is looked for up to the head's end, so this
 * bounds that search too. A power of two (the copy's length is masked). */
#define INJECT_SCAN_MAX 2048
/* "traceparent: 00-" 32 hex "-" 16 hex "-" 2 hex "\r\n" */
#define INJECT_HDR_LEN 70
/* Requests pipelined in one message that get a header each. */
#define INJECT_PIPELINE_MAX 8
#define INJECT_MAX_SOCKS 65536
#define INJECT_MAX_CGROUPS 1024
/* Ancestor levels of a task's cgroup searched for a Workload's setting. */
#define INJECT_CGROUP_LEVELS 16
/* SDK-instrumented processes excluded from injection (inject_skip). */
#define INJECT_MAX_SKIP 1024
/* Processes seen serving HTTP requests (http_serving, lib/serving.bpf.h):
 * they get no header, as the kernel cannot know the trace of the request a
 * call serves; bpfmesh's nesting keeps their calls in it instead. */
#define INJECT_MAX_SERVING 4096

/* inject_stats index (per-CPU counters). */
enum inject_stat {
	INJECT_ST_INJECTED = 0,	  /* a header was added */
	INJECT_ST_HAS_TP = 1,	  /* the request carried its own traceparent: unchanged */
	INJECT_ST_HEAD_BIG = 2,	  /* the head does not end in the first INJECT_SCAN_MAX bytes */
	INJECT_ST_HEAD_SPLIT = 3, /* the head continues in a later send: left alone */
	INJECT_ST_PUSH_FAIL = 4,  /* bpf_msg_push_data (or the pull after it) failed */
	INJECT_ST_SOCKS = 5,	  /* client sockets added to inject_socks */
	INJECT_ST_SKIP_CONN = 6,  /* connect() of an SDK'd process: socket not chosen */
	INJECT_ST_SKIP_MSG = 7,	  /* a send of an SDK'd process on a socket chosen before */
	INJECT_ST_SRV_CONN = 8,	  /* connect() of a process seen serving requests: not chosen */
	INJECT_ST_SRV_MSG = 9,	  /* a send of a serving process on a socket chosen before */
	INJECT_ST_MAX = 10,
};

/* inject_cgrp value: a Workload's own setting, which beats inject_all. */
#define INJECT_CG_ON 1
#define INJECT_CG_OFF 2
/* instrumented: "true" (no inject of its own): off, counted as skipped */
#define INJECT_CG_SDK 3

/* inject_skip (key: the tgid): a process whose OpenTelemetry SDK exports
 * its own spans (the span builder saw it send traceparents of its own, or
 * its Workload says instrumented: "true") gets no header. cgroup_id guards
 * against a reused pid: the kernel skips only a task of that tgid in that
 * cgroup. start_ticks is the agent's (/proc/PID/stat starttime when the
 * entry was made; the kernel ignores it): an entry whose process exited or
 * whose pid now names another process is marked INJECT_SKIP_GONE until the
 * mark expires, so the pid's next owner is not skipped. */
struct inject_skip {
	__u64 cgroup_id;
	__u64 start_ticks;
	__u32 flags;
	__u32 pad;
};
_Static_assert(sizeof(struct inject_skip) == 24, "inject_skip is an ABI");

#define INJECT_SKIP_GONE 1

/* The tag: the low 32 bits of a span id, from its high 32 bits r, the
 * connection (inject_conn) and the agent's secret key, with murmur3's
 * finalizer. Not a MAC against an attacker who sees many ids; enough that
 * an application's own ids match with odds of 2^-32. The connection is its
 * 4-tuple as the sending socket sees it (sk_msg has no socket cookie; the
 * capture's records have the addresses): addresses as 16 bytes, IPv4 as
 * IPv4-mapped IPv6, read as four u32 words in memory order; ports in host
 * order. */
static inline __u64 inject_mix(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static inline __u64 inject_conn(const __u32 local[4], const __u32 remote[4], __u16 lport,
				__u16 rport)
{
	__u64 h = (__u64)lport << 16 | rport;

	for (int i = 0; i < 4; i++)
		h = inject_mix(h ^ ((__u64)local[i] << 32 | remote[i]));
	return h;
}

static inline __u32 inject_tag(__u32 r, __u64 conn, __u64 key)
{
	return (__u32)inject_mix(key ^ inject_mix(conn ^ ((__u64)r << 32 | r)));
}

#endif
