/* SPDX-License-Identifier: Apache-2.0 */
/* test_lbplan_equiv.c: the incremental planner against the full one it
 * replaced. Random sequences of configurations (services, ports, families,
 * endpoints shared between services, weights, policies, names cut to the same
 * key, configurations too large for the maps) are planned against one mirror
 * by lbplan_build() and by the planner as it was before (kept below as the
 * reference); the two plans must be equal field by field, which is what the
 * maps are written from. The mirror then advances with the new plan,
 * sometimes only part of it (a failed write), and removed endpoints are
 * sometimes collected, so ids are freed, reused and revived. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "bpf/lb.h"
#include "config/config.h"
#include "lb/lbabi.h"
#include "lb/lbmirror.h"
#include "lb/lbplan.h"
#include "lb/lbtable.h"

/* ---- the reference: lbplan_build() as it was before the incremental
 * planner (bd68c08), every table rebuilt and every endpoint keyed by text.
 * Only its two lookups in the mirror's endpoint registry go through
 * lbmirror_backend_id(), the registry being binary now. ---- */

static const struct lbmirror *ref_mirror;

static void ref_backend_key(int family, const uint8_t *addr, uint16_t port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, a, sizeof(a));
	snprintf(buf, len, "%s|%s|%u", family == AF_INET ? "4" : "6", a, port);
}

static const char *ref_proto_name(uint8_t p) { return p == IPPROTO_UDP ? "UDP" : "TCP"; }

/* What the kernel holds for a service when a plan entry is written: the
 * mirror's entry, or an earlier entry of the same plan with the same key. */
struct ref_svc_base {
	bool known, maglev;
	uint8_t policy, flags, gen;
	uint32_t n_slots, n_eps, stale_slots, stale_eps;
	const uint32_t *slots, *eps, *weights;
};

/* The configuration's ref_wants, before ids: eps[] of each plan service holds
 * config endpoint indexes until ref_plan_backends() turns them into ep ids. */
struct ref_wants {
	struct strmap fes; /* frontend hex key -> index into plan svcs */
	struct strmap bes; /* endpoint key -> 1 */
	uint64_t new_be;   /* keys the mirror has no id for */
};

static void ref_wants_free(struct ref_wants *w)
{
	strmap_free(&w->fes);
	strmap_free(&w->bes);
}

/* A service's weighted slot table never exceeds this many slots. */
static uint32_t ref_table_size(const uint32_t *weights, uint32_t n)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		sum += weights[i];
	return sum > LB_WEIGHT_TABLE_MAX ? LB_WEIGHT_TABLE_MAX : (uint32_t)sum;
}

static uint16_t ref_ep_port(const struct cfg_endpoint *e, const struct cfg_port *p)
{
	return e->port ? e->port : p->target_port;
}

static uint8_t ref_svc_flags(const struct mesh_config *cfg, int si)
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

/* One kernel service for a service port in family fam: its frontends and
 * the endpoints of that family (a v4 socket can only go to a v4 endpoint). */
static int ref_want_service(const struct mesh_config *cfg, int si, int pi, int fam,
			    struct lbplan_svc *ps, int idx, struct ref_wants *w, char *err,
			    size_t errlen)
{
	const struct cfg_service *s = &cfg->services[si];
	const struct cfg_port *p = &s->ports[pi];
	int policy = lb_policy_of(s->policy);

	if (policy < 0) {
		snprintf(err, errlen, "service %s/%s: loadBalancer.policy %d has no kernel value",
			 s->meta.ns, s->meta.name, (int)s->policy);
		return -EINVAL;
	}
	snprintf(ps->key, sizeof(ps->key), "%.110s/%.110s:%u/%s/v%c", s->meta.ns, s->meta.name,
		 p->port, ref_proto_name(p->protocol), fam == AF_INET ? '4' : '6');
	ps->val.policy = policy;
	ps->val.family = fam;
	ps->val.flags = ref_svc_flags(cfg, si);
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
	for (int ei = 0; ei < s->n_endpoints; ei++) {
		const struct cfg_endpoint *e = &s->endpoints[ei];
		char key[128];

		if (e->addr.family != fam)
			continue;
		ref_backend_key(fam, e->addr.addr, ref_ep_port(e, p), key, sizeof(key));
		if (!strmap_get(&w->bes, key, NULL) &&
		    !lbmirror_backend_id(ref_mirror, fam, e->addr.addr, ref_ep_port(e, p), NULL))
			w->new_be++;
		if (strmap_put(&w->bes, key, 1))
			return -ENOMEM;
		ps->weights[ps->n_eps] = e->weight ? e->weight : 1;
		ps->eps[ps->n_eps++] = ei;
	}
	return 0;
}

