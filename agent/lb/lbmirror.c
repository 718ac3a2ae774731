/* SPDX-License-Identifier: Apache-2.0 */
/* lbmirror.c: the agent's mirror of the pinned load-balancing maps (see
 * lbmirror.h): registries, adoption records and key formats. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bpf/health.h"
#include "bpf/lb.h"
#include "lb/lbmirror.h"

_Static_assert(LBM_FE_HEX_LEN == sizeof(struct lb_fe_key) * 2 + 1, "frontend hex key length");

/* Every family but AF_INET compares as v6, as the text key did ("6|..."). */
static size_t addr_len(int family) { return family == AF_INET ? 4 : 16; }

uint64_t lbm_backend_hash(int family, const uint8_t *addr, uint16_t port)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	size_t i, n = addr_len(family);

	h = (h ^ (family == AF_INET ? 4 : 6)) * 1099511628211ULL;
	for (i = 0; i < n; i++)
		h = (h ^ addr[i]) * 1099511628211ULL;
	h = (h ^ (port & 0xff)) * 1099511628211ULL;
	h = (h ^ (port >> 8)) * 1099511628211ULL;
	return h ^ (h >> 29);
}

bool lbm_backend_is(const struct lbm_backend *b, int family, const uint8_t *addr, uint16_t port)
{
	return (b->family == AF_INET) == (family == AF_INET) && b->port == port &&
	       !memcmp(b->addr, addr, addr_len(family));
}

/* ---- the endpoint index (see struct lbm_beidx) ---- */

static int beidx_init(struct lbm_beidx *x, uint32_t max_be)
{
	size_t cap = 64;

	while (cap < 2 * (size_t)max_be)
		cap *= 2;
	x->slot = calloc(cap, sizeof(*x->slot));
	if (!x->slot)
		return -ENOMEM;
	x->cap = cap;
	x->len = x->used = 0;
	return 0;
}

/* The slot holding the endpoint's id, or NULL. */
static uint32_t *beidx_find(const struct lbmirror *m, int family, const uint8_t *addr,
			    uint16_t port)
{
	const struct lbm_beidx *x = &m->be_ids;
	size_t mask = x->cap - 1, j, n;

	if (!x->cap)
		return NULL;
	j = lbm_backend_hash(family, addr, port) & mask;
	for (n = 0; n < x->cap && x->slot[j]; n++, j = (j + 1) & mask)
		if (x->slot[j] != LBM_BEIDX_TOMB &&
		    lbm_backend_is(&m->bes[x->slot[j]], family, addr, port))
			return &x->slot[j];
	return NULL;
}

/* Tombstones only accumulate while ids come and go: rebuilt in place when
 * they and the ids fill 3/4 of the table (ids alone never pass half). */
static void beidx_rehash(struct lbmirror *m)
{
	struct lbm_beidx *x = &m->be_ids;
	size_t mask = x->cap - 1, i, j;
	uint32_t *old = x->slot;

	x->slot = calloc(x->cap, sizeof(*x->slot));
	if (!x->slot) { /* keep the old one: lookups stay right, only slower */
		x->slot = old;
		return;
	}
	x->used = 0;
	for (i = 0; i < x->cap; i++) {
		const struct lbm_backend *b;

		if (!old[i] || old[i] == LBM_BEIDX_TOMB)
			continue;
		b = &m->bes[old[i]];
		for (j = lbm_backend_hash(b->family, b->addr, b->port) & mask; x->slot[j];
		     j = (j + 1) & mask)
			;
		x->slot[j] = old[i];
		x->used++;
	}
	free(old);
}

/* Record id (whose bes[] entry is filled) under its endpoint; an id already
 * recorded for the same endpoint is replaced, as a map put would. */
static void beidx_put(struct lbmirror *m, uint32_t id)
{
	struct lbm_beidx *x = &m->be_ids;
	const struct lbm_backend *b = &m->bes[id];
	uint32_t *at = beidx_find(m, b->family, b->addr, b->port);
	size_t mask = x->cap - 1, j;

	if (at) {
		*at = id;
		return;
	}
	if ((x->used + 1) * 4 >= x->cap * 3)
		beidx_rehash(m);
	for (j = lbm_backend_hash(b->family, b->addr, b->port) & mask;
	     x->slot[j] && x->slot[j] != LBM_BEIDX_TOMB; j = (j + 1) & mask)
		;
	if (!x->slot[j])
		x->used++;
	x->slot[j] = id;
	x->len++;
}

/* Only id's own entry: when pinned maps held the same endpoint twice
 * (adoption keeps the last id), collecting the other one must not take
 * the registration of the one in use. */
