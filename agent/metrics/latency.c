/* SPDX-License-Identifier: Apache-2.0 */
/* latency.c: log-bucket sketches and their sliding windows (latency.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jsonw.h"
#include "metrics/latency.h"

/* ln((1 + a) / (1 - a)) for a = 0.01; a literal so that no thread has to
 * initialise it (test_latency checks it against log()). */
#define LN_GAMMA 0.020000666706669525

/* The slot being written keeps (bucket << 22 | count) words sorted by bucket:
 * a binary search finds a bucket, an insertion is a short memmove. A count
 * that fills its 22 bits gets a second word for the same bucket. */
#define HOT_SHIFT 22
#define HOT_COUNT_MASK ((1U << HOT_SHIFT) - 1)
#define HOT_CAP_MAX 4096

/* A slot that time has moved past is packed: per non-empty bucket, in bucket
 * order, one byte 0ddd cccc for a bucket 1..8 after the previous one holding
 * 1..16 samples (most buckets of a 10 s or 60 s slot), else 0x80 followed by
 * the distance and the count as LEB128 varints. */
#define PACK_ESCAPE 0x80
#define PACK_MAX_BYTES (LAT_NBUCKETS * 12)

struct lat_slot {
	uint64_t max_ns;
	void *data;	 /* hot: uint32_t words; packed: bytes */
	uint32_t epoch;	 /* slot number (time / width) + 1; 0 = unused */
	uint32_t count;	 /* samples */
	uint32_t errors; /* of which errors */
	uint16_t len;	 /* hot: words; packed: bytes */
	uint16_t cap;	 /* hot: words allocated; 0 for a packed slot */
};

struct ring {
	uint64_t width_ns;
	int n;
	int first; /* index of its first slot in lat_window.slots */
};

static const struct ring rings[2] = {
    {LAT_FINE_NS, LAT_FINE_SLOTS, 0},
    {LAT_COARSE_NS, LAT_COARSE_SLOTS, LAT_FINE_SLOTS},
};

#define NSLOTS (LAT_FINE_SLOTS + LAT_COARSE_SLOTS)

int lat_bucket_of(uint64_t value_ns)
{
	int k;

	if (value_ns < LAT_MIN_NS)
		return 0;
	if (value_ns > LAT_MAX_NS)
		return LAT_NBUCKETS - 1;
	k = (int)ceil(log((double)value_ns) / LN_GAMMA);
	/* rounding in log() can put a value on a range edge one bucket out */
	if (k < LAT_K_LO)
		k = LAT_K_LO;
	if (k > LAT_K_HI)
		k = LAT_K_HI;
	return k - LAT_K_LO + 1;
}

uint64_t lat_bucket_value(int bucket)
{
	if (bucket <= 0)
		return LAT_MIN_NS;
	if (bucket >= LAT_NBUCKETS - 1)
		return LAT_MAX_NS;
	/* 2 gamma^k / (gamma + 1) = (1 - a) gamma^k: the point within a of both
	 * ends of (gamma^(k-1), gamma^k] */
	return (uint64_t)((1.0 - LAT_ALPHA) * exp((bucket + LAT_K_LO - 1) * LN_GAMMA) + 0.5);
}

void lat_sketch_init(struct lat_sketch *s) { memset(s, 0, sizeof(*s)); }

void lat_sketch_add(struct lat_sketch *s, uint64_t value_ns, bool error)
{
	s->count++;
	s->errors += error;
	if (value_ns > s->max_ns)
		s->max_ns = value_ns;
	s->buckets[lat_bucket_of(value_ns)]++;
}

