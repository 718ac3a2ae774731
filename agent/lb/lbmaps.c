/* SPDX-License-Identifier: Apache-2.0 */
/* lbmaps.c: writes a load-balancing plan (lbplan.h) into the pinned maps.
 *
 * Ordering is what keeps traffic flowing during a reload:
 *  1. new endpoints are written first (nothing references them yet);
 *  2. a changed service gets its new tables in the inactive generation, then
 *     one atomic update of its lb_services value flips to them;
 *  3. frontends are added or repointed, then stale ones removed;
 *  4. removed endpoints are only flagged, and deleted by lbmaps_gc() seconds
 *     later, when no connect() can still be reading the old generation.
 * Each step is committed to the mirror once the kernel accepted it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/health.h"
#include "bpf/lb.h"
#include "lb/lbmaps.h"
#include "lb/lbplan.h"
#include "lib/clock.h"
#include "lib/log.h"

#define GC_DELAY_NS (2ULL * 1000000000ULL)

static uint32_t map_max_entries(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.max_entries;
}

/* Rebuild the mirror from pinned maps left by an earlier agent. */
static int lbmaps_adopt(struct lbmaps *lm)
{
	struct lbmirror *m = &lm->mir;
	struct lb_svc_name name;
	struct lb_backend be;
	struct lb_fe_key fk, *prev;
	struct lb_fe fe;
	struct lb_svc sv;
	__u32 id, *pid;
	int n_svc = 0, n_be = 0;

	/* lb_backends is an array: a used slot has an address family */
	for (id = 1; id < m->max_be; id++) {
		if (bpf_map_lookup_elem(lm->fd.backends, &id, &be) || !be.family)
			continue;
		lbmirror_adopt_backend(m, id, &be, mono_ns());
		n_be++;
	}
	for (pid = NULL; !bpf_map_get_next_key(lm->fd.svc_names, pid, &id); pid = &id) {
		if (id >= m->max_svc || bpf_map_lookup_elem(lm->fd.svc_names, &id, &name))
			continue;
		if (bpf_map_lookup_elem(lm->fd.services, &id, &sv))
			continue;
		name.key[sizeof(name.key) - 1] = 0;
		lbmirror_adopt_service(m, id, &sv, name.key);
		n_svc++;
	}
	prev = NULL;
	while (!bpf_map_get_next_key(lm->fd.frontends, prev, &fk)) {
		if (!bpf_map_lookup_elem(lm->fd.frontends, &fk, &fe))
			lbmirror_adopt_frontend(m, &fk, fe.svc_id);
		prev = &fk;
	}
	if (n_svc || n_be)
		log_info("adopted pinned state: %d services, %d endpoints, %zu frontends", n_svc,
			 n_be, m->fes.len);
	return 0;
}

int lbmaps_init(struct lbmaps *lm, const struct lbm_fds *fds)
{
	struct lbm_limits lim = {
	    .max_fe = map_max_entries(fds->frontends),
	    .max_svc = map_max_entries(fds->services),
	    .max_be = map_max_entries(fds->backends),
	    .max_slots = map_max_entries(fds->slots),
	    .max_maglev = map_max_entries(fds->maglev),
	};
	int rc;

	memset(lm, 0, sizeof(*lm));
	lm->fd = *fds;
	rc = lbmirror_init(&lm->mir, &lim);
	return rc ? rc : lbmaps_adopt(lm);
}

void lbmaps_free(struct lbmaps *lm) { lbmirror_free(&lm->mir); }

static void zero_ep_stats(struct lbmaps *lm, uint32_t id)
{
	int ncpu = libbpf_num_possible_cpus();
	struct lb_ep_stats *zero = calloc(ncpu > 0 ? ncpu : 1, sizeof(*zero));
	__s64 none = 0;

	if (zero)
		bpf_map_update_elem(lm->fd.ep_stats, &id, zero, BPF_ANY);
	free(zero);
	bpf_map_update_elem(lm->fd.ep_active, &id, &none, BPF_ANY);
}

