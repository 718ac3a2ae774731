/* SPDX-License-Identifier: Apache-2.0 */
/* inject.c: traceparent injection's lifecycle (inject.h). Like the
 * interface programs (tcload.c) the programs load on first need, as each
 * costs the verifier's time; unlike them they are not pinned, and a reload
 * that turns injection off everywhere destroys them: the sockhash goes
 * with its sockets, which then send their bytes unchanged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lb/inject.h"
#include "lib/cgroup.h"
#include "lib/log.h"
#include "skel/inject.skel.h"

bool inject_wanted(const struct mesh_config *cfg)
{
	if (cfg->telemetry && cfg->telemetry->propagation_inject)
		return true;
	for (int i = 0; i < cfg->n_workloads; i++)
		if (cfg->workloads[i].inject == CFG_INJECT_ON)
			return true;
	return false;
}

static void read_stats(const struct injector *in, uint64_t st[INJECT_ST_MAX])
{
	int ncpu = libbpf_num_possible_cpus(), fd;
	uint64_t *v;

	memcpy(st, in->st, sizeof(in->st));
	if (!in->skel || ncpu <= 0)
		return;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return;
	fd = bpf_map__fd(in->skel->maps.inject_stats);
	for (uint32_t i = 0; i < INJECT_ST_MAX; i++) {
		if (bpf_map_lookup_elem(fd, &i, v))
			continue;
		for (int c = 0; c < ncpu; c++)
			st[i] += v[c];
	}
	free(v);
}

void injector_stats(const struct injector *in, uint64_t st[INJECT_ST_MAX]) { read_stats(in, st); }

static void detach(struct injector *in)
{
	/* what this load counted stays in the totals */
	read_stats(in, in->st);
	for (int i = 0; i < 3; i++) {
		bpf_link__destroy(in->links[i]);
		in->links[i] = NULL;
	}
	inject_bpf__destroy(in->skel);
	in->skel = NULL;
	in->on = false;
	in->key = 0;
	/* inject_skip went with the skeleton */
	free(in->skip);
	in->skip = NULL;
	in->n_skip = 0;
}

/* BPFMESH_INJECT_SELFTEST=ignore: injection goes on even where its
 * self-test fails. Only for tests: it is what lets an end-to-end test show
 * an application misreading an injected socket on such a kernel. */
static bool ignore_selftest(void)
{
	const char *v = getenv("BPFMESH_INJECT_SELFTEST");

	return v && !strcmp(v, "ignore");
}

/* Open with a fresh key, load; the self-test on the sockhash before any
 * socket of the mesh goes in. */
static int load(struct injector *in)
{
	char why[128];
	int err;

	if (getrandom(&in->key, sizeof(in->key), 0) != sizeof(in->key) || !in->key) {
		snprintf(in->status, sizeof(in->status), "off: no random key: %s", strerror(errno));
		return -EIO;
	}
	in->skel = inject_bpf__open();
	if (!in->skel) {
		err = -errno;
		goto refused;
	}
	in->skel->rodata->inject_key = in->key;
	/* capture's map of serving processes; the programs never pin */
	bpf_map__set_pin_path(in->skel->maps.http_serving, NULL);
	if (in->serving_fd > 0 && bpf_map__reuse_fd(in->skel->maps.http_serving, in->serving_fd))
		log_warn("traceparent injection: sharing capture's http_serving: %s; processes "
			 "that serve requests are not told apart",
			 strerror(errno));
	err = inject_bpf__load(in->skel);
	if (err)
		goto refused;
	err = bpf_prog_attach(bpf_program__fd(in->skel->progs.bm_inject_msg),
			      bpf_map__fd(in->skel->maps.inject_socks), BPF_SK_MSG_VERDICT, 0);
	if (err) {
		err = -errno;
		goto refused;
	}
	/* the agent itself may be marked serving (its API in a meshed cgroup) */
	in->skel->bss->inject_selftest = 1;
	err = inject_selftest(bpf_map__fd(in->skel->maps.inject_socks), why, sizeof(why));
	in->skel->bss->inject_selftest = 0;
	if (err) {
		/* for the tests that show what the self-test guards against */
		if (ignore_selftest()) {
			snprintf(in->selftest, sizeof(in->selftest),
				 "self-test failed, ignored: %s", why);
			log_warn("traceparent injection: self-test failed (%s), ignored "
				 "(BPFMESH_INJECT_SELFTEST=ignore): applications may misread "
				 "injected sockets",
				 why);
			return 0;
		}
		snprintf(in->status, sizeof(in->status), "off: self-test failed: %s", why);
		log_error("traceparent injection stays off: its self-test on a loopback pair "
			  "failed (%s); applications on this kernel would misread injected "
			  "sockets (grafana/beyla#2941)",
			  why);
		err = -EPROTO;
		goto out;
	}
	snprintf(in->selftest, sizeof(in->selftest), "self-test passed");
	return 0;
refused:
	snprintf(in->status, sizeof(in->status),
		 "off: the kernel refused the injection programs: %s", strerror(-err));
	log_error("traceparent injection stays off: loading bpf/inject.bpf.c: %s; libbpf's lines "
		  "above say why",
		  strerror(-err));
out:
	in->refused = true;
	detach(in);
	return err;
}

