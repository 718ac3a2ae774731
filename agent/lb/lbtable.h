/* SPDX-License-Identifier: Apache-2.0 */
/* lbtable.h: the table math behind the lookup tables the kernel selects
 * endpoints from: the weighted slot table (random, roundRobin) and the maglev
 * table, over endpoint indexes. Pure functions that lbplan.c turns into each
 * service's tables of ep ids; unit-tested in tests/unit/test_lbtable.c. */
#ifndef BPFMESH_LBTABLE_H
#define BPFMESH_LBTABLE_H

#include <stdint.h>

/* Fill out[] (room for cap entries) with endpoint indexes 0..n-1, each
 * appearing in proportion to weights[i]. Weights are reduced by their gcd; a
 * table that would exceed cap is scaled down (largest remainder), every
 * endpoint keeping at least one slot. The order is smooth weighted round
 * robin, so consecutive slots interleave endpoints. Returns the number of
 * slots written (0 when n == 0), or -EINVAL when cap < n. */
int lb_weighted_table(const uint32_t *weights, int n, uint32_t cap, uint32_t *out);

/* Stable 64-bit hash of an endpoint's identity (address family, address,
 * port), the maglev permutation seed: it must not depend on kernel ids or on
 * the order of endpoints in the config. */
uint64_t lb_endpoint_hash(int family, const uint8_t addr[16], uint16_t port);

/* Maglev (Eisenbud et al., NSDI'16) with weights: fill table[0..m-1] (m prime)
 * with endpoint indexes. Endpoint i takes a turn every time its accumulated
 * weight reaches the largest weight, so it owns about weights[i]/sum of the
 * table. Returns 0, or -EINVAL for n == 0, n > m or a zero weight. */
int lb_maglev_table(const uint64_t *keys, const uint32_t *weights, int n, uint32_t m,
		    uint32_t *table);

#endif
