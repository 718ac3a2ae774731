/* SPDX-License-Identifier: Apache-2.0 */
/* store.c: per resource a hash table of objects by key (open addressing,
 * linear probing, tombstones), bounded in count and bytes; snapshots are
 * sorted arrays of shared objects, built when asked for and cached until the
 * generation moves. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kube/store.h"

static char tomb_mark;
#define TOMB ((struct kobj *)&tomb_mark)

struct ktab {
	struct kobj **e; /* NULL: empty; TOMB: deleted */
	size_t cap;	 /* power of two */
	size_t len;	 /* live objects */
	size_t used;	 /* live + tombstones */
	size_t bytes;	 /* sum of the live objects' sizes */
	bool synced;
};

struct ksnap {
	struct kube_snapshot pub; /* first: kube_snapshot_put casts back */
	int refs;
	struct kobj **objs;
};

struct kstore {
	pthread_mutex_t lock;
	struct kstore_limits lim;
	unsigned n_res;
	struct ktab *tab;
	size_t total_bytes;
	bool dirty;
	uint64_t generation;
	struct ksnap *snap; /* the last built, for generation snap->pub.generation */
};

/* ---- the table ----------------------------------------------------------- */

static uint64_t key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

/* the slot of key, or of where it would go (the first tombstone on the way) */
static size_t tab_find(const struct ktab *t, const char *key, bool *found)
{
	size_t i = key_hash(key) & (t->cap - 1), tomb = SIZE_MAX;

	*found = false;
	for (;; i = (i + 1) & (t->cap - 1)) {
		struct kobj *o = t->e[i];

		if (!o)
			return tomb != SIZE_MAX ? tomb : i;
		if (o == TOMB) {
			if (tomb == SIZE_MAX)
				tomb = i;
			continue;
		}
		if (!strcmp(o->key, key)) {
			*found = true;
			return i;
		}
	}
}

static int tab_grow(struct ktab *t)
{
	struct kobj **old = t->e;
	size_t old_cap = t->cap, cap = old_cap ? old_cap : 16;

	/* doubles when live objects fill it; a table full of tombstones is
	 * rebuilt at the same size */
	while (t->len * 10 >= cap * 5)
		cap *= 2;
	t->e = calloc(cap, sizeof(*t->e));
	if (!t->e) {
		t->e = old;
		return -ENOMEM;
	}
	t->cap = cap;
	t->used = t->len;
	for (size_t i = 0; i < old_cap; i++) {
		bool found;

		if (old[i] && old[i] != TOMB)
			t->e[tab_find(t, old[i]->key, &found)] = old[i];
	}
	free(old);
	return 0;
}

static void tab_free(struct ktab *t)
{
	for (size_t i = 0; i < t->cap; i++)
		if (t->e[i] && t->e[i] != TOMB)
			kobj_put(t->e[i]);
	free(t->e);
	memset(t, 0, sizeof(*t));
}

static struct kobj *tab_get(const struct ktab *t, const char *key)
{
	bool found;
	size_t i;

	if (!t->cap)
		return NULL;
	i = tab_find(t, key, &found);
	return found ? t->e[i] : NULL;
}

/* insert or replace; the table takes o's reference */
static int tab_set(struct ktab *t, struct kobj *o)
{
	bool found;
	size_t i;

	if ((t->used + 1) * 10 >= t->cap * 7 && tab_grow(t))
		return -ENOMEM;
	i = tab_find(t, o->key, &found);
	if (found) {
		t->bytes -= t->e[i]->size;
		kobj_put(t->e[i]);
	} else {
		if (!t->e[i])
			t->used++;
		t->len++;
	}
	t->e[i] = o;
	t->bytes += o->size;
	return 0;
}

static bool tab_del(struct ktab *t, const char *key)
{
	bool found;
	size_t i;

	if (!t->cap)
		return false;
	i = tab_find(t, key, &found);
	if (!found)
		return false;
	t->bytes -= t->e[i]->size;
	kobj_put(t->e[i]);
	t->e[i] = TOMB;
	t->len--;
	return true;
}

/* ---- the store ------------------------------------------------------------ */

struct kstore *kstore_new(unsigned n_res, const struct kstore_limits *lim)
{
	struct kstore *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->tab = calloc(n_res ? n_res : 1, sizeof(*st->tab));
	if (!st->tab) {
		free(st);
		return NULL;
	}
	pthread_mutex_init(&st->lock, NULL);
	st->lim = *lim;
	st->n_res = n_res;
	return st;
}

static void snap_put(struct ksnap *s)
{
	if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL))
		return;
	for (size_t i = 0; i < s->pub.n; i++)
		kobj_put(s->objs[i]);
	free(s->objs);
	free((void *)s->pub.objects);
	free(s);
}

void kube_snapshot_put(struct kube_snapshot *s) { snap_put((struct ksnap *)s); }