/* The Workloads' own settings (instrumented: "true" is one: off), by
 * cgroup id; a cgroup not there (yet) has none. The map is rewritten whole: a reload may drop a
 * Workload. */
static void write_cgroups(struct injector *in, const struct mesh_config *cfg)
{
	int fd = bpf_map__fd(in->skel->maps.inject_cgrp);
	uint64_t key;
	char path[512];

	while (!bpf_map_get_next_key(fd, NULL, &key))
		if (bpf_map_delete_elem(fd, &key))
			break;
	for (int i = 0; i < cfg->n_workloads; i++) {
		const struct cfg_workload *w = &cfg->workloads[i];
		uint8_t v = w->inject == CFG_INJECT_ON ? INJECT_CG_ON : INJECT_CG_OFF;
		bool sdk = w->inject == CFG_INJECT_UNSET && w->instrumented == CFG_INSTR_TRUE;
		uint64_t id;

		/* an SDK exports its spans: no header from its first connection
		 * (a Workload's explicit inject: true still wins) */
		if (sdk)
			v = INJECT_CG_SDK;
		if ((w->inject == CFG_INJECT_UNSET && !sdk) || !w->cgroup[0] ||
		    cgroup_resolve(w->cgroup, path, sizeof(path)))
			continue;
		id = cgroup_id_of(path);
		if (id && bpf_map_update_elem(fd, &id, &v, BPF_ANY))
			log_warn("traceparent injection: Workload %s: %s", w->meta.name,
				 strerror(errno));
	}
}

static int attach(struct injector *in, int cgroup_fd)
{
	struct bpf_program *progs[3] = {in->skel->progs.bm_inject_c4, in->skel->progs.bm_inject_c6,
					in->skel->progs.bm_inject_ops};

	for (int i = 0; i < 3; i++) {
		in->links[i] = bpf_program__attach_cgroup(progs[i], cgroup_fd);
		if (!in->links[i])
			return -errno;
	}
	return 0;
}

int injector_apply(struct injector *in, const struct mesh_config *cfg, int cgroup_fd,
		   uint64_t threshold)
{
	int err;

	if (!inject_wanted(cfg)) {
		if (in->on)
			log_info("traceparent injection turned off");
		if (in->skel)
			detach(in);
		if (!in->refused)
			snprintf(in->status, sizeof(in->status), "off: not configured");
		return 0;
	}
	if (in->refused)
		return -EPERM;
	if (!in->skel) {
		err = load(in);
		if (err)
			return err;
	}
	in->skel->bss->inject_all = cfg->telemetry && cfg->telemetry->propagation_inject;
	in->skel->bss->inject_threshold = threshold;
	write_cgroups(in, cfg);
	if (!in->links[0]) {
		err = attach(in, cgroup_fd);
		if (err) {
			snprintf(in->status, sizeof(in->status),
				 "off: attaching the injection programs: %s", strerror(-err));
			log_error("traceparent injection stays off: attaching its programs: %s",
				  strerror(-err));
			detach(in);
			return err;
		}
		log_info("traceparent injection on (%s)", in->selftest);
	}
	in->on = true;
	if (strncmp(in->selftest, "self-test passed", 16))
		snprintf(in->status, sizeof(in->status), "on: %s", in->selftest);
	else
		snprintf(in->status, sizeof(in->status), "on");
	return 0;
}

size_t injector_serving(const struct injector *in)
{
	char path[32];
	uint32_t key, next;
	uint32_t *prev = NULL;
	size_t n = 0;
	int fd;

	if (!in->skel)
		return 0;
	fd = bpf_map__fd(in->skel->maps.http_serving);
	/* an LRU keeps exited processes until pressure evicts them */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		snprintf(path, sizeof(path), "/proc/%u", next);
		n += !access(path, F_OK);
		key = next;
		prev = &key;
	}
	return n;
}

void injector_close(struct injector *in)
{
	if (in->skel)
		detach(in);
}
