/* SPDX-License-Identifier: Apache-2.0 */
/* lbplan.c: the load-balancing planner (see lbplan.h).
 *
 * lbplan_build() works in passes: the kernel services a configuration asks
 * for, the capacity check (before any id is taken), endpoint ids, service ids
 * and tables, then what goes away. Ids are taken in the order the writer
 * commits them (endpoints first, then services, each in config order), with
 * the mirror's cursors, so an id freed by a removal is reused late.
 *
 * An apply usually changes one service of many, so the work per unchanged
 * service is kept small: its endpoints are checked against the ep ids the
 * mirror holds for it (reuse_mirror) instead of looked up one by one, and
 * its table is the mirror's when ids and weights did not change
 * (plan_slots). Endpoints are keyed by their binary (family, address, port)
 * in tables sized once. tests/unit/test_lbplan_equiv.c compares the plans
 * with those of the full planner this replaced.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lb/lbabi.h"
#include "lb/lbplan.h"
#include "lb/lbtable.h"

static const char *proto_name(uint8_t p) { return p == IPPROTO_UDP ? "UDP" : "TCP"; }

/* What the kernel holds for a service when a plan entry is written: the
 * mirror's entry, or an earlier entry of the same plan with the same key. */
struct svc_base {
	bool known, maglev;
	bool table_ok; /* slots is the table of eps and weights (not a failed one) */
	uint8_t policy, flags, gen;
	uint32_t n_slots, n_eps, stale_slots, stale_eps;
	const uint32_t *slots, *eps, *weights;
};

/* An endpoint the configuration names, once per (family, address, port). */
struct want_be {
	int family;
	uint8_t addr[16]; /* as its first use in the configuration has it */
	uint16_t port;
	bool known; /* the mirror has an id for it: mid */
	uint32_t mid;
	uint32_t id; /* its id in the plan */
};

/* The configuration's wants, before ids: eps[] of each plan service holds
 * config endpoint indexes and hashes[] indexes into bes until
 * plan_backends() turns them into ep ids and maglev seeds. */
struct wants {
	struct strmap fes;   /* frontend hex key -> index into plan svcs */
	struct want_be *bes; /* in first-use order */
	size_t n_bes;
	uint32_t *idx;	    /* open addressing over bes: 0 empty, else index + 1 */
	size_t cap;	    /* power of two, sized once for every endpoint */
	struct strmap keys; /* plan service keys seen so far */
	bool *reused;	    /* by plan svc: its ep ids are the mirror's (see reuse_mirror) */
};

static void wants_free(struct wants *w)
{
	strmap_free(&w->fes);
	strmap_free(&w->keys);
	free(w->bes);
	free(w->idx);
	free(w->reused);
}

/* room for n endpoints, none of them repeated, and n_svcs plan services */
static int wants_init(struct wants *w, size_t n, size_t n_svcs)
{
	w->cap = 64;
	while (w->cap < 2 * n)
		w->cap *= 2;
	w->bes = calloc(n + 1, sizeof(*w->bes));
	w->idx = calloc(w->cap, sizeof(*w->idx));
	w->reused = calloc(n_svcs + 1, sizeof(*w->reused));
	return w->bes && w->idx && w->reused ? 0 : -ENOMEM;
}

/* The index in w->bes of endpoint fam/addr/port, added if new. */
static uint32_t wants_be(struct wants *w, int fam, const uint8_t *addr, uint16_t port)
{
	size_t mask = w->cap - 1, j = lbm_backend_hash(fam, addr, port) & mask;
	size_t alen = fam == AF_INET ? 4 : 16;
	struct want_be *b;

	for (; w->idx[j]; j = (j + 1) & mask) {
		b = &w->bes[w->idx[j] - 1];
		if (b->family == fam && b->port == port && !memcmp(b->addr, addr, alen))
			return w->idx[j] - 1;
	}
	b = &w->bes[w->n_bes];
	b->family = fam;
	memcpy(b->addr, addr, 16);
	b->port = port;
	w->idx[j] = ++w->n_bes;
	return w->n_bes - 1;
}