void lat_sketch_merge(struct lat_sketch *dst, const struct lat_sketch *src)
{
	int i;

	dst->count += src->count;
	dst->errors += src->errors;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
	for (i = 0; i < LAT_NBUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
}

uint64_t lat_sketch_quantile(const struct lat_sketch *s, double q)
{
	uint64_t total = 0, rank, seen = 0, v;
	int i;

	for (i = 0; i < LAT_NBUCKETS; i++)
		total += s->buckets[i];
	if (!total)
		return 0;
	if (q >= 1.0)
		return s->max_ns;
	if (q < 0)
		q = 0;
	rank = (uint64_t)(q * (double)(total - 1));
	for (i = 0; i < LAT_NBUCKETS; i++) {
		seen += s->buckets[i];
		if (seen > rank)
			break;
	}
	v = lat_bucket_value(i);
	/* the bucket's value may lie above every sample in it; the maximum is
	 * exact and clamping towards it only brings the answer closer */
	return s->max_ns && v > s->max_ns ? s->max_ns : v;
}

static size_t slot_heap_bytes(const struct lat_slot *sl)
{
	return sl->cap ? (size_t)sl->cap * sizeof(uint32_t) : sl->len;
}

static void slot_clear(struct lat_slot *sl, struct lat_mem *mem)
{
	if (mem)
		mem->bytes -= slot_heap_bytes(sl);
	free(sl->data);
	memset(sl, 0, sizeof(*sl));
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static uint64_t get_varint(const uint8_t **p, const uint8_t *end)
{
	uint64_t v = 0;
	int shift = 0;

	while (*p < end && shift < 64) {
		uint8_t b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
		shift += 7;
	}
	return v;
}

/* Packs a hot slot in place; on ENOMEM it stays hot, which is still valid. */
static void slot_pack(struct lat_slot *sl, struct lat_mem *mem)
{
	uint8_t tmp[PACK_MAX_BYTES];
	const uint32_t *wd = sl->data;
	size_t n = 0, old = slot_heap_bytes(sl);
	int prev = -1, i = 0;
	uint8_t *blob = NULL;

	if (!sl->cap)
		return;
	while (i < sl->len) {
		int b = (int)(wd[i] >> HOT_SHIFT);
		uint64_t c = 0;
		int d = b - prev;

		for (; i < sl->len && (int)(wd[i] >> HOT_SHIFT) == b; i++)
			c += wd[i] & HOT_COUNT_MASK;
		if (d <= 8 && c <= 16) {
			tmp[n++] = (uint8_t)((d - 1) << 4 | (int)(c - 1));
		} else {
			tmp[n++] = PACK_ESCAPE;
			n += put_varint(tmp + n, (uint64_t)d);
			n += put_varint(tmp + n, c);
		}
		prev = b;
	}
	if (n) {
		blob = malloc(n);
		if (!blob)
			return;
		memcpy(blob, tmp, n);
	}
	free(sl->data);
	sl->data = blob;
	sl->len = (uint16_t)n;
	sl->cap = 0;
	if (mem)
		mem->bytes = mem->bytes - old + n;
}

static bool slot_is_packed(const struct lat_slot *sl) { return !sl->cap && sl->len; }

/* Adds a slot's buckets into a dense array. */
static void slot_collect(const struct lat_slot *sl, uint64_t *buckets)
{
	if (sl->cap) {
		const uint32_t *wd = sl->data;
		int i;

		for (i = 0; i < sl->len; i++)
			buckets[wd[i] >> HOT_SHIFT] += wd[i] & HOT_COUNT_MASK;
	} else if (sl->len) {
		const uint8_t *p = sl->data, *end = p + sl->len;
		int64_t b = -1;

		while (p < end) {
			uint8_t x = *p++;
			uint64_t c;

			if (x & PACK_ESCAPE) {
				b += (int64_t)get_varint(&p, end);
				c = get_varint(&p, end);
			} else {
				b += (x >> 4) + 1;
				c = (x & 15) + 1;
			}
			if (b >= 0 && b < LAT_NBUCKETS)
				buckets[b] += c;
		}
	}
}

static bool slot_grow(struct lat_slot *sl, struct lat_mem *mem)
{
	int cap = sl->cap ? sl->cap * 2 : 8;
	size_t more = (size_t)(cap - sl->cap) * sizeof(uint32_t);
	uint32_t *wd;

	if (cap > HOT_CAP_MAX)
		return false;
	if (mem && mem->limit && mem->bytes + more > mem->limit)
		return false;
	wd = realloc(sl->data, (size_t)cap * sizeof(uint32_t));
	if (!wd)
		return false;
	sl->data = wd;
	sl->cap = (uint16_t)cap;
	if (mem)
		mem->bytes += more;
	return true;
}

/* Counts one sample of bucket b in a hot (or empty) slot. */
static void slot_add_bucket(struct lat_slot *sl, struct lat_mem *mem, int b)
{
	uint32_t key = (uint32_t)b << HOT_SHIFT | HOT_COUNT_MASK;
	uint32_t *wd = sl->data;
	int lo = 0, hi = sl->len;

	/* the first word past every word of bucket b */
	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (wd[mid] <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && (int)(wd[lo - 1] >> HOT_SHIFT) == b &&
	    (wd[lo - 1] & HOT_COUNT_MASK) != HOT_COUNT_MASK) {
		wd[lo - 1]++;
		return;
	}
	if (sl->len == sl->cap && !slot_grow(sl, mem)) {
		/* out of budget: the nearest bucket still counted keeps the
		 * count exact and the quantile close */
		int near = -1;

		if (mem)
			mem->degraded++;
		if (lo > 0)
			near = lo - 1;
		if (lo < sl->len &&
		    (near < 0 || (int)(wd[lo] >> HOT_SHIFT) - b < b - (int)(wd[near] >> HOT_SHIFT)))
			near = lo;
		if (near >= 0 && (wd[near] & HOT_COUNT_MASK) != HOT_COUNT_MASK)
			wd[near]++;
		return;
	}
	wd = sl->data;
	memmove(wd + lo + 1, wd + lo, (size_t)(sl->len - lo) * sizeof(*wd));
	wd[lo] = (uint32_t)b << HOT_SHIFT | 1;
	sl->len++;
}

static void slot_add(struct lat_slot *sl, struct lat_mem *mem, int b, uint64_t value_ns, bool error)
{
	sl->count++;
	sl->errors += error;
	if (value_ns > sl->max_ns)
		sl->max_ns = value_ns;
	slot_add_bucket(sl, mem, b);
}

/* Time is at slot e of a ring: slots no window can reach are freed, slots
 * before e are packed. Returns whether any slot is left. */
static bool ring_age(struct lat_slot *ring, const struct ring *rg, struct lat_mem *mem, uint32_t e)
{
	bool any = false;
	int i;

	for (i = 0; i < rg->n; i++) {
		struct lat_slot *sl = &ring[i];

		if (!sl->epoch)
			continue;
		/* the widest window of a ring starts n - 1 slots back */
		if (sl->epoch + (uint32_t)rg->n <= e) {
			slot_clear(sl, mem);
			continue;
		}
		if (sl->epoch < e)
			slot_pack(sl, mem);
		any = true;
	}
	return any;
}

bool lat_window_record(struct lat_window *w, struct lat_mem *mem, uint64_t now_ns,
		       uint64_t value_ns, bool error)
{
	return lat_window_record_bucket(w, mem, now_ns, value_ns, lat_bucket_of(value_ns), error);
}

bool lat_window_record_bucket(struct lat_window *w, struct lat_mem *mem, uint64_t now_ns,
			      uint64_t value_ns, int b, bool error)
{
	bool filed = false;
	int r;

	if (!w->slots) {
		w->slots = calloc(NSLOTS, sizeof(*w->slots));
		if (!w->slots)
			return false;
		if (mem)
			mem->bytes += NSLOTS * sizeof(*w->slots);
	}
	for (r = 0; r < 2; r++) {
		const struct ring *rg = &rings[r];
		struct lat_slot *ring = w->slots + rg->first;
		uint32_t e = (uint32_t)(now_ns / rg->width_ns) + 1;
		struct lat_slot *sl = &ring[e % rg->n];

		if (e > w->head[r]) {
			w->head[r] = e;
			ring_age(ring, rg, mem, e);
		} else if (w->head[r] - e >= (uint32_t)rg->n) {
			continue; /* older than this ring reaches */
		}
		if (sl->epoch != e) {
			slot_clear(sl, mem);
			sl->epoch = e;
		} else if (slot_is_packed(sl)) {
			/* a late sample for a slot already packed goes to the
			 * newest slot, a slot or so later: unpacking for it is
			 * not worth the code */
			sl = &ring[w->head[r] % rg->n];
		}
		if (slot_is_packed(sl)) {
			/* the newest slot is packed too (expired by the clock,
			 * then a sample from the past): counted, no bucket */
			sl->count++;
			sl->errors += error;
			if (value_ns > sl->max_ns)
				sl->max_ns = value_ns;
			if (mem)
				mem->degraded++;
		} else {
			slot_add(sl, mem, b, value_ns, error);
		}
		filed = true;
	}
	return filed;
}

static const struct ring *ring_for(uint32_t *window_s)
{
	if (*window_s < LAT_WINDOW_MIN_S)
		*window_s = LAT_WINDOW_MIN_S;
	if (*window_s > LAT_WINDOW_MAX_S)
		*window_s = LAT_WINDOW_MAX_S;
	if (*window_s * 1000000000ULL <= (LAT_FINE_SLOTS - 1) * LAT_FINE_NS)
		return &rings[0];
	return &rings[1];
}

static uint32_t first_epoch(const struct ring *rg, uint64_t now_ns, uint32_t window_s)
{
	uint64_t w = window_s * 1000000000ULL;

	return (uint32_t)((now_ns > w ? now_ns - w : 0) / rg->width_ns) + 1;
}

uint64_t lat_window_start(uint64_t now_ns, uint32_t window_s)
{
	const struct ring *rg = ring_for(&window_s);

	return (uint64_t)(first_epoch(rg, now_ns, window_s) - 1) * rg->width_ns;
}

uint64_t lat_window_collect(const struct lat_window *w, uint64_t now_ns, uint32_t window_s,
			    struct lat_sketch *acc)
{
	const struct ring *rg = ring_for(&window_s);
	uint32_t first = first_epoch(rg, now_ns, window_s);
	uint32_t last = (uint32_t)(now_ns / rg->width_ns) + 1;
	int i;

	if (w->slots) {
		for (i = 0; i < rg->n; i++) {
			const struct lat_slot *sl = &w->slots[rg->first + i];

			if (sl->epoch < first || sl->epoch > last)
				continue;
			acc->count += sl->count;
			acc->errors += sl->errors;
			if (sl->max_ns > acc->max_ns)
				acc->max_ns = sl->max_ns;
			slot_collect(sl, acc->buckets);
		}
	}
	return (uint64_t)(first - 1) * rg->width_ns;
}

void lat_window_expire(struct lat_window *w, struct lat_mem *mem, uint64_t now_ns)
{
	bool any = false;
	int r;

	if (!w->slots)
		return;
	for (r = 0; r < 2; r++) {
		const struct ring *rg = &rings[r];
		uint32_t e = (uint32_t)(now_ns / rg->width_ns) + 1;

		if (ring_age(w->slots + rg->first, rg, mem, e))
			any = true;
	}
	if (!any)
		lat_window_free(w, mem);
}

void lat_window_free(struct lat_window *w, struct lat_mem *mem)
{
	int i;

	if (w->slots) {
		for (i = 0; i < NSLOTS; i++)
			slot_clear(&w->slots[i], mem);
		free(w->slots);
		if (mem)
			mem->bytes -= NSLOTS * sizeof(*w->slots);
	}
	memset(w, 0, sizeof(*w));
}

size_t lat_window_bytes(const struct lat_window *w)
{
	size_t n;
	int i;

	if (!w->slots)
		return 0;
	n = NSLOTS * sizeof(*w->slots);
	for (i = 0; i < NSLOTS; i++)
		n += slot_heap_bytes(&w->slots[i]);
	return n;
}

void lat_summarize(const struct lat_sketch *acc, uint64_t start_ns, uint64_t since_ns,
		   uint64_t now_ns, struct lat_summary *out)
{
	uint64_t from = since_ns > start_ns ? since_ns : start_ns;
	uint64_t span = now_ns > from ? now_ns - from : 0;

	if (span < 1000000000ULL)
		span = 1000000000ULL;
	memset(out, 0, sizeof(*out));
	out->count = acc->count;
	out->errors = acc->errors;
	out->span_ns = span;
	out->rate = (double)acc->count / ((double)span / 1e9);
	out->error_rate = acc->count ? (double)acc->errors / (double)acc->count : 0;
	out->p50_ns = lat_sketch_quantile(acc, 0.50);
	out->p90_ns = lat_sketch_quantile(acc, 0.90);
	out->p99_ns = lat_sketch_quantile(acc, 0.99);
	out->max_ns = acc->max_ns;
}

void lat_sketch_write_json(const struct lat_sketch *s, struct jsonw *w)
{
	jw_ku64(w, "count", s->count);
	jw_ku64(w, "errors", s->errors);
	jw_ku64(w, "maxNs", s->max_ns);
	jw_key(w, "buckets");
	jw_arr_open(w);
	for (int i = 0; i < LAT_NBUCKETS; i++) {
		if (!s->buckets[i])
			continue;
		jw_arr_open(w);
		jw_u64(w, (uint64_t)i);
		jw_u64(w, s->buckets[i]);
		jw_u64(w, lat_bucket_value(i));
		jw_arr_close(w);
	}
	jw_arr_close(w);
}

void lat_layout_write_json(struct jsonw *w)
{
	jw_obj_open(w);
	jw_key(w, "relativeError");
	jw_dbl(w, LAT_ALPHA);
	jw_ku64(w, "kLow", LAT_K_LO);
	jw_ku64(w, "kHigh", LAT_K_HI);
	jw_ku64(w, "buckets", LAT_NBUCKETS);
	jw_obj_close(w);
}
