/* SPDX-License-Identifier: Apache-2.0 */
/* identity.h: which service a socket's process is, resolved by the pipeline
 * (tracing.c) before the span builder, which takes it from the observation.
 * The Workload whose cgroup holds the process (preferring one that serves the
 * socket's port), else the Service with the socket's address as an endpoint,
 * else the process name (OpenTelemetry's unknown_service when there is none,
 * in no namespace). A pod (a Workload made from a v1 Pod) holds the process
 * when its cgroup is under the pod's cgroup, found by the pod's UID in the
 * path (podcg.h) or by Workload.cgroup when the agent filled it; the
 * observation then carries the pod's identity (obs.k8s), with the container
 * when the cgroup names one, and the node (the pod's spec.nodeName, else the
 * agent's node name).
 *
 * The process's cgroup comes from the kernel's cgroup id first (the process
 * may be gone by now; the id names the cgroup for as long as it exists),
 * /proc/PID/cgroup otherwise. Resolved once per socket, and again when a
 * request names another process or the configuration changed; a request
 * whose thread is unknown keeps what its socket had. */
#ifndef BPFMESH_IDENTITY_H
#define BPFMESH_IDENTITY_H

#include <stdint.h>

#include "config/config.h"
#include "trace/obs.h"

#define IDENTITY_CG_CACHE 256  /* cgroup id -> path, direct-mapped */
#define IDENTITY_SOCKETS 16384 /* sockets remembered, least recently used out */

struct identity_cg {
	uint64_t id;
	char path[240];
};

struct id_sock;

struct identity {
	const struct mesh_config *cfg; /* in force; NULL: every process by its name */
	uint32_t gen;		       /* bumped by each configuration */
	char cgroot[512];	       /* the cgroup v2 mount, to read /proc/PID/cgroup against */
	int cg_mount_fd;	       /* open on cgroot, for open_by_handle_at */
	struct identity_cg cg_cache[IDENTITY_CG_CACHE];
	struct id_sock **ht; /* by cookie, IDENTITY_SOCKETS buckets */
	struct id_sock *lru_head, *lru_tail;
	uint32_t n_socks;
	uint64_t resolved, reused;     /* resolutions made, and answered from the socket's */
	char node_name[SPAN_NAME_MAX]; /* this node (--node-name); "" off Kubernetes */
};

/* 0, or -ENOMEM. Finds the cgroup v2 mount (none: cgroups match nothing). */
int identity_init(struct identity *id);
void identity_free(struct identity *id);

/* The configuration in force changed (cfg stays the caller's): every socket
 * is resolved again at its next request. */
void identity_set_config(struct identity *id, const struct mesh_config *cfg);

/* The agent's node, for k8s.node.name of pods that do not name theirs. */
void identity_set_node_name(struct identity *id, const char *node);

/* Sets o's service, service_ns, k8s, not_traced and instrumented (its
 * Workload's tracing.instrumented) for its socket (a REQUEST), and id_seq,
 * the number of the resolution they come from: the same while the socket's
 * answer is reused, a new one at each resolution. The strings are written
 * up to their NUL only. */
void identity_resolve(struct identity *id, struct obs *o);

/* The socket closed. */
void identity_forget(struct identity *id, uint64_t cookie);

#endif
