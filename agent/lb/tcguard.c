/* SPDX-License-Identifier: Apache-2.0 */
/* tcguard.c: attach bm_tc_guard as a tcx egress program (kernel 6.6+) on the
 * host side of endpoints' veths, where a SYN to the endpoint leaves the host,
 * and the HTTP capture programs on both directions of the same interfaces
 * (a pod's traffic never meets the cgroup hooks of the agent's cgroup).
 * tcx links are used rather than cls_bpf filters because they can be pinned
 * (they outlive the agent, like the cgroup links) and coexist with other
 * tc programs. An interface that disappears takes its links with it; a pod's
 * new veth is picked up at the next apply.
 *
 * Kernels before 6.6 have no tcx: there the programs go in as direct-action
 * cls_bpf filters on the interface's clsact qdisc (made when missing, left
 * in place), one per direction and program, at bpfmesh's own handle and
 * priorities, replaced in place by a restarted agent. Filters cannot be
 * pinned: they stay on the interface after the agent exits, as pinned links
 * do, until the interface goes, a Workload no longer names it, or the
 * agent that attached them detaches them. The programs return TC_ACT_UNSPEC
 * (TCX_NEXT's value) to let the next filter decide, in both worlds. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/log.h"
#include "lb/tcguard.h"

#ifndef BPF_TCX_EGRESS
#define BPF_TCX_INGRESS 46 /* uapi of 6.6; the build host's headers may be older */
#define BPF_TCX_EGRESS 47
#endif

/* bpfmesh's classic filters: one handle, a priority per program */
#define TCG_HANDLE 0xb9e5
#define TCG_PRIO 0xb9e0

void tcguard_init(struct tcguard *g, const struct pindir *pd, int guard_fd, int capture_in_fd,
		  int capture_out_fd, bool classic)
{
	memset(g, 0, sizeof(*g));
	g->pd = pd;
	g->classic = classic;
	/* capture first on egress, so it still sees what the guard then drops */
	g->progs[0] =
	    (struct tcg_prog){capture_out_fd, BPF_TCX_EGRESS, TCG_PRIO, "tchttp-out-", "capture"};
	g->progs[1] = (struct tcg_prog){capture_in_fd, BPF_TCX_INGRESS, TCG_PRIO + 1, "tchttp-in-",
					"capture"};
	g->progs[2] = (struct tcg_prog){guard_fd, BPF_TCX_EGRESS, TCG_PRIO + 2, "tc-", "guard"};
}

void tcguard_set_progs(struct tcguard *g, int guard_fd, int capture_in_fd, int capture_out_fd)
{
	g->progs[0].fd = capture_out_fd;
	g->progs[1].fd = capture_in_fd;
	g->progs[2].fd = guard_fd;
}

static void classic_hook(struct bpf_tc_hook *h, unsigned idx, const struct tcg_prog *p)
{
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = (int)idx;
	h->attach_point = p->attach_type == BPF_TCX_INGRESS ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

/* One program as a classic filter; replaces an earlier agent's. */
static int classic_attach(unsigned idx, const struct tcg_prog *p)
{
	struct bpf_tc_opts o = {.sz = sizeof(o),
				.handle = TCG_HANDLE,
				.priority = (__u32)p->priority,
				.prog_fd = p->fd,
				.flags = BPF_TC_F_REPLACE};
	struct bpf_tc_hook h;

	classic_hook(&h, idx, p);
	return bpf_tc_attach(&h, &o);
}

/* The interface's clsact qdisc, made when missing (once per interface: the
 * kernel's "exists" answer comes with a libbpf warning). */
static int classic_qdisc(unsigned idx)
{
	struct bpf_tc_hook h = {
	    .sz = sizeof(h), .ifindex = (int)idx, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS};
	int err = bpf_tc_hook_create(&h);

	return err == -EEXIST ? 0 : err;
}

/* Our filters off the interface (the clsact qdisc stays: others may use
 * it); only those of loaded programs were attached. */
static void classic_detach(const struct tcguard *g, const char *ifname)
{
	unsigned idx = if_nametoindex(ifname);

	for (int i = 0; idx && i < TCG_PROGS; i++) {
		const struct tcg_prog *p = &g->progs[i];
		struct bpf_tc_opts o = {
		    .sz = sizeof(o), .handle = TCG_HANDLE, .priority = (__u32)p->priority};
		struct bpf_tc_hook h;

		if (p->fd < 0)
			continue;
		classic_hook(&h, idx, p);
		bpf_tc_detach(&h, &o);
	}
}

static bool wanted(const struct mesh_config *cfg, const char *ifname)
{
	for (int i = 0; cfg && i < cfg->n_workloads; i++)
		for (int j = 0; j < cfg->workloads[i].n_interfaces; j++)
			if (!strcmp(cfg->workloads[i].interfaces[j], ifname))
				return true;
	return false;
}

static bool attached(const struct tcguard *g, const char *ifname)
{
	for (int i = 0; i < g->n_attached; i++)
		if (!strcmp(g->attached[i], ifname))
			return true;
	return false;
}

static void unpin_one(const struct tcguard *g, const struct tcg_prog *p, const char *ifname)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "%s%s", p->prefix, ifname);
	fd = pindir_get(g->pd, PIN_LINKS, name);
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
	}
	pindir_unpin(g->pd, PIN_LINKS, name);
}