/* A service's weighted slot table never exceeds this many slots. */
static uint32_t table_size(const uint32_t *weights, uint32_t n)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		sum += weights[i];
	return sum > LB_WEIGHT_TABLE_MAX ? LB_WEIGHT_TABLE_MAX : (uint32_t)sum;
}

static uint16_t ep_port(const struct cfg_endpoint *e, const struct cfg_port *p)
{
	return e->port ? e->port : p->target_port;
}

static uint8_t svc_flags(const struct mesh_config *cfg, int si)
{
	uint8_t flags = 0;

	for (int k = 0; k < cfg->n_policies; k++)
		if (cfg->policies[k].service_idx == si)
			flags |= LB_SVC_F_POLICY;
	for (int k = 0; k < cfg->n_access; k++)
		if (cfg->access[k].service_idx == si)
			flags |= LB_SVC_F_ACCESS;
	return flags;
}

/* Whether ps's endpoints of family fam are, in order and with their weights,
 * the ones the mirror's service of the same key holds; if so ps takes the
 * mirror's ep ids. The planner then looks none of them up: an endpoint a
 * known service names is in use, not removed, and registered under that id
 * (an id is flagged removed only when no service of a written plan names
 * it, and collected only then). Not for a key an earlier entry of the plan
 * has (names cut short): that one's base is the plan's, not the mirror's. */
static bool reuse_mirror(const struct lbmirror *m, const struct cfg_service *s,
			 const struct cfg_port *p, int fam, struct lbplan_svc *ps, bool dup)
{
	const struct lbm_svc *ms;
	uint32_t sid, k = 0;

	if (dup || !strmap_get(&m->svc_ids, ps->key, &sid))
		return false;
	ms = &m->svcs[sid];
	if (!ms->known || !ms->used)
		return false;
	for (int ei = 0; ei < s->n_endpoints; ei++) {
		const struct cfg_endpoint *e = &s->endpoints[ei];
		uint32_t wt = e->weight ? e->weight : 1, id;

		if (e->addr.family != fam)
			continue;
		if (k == ms->n_eps || ms->weights[k] != wt)
			return false;
		id = ms->eps[k];
		if (!id || id >= m->max_be || !m->bes[id].used || m->bes[id].removed ||
		    !lbm_backend_is(&m->bes[id], fam, e->addr.addr, ep_port(e, p)))
			return false;
		ps->eps[k] = id;
		ps->weights[k++] = wt;
	}
	if (k != ms->n_eps)
		return false;
	ps->n_eps = k;
	return true;
}

/* One kernel service for a service port in family fam: its frontends and
 * the endpoints of that family (a v4 socket can only go to a v4 endpoint). */
