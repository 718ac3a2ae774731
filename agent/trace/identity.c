/* SPDX-License-Identifier: Apache-2.0 */
/* identity.c: the service of a socket's process (see identity.h), and the
 * per-socket memory that keeps it cheap: one resolution per socket, not one
 * per request. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cgroup.h"
#include "trace/identity.h"
#include "trace/podcg.h"

struct id_sock {
	uint64_t cookie;
	uint32_t tgid; /* the process it was resolved for; 0: unknown */
	uint32_t gen;  /* the configuration it was resolved under */
	struct id_sock *hnext, *prev, *next;
	char service[OBS_NAME_MAX], service_ns[OBS_NAME_MAX];
	bool not_traced;
	uint8_t instrumented; /* enum obs_instr */
	struct span_k8s k8s;
	uint64_t seq; /* obs.id_seq of this resolution */
};

/* obs.id_seq: process-wide, so that no two identities' resolutions share
 * a number */
static uint64_t resolutions;

/* src into dst (size bytes) up to its NUL: the bytes past it are no part
 * of the string. A byte loop, not snprintf: the strings are short or "",
 * and a new socket (two per request in close mode) copied five. */
static inline void copy_str(char *dst, const char *src, size_t size)
{
	size_t n = 0;

	while (n < size - 1 && src[n]) {
		dst[n] = src[n];
		n++;
	}
	dst[n] = '\0';
}

/* The process's cgroup v2 path relative to the mount ("" when unknown). */
static void proc_cgroup(uint32_t tgid, char *buf, size_t len)
{
	char path[64], line[1024];
	FILE *f;

	buf[0] = 0;
	snprintf(path, sizeof(path), "/proc/%u/cgroup", tgid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* the v2 hierarchy is "0::/path" */
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(buf, len, "%.511s", line[3] == '/' ? line + 4 : line + 3);
			break;
		}
	}
	fclose(f);
}

/* The cgroup v2 path (relative to the mount) of a cgroup id, as the kernel
 * gives it with bpf_get_current_cgroup_id(): the id is the cgroup's kernfs
 * file handle, so open_by_handle_at() finds the directory even after the
 * process left it. Cached: a cgroup's path does not change. */
static int cgroup_path_of_id(struct identity *id, uint64_t cg_id, char *buf, size_t len)
{
	struct identity_cg *c = &id->cg_cache[cg_id % IDENTITY_CG_CACHE];
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = {.fh = {.handle_bytes = sizeof(uint64_t), .handle_type = 0xfe /* FILEID_KERNFS */}};
	char link[64], path[PATH_MAX];
	size_t root = strlen(id->cgroot);
	ssize_t n;
	int fd;

	if (c->id == cg_id) {
		copy_str(buf, c->path, len);
		return 0;
	}
	if (id->cg_mount_fd < 0)
		id->cg_mount_fd = open(id->cgroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (id->cg_mount_fd < 0)
		return -errno;
	h.id = cg_id;
	fd = open_by_handle_at(id->cg_mount_fd, &h.fh, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	close(fd);
	if (n < 0 || (size_t)n < root || strncmp(path, id->cgroot, root))
		return -ENOENT;
	path[n] = 0;
	snprintf(c->path, sizeof(c->path), "%.*s", (int)sizeof(c->path) - 1,
		 path + root + (path[root] == '/'));
	c->id = cg_id;
	snprintf(buf, len, "%s", c->path);
	return 0;
}

static bool cgroup_within(const char *proc_cg, const char *wl_cg, const char *cgroot)
{
	size_t root = strlen(cgroot), n;

	/* Workload.cgroup is relative to the mount, or an absolute path under it */
	if (wl_cg[0] == '/' && !strncmp(wl_cg, cgroot, root))
		wl_cg += root + (wl_cg[root] == '/');
	n = strlen(wl_cg);
	return n && !strncmp(proc_cg, wl_cg, n) && (proc_cg[n] == 0 || proc_cg[n] == '/');
}

/* Whether workload w holds a process of cgroup cg, and how well: 0 not at
 * all, 1 by its cgroup, 2 as a pod (a pod is more specific than a Workload
 * whose cgroup holds a whole slice of pods); +2 when it also serves the
 * socket's port. cid: the container id the path names below a pod. */
static int workload_score(const struct identity *id, const struct cfg_workload *w, const char *cg,
			  uint16_t port, char *cid, size_t cid_len)
{
	int score = 0;

	cid[0] = 0;
	if (w->pod_uid[0] && podcg_match(cg, w->pod_uid, cid, cid_len))
		score = 2;
	else if (cgroup_within(cg, w->cgroup, id->cgroot))
		score = w->pod_uid[0] ? 2 : 1;
	if (!score)
		return 0;
	for (int p = 0; p < w->n_ports; p++)
		if (w->ports[p] == port)
			return score + 2;
	return score;
}

/* A pod's identity for its spans. The container is the one whose
 * containerID the cgroup names; none when the process sits in the pod's own
 * cgroup or the runtime's id is not (yet) in the pod's status: naming the
 * only container of a pod then would be a guess. */
static void pod_identity(const struct identity *id, const struct cfg_workload *w, const char *cid,
			 struct span_k8s *k)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->pod_name, sizeof(k->pod_name), "%.*s", (int)sizeof(k->pod_name) - 1,
		 w->pod_name);
	snprintf(k->pod_uid, sizeof(k->pod_uid), "%.*s", (int)sizeof(k->pod_uid) - 1, w->pod_uid);
	snprintf(k->node_name, sizeof(k->node_name), "%.*s", (int)sizeof(k->node_name) - 1,
		 w->node_name[0] ? w->node_name : id->node_name);
	snprintf(k->owner_kind, sizeof(k->owner_kind), "%.*s", (int)sizeof(k->owner_kind) - 1,
		 w->owner_kind);
	snprintf(k->owner_name, sizeof(k->owner_name), "%.*s", (int)sizeof(k->owner_name) - 1,
		 w->owner_name);
	for (int c = 0; cid[0] && c < w->n_containers; c++)
		if (podcg_same_container(w->containers[c].id, cid))
			snprintf(k->container_name, sizeof(k->container_name), "%.*s",
				 (int)sizeof(k->container_name) - 1, w->containers[c].name);
}

