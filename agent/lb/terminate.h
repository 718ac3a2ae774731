/* SPDX-License-Identifier: Apache-2.0 */
/* terminate.h: outlierDetection.terminateConnections: destroy the mesh's
 * sockets to an ejected or removed endpoint (bpf_sock_destroy from socket
 * iterators), in every network namespace that has processes in the attached
 * cgroup, so clients reconnect and are balanced to healthy endpoints. */
#ifndef BPFMESH_TERMINATE_H
#define BPFMESH_TERMINATE_H

#include "bpf/health.h"
#include "config/config.h"

struct bpf_link;
struct bpf_program;

struct terminator {
	struct bpf_link *tcp, *udp;
	int term_fd; /* lb_term */
	char cgroup[512];
	unsigned long long destroyed; /* sockets, since start */
};

int terminator_init(struct terminator *t, struct bpf_program *tcp, struct bpf_program *udp,
		    int term_fd, const char *cgroup);
void terminator_free(struct terminator *t);

/* Destroy mesh sockets to these endpoints. Returns the number destroyed or a
 * negative errno; *netns gets the number of namespaces visited. */
int terminator_run(struct terminator *t, const struct lb_be_key *keys, int n, int *netns);

/* Endpoints (as lb_be_key) of services with terminateConnections in `old`
 * that the same service no longer has in `cur`. Returns the count; *out is
 * malloc'd. */
int terminate_removed(const struct mesh_config *old, const struct mesh_config *cur,
		      struct lb_be_key **out);

#endif
