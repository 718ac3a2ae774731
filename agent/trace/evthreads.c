/* SPDX-License-Identifier: Apache-2.0 */
/* evthreads.c: socket cookie -> last sending and reading thread, linear
 * probing with backward-shift deletion (no tombstones: sockets come and go
 * all the time). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "trace/evthreads.h"

#define EVT_MIN 256
/* Twice the kernel's HTTP_MAX_CONNS: only sockets whose CLOSE record was
 * lost (a full ring) can take more; then the table starts over, and requests
 * of sockets whose thread is unchanged go without one until it changes. */
#define EVT_MAX (1U << 17)

static uint32_t slot_of(uint64_t cookie, uint32_t cap)
{
	return (uint32_t)((cookie * 0x9e3779b97f4a7c15ULL) >> 32) & (cap - 1);
}

static struct evt_slot *find(const struct evthreads *t, uint64_t cookie)
{
	if (!t->cap || !cookie)
		return NULL;
	for (uint32_t i = slot_of(cookie, t->cap);; i = (i + 1) & (t->cap - 1)) {
		if (t->slots[i].cookie == cookie)
			return &t->slots[i];
		if (!t->slots[i].cookie)
			return NULL;
	}
}

static struct evt_slot *insert(struct evthreads *t, uint64_t cookie)
{
	uint32_t i = slot_of(cookie, t->cap);

	while (t->slots[i].cookie && t->slots[i].cookie != cookie)
		i = (i + 1) & (t->cap - 1);
	if (!t->slots[i].cookie) {
		memset(&t->slots[i], 0, sizeof(t->slots[i]));
		t->slots[i].cookie = cookie;
		t->n++;
	}
	return &t->slots[i];
}

/* Room for one more at a load of at most 1/2; false when out of memory. */
static bool grow(struct evthreads *t)
{
	struct evthreads bigger = {0};
	uint32_t cap;

	if (t->n + 1 <= t->cap / 2)
		return true;
	if (t->n + 1 > EVT_MAX) {
		memset(t->slots, 0, t->cap * sizeof(*t->slots));
		t->n = 0;
		t->resets++;
		return true;
	}
	cap = t->cap ? t->cap * 2 : EVT_MIN;
	bigger.slots = calloc(cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return false;
	bigger.cap = cap;
	for (uint32_t i = 0; i < t->cap; i++)
		if (t->slots[i].cookie)
			*insert(&bigger, t->slots[i].cookie) = t->slots[i];
	free(t->slots);
	t->slots = bigger.slots;
	t->cap = cap;
	return true;
}

void evthreads_set(struct evthreads *t, uint64_t cookie, int way, const struct ev_thread *th)
{
	struct evt_slot *s = find(t, cookie);

	if (!cookie || (way != EVT_SEND && way != EVT_RECV))
		return;
	if (!s) {
		if (!grow(t))
			return;
		s = insert(t, cookie);
	}
	s->th[way] = *th;
}

const struct ev_thread *evthreads_get(const struct evthreads *t, uint64_t cookie, int way)
{
	const struct evt_slot *s = find(t, cookie);

	if (!s || (way != EVT_SEND && way != EVT_RECV) || !s->th[way].tid)
		return NULL;
	return &s->th[way];
}

void evthreads_forget(struct evthreads *t, uint64_t cookie)
{
	struct evt_slot *s = find(t, cookie);
	uint32_t hole, i, mask = t->cap - 1;

	if (!s)
		return;
	hole = (uint32_t)(s - t->slots);
	t->slots[hole].cookie = 0;
	t->n--;
	/* move back every later entry of the run that may not sit past the hole */
	for (i = (hole + 1) & mask; t->slots[i].cookie; i = (i + 1) & mask) {
		uint32_t home = slot_of(t->slots[i].cookie, t->cap);

		/* i's home is cyclically in (hole, i]: it stays */
		if (((i - home) & mask) < ((i - hole) & mask))
			continue;
		t->slots[hole] = t->slots[i];
		t->slots[i].cookie = 0;
		hole = i;
	}
}

void evthreads_free(struct evthreads *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
