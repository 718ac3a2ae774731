/* SPDX-License-Identifier: Apache-2.0 */
/* api_status.c: GET /api/v1/status. Attachments are read back from the
 * kernel (the pinned links and what they run), not from the agent's memory,
 * so the answer shows what really holds the data path: links taken over
 * from an earlier agent, and pins left by another build. */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "api/api_status.h"
#include "lib/cgroup.h"
#include "lib/clock.h"
#include "skel/http.skel.h"
#include "skel/lb.skel.h"
#include "skel/term.skel.h"

/* uapi of 6.6 and later; the build host's headers may be older */
#define ST_LINK_TYPE_TCX 11
#define ST_TCX_INGRESS 46
#define ST_TCX_EGRESS 47

/* Walking a hash costs a syscall per key under the agent lock: stop there
 * and say "at least". */
#define COUNT_MAX 65536
#define MAX_LINKS 512
#define MAX_PROGS 64
#define MAX_MAPS 128

struct link_rec {
	char pin[256];
	struct bpf_link_info info;
};

struct prog_rec {
	struct bpf_program *p;
	const char *obj;
	__u32 id;
};

static void st_knull(struct jsonw *w, const char *k)
{
	jw_key(w, k);
	jw_raw(w, "null");
	w->need_comma = true;
}

static void st_kdbl(struct jsonw *w, const char *k, double v)
{
	jw_key(w, k);
	jw_dbl(w, v);
}

static const char *link_type_name(__u32 t)
{
	static const char *const names[] = {
	    "unspec",	    "raw_tracepoint", "tracing",      "cgroup",	    "iter",	 "netns",
	    "xdp",	    "perf_event",     "kprobe_multi", "struct_ops", "netfilter", "tcx",
	    "uprobe_multi", "netkit",
	};

	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

static int cmp_link(const void *a, const void *b)
{
	return strcmp(((const struct link_rec *)a)->pin, ((const struct link_rec *)b)->pin);
}

/* Every link pinned under <bpffs>/links, sorted by pin name; read through
 * the agent's checked pin directory, so no symlink is followed. */
static int scan_links(const struct pindir *pd, struct link_rec *out, int max)
{
	struct dirent *de;
	int n = 0;
	DIR *d = pindir_opendir(pd, PIN_LINKS);

	if (!d)
		return 0;
	while (n < max && (de = readdir(d))) {
		__u32 len = sizeof(out[n].info);
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = pindir_get(pd, PIN_LINKS, de->d_name);
		if (fd < 0)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		if (!bpf_obj_get_info_by_fd(fd, &out[n].info, &len)) {
			snprintf(out[n].pin, sizeof(out[n].pin), "%s", de->d_name);
			n++;
		}
		close(fd);
	}
	closedir(d);
	qsort(out, n, sizeof(out[0]), cmp_link);
	return n;
}

static int add_progs(const struct loader *l, struct bpf_object *obj, const char *name,
		     struct prog_rec *out, int n, int max)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj)
	{
		struct bpf_prog_info pi = {};
		__u32 len = sizeof(pi);
		struct bpf_program *q = p;

		if (n == max)
			break;
		/* an interface program loaded later is its own instance's */
		if (loader_is_tc_prog(bpf_program__name(p)))
			q = loader_prog(l, bpf_program__name(p));
		out[n] = (struct prog_rec){.p = q, .obj = name};
		if (bpf_program__fd(q) >= 0 &&
		    !bpf_obj_get_info_by_fd(bpf_program__fd(q), &pi, &len))
			out[n].id = pi.id;
		n++;
	}
	return n;
}

static const struct prog_rec *prog_by_id(const struct prog_rec *p, int n, __u32 id)
{
	for (int i = 0; id && i < n; i++)
		if (p[i].id == id)
			return &p[i];
	return NULL;
}

/* tcx link info (6.6) has netns's layout, {ifindex, attach_type}: read it
 * through the member the build's older uapi knows. */
static __u32 tcx_ifindex(const struct bpf_link_info *li) { return li->netns.netns_ino; }

static const char *tcx_direction(const struct bpf_link_info *li)
{
	return li->netns.attach_type == ST_TCX_INGRESS	? "ingress"
	       : li->netns.attach_type == ST_TCX_EGRESS ? "egress"
							: "unknown";
}

