/* SPDX-License-Identifier: Apache-2.0 */
/* proto_h2.h: the HTTP/2 parser module: decoded header fields (HPACK,
 * h2_hpack.h) -> the neutral fields of an observation (obs.h). HTTP/2
 * needs state per connection, so it is not behind proto.h's byte-level
 * seam: h2_conn.c drives it. */
#ifndef BPFMESH_PROTO_H2_H
#define BPFMESH_PROTO_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/obs.h"

/* One header block being read. */
struct h2_head {
	char method[OBS_METHOD_MAX];
	char target[OBS_TARGET_MAX];
	bool target_truncated;
	bool has_path;
	char host[OBS_HOST_MAX];
	char query[OBS_TARGET_MAX]; /* after '?', "" none or too long */
	char user_agent[OBS_HOST_MAX];
	char traceparent[OBS_TRACEPARENT_MAX];
	char tracestate[OBS_TRACESTATE_MAX];
	uint8_t n_traceparent;
	bool tracestate_full;
	bool grpc; /* content-type application/grpc, application/grpc+proto, ... */
	uint16_t status;
	bool has_grpc_status;
	uint8_t grpc_status;
};

void h2_head_reset(struct h2_head *h);
/* An h2_field_fn (h2_hpack.h): ctx is the struct h2_head. */
void h2_head_field(const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen, void *ctx);
/* The request's (or the response's) fields into o; its capture fields and
 * kind are the caller's. Sets proto and parse: OK when the block was decoded
 * whole with its pseudo-headers, CUT when some may be missing. */
void h2_head_request(const struct h2_head *h, bool whole, struct obs *o);
void h2_head_response(const struct h2_head *h, bool whole, struct obs *o);

#endif
