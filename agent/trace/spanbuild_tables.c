/* SPDX-License-Identifier: Apache-2.0 */
/* spanbuild_tables.c: the span builder's lookups: sockets by cookie and by
 * connection, processes by tgid, route tables by service, and the random
 * source of trace and span ids. Chained hash tables of fixed size: their
 * population is bounded by max_sockets and max_pending. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "exporters/span_pack.h"
#include "trace/spanbuild_int.h"

void dl_push(struct sb_dlist *l, struct sb_node *n)
{
	n->next = NULL;
	n->prev = l->tail;
	if (l->tail)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
}

void dl_del(struct sb_dlist *l, struct sb_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
}

void dl_insert_after(struct sb_dlist *l, struct sb_node *at, struct sb_node *n)
{
	n->prev = at;
	n->next = at ? at->next : l->head;
	if (n->next)
		n->next->prev = n;
	else
		l->tail = n;
	if (at)
		at->next = n;
	else
		l->head = n;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 64;

	while (p < n)
		p <<= 1;
	return p;
}

int sb_tables_init(struct spanbuild *sb)
{
	size_t nsock = pow2_at_least(sb->cfg.max_sockets);
	size_t nproc = pow2_at_least(sb->cfg.max_pending / 4);

	sb->sock_ht = calloc(nsock, sizeof(*sb->sock_ht));
	sb->conn_ht = calloc(nsock, sizeof(*sb->conn_ht));
	sb->proc_ht = calloc(nproc, sizeof(*sb->proc_ht));
	sb->svc_rt = calloc(SB_MAX_SERVICES, sizeof(*sb->svc_rt));
	if (!sb->sock_ht || !sb->conn_ht || !sb->proc_ht || !sb->svc_rt)
		return -ENOMEM;
	sb->sock_mask = nsock - 1;
	sb->proc_mask = nproc - 1;
	return 0;
}

/* --- sockets --- */

struct sb_sock *sb_sock_find(struct spanbuild *sb, uint64_t cookie)
{
	struct sb_sock *s = sb->sock_ht[mix64(cookie) & sb->sock_mask];

	while (s && s->cookie != cookie)
		s = s->hnext;
	return s;
}

