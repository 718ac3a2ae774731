/* SPDX-License-Identifier: Apache-2.0 */
/* h2_frames.h: the frames of one direction of an HTTP/2 connection, put
 * back together from the kernel's compacted stream (bpf/h2.h), whatever
 * the record and segment boundaries: a frame is handed on when its header
 * and the payload bytes the stream keeps of it are all there. No HPACK and
 * no stream state here (h2_hpack.h, h2_conn.h). */
#ifndef BPFMESH_H2_FRAMES_H
#define BPFMESH_H2_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/h2.h"

struct h2_frame {
	uint32_t len;	 /* payload length on the wire */
	uint8_t type;	 /* enum h2_frame_type */
	uint8_t flags;	 /* H2_FLAG_* */
	uint32_t stream; /* stream id (31 bits) */
	const uint8_t *payload;
	uint32_t kept;	    /* payload bytes at payload: h2_frame_kept() of the header */
	uint64_t ts;	    /* time of the record that held the header's first byte */
	bool at_record_end; /* its last kept byte is the record's last byte: with H2_F_TAIL_OPEN,
			     * the frame goes on in a later segment */
};

typedef void (*h2_frame_fn)(const struct h2_frame *f, void *ctx);

struct h2_reasm {
	uint8_t hdr[H2_FRAME_HDR];
	uint8_t have;	 /* header bytes received */
	uint32_t need;	 /* kept payload bytes of the current frame */
	uint32_t got;	 /* of those, received */
	uint64_t ts;	 /* of the current frame's first byte */
	uint8_t *buf;	 /* H2_KEEP_MAX bytes, allocated when a payload spans records */
	uint64_t frames; /* handed on */
};

void h2_reasm_init(struct h2_reasm *r);
void h2_reasm_free(struct h2_reasm *r);
/* Forget a partial frame: the next byte fed is a frame header's first. */
void h2_reasm_reset(struct h2_reasm *r);
/* The stream's next n bytes, from a record of time ts. Returns 0, or
 * -ENOMEM (the partial frame is dropped and the reader starts over at the
 * next record: the caller treats it as a gap). */
int h2_reasm_feed(struct h2_reasm *r, const uint8_t *p, size_t n, uint64_t ts, h2_frame_fn fn,
		  void *ctx);

#endif
