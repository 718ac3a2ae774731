/* SPDX-License-Identifier: Apache-2.0 */
/* features.h: what the running kernel offers the agent (probed once at
 * start, featprobe.c) and the plan made from it (features.c, pure): which
 * BPF objects and programs load, what is off and why, in one line each,
 * and which configuration the kernel cannot serve. Only the cgroup
 * sock_addr programs and sockops are needed for the mesh; everything
 * else is loaded only where the kernel has what it needs. */
#ifndef BPFMESH_FEATURES_H
#define BPFMESH_FEATURES_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/* The names are the keys of /api/v1/status's kernel.features and the
 * feature label of bpfmesh_kernel_feature: never rename one. */
enum kfeat {
	KF_BTF,		   /* btf: /sys/kernel/btf/vmlinux */
	KF_RINGBUF,	   /* ringbuf: BPF_MAP_TYPE_RINGBUF (5.8) */
	KF_CGROUP_LINKS,   /* cgroupLinks: the cgroup programs hold BPF links */
	KF_SOCK_DESTROY,   /* sockDestroy: the bpf_sock_destroy kfunc (6.5) */
	KF_SOCK_ITERS,	   /* socketIterators: iter/tcp and iter/udp (5.9) */
	KF_TCX,		   /* tcx: tcx links (6.6) */
	KF_BPF_JIT,	   /* bpfJit: net.core.bpf_jit_enable */
	KF_SOCK_LENGTH_TP, /* sockLengthTracepoints: sock_send/recv_length (6.3) */
	KF_N
};

struct kfeatures {
	bool has[KF_N];
	bool known[KF_N]; /* false: could not be told (bpfJit without /proc) */
	int hz;		  /* CONFIG_HZ of the running kernel */
};

#define KPLAN_LINE 192
#define KPLAN_MAX_OFF 12

/* What the agent loads on this kernel. */
struct kplan {
	bool terminate;	 /* term.bpf.o: the socket iterators of terminateConnections */
	bool thread_tps; /* bm_http_send/bm_http_recv: which thread sent or read */
	bool tc_classic; /* Workload.interfaces through clsact filters, not tcx */
	int n_off;
	char off[KPLAN_MAX_OFF][KPLAN_LINE]; /* "X off: needs kernel V (what)" */
};

const char *kfeat_name(enum kfeat f);

/* Add a line to what is off (a part the kernel refused at load time). */
void kplan_off(struct kplan *p, const char *line);

/* The plan for a feature set: pure, unit-tested. */
void kplan_make(const struct kfeatures *f, struct kplan *p);

/* 0 when the kernel serves cfg; else -EOPNOTSUPP and err names the
 * document, the field and what the kernel lacks (the first one found). */
int kplan_check_config(const struct kplan *p, const struct mesh_config *cfg, char *err, size_t len);

/* Probe the running kernel (featprobe.c). */
void kfeatures_probe(struct kfeatures *f);

#endif
