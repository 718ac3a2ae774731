/* SPDX-License-Identifier: Apache-2.0 */
/* featprobe.c: what the running kernel has, asked of the kernel itself and
 * never of its version: kfuncs, iterator targets and tracepoints from its
 * BTF (tracefs need not be mounted), map types from libbpf's probes, tcx
 * from a query on lo, and CONFIG_HZ from the tick, so that no
 * /boot/config-* is needed (Debian's kernels have no /proc/config.gz, and
 * a DaemonSet's container no /boot). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "lb/features.h"
#include "lib/log.h"

#ifndef BPF_TCX_EGRESS
#define BPF_TCX_EGRESS 47 /* uapi of 6.6; the build host's headers may be older */
#endif

/* CLOCK_MONOTONIC_COARSE advances once a tick: its resolution is
 * TICK_NSEC, 1e9 / HZ rounded. 250 (Debian's) when it cannot be read. */
static int hz_of_kernel(void)
{
	struct timespec res;

	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) || res.tv_sec || !res.tv_nsec)
		return 250;
	return (int)((1000000000L + res.tv_nsec / 2) / res.tv_nsec);
}

static bool btf_has(const struct btf *btf, const char *name, int kind)
{
	return btf && btf__find_by_name_kind(btf, name, kind) > 0;
}

/* tcx (6.6) answers a query of its attach type; older kernels reject the
 * type with EINVAL. lo exists in every network namespace. */
static bool has_tcx(void)
{
	unsigned idx = if_nametoindex("lo");
	__u32 flags = 0, cnt = 0;

	return idx && !bpf_prog_query((int)idx, (enum bpf_attach_type)BPF_TCX_EGRESS, 0, &flags,
				      NULL, &cnt);
}

void kfeatures_probe(struct kfeatures *f)
{
	struct btf *btf = btf__load_vmlinux_btf();
	FILE *jit;
	int v;

	memset(f, 0, sizeof(*f));
	for (int i = 0; i < KF_N; i++)
		f->known[i] = true;
	f->has[KF_BTF] = btf != NULL;
	f->has[KF_RINGBUF] = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
	f->has[KF_SOCK_DESTROY] = btf_has(btf, "bpf_sock_destroy", BTF_KIND_FUNC);
	f->has[KF_SOCK_ITERS] = btf_has(btf, "bpf_iter_tcp", BTF_KIND_FUNC) &&
				btf_has(btf, "bpf_iter_udp", BTF_KIND_FUNC);
	f->has[KF_SOCK_LENGTH_TP] = btf_has(btf, "btf_trace_sock_send_length", BTF_KIND_TYPEDEF) &&
				    btf_has(btf, "btf_trace_sock_recv_length", BTF_KIND_TYPEDEF);
	f->has[KF_TCX] = has_tcx();
	/* proved by attaching (loader.c) */
	f->known[KF_CGROUP_LINKS] = false;
	f->known[KF_BPF_JIT] = false;
	jit = fopen("/proc/sys/net/core/bpf_jit_enable", "r");
	if (jit) {
		if (fscanf(jit, "%d", &v) == 1) {
			f->has[KF_BPF_JIT] = v > 0;
			f->known[KF_BPF_JIT] = true;
		}
		fclose(jit);
	}
	f->hz = hz_of_kernel();
	btf__free(btf);
}
