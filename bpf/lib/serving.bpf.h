/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* serving.bpf.h: the processes seen serving HTTP requests, marked by
 * capture (http.bpf.c, where a thread reads a request on a server socket)
 * and read by traceparent injection (inject.bpf.c), which leaves them
 * alone: the kernel makes a header's trace id at the send and cannot know
 * the request the sending thread serves, so an injected call of a middle
 * hop would start a new trace, where bpfmesh's nesting keeps it in the
 * trace of the request it serves (bpf/inject.h). One definition for both
 * objects: capture's is pinned by name, the agent hands its fd to the
 * injection object (bpf_map__reuse_fd). */
#ifndef BPFMESH_SERVING_BPF_H
#define BPFMESH_SERVING_BPF_H

#include "inject.h"

/* tgid -> the cgroup id of the task that read the request: a reused pid in
 * another cgroup is not taken for a server. LRU: a process that stopped
 * serving long ago drops out under pressure, and is marked again at its
 * next request. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, INJECT_MAX_SERVING);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} http_serving SEC(".maps");

/* The current task's process was seen serving requests (in its cgroup). */
static __always_inline bool serving_task(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 *cg = bpf_map_lookup_elem(&http_serving, &tgid);

	return cg && *cg == bpf_get_current_cgroup_id();
}

#endif