/* The configured service of the process (tgid, cgroup cg_id) behind a
 * socket with address local (folded, obs.h): 0 with name and ns filled
 * (OBS_NAME_MAX bytes each), k (the pod's identity, or all "") and instr
 * (its Workload's tracing.instrumented, else auto), 1 when no Workload or
 * Service names it. */
static int configured(struct identity *id, const struct obs_addr *local, uint32_t tgid,
		      uint64_t cg_id, char *name, char *ns, struct span_k8s *k, uint8_t *instr)
{
	const struct mesh_config *cfg = id->cfg;
	char cg[512], cid[128], best_cid[128] = "";
	int best = -1, best_score = 0;

	memset(k, 0, sizeof(*k));
	*instr = OBS_INSTR_AUTO;
	if (!cfg)
		return 1;
	if (tgid) {
		/* the kernel's cgroup id first: the process may be gone by now */
		if (!cg_id || cgroup_path_of_id(id, cg_id, cg, sizeof(cg)))
			proc_cgroup(tgid, cg, sizeof(cg));
		for (int i = 0; cg[0] && i < cfg->n_workloads; i++) {
			int score = workload_score(id, &cfg->workloads[i], cg, local->port, cid,
						   sizeof(cid));

			if (score > best_score) {
				best = i;
				best_score = score;
				snprintf(best_cid, sizeof(best_cid), "%s", cid);
			}
		}
	}
	if (best >= 0) {
		const struct cfg_workload *w = &cfg->workloads[best];

		copy_str(name, w->service, OBS_NAME_MAX);
		copy_str(ns, w->meta.ns, OBS_NAME_MAX);
		if (w->pod_uid[0])
			pod_identity(id, w, best_cid, k);
		*instr = w->instrumented == CFG_INSTR_TRUE    ? OBS_INSTR_YES
			 : w->instrumented == CFG_INSTR_FALSE ? OBS_INSTR_NO
							      : OBS_INSTR_AUTO;
		return 0;
	}
	for (int s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *sv = &cfg->services[s];

		for (int e = 0; e < sv->n_endpoints; e++) {
			const struct cfg_endpoint *ep = &sv->endpoints[e];

			if (ep->addr.family != local->family ||
			    memcmp(ep->addr.addr, local->addr, local->family == AF_INET ? 4 : 16))
				continue;
			for (int p = 0; p < sv->n_ports; p++) {
				if ((ep->port ? ep->port : sv->ports[p].target_port) != local->port)
					continue;
				copy_str(name, sv->meta.name, OBS_NAME_MAX);
				copy_str(ns, sv->meta.ns, OBS_NAME_MAX);
				return 0;
			}
		}
	}
	return 1;
}

static void resolve(struct identity *id, const struct obs *o, struct id_sock *s)
{
	struct obs_addr local;

	obs_addr_fold(&o->local, &local);
	s->service[0] = s->service_ns[0] = '\0';
	/* No Workload says "not traced": every process is traced; one whose
	 * SDK exports its spans is told apart by the span builder, which keeps
	 * its requests for the metrics (obs.instrumented). */
	s->not_traced = false;
	if (configured(id, &local, o->tgid, o->cgroup_id, s->service, s->service_ns, &s->k8s,
		       &s->instrumented) > 0) {
		/* OpenTelemetry's fallback is unknown_service; the process name says more */
		size_t n = 0;

		/* comm: up to its size, NUL-terminated or not */
		while (n < sizeof(o->comm) && n < sizeof(s->service) - 1 && o->comm[n]) {
			s->service[n] = o->comm[n];
			n++;
		}
		s->service[n] = '\0';
		if (!s->service[0])
			strcpy(s->service, "unknown_service");
		s->service_ns[0] = '\0';
	}
	s->tgid = o->tgid;
	s->gen = id->gen;
	s->seq = __atomic_add_fetch(&resolutions, 1, __ATOMIC_RELAXED);
	id->resolved++;
}

