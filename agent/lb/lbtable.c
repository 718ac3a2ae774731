/* SPDX-License-Identifier: Apache-2.0 */
/* lbtable.c: weighted slot tables and maglev tables (see lbtable.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lb/lbtable.h"

static uint32_t gcd32(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* Scale weights so they sum to at most cap, keeping every endpoint >= 1 and
 * giving the rounding remainder to the largest fractional parts. */
static void scale_weights(uint64_t *w, int n, uint64_t sum, uint32_t cap)
{
	uint64_t budget = cap - n, used = 0; /* one slot per endpoint is reserved */
	double *frac = calloc(n, sizeof(*frac));
	int i;

	for (i = 0; i < n; i++) {
		double exact = (double)(w[i] - 1) * budget / (double)(sum - n);

		w[i] = 1 + (uint64_t)exact;
		used += w[i] - 1;
		if (frac)
			frac[i] = exact - (double)(uint64_t)exact;
	}
	while (frac && used < budget) {
		int best = 0;

		for (i = 1; i < n; i++)
			if (frac[i] > frac[best])
				best = i;
		if (frac[best] <= 0)
			break;
		w[best]++;
		frac[best] = 0;
		used++;
	}
	free(frac);
}

int lb_weighted_table(const uint32_t *weights, int n, uint32_t cap, uint32_t *out)
{
	uint64_t *w, sum = 0;
	int64_t *cur, total;
	uint32_t g = 0, k;
	int i;

	if (n <= 0)
		return 0;
	if (cap < (uint32_t)n)
		return -EINVAL;
	for (i = 0; i < n; i++)
		g = gcd32(g, weights[i] ? weights[i] : 1);
	w = calloc(n, sizeof(*w));
	cur = calloc(n, sizeof(*cur));
	if (!w || !cur) {
		free(w);
		free(cur);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		w[i] = (weights[i] ? weights[i] : 1) / g;
		sum += w[i];
	}
	if (sum > cap) {
		scale_weights(w, n, sum, cap);
		for (sum = 0, i = 0; i < n; i++)
			sum += w[i];
	}
	/* smooth weighted round robin (as nginx): each step every endpoint
	 * gains its weight, the richest is picked and pays the total */
	total = (int64_t)sum;
	for (k = 0; k < sum; k++) {
		int best = 0;

		for (i = 0; i < n; i++) {
			cur[i] += (int64_t)w[i];
			if (cur[i] > cur[best])
				best = i;
		}
		cur[best] -= total;
		out[k] = best;
	}
	free(w);
	free(cur);
	return (int)sum;
}

static uint64_t mix64(uint64_t x)
{
	/* splitmix64 finaliser: every input bit affects every output bit */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t lb_endpoint_hash(int family, const uint8_t addr[16], uint16_t port)
{
	uint64_t h = 1469598103934665603ULL;
	int i;

	h = mix64(h ^ (uint64_t)family);
	for (i = 0; i < 16; i++) {
		h ^= addr[i];
		h *= 1099511628211ULL;
	}
	h ^= port;
	return mix64(h);
}

int lb_maglev_table(const uint64_t *keys, const uint32_t *weights, int n, uint32_t m,
		    uint32_t *table)
{
	uint64_t *offset, *skip, *next, *credit;
	uint32_t filled = 0, wmax = 0;
	int i, err = 0;

	if (n <= 0 || (uint32_t)n > m)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!weights[i])
			return -EINVAL;
		if (weights[i] > wmax)
			wmax = weights[i];
	}
	offset = calloc(n, sizeof(*offset));
	skip = calloc(n, sizeof(*skip));
	next = calloc(n, sizeof(*next));
	credit = calloc(n, sizeof(*credit));
	if (!offset || !skip || !next || !credit) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		offset[i] = mix64(keys[i] ^ 0x5bd1e9955bd1e995ULL) % m;
		skip[i] = mix64(keys[i] ^ 0xc2b2ae3d27d4eb4fULL) % (m - 1) + 1;
	}
	for (uint32_t j = 0; j < m; j++)
		table[j] = UINT32_MAX;
	while (filled < m) {
		for (i = 0; i < n && filled < m; i++) {
			uint64_t pos;

			credit[i] += weights[i];
			if (credit[i] < wmax)
				continue;
			credit[i] -= wmax;
			do {
				pos = (offset[i] + next[i] * skip[i]) % m;
				next[i]++;
			} while (table[pos] != UINT32_MAX);
			table[pos] = i;
			filled++;
		}
	}
out:
	free(offset);
	free(skip);
	free(next);
	free(credit);
	return err;
}
