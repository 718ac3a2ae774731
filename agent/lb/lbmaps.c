/* SPDX-License-Identifier: Apache-2.0 */
/* lbmaps.c: the desired-state writer for the load balancer.
 *
 * Ordering is what keeps traffic flowing during a reload:
 *  1. new endpoints are written first (nothing references them yet);
 *  2. a changed service gets its new tables in the inactive generation, then
 *     one atomic update of its lb_services value flips to them;
 *  3. frontends are added or repointed, then stale ones removed;
 *  4. removed endpoints are only flagged, and deleted by lbmaps_gc() seconds
 *     later, when no connect() can still be reading the old generation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/health.h"
#include "bpf/lb.h"
#include "lib/clock.h"
#include "lb/lbmaps.h"
#include "lb/lbtable.h"
#include "lib/log.h"

#define GC_DELAY_NS (2ULL * 1000000000ULL)

struct want_svc {
	char key[248];
	uint8_t policy, family, proto, flags;
	uint16_t port;
	int n;
	uint32_t *eps; /* ep ids */
	uint32_t *weights;
	uint32_t id;
	int cfg_si, cfg_pi; /* the config service and port it comes from */
};

struct want {
	struct want_svc *svcs;
	int n_svcs;
	struct strmap fes; /* frontend hex key -> index into svcs */
	struct strmap bes; /* backend key -> 1 */
};

static void be_key(int family, const uint8_t *addr, uint16_t port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, a, sizeof(a));
	snprintf(buf, len, "%s|%s|%u", family == AF_INET ? "4" : "6", a, port);
}

void lbm_backend_str(const struct lbm_backend *be, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(be->family, be->addr, a, sizeof(a));
	if (be->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, be->port);
	else
		snprintf(buf, len, "%s:%u", a, be->port);
}

void lbm_be_key(const struct lbm_backend *b, struct lb_be_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, b->addr, b->family == AF_INET ? 4 : 16);
	k->port = htons(b->port);
	k->family = b->family;
}

static void fe_hex(const struct lb_fe_key *k, char *buf)
{
	const uint8_t *p = (const uint8_t *)k;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		sprintf(buf + 2 * i, "%02x", p[i]);
}

static void fe_unhex(const char *s, struct lb_fe_key *k)
{
	uint8_t *p = (uint8_t *)k;
	size_t i;

	for (i = 0; i < sizeof(*k); i++) {
		unsigned v;

		sscanf(s + 2 * i, "%2x", &v);
		p[i] = v;
	}
}

static uint32_t alloc_id(uint32_t *cursor, uint32_t max, bool (*used)(struct lbmaps *, uint32_t),
			 struct lbmaps *lm)
{
	uint32_t i, id;

	for (i = 0; i < max; i++) {
		id = (*cursor + i) % max;
		if (id == 0)
			continue;
		if (!used(lm, id)) {
			*cursor = id + 1;
			return id;
		}
	}
	return 0;
}

static bool svc_used(struct lbmaps *lm, uint32_t id) { return lm->svcs[id].used; }

static bool be_used(struct lbmaps *lm, uint32_t id) { return lm->bes[id].used; }

static void svc_forget(struct lbm_svc *s)
{
	free(s->slots);
	free(s->eps);
	free(s->weights);
	memset(s, 0, sizeof(*s));
}

static uint32_t map_max_entries(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.max_entries;
}

/* Rebuild the mirror from pinned maps left by an earlier agent. Tables are not
 * read back: every service is rewritten into its inactive generation at the
 * first apply, which costs a few writes and never disturbs traffic. */