/* One kernel service per service port and address family that has a
 * service address. */
static int ref_want_build(const struct mesh_config *cfg, struct lbplan *p, struct ref_wants *w,
			  char *err, size_t errlen)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	int si, pi, fi, ai, n = 0, rc;

	for (si = 0; si < cfg->n_services; si++)
		n += cfg->services[si].n_ports * 2;
	p->svcs = calloc(n ? n : 1, sizeof(*p->svcs));
	if (!p->svcs)
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
				rc = ref_want_service(cfg, si, pi, fams[fi], &p->svcs[p->n_svcs],
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
static int ref_check_capacity(const struct lbmirror *m, const struct lbplan *p,
			      const struct ref_wants *w, char *err, size_t errlen)
{
	uint64_t new_be = 0, new_svc = 0, slots = 0, maglev = 0;
	const char *k;
	uint32_t v;
	size_t pos = 0;
	int i;

	(void)k;
	(void)v;
	(void)pos;
	new_be = w->new_be;
	for (i = 0; i < p->n_svcs; i++) {
		const struct lbplan_svc *ps = &p->svcs[i];

		if (!strmap_get(&m->svc_ids, ps->key, NULL))
			new_svc++;
		/* both generations may be populated */
		slots += 2ULL * (ref_table_size(ps->weights, ps->n_eps) + ps->n_eps);
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

static bool ref_svc_used(const struct lbmirror *m, uint32_t id) { return m->svcs[id].used; }

static bool ref_be_used(const struct lbmirror *m, uint32_t id) { return m->bes[id].used; }

/* The next id from cursor on (wrapping, never 0) that neither the mirror nor
 * this plan uses; 0 when there is none. */
static uint32_t ref_alloc_id(const struct lbmirror *m, uint32_t *cursor, uint32_t max,
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
 * collection), a new one otherwise. Each endpoint is written once. */
static int ref_plan_backends(const struct lbmirror *m, const struct mesh_config *cfg,
			     struct lbplan *p, size_t n_keys, char *err, size_t errlen)
{
	struct strmap planned = {0}; /* endpoint key -> index into p->bes */
	uint32_t cursor = m->next_be;
	bool *taken = calloc(m->max_be, sizeof(*taken));
	int rc = 0;

	p->bes = calloc(n_keys + 1, sizeof(*p->bes));
	if (!taken || !p->bes) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < p->n_svcs; i++) {
		struct lbplan_svc *ps = &p->svcs[i];
		const struct cfg_service *s = &cfg->services[ps->cfg_si];
		const struct cfg_port *cp = &s->ports[ps->cfg_pi];

		for (uint32_t k = 0; k < ps->n_eps; k++) {
			const struct cfg_endpoint *e = &s->endpoints[ps->eps[k]];
			uint16_t port = ref_ep_port(e, cp);
			struct lbplan_be *b = NULL;
			char key[128];
			uint32_t id, at;

			ref_backend_key(ps->val.family, e->addr.addr, port, key, sizeof(key));
			if (strmap_get(&planned, key, &at)) {
				id = p->bes[at].id;
			} else if (lbmirror_backend_id(m, ps->val.family, e->addr.addr, port,
						       &id)) {
				if (m->bes[id].removed) /* back before it was collected */
					b = &p->bes[p->n_bes];
			} else {
				id = ref_alloc_id(m, &cursor, m->max_be, ref_be_used, taken);
				if (!id) {
					snprintf(err, errlen, "no free endpoint id");
					rc = -ENOSPC;
					goto out;
				}
				b = &p->bes[p->n_bes];
				b->is_new = true;
			}
			if (b) {
				b->id = id;
				b->family = ps->val.family;
				memcpy(b->addr, e->addr.addr, 16);
				b->port = port;
				if (strmap_put(&planned, key, p->n_bes++)) {
					rc = -ENOMEM;
					goto out;
				}
			}
			ps->eps[k] = id;
			/* the maglev seed is the endpoint as the mirror records it */
			if (m->bes[id].used)
				ps->hashes[k] = lb_endpoint_hash(m->bes[id].family, m->bes[id].addr,
								 m->bes[id].port);
			else
				ps->hashes[k] =
				    lb_endpoint_hash(ps->val.family, e->addr.addr, port);
		}
	}
out:
	strmap_free(&planned);
	free(taken);
	return rc;
}

static bool ref_same_u32(const uint32_t *a, const uint32_t *b, uint32_t n)
{
	return n == 0 || (a && b && !memcmp(a, b, n * sizeof(*a)));
}

static void ref_base_of_mirror(const struct lbm_svc *s, struct ref_svc_base *b)
{
	*b = (struct ref_svc_base){
	    .known = s->known,
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

static void ref_base_of_plan(const struct lbplan_svc *ps, struct ref_svc_base *b)
{
	*b = (struct ref_svc_base){
	    .known = true,
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

/* The weighted table of ps, as ep ids. */
static int ref_plan_slots(struct lbplan_svc *ps)
{
	uint32_t cap = ref_table_size(ps->weights, ps->n_eps), *order;
	int n;

	if (!ps->n_eps)
		return 0;
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
static void ref_plan_generation(struct lbplan_svc *ps, const struct ref_svc_base *b)
{
	struct lb_svc *v = &ps->val;

	v->n_slots = ps->n_slots;
	v->n_eps = ps->n_eps;
	if (b->known && b->policy == v->policy && b->flags == v->flags &&
	    b->n_slots == ps->n_slots && b->n_eps == ps->n_eps &&
	    ref_same_u32(b->slots, ps->slots, ps->n_slots) &&
	    ref_same_u32(b->eps, ps->eps, ps->n_eps) &&
	    ref_same_u32(b->weights, ps->weights, ps->n_eps)) {
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
static int ref_plan_services(const struct lbmirror *m, struct lbplan *p, char *err, size_t errlen)
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
		struct ref_svc_base base = {
		    .gen = 1}; /* a new service's first write is generation 0 */
		uint32_t at;

		/* two entries share a key only when long names were cut short */
		if (strmap_get(&planned, ps->key, &at)) {
			ps->id = p->svcs[at].id;
			ref_base_of_plan(&p->svcs[at], &base);
		} else if (strmap_get(&m->svc_ids, ps->key, &ps->id)) {
			ref_base_of_mirror(&m->svcs[ps->id], &base);
		} else {
			ps->id = ref_alloc_id(m, &cursor, m->max_svc, ref_svc_used, taken);
			if (!ps->id) {
				snprintf(err, errlen, "no free service id");
				rc = -ENOSPC;
				goto out;
			}
			ps->is_new = true;
		}
		if (strmap_put(&planned, ps->key, i) || ref_plan_slots(ps)) {
			rc = -ENOMEM;
			goto out;
		}
		ref_plan_generation(ps, &base);
	}
out:
	strmap_free(&planned);
	free(taken);
	return rc;
}

/* Frontends to add or repoint, and the ones no longer wanted. */
static int ref_plan_frontends(const struct lbmirror *m, struct lbplan *p, const struct ref_wants *w)
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
static int ref_plan_removals(const struct lbmirror *m, struct lbplan *p)
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

static int ref_lbplan_build(const struct lbmirror *m, const struct mesh_config *cfg,
			    struct lbplan *p, char *err, size_t errlen)
{
	struct ref_wants w = {0};
	int rc;

	ref_mirror = m;
	memset(p, 0, sizeof(*p));
	err[0] = 0;
	rc = ref_want_build(cfg, p, &w, err, errlen);
	if (!rc)
		rc = ref_check_capacity(m, p, &w, err, errlen);
	if (!rc)
		rc = ref_plan_backends(m, cfg, p, w.bes.len, err, errlen);
	if (!rc)
		rc = ref_plan_services(m, p, err, errlen);
	if (!rc)
		rc = ref_plan_frontends(m, p, &w);
	if (!rc)
		rc = ref_plan_removals(m, p);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	ref_wants_free(&w);
	if (rc)
		lbplan_free(p);
	return rc;
}

/* ---- random configurations ---- */

static uint32_t rnd_state;

static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return n ? rnd_state % n : 0;
}

static void rnd_addr(struct cfg_addr *a, int v6_share, uint32_t pool)
{
	memset(a, 0, sizeof(*a));
	if ((int)rnd(100) < v6_share) {
		a->family = AF_INET6;
		a->addr[0] = 0xfd;
		a->addr[15] = 1 + rnd(pool);
	} else {
		uint32_t v = htonl(0x7f000001 + rnd(pool));

		a->family = AF_INET;
		memcpy(a->addr, &v, 4);
	}
}

static struct mesh_config *rnd_config(int max_svcs, int max_eps)
{
	struct mesh_config *c = calloc(1, sizeof(*c));
	int n = rnd(max_svcs + 1);

	assert_non_null(c);
	c->services = calloc(n + 1, sizeof(*c->services));
	assert_non_null(c->services);
	c->n_services = n;
	for (int si = 0; si < n; si++) {
		struct cfg_service *s = &c->services[si];

		snprintf(s->meta.ns, sizeof(s->meta.ns), "ns%u", rnd(2));
		/* long names are cut in the key: two services may share one */
		if (rnd(8) == 0)
			snprintf(s->meta.name, sizeof(s->meta.name), "%0120u", rnd(3));
		else
			snprintf(s->meta.name, sizeof(s->meta.name), "s%u", rnd(8));
		s->policy = (enum cfg_lb_policy)rnd(4);
		s->n_addrs = 1 + rnd(2);
		s->addrs = calloc(s->n_addrs, sizeof(*s->addrs));
		s->n_ports = 1 + rnd(2);
		s->ports = calloc(s->n_ports, sizeof(*s->ports));
		s->n_endpoints = rnd(max_eps + 1);
		s->endpoints = calloc(s->n_endpoints + 1, sizeof(*s->endpoints));
		assert_true(s->addrs && s->ports && s->endpoints);
		for (int ai = 0; ai < s->n_addrs; ai++)
			rnd_addr(&s->addrs[ai], 30, 12);
		for (int pi = 0; pi < s->n_ports; pi++) {
			s->ports[pi].port = 80 + rnd(3);
			s->ports[pi].target_port = 8000 + rnd(3);
			s->ports[pi].protocol = rnd(4) ? IPPROTO_TCP : IPPROTO_UDP;
		}
		for (int ei = 0; ei < s->n_endpoints; ei++) {
			struct cfg_endpoint *e = &s->endpoints[ei];

			rnd_addr(&e->addr, 30, 10);
			e->port = rnd(3) ? 0 : 9000 + rnd(2);
			e->weight = rnd(4) ? 1 + rnd(3) : (rnd(2) ? 0 : 1000 * (1 + rnd(60)));
		}
	}
	return c;
}

static struct mesh_config *copy_config(const struct mesh_config *o)
{
	struct mesh_config *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->n_services = o->n_services;
	c->services = calloc(o->n_services + 1, sizeof(*c->services));
	assert_non_null(c->services);
	for (int si = 0; si < o->n_services; si++) {
		const struct cfg_service *os = &o->services[si];
		struct cfg_service *s = &c->services[si];

		*s = *os;
		s->addrs = calloc(s->n_addrs + 1, sizeof(*s->addrs));
		s->ports = calloc(s->n_ports + 1, sizeof(*s->ports));
		s->endpoints = calloc(s->n_endpoints + 1, sizeof(*s->endpoints));
		assert_true(s->addrs && s->ports && s->endpoints);
		memcpy(s->addrs, os->addrs, s->n_addrs * sizeof(*s->addrs));
		memcpy(s->ports, os->ports, s->n_ports * sizeof(*s->ports));
		memcpy(s->endpoints, os->endpoints, s->n_endpoints * sizeof(*s->endpoints));
	}
	return c;
}

/* What one EndpointSlice event does: one service of o changes an endpoint's
 * address or weight, loses its last endpoint, or changes its policy. */
static struct mesh_config *mutate_config(const struct mesh_config *o)
{
	struct mesh_config *c = copy_config(o);
	struct cfg_service *s;

	if (!c->n_services)
		return c;
	s = &c->services[rnd(c->n_services)];
	switch (rnd(4)) {
	case 0:
		if (s->n_endpoints)
			rnd_addr(&s->endpoints[rnd(s->n_endpoints)].addr, 30, 10);
		break;
	case 1:
		if (s->n_endpoints)
			s->endpoints[rnd(s->n_endpoints)].weight = 1 + rnd(3);
		break;
	case 2:
		if (s->n_endpoints)
			s->n_endpoints--;
		break;
	default:
		s->policy = (enum cfg_lb_policy)rnd(4);
	}
	return c;
}

static void free_config(struct mesh_config *c)
{
	for (int si = 0; c && si < c->n_services; si++) {
		free(c->services[si].addrs);
		free(c->services[si].ports);
		free(c->services[si].endpoints);
	}
	if (c)
		free(c->services);
	free(c);
}

/* ---- comparing plans ---- */

static void same_arr(const void *a, const void *b, size_t n, size_t size, const char *what)
{
	if (n && memcmp(a, b, n * size))
		fail_msg("%s differ", what);
}

static void assert_same_plan(const struct lbplan *a, const struct lbplan *b)
{
	assert_int_equal(a->n_svcs, b->n_svcs);
	for (int i = 0; i < a->n_svcs; i++) {
		const struct lbplan_svc *x = &a->svcs[i], *y = &b->svcs[i];

		assert_string_equal(x->key, y->key);
		assert_int_equal(x->id, y->id);
		assert_int_equal(x->is_new, y->is_new);
		assert_int_equal(x->changed, y->changed);
		assert_int_equal(x->cfg_si, y->cfg_si);
		assert_int_equal(x->cfg_pi, y->cfg_pi);
		assert_int_equal(x->proto, y->proto);
		assert_int_equal(x->port, y->port);
		assert_int_equal(x->n_eps, y->n_eps);
		same_arr(x->eps, y->eps, x->n_eps, sizeof(*x->eps), "eps");
		same_arr(x->weights, y->weights, x->n_eps, sizeof(*x->weights), "weights");
		/* maglev seeds: only a maglev table reads them */
		if (x->val.policy == LB_POLICY_MAGLEV)
			same_arr(x->hashes, y->hashes, x->n_eps, sizeof(*x->hashes), "hashes");
		assert_int_equal(x->n_slots, y->n_slots);
		same_arr(x->slots, y->slots, x->n_slots, sizeof(*x->slots), "slots");
		assert_int_equal(x->table_err, y->table_err);
		assert_int_equal(x->clear_slots, y->clear_slots);
		assert_int_equal(x->clear_eps, y->clear_eps);
		assert_int_equal(x->maglev, y->maglev);
		assert_int_equal(x->maglev_drop, y->maglev_drop);
		assert_memory_equal(&x->val, &y->val, sizeof(x->val));
	}
	assert_int_equal(a->n_bes, b->n_bes);
	for (int i = 0; i < a->n_bes; i++) {
		assert_int_equal(a->bes[i].id, b->bes[i].id);
		assert_int_equal(a->bes[i].is_new, b->bes[i].is_new);
		assert_int_equal(a->bes[i].family, b->bes[i].family);
		assert_memory_equal(a->bes[i].addr, b->bes[i].addr, 16);
		assert_int_equal(a->bes[i].port, b->bes[i].port);
	}
	assert_int_equal(a->n_fes, b->n_fes);
	for (int i = 0; i < a->n_fes; i++) {
		assert_memory_equal(&a->fes[i].key, &b->fes[i].key, sizeof(a->fes[i].key));
		assert_int_equal(a->fes[i].svc_id, b->fes[i].svc_id);
		assert_string_equal(a->fes[i].hex, b->fes[i].hex);
	}
	assert_int_equal(a->n_fes_del, b->n_fes_del);
	same_arr(a->fes_del, b->fes_del, a->n_fes_del, sizeof(*a->fes_del), "fes_del");
	assert_int_equal(a->n_svcs_del, b->n_svcs_del);
	same_arr(a->svcs_del, b->svcs_del, a->n_svcs_del, sizeof(*a->svcs_del), "svcs_del");
	assert_int_equal(a->n_bes_gone, b->n_bes_gone);
	same_arr(a->bes_gone, b->bes_gone, a->n_bes_gone, sizeof(*a->bes_gone), "bes_gone");
	assert_int_equal(a->n_fes_wanted, b->n_fes_wanted);
}

/* Write the plan to the mirror as lbmaps.c does: all of it, or (a failed
 * write) the endpoints and the services up to a random one. */
static void commit_some(struct lbmirror *m, const struct lbplan *p, uint64_t now)
{
	int stop;

	if (rnd(6)) {
		assert_true(lbplan_commit(m, p, now) == 0 || p->n_svcs);
		return;
	}
	for (int i = 0; i < p->n_bes; i++)
		assert_int_equal(lbplan_commit_backend(m, &p->bes[i]), 0);
	stop = rnd(p->n_svcs + 1);
	for (int i = 0; i < stop; i++) {
		lbplan_commit_service_id(m, &p->svcs[i]);
		if (p->svcs[i].table_err)
			break;
		if (p->svcs[i].changed)
			lbplan_commit_service(m, &p->svcs[i]);
	}
}

/* lbmaps_gc(force): every endpoint waiting in removed state goes. */
static void collect(struct lbmirror *m)
{
	for (uint32_t id = 1; id < m->max_be; id++)
		if (m->bes[id].used && m->bes[id].removed)
			lbmirror_forget_backend(m, id);
	m->gc_pending = false;
}

static void run_sequence(uint32_t seed, const struct lbm_limits *lim, int steps, int max_svcs,
			 int max_eps, int *applied)
{
	struct mesh_config *last = NULL;
	struct lbmirror m;

	rnd_state = seed;
	assert_int_equal(lbmirror_init(&m, lim), 0);
	for (int step = 0; step < steps; step++) {
		struct mesh_config *c =
		    last && rnd(3) ? mutate_config(last) : rnd_config(max_svcs, max_eps);
		struct lbplan a, b;
		char ea[1024], eb[1024];
		int ra, rb;

		rb = ref_lbplan_build(&m, c, &b, eb, sizeof(eb));
		ra = lbplan_build(&m, c, &a, ea, sizeof(ea));
		if (ra != rb || strcmp(ea, eb))
			fail_msg("seed %u step %d: %d (%s) against %d (%s)", seed, step, ra, ea, rb,
				 eb);
		if (!ra) {
			assert_same_plan(&a, &b);
			commit_some(&m, &a, 1000 + step);
			(*applied)++;
			lbplan_free(&a);
			lbplan_free(&b);
			/* the same configuration again */
			if (rnd(2)) {
				rb = ref_lbplan_build(&m, c, &b, eb, sizeof(eb));
				ra = lbplan_build(&m, c, &a, ea, sizeof(ea));
				assert_int_equal(ra, rb);
				if (!ra) {
					assert_same_plan(&a, &b);
					commit_some(&m, &a, 1000 + step);
				}
				lbplan_free(&a);
				lbplan_free(&b);
			}
		}
		if (rnd(3) == 0)
			collect(&m);
		free_config(last);
		last = c;
	}
	free_config(last);
	lbmirror_free(&m);
}

static void test_small_maps(void **state)
{
	static const struct lbm_limits lim = {
	    .max_fe = 24, .max_svc = 12, .max_be = 24, .max_slots = 8192, .max_maglev = 2};
	int applied = 0;

	(void)state;
	for (uint32_t seed = 1; seed <= 300; seed++)
		run_sequence(seed, &lim, 12, 4, 6, &applied);
	/* most configurations fit: the comparison is not only of refusals */
	print_message("small maps: %d plans compared\n", applied);
	assert_true(applied > 1000);
}

static void test_roomy_maps(void **state)
{
	static const struct lbm_limits lim = {
	    .max_fe = 256, .max_svc = 128, .max_be = 256, .max_slots = 1 << 20, .max_maglev = 16};
	int applied = 0;

	(void)state;
	for (uint32_t seed = 1000; seed < 1100; seed++)
		run_sequence(seed, &lim, 20, 8, 10, &applied);
	print_message("roomy maps: %d plans compared\n", applied);
	assert_true(applied > 1500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_maps),
	    cmocka_unit_test(test_roomy_maps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
