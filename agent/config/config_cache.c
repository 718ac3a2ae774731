/* SPDX-License-Identifier: Apache-2.0 */
/* config_cache.c: what an in-memory v1 Service or EndpointSlice read into,
 * kept across loads (struct cfg_cache, config.h).
 *
 * The agent reloads the whole set on every Kubernetes change, and at 1,000
 * Services x 100 endpoints parsing and walking every object's JSON was most
 * of that. An object reads into one record of the loader (config_k8s.h)
 * whatever else the set holds, so an unchanged source -- the same name and
 * the same bytes -- replays that record instead of being parsed again.
 * Only a clean read is kept: one document, one object, nothing reported,
 * nothing skipped, nothing else of the loader touched. Anything else is
 * read every time, so its errors, warnings and skip reasons come out exactly
 * as before. The marks of a record name the source and object of the pass
 * that made it; a replay gives them the current ones.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_k8s.h"

struct cache_entry {
	char *name;
	char *text; /* the source's bytes, compared whole on a hit */
	size_t len;
	uint64_t seen; /* the load that last used it */
	struct cfgp_obj obj;
	bool slice; /* slice, else svc */
	/* one of the two, each about 5 KB (an origin holds a path) */
	union {
		struct cfgp_k8s_svc svc;
		struct cfgp_k8s_slice sl;
	} * rec;
};

struct cfg_cache {
	struct strmap idx; /* source name -> index in e */
	struct cache_entry *e;
	int n, cap;
	uint64_t load;
	struct cfg_cache_stats st;
};

struct cfg_cache *cfg_cache_new(void) { return calloc(1, sizeof(struct cfg_cache)); }

static void entry_free(struct cache_entry *e)
{
	free(e->name);
	free(e->text);
	if (e->rec && e->slice) {
		free(e->rec->sl.eps);
		free(e->rec->sl.ports);
	} else if (e->rec) {
		free(e->rec->svc.ips);
		free(e->rec->svc.ip_at);
		free(e->rec->svc.ports);
		cfgp_kv_free(e->rec->svc.selector, e->rec->svc.n_selector);
	}
	free(e->rec);
	memset(e, 0, sizeof(*e));
}

void cfg_cache_free(struct cfg_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++)
		entry_free(&c->e[i]);
	free(c->e);
	strmap_free(&c->idx);
	free(c);
}

void cfg_cache_stats(const struct cfg_cache *c, struct cfg_cache_stats *st)
{
	*st = c->st;
	st->entries = (size_t)c->n;
}

void cfgp_cache_begin(struct cfg_cache *c)
{
	c->load++;
	c->st.hits = c->st.misses = 0;
}

/* Entries no source of this load used are objects that are gone (or
 * changed into something not kept): dropped, so the cache holds at most
 * one entry per source of the last load. */
void cfgp_cache_end(struct cfg_cache *c)
{
	int i, n = 0;

	for (i = 0; i < c->n; i++)
		if (c->e[i].seen != c->load)
			break;
	if (i == c->n)
		return;
	strmap_free(&c->idx);
	memset(&c->idx, 0, sizeof(c->idx));
	for (i = 0; i < c->n; i++) {
		if (c->e[i].seen != c->load) {
			entry_free(&c->e[i]);
			continue;
		}
		c->e[n] = c->e[i];
		/* on ENOMEM the entry is only unreachable; freed with the cache */
		(void)strmap_put(&c->idx, c->e[n].name, (uint32_t)n);
		n++;
	}
	c->n = n;
}

static void *dup_mem(const void *p, size_t n, bool *oom)
{
	void *q;

	if (!p || !n)
		return NULL;
	q = malloc(n);
	if (!q) {
		*oom = true;
		return NULL;
	}
	return memcpy(q, p, n);
}

static struct cfgp_kv *dup_kv(const struct cfgp_kv *kv, int n, bool *oom)
{
	struct cfgp_kv *c;

	if (!n)
		return NULL;
	c = calloc((size_t)n, sizeof(*c));
	if (!c) {
		*oom = true;
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		c[i].key = strdup(kv[i].key);
		c[i].val = strdup(kv[i].val);
		if (!c[i].key || !c[i].val)
			*oom = true;
	}
	return c;
}

/* A deep copy; the marks keep whatever file and obj they had. */
static bool copy_svc(struct cfgp_k8s_svc *dst, const struct cfgp_k8s_svc *s)
{
	bool oom = false;

	*dst = *s;
	dst->ips = dup_mem(s->ips, (size_t)s->n_ips * sizeof(*s->ips), &oom);
	dst->ip_at = dup_mem(s->ip_at, (size_t)s->n_ips * sizeof(*s->ip_at), &oom);
	dst->ports = dup_mem(s->ports, (size_t)s->n_ports * sizeof(*s->ports), &oom);
	dst->selector = dup_kv(s->selector, s->n_selector, &oom);
	if (!dst->selector)
		dst->n_selector = 0;
	return !oom;
}

static bool copy_slice(struct cfgp_k8s_slice *dst, const struct cfgp_k8s_slice *s)
{
	bool oom = false;

	*dst = *s;
	dst->eps = dup_mem(s->eps, (size_t)s->n_eps * sizeof(*s->eps), &oom);
	dst->ports = dup_mem(s->ports, (size_t)s->n_ports * sizeof(*s->ports), &oom);
	return !oom;
}

static void free_svc(struct cfgp_k8s_svc *s)
{
	free(s->ips);
	free(s->ip_at);
	free(s->ports);
	cfgp_kv_free(s->selector, s->n_selector);
}

static void free_slice(struct cfgp_k8s_slice *s)
{
	free(s->eps);
	free(s->ports);
}

static void remark(struct cfgp_mark *m, int file, int obj)
{
	m->file = file;
	m->obj = obj;
}

