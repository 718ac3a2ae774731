/* SPDX-License-Identifier: Apache-2.0 */
/* spanstore.h: the most recent spans, for GET /api/v1/traces: a ring of
 * packed spans bounded in spans and in bytes, safe between the span builder
 * and the API thread. */
#ifndef BPFMESH_SPANSTORE_H
#define BPFMESH_SPANSTORE_H

#include <pthread.h>
#include <stdint.h>

#include "lib/jsonw.h"
#include "exporters/span.h"
#include "exporters/span_ring.h"

/* The byte bound spanstore_init() gives per span: a span with a few hundred
 * bytes of strings packs to well under it, so the count bound is the one met
 * in practice; a flood of spans with long paths and queries evicts early. */
#define SPANSTORE_SPAN_BYTES 1024

struct spanstore {
	pthread_mutex_t lock;
	struct span_ring ring;
	uint64_t total;
};

/* The newest cap spans, in cap * SPANSTORE_SPAN_BYTES bytes at most. */
int spanstore_init(struct spanstore *st, uint32_t cap);
/* The newest cap spans in at most bytes of packed spans (at least one span
 * of the largest size): whichever bound is met first evicts the oldest. */
int spanstore_init_sized(struct spanstore *st, uint32_t cap, size_t bytes);
void spanstore_free(struct spanstore *st);
void spanstore_add(struct spanstore *st, const struct span *sp);
/* The same with the span already packed (span_pack(), len bytes). */
void spanstore_add_packed(struct spanstore *st, const uint8_t *packed, size_t len);
/* The newest `limit` spans of `service` (all services when NULL or empty),
 * newest first, as a JSON array. Returns how many were written. */
int spanstore_write_json(struct spanstore *st, struct jsonw *w, const char *service, int limit);
/* One span as a JSON object (ids in lowercase hex, times in unix ns). */
void span_write_json(struct jsonw *w, const struct span *sp);

#endif