static int write_backends(struct lbmaps *lm, const struct lbplan *p, char *err, size_t errlen)
{
	for (int i = 0; i < p->n_bes; i++) {
		const struct lbplan_be *b = &p->bes[i];
		struct lb_backend be = {};
		int rc;

		if (b->is_new) {
			/* a reused id starts from zero counts and good health */
			struct lb_ep_health healthy = {};
			struct lbm_backend mb = {.family = b->family, .port = b->port};
			struct lb_be_key bk;

			zero_ep_stats(lm, b->id);
			bpf_map_update_elem(lm->fd.ep_health, &b->id, &healthy, BPF_ANY);
			memcpy(mb.addr, b->addr, 16);
			lbm_be_key(&mb, &bk);
			bpf_map_update_elem(lm->fd.be_addr, &bk, &b->id, BPF_ANY);
		}
		memcpy(be.addr, b->addr, 16);
		be.port = htons(b->port);
		be.family = b->family;
		if (bpf_map_update_elem(lm->fd.backends, &b->id, &be, BPF_ANY)) {
			snprintf(err, errlen, "lb_backends update: %s", strerror(errno));
			return -errno;
		}
		rc = lbplan_commit_backend(&lm->mir, b);
		if (rc)
			return rc;
	}
	return 0;
}

bool lbm_backend_id(const struct lbmaps *lm, int family, const uint8_t *addr, uint16_t port,
		    uint32_t *id)
{
	return lbmirror_backend_id(&lm->mir, family, addr, port, id);
}

int lbm_ep_stats_read(const struct lbmaps *lm, uint32_t ep_id, struct lb_ep_stats *sum,
		      int64_t *active)
{
	int ncpu = libbpf_num_possible_cpus(), i, rc = 0;
	struct lb_ep_stats *v;
	__s64 live = 0;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return -EINVAL;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(lm->fd.ep_stats, &ep_id, v)) {
		rc = -errno;
		goto out;
	}
	for (i = 0; i < ncpu; i++) {
		sum->selected += v[i].selected;
		sum->opened += v[i].opened;
		sum->closed += v[i].closed;
		sum->refused += v[i].refused;
		sum->timed_out += v[i].timed_out;
		sum->reset += v[i].reset;
		sum->http_5xx += v[i].http_5xx;
	}
	bpf_map_lookup_elem(lm->fd.ep_active, &ep_id, &live);
	*active = live;
out:
	free(v);
	return rc;
}

/* A fresh inner map per write: swapping it into lb_maglev2 is atomic for
 * readers, where rewriting a live table in place would not be. */
/* A maglev service's table as a new inner map (its fd in *out), computed
 * straight into the map's pages (mmapable, bpf/lib/lb_maps.bpf.h). */
static int make_maglev(const struct lbplan_svc *ps, int *out)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	/* the kernel maps whole pages of the array's values */
	size_t len = (LB_MAGLEV_M * sizeof(uint32_t) + page - 1) & ~(page - 1);
	uint32_t *table = MAP_FAILED;
	int inner, err;

	opts.map_flags = BPF_F_MMAPABLE;
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lb_maglev_tbl", 4, 4, LB_MAGLEV_M, &opts);
	if (inner < 0) {
		err = -errno;
		goto out;
	}
	table = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, inner, 0);
	if (table == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	err = lbplan_maglev_table(ps, table);
	munmap(table, len);
out:
	if (err && inner >= 0) {
		close(inner);
		inner = -1;
	}
	*out = inner;
	return err;
}

/* The maglev tables of the plan's changed services, made first and put in
 * lb_maglev2 together: every update of a map of maps waits for an RCU grace
 * period (the kernel makes sure no program still reads the inner map it
 * replaced), 8 ms or more each on this 2-CPU VM, and a batch waits once
 * (where the kernel batches maps of maps; else one by one). A service's
 * table is in place before its lb_services entry changes (write_service),
 * as before. */
static int write_maglevs(struct lbmaps *lm, const struct lbplan *p, char *err, size_t errlen)
{
	uint32_t *keys = calloc(p->n_svcs ? p->n_svcs : 1, sizeof(*keys));
	int *fds = calloc(p->n_svcs ? p->n_svcs : 1, sizeof(*fds));
	__u32 count;
	int n = 0, i, rc = 0;

	if (!keys || !fds) {
		rc = -ENOMEM;
		snprintf(err, errlen, "maglev tables: out of memory");
		goto out;
	}
	for (i = 0; i < p->n_svcs; i++) {
		const struct lbplan_svc *ps = &p->svcs[i];

		if (!ps->maglev || !ps->changed || ps->table_err)
			continue;
		rc = make_maglev(ps, &fds[n]);
		if (rc) {
			snprintf(err, errlen, "service %s: writing tables: %s", ps->key,
				 strerror(-rc));
			goto out;
		}
		keys[n++] = ps->id;
	}
	if (!n)
		goto out;
	count = (__u32)n;
	if (bpf_map_update_batch(lm->fd.maglev, keys, fds, &count, NULL)) {
		/* count: how many went in before the refusal; left as it was
		 * (n) where the kernel has no batch update for this map */
		for (i = count < (__u32)n ? (int)count : 0; i < n; i++) {
			if (bpf_map_update_elem(lm->fd.maglev, &keys[i], &fds[i], BPF_ANY)) {
				rc = -errno;
				snprintf(err, errlen, "lb_maglev2 update: %s", strerror(errno));
				goto out;
			}
		}
	}
out:
	for (i = 0; i < n; i++)
		close(fds[i]);
	free(keys);
	free(fds);
	return rc;
}