/* What the loader probed (lb/featprobe.c) and proved by attaching, and
 * the parts that are off on this kernel, one line each (lb/features.c). */
static void write_features(struct agent *a, struct jsonw *w)
{
	const struct kfeatures *f = &a->ld.feat;

	jw_key(w, "features");
	jw_obj_open(w);
	for (int i = 0; i < KF_N; i++) {
		if (f->known[i])
			jw_kbool(w, kfeat_name(i), f->has[i]);
		else
			st_knull(w, kfeat_name(i));
	}
	jw_obj_close(w);
	jw_key(w, "off");
	jw_arr_open(w);
	for (int i = 0; i < a->ld.plan.n_off; i++)
		jw_str(w, a->ld.plan.off[i]);
	jw_arr_close(w);
}

static void write_agent(struct agent *a, struct jsonw *w)
{
	double up = (mono_ns() - a->started_ns) / 1e9;
	time_t started = time(NULL) - (time_t)up;
	char iso[32];
	struct tm tm;

	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&started, &tm));
	jw_key(w, "agent");
	jw_obj_open(w);
	jw_kstr(w, "version", BPFMESH_VERSION);
	jw_ku64(w, "pid", (uint64_t)getpid());
	jw_kstr(w, "startedAt", iso);
	st_kdbl(w, "uptimeSeconds", up);
	jw_kstr(w, "listen", a->opts.listen);
	jw_kstr(w, "config", a->opts.config);
	jw_kbool(w, "ready", a->attached && a->applied);
	jw_kbool(w, "configApplied", a->applied);
	/* the agent refuses to start when the token file cannot be read */
	jw_kbool(w, "authRequired", a->opts.api_token_file != NULL);
	jw_kbool(w, "metricsAuth", a->opts.api_token_file && a->opts.metrics_auth);
	/* who may read /api/v1/traces and /api/v1/config (api_auth.h) */
	jw_kstr(w, "sensitiveAccess",
		a->opts.api_token_file	     ? "token"
		: a->opts.api_open_sensitive ? "anyone"
					     : "root");
	jw_obj_close(w);
}

/* traceparent injection: "on" or "off: why", and its counters. */
static void write_tracing(struct agent *a, struct jsonw *w)
{
	uint64_t st[INJECT_ST_MAX];

	injector_stats(&a->inj, st);
	jw_key(w, "tracing");
	jw_obj_open(w);
	jw_kstr(w, "injection", a->inj.status[0] ? a->inj.status : "off: not configured");
	jw_key(w, "injectionCounts");
	jw_obj_open(w);
	jw_ku64(w, "injected", st[INJECT_ST_INJECTED]);
	jw_ku64(w, "hasTraceparent", st[INJECT_ST_HAS_TP]);
	jw_ku64(w, "headTooBig", st[INJECT_ST_HEAD_BIG]);
	jw_ku64(w, "headSplit", st[INJECT_ST_HEAD_SPLIT]);
	jw_ku64(w, "pushFailed", st[INJECT_ST_PUSH_FAIL]);
	jw_ku64(w, "sockets", st[INJECT_ST_SOCKS]);
	jw_ku64(w, "sdkConnections", st[INJECT_ST_SKIP_CONN]);
	jw_ku64(w, "sdkSends", st[INJECT_ST_SKIP_MSG]);
	jw_ku64(w, "servingConnections", st[INJECT_ST_SRV_CONN]);
	jw_ku64(w, "servingSends", st[INJECT_ST_SRV_MSG]);
	jw_obj_close(w);
	/* processes the span builder found SDK-instrumented, left alone now
	 * (Workloads with instrumented: "true" are left alone by cgroup) */
	jw_ku64(w, "injectionExcluded", injector_skipped(&a->inj));
	/* processes seen serving HTTP requests, left alone (a middle hop's
	 * calls keep bpfmesh's nesting) */
	jw_ku64(w, "injectionServing", injector_serving(&a->inj));
	jw_obj_close(w);
}

static void write_kernel(struct agent *a, struct jsonw *w)
{
	struct utsname u;

	if (uname(&u))
		memset(&u, 0, sizeof(u));
	jw_key(w, "kernel");
	jw_obj_open(w);
	jw_kstr(w, "release", u.release);
	jw_kstr(w, "machine", u.machine);
	write_features(a, w);
	jw_obj_close(w);
}

