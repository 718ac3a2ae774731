/* SPDX-License-Identifier: Apache-2.0 */
/* clock.h: CLOCK_MONOTONIC in ns, the clock of the kernel's bpf_ktime_get_ns()
 * and of every deadline in the agent. */
#ifndef BPFMESH_CLOCK_H
#define BPFMESH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif
