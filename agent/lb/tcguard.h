/* SPDX-License-Identifier: Apache-2.0 */
/* tcguard.h: bpfmesh's programs on endpoints' host-side interfaces (Workload
 * interfaces): the tc guard (tcx egress, pinned under <bpffs>/links/tc-IFNAME)
 * and HTTP capture (tcx ingress and egress, links/tchttp-in-IFNAME and
 * links/tchttp-out-IFNAME). Where the kernel has no tcx (before 6.6), the
 * same programs go in as classic tc filters on a clsact qdisc. */
#ifndef BPFMESH_TCGUARD_H
#define BPFMESH_TCGUARD_H

#include "config/config.h"
#include "lb/pindir.h"

#define TCG_PROGS 3

struct tcg_prog {
	int fd;		    /* < 0: not loaded, skipped */
	int attach_type;    /* BPF_TCX_INGRESS / BPF_TCX_EGRESS */
	int priority;	    /* of the classic filter: the lower runs first */
	const char *prefix; /* link pin name before the interface name */
	const char *what;   /* for logs */
};

struct tcguard {
	const struct pindir *pd; /* the loader's */
	struct tcg_prog progs[TCG_PROGS];
	char (*attached)[16]; /* interfaces this agent attached */
	int n_attached;
	int missing;  /* wanted interfaces that do not exist (yet) */
	bool classic; /* clsact filters instead of tcx links */
};

/* classic: no tcx on this kernel (features.h's plan). */
void tcguard_init(struct tcguard *g, const struct pindir *pd, int guard_fd, int capture_in_fd,
		  int capture_out_fd, bool classic);
/* The programs' fds once they are loaded (< 0: not loaded, skipped). */
void tcguard_set_progs(struct tcguard *g, int guard_fd, int capture_in_fd, int capture_out_fd);
/* Attach to every interface the Workloads name, detach from the others. */
void tcguard_apply(struct tcguard *g, const struct mesh_config *cfg);
void tcguard_free(struct tcguard *g);

#endif