static void write_link(struct agent *a, struct jsonw *w, const struct link_rec *l,
		       const struct prog_rec *progs, int n_progs, uint64_t cg_id)
{
	const struct prog_rec *p = prog_by_id(progs, n_progs, l->info.prog_id);
	char ifname[IF_NAMESIZE];

	jw_obj_open(w);
	jw_kstr(w, "pin", l->pin);
	jw_kstr(w, "type", link_type_name(l->info.type));
	jw_ku64(w, "id", l->info.id);
	jw_ku64(w, "programId", l->info.prog_id);
	if (p)
		jw_kstr(w, "program", bpf_program__name(p->p));
	/* false: a pin that runs a program this agent did not load (another
	 * build, or an agent that died mid-update) */
	jw_kbool(w, "current", p != NULL);
	switch (l->info.type) {
	case BPF_LINK_TYPE_CGROUP:
		if (l->info.cgroup.cgroup_id == cg_id)
			jw_kstr(w, "cgroup", a->cgroup);
		else
			jw_ku64(w, "cgroupId", l->info.cgroup.cgroup_id);
		if (libbpf_bpf_attach_type_str(l->info.cgroup.attach_type))
			jw_kstr(w, "attachType",
				libbpf_bpf_attach_type_str(l->info.cgroup.attach_type));
		break;
	case BPF_LINK_TYPE_RAW_TRACEPOINT: /* tp_btf makes these */
	case BPF_LINK_TYPE_TRACING:
		if (p)
			jw_kstr(w, "attachType", bpf_program__section_name(p->p));
		break;
	case ST_LINK_TYPE_TCX:
		if (if_indextoname(tcx_ifindex(&l->info), ifname))
			jw_kstr(w, "interface", ifname);
		else
			jw_ku64(w, "ifindex", tcx_ifindex(&l->info));
		jw_kstr(w, "direction", tcx_direction(&l->info));
		break;
	}
	jw_obj_close(w);
}

static void write_program(struct agent *a, struct jsonw *w, const struct prog_rec *p,
			  const struct link_rec *links, int n_links)
{
	enum bpf_prog_type type = bpf_program__type(p->p);
	const char *tname = libbpf_bpf_prog_type_str(type);
	char ifname[IF_NAMESIZE];
	int n = 0;

	jw_obj_open(w);
	jw_kstr(w, "name", bpf_program__name(p->p));
	jw_kstr(w, "object", p->obj);
	jw_kstr(w, "section", bpf_program__section_name(p->p));
	jw_kstr(w, "type", tname ? tname : "unknown");
	jw_ku64(w, "id", p->id);
	jw_key(w, "links");
	jw_arr_open(w);
	for (int i = 0; i < n_links; i++) {
		if (!p->id || links[i].info.prog_id != p->id)
			continue;
		jw_str(w, links[i].pin);
		n++;
	}
	jw_arr_close(w);
	if (type == BPF_PROG_TYPE_SCHED_CLS) {
		jw_key(w, "interfaces");
		jw_arr_open(w);
		for (int i = 0; i < n_links; i++)
			if (p->id && links[i].info.prog_id == p->id &&
			    links[i].info.type == ST_LINK_TYPE_TCX &&
			    if_indextoname(tcx_ifindex(&links[i].info), ifname))
				jw_str(w, ifname);
		jw_arr_close(w);
	}
	if (!p->id && loader_is_tc_prog(bpf_program__name(p->p)))
		jw_kstr(w, "state",
			a->ld.tc_state == LOADER_TC_FAILED
			    ? "not loaded: the kernel refused it"
			    : "not loaded: no Workload names an interface yet");
	else if (!p->id)
		jw_kstr(w, "state", "not loaded");
	else if (bpf_program__expected_attach_type(p->p) == BPF_TRACE_ITER)
		/* socket iterators run when connections are terminated */
		jw_kstr(w, "state", a->term.tcp && a->term.udp ? "on demand" : "unavailable");
	else if (!strcmp(bpf_program__name(p->p), "bm_h2_outcome"))
		/* run by the agent with HTTP/2 outcomes (trace/h2_outlier.h) */
		jw_kstr(w, "state", "on demand");
	else if (n)
		jw_kstr(w, "state", "attached");
	else if (type == BPF_PROG_TYPE_SCHED_CLS && a->tcg.classic && a->tcg.n_attached)
		/* filters have no links to read back */
		jw_kstr(w, "state", "attached (classic tc)");
	else
		jw_kstr(w, "state",
			type == BPF_PROG_TYPE_SCHED_CLS ? "no interfaces" : "not attached");
	jw_obj_close(w);
}