static bool addr_eq(const struct obs_addr *a, const struct obs_addr *b)
{
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

/* The connection key is (client end, server end), the same seen from either
 * side, so both sockets of a same-node connection land in one bucket. */
static size_t conn_hash(const struct spanbuild *sb, const struct sb_sock *s)
{
	const struct obs_addr *c = s->role == OBS_ROLE_CLIENT ? &s->local : &s->remote;
	const struct obs_addr *v = s->role == OBS_ROLE_CLIENT ? &s->remote : &s->local;
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	const struct obs_addr *ends[2] = {c, v};

	for (int e = 0; e < 2; e++) {
		for (int i = 0; i < 16; i++)
			h = (h ^ ends[e]->addr[i]) * 1099511628211ULL;
		h = (h ^ ends[e]->port) * 1099511628211ULL;
	}
	return mix64(h) & sb->sock_mask;
}

bool sb_sock_peers(const struct sb_sock *a, const struct sb_sock *b)
{
	return a->role != b->role && addr_eq(&a->local, &b->remote) &&
	       addr_eq(&a->remote, &b->local);
}

struct sb_sock *sb_conn_bucket(struct spanbuild *sb, const struct sb_sock *s)
{
	return sb->conn_ht[s->conn_b];
}

static void unlink_chain(struct sb_sock **pp, struct sb_sock *s, size_t next_off)
{
	while (*pp && *pp != s)
		pp = (struct sb_sock **)((char *)*pp + next_off);
	if (*pp)
		*pp = *(struct sb_sock **)((char *)s + next_off);
}

void sb_sock_free(struct spanbuild *sb, struct sb_sock *s)
{
	unlink_chain(&sb->sock_ht[mix64(s->cookie) & sb->sock_mask], s,
		     offsetof(struct sb_sock, hnext));
	unlink_chain(&sb->conn_ht[s->conn_b], s, offsetof(struct sb_sock, cnext));
	dl_del(&sb->lru, &s->lru);
	sb->n_sockets--;
	sb_spare_give(&sb->sock_spare, &sb->n_sock_spare, s, offsetof(struct sb_sock, hnext));
}

/* A spare socket record read as a new one: its fields zeroed, its strings
 * made "" (compared and copied as strings only), not the whole 1.5 KB.
 * The asserts hold sock_clear's picture of the layout: three runs of
 * fields, each up to a run of strings (padding between, at most), and
 * id_seq last. */
#define SOCK_AFTER(a, b)                                                                           \
	(offsetof(struct sb_sock, b) - offsetof(struct sb_sock, a) -                               \
	     sizeof(((struct sb_sock *)0)->a) <                                                    \
	 sizeof(uint64_t))
_Static_assert(SOCK_AFTER(svc_txt, last_ns), "sock_clear: last_ns follows the address texts");
_Static_assert(SOCK_AFTER(k8s, id_seq), "sock_clear: id_seq follows the pod's identity");
_Static_assert(offsetof(struct sb_sock, id_seq) + sizeof(uint64_t) == sizeof(struct sb_sock),
	       "sock_clear: id_seq is the last field");

static void sock_clear(struct sb_sock *s)
{
	struct span_k8s *k = &s->k8s;

	memset(s, 0, offsetof(struct sb_sock, local_txt));
	s->local_txt[0] = s->remote_txt[0] = s->svc_txt[0] = '\0';
	memset(&s->last_ns, 0,
	       offsetof(struct sb_sock, service) - offsetof(struct sb_sock, last_ns));
	s->service[0] = s->service_ns[0] = '\0';
	k->pod_name[0] = k->pod_uid[0] = k->container_name[0] = '\0';
	k->node_name[0] = k->owner_kind[0] = k->owner_name[0] = '\0';
	s->id_seq = 0;
}

static struct sb_sock *sock_alloc(struct spanbuild *sb)
{
	struct sb_sock *s =
	    sb_spare_take(&sb->sock_spare, &sb->n_sock_spare, offsetof(struct sb_sock, hnext));

	if (!s)
		return calloc(1, sizeof(*s));
	sock_clear(s);
	return s;
}

struct sb_sock *sb_sock_new(struct spanbuild *sb, const struct obs *o)
{
	struct sb_sock *s = sock_alloc(sb);
	size_t h;

	if (!s)
		return NULL;
	s->cookie = o->cookie;
	s->role = o->role;
	/* compared as bytes: a dual-stack server's view of a v4 client
	 * matches the client's own */
	obs_addr_fold(&o->local, &s->local);
	obs_addr_fold(&o->remote, &s->remote);
	s->last_ns = o->ts_ns;
	h = mix64(s->cookie) & sb->sock_mask;
	s->hnext = sb->sock_ht[h];
	sb->sock_ht[h] = s;
	s->conn_b = (uint32_t)conn_hash(sb, s);
	s->cnext = sb->conn_ht[s->conn_b];
	sb->conn_ht[s->conn_b] = s;
	dl_push(&sb->lru, &s->lru);
	sb->n_sockets++;
	return s;
}

void sb_sock_touch(struct spanbuild *sb, struct sb_sock *s, uint64_t ts)
{
	if (ts > s->last_ns)
		s->last_ns = ts;
	dl_del(&sb->lru, &s->lru);
	dl_push(&sb->lru, &s->lru);
}

void sb_sock_release(struct spanbuild *sb, struct sb_sock *s)
{
	if (s->closed && !s->pends.head)
		sb_sock_free(sb, s);
}

/* --- services and their route tables --- */

static struct route_table *routes_for(struct spanbuild *sb, const char *ns, const char *name)
{
	char key[2 * SPAN_NAME_MAX + 2];
	size_t n;
	uint32_t i;

	/* "ns/name" by hand: looked up at every new socket's first request */
	sb_copy_str(key, SPAN_NAME_MAX, ns);
	n = strlen(key);
	key[n++] = '/';
	sb_copy_str(key + n, SPAN_NAME_MAX, name);
	if (strmap_get(&sb->svc_idx, key, &i))
		return sb->svc_rt[i];
	/* Past SB_MAX_SERVICES, services share one table (and its cap), so the
	 * number of tables is bounded too. */
	if (sb->n_svc >= SB_MAX_SERVICES) {
		if (!sb->svc_overflow_rt)
			sb->svc_overflow_rt = route_table_new((const char *const *)sb->routes,
							      sb->n_routes, sb->route_cap);
		return sb->svc_overflow_rt;
	}
	sb->svc_rt[sb->n_svc] =
	    route_table_new((const char *const *)sb->routes, sb->n_routes, sb->route_cap);
	if (!sb->svc_rt[sb->n_svc])
		return NULL;
	if (strmap_put(&sb->svc_idx, key, sb->n_svc)) {
		route_table_free(sb->svc_rt[sb->n_svc]);
		sb->svc_rt[sb->n_svc] = NULL;
		return NULL;
	}
	return sb->svc_rt[sb->n_svc++];
}

/* The service a request's observation names (identity.h resolved it) is
 * its socket's from now on; its route table is looked up again only when
 * it changed, or when the tables were reset. */
/* Field by field, as strings: past their NULs the bytes differ. */
static bool k8s_same(const struct span_k8s *a, const struct span_k8s *b)
{
	return !strncmp(a->pod_name, b->pod_name, sizeof(a->pod_name)) &&
	       !strncmp(a->pod_uid, b->pod_uid, sizeof(a->pod_uid)) &&
	       !strncmp(a->container_name, b->container_name, sizeof(a->container_name)) &&
	       !strncmp(a->node_name, b->node_name, sizeof(a->node_name)) &&
	       !strncmp(a->owner_kind, b->owner_kind, sizeof(a->owner_kind)) &&
	       !strncmp(a->owner_name, b->owner_name, sizeof(a->owner_name));
}

void sb_sock_service(struct spanbuild *sb, struct sb_sock *s, const struct obs *o)
{
	/* the resolution the socket's last request came with: the same
	 * fields, nothing to compare (a memcmp of 504 bytes of pod identity
	 * and two strncmp per request) */
	if (s->svc_gen == sb->svc_gen && o->id_seq && o->id_seq == s->id_seq)
		return;
	s->id_seq = o->id_seq;
	if (s->svc_gen == sb->svc_gen && s->not_traced == o->not_traced &&
	    !strncmp(s->service, o->service, sizeof(s->service)) &&
	    !strncmp(s->service_ns, o->service_ns, sizeof(s->service_ns)) &&
	    k8s_same(&s->k8s, &o->k8s))
		return;
	s->svc_gen = sb->svc_gen;
	s->not_traced = o->not_traced;
	/* sb_copy_str, not snprintf: this runs for every new socket, two per
	 * request in close mode */
	sb_copy_str(s->service, sizeof(s->service), o->service);
	sb_copy_str(s->service_ns, sizeof(s->service_ns), o->service_ns);
	s->k8s = o->k8s;
	s->rt = s->not_traced ? NULL : routes_for(sb, s->service_ns, s->service);
}

void sb_services_reset(struct spanbuild *sb)
{
	for (uint32_t i = 0; i < sb->n_svc; i++)
		route_table_free(sb->svc_rt[i]);
	sb->n_svc = 0;
	route_table_free(sb->svc_overflow_rt);
	sb->svc_overflow_rt = NULL;
	strmap_free(&sb->svc_idx);
	sb->svc_gen++; /* sockets drop their table pointers */
}

/* --- processes --- */

struct sb_proc *sb_proc_get(struct spanbuild *sb, uint32_t tgid)
{
	size_t h = mix64(tgid) & sb->proc_mask;
	struct sb_proc *p;

	if (!tgid)
		return NULL;
	for (p = sb->proc_ht[h]; p; p = p->hnext)
		if (p->tgid == tgid)
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->tgid = tgid;
	p->hnext = sb->proc_ht[h];
	sb->proc_ht[h] = p;
	return p;
}

void sb_proc_release(struct spanbuild *sb, struct sb_proc *p)
{
	struct sb_proc **pp = &sb->proc_ht[mix64(p->tgid) & sb->proc_mask];

	if (p->servers.head || p->clients.head)
		return;
	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
	free(p);
}

/* --- spare records --- */

/* The link is read and written with memcpy: it is a pointer of the
 * record's own type, seen here as bytes. */
static void *spare_next(const void *rec, size_t link)
{
	void *next;

	memcpy(&next, (const char *)rec + link, sizeof(next));
	return next;
}

void *sb_spare_take(void *headp, uint32_t *n, size_t link)
{
	void *rec, *next;

	memcpy(&rec, headp, sizeof(rec));
	if (!rec)
		return NULL;
	next = spare_next(rec, link);
	memcpy(headp, &next, sizeof(next));
	(*n)--;
	return rec;
}

void sb_spare_give(void *headp, uint32_t *n, void *rec, size_t link)
{
	void *head;

	/* at the cap, rec still goes first and the spare before it is freed:
	 * rec is in the cache (just used), and a full builder takes one
	 * record per request right after giving one back; freeing rec
	 * instead handed out a spare long out of the cache at every request */
	if (*n >= SB_SPARE_MAX)
		free(sb_spare_take(headp, n, link));
	memcpy(&head, headp, sizeof(head));
	memcpy((char *)rec + link, &head, sizeof(head));
	memcpy(headp, &rec, sizeof(rec));
	(*n)++;
}

void sb_spares_free(void *headp, uint32_t *n, size_t link)
{
	void *rec;

	while ((rec = sb_spare_take(headp, n, link)))
		free(rec);
}

/* --- span records --- */

struct span *sb_work_alloc(struct spanbuild *sb)
{
	struct sb_work *w =
	    sb_spare_take(&sb->work_spare, &sb->n_work_spare, offsetof(struct sb_work, next));

	/* sp is first: a new record's address is its span's */
	if (!w)
		return calloc(1, sizeof(*w));
	/* Not a memset of its 3 KB: the span's strings need only their first
	 * byte, and each is written as a string, so a request touches the
	 * lines its span uses, the ones the last span brought to the cache
	 * (the memset was 6.6% of the agent at 20k req/s). */
	span_clear(&w->sp);
	return &w->sp;
}

void sb_work_release(struct spanbuild *sb, struct span *sp)
{
	sb_spare_give(&sb->work_spare, &sb->n_work_spare, sb_of(sp, struct sb_work, sp),
		      offsetof(struct sb_work, next));
}

struct sb_pend *sb_pend_alloc(struct spanbuild *sb)
{
	struct sb_pend *p =
	    sb_spare_take(&sb->spare, &sb->n_spare, offsetof(struct sb_pend, partner));

	if (!p) {
		p = calloc(1, sizeof(*p));
	} else {
		/* held_in is read only as far as held_len says */
		memset(p, 0, offsetof(struct sb_pend, held_in));
	}
	if (p && !(p->sp = sb_work_alloc(sb))) {
		sb_pend_release(sb, p);
		return NULL;
	}
	return p;
}

/* Its working record and its packed span's own memory go. */
static void pend_span_free(struct spanbuild *sb, struct sb_pend *p)
{
	if (sb->view_of == p)
		sb->view_of = NULL;
	if (p->sp)
		sb_work_release(sb, p->sp);
	if (p->held && p->held != p->held_in)
		free(p->held);
	p->sp = NULL;
	p->held = NULL;
	p->held_len = 0;
}

void sb_pend_release(struct spanbuild *sb, struct sb_pend *p)
{
	pend_span_free(sb, p);
	/* a spare's link: partner, a pointer of its own type */
	sb_spare_give(&sb->spare, &sb->n_spare, p, offsetof(struct sb_pend, partner));
}

/* --- finished spans, held packed --- */

void sb_pend_hold(struct spanbuild *sb, struct sb_pend *p)
{
	uint8_t buf[SPAN_PACK_MAX];
	uint8_t *mem;
	size_t n;

	if (!p->sp)
		return;
	/* into a buffer of SPAN_PACK_MAX (the codec's fast path), then the
	 * bytes it used where they are kept */
	n = span_pack(p->sp, buf, sizeof(buf));
	if (n <= sizeof(p->held_in)) {
		mem = p->held_in;
	} else if (!(mem = malloc(n))) {
		return; /* no memory: it stays a working record */
	}
	memcpy(mem, buf, n);
	p->held = mem;
	p->held_len = (uint16_t)n;
	p->held_error = p->sp->status == SPAN_STATUS_ERROR;
	sb_work_release(sb, p->sp);
	p->sp = NULL;
}

struct span *sb_pend_view(struct spanbuild *sb, const struct sb_pend *p)
{
	if (p->sp)
		return p->sp;
	if (sb->view_of != p) {
		/* its own bytes: they unpack, or it is a bug to see */
		if (span_unpack_over(p->held, p->held_len, &sb->view))
			abort();
		sb->view_of = p;
	}
	return &sb->view;
}

struct span *sb_pend_edit(struct spanbuild *sb, struct sb_pend *p)
{
	struct span *sp;

	if (p->sp)
		return p->sp;
	sp = sb_work_alloc(sb);
	if (!sp)
		return NULL;
	if (span_unpack_over(p->held, p->held_len, sp))
		abort();
	pend_span_free(sb, p);
	p->sp = sp;
	return sp;
}

/* FNV-1a: equal paths have equal hashes, so a candidate whose hash
 * differs is no pair, found without its span */
uint64_t sb_path_hash(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const char *c = path; *c; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ULL;
	return h;
}

void sb_tables_free(struct spanbuild *sb)
{
	sb_spares_free(&sb->spare, &sb->n_spare, offsetof(struct sb_pend, partner));
	sb_spares_free(&sb->work_spare, &sb->n_work_spare, offsetof(struct sb_work, next));
	while (sb->lru.head)
		sb_sock_free(sb, sb_of(sb->lru.head, struct sb_sock, lru));
	sb_spares_free(&sb->sock_spare, &sb->n_sock_spare, offsetof(struct sb_sock, hnext));
	for (size_t i = 0; sb->proc_ht && i <= sb->proc_mask; i++) {
		while (sb->proc_ht[i]) {
			struct sb_proc *p = sb->proc_ht[i];

			sb->proc_ht[i] = p->hnext;
			free(p);
		}
	}
	if (sb->svc_rt)
		sb_services_reset(sb);
	free(sb->sock_ht);
	free(sb->conn_ht);
	free(sb->proc_ht);
	free(sb->svc_rt);
}

/* --- ids: xoshiro256** seeded by splitmix64 --- */

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(struct spanbuild *sb)
{
	uint64_t *s = sb->rng, r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

void sb_rand_seed(struct spanbuild *sb, uint64_t seed)
{
	if (!seed && getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
		struct timespec ts;

		/* no entropy source: ids must still differ between agents */
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^ (uint64_t)getpid();
	}
	for (int i = 0; i < 4; i++) {
		seed += 0x9e3779b97f4a7c15ULL;
		sb->rng[i] = mix64(seed);
	}
}

void sb_rand_id(struct spanbuild *sb, uint8_t *id, size_t n)
{
	uint64_t any;

	/* whole words, whose OR says whether all are zero: no byte loop */
	do {
		any = 0;
		for (size_t i = 0; i + 8 <= n; i += 8) {
			uint64_t v = rng_next(sb);

			memcpy(id + i, &v, 8);
			any |= v;
		}
	} while (!any && n >= 8);
}