static int want_service(const struct lbmirror *m, const struct mesh_config *cfg, int si, int pi,
			int fam, struct lbplan_svc *ps, int idx, struct wants *w, char *err,
			size_t errlen)
{
	bool dup;

	const struct cfg_service *s = &cfg->services[si];
	const struct cfg_port *p = &s->ports[pi];
	int policy = lb_policy_of(s->policy);

	if (policy < 0) {
		snprintf(err, errlen, "service %s/%s: loadBalancer.policy %d has no kernel value",
			 s->meta.ns, s->meta.name, (int)s->policy);
		return -EINVAL;
	}
	snprintf(ps->key, sizeof(ps->key), "%.110s/%.110s:%u/%s/v%c", s->meta.ns, s->meta.name,
		 p->port, proto_name(p->protocol), fam == AF_INET ? '4' : '6');
	ps->val.policy = policy;
	ps->val.family = fam;
	ps->val.flags = svc_flags(cfg, si);
	ps->proto = p->protocol;
	ps->port = p->port;
	ps->cfg_si = si;
	ps->cfg_pi = pi;
	ps->eps = calloc(s->n_endpoints + 1, sizeof(*ps->eps));
	ps->weights = calloc(s->n_endpoints + 1, sizeof(*ps->weights));
	ps->hashes = calloc(s->n_endpoints + 1, sizeof(*ps->hashes));
	if (!ps->eps || !ps->weights || !ps->hashes)
		return -ENOMEM;
	for (int ai = 0; ai < s->n_addrs; ai++) {
		struct lb_fe_key fk = {};
		char hex[LBM_FE_HEX_LEN];

		if (s->addrs[ai].family != fam)
			continue;
		memcpy(fk.addr, s->addrs[ai].addr, fam == AF_INET ? 4 : 16);
		fk.port = htons(p->port);
		fk.proto = p->protocol;
		fk.family = fam;
		lbm_fe_hex(&fk, hex);
		if (strmap_put(&w->fes, hex, idx))
			return -ENOMEM;
	}
	dup = strmap_get(&w->keys, ps->key, NULL);
	if (!dup && strmap_put(&w->keys, ps->key, idx))
		return -ENOMEM;
	if (reuse_mirror(m, s, p, fam, ps, dup)) {
		w->reused[idx] = true;
		return 0;
	}
	for (int ei = 0; ei < s->n_endpoints; ei++) {
		const struct cfg_endpoint *e = &s->endpoints[ei];

		if (e->addr.family != fam)
			continue;
		ps->hashes[ps->n_eps] = wants_be(w, fam, e->addr.addr, ep_port(e, p));
		ps->weights[ps->n_eps] = e->weight ? e->weight : 1;
		ps->eps[ps->n_eps++] = ei;
	}
	return 0;
}

/* One kernel service per service port and address family that has a
 * service address. */
static int want_build(const struct lbmirror *m, const struct mesh_config *cfg, struct lbplan *p,
		      struct wants *w, char *err, size_t errlen)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	int si, pi, fi, ai, n = 0, rc;
	size_t n_eps = 0;

	/* an endpoint has one family: it is in at most one entry per port */
	for (si = 0; si < cfg->n_services; si++) {
		n += cfg->services[si].n_ports * 2;
		n_eps += (size_t)cfg->services[si].n_ports * cfg->services[si].n_endpoints;
	}
	p->svcs = calloc(n ? n : 1, sizeof(*p->svcs));
	if (!p->svcs || wants_init(w, n_eps, n))
		return -ENOMEM;
	for (si = 0; si < cfg->n_services; si++) {
		const struct cfg_service *s = &cfg->services[si];

		for (pi = 0; pi < s->n_ports; pi++) {
			for (fi = 0; fi < 2; fi++) {
				bool has_vip = false;

				for (ai = 0; ai < s->n_addrs; ai++)
					has_vip |= s->addrs[ai].family == fams[fi];
				if (!has_vip)
					continue;
				rc = want_service(m, cfg, si, pi, fams[fi], &p->svcs[p->n_svcs],
						  p->n_svcs, w, err, errlen);
				p->n_svcs++; /* counted even when incomplete: freed whole */
				if (rc)
					return rc;
			}
		}
	}
	p->n_fes_wanted = w->fes.len;
	return 0;
}