static void beidx_del(struct lbmirror *m, uint32_t id)
{
	const struct lbm_backend *b = &m->bes[id];
	uint32_t *at = beidx_find(m, b->family, b->addr, b->port);

	if (at && *at == id) {
		*at = LBM_BEIDX_TOMB;
		m->be_ids.len--;
	}
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

void lbm_fe_hex(const struct lb_fe_key *k, char *buf)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = (const uint8_t *)k;
	size_t i;

	for (i = 0; i < sizeof(*k); i++) {
		buf[2 * i] = digits[p[i] >> 4];
		buf[2 * i + 1] = digits[p[i] & 0xf];
	}
	buf[2 * i] = 0;
}

void lbm_fe_unhex(const char *s, struct lb_fe_key *k)
{
	uint8_t *p = (uint8_t *)k;
	size_t i;

	for (i = 0; i < sizeof(*k); i++) {
		unsigned v;

		sscanf(s + 2 * i, "%2x", &v);
		p[i] = v;
	}
}

int lbmirror_init(struct lbmirror *m, const struct lbm_limits *lim)
{
	memset(m, 0, sizeof(*m));
	m->max_fe = lim->max_fe;
	m->max_svc = lim->max_svc;
	m->max_be = lim->max_be;
	m->max_slots = lim->max_slots;
	m->max_maglev = lim->max_maglev;
	if (!m->max_fe || !m->max_svc || !m->max_be || !m->max_slots)
		return -EINVAL;
	m->svcs = calloc(m->max_svc, sizeof(*m->svcs));
	m->bes = calloc(m->max_be, sizeof(*m->bes));
	if (!m->svcs || !m->bes || beidx_init(&m->be_ids, m->max_be))
		return -ENOMEM;
	m->next_svc = m->next_be = 1;
	return 0;
}

static void svc_forget(struct lbm_svc *s)
{
	free(s->slots);
	free(s->eps);
	free(s->weights);
	memset(s, 0, sizeof(*s));
}

void lbmirror_free(struct lbmirror *m)
{
	uint32_t i;

	for (i = 0; m->svcs && i < m->max_svc; i++)
		svc_forget(&m->svcs[i]);
	free(m->svcs);
	free(m->bes);
	strmap_free(&m->svc_ids);
	free(m->be_ids.slot);
	strmap_free(&m->fes);
	memset(m, 0, sizeof(*m));
}

/* A removed endpoint found at adoption gets its grace period again: the
 * moment an earlier agent flagged it is not recorded in the map. */
void lbmirror_adopt_backend(struct lbmirror *m, uint32_t id, const struct lb_backend *be,
			    uint64_t now_ns)
{
	struct lbm_backend *b = &m->bes[id];

	b->used = true;
	b->family = be->family;
	memcpy(b->addr, be->addr, 16);
	b->port = ntohs(be->port);
	b->removed = be->flags & LB_BE_F_REMOVED;
	m->gc_pending |= b->removed;
	if (b->removed)
		b->removed_ns = now_ns;
	beidx_put(m, id);
}

/* Tables are not read back (known stays false): the first apply rewrites
 * every service into its inactive generation, which never disturbs traffic. */
void lbmirror_adopt_service(struct lbmirror *m, uint32_t id, const struct lb_svc *sv,
			    const char *key)
{
	struct lbm_svc *s = &m->svcs[id];

	s->used = true;
	s->policy = sv->policy;
	s->gen = sv->gen;
	s->family = sv->family;
	s->n_slots = sv->n_slots;
	s->n_eps = sv->n_eps;
	s->stale_slots = sv->stale_slots;
	s->stale_eps = sv->stale_eps;
	s->maglev = sv->policy == LB_POLICY_MAGLEV;
	snprintf(s->key, sizeof(s->key), "%s", key);
	strmap_put(&m->svc_ids, s->key, id);
}

void lbmirror_adopt_frontend(struct lbmirror *m, const struct lb_fe_key *k, uint32_t svc_id)
{
	char hex[LBM_FE_HEX_LEN];

	lbm_fe_hex(k, hex);
	strmap_put(&m->fes, hex, svc_id);
}

void lbmirror_forget_service(struct lbmirror *m, uint32_t id)
{
	strmap_del(&m->svc_ids, m->svcs[id].key);
	svc_forget(&m->svcs[id]);
}

void lbmirror_forget_backend(struct lbmirror *m, uint32_t id)
{
	struct lbm_backend *b = &m->bes[id];

	beidx_del(m, id);
	memset(b, 0, sizeof(*b));
}

bool lbmirror_backend_id(const struct lbmirror *m, int family, const uint8_t *addr, uint16_t port,
			 uint32_t *id)
{
	const uint32_t *at = beidx_find(m, family, addr, port);

	if (at && id)
		*id = *at;
	return at != NULL;
}

void lbmirror_commit_backend_id(struct lbmirror *m, uint32_t id) { beidx_put(m, id); }
