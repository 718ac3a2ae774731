/* SPDX-License-Identifier: Apache-2.0 */
/* span_ring.c: packed spans in a bounded byte arena (span_ring.h).
 *
 * Records lie in the arena in the order they came, wrapping around like the
 * ring of their index: the newest ends at tail, and the oldest is the first
 * met going on from tail. A ring that evicts puts a new record at offset 0
 * as soon as the oldest has moved out of the way there, not only when tail
 * reaches the end: the records then stay packed at the start of the arena,
 * and a ring held at its count bound touches only the pages its records
 * need.
 *
 * A ring that refuses wraps only at the end, so the space lost there is less
 * than one record: when no span packs to more than S bytes, an arena of
 * cap * S + SPAN_PACK_MAX bytes refuses a span only at the count bound. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "span_pack.h"
#include "span_ring.h"

int span_ring_init(struct span_ring *r, uint32_t cap, size_t bytes)
{
	memset(r, 0, sizeof(*r));
	if (!cap)
		cap = 1;
	if (bytes < SPAN_PACK_MAX)
		bytes = SPAN_PACK_MAX;
	if (bytes > UINT32_MAX)
		return -EINVAL;
	/* calloc: pages nobody writes take no memory */
	r->arena = calloc(1, bytes);
	r->rec = calloc(cap, sizeof(*r->rec));
	if (!r->arena || !r->rec) {
		span_ring_free(r);
		return -ENOMEM;
	}
	r->size = bytes;
	r->cap = cap;
	return 0;
}

void span_ring_free(struct span_ring *r)
{
	free(r->arena);
	free(r->rec);
	r->arena = NULL;
	r->rec = NULL;
	r->count = 0;
}

void span_ring_drop_oldest(struct span_ring *r, uint32_t n)
{
	if (n > r->count)
		n = r->count;
	for (uint32_t i = 0; i < n; i++) {
		r->used -= r->rec[r->head].len;
		r->head = (r->head + 1) % r->cap;
	}
	r->count -= n;
	if (!r->count)
		r->tail = 0;
}

/* Where len bytes can go without overwriting a record, or -1. early: go
 * back to offset 0 as soon as it has room (see the top); only where the
 * oldest records are evicted anyway: in a queue that refuses new spans, the
 * end of the arena left behind would stay unused until its consumer had
 * taken every record before it. */
static long find_room(const struct span_ring *r, size_t len, bool early)
{
	size_t h;

	if (!r->count)
		return 0;
	if (r->count == r->cap)
		return -1;
	h = r->rec[r->head].off;
	if (h < r->tail) {
		/* records in [h, tail): free are [0, h) and [tail, size) */
		if (early && len <= h)
			return 0;
		if (len <= r->size - r->tail)
			return (long)r->tail;
		return len <= h ? 0 : -1;
	}
	/* wrapped: records in [h, ...) and [0, tail); free is [tail, h) */
	if (len <= h - r->tail)
		return (long)r->tail;
	return -1;
}

int span_ring_push_packed(struct span_ring *r, const uint8_t *p, size_t len, bool evict)
{
	struct span_ring_rec *rec;
	long at;

	if (!len || len > r->size)
		return -EINVAL;
	while ((at = find_room(r, len, evict)) < 0) {
		if (!evict)
			return -ENOSPC;
		span_ring_drop_oldest(r, 1);
	}
	memcpy(r->arena + at, p, len);
	rec = &r->rec[(r->head + r->count) % r->cap];
	rec->off = (uint32_t)at;
	rec->len = (uint32_t)len;
	r->count++;
	r->used += len;
	r->tail = (size_t)at + len;
	return 0;
}

int span_ring_push(struct span_ring *r, const struct span *sp, bool evict)
{
	uint8_t buf[SPAN_PACK_MAX];
	size_t len = span_pack(sp, buf, sizeof(buf));

	return len ? span_ring_push_packed(r, buf, len, evict) : -EINVAL;
}

int span_ring_get(const struct span_ring *r, uint32_t k, struct span *out)
{
	const struct span_ring_rec *rec;

	if (k >= r->count) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	rec = span_ring_at(r, k);
	return span_unpack(r->arena + rec->off, rec->len, out);
}