static void write_attachments(struct agent *a, struct jsonw *w, const struct link_rec *links,
			      int n_links)
{
	struct prog_rec progs[MAX_PROGS];
	uint64_t cg_id = cgroup_id_of(a->cgroup);
	int n = 0;

	if (a->ld.skel)
		n = add_progs(&a->ld, a->ld.skel->obj, "lb", progs, n, MAX_PROGS);
	if (a->ld.http)
		n = add_progs(&a->ld, a->ld.http->obj, "http", progs, n, MAX_PROGS);
	if (a->ld.term)
		n = add_progs(&a->ld, a->ld.term->obj, "term", progs, n, MAX_PROGS);
	jw_key(w, "attachments");
	jw_obj_open(w);
	jw_kstr(w, "cgroup", a->cgroup);
	jw_ku64(w, "cgroupId", cg_id);
	jw_kstr(w, "bpffs", a->opts.bpffs);
	jw_ku64(w, "linksTakenOver", a->ld.n_adopted);
	jw_key(w, "programs");
	jw_arr_open(w);
	for (int i = 0; i < n; i++)
		write_program(a, w, &progs[i], links, n_links);
	jw_arr_close(w);
	jw_key(w, "links");
	jw_arr_open(w);
	for (int i = 0; i < n_links; i++)
		write_link(a, w, &links[i], progs, n, cg_id);
	jw_arr_close(w);
	/* the interfaces the Workloads name, as the tc attacher sees them */
	jw_key(w, "tc");
	jw_obj_open(w);
	jw_key(w, "interfaces");
	jw_arr_open(w);
	for (int i = 0; i < a->tcg.n_attached; i++)
		jw_str(w, a->tcg.attached[i]);
	jw_arr_close(w);
	jw_ku64(w, "missing", a->tcg.missing > 0 ? a->tcg.missing : 0);
	jw_obj_close(w);
	jw_obj_close(w);
}

static bool is_hash_like(__u32 t)
{
	return t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_LPM_TRIE || t == BPF_MAP_TYPE_HASH_OF_MAPS ||
	       t == BPF_MAP_TYPE_SOCKHASH;
}

/* Keys present, walking at most COUNT_MAX; *more when the walk stopped
 * early. Approximate on a busy map: a key deleted under the walk restarts
 * it from the first key. */
static long count_keys(int fd, __u32 key_size, bool *more)
{
	char *buf = calloc(2, key_size ? key_size : 1), *cur = buf, *next;
	long n = 0;

	*more = false;
	if (!buf)
		return -ENOMEM;
	next = buf + key_size;
	while (!bpf_map_get_next_key(fd, n ? cur : NULL, next)) {
		char *t = cur;

		if (n == COUNT_MAX) {
			*more = true;
			break;
		}
		n++;
		cur = next;
		next = t;
	}
	free(buf);
	return n;
}

struct seen_maps {
	__u32 id[MAX_MAPS];
	int n;
};

/* The capture object reuses the balancer's pinned maps: list each once. */
static bool seen_before(struct seen_maps *s, __u32 id)
{
	for (int i = 0; i < s->n; i++)
		if (s->id[i] == id)
			return true;
	if (s->n < MAX_MAPS)
		s->id[s->n++] = id;
	return false;
}