static void unpin(const struct tcguard *g, const char *ifname)
{
	if (g->classic) {
		classic_detach(g, ifname);
		return;
	}
	for (int i = 0; i < TCG_PROGS; i++)
		unpin_one(g, &g->progs[i], ifname);
}

static int attach(struct tcguard *g, const char *ifname)
{
	char name[64];
	unsigned idx = if_nametoindex(ifname);
	int fd, err;

	if (!idx)
		return -ENODEV;
	/* a pin left by an earlier agent may point at a deleted interface of
	 * the same name: start over (classic filters are replaced in place) */
	if (!g->classic)
		unpin(g, ifname);
	else if ((err = classic_qdisc(idx))) {
		log_error("tc on %s: making its clsact qdisc: %s", ifname, strerror(-err));
		return err;
	}
	for (int i = 0; i < TCG_PROGS; i++) {
		const struct tcg_prog *p = &g->progs[i];

		if (p->fd < 0)
			continue;
		if (g->classic) {
			err = classic_attach(idx, p);
			if (err) {
				log_error("tc %s on %s (classic tc filter): %s", p->what, ifname,
					  strerror(-err));
				unpin(g, ifname);
				return err;
			}
			continue;
		}
		fd = bpf_link_create(p->fd, idx, p->attach_type, NULL);
		if (fd < 0) {
			err = -errno;
			log_error("tc %s on %s: %s", p->what, ifname, strerror(-err));
			unpin(g, ifname);
			return err;
		}
		/* pindir logs a failure; the link then lives while we do */
		snprintf(name, sizeof(name), "%s%s", p->prefix, ifname);
		pindir_pin(g->pd, PIN_LINKS, name, fd);
		close(fd);
	}
	log_info("tc guard and HTTP capture attached to %s%s", ifname,
		 g->classic ? " (classic tc filters: no tcx on this kernel)" : "");
	return 0;
}

void tcguard_apply(struct tcguard *g, const struct mesh_config *cfg)
{
	int i, j, n = 0, err;

	/* detach from interfaces no Workload names any more */
	for (i = 0; i < g->n_attached; i++) {
		if (wanted(cfg, g->attached[i])) {
			memmove(g->attached[n++], g->attached[i], sizeof(g->attached[0]));
		} else {
			unpin(g, g->attached[i]);
			log_info("tc guard and HTTP capture detached from %s", g->attached[i]);
		}
	}
	g->n_attached = n;
	g->missing = 0;
	for (i = 0; cfg && i < cfg->n_workloads; i++) {
		for (j = 0; j < cfg->workloads[i].n_interfaces; j++) {
			const char *ifname = cfg->workloads[i].interfaces[j];
			void *na;

			if (attached(g, ifname))
				continue;
			/* only an interface that is not there yet is tried
			 * again (agent_tick); a refusal was logged, once */
			err = attach(g, ifname);
			if (err) {
				g->missing += err == -ENODEV;
				continue;
			}
			na = realloc(g->attached, (g->n_attached + 1) * sizeof(g->attached[0]));
			if (!na)
				continue;
			g->attached = na;
			snprintf(g->attached[g->n_attached++], sizeof(g->attached[0]), "%s",
				 ifname);
		}
	}
}

void tcguard_free(struct tcguard *g)
{
	free(g->attached);
	g->attached = NULL;
	g->n_attached = 0;
}