static struct cache_entry *lookup(struct cfg_cache *c, const struct cfgp_src *src)
{
	uint32_t i;

	if (!strmap_get(&c->idx, src->name, &i))
		return NULL;
	return &c->e[i];
}

bool cfgp_cache_replay(struct cfgp_loader *ld, int file)
{
	struct cfg_cache *c = ld->run->cache;
	const struct cfgp_src *src = &ld->run->srcs[file];
	struct cache_entry *e = lookup(c, src);
	struct cfgp_k8s *k = ld->k8s;
	struct cfgp_obj *o;
	int obj, i;

	if (!e || e->len != src->len || memcmp(e->text, src->text, src->len)) {
		c->st.misses++;
		return false;
	}
	o = cfgp_grow(ld, ld->objs, ld->n_objs, &ld->cap_objs, sizeof(*o));
	if (!o)
		return true;
	ld->objs = o;
	obj = ld->n_objs++;
	o = &o[obj];
	*o = e->obj;
	o->src = file;
	remark(&o->at, file, obj);
	e->seen = c->load;
	c->st.hits++;
	/* as cfgp_document(): an object an earlier pass left out is counted,
	 * not read */
	if (cfgp_left_out(ld, file, o->doc, -1))
		return true;
	if (e->slice) {
		struct cfgp_k8s_slice *s =
		    cfgp_grow(ld, k->slices, k->n_slices, &k->cap_slices, sizeof(*s));

		if (!s)
			return true;
		k->slices = s;
		s = &s[k->n_slices];
		if (!copy_slice(s, &e->rec->sl)) {
			free_slice(s);
			ld->oom = true;
			return true;
		}
		k->n_slices++;
		s->obj = obj;
		remark(&s->at, file, obj);
		for (i = 0; i < s->n_eps; i++)
			remark(&s->eps[i].at, file, obj);
	} else {
		struct cfgp_k8s_svc *s =
		    cfgp_grow(ld, k->svcs, k->n_svcs, &k->cap_svcs, sizeof(*s));

		if (!s)
			return true;
		k->svcs = s;
		s = &s[k->n_svcs];
		if (!copy_svc(s, &e->rec->svc)) {
			free_svc(s);
			ld->oom = true;
			return true;
		}
		k->n_svcs++;
		s->obj = obj;
		remark(&s->name_at, file, obj);
		remark(&s->spec_at, file, obj);
		for (i = 0; i < s->n_ips; i++)
			remark(&s->ip_at[i], file, obj);
	}
	return true;
}

/* What a read may change; a read is kept only when it added one object and
 * one Service or EndpointSlice record and changed nothing else. */
void cfgp_cache_mark(const struct cfgp_loader *ld, struct cfgp_cache_mark *m)
{
	const struct mesh_config *cfg = ld->cfg;

	*m = (struct cfgp_cache_mark){
	    .errs = ld->n_errs,
	    .warns = ld->n_warns,
	    .objs = ld->n_objs,
	    .svcs = ld->k8s->n_svcs,
	    .slices = ld->k8s->n_slices,
	    .pods = ld->k8s->n_pods,
	    .rss = ld->k8s->n_rss,
	    .names = ld->names.len,
	    .refs = ld->n_refs,
	    .uses = ld->n_uses,
	    .cfg = cfg->n_services + cfg->n_policies + cfg->n_workloads + cfg->n_access +
		   cfg->n_namespaces + cfg->n_skipped + (cfg->telemetry != NULL),
	};
}

void cfgp_cache_store(struct cfgp_loader *ld, int file, const struct cfgp_cache_mark *before)
{
	struct cfg_cache *c = ld->run->cache;
	const struct cfgp_src *src = &ld->run->srcs[file];
	struct cfgp_cache_mark now;
	struct cache_entry *e, ne = {0};
	bool slice;
	uint32_t i;

	if (ld->oom)
		return;
	cfgp_cache_mark(ld, &now);
	slice = now.slices == before->slices + 1;
	if (now.errs != before->errs || now.warns != before->warns ||
	    now.objs != before->objs + 1 || now.pods != before->pods || now.rss != before->rss ||
	    now.names != before->names || now.refs != before->refs || now.uses != before->uses ||
	    now.cfg != before->cfg ||
	    (now.svcs - before->svcs) + (now.slices - before->slices) != 1 ||
	    ld->objs[before->objs].item != -1)
		return;
	ne.len = src->len;
	ne.name = strdup(src->name);
	ne.text = malloc(src->len ? src->len : 1);
	ne.obj = ld->objs[before->objs];
	ne.slice = slice;
	ne.seen = c->load;
	ne.rec = calloc(1, sizeof(*ne.rec));
	if (!ne.name || !ne.text || !ne.rec ||
	    !(slice ? copy_slice(&ne.rec->sl, &ld->k8s->slices[before->slices])
		    : copy_svc(&ne.rec->svc, &ld->k8s->svcs[before->svcs]))) {
		entry_free(&ne);
		return; /* not kept: read again next time */
	}
	memcpy(ne.text, src->text, src->len);
	if (strmap_get(&c->idx, src->name, &i)) {
		entry_free(&c->e[i]);
		c->e[i] = ne;
		return;
	}
	if (c->n == c->cap) {
		/* not cfgp_grow(): a full cache is no reason to fail the load */
		int cap = c->cap ? 2 * c->cap : 64;

		e = realloc(c->e, (size_t)cap * sizeof(*e));
		if (!e) {
			entry_free(&ne);
			return;
		}
		c->e = e;
		c->cap = cap;
	}
	if (strmap_put(&c->idx, ne.name, (uint32_t)c->n)) {
		entry_free(&ne);
		return;
	}
	c->e[c->n++] = ne;
}