static void write_maps(struct jsonw *w, struct bpf_object *obj, const char *oname,
		       struct seen_maps *seen)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj)
	{
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		const char *tname;
		bool more = false;
		long entries = -1;
		int fd = bpf_map__fd(m);

		if (bpf_map__is_internal(m) || fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) ||
		    seen_before(seen, info.id))
			continue;
		tname = libbpf_bpf_map_type_str(info.type);
		jw_obj_open(w);
		jw_kstr(w, "name", bpf_map__name(m));
		jw_kstr(w, "object", oname);
		jw_ku64(w, "id", info.id);
		jw_kstr(w, "type", tname ? tname : "unknown");
		jw_ku64(w, "keySize", info.key_size);
		jw_ku64(w, "valueSize", info.value_size);
		jw_ku64(w, "maxEntries", info.max_entries);
		if (is_hash_like(info.type))
			entries = count_keys(fd, info.key_size, &more);
		if (entries >= 0) {
			jw_ki64(w, "entries", entries);
			jw_kstr(w, "count", more ? "atLeast" : "exact");
			st_kdbl(w, "usedPercent",
				info.max_entries ? 100.0 * entries / info.max_entries : 0);
		} else if (info.type == BPF_MAP_TYPE_ARRAY ||
			   info.type == BPF_MAP_TYPE_PERCPU_ARRAY) {
			/* every slot of an array exists */
			jw_ku64(w, "entries", info.max_entries);
			jw_kstr(w, "count", "array");
			st_knull(w, "usedPercent");
		} else {
			st_knull(w, "entries");
			jw_kstr(w, "count", "unknown");
			st_knull(w, "usedPercent");
		}
		/* the loader sets it on the maps it pinned or reused */
		if (bpf_map__pin_path(m))
			jw_kstr(w, "pinned", bpf_map__pin_path(m));
		else
			st_knull(w, "pinned");
		jw_obj_close(w);
	}
}

/* The Kubernetes API's resources as the client sees them; absent in
 * file-only mode. */
static void write_kubernetes(struct agent *a, struct jsonw *w)
{
	struct kube_resource_status st[KUBESYNC_MAX_RES];
	size_t n = kubesync_status(a->kube, st, KUBESYNC_MAX_RES);

	if (!a->kube)
		return;
	jw_key(w, "kubernetes");
	jw_obj_open(w);
	jw_kstr(w, "server", a->kube->origin);
	jw_kstr(w, "node", a->kube->node);
	jw_kbool(w, "synced", kubesync_synced(a->kube));
	jw_ku64(w, "appliedGeneration", a->kube_gen);
	jw_ku64(w, "appliedObjects", a->kube_objects);
	jw_ku64(w, "podsWithoutCgroup", a->pods_unresolved > 0 ? a->pods_unresolved : 0);
	jw_key(w, "resources");
	jw_obj_open(w);
	for (size_t i = 0; i < n && i < KUBESYNC_MAX_RES; i++) {
		jw_key(w, st[i].name);
		jw_obj_open(w);
		jw_kbool(w, "synced", st[i].synced);
		jw_kbool(w, "absent", st[i].absent);
		jw_kbool(w, "watching", st[i].watching);
		jw_kbool(w, "failing", st[i].failing);
		jw_kstr(w, "resourceVersion", st[i].resource_version);
		if (st[i].last_error[0])
			jw_kstr(w, "lastError", st[i].last_error);
		else
			st_knull(w, "lastError");
		jw_ku64(w, "errors", st[i].errors);
		jw_ku64(w, "lists", st[i].lists);
		jw_ku64(w, "objects", st[i].objects);
		jw_obj_close(w);
	}
	jw_obj_close(w);
	/* what the configuration left out of the objects, and why */
	jw_key(w, "skipped");
	jw_arr_open(w);
	for (int i = 0; a->cfg && i < a->cfg->n_skipped; i++) {
		const struct cfg_skipped *sk = &a->cfg->skipped[i];

		jw_obj_open(w);
		jw_kstr(w, "kind", sk->kind);
		jw_kstr(w, "namespace", sk->ns);
		jw_kstr(w, "name", sk->name);
		jw_kstr(w, "reason", sk->reason);
		jw_obj_close(w);
	}
	jw_arr_close(w);
	jw_obj_close(w);
}

void api_write_status(struct agent *a, struct jsonw *w)
{
	struct link_rec *links = calloc(MAX_LINKS, sizeof(*links));
	struct seen_maps seen = {};
	int n_links = links ? scan_links(&a->ld.pd, links, MAX_LINKS) : 0;

	if (!links)
		w->failed = true;
	jw_obj_open(w);
	write_agent(a, w);
	write_kernel(a, w);
	write_tracing(a, w);
	write_attachments(a, w, links, n_links);
	write_kubernetes(a, w);
	jw_key(w, "maps");
	jw_arr_open(w);
	if (a->ld.skel)
		write_maps(w, a->ld.skel->obj, "lb", &seen);
	if (a->ld.http)
		write_maps(w, a->ld.http->obj, "http", &seen);
	jw_arr_close(w);
	jw_obj_close(w);
	free(links);
}