static int lbmaps_adopt(struct lbmaps *lm)
{
	struct lb_svc_name name;
	struct lb_backend be;
	struct lb_fe_key fk, *prev;
	struct lb_fe fe;
	struct lb_svc sv;
	__u32 id, *pid;
	char key[128];
	int n_svc = 0, n_be = 0;

	/* lb_backends is an array: a used slot has an address family */
	for (id = 1; id < lm->max_be; id++) {
		if (bpf_map_lookup_elem(lm->fd.backends, &id, &be) || !be.family)
			continue;
		struct lbm_backend *b = &lm->bes[id];

		b->used = true;
		b->family = be.family;
		memcpy(b->addr, be.addr, 16);
		b->port = ntohs(be.port);
		b->removed = be.flags & LB_BE_F_REMOVED;
		lm->gc_pending |= b->removed;
		if (b->removed)
			clock_gettime(CLOCK_MONOTONIC, &b->removed_at);
		be_key(b->family, b->addr, b->port, key, sizeof(key));
		strmap_put(&lm->be_ids, key, id);
		n_be++;
	}
	for (pid = NULL; !bpf_map_get_next_key(lm->fd.svc_names, pid, &id); pid = &id) {
		if (id >= lm->max_svc || bpf_map_lookup_elem(lm->fd.svc_names, &id, &name))
			continue;
		if (bpf_map_lookup_elem(lm->fd.services, &id, &sv))
			continue;
		struct lbm_svc *s = &lm->svcs[id];

		s->used = true;
		s->policy = sv.policy;
		s->gen = sv.gen;
		s->family = sv.family;
		s->n_slots = sv.n_slots;
		s->n_eps = sv.n_eps;
		s->stale_slots = sv.stale_slots;
		s->stale_eps = sv.stale_eps;
		s->maglev = sv.policy == LB_POLICY_MAGLEV;
		name.key[sizeof(name.key) - 1] = 0;
		snprintf(s->key, sizeof(s->key), "%s", name.key);
		strmap_put(&lm->svc_ids, s->key, id);
		n_svc++;
	}
	prev = NULL;
	while (!bpf_map_get_next_key(lm->fd.frontends, prev, &fk)) {
		char hex[sizeof(fk) * 2 + 1];

		if (!bpf_map_lookup_elem(lm->fd.frontends, &fk, &fe)) {
			fe_hex(&fk, hex);
			strmap_put(&lm->fes, hex, fe.svc_id);
		}
		prev = &fk;
	}
	if (n_svc || n_be)
		log_info("adopted pinned state: %d services, %d endpoints, %zu frontends", n_svc,
			 n_be, lm->fes.len);
	return 0;
}

int lbmaps_init(struct lbmaps *lm, const struct lbm_fds *fds)
{
	memset(lm, 0, sizeof(*lm));
	lm->fd = *fds;
	lm->max_fe = map_max_entries(fds->frontends);
	lm->max_svc = map_max_entries(fds->services);
	lm->max_be = map_max_entries(fds->backends);
	lm->max_slots = map_max_entries(fds->slots);
	lm->max_maglev = map_max_entries(fds->maglev);
	if (!lm->max_fe || !lm->max_svc || !lm->max_be || !lm->max_slots)
		return -EINVAL;
	lm->svcs = calloc(lm->max_svc, sizeof(*lm->svcs));
	lm->bes = calloc(lm->max_be, sizeof(*lm->bes));
	if (!lm->svcs || !lm->bes)
		return -ENOMEM;
	lm->next_svc = lm->next_be = 1;
	return lbmaps_adopt(lm);
}

void lbmaps_free(struct lbmaps *lm)
{
	uint32_t i;

	for (i = 0; lm->svcs && i < lm->max_svc; i++)
		svc_forget(&lm->svcs[i]);
	free(lm->svcs);
	free(lm->bes);
	strmap_free(&lm->svc_ids);
	strmap_free(&lm->be_ids);
	strmap_free(&lm->fes);
}

static void want_free(struct want *w)
{
	int i;

	for (i = 0; i < w->n_svcs; i++) {
		free(w->svcs[i].eps);
		free(w->svcs[i].weights);
	}
	free(w->svcs);
	strmap_free(&w->fes);
	strmap_free(&w->bes);
}

static const char *proto_name(uint8_t p) { return p == IPPROTO_UDP ? "UDP" : "TCP"; }

/* Translate the config into kernel services: one per service port and
 * address family that has a service address, holding that family's
 * endpoints (a v4 socket can only be sent to a v4 endpoint). */
