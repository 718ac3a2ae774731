/* SPDX-License-Identifier: Apache-2.0 */
/* latency.h: latency sketches with a guaranteed relative error, and sliding
 * windows of them, behind the latency API and `bpfmesh top`.
 *
 * Sketch: log-spaced buckets in the manner of DDSketch. Bucket k holds the
 * values in (gamma^(k-1), gamma^k] ns with gamma = (1 + a) / (1 - a), a = 0.01;
 * a quantile is answered with the bucket's value 2 gamma^k / (gamma + 1), which
 * is within 1% of every value in the bucket. Unlike a fixed-width or
 * explicit-bucket histogram the error is relative, so a 200 us cache hit and a
 * 3 s timeout are both told to 1%. The range is fixed, 1 us .. 100 s (922
 * buckets); values outside it are counted in an underflow and an overflow
 * bucket and answered as 1 us and 100 s. The maximum is kept exactly.
 *
 * Window: two rings of time slots, one of 10 s slots for windows up to 60 s
 * and one of 60 s slots for windows up to 15 min. Every sample goes into
 * both. Two rings instead of one ring of 90 slots of 10 s: a 15 min window at
 * 10 s resolution costs 4 times the memory, and nobody asks for the p99 of
 * the last 7 min 40 s. A window of W seconds covers the slots from the one
 * holding now - W to the current one, so it spans W to W + one slot; the
 * span it really covered is returned, and rates are computed over it.
 *
 * Memory, why sparse: one series' latencies fall into a narrow band of the
 * 922 buckets (a spread of 10x is 115 buckets), and most slots of most
 * series are empty. A slot takes memory only when it has samples; the slot
 * being written holds sorted (bucket, count) pairs of 4 bytes; once time has
 * moved past it, it is packed into about one byte per non-empty bucket.
 *   idle series (nothing in 15 min):   16 bytes (struct lat_window)
 *   active series:                   + 736 bytes of slot headers
 *                                     + 4 bytes per bucket in the 2 current slots
 *                                     + ~1 byte per bucket in the 21 past slots
 * Measured with lognormal latencies (test_latency), malloc's own overhead
 * (~16 bytes a slot) aside: 1.6 KB at 1 request/s, 3.0 KB at 10/s, 6.9 KB
 * at 100/s, 11.9 KB at 1000/s. Every bucket of every slot used would take
 * about 28 KB (70 KB with more than 16 samples in each bucket of each slot).
 * A struct lat_mem shared by many windows caps the total: past its limit a
 * slot no longer grows and a new sample is counted in the slot's nearest
 * bucket (counts stay exact, the quantile is approximate; lat_mem.degraded
 * says how often).
 *
 * Time is CLOCK_MONOTONIC ns passed in by the caller. Single-threaded: the
 * caller locks. */
#ifndef BPFMESH_LATENCY_H
#define BPFMESH_LATENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAT_ALPHA 0.01		   /* the stated relative error */
#define LAT_MIN_NS 1000ULL	   /* 1 us; below: underflow */
#define LAT_MAX_NS 100000000000ULL /* 100 s; above: overflow */
#define LAT_K_LO 346		   /* ceil(log_gamma(LAT_MIN_NS)) */
#define LAT_K_HI 1267		   /* ceil(log_gamma(LAT_MAX_NS)) */
/* bucket 0: underflow; 1 .. LAT_K_HI - LAT_K_LO + 1: log buckets; last: overflow */
#define LAT_NBUCKETS (LAT_K_HI - LAT_K_LO + 3)

#define LAT_FINE_NS 10000000000ULL   /* 10 s slots ... */
#define LAT_FINE_SLOTS 7	     /* ... for windows up to 60 s */
#define LAT_COARSE_NS 60000000000ULL /* 60 s slots ... */
#define LAT_COARSE_SLOTS 16	     /* ... for windows up to 15 min */
#define LAT_WINDOW_MIN_S 10
#define LAT_WINDOW_MAX_S 900

/* A dense sketch: a query's accumulator and the unit of merging; 7.4 KB. */
struct lat_sketch {
	uint64_t count;
	uint64_t errors;
	uint64_t max_ns;
	uint64_t buckets[LAT_NBUCKETS];
};

