/* SPDX-License-Identifier: Apache-2.0 */
/* percpu.h: reading the kernel's per-CPU counter maps (drop and refusal
 * reasons), which every subsystem keeps the same way. */
#ifndef BPFMESH_PERCPU_H
#define BPFMESH_PERCPU_H

#include <stdint.h>

/* The sum over CPUs of a per-CPU array of u64 counters at key (0 on error,
 * or when fd < 0). */
uint64_t percpu_sum(int fd, uint32_t key);

#endif
