/* SPDX-License-Identifier: Apache-2.0 */
/* h2_frames.c: the compacted stream -> frames (h2_frames.h). A frame held
 * whole in one record is handed on in place; only one that spans records is
 * copied, into a buffer allocated the first time it is needed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "trace/h2_frames.h"

void h2_reasm_init(struct h2_reasm *r) { memset(r, 0, sizeof(*r)); }

void h2_reasm_free(struct h2_reasm *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

void h2_reasm_reset(struct h2_reasm *r)
{
	r->have = 0;
	r->need = r->got = 0;
}

static void hand_on(struct h2_reasm *r, const uint8_t *payload, bool at_end, h2_frame_fn fn,
		    void *ctx)
{
	struct h2_frame f = {
	    .len = h2_frame_len(r->hdr),
	    .type = r->hdr[3],
	    .flags = r->hdr[4],
	    .stream = h2_frame_stream(r->hdr),
	    .payload = payload,
	    .kept = r->need,
	    .ts = r->ts,
	    .at_record_end = at_end,
	};

	r->frames++;
	h2_reasm_reset(r);
	fn(&f, ctx);
}

int h2_reasm_feed(struct h2_reasm *r, const uint8_t *p, size_t n, uint64_t ts, h2_frame_fn fn,
		  void *ctx)
{
	size_t i = 0;

	while (i < n) {
		if (r->have < H2_FRAME_HDR) {
			size_t take = H2_FRAME_HDR - r->have;

			if (!r->have)
				r->ts = ts;
			if (take > n - i)
				take = n - i;
			memcpy(r->hdr + r->have, p + i, take);
			r->have += take;
			i += take;
			if (r->have < H2_FRAME_HDR)
				break;
			r->need = h2_frame_kept(r->hdr);
			r->got = 0;
			if (!r->need) {
				hand_on(r, NULL, i == n, fn, ctx);
				continue;
			}
			/* the whole kept payload in this record: no copy */
			if (n - i >= r->need) {
				i += r->need;
				hand_on(r, p + i - r->need, i == n, fn, ctx);
				continue;
			}
		}
		/* a payload that spans records */
		size_t take = r->need - r->got;

		if (take > n - i)
			take = n - i;
		if (!r->buf && !(r->buf = malloc(H2_KEEP_MAX))) {
			h2_reasm_reset(r);
			return -ENOMEM;
		}
		memcpy(r->buf + r->got, p + i, take);
		r->got += take;
		i += take;
		if (r->got == r->need)
			hand_on(r, r->buf, i == n, fn, ctx);
	}
	return 0;
}
