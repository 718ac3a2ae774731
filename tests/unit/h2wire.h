/* SPDX-License-Identifier: Apache-2.0 */
/* h2wire.h: HTTP/2 conversations for the h2 tests: frames on the wire
 * (header blocks from nghttp2's deflater), the kernel's compacting rule
 * (bpf/h2.h) applied to them, and H2 records cut from the result. */
#ifndef BPFMESH_TEST_H2WIRE_H
#define BPFMESH_TEST_H2WIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <nghttp2/nghttp2.h>

#include "bpf/h2.h"
#include "bpf/http.h"

struct wire {
	uint8_t b[1 << 16];
	size_t n;
};

static inline void wire_frame(struct wire *w, uint8_t type, uint8_t flags, uint32_t stream,
			      const void *payload, size_t len)
{
	uint8_t *h = w->b + w->n;

	h[0] = (uint8_t)(len >> 16);
	h[1] = (uint8_t)(len >> 8);
	h[2] = (uint8_t)len;
	h[3] = type;
	h[4] = flags;
	h[5] = (uint8_t)(stream >> 24);
	h[6] = (uint8_t)(stream >> 16);
	h[7] = (uint8_t)(stream >> 8);
	h[8] = (uint8_t)stream;
	if (payload)
		memcpy(h + 9, payload, len);
	else
		memset(h + 9, 0xab, len); /* DATA bodies: never looked at */
	w->n += 9 + len;
}

/* A header block of the pairs in kv (NULL-terminated name, value list). */
static inline size_t hpack_block(nghttp2_hd_deflater *d, const char *const *kv, uint8_t *out,
				 size_t cap)
{
	nghttp2_nv nv[32];
	size_t n = 0;

	for (; kv[2 * n]; n++)
		nv[n] =
		    (nghttp2_nv){(uint8_t *)kv[2 * n], (uint8_t *)kv[2 * n + 1], strlen(kv[2 * n]),
				 strlen(kv[2 * n + 1]), NGHTTP2_NV_FLAG_NONE};
	ssize_t rv = nghttp2_hd_deflate_hd(d, out, cap, nv, n);

	return rv < 0 ? 0 : (size_t)rv;
}

/* HEADERS (END_HEADERS) with the block of kv. */
static inline void wire_headers(struct wire *w, nghttp2_hd_deflater *d, uint32_t stream,
				bool end_stream, const char *const *kv)
{
	uint8_t blk[8192];
	size_t n = hpack_block(d, kv, blk, sizeof(blk));

	wire_frame(w, H2_HEADERS, H2_FLAG_END_HEADERS | (end_stream ? H2_FLAG_END_STREAM : 0),
		   stream, blk, n);
}

/* The kernel's compacted stream of wire bytes (bpf/h2.h): headers always,
 * kept payloads capped, the rest left out. */
static inline size_t compact(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t i = 0, o = 0;

	while (i + 9 <= n) {
		uint32_t len = h2_frame_len(in + i), kept = h2_frame_kept(in + i);

		memcpy(out + o, in + i, 9 + kept);
		o += 9 + kept;
		i += 9 + len;
	}
	return o;
}

/* An H2 record of socket cookie carrying n bytes of the stream. */
static inline void h2_record(struct http_event *e, uint64_t cookie, uint8_t dir, uint8_t flags,
			     uint64_t ts, const uint8_t *p, size_t n)
{
	memset(e, 0, sizeof(*e));
	e->kind = HTTP_EV_H2;
	e->cookie = cookie;
	e->dir = dir;
	e->family = AF_INET;
	e->flags = flags;
	e->ts = ts;
	e->head_len = (uint16_t)n;
	e->seg_len = (uint16_t)n;
	if (n)
		memcpy(e->head, p, n);
}

#endif