static int want_build(const struct mesh_config *cfg, struct want *w)
{
	int si, pi, fi, ai, ei, n = 0;
	static const int fams[2] = {AF_INET, AF_INET6};

	memset(w, 0, sizeof(*w));
	for (si = 0; si < cfg->n_services; si++)
		n += cfg->services[si].n_ports * 2;
	w->svcs = calloc(n ? n : 1, sizeof(*w->svcs));
	if (!w->svcs)
		return -ENOMEM;
	for (si = 0; si < cfg->n_services; si++) {
		const struct cfg_service *s = &cfg->services[si];

		for (pi = 0; pi < s->n_ports; pi++) {
			const struct cfg_port *p = &s->ports[pi];

			for (fi = 0; fi < 2; fi++) {
				struct want_svc *ws = &w->svcs[w->n_svcs];
				bool has_vip = false;

				for (ai = 0; ai < s->n_addrs; ai++)
					has_vip |= s->addrs[ai].family == fams[fi];
				if (!has_vip)
					continue;
				snprintf(ws->key, sizeof(ws->key), "%.110s/%.110s:%u/%s/v%c",
					 s->meta.ns, s->meta.name, p->port, proto_name(p->protocol),
					 fams[fi] == AF_INET ? '4' : '6');
				ws->policy = s->policy;
				ws->family = fams[fi];
				ws->proto = p->protocol;
				ws->port = p->port;
				ws->cfg_si = si;
				ws->cfg_pi = pi;
				for (int k = 0; k < cfg->n_policies; k++)
					if (cfg->policies[k].service_idx == si)
						ws->flags |= LB_SVC_F_POLICY;
				for (int k = 0; k < cfg->n_access; k++)
					if (cfg->access[k].service_idx == si)
						ws->flags |= LB_SVC_F_ACCESS;
				ws->eps = calloc(s->n_endpoints + 1, sizeof(*ws->eps));
				ws->weights = calloc(s->n_endpoints + 1, sizeof(*ws->weights));
				if (!ws->eps || !ws->weights)
					return -ENOMEM;
				w->n_svcs++;
				for (ai = 0; ai < s->n_addrs; ai++) {
					struct lb_fe_key fk = {};
					char hex[sizeof(fk) * 2 + 1];

					if (s->addrs[ai].family != fams[fi])
						continue;
					memcpy(fk.addr, s->addrs[ai].addr,
					       fams[fi] == AF_INET ? 4 : 16);
					fk.port = htons(p->port);
					fk.proto = p->protocol;
					fk.family = fams[fi];
					fe_hex(&fk, hex);
					if (strmap_put(&w->fes, hex, w->n_svcs - 1))
						return -ENOMEM;
				}
				for (ei = 0; ei < s->n_endpoints; ei++) {
					const struct cfg_endpoint *e = &s->endpoints[ei];
					char key[128];

					if (e->addr.family != fams[fi])
						continue;
					be_key(e->addr.family, e->addr.addr,
					       e->port ? e->port : p->target_port, key,
					       sizeof(key));
					/* eps[] holds the want-index of the key for now */
					if (strmap_put(&w->bes, key, 1))
						return -ENOMEM;
					ws->weights[ws->n] = e->weight ? e->weight : 1;
					ws->eps[ws->n++] = ei;
				}
			}
		}
	}
	return 0;
}

static uint32_t table_size(const struct want_svc *ws)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < ws->n; i++)
		sum += ws->weights[i];
	return sum > LB_WEIGHT_TABLE_MAX ? LB_WEIGHT_TABLE_MAX : (uint32_t)sum;
}

