/* SPDX-License-Identifier: Apache-2.0 */
/* loader.h: loading, pinning, attaching and adopting the kernel programs. */
#ifndef BPFMESH_LOADER_H
#define BPFMESH_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "lb/lbmaps.h"

struct lb_bpf;
struct http_bpf;

struct loader_opts {
	const char *bpffs;	/* pin root, e.g. /sys/fs/bpf/bpfmesh */
	const char *cgroup;	/* cgroup v2 path to attach to */
	uint32_t max_endpoints; /* 0: default */
	uint32_t max_services;	/* 0: default */
	uint32_t max_sockets;	/* 0: default */
};

struct loader {
	struct lb_bpf *skel;
	struct http_bpf *http; /* HTTP capture */
	char bpffs[512];
	char cgroup[512];
	int cgroup_fd;
	int n_attached;
	int n_adopted; /* links taken over from an earlier agent */
};

/* open -> size maps (adopting pinned sizes) -> load (reusing pinned maps) ->
 * check the layout version -> attach or take over pinned links. */
int loader_start(struct loader *l, const struct loader_opts *o);
/* Close our fds; pins and links stay, so the data path keeps working. */
void loader_close(struct loader *l);
void loader_map_fds(const struct loader *l, struct lbm_fds *fds);
/* A map's fd by name, or a negative errno. */
int loader_map_fd(const struct loader *l, const char *name);
struct bpf_program;
/* A program by name, or NULL. */
struct bpf_program *loader_prog(const struct loader *l, const char *name);
/* A program's fd by name, or a negative errno. */
int loader_prog_fd(const struct loader *l, const char *name);
/* Tell the capture tracepoints whether tc capture is attached anywhere. */
void loader_set_tc_capture(struct loader *l, bool on);

/* Remove every attachment and pin of bpfmesh under bpffs; when cgroup is set,
 * also links of bpfmesh programs on that cgroup whose pins were lost.
 * Returns the number of attachments removed, or a negative errno. */
int loader_detach(const char *bpffs, const char *cgroup);

#endif
