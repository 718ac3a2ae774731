/* SPDX-License-Identifier: Apache-2.0 */
/* features.c: from what the kernel has to what the agent loads. Each
 * optional part names the feature it needs and the first kernel that has
 * it; the kernels are what `make test-kernels` showed (Debian's 6.1 and
 * 6.12) and the upstream commits that added each feature. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lb/features.h"

static const char *const names[KF_N] = {
    [KF_BTF] = "btf",
    [KF_RINGBUF] = "ringbuf",
    [KF_CGROUP_LINKS] = "cgroupLinks",
    [KF_SOCK_DESTROY] = "sockDestroy",
    [KF_SOCK_ITERS] = "socketIterators",
    [KF_TCX] = "tcx",
    [KF_BPF_JIT] = "bpfJit",
    [KF_SOCK_LENGTH_TP] = "sockLengthTracepoints",
};

const char *kfeat_name(enum kfeat f) { return f >= 0 && f < KF_N ? names[f] : "?"; }

static void off(struct kplan *p, const char *fmt, const char *what)
{
	if (p->n_off < KPLAN_MAX_OFF)
		snprintf(p->off[p->n_off++], KPLAN_LINE, fmt, what);
}

void kplan_off(struct kplan *p, const char *line) { off(p, "%s", line); }

void kplan_make(const struct kfeatures *f, struct kplan *p)
{
	memset(p, 0, sizeof(*p));
	p->terminate = f->has[KF_SOCK_DESTROY] && f->has[KF_SOCK_ITERS];
	if (!f->has[KF_SOCK_DESTROY])
		off(p, "terminateConnections off: needs kernel 6.5 (%s)", "bpf_sock_destroy");
	else if (!f->has[KF_SOCK_ITERS])
		off(p, "terminateConnections off: needs kernel 5.9 (%s)",
		    "tcp and udp socket iterators");
	p->thread_tps = f->has[KF_SOCK_LENGTH_TP];
	if (!p->thread_tps)
		off(p,
		    "span thread identity off: needs kernel 6.3 (%s); spans lose the "
		    "process, thread and cgroup that sent or read a request",
		    "sock_send_length/sock_recv_length tracepoints");
	/* classic tc filters serve Workload.interfaces: nothing is refused */
	p->tc_classic = !f->has[KF_TCX];
	if (p->tc_classic)
		off(p,
		    "tcx off: needs kernel 6.6 (%s); Workload.interfaces get classic tc "
		    "(clsact) filters instead",
		    "tcx links");
}

int kplan_check_config(const struct kplan *p, const struct mesh_config *cfg, char *err, size_t len)
{
	for (int i = 0; cfg && i < cfg->n_policies; i++) {
		const struct cfg_traffic_policy *tp = &cfg->policies[i];

		if (p->terminate || !tp->outlier_set || !tp->terminate_connections)
			continue;
		snprintf(err, len,
			 "%s:%d:%d: TrafficPolicy %s/%s: "
			 "spec.outlierDetection.terminateConnections: this kernel cannot destroy "
			 "sockets (needs kernel 6.5: bpf_sock_destroy, and socket iterators)",
			 tp->meta.origin.file, tp->meta.origin.line, tp->meta.origin.column,
			 tp->meta.ns, tp->meta.name);
		return -EOPNOTSUPP;
	}
	return 0;
}