/* Refuse a configuration that cannot fit before writing any of it. */
static int check_capacity(struct lbmaps *lm, struct want *w, char *err, size_t errlen)
{
	uint64_t new_be = 0, new_svc = 0, slots = 0, maglev = 0;
	const char *k;
	uint32_t v;
	size_t pos = 0;
	int i;

	while (strmap_next(&w->bes, &pos, &k, &v))
		if (!strmap_get(&lm->be_ids, k, NULL))
			new_be++;
	for (i = 0; i < w->n_svcs; i++) {
		if (!strmap_get(&lm->svc_ids, w->svcs[i].key, NULL))
			new_svc++;
		/* both generations may be populated */
		slots += 2ULL * (table_size(&w->svcs[i]) + w->svcs[i].n);
		maglev += w->svcs[i].policy == LB_POLICY_MAGLEV;
	}
	if (lm->be_ids.len + new_be > lm->max_be - 1) {
		snprintf(err, errlen,
			 "map lb_backends is full: %zu endpoints needed, the limit is %u; raise it "
			 "with --max-endpoints",
			 lm->be_ids.len + new_be, lm->max_be - 1);
		return -ENOSPC;
	}
	if (lm->svc_ids.len + new_svc > lm->max_svc - 1 || (uint64_t)w->n_svcs > lm->max_svc - 1) {
		snprintf(
		    err, errlen,
		    "map lb_services is full: %zu service ports needed, the limit is %u; raise "
		    "it with --max-services",
		    lm->svc_ids.len + new_svc, lm->max_svc - 1);
		return -ENOSPC;
	}
	if (w->fes.len > lm->max_fe) {
		snprintf(
		    err, errlen,
		    "map lb_frontends is full: %zu service addresses x ports needed, the limit "
		    "is %u; raise it with --max-services",
		    w->fes.len, lm->max_fe);
		return -ENOSPC;
	}
	if (slots > lm->max_slots) {
		snprintf(err, errlen,
			 "map lb_slots is full: %llu slots needed, the limit is %u; raise it with "
			 "--max-endpoints",
			 (unsigned long long)slots, lm->max_slots);
		return -ENOSPC;
	}
	if (maglev > lm->max_maglev) {
		snprintf(err, errlen,
			 "map lb_maglev is full: %llu maglev services, the limit is %u",
			 (unsigned long long)maglev, lm->max_maglev);
		return -ENOSPC;
	}
	return 0;
}

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

static int write_backends(struct lbmaps *lm, const struct mesh_config *cfg, struct want *w,
			  char *err, size_t errlen)
{
	int wi, k;

	for (wi = 0; wi < w->n_svcs; wi++) {
		struct want_svc *ws = &w->svcs[wi];
		const struct cfg_service *s = &cfg->services[ws->cfg_si];
		const struct cfg_port *p = &s->ports[ws->cfg_pi];

		/* eps[] holds config endpoint indexes until here */
		for (k = 0; k < ws->n; k++) {
			const struct cfg_endpoint *e = &s->endpoints[ws->eps[k]];
			uint16_t port = e->port ? e->port : p->target_port;
			struct lb_backend be = {};
			char key[128];
			uint32_t id;

			be_key(ws->family, e->addr.addr, port, key, sizeof(key));
			if (strmap_get(&lm->be_ids, key, &id)) {
				ws->eps[k] = id;
				if (!lm->bes[id].removed)
					continue;
				lm->bes[id].removed = false; /* back before it was collected */
			} else {
				id = alloc_id(&lm->next_be, lm->max_be, be_used, lm);
				if (!id) {
					snprintf(err, errlen, "no free endpoint id");
					return -ENOSPC;
				}
				lm->bes[id].used = true;
				lm->bes[id].family = ws->family;
				memcpy(lm->bes[id].addr, e->addr.addr, 16);
				lm->bes[id].port = port;
				if (strmap_put(&lm->be_ids, key, id))
					return -ENOMEM;
				/* a reused id starts from zero counts and good health */
				zero_ep_stats(lm, id);
				struct lb_ep_health healthy = {};
				struct lb_be_key bk;

				bpf_map_update_elem(lm->fd.ep_health, &id, &healthy, BPF_ANY);
				lbm_be_key(&lm->bes[id], &bk);
				bpf_map_update_elem(lm->fd.be_addr, &bk, &id, BPF_ANY);
				ws->eps[k] = id;
			}
			memcpy(be.addr, e->addr.addr, 16);
			be.port = htons(port);
			be.family = ws->family;
			if (bpf_map_update_elem(lm->fd.backends, &id, &be, BPF_ANY)) {
				snprintf(err, errlen, "lb_backends update: %s", strerror(errno));
				return -errno;
			}
		}
	}
	return 0;
}