/* Refuse a configuration that cannot fit before any of it is written. */
static int check_capacity(const struct lbmirror *m, const struct lbplan *p, struct wants *w,
			  char *err, size_t errlen)
{
	uint64_t new_be = 0, new_svc = 0, slots = 0, maglev = 0;
	int i;

	for (size_t b = 0; b < w->n_bes; b++) {
		struct want_be *wb = &w->bes[b];

		wb->known = lbmirror_backend_id(m, wb->family, wb->addr, wb->port, &wb->mid);
		new_be += !wb->known;
	}
	for (i = 0; i < p->n_svcs; i++) {
		const struct lbplan_svc *ps = &p->svcs[i];

		if (!strmap_get(&m->svc_ids, ps->key, NULL))
			new_svc++;
		/* both generations may be populated */
		slots += 2ULL * (table_size(ps->weights, ps->n_eps) + ps->n_eps);
		maglev += ps->val.policy == LB_POLICY_MAGLEV;
	}
	if (m->be_ids.len + new_be > m->max_be - 1) {
		snprintf(err, errlen,
			 "map lb_backends is full: %zu endpoints needed, the limit is %u; raise it "
			 "with --max-endpoints",
			 m->be_ids.len + new_be, m->max_be - 1);
		return -ENOSPC;
	}
	if (m->svc_ids.len + new_svc > m->max_svc - 1 || (uint64_t)p->n_svcs > m->max_svc - 1) {
		snprintf(
		    err, errlen,
		    "map lb_services is full: %zu service ports needed, the limit is %u; raise "
		    "it with --max-services",
		    m->svc_ids.len + new_svc, m->max_svc - 1);
		return -ENOSPC;
	}
	if (w->fes.len > m->max_fe) {
		snprintf(
		    err, errlen,
		    "map lb_frontends is full: %zu service addresses x ports needed, the limit "
		    "is %u; raise it with --max-services",
		    w->fes.len, m->max_fe);
		return -ENOSPC;
	}
	if (slots > m->max_slots) {
		snprintf(err, errlen,
			 "map lb_slots is full: %llu slots needed, the limit is %u; raise it with "
			 "--max-endpoints",
			 (unsigned long long)slots, m->max_slots);
		return -ENOSPC;
	}
	if (maglev > m->max_maglev) {
		snprintf(err, errlen,
			 "map lb_maglev2 is full: %llu maglev services, the limit is %u",
			 (unsigned long long)maglev, m->max_maglev);
		return -ENOSPC;
	}
	return 0;
}

static bool svc_used(const struct lbmirror *m, uint32_t id) { return m->svcs[id].used; }

static bool be_used(const struct lbmirror *m, uint32_t id) { return m->bes[id].used; }

/* The next id from cursor on (wrapping, never 0) that neither the mirror nor
 * this plan uses; 0 when there is none. */
static uint32_t alloc_id(const struct lbmirror *m, uint32_t *cursor, uint32_t max,
			 bool (*used)(const struct lbmirror *, uint32_t), bool *taken)
{
	uint32_t i, id;

	for (i = 0; i < max; i++) {
		id = (*cursor + i) % max;
		if (id == 0 || used(m, id) || taken[id])
			continue;
		taken[id] = true;
		*cursor = id + 1;
		return id;
	}
	return 0;
}

/* Endpoint ids: the mirror's for a known endpoint (revived when it waits for
 * collection), a new one otherwise, taken in first-use order. Each endpoint
 * is written once. */
static int plan_backends(const struct lbmirror *m, const struct mesh_config *cfg, struct lbplan *p,
			 struct wants *w, char *err, size_t errlen)
{
	uint32_t cursor = m->next_be;
	bool *taken = calloc(m->max_be, sizeof(*taken));
	int rc = 0;