void lat_sketch_init(struct lat_sketch *s);
void lat_sketch_add(struct lat_sketch *s, uint64_t value_ns, bool error);
void lat_sketch_merge(struct lat_sketch *dst, const struct lat_sketch *src);
/* The q-quantile (0 <= q <= 1) in ns: the value of rank floor(q * (count - 1))
 * to within LAT_ALPHA, never above the maximum; 0 when empty. */
uint64_t lat_sketch_quantile(const struct lat_sketch *s, double q);

/* The sketch on the wire, for merging across agents (`bpfmesh services
 * --cluster`): into the JSON object open at w, "count", "errors", "maxNs" and
 * "buckets": [[index, count, valueNs], ...], the non-empty buckets in index
 * order with the value each answers with, so that a reader merges by index
 * and answers a quantile as lat_sketch_quantile does without the bucket
 * arithmetic. lat_layout_write_json writes the layout that makes two sketches
 * mergeable (same alpha and bucket range): {"relativeError", "kLow", "kHigh",
 * "buckets"}. */
struct jsonw;
void lat_sketch_write_json(const struct lat_sketch *s, struct jsonw *w);
void lat_layout_write_json(struct jsonw *w);

/* The bucket of a value, and the value a bucket answers with. */
int lat_bucket_of(uint64_t value_ns);
uint64_t lat_bucket_value(int bucket);

/* Memory shared by many windows. limit 0: no limit. */
struct lat_mem {
	size_t bytes;	   /* held now by the windows using it */
	size_t limit;	   /* past it, slots stop growing */
	uint64_t degraded; /* samples filed in a nearest bucket for want of memory */
};

struct lat_slot;

/* A sliding window; all zero is a valid empty window. */
struct lat_window {
	struct lat_slot *slots; /* LAT_FINE_SLOTS + LAT_COARSE_SLOTS, NULL while idle */
	uint32_t head[2];	/* newest slot number seen per ring, + 1 */
};

/* Records one sample at now_ns (the time to file it under; a time older than
 * the newest slot still goes into its slot if that is in the window). mem may
 * be NULL. Returns false when the sample was too old for any slot or memory
 * for the window's first slot could not be had. */
bool lat_window_record(struct lat_window *w, struct lat_mem *mem, uint64_t now_ns,
		       uint64_t value_ns, bool error);
/* The same with value_ns's bucket, lat_bucket_of(value_ns), already known:
 * a span files one duration in three windows, and the bucket is a log(). */
bool lat_window_record_bucket(struct lat_window *w, struct lat_mem *mem, uint64_t now_ns,
			      uint64_t value_ns, int bucket, bool error);

/* Adds the samples of the last window_s seconds (clamped to
 * LAT_WINDOW_MIN_S .. LAT_WINDOW_MAX_S) into acc, so that several windows can
 * be merged into one answer. Returns the start of the span covered, in the
 * same clock as now_ns; the same for every window at the same (now, window_s). */
uint64_t lat_window_collect(const struct lat_window *w, uint64_t now_ns, uint32_t window_s,
			    struct lat_sketch *acc);
uint64_t lat_window_start(uint64_t now_ns, uint32_t window_s);

/* Releases slots that no window can reach any more, and the slot array when
 * none is left; call every few seconds. */
void lat_window_expire(struct lat_window *w, struct lat_mem *mem, uint64_t now_ns);
void lat_window_free(struct lat_window *w, struct lat_mem *mem);
size_t lat_window_bytes(const struct lat_window *w); /* heap held, without the struct */

/* What a query answers. */
struct lat_summary {
	uint64_t count;
	uint64_t errors;
	double rate;	   /* samples per second over span_ns */
	double error_rate; /* errors / count, 0 when count is 0 */
	uint64_t p50_ns, p90_ns, p99_ns, max_ns;
	uint64_t span_ns; /* the time the answer covers */
};

/* Summarises acc, collected over [start_ns, now_ns]. Data cannot be older
 * than since_ns (when the caller began to observe): the span starts there if
 * that is later, so a rate is not diluted by time nobody was watching. The
 * span is at least 1 s. */
void lat_summarize(const struct lat_sketch *acc, uint64_t start_ns, uint64_t since_ns,
		   uint64_t now_ns, struct lat_summary *out);

#endif
