/* SPDX-License-Identifier: Apache-2.0 */
/* span_pack.c: struct span <-> the bytes it uses (span_pack.h). One list
 * names every field of struct span in order; the field table and the
 * straight-line pack and unpack are made from it, so the compiler sees the
 * size of every copy (a loop over the table took twice the time of copying
 * the whole struct). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "span_pack.h"

/* The first byte of a packed span: a garbled or foreign buffer fails early. */
#define SPAN_PACK_FORMAT 0xb1

/* A change of struct span must change SPAN_FIELDS: add the new field there,
 * in struct order (tests/unit/test_span_pack.c checks order, gaps and the
 * round trip of every field), then update the size here. */
_Static_assert(sizeof(struct span) == 3096,
	       "struct span changed: add the field to span_pack.c's SPAN_FIELDS, then this size");
_Static_assert(sizeof(bool) == 1, "bools are packed as one byte");

/* Every field of struct span in order, X(field, kind), or XIN(struct, field,
 * kind) for the first field of a nested struct: the head (no string in it,
 * so each lies at a fixed offset of a packed span), then the rest. */
#define SPAN_HEAD_FIELDS(X, XIN)                                                                   \
	X(trace_id, BYTES)                                                                         \
	X(span_id, BYTES)                                                                          \
	X(parent_span_id, BYTES)                                                                   \
	X(kind, BYTES)                                                                             \
	X(status, BYTES)                                                                           \
	X(sampled, BYTES)                                                                          \
	X(trace_flags, BYTES)                                                                      \
	X(parent_remote, BOOL)                                                                     \
	X(start_unix_ns, BYTES)                                                                    \
	X(end_unix_ns, BYTES)

#define SPAN_REST_FIELDS(X, XIN)                                                                   \
	X(name, STR)                                                                               \
	X(status_message, STR)                                                                     \
	X(tracestate, STR)                                                                         \
	X(method, STR)                                                                             \
	X(method_original, STR)                                                                    \
	X(status_code, BYTES)                                                                      \
	X(error_type, STR)                                                                         \
	X(http_version, BYTES)                                                                     \
	X(path, STR)                                                                               \
	X(query, STR)                                                                              \
	X(authority, STR)                                                                          \
	X(user_agent, STR)                                                                         \
	X(route, STR)                                                                              \
	XIN(server, address, STR)                                                                  \
	X(server.port, BYTES)                                                                      \
	XIN(client, address, STR)                                                                  \
	X(client.port, BYTES)                                                                      \
	XIN(peer, address, STR)                                                                    \
	X(peer.port, BYTES)                                                                        \
	X(rpc_grpc, BOOL)                                                                          \
	X(has_grpc_status, BOOL)                                                                   \
	X(grpc_status_code, BYTES)                                                                 \
	X(service_name, STR)                                                                       \
	X(service_namespace, STR)                                                                  \
	X(host_name, STR)                                                                          \
	X(pid, BYTES)                                                                              \
	X(exe_name, STR)                                                                           \
	XIN(k8s, pod_name, STR)                                                                    \
	X(k8s.pod_uid, STR)                                                                        \
	X(k8s.container_name, STR)                                                                 \
	X(k8s.node_name, STR)                                                                      \
	X(k8s.owner_kind, STR)                                                                     \
	X(k8s.owner_name, STR)

#define SPAN_FIELDS(X, XIN) SPAN_HEAD_FIELDS(X, XIN) SPAN_REST_FIELDS(X, XIN)

#define SIZE_OF(f) sizeof(((struct span *)0)->f)
#define ALIGN_OF(f) __alignof__(((struct span *)0)->f)

/* ---- the table (for the test) ------------------------------------------- */

/* align: what the padding before the field is smaller than: its own
 * alignment, or for the first field of a nested struct, the struct's */
