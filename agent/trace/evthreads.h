/* SPDX-License-Identifier: Apache-2.0 */
/* evthreads.h: the threads a socket was last sent on and read from, as the
 * kernel's THREAD records said. The kernel records a socket's thread only
 * when it changes (bpf/http.h, struct http_conn), so a request that no
 * record claims before its response was moved by the socket's last thread.
 * Open addressing by socket cookie; an entry goes with its socket's CLOSE
 * record. */
#ifndef BPFMESH_EVTHREADS_H
#define BPFMESH_EVTHREADS_H

#include <stdint.h>

/* The thread of a request, as obs.h carries it; tid 0 = unknown. */
struct ev_thread {
	uint32_t tgid, tid;
	uint64_t cgroup_id;
	char comm[16];
};

enum { EVT_SEND = 0, EVT_RECV = 1 };

struct evt_slot {
	uint64_t cookie; /* 0 = free (no socket has cookie 0) */
	struct ev_thread th[2];
};

struct evthreads {
	struct evt_slot *slots;
	uint32_t cap, n; /* cap: a power of two, or 0 before the first set */
	uint64_t resets; /* the table was full (CLOSE records lost) and started over */
};

/* A zeroed struct evthreads is an empty table. */
void evthreads_set(struct evthreads *t, uint64_t cookie, int way, const struct ev_thread *th);
const struct ev_thread *evthreads_get(const struct evthreads *t, uint64_t cookie, int way);
void evthreads_forget(struct evthreads *t, uint64_t cookie);
void evthreads_free(struct evthreads *t);

#endif