static int write_slots(int fd, uint32_t svc_id, uint32_t bits, const uint32_t *eps,
		       const uint32_t *weights, uint32_t n, uint32_t stale)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct lb_slot_key k = {.svc_id = svc_id, .slot = bits | i};
		struct lb_slot v = {.ep_id = eps[i], .weight = weights ? (uint16_t)weights[i] : 0};

		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
			return -errno;
	}
	for (; i < stale; i++) {
		struct lb_slot_key k = {.svc_id = svc_id, .slot = bits | i};

		bpf_map_delete_elem(fd, &k);
	}
	return 0;
}

/* A new id starts with its name recorded, and a fresh round-robin cursor
 * and runtime state. */
static void register_service(struct lbmaps *lm, const struct lbplan_svc *ps)
{
	struct lb_svc_name name = {};
	struct lb_svc_rt fresh = {};
	__u32 zero = 0;

	snprintf(name.key, sizeof(name.key), "%s", ps->key);
	bpf_map_update_elem(lm->fd.svc_names, &ps->id, &name, BPF_ANY);
	bpf_map_update_elem(lm->fd.rr, &ps->id, &zero, BPF_ANY);
	bpf_map_update_elem(lm->fd.svc_rt, &ps->id, &fresh, BPF_ANY);
}

static int write_service(struct lbmaps *lm, const struct lbplan_svc *ps, char *err, size_t errlen)
{
	uint32_t gb = ps->val.gen ? LB_SLOT_GEN_BIT : 0;
	int rc;

	if (ps->is_new)
		register_service(lm, ps);
	lbplan_commit_service_id(&lm->mir, ps);
	if (ps->table_err)
		return ps->table_err;
	if (!ps->changed)
		return 0;
	rc = write_slots(lm->fd.slots, ps->id, gb, ps->slots, NULL, ps->n_slots, ps->clear_slots);
	if (!rc)
		rc = write_slots(lm->fd.slots, ps->id, gb | LB_SLOT_LIST_BIT, ps->eps, ps->weights,
				 ps->n_eps, ps->clear_eps);
	if (rc) {
		snprintf(err, errlen, "service %s: writing tables: %s", ps->key, strerror(-rc));
		return rc;
	}
	if (bpf_map_update_elem(lm->fd.services, &ps->id, &ps->val, BPF_ANY)) {
		rc = -errno;
		snprintf(err, errlen, "service %s: lb_services update: %s", ps->key,
			 strerror(errno));
		return rc;
	}
	if (ps->maglev_drop)
		bpf_map_delete_elem(lm->fd.maglev, &ps->id);
	lbplan_commit_service(&lm->mir, ps);
	log_debug("service %s: %u endpoints, %u slots, generation %u", ps->key, ps->n_eps,
		  ps->n_slots, ps->val.gen);
	return 0;
}

static void delete_service(struct lbmaps *lm, uint32_t id)
{
	struct lbm_svc *s = &lm->mir.svcs[id];
	uint32_t i, zero = 0;

	bpf_map_delete_elem(lm->fd.services, &id);
	for (int g = 0; g < 2; g++) {
		uint32_t gb = g ? LB_SLOT_GEN_BIT : 0;
		uint32_t ns = g == s->gen ? s->n_slots : s->stale_slots;
		uint32_t ne = g == s->gen ? s->n_eps : s->stale_eps;

		/* an adopted service may have left more than we know of */
		if (!s->known) {
			ns = ns > LB_WEIGHT_TABLE_MAX ? ns : LB_WEIGHT_TABLE_MAX;
			ne = ne > LB_MAX_EPS_PER_SVC ? ne : LB_MAX_EPS_PER_SVC;
		}
		for (i = 0; i < ns; i++) {
			struct lb_slot_key k = {.svc_id = id, .slot = gb | i};

			bpf_map_delete_elem(lm->fd.slots, &k);
		}
		for (i = 0; i < ne; i++) {
			struct lb_slot_key k = {.svc_id = id, .slot = gb | LB_SLOT_LIST_BIT | i};

			bpf_map_delete_elem(lm->fd.slots, &k);
		}
	}
	bpf_map_delete_elem(lm->fd.maglev, &id);
	bpf_map_delete_elem(lm->fd.svc_policy, &id);
	bpf_map_delete_elem(lm->fd.svc_names, &id);
	bpf_map_update_elem(lm->fd.rr, &id, &zero, BPF_ANY);
	log_debug("service %s removed", s->key);
	lbmirror_forget_service(&lm->mir, id);
}