#define ROW(f, k, a)                                                                               \
	{.name = #f,                                                                               \
	 .off = offsetof(struct span, f),                                                          \
	 .size = SIZE_OF(f),                                                                       \
	 .align = (a),                                                                             \
	 .kind = SPAN_PACK_##k},
#define ROW_X(f, k) ROW(f, k, ALIGN_OF(f))
#define ROW_XIN(o, f, k) ROW(o.f, k, ALIGN_OF(o))

const struct span_pack_field span_pack_fields[] = {SPAN_FIELDS(ROW_X, ROW_XIN)};

const size_t span_pack_nfields = sizeof(span_pack_fields) / sizeof(span_pack_fields[0]);

/* Strings are copied 8 bytes at a time: every string field is a multiple of
 * 8 bytes long, so a word never reads past its field; a length byte holds
 * what fits 256 bytes with its NUL. */
#define CHECK_STR(f) _Static_assert(SIZE_OF(f) % 8 == 0 && SIZE_OF(f) <= 256, #f);
#define CHECK_BYTES(f)
#define CHECK_BOOL(f)
#define CHECK_X(f, k) CHECK_##k(f)
#define CHECK_XIN(o, f, k) CHECK_##k(o.f)
SPAN_FIELDS(CHECK_X, CHECK_XIN)

/* The head's packed length: a string in it (no fixed size) fails the build. */
#define HEAD_LEN_BYTES(f) +SIZE_OF(f)
#define HEAD_LEN_BOOL(f) +1
#define HEAD_LEN_STR(f) +"no string in the head"
#define HEAD_LEN_X(f, k) HEAD_LEN_##k(f)
#define HEAD_LEN_XIN(o, f, k) HEAD_LEN_##k(o.f)
_Static_assert(1 SPAN_HEAD_FIELDS(HEAD_LEN_X, HEAD_LEN_XIN) == SPAN_PACK_HEAD,
	       "SPAN_PACK_HEAD is the format byte and the head's fields");

/* ---- pack ----------------------------------------------------------------- */

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Writes the string of a field of size bytes: its length at out[0], its
 * bytes after, at most size - 1 of them (a field without a NUL is cut).
 * Whole words are written, up to out + 1 + size: SPAN_PACK_MAX has room for
 * what the last one writes past the packed span. Returns what it used. */
static inline size_t put_str(uint8_t *out, const char *s, size_t size)
{
	size_t l;

	for (l = 0; l < size; l += 8) {
		uint64_t w, z;

		memcpy(&w, s + l, 8);
		memcpy(out + 1 + l, &w, 8);
		/* the first zero byte of w is the lowest flagged one; bytes
		 * above it may be flagged falsely, never below */
		z = (w - ONES) & ~w & HIGHS;
		if (z) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			l += (size_t)__builtin_ctzll(z) / 8;
#else
			l += (size_t)__builtin_clzll(z) / 8;
#endif
			break;
		}
	}
	if (l > size - 1)
		l = size - 1;
	out[0] = (uint8_t)l;
	return 1 + l;
}

#define PACK_BYTES(f)                                                                              \
	memcpy(out + n, &sp->f, SIZE_OF(f));                                                       \
	n += SIZE_OF(f);
#define PACK_BOOL(f) out[n++] = sp->f ? 1 : 0;
#define PACK_STR(f) n += put_str(out + n, sp->f, SIZE_OF(f));
#define PACK_X(f, k) PACK_##k(f)
#define PACK_XIN(o, f, k) PACK_##k(o.f)

/* Into SPAN_PACK_MAX bytes: no bound to check on the way. */
static size_t pack_full(const struct span *sp, uint8_t *out)
{
	size_t n = 0;

	out[n++] = SPAN_PACK_FORMAT;
	SPAN_FIELDS(PACK_X, PACK_XIN)
	return n;
}

void span_pack_head(const struct span *sp, uint8_t *packed)
{
	uint8_t *out = packed;
	size_t n = 1; /* past the format byte */

	SPAN_HEAD_FIELDS(PACK_X, PACK_XIN)
}

