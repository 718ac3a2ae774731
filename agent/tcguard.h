/* SPDX-License-Identifier: Apache-2.0 */
/* tcguard.h: the tc guard on endpoints' host-side interfaces (Workload
 * interfaces): tcx egress links, pinned under <bpffs>/links/tc-IFNAME. */
#ifndef BPFMESH_TCGUARD_H
#define BPFMESH_TCGUARD_H

#include "config.h"

struct tcguard {
	char bpffs[512];
	int prog_fd;
	char (*attached)[16]; /* interfaces this agent attached */
	int n_attached;
	int missing; /* wanted interfaces that do not exist (yet) */
};

void tcguard_init(struct tcguard *g, const char *bpffs, int prog_fd);
/* Attach to every interface the Workloads name, detach from the others. */
void tcguard_apply(struct tcguard *g, const struct mesh_config *cfg);
void tcguard_free(struct tcguard *g);

#endif
