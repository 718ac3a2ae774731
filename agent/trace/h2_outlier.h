/* SPDX-License-Identifier: Apache-2.0 */
/* h2_outlier.h: the statuses of HTTP/2 responses that client sockets
 * received, given back to the kernel's outlier detection (consecutive5xx
 * and consecutiveGatewayErrors, bpf/lib/outlier.bpf.h). The kernel cannot
 * read an HTTP/2 :status (an HPACK table index, mostly); the agent decodes
 * it, so it hands each outcome to bm_h2_outcome (bpf/h2.h) in batches, by
 * BPF_PROG_RUN. The kernel keeps only sockets the load balancer connected
 * (lb_conns). A gRPC response counts by its grpc-status, mapped to an HTTP
 * status as Envoy maps it (UNAVAILABLE 503, DEADLINE_EXCEEDED 504, ...),
 * at its end: its HEADERS say 200 before the trailers say how it went. */
#ifndef BPFMESH_H2_OUTLIER_H
#define BPFMESH_H2_OUTLIER_H

#include <stdint.h>

#include "bpf/h2.h"
#include "trace/obs.h"

struct h2_outlier {
	int prog_fd; /* bm_h2_outcome; -1: none (nothing is kept) */
	uint32_t n;
	struct h2_outcome buf[H2_OUTCOMES_MAX];
	uint64_t fed, runs, failed_runs;
};

void h2_outlier_init(struct h2_outlier *o, int prog_fd);
/* An HTTP/2 observation (h2_conn.h): kept when it is a response's outcome
 * on a client socket; a full batch is run at once. */
void h2_outlier_note(struct h2_outlier *o, const struct obs *ob);
/* Run what is kept (after each read of the ring). */
void h2_outlier_flush(struct h2_outlier *o);
/* The HTTP status a gRPC status counts as (Envoy's grpcToHttpStatus). */
uint16_t h2_grpc_http_status(uint8_t grpc_status);

#endif