	p->bes = calloc(w->n_bes + 1, sizeof(*p->bes));
	if (!taken || !p->bes) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t d = 0; d < w->n_bes; d++) {
		struct want_be *wb = &w->bes[d];
		struct lbplan_be *b = NULL;

		if (wb->known) {
			wb->id = wb->mid;
			if (m->bes[wb->id].removed) /* back before it was collected */
				b = &p->bes[p->n_bes];
		} else {
			wb->id = alloc_id(m, &cursor, m->max_be, be_used, taken);
			if (!wb->id) {
				snprintf(err, errlen, "no free endpoint id");
				rc = -ENOSPC;
				goto out;
			}
			b = &p->bes[p->n_bes];
			b->is_new = true;
		}
		if (b) {
			b->id = wb->id;
			b->family = wb->family;
			memcpy(b->addr, wb->addr, 16);
			b->port = wb->port;
			p->n_bes++;
		}
	}
	for (int i = 0; i < p->n_svcs; i++) {
		struct lbplan_svc *ps = &p->svcs[i];
		const struct cfg_service *s = &cfg->services[ps->cfg_si];
		const struct cfg_port *cp = &s->ports[ps->cfg_pi];

		if (w->reused[i] && ps->val.policy != LB_POLICY_MAGLEV)
			continue; /* ids in place, no seeds needed */
		for (uint32_t k = 0; k < ps->n_eps; k++) {
			const struct cfg_endpoint *e = NULL; /* reused: the mirror has it */
			uint32_t id;

			if (w->reused[i]) {
				id = ps->eps[k];
			} else {
				e = &s->endpoints[ps->eps[k]];
				id = w->bes[ps->hashes[k]].id;
				ps->eps[k] = id;
			}
			/* the maglev seed is the endpoint as the mirror records it;
			 * only a maglev table reads it */
			if (ps->val.policy != LB_POLICY_MAGLEV)
				ps->hashes[k] = 0;
			else if (m->bes[id].used)
				ps->hashes[k] = lb_endpoint_hash(m->bes[id].family, m->bes[id].addr,
								 m->bes[id].port);
			else
				ps->hashes[k] =
				    lb_endpoint_hash(ps->val.family, e->addr.addr, ep_port(e, cp));
		}
	}
out:
	free(taken);
	return rc;
}

static bool same_u32(const uint32_t *a, const uint32_t *b, uint32_t n)
{
	return n == 0 || (a && b && !memcmp(a, b, n * sizeof(*a)));
}

static void base_of_mirror(const struct lbm_svc *s, struct svc_base *b)
{
	*b = (struct svc_base){
	    .known = s->known,
	    .table_ok = true, /* a failed table is never committed */
	    .maglev = s->maglev,
	    .policy = s->policy,
	    .flags = s->flags,
	    .gen = s->gen,
	    .n_slots = s->n_slots,
	    .n_eps = s->n_eps,
	    .stale_slots = s->stale_slots,
	    .stale_eps = s->stale_eps,
	    .slots = s->slots,
	    .eps = s->eps,
	    .weights = s->weights,
	};
}

static void base_of_plan(const struct lbplan_svc *ps, struct svc_base *b)
{
	*b = (struct svc_base){
	    .known = true,
	    .table_ok = !ps->table_err,
	    .maglev = ps->maglev,
	    .policy = ps->val.policy,
	    .flags = ps->val.flags,
	    .gen = ps->val.gen,
	    .n_slots = ps->val.n_slots,
	    .n_eps = ps->val.n_eps,
	    .stale_slots = ps->val.stale_slots,
	    .stale_eps = ps->val.stale_eps,
	    .slots = ps->slots,
	    .eps = ps->eps,
	    .weights = ps->weights,
	};
}

/* The weighted table of ps, as ep ids. The table depends on nothing but the
 * weights and the ep ids, so a service whose endpoints and weights are the
 * ones its base holds gets the base's table back without building it: an
 * apply then costs the services that changed, not every service. */
static int plan_slots(struct lbplan_svc *ps, const struct svc_base *b)
{
	uint32_t cap = table_size(ps->weights, ps->n_eps), *order;
	int n;

	if (!ps->n_eps)
		return 0;
	if (b->known && b->table_ok && b->n_eps == ps->n_eps &&
	    same_u32(b->eps, ps->eps, ps->n_eps) && same_u32(b->weights, ps->weights, ps->n_eps)) {
		ps->slots = malloc((b->n_slots + 1) * sizeof(*ps->slots));
		if (!ps->slots)
			return -ENOMEM;
		if (b->n_slots)
			memcpy(ps->slots, b->slots, b->n_slots * sizeof(*ps->slots));
		ps->n_slots = b->n_slots;
		return 0;
	}
	order = calloc(cap, sizeof(*order));
	ps->slots = calloc(cap, sizeof(*ps->slots));
	if (!order || !ps->slots) {
		free(order);
		return -ENOMEM;
	}
	n = lb_weighted_table(ps->weights, ps->n_eps, cap, order);
	if (n < 0) {
		ps->table_err = n;
		n = 0;
	}
	for (int i = 0; i < n; i++)
		ps->slots[i] = ps->eps[order[i]];
	ps->n_slots = n;
	free(order);
	return 0;
}