/* --- sockets: a chained hash by cookie, and a list by last use --- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static struct id_sock **bucket(struct identity *id, uint64_t cookie)
{
	return &id->ht[mix64(cookie) & (IDENTITY_SOCKETS - 1)];
}

static void lru_unlink(struct identity *id, struct id_sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		id->lru_head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		id->lru_tail = s->prev;
	s->prev = s->next = NULL;
}

static void lru_push(struct identity *id, struct id_sock *s)
{
	s->prev = id->lru_tail;
	s->next = NULL;
	if (id->lru_tail)
		id->lru_tail->next = s;
	else
		id->lru_head = s;
	id->lru_tail = s;
}

static void sock_free(struct identity *id, struct id_sock *s)
{
	struct id_sock **pp = bucket(id, s->cookie);

	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	lru_unlink(id, s);
	id->n_socks--;
	free(s);
}

static struct id_sock *sock_find(struct identity *id, uint64_t cookie)
{
	struct id_sock *s = *bucket(id, cookie);

	while (s && s->cookie != cookie)
		s = s->hnext;
	return s;
}

static struct id_sock *sock_new(struct identity *id, uint64_t cookie)
{
	struct id_sock *s, **b;

	if (id->n_socks >= IDENTITY_SOCKETS && id->lru_head)
		sock_free(id, id->lru_head);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cookie = cookie;
	b = bucket(id, cookie);
	s->hnext = *b;
	*b = s;
	lru_push(id, s);
	id->n_socks++;
	return s;
}

void identity_resolve(struct identity *id, struct obs *o)
{
	struct id_sock *s = sock_find(id, o->cookie), tmp;

	if (s && s->gen == id->gen && (!o->tgid || o->tgid == s->tgid)) {
		id->reused++;
		lru_unlink(id, s);
		lru_push(id, s);
	} else {
		if (!s)
			s = sock_new(id, o->cookie);
		else {
			lru_unlink(id, s);
			lru_push(id, s);
		}
		/* out of memory: resolved all the same, only not remembered */
		if (!s)
			s = &tmp;
		resolve(id, o, s);
	}
	/* as strings: the arrays (760 bytes, a rep movs for the pod's
	 * identity) were 1.5-2% of the agent, copied at every request */
	copy_str(o->service, s->service, sizeof(o->service));
	copy_str(o->service_ns, s->service_ns, sizeof(o->service_ns));
	copy_str(o->k8s.pod_name, s->k8s.pod_name, sizeof(o->k8s.pod_name));
	copy_str(o->k8s.pod_uid, s->k8s.pod_uid, sizeof(o->k8s.pod_uid));
	copy_str(o->k8s.container_name, s->k8s.container_name, sizeof(o->k8s.container_name));
	copy_str(o->k8s.node_name, s->k8s.node_name, sizeof(o->k8s.node_name));
	copy_str(o->k8s.owner_kind, s->k8s.owner_kind, sizeof(o->k8s.owner_kind));
	copy_str(o->k8s.owner_name, s->k8s.owner_name, sizeof(o->k8s.owner_name));
	o->not_traced = s->not_traced;
	o->instrumented = s->instrumented;
	o->id_seq = s->seq;
}

void identity_forget(struct identity *id, uint64_t cookie)
{
	struct id_sock *s = sock_find(id, cookie);

	if (s)
		sock_free(id, s);
}

void identity_set_config(struct identity *id, const struct mesh_config *cfg)
{
	id->cfg = cfg;
	id->gen++;
}

void identity_set_node_name(struct identity *id, const char *node)
{
	snprintf(id->node_name, sizeof(id->node_name), "%.*s", (int)sizeof(id->node_name) - 1,
		 node ? node : "");
	id->gen++;
}

int identity_init(struct identity *id)
{
	memset(id, 0, sizeof(*id));
	id->cg_mount_fd = -1;
	cgroup2_mount(id->cgroot, sizeof(id->cgroot));
	id->ht = calloc(IDENTITY_SOCKETS, sizeof(*id->ht));
	return id->ht ? 0 : -ENOMEM;
}

void identity_free(struct identity *id)
{
	while (id->ht && id->lru_head)
		sock_free(id, id->lru_head);
	free(id->ht);
	id->ht = NULL;
	if (id->cg_mount_fd >= 0)
		close(id->cg_mount_fd);
	id->cg_mount_fd = -1;
}