bool lbm_backend_id(const struct lbmaps *lm, int family, const uint8_t *addr, uint16_t port,
		    uint32_t *id)
{
	char key[128];

	be_key(family, addr, port, key, sizeof(key));
	return strmap_get(&lm->be_ids, key, id);
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

static bool same_u32(const uint32_t *a, const uint32_t *b, uint32_t n)
{
	return n == 0 || (a && b && !memcmp(a, b, n * sizeof(*a)));
}

static int write_maglev(struct lbmaps *lm, uint32_t svc_id, const struct want_svc *ws)
{
	uint64_t *keys = calloc(ws->n, sizeof(*keys));
	uint32_t *table = calloc(LB_MAGLEV_M, sizeof(*table));
	int inner = -1, err = 0, i;

	if (!keys || !table) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < ws->n; i++) {
		const struct lbm_backend *b = &lm->bes[ws->eps[i]];

		keys[i] = lb_endpoint_hash(b->family, b->addr, b->port);
	}
	err = lb_maglev_table(keys, ws->weights, ws->n, LB_MAGLEV_M, table);
	if (err)
		goto out;
	for (i = 0; i < LB_MAGLEV_M; i++)
		table[i] = ws->eps[table[i]];
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lb_maglev_tbl", 4, 4, LB_MAGLEV_M, NULL);
	if (inner < 0) {
		err = -errno;
		goto out;
	}
	{
		uint32_t *idx = malloc(LB_MAGLEV_M * sizeof(*idx));
		__u32 count = LB_MAGLEV_M;

		if (!idx) {
			err = -ENOMEM;
			goto out;
		}
		for (i = 0; i < LB_MAGLEV_M; i++)
			idx[i] = i;
		err = bpf_map_update_batch(inner, idx, table, &count, NULL);
		free(idx);
		if (err) {
			for (i = 0, err = 0; i < LB_MAGLEV_M && !err; i++) {
				__u32 k = i;

				err =
				    bpf_map_update_elem(inner, &k, &table[i], BPF_ANY) ? -errno : 0;
			}
			if (err)
				goto out;
		}
	}
	/* swapping the inner map is atomic for readers */
	if (bpf_map_update_elem(lm->fd.maglev, &svc_id, &inner, BPF_ANY))
		err = -errno;
out:
	if (inner >= 0)
		close(inner);
	free(keys);
	free(table);
	return err;
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

static int write_service(struct lbmaps *lm, struct want_svc *ws, char *err, size_t errlen)
{
	uint32_t *slots = NULL, *order = NULL, cap = table_size(ws), id;
	struct lbm_svc *s;
	struct lb_svc_name name = {};
	struct lb_svc val = {};
	int n_slots = 0, i, rc = 0;
	uint8_t ng;

	if (!strmap_get(&lm->svc_ids, ws->key, &id)) {
		id = alloc_id(&lm->next_svc, lm->max_svc, svc_used, lm);
		if (!id) {
			snprintf(err, errlen, "no free service id");
			return -ENOSPC;
		}
		s = &lm->svcs[id];
		s->used = true;
		s->gen = 1; /* so the first write goes to generation 0 */
		snprintf(s->key, sizeof(s->key), "%s", ws->key);
		strmap_put(&lm->svc_ids, ws->key, id);
		snprintf(name.key, sizeof(name.key), "%s", ws->key);
		bpf_map_update_elem(lm->fd.svc_names, &id, &name, BPF_ANY);
		__u32 zero = 0;
		struct lb_svc_rt fresh = {};

		bpf_map_update_elem(lm->fd.rr, &id, &zero, BPF_ANY);
		bpf_map_update_elem(lm->fd.svc_rt, &id, &fresh, BPF_ANY);
	}
	s = &lm->svcs[id];
	s->cfg_si = ws->cfg_si;
	ws->id = id;
	if (ws->n) {
		order = calloc(cap, sizeof(*order));
		slots = calloc(cap, sizeof(*slots));
		if (!order || !slots) {
			rc = -ENOMEM;
			goto out;
		}
		n_slots = lb_weighted_table(ws->weights, ws->n, cap, order);
		if (n_slots < 0) {
			rc = n_slots;
			goto out;
		}
		for (i = 0; i < n_slots; i++)
			slots[i] = ws->eps[order[i]];
	}
	if (s->known && s->policy == ws->policy && s->flags == ws->flags &&
	    s->n_slots == (uint32_t)n_slots && s->n_eps == (uint32_t)ws->n &&
	    same_u32(s->slots, slots, n_slots) && same_u32(s->eps, ws->eps, ws->n) &&
	    same_u32(s->weights, ws->weights, ws->n))
		goto out; /* unchanged */

	ng = !s->gen;
	rc = write_slots(lm->fd.slots, id, ng ? LB_SLOT_GEN_BIT : 0, slots, NULL, n_slots,
			 s->stale_slots);
	if (!rc)
		rc = write_slots(lm->fd.slots, id, (ng ? LB_SLOT_GEN_BIT : 0) | LB_SLOT_LIST_BIT,
				 ws->eps, ws->weights, ws->n, s->stale_eps);
	if (!rc && ws->policy == LB_POLICY_MAGLEV && ws->n)
		rc = write_maglev(lm, id, ws);
	if (rc) {
		snprintf(err, errlen, "service %s: writing tables: %s", ws->key, strerror(-rc));
		goto out;
	}
	val.n_slots = n_slots;
	val.n_eps = ws->n;
	val.policy = ws->policy;
	val.gen = ng;
	val.stale_slots = s->known || s->n_slots ? s->n_slots : 0;
	val.stale_eps = s->n_eps;
	val.family = ws->family;
	val.flags = ws->flags;
	if (bpf_map_update_elem(lm->fd.services, &id, &val, BPF_ANY)) {
		rc = -errno;
		snprintf(err, errlen, "service %s: lb_services update: %s", ws->key,
			 strerror(errno));
		goto out;
	}
	if (s->maglev && (ws->policy != LB_POLICY_MAGLEV || !ws->n)) {
		bpf_map_delete_elem(lm->fd.maglev, &id);
		s->maglev = false;
	} else if (ws->policy == LB_POLICY_MAGLEV && ws->n) {
		s->maglev = true;
	}
	s->stale_slots = val.stale_slots;
	s->stale_eps = val.stale_eps;
	s->gen = ng;
	s->policy = ws->policy;
	s->flags = ws->flags;
	s->family = ws->family;
	s->proto = ws->proto;
	s->port = ws->port;
	s->n_slots = n_slots;
	s->n_eps = ws->n;
	free(s->slots);
	free(s->eps);
	free(s->weights);
	s->slots = slots;
	slots = NULL;
	s->eps = malloc((ws->n + 1) * sizeof(uint32_t));
	s->weights = malloc((ws->n + 1) * sizeof(uint32_t));
	s->known = s->eps && s->weights;
	if (s->known) {
		memcpy(s->eps, ws->eps, ws->n * sizeof(uint32_t));
		memcpy(s->weights, ws->weights, ws->n * sizeof(uint32_t));
	}
	log_debug("service %s: %d endpoints, %d slots, generation %u", ws->key, ws->n, n_slots, ng);
out:
	free(order);
	free(slots);
	return rc;
}

static void delete_service(struct lbmaps *lm, uint32_t id)
{
	struct lbm_svc *s = &lm->svcs[id];
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
	strmap_del(&lm->svc_ids, s->key);
	svc_forget(s);
}

int lbmaps_apply(struct lbmaps *lm, const struct mesh_config *cfg, char *err, size_t errlen,
		 bool *touched)
{
	struct want w;
	const char *k;
	uint32_t v, id;
	size_t pos;
	bool *keep_be = NULL, *keep_svc = NULL;
	int i, rc;

	err[0] = 0;
	lbmaps_gc(lm, false);
	rc = want_build(cfg, &w);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	*touched = false;
	rc = check_capacity(lm, &w, err, errlen);
	if (rc)
		goto out;
	*touched = true;
	rc = write_backends(lm, cfg, &w, err, errlen);
	if (rc)
		goto out;
	for (i = 0; i < w.n_svcs; i++) {
		rc = write_service(lm, &w.svcs[i], err, errlen);
		if (rc)
			goto out;
	}
	/* frontends: add or repoint, then remove the ones no longer wanted */
	for (pos = 0; strmap_next(&w.fes, &pos, &k, &v);) {
		struct lb_fe_key fk;
		struct lb_fe fe = {.svc_id = w.svcs[v].id};

		if (strmap_get(&lm->fes, k, &id) && id == fe.svc_id)
			continue;
		fe_unhex(k, &fk);
		if (bpf_map_update_elem(lm->fd.frontends, &fk, &fe, BPF_ANY)) {
			rc = -errno;
			snprintf(err, errlen, "lb_frontends update: %s", strerror(errno));
			goto out;
		}
		strmap_put(&lm->fes, k, fe.svc_id);
	}
	for (pos = 0; strmap_next(&lm->fes, &pos, &k, &v);) {
		struct lb_fe_key fk;

		if (strmap_get(&w.fes, k, NULL))
			continue;
		fe_unhex(k, &fk);
		bpf_map_delete_elem(lm->fd.frontends, &fk);
		strmap_del(&lm->fes, k);
	}
	/* services no longer wanted */
	keep_svc = calloc(lm->max_svc, sizeof(*keep_svc));
	if (!keep_svc) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < w.n_svcs; i++)
		keep_svc[w.svcs[i].id] = true;
	for (id = 1; id < lm->max_svc; id++)
		if (lm->svcs[id].used && !keep_svc[id])
			delete_service(lm, id);
	/* endpoints no longer referenced: flag now, delete in lbmaps_gc() */
	keep_be = calloc(lm->max_be, sizeof(*keep_be));
	if (!keep_be) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < w.n_svcs; i++)
		for (int e = 0; e < w.svcs[i].n; e++)
			keep_be[w.svcs[i].eps[e]] = true;
	for (id = 1; id < lm->max_be; id++) {
		struct lbm_backend *b = &lm->bes[id];
		struct lb_backend be = {};

		if (!b->used || b->removed || keep_be[id])
			continue;
		memcpy(be.addr, b->addr, 16);
		be.port = htons(b->port);
		be.family = b->family;
		be.flags = LB_BE_F_REMOVED;
		bpf_map_update_elem(lm->fd.backends, &id, &be, BPF_ANY);
		b->removed = true;
		lm->gc_pending = true;
		clock_gettime(CLOCK_MONOTONIC, &b->removed_at);
	}
	lm->applies++;
out:
	free(keep_be);
	free(keep_svc);
	want_free(&w);
	return rc;
}

void lbmaps_gc(struct lbmaps *lm, bool force)
{
	uint64_t now = mono_ns();
	bool waiting = false;
	uint32_t id;
	char key[128];

	/* the walk covers every endpoint slot (max_be): only when one waits */
	if (!lm->gc_pending)
		return;
	for (id = 1; id < lm->max_be; id++) {
		struct lbm_backend *b = &lm->bes[id];
		uint64_t t;

		if (!b->used || !b->removed)
			continue;
		t = (uint64_t)b->removed_at.tv_sec * 1000000000ULL + b->removed_at.tv_nsec;
		if (!force && now - t < GC_DELAY_NS) {
			waiting = true;
			continue;
		}
		struct lb_be_key bk;

		struct lb_backend empty = {};

		lbm_be_key(b, &bk);
		bpf_map_delete_elem(lm->fd.be_addr, &bk);
		bpf_map_update_elem(lm->fd.backends, &id, &empty, BPF_ANY);
		be_key(b->family, b->addr, b->port, key, sizeof(key));
		strmap_del(&lm->be_ids, key);
		memset(b, 0, sizeof(*b));
	}
	lm->gc_pending = waiting;
}