void kstore_free(struct kstore *st)
{
	if (!st)
		return;
	for (unsigned r = 0; r < st->n_res; r++)
		tab_free(&st->tab[r]);
	free(st->tab);
	snap_put(st->snap);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

int kstore_put(struct kstore *st, struct kobj *o)
{
	struct ktab *t = &st->tab[o->pub.resource];
	struct kobj *old;
	size_t old_size;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	old = tab_get(t, o->key);
	old_size = old ? old->size : 0;
	if (old && o->pub.resource_version[0] &&
	    !strcmp(old->pub.resource_version, o->pub.resource_version)) {
		rc = 1;
	} else if ((!old && t->len >= st->lim.max_objects) ||
		   st->total_bytes - old_size + o->size > st->lim.max_total_bytes) {
		rc = -ENOSPC;
	} else if (tab_set(t, kobj_get(o))) {
		kobj_put(o);
		rc = -ENOSPC;
	} else {
		st->total_bytes = st->total_bytes - old_size + o->size;
		st->dirty = true;
	}
	pthread_mutex_unlock(&st->lock);
	kobj_put(o);
	return rc;
}

int kstore_delete(struct kstore *st, unsigned res, const char *key)
{
	struct ktab *t = &st->tab[res];
	size_t before;
	int rc = -ENOENT;

	pthread_mutex_lock(&st->lock);
	before = t->bytes;
	if (tab_del(t, key)) {
		st->total_bytes -= before - t->bytes;
		st->dirty = true;
		rc = 0;
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* same keys with the same resourceVersions: a relist that found no change */
static bool tab_same(const struct ktab *a, const struct ktab *b)
{
	if (a->len != b->len)
		return false;
	for (size_t i = 0; i < b->cap; i++) {
		struct kobj *o = b->e[i], *p;

		if (!o || o == TOMB)
			continue;
		p = tab_get(a, o->key);
		if (!p || strcmp(p->pub.resource_version, o->pub.resource_version) ||
		    !o->pub.resource_version[0])
			return false;
	}
	return true;
}

size_t kstore_replace(struct kstore *st, unsigned res, struct kobj **objs, size_t n)
{
	struct ktab fresh = {0}, *t = &st->tab[res];
	size_t refused = 0, others;

	/* the new table is built outside the lock: the bytes of the other
	 * resources only change on this (the client's) thread */
	pthread_mutex_lock(&st->lock);
	others = st->total_bytes - t->bytes;
	pthread_mutex_unlock(&st->lock);
	for (size_t i = 0; i < n; i++) {
		struct kobj *o = objs[i], *dup = tab_get(&fresh, o->key);
		size_t dup_size = dup ? dup->size : 0;

		if ((!dup && fresh.len >= st->lim.max_objects) ||
		    others + fresh.bytes - dup_size + o->size > st->lim.max_total_bytes ||
		    tab_set(&fresh, o)) {
			kobj_put(o);
			refused++;
		}
	}
	pthread_mutex_lock(&st->lock);
	if (t->synced && tab_same(t, &fresh)) {
		pthread_mutex_unlock(&st->lock);
		tab_free(&fresh);
		return refused;
	}
	st->total_bytes = st->total_bytes - t->bytes + fresh.bytes;
	fresh.synced = true;
	/* swap, and free the old table after unlocking */
	struct ktab old = *t;

	*t = fresh;
	st->dirty = true;
	pthread_mutex_unlock(&st->lock);
	tab_free(&old);
	return refused;
}

bool kstore_publish(struct kstore *st)
{
	bool changed;

	pthread_mutex_lock(&st->lock);
	changed = st->dirty;
	if (changed)
		st->generation++;
	st->dirty = false;
	pthread_mutex_unlock(&st->lock);
	return changed;
}

uint64_t kstore_generation(struct kstore *st)
{
	uint64_t g;

	pthread_mutex_lock(&st->lock);
	g = st->generation;
	pthread_mutex_unlock(&st->lock);
	return g;
}

void kstore_counts(struct kstore *st, unsigned res, size_t *objects, size_t *bytes)
{
	pthread_mutex_lock(&st->lock);
	*objects = st->tab[res].len;
	*bytes = st->tab[res].bytes;
	pthread_mutex_unlock(&st->lock);
}

static int obj_cmp(const void *a, const void *b)
{
	const struct kube_object *x = *(const struct kube_object *const *)a;
	const struct kube_object *y = *(const struct kube_object *const *)b;
	int c;

	if (x->resource != y->resource)
		return x->resource < y->resource ? -1 : 1;
	c = strcmp(x->ns, y->ns);
	return c ? c : strcmp(x->name, y->name);
}

struct kube_snapshot *kstore_snapshot(struct kstore *st)
{
	struct ksnap *s;
	const struct kube_object **ptrs;
	size_t n = 0, k = 0;
	bool synced = true;

	pthread_mutex_lock(&st->lock);
	if (st->snap && st->snap->pub.generation == st->generation) {
		s = st->snap;
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&st->lock);
		return &s->pub;
	}
	for (unsigned r = 0; r < st->n_res; r++) {
		n += st->tab[r].len;
		synced = synced && st->tab[r].synced;
	}
	s = calloc(1, sizeof(*s));
	ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	if (s)
		s->objs = calloc(n ? n : 1, sizeof(*s->objs));
	if (!s || !ptrs || !s->objs) {
		pthread_mutex_unlock(&st->lock);
		if (s)
			free(s->objs);
		free(s);
		free(ptrs);
		return NULL;
	}
	for (unsigned r = 0; r < st->n_res; r++) {
		const struct ktab *t = &st->tab[r];

		for (size_t i = 0; i < t->cap; i++)
			if (t->e[i] && t->e[i] != TOMB)
				s->objs[k++] = kobj_get(t->e[i]);
	}
	s->pub.generation = st->generation;
	pthread_mutex_unlock(&st->lock);

	s->refs = 1;
	s->pub.synced = synced;
	s->pub.n = n;
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &s->objs[i]->pub;
	qsort(ptrs, n, sizeof(*ptrs), obj_cmp);
	s->pub.objects = ptrs;

	/* cache it for the next caller of the same generation */
	pthread_mutex_lock(&st->lock);
	if (!st->snap || st->snap->pub.generation < s->pub.generation) {
		struct ksnap *old = st->snap;

		__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
		st->snap = s;
		pthread_mutex_unlock(&st->lock);
		snap_put(old);
	} else {
		pthread_mutex_unlock(&st->lock);
	}
	return &s->pub;
}
