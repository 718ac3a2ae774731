/* SPDX-License-Identifier: Apache-2.0 */
/* span_ring.h: a FIFO of packed spans (span_pack.h) in one byte arena,
 * bounded both in spans and in bytes. The API's span store evicts its oldest
 * spans to make room; the OTLP queue refuses new ones instead. Not locked:
 * its owner's lock guards it. */
#ifndef BPFMESH_SPAN_RING_H
#define BPFMESH_SPAN_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporters/span.h"

struct span_ring_rec {
	uint32_t off, len; /* where in the arena */
};

struct span_ring {
	uint8_t *arena;
	size_t size; /* of the arena */
	size_t tail; /* the end of the newest record */
	size_t used; /* bytes of the records held */
	struct span_ring_rec *rec;
	uint32_t cap, head, count; /* the oldest record is rec[head] */
};

/* Room for cap spans and bytes bytes of packed spans; bytes is raised to
 * one packed span of the largest size (SPAN_PACK_MAX), so any span fits an
 * empty ring. Returns 0 or -ENOMEM. */
int span_ring_init(struct span_ring *r, uint32_t cap, size_t bytes);
void span_ring_free(struct span_ring *r);

/* Packs sp and appends it. With evict, the oldest spans go until the new one
 * fits (by count and by bytes); without, a ring that has no room returns
 * -ENOSPC and keeps what it has. */
int span_ring_push(struct span_ring *r, const struct span *sp, bool evict);
/* The same for a span packed already (len at most SPAN_PACK_MAX). */
int span_ring_push_packed(struct span_ring *r, const uint8_t *p, size_t len, bool evict);

/* The k-th record counting from the oldest (k < count). */
static inline const struct span_ring_rec *span_ring_at(const struct span_ring *r, uint32_t k)
{
	return &r->rec[(r->head + k) % r->cap];
}

/* Unpacks the k-th span from the oldest into out: 0 or -EINVAL. */
int span_ring_get(const struct span_ring *r, uint32_t k, struct span *out);

/* Forgets the n oldest (n <= count). */
void span_ring_drop_oldest(struct span_ring *r, uint32_t n);

#endif
