/* SPDX-License-Identifier: Apache-2.0 */
/* spanstore.h: the most recent spans, for GET /api/v1/traces: a fixed ring
 * (memory bounded), safe between the span builder and the API thread. */
#ifndef BPFMESH_SPANSTORE_H
#define BPFMESH_SPANSTORE_H

#include <pthread.h>
#include <stdint.h>

#include "lib/jsonw.h"
#include "exporters/span.h"

struct spanstore {
	pthread_mutex_t lock;
	struct span *ring;
	uint32_t cap, next, len;
	uint64_t total;
};

int spanstore_init(struct spanstore *st, uint32_t cap);
void spanstore_free(struct spanstore *st);
void spanstore_add(struct spanstore *st, const struct span *sp);
/* The newest `limit` spans of `service` (all services when NULL or empty),
 * newest first, as a JSON array. Returns how many were written. */
int spanstore_write_json(struct spanstore *st, struct jsonw *w, const char *service, int limit);
/* One span as a JSON object (ids in lowercase hex, times in unix ns). */
void span_write_json(struct jsonw *w, const struct span *sp);

#endif