/* Whether ps changes what base holds, and if so the generation it goes to. */
static void plan_generation(struct lbplan_svc *ps, const struct svc_base *b)
{
	struct lb_svc *v = &ps->val;

	v->n_slots = ps->n_slots;
	v->n_eps = ps->n_eps;
	if (b->known && b->policy == v->policy && b->flags == v->flags &&
	    b->n_slots == ps->n_slots && b->n_eps == ps->n_eps &&
	    same_u32(b->slots, ps->slots, ps->n_slots) && same_u32(b->eps, ps->eps, ps->n_eps) &&
	    same_u32(b->weights, ps->weights, ps->n_eps)) {
		v->gen = b->gen;
		v->stale_slots = b->stale_slots;
		v->stale_eps = b->stale_eps;
		ps->maglev = b->maglev;
		return;
	}
	/* the inactive generation gets the tables; what it held beyond them goes,
	 * and the active one becomes the stale one at the flip */
	ps->changed = true;
	v->gen = !b->gen;
	v->stale_slots = b->n_slots;
	v->stale_eps = b->n_eps;
	ps->clear_slots = b->stale_slots;
	ps->clear_eps = b->stale_eps;
	ps->maglev = v->policy == LB_POLICY_MAGLEV && ps->n_eps;
	ps->maglev_drop = b->maglev && !ps->maglev;
}

/* Service ids, tables and generations. */
static int plan_services(const struct lbmirror *m, struct lbplan *p, char *err, size_t errlen)
{
	struct strmap planned = {0}; /* key -> index into p->svcs of its last entry */
	uint32_t cursor = m->next_svc;
	bool *taken = calloc(m->max_svc, sizeof(*taken));
	int rc = 0;

	if (!taken) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < p->n_svcs; i++) {
		struct lbplan_svc *ps = &p->svcs[i];
		struct svc_base base = {.gen = 1}; /* a new service's first write is generation 0 */
		uint32_t at;

		/* two entries share a key only when long names were cut short */
		if (strmap_get(&planned, ps->key, &at)) {
			ps->id = p->svcs[at].id;
			base_of_plan(&p->svcs[at], &base);
		} else if (strmap_get(&m->svc_ids, ps->key, &ps->id)) {
			base_of_mirror(&m->svcs[ps->id], &base);
		} else {
			ps->id = alloc_id(m, &cursor, m->max_svc, svc_used, taken);
			if (!ps->id) {
				snprintf(err, errlen, "no free service id");
				rc = -ENOSPC;
				goto out;
			}
			ps->is_new = true;
		}
		if (strmap_put(&planned, ps->key, i) || plan_slots(ps, &base)) {
			rc = -ENOMEM;
			goto out;
		}
		plan_generation(ps, &base);
	}
out:
	strmap_free(&planned);
	free(taken);
	return rc;
}

/* Frontends to add or repoint, and the ones no longer wanted. */
static int plan_frontends(const struct lbmirror *m, struct lbplan *p, const struct wants *w)
{
	const char *k;
	uint32_t v, id;
	size_t pos;

	p->fes = calloc(w->fes.len + 1, sizeof(*p->fes));
	p->fes_del = calloc(m->fes.len + 1, sizeof(*p->fes_del));
	if (!p->fes || !p->fes_del)
		return -ENOMEM;
	for (pos = 0; strmap_next(&w->fes, &pos, &k, &v);) {
		struct lbplan_fe *f = &p->fes[p->n_fes];

		if (strmap_get(&m->fes, k, &id) && id == p->svcs[v].id)
			continue;
		lbm_fe_unhex(k, &f->key);
		f->svc_id = p->svcs[v].id;
		snprintf(f->hex, sizeof(f->hex), "%s", k);
		p->n_fes++;
	}
	for (pos = 0; strmap_next(&m->fes, &pos, &k, &v);)
		if (!strmap_get(&w->fes, k, NULL))
			lbm_fe_unhex(k, &p->fes_del[p->n_fes_del++]);
	return 0;
}

