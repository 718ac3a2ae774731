/* SPDX-License-Identifier: Apache-2.0 */
/* h2_hpack.c: HPACK decoding per direction with nghttp2's inflater, and the
 * rules after a loss (h2_hpack.h). */
#include <errno.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "trace/h2_hpack.h"

/* What a block decoded alone accepts in a size update: any size, since the
 * setting it was checked against may have been lost with the gap; the size
 * only bounds what the block adds, never changes what it references. */
#define H2_ALONE_MAX (1u << 30)

int h2_hpack_init(struct h2_hpack *h)
{
	memset(h, 0, sizeof(*h));
	h->settings_max = H2_HPACK_DEFAULT_MAX;
	if (nghttp2_hd_inflate_new(&h->inf))
		return -ENOMEM;
	return 0;
}

void h2_hpack_free(struct h2_hpack *h)
{
	if (h->inf)
		nghttp2_hd_inflate_del(h->inf);
	if (h->alone)
		nghttp2_hd_inflate_del(h->alone);
	memset(h, 0, sizeof(*h));
}

void h2_hpack_settings(struct h2_hpack *h, uint32_t v)
{
	if (v <= h->settings_max)
		return;
	h->settings_max = v;
	/* not while a block is inflated (nghttp2 refuses): its next block */
	if (h->inf && !h->in_block)
		nghttp2_hd_inflate_change_table_size(h->inf, v);
	else
		h->settings_new = true;
}

static void drop_own(struct h2_hpack *h)
{
	h->desync = true;
	if (h->inf) {
		nghttp2_hd_inflate_del(h->inf);
		h->inf = NULL;
	}
}

void h2_hpack_lose(struct h2_hpack *h)
{
	drop_own(h);
	if (!h->in_block)
		return;
	/* the block is over: its later fragments are ignored */
	h->in_block = false;
	h->block_failed = true;
	if (h->alone) {
		nghttp2_hd_inflate_del(h->alone);
		h->alone = NULL;
	}
}

/* The inflater for a block that starts with byte b0 (n > 0 bytes). */
static nghttp2_hd_inflater *open_block(struct h2_hpack *h, const uint8_t *p, size_t n)
{
	h->in_block = true;
	h->block_failed = false;
	h->block_alone = false;
	if (!h->desync) {
		/* a SETTINGS that came during the last block */
		if (h->settings_new)
			nghttp2_hd_inflate_change_table_size(h->inf, h->settings_max);
		h->settings_new = false;
		return h->inf;
	}
	/* 001 00000: a size update to 0 empties the table: in step again */
	if (n && p[0] == 0x20 && !nghttp2_hd_inflate_new(&h->inf)) {
		nghttp2_hd_inflate_change_table_size(h->inf, h->settings_max);
		h->desync = false;
		h->resyncs++;
		return h->inf;
	}
	h->block_alone = true;
	if (h->alone)
		nghttp2_hd_inflate_del(h->alone);
	h->alone = NULL;
	if (nghttp2_hd_inflate_new(&h->alone))
		return NULL;
	nghttp2_hd_inflate_change_table_size(h->alone, H2_ALONE_MAX);
	return h->alone;
}

static void close_block(struct h2_hpack *h)
{
	h->in_block = false;
	if (h->block_alone && h->alone) {
		nghttp2_hd_inflate_del(h->alone);
		h->alone = NULL;
	} else if (!h->block_alone && !h->block_failed && h->inf) {
		nghttp2_hd_inflate_end_headers(h->inf);
	}
}

/* The block went wrong: with the direction's own inflater, the table is
 * not known any more. */
static void fail_block(struct h2_hpack *h)
{
	if (!h->block_alone)
		drop_own(h);
	h->block_failed = true;
}

void h2_hpack_fragment(struct h2_hpack *h, const uint8_t *p, size_t n, bool first, bool last,
		       bool cut, h2_field_fn fn, void *ctx)
{
	static const uint8_t none[1];
	nghttp2_hd_inflater *inf;

	if (!p) /* an empty fragment (no payload kept) */
		p = none;
	if (first)
		inf = open_block(h, p, n);
	else if (!h->in_block)
		return; /* its first fragment was lost */
	else
		inf = h->block_alone ? h->alone : h->inf;
	if (!inf)
		h->block_failed = true;
	while (!h->block_failed) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &flags, p, n, last && !cut);

		if (rv < 0) {
			fail_block(h);
			break;
		}
		p += rv;
		n -= (size_t)rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT)
			fn(nv.name, nv.namelen, nv.value, nv.valuelen, ctx);
		if (flags & NGHTTP2_HD_INFLATE_FINAL)
			break;
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && !n)
			break;
	}
	if (cut && !h->block_failed)
		fail_block(h);
	if (last || cut)
		close_block(h);
}
