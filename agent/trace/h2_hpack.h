/* SPDX-License-Identifier: Apache-2.0 */
/* h2_hpack.h: the HPACK decoder of one direction of an HTTP/2 connection,
 * nghttp2's inflater fed with every header block in order, and what it does
 * once bytes were lost.
 *
 * The dynamic table is only known while every header block of the
 * direction was decoded. After a loss (h2_hpack_lose: a gap in the capture,
 * a header block cut by the capture's copy cap, a block the inflater
 * rejected) the direction is desynchronised and its own inflater is not fed
 * again. Each later block is decoded alone, by a fresh inflater: its
 * static-table and literal fields come out right (a literal's indexing
 * gives the block's own later references the same entries as the real
 * table), and decoding stops at the first reference to an entry the block
 * did not add itself: fields can go missing, never come out wrong. The
 * direction is in step again when a block opens with a dynamic table size
 * update to 0 (RFC 7541 4.2, 6.3): the encoder emptied its table, the state
 * is known, a new inflater takes over from that block on.
 *
 * SETTINGS_HEADER_TABLE_SIZE (sent by the decoding side) only raises the
 * size the inflater accepts in updates, at once: a smaller one takes
 * effect through the size update the encoder must send (RFC 7541 4.2), so
 * the inflater's table is never shrunk by the setting itself. */
#ifndef BPFMESH_H2_HPACK_H
#define BPFMESH_H2_HPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define H2_HPACK_DEFAULT_MAX 4096 /* SETTINGS_HEADER_TABLE_SIZE's initial value */

/* One decoded field; name and value are not NUL-terminated. */
typedef void (*h2_field_fn)(const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen,
			    void *ctx);

struct nghttp2_hd_inflater;

struct h2_hpack {
	struct nghttp2_hd_inflater *inf;   /* the direction's, while in step */
	struct nghttp2_hd_inflater *alone; /* the current block's, when desynchronised */
	uint32_t settings_max;		   /* largest SETTINGS_HEADER_TABLE_SIZE seen */
	bool desync;			   /* bytes were lost: inf is not fed */
	bool in_block;			   /* a block's fragments are being fed */
	bool block_failed;		   /* the current block stopped decoding */
	bool block_alone;		   /* the current block is decoded alone */
	bool settings_new;		   /* settings_max grew during a block: apply at the next */
	uint64_t resyncs;		   /* times a size update to 0 put it back in step */
};

int h2_hpack_init(struct h2_hpack *h);
void h2_hpack_free(struct h2_hpack *h);
/* The decoding side sent SETTINGS_HEADER_TABLE_SIZE = v. */
void h2_hpack_settings(struct h2_hpack *h, uint32_t v);
/* Bytes of this direction's header blocks were lost. */
void h2_hpack_lose(struct h2_hpack *h);
/* One fragment of a header block (HEADERS, PUSH_PROMISE, CONTINUATION, with
 * padding and priority removed): first opens the block, last (END_HEADERS)
 * closes it; cut: the capture kept only a prefix of the fragment (the
 * fields before the cut still come, then the direction is lost). Fields go
 * to fn as they are decoded. */
void h2_hpack_fragment(struct h2_hpack *h, const uint8_t *p, size_t n, bool first, bool last,
		       bool cut, h2_field_fn fn, void *ctx);
/* The block just closed was decoded whole, with the direction in step. */
static inline bool h2_hpack_block_whole(const struct h2_hpack *h)
{
	return !h->block_failed && !h->block_alone;
}

#endif
