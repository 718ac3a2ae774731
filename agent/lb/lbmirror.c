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

void lbm_backend_key(int family, const uint8_t *addr, uint16_t port, char *buf, size_t len)
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

void lbm_fe_hex(const struct lb_fe_key *k, char *buf)
{
	const uint8_t *p = (const uint8_t *)k;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		sprintf(buf + 2 * i, "%02x", p[i]);
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
	if (!m->svcs || !m->bes)
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
	strmap_free(&m->be_ids);
	strmap_free(&m->fes);
	memset(m, 0, sizeof(*m));
}

/* A removed endpoint found at adoption gets its grace period again: the
 * moment an earlier agent flagged it is not recorded in the map. */
void lbmirror_adopt_backend(struct lbmirror *m, uint32_t id, const struct lb_backend *be,
			    uint64_t now_ns)
{
	struct lbm_backend *b = &m->bes[id];
	char key[LBM_BE_KEY_LEN];

	b->used = true;
	b->family = be->family;
	memcpy(b->addr, be->addr, 16);
	b->port = ntohs(be->port);
	b->removed = be->flags & LB_BE_F_REMOVED;
	m->gc_pending |= b->removed;
	if (b->removed)
		b->removed_ns = now_ns;
	lbm_backend_key(b->family, b->addr, b->port, key, sizeof(key));
	strmap_put(&m->be_ids, key, id);
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
	char key[LBM_BE_KEY_LEN];

	lbm_backend_key(b->family, b->addr, b->port, key, sizeof(key));
	strmap_del(&m->be_ids, key);
	memset(b, 0, sizeof(*b));
}

bool lbmirror_backend_id(const struct lbmirror *m, int family, const uint8_t *addr, uint16_t port,
			 uint32_t *id)
{
	char key[LBM_BE_KEY_LEN];

	lbm_backend_key(family, addr, port, key, sizeof(key));
	return strmap_get(&m->be_ids, key, id);
}
