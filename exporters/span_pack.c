/* SPDX-License-Identifier: Apache-2.0 */
/* span_pack.c: struct span <-> the bytes it uses (span_pack.h). One table
 * names every field of struct span in order; pack and unpack walk it. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "span_pack.h"

/* The first byte of a packed span: a garbled or foreign buffer fails early. */
#define SPAN_PACK_FORMAT 0xb1

/* A change of struct span must change this table: add the new field below,
 * in struct order (tests/unit/test_span_pack.c checks order, gaps and the
 * round trip of every field), then update the size here. */
_Static_assert(sizeof(struct span) == 3096,
	       "struct span changed: add the field to span_pack.c's table, then this size");
_Static_assert(sizeof(bool) == 1, "bools are packed as one byte");

/* align: what padding before the field may be: its own alignment, or for
 * the first field of a nested struct, the struct's (FIELD_IN) */
#define FIELD_ALIGNED(f, k, a)                                                                     \
	{                                                                                          \
		.name = #f, .off = offsetof(struct span, f),                                       \
		.size = sizeof(((struct span *)0)->f), .align = (a), .kind = SPAN_PACK_##k,        \
	}
#define FIELD(f, k) FIELD_ALIGNED(f, k, __alignof__(((struct span *)0)->f))
#define FIELD_IN(outer, f, k) FIELD_ALIGNED(outer.f, k, __alignof__(((struct span *)0)->outer))

const struct span_pack_field span_pack_fields[] = {
    FIELD(trace_id, BYTES),
    FIELD(span_id, BYTES),
    FIELD(parent_span_id, BYTES),
    FIELD(kind, BYTES),
    FIELD(status, BYTES),
    FIELD(sampled, BYTES),
    FIELD(trace_flags, BYTES),
    FIELD(parent_remote, BOOL),
    FIELD(start_unix_ns, BYTES),
    FIELD(end_unix_ns, BYTES),
    FIELD(name, STR),
    FIELD(status_message, STR),
    FIELD(tracestate, STR),
    FIELD(method, STR),
    FIELD(method_original, STR),
    FIELD(status_code, BYTES),
    FIELD(error_type, STR),
    FIELD(http_version, BYTES),
    FIELD(path, STR),
    FIELD(query, STR),
    FIELD(authority, STR),
    FIELD(user_agent, STR),
    FIELD(route, STR),
    FIELD_IN(server, address, STR),
    FIELD(server.port, BYTES),
    FIELD_IN(client, address, STR),
    FIELD(client.port, BYTES),
    FIELD_IN(peer, address, STR),
    FIELD(peer.port, BYTES),
    FIELD(rpc_grpc, BOOL),
    FIELD(has_grpc_status, BOOL),
    FIELD(grpc_status_code, BYTES),
    FIELD(service_name, STR),
    FIELD(service_namespace, STR),
    FIELD(host_name, STR),
    FIELD(pid, BYTES),
    FIELD(exe_name, STR),
    FIELD_IN(k8s, pod_name, STR),
    FIELD(k8s.pod_uid, STR),
    FIELD(k8s.container_name, STR),
    FIELD(k8s.node_name, STR),
    FIELD(k8s.owner_kind, STR),
    FIELD(k8s.owner_name, STR),
};

const size_t span_pack_nfields = sizeof(span_pack_fields) / sizeof(span_pack_fields[0]);

/* A string's length is one byte: at most 255 bytes before its NUL. */
static size_t str_max(const struct span_pack_field *f)
{
	return f->size - 1 < 255 ? f->size - 1 : 255;
}

size_t span_pack(const struct span *sp, uint8_t *out, size_t cap)
{
	const uint8_t *base = (const uint8_t *)sp;
	size_t n = 0;

	if (cap < 1)
		return 0;
	out[n++] = SPAN_PACK_FORMAT;
	for (size_t i = 0; i < span_pack_nfields; i++) {
		const struct span_pack_field *f = &span_pack_fields[i];
		const uint8_t *src = base + f->off;
		size_t len;

		switch (f->kind) {
		case SPAN_PACK_STR:
			len = strnlen((const char *)src, str_max(f));
			if (cap - n < 1 + len)
				return 0;
			out[n++] = (uint8_t)len;
			memcpy(out + n, src, len);
			n += len;
			break;
		case SPAN_PACK_BOOL:
			if (cap - n < 1)
				return 0;
			out[n++] = *(const bool *)src ? 1 : 0;
			break;
		default:
			if (cap - n < f->size)
				return 0;
			memcpy(out + n, src, f->size);
			n += f->size;
			break;
		}
	}
	return n;
}

int span_unpack(const uint8_t *in, size_t len, struct span *out)
{
	uint8_t *base = (uint8_t *)out;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (len < 1 || in[n++] != SPAN_PACK_FORMAT)
		goto bad;
	for (size_t i = 0; i < span_pack_nfields; i++) {
		const struct span_pack_field *f = &span_pack_fields[i];
		uint8_t *dst = base + f->off;
		size_t sl;

		switch (f->kind) {
		case SPAN_PACK_STR:
			if (len - n < 1)
				goto bad;
			sl = in[n++];
			if (sl > str_max(f) || len - n < sl || memchr(in + n, 0, sl))
				goto bad;
			memcpy(dst, in + n, sl); /* the memset left its NUL */
			n += sl;
			break;
		case SPAN_PACK_BOOL:
			if (len - n < 1 || in[n] > 1)
				goto bad;
			*(bool *)dst = in[n++];
			break;
		default:
			if (len - n < f->size)
				goto bad;
			memcpy(dst, in + n, f->size);
			n += f->size;
			break;
		}
	}
	if (n != len)
		goto bad;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}