/* Services and endpoints the configuration no longer names. */
static int plan_removals(const struct lbmirror *m, struct lbplan *p)
{
	bool *keep_svc = calloc(m->max_svc, sizeof(*keep_svc));
	bool *keep_be = calloc(m->max_be, sizeof(*keep_be));
	uint32_t id, n_svc = 0, n_be = 0;
	int rc = -ENOMEM;

	if (!keep_svc || !keep_be)
		goto out;
	for (int i = 0; i < p->n_svcs; i++) {
		keep_svc[p->svcs[i].id] = true;
		for (uint32_t e = 0; e < p->svcs[i].n_eps; e++)
			keep_be[p->svcs[i].eps[e]] = true;
	}
	for (id = 1; id < m->max_svc; id++)
		n_svc += m->svcs[id].used && !keep_svc[id];
	for (id = 1; id < m->max_be; id++)
		n_be += m->bes[id].used && !m->bes[id].removed && !keep_be[id];
	p->svcs_del = calloc(n_svc + 1, sizeof(*p->svcs_del));
	p->bes_gone = calloc(n_be + 1, sizeof(*p->bes_gone));
	if (!p->svcs_del || !p->bes_gone)
		goto out;
	for (id = 1; id < m->max_svc; id++)
		if (m->svcs[id].used && !keep_svc[id])
			p->svcs_del[p->n_svcs_del++] = id;
	for (id = 1; id < m->max_be; id++)
		if (m->bes[id].used && !m->bes[id].removed && !keep_be[id])
			p->bes_gone[p->n_bes_gone++] = id;
	rc = 0;
out:
	free(keep_svc);
	free(keep_be);
	return rc;
}

int lbplan_build(const struct lbmirror *m, const struct mesh_config *cfg, struct lbplan *p,
		 char *err, size_t errlen)
{
	struct wants w = {0};
	int rc;

	memset(p, 0, sizeof(*p));
	err[0] = 0;
	rc = want_build(m, cfg, p, &w, err, errlen);
	if (!rc)
		rc = check_capacity(m, p, &w, err, errlen);
	if (!rc)
		rc = plan_backends(m, cfg, p, &w, err, errlen);
	if (!rc)
		rc = plan_services(m, p, err, errlen);
	if (!rc)
		rc = plan_frontends(m, p, &w);
	if (!rc)
		rc = plan_removals(m, p);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	wants_free(&w);
	if (rc)
		lbplan_free(p);
	return rc;
}

void lbplan_free(struct lbplan *p)
{
	for (int i = 0; i < p->n_svcs; i++) {
		free(p->svcs[i].eps);
		free(p->svcs[i].weights);
		free(p->svcs[i].hashes);
		free(p->svcs[i].slots);
	}
	free(p->svcs);
	free(p->bes);
	free(p->fes);
	free(p->fes_del);
	free(p->svcs_del);
	free(p->bes_gone);
	memset(p, 0, sizeof(*p));
}

int lbplan_maglev_table(const struct lbplan_svc *ps, uint32_t *table)
{
	int rc = lb_maglev_table(ps->hashes, ps->weights, ps->n_eps, LB_MAGLEV_M, table);

	if (rc)
		return rc;
	for (uint32_t i = 0; i < LB_MAGLEV_M; i++)
		table[i] = ps->eps[table[i]];
	return 0;
}

