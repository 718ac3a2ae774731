/* SPDX-License-Identifier: Apache-2.0 */
/* span_pack.h: a span as the bytes it uses, for the queues that hold many
 * (the API's span store, the OTLP exporter's queue). struct span keeps every
 * string in a fixed array (3,096 bytes) while a real span fills a few
 * hundred bytes of them: packed, the numeric fields are copied as they are
 * and each string is a length byte and its bytes, nothing after its NUL.
 *
 * The encoding lives in this process's memory only (host byte order, no
 * version negotiation); it is not a wire or file format. */
#ifndef BPFMESH_SPAN_PACK_H
#define BPFMESH_SPAN_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "exporters/span.h"

/* No packed span is longer: one byte of format, then each field at most its
 * own size (a string's length byte stands in for its NUL); and a buffer of
 * this size lets span_pack() write whole words past a string's end. */
#define SPAN_PACK_MAX (sizeof(struct span) + 16)

/* Writes sp packed into out. A string filled to the brim without a NUL is
 * cut to its size - 1, as the exporters always did. Returns the length, or
 * 0 when cap is too small. With cap >= SPAN_PACK_MAX, bytes of out past the
 * length may be written too (the fast path); a smaller out is packed into
 * from a copy. */
size_t span_pack(const struct span *sp, uint8_t *out, size_t cap);

/* A packed span opens with its format byte and the fields that come before
 * the first string (ids, kind, status, sampled, trace_flags, parent_remote,
 * start and end times): SPAN_PACK_HEAD bytes, each field at a fixed offset. */
#define SPAN_PACK_HEAD 54

/* Rewrites the head of packed (span_pack()'s bytes, at least SPAN_PACK_HEAD
 * long) from sp's head fields: a span whose other fields are those packed
 * then packs to those bytes. The span builder keeps a finished span packed
 * and sets only head fields at its emit, so its sinks take the span packed
 * without packing it again. */
void span_pack_head(const struct span *sp, uint8_t *packed);

/* A span's packed bytes (span_pack()'s), handed on with the span by a
 * producer that had them at hand: a consumer that keeps spans packed
 * takes them instead of packing the span again. */
struct span_packed {
	const uint8_t *bytes;
	size_t len;
};

/* Reads what span_pack() wrote into out, which it overwrites whole (zero
 * where nothing was packed, every string NUL-terminated within its field).
 * Never reads past in + len. Returns 0, or -EINVAL for a truncated, overlong
 * or garbled input (out is then all zero). */
int span_unpack(const uint8_t *in, size_t len, struct span *out);

/* As span_unpack(), but writes only what a span reads as: each field, a
 * string's bytes and its NUL; what lay past each string's NUL, and the
 * padding, stay as they were (span_clear()'s terms). The span builder
 * unpacks each held span at its emit into the same record, and zeroing
 * its 3 KB first was most of the unpack's time. */
int span_unpack_over(const uint8_t *in, size_t len, struct span *out);

/* Makes sp read as a zeroed span does (every number and flag 0, every
 * string "") while writing only what that takes: the numbers, and the first
 * byte of each string. What lies past a string's NUL is never read by
 * span_pack() or by anything that takes a span from it, so the span
 * builder's record for each request need not write all 3 KB of sp
 * (memset was the largest single cost of a request's span, its lines
 * missing the cache). */
void span_clear(struct span *sp);

/* Asks the CPU for the lines of sp that span_pack() reads (each field's
 * first), without waiting for them: a span held for its pair window has
 * left the cache, and its fields' lines come in one by one when read. */
void span_prefetch(const struct span *sp);

/* The codec's field table, for the test that checks it covers struct span. */
enum span_pack_kind {
	SPAN_PACK_BYTES, /* copied as is: ids, times, numbers */
	SPAN_PACK_STR,	 /* a length byte, then the string without its NUL */
	SPAN_PACK_BOOL,	 /* one byte, 0 or 1 */
};

struct span_pack_field {
	const char *name;
	uint16_t off, size, align;
	uint8_t kind; /* enum span_pack_kind */
};

extern const struct span_pack_field span_pack_fields[];
extern const size_t span_pack_nfields;

#endif