size_t span_pack(const struct span *sp, uint8_t *out, size_t cap)
{
	uint8_t buf[SPAN_PACK_MAX];
	size_t n;

	if (cap >= SPAN_PACK_MAX)
		return pack_full(sp, out);
	n = pack_full(sp, buf);
	if (n > cap)
		return 0;
	memcpy(out, buf, n);
	return n;
}

/* ---- clear ---------------------------------------------------------------- */

#define CLEAR_BYTES(f) memset(&sp->f, 0, SIZE_OF(f));
#define CLEAR_BOOL(f) sp->f = false;
#define CLEAR_STR(f) sp->f[0] = '\0';
#define CLEAR_X(f, k) CLEAR_##k(f)
#define CLEAR_XIN(o, f, k) CLEAR_##k(o.f)

void span_clear(struct span *sp)
{
	/* field by field: the padding and the strings' tails are never read */
	SPAN_FIELDS(CLEAR_X, CLEAR_XIN)
}

/* ---- prefetch ------------------------------------------------------------- */

#define PREFETCH_X(f, k) __builtin_prefetch(&sp->f);
#define PREFETCH_XIN(o, f, k) __builtin_prefetch(&sp->o.f);

void span_prefetch(const struct span *sp)
{
	/* one per field: those on a line already asked for cost next to
	 * nothing */
	SPAN_FIELDS(PREFETCH_X, PREFETCH_XIN)
}

/* ---- unpack --------------------------------------------------------------- */

/* The string at in (length byte first, avail bytes left) into a zeroed field
 * of size bytes; -1 when it does not fit, runs past avail or holds a NUL. */
static inline long get_str(char *dst, size_t size, const uint8_t *in, size_t avail)
{
	size_t sl, j;

	if (avail < 1)
		return -1;
	sl = in[0];
	if (sl > size - 1 || sl > avail - 1)
		return -1;
	in++;
	dst[sl] = '\0'; /* span_unpack_over: the field need not be zero */
	/* whole words while they lie inside sl (never past avail), then bytes */
	for (j = 0; j + 8 <= sl; j += 8) {
		uint64_t w;

		memcpy(&w, in + j, 8);
		if ((w - ONES) & ~w & HIGHS)
			return -1;
		memcpy(dst + j, &w, 8);
	}
	for (; j < sl; j++) {
		if (!in[j])
			return -1;
		dst[j] = (char)in[j];
	}
	return (long)(1 + sl);
}

#define UNPACK_BYTES(f)                                                                            \
	if (len - n < SIZE_OF(f))                                                                  \
		goto bad;                                                                          \
	memcpy(&out->f, in + n, SIZE_OF(f));                                                       \
	n += SIZE_OF(f);
#define UNPACK_BOOL(f)                                                                             \
	if (len - n < 1 || in[n] > 1)                                                              \
		goto bad;                                                                          \
	out->f = in[n++];
#define UNPACK_STR(f)                                                                              \
	got = get_str(out->f, SIZE_OF(f), in + n, len - n);                                        \
	if (got < 0)                                                                               \
		goto bad;                                                                          \
	n += (size_t)got;
#define UNPACK_X(f, k) UNPACK_##k(f)
#define UNPACK_XIN(o, f, k) UNPACK_##k(o.f)

/* Every field of out written (a string: its bytes and its NUL), nothing
 * else: 0, or -EINVAL with out all zero. */
static inline int unpack_fields(const uint8_t *in, size_t len, struct span *out)
{
	size_t n = 0;
	long got;

	if (len < 1 || in[n++] != SPAN_PACK_FORMAT)
		goto bad;
	SPAN_FIELDS(UNPACK_X, UNPACK_XIN)
	if (n != len)
		goto bad;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

int span_unpack(const uint8_t *in, size_t len, struct span *out)
{
	/* zero where nothing is written: the strings' tails, the padding */
	memset(out, 0, sizeof(*out));
	return unpack_fields(in, len, out);
}

int span_unpack_over(const uint8_t *in, size_t len, struct span *out)
{
	return unpack_fields(in, len, out);
}