int lbplan_commit_backend(struct lbmirror *m, const struct lbplan_be *b)
{
	struct lbm_backend *mb = &m->bes[b->id];

	if (!b->is_new) {
		mb->removed = false;
		return 0;
	}
	mb->used = true;
	mb->family = b->family;
	memcpy(mb->addr, b->addr, 16);
	mb->port = b->port;
	m->next_be = b->id + 1;
	lbmirror_commit_backend_id(m, b->id);
	return 0;
}

void lbplan_commit_service_id(struct lbmirror *m, const struct lbplan_svc *ps)
{
	struct lbm_svc *s = &m->svcs[ps->id];

	if (ps->is_new) {
		s->used = true;
		s->gen = 1;
		snprintf(s->key, sizeof(s->key), "%s", ps->key);
		strmap_put(&m->svc_ids, ps->key, ps->id);
		m->next_svc = ps->id + 1;
	}
	s->cfg_si = ps->cfg_si;
}

static uint32_t *dup_u32(const uint32_t *a, uint32_t n)
{
	uint32_t *d = malloc((n + 1) * sizeof(*d));

	if (d && n)
		memcpy(d, a, n * sizeof(*d));
	return d;
}

void lbplan_commit_service(struct lbmirror *m, const struct lbplan_svc *ps)
{
	struct lbm_svc *s = &m->svcs[ps->id];

	s->maglev = ps->maglev;
	s->stale_slots = ps->val.stale_slots;
	s->stale_eps = ps->val.stale_eps;
	s->gen = ps->val.gen;
	s->policy = ps->val.policy;
	s->flags = ps->val.flags;
	s->family = ps->val.family;
	s->proto = ps->proto;
	s->port = ps->port;
	s->n_slots = ps->n_slots;
	s->n_eps = ps->n_eps;
	free(s->slots);
	free(s->eps);
	free(s->weights);
	s->slots = dup_u32(ps->slots, ps->n_slots);
	s->eps = dup_u32(ps->eps, ps->n_eps);
	s->weights = dup_u32(ps->weights, ps->n_eps);
	/* without a copy the next plan rewrites the service: never wrong */
	s->known = s->slots && s->eps && s->weights;
}

void lbplan_commit_frontend(struct lbmirror *m, const struct lbplan_fe *f)
{
	strmap_put(&m->fes, f->hex, f->svc_id);
}

void lbplan_commit_frontend_del(struct lbmirror *m, const struct lb_fe_key *k)
{
	char hex[LBM_FE_HEX_LEN];

	lbm_fe_hex(k, hex);
	strmap_del(&m->fes, hex);
}

void lbplan_commit_backend_gone(struct lbmirror *m, uint32_t id, uint64_t now_ns)
{
	m->bes[id].removed = true;
	m->bes[id].removed_ns = now_ns;
	m->gc_pending = true;
}

int lbplan_commit(struct lbmirror *m, const struct lbplan *p, uint64_t now_ns)
{
	int i, rc;

	for (i = 0; i < p->n_bes; i++)
		if ((rc = lbplan_commit_backend(m, &p->bes[i])))
			return rc;
	for (i = 0; i < p->n_svcs; i++) {
		lbplan_commit_service_id(m, &p->svcs[i]);
		if (p->svcs[i].table_err)
			return p->svcs[i].table_err;
		if (p->svcs[i].changed)
			lbplan_commit_service(m, &p->svcs[i]);
	}
	for (i = 0; i < p->n_fes; i++)
		lbplan_commit_frontend(m, &p->fes[i]);
	for (i = 0; i < p->n_fes_del; i++)
		lbplan_commit_frontend_del(m, &p->fes_del[i]);
	for (i = 0; i < p->n_svcs_del; i++)
		lbmirror_forget_service(m, p->svcs_del[i]);
	for (i = 0; i < p->n_bes_gone; i++)
		lbplan_commit_backend_gone(m, p->bes_gone[i], now_ns);
	return 0;
}