/* Flagged, not deleted: a connect() may still read the old generation. */
static void flag_backend_removed(struct lbmaps *lm, uint32_t id)
{
	const struct lbm_backend *b = &lm->mir.bes[id];
	struct lb_backend be = {};

	memcpy(be.addr, b->addr, 16);
	be.port = htons(b->port);
	be.family = b->family;
	be.flags = LB_BE_F_REMOVED;
	bpf_map_update_elem(lm->fd.backends, &id, &be, BPF_ANY);
	lbplan_commit_backend_gone(&lm->mir, id, mono_ns());
}

static int write_plan(struct lbmaps *lm, const struct lbplan *p, char *err, size_t errlen)
{
	int i, rc;

	rc = write_backends(lm, p, err, errlen);
	if (!rc)
		rc = write_maglevs(lm, p, err, errlen);
	if (rc)
		return rc;
	for (i = 0; i < p->n_svcs; i++) {
		rc = write_service(lm, &p->svcs[i], err, errlen);
		if (rc)
			return rc;
	}
	/* frontends: add or repoint, then remove the ones no longer wanted */
	for (i = 0; i < p->n_fes; i++) {
		struct lb_fe fe = {.svc_id = p->fes[i].svc_id};

		if (bpf_map_update_elem(lm->fd.frontends, &p->fes[i].key, &fe, BPF_ANY)) {
			rc = -errno;
			snprintf(err, errlen, "lb_frontends update: %s", strerror(errno));
			return rc;
		}
		lbplan_commit_frontend(&lm->mir, &p->fes[i]);
	}
	for (i = 0; i < p->n_fes_del; i++) {
		bpf_map_delete_elem(lm->fd.frontends, &p->fes_del[i]);
		lbplan_commit_frontend_del(&lm->mir, &p->fes_del[i]);
	}
	for (i = 0; i < p->n_svcs_del; i++)
		delete_service(lm, p->svcs_del[i]);
	for (i = 0; i < p->n_bes_gone; i++)
		flag_backend_removed(lm, p->bes_gone[i]);
	return 0;
}

int lbmaps_apply(struct lbmaps *lm, const struct mesh_config *cfg, char *err, size_t errlen,
		 bool *touched)
{
	struct lbplan p;
	int rc;

	err[0] = 0;
	lbmaps_gc(lm, false);
	*touched = false;
	rc = lbplan_build(&lm->mir, cfg, &p, err, errlen);
	if (rc)
		return rc;
	*touched = true;
	rc = write_plan(lm, &p, err, errlen);
	if (!rc)
		lm->applies++;
	lbplan_free(&p);
	return rc;
}

int lbmaps_gc(struct lbmaps *lm, bool force)
{
	struct lbmirror *m = &lm->mir;
	uint64_t now = mono_ns();
	bool waiting = false;
	int freed = 0;
	uint32_t id;

	/* the walk covers every endpoint slot (max_be): only when one waits */
	if (!m->gc_pending)
		return 0;
	for (id = 1; id < m->max_be; id++) {
		struct lbm_backend *b = &m->bes[id];
		struct lb_backend empty = {};
		struct lb_be_key bk;

		if (!b->used || !b->removed)
			continue;
		if (!force && now - b->removed_ns < GC_DELAY_NS) {
			waiting = true;
			continue;
		}
		lbm_be_key(b, &bk);
		bpf_map_delete_elem(lm->fd.be_addr, &bk);
		bpf_map_update_elem(lm->fd.backends, &id, &empty, BPF_ANY);
		lbmirror_forget_backend(m, id);
		freed++;
	}
	m->gc_pending = waiting;
	return freed;
}
