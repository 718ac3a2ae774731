/* SPDX-License-Identifier: Apache-2.0 */
/* h2_conn.h: HTTP/2 connections as the capture reader (events.c) follows
 * them: per socket, both directions' frames (h2_frames.h) and HPACK
 * decoders (h2_hpack.h), and the streams in flight. Each stream is a
 * request: its observations (obs.h) carry its stream_id:
 *   OBS_REQUEST       at the first byte of the client's HEADERS;
 *   OBS_RESPONSE      at the first byte of the server's final HEADERS (1xx
 *                     are skipped);
 *   OBS_RESPONSE_END  at the last byte of the server's END_STREAM frame
 *                     (DATA, or trailers with their grpc-status), or when
 *                     RST_STREAM or GOAWAY ends the stream (stream_reset).
 * A connection that lost bytes is desynchronised (h2_hpack.h says what that
 * means for its header blocks): its requests are still timed and counted,
 * marked desync, with the fields that could be known; they are counted in
 * desync_requests. Connections are keyed by socket cookie, at most max of
 * them (the least recently active one goes), and freed at CLOSE. Pushed
 * streams (PUSH_PROMISE) are decoded for the table's sake and make no
 * request; nor does stream 1 of an h2c upgrade, the answer to an HTTP/1.x
 * request whose span its 101 ended. */
#ifndef BPFMESH_H2_CONN_H
#define BPFMESH_H2_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/h2.h"
#include "trace/obs.h"

#define H2_CONNS_DEFAULT 4096 /* connections followed at once */
#define H2_STREAMS_MAX 256    /* streams in flight per connection */

struct h2_stats {
	uint64_t records;	  /* H2 records read */
	uint64_t frames;	  /* frames put back together */
	uint64_t conns;		  /* connections followed */
	uint64_t conns_evicted;	  /* forgotten to make room */
	uint64_t streams;	  /* requests seen (OBS_REQUEST made) */
	uint64_t desync_requests; /* of those, on a desynchronised connection */
	uint64_t gaps;		  /* records after lost bytes (H2_F_GAP, mid-connection start) */
	uint64_t stops;		  /* directions the kernel stopped following */
	uint64_t unaligned;	  /* records skipped until one started on a frame header */
	uint64_t streams_full;	  /* requests not followed: H2_STREAMS_MAX in flight */
	uint64_t unknown_streams; /* responses to requests never seen */
	uint64_t resyncs;	  /* HPACK back in step after a size update to 0 (closed conns) */
};

typedef void (*h2_obs_fn)(struct obs *o, void *ctx);

struct h2_conn;

struct h2_conns {
	struct h2_conn **ht;
	size_t mask;
	uint32_t n, max; /* max 0: H2_CONNS_DEFAULT */
	struct h2_stats st;
};

/* A zeroed struct h2_conns is ready; the table is made on first use. */
void h2_conns_free(struct h2_conns *c);
/* One H2 record (bpf/h2.h). base holds the record's capture fields (obs.h,
 * events.c); each observation is a copy of it with the rest filled in. */
void h2_conns_record(struct h2_conns *c, const struct http_event *e, const struct obs *base,
		     h2_obs_fn fn, void *ctx);
/* The socket closed: ends that waited for their time are made, the
 * connection's state is freed (its open streams are the builder's to end). */
void h2_conns_close(struct h2_conns *c, uint64_t cookie, const struct obs *base, h2_obs_fn fn,
		    void *ctx);

#endif
