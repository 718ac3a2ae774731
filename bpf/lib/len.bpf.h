/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* len.bpf.h: a copy length every verifier can bound. */
#ifndef BPFMESH_LEN_BPF_H
#define BPFMESH_LEN_BPF_H

/* n (1..max, max a power of two) in a form every verifier follows for a
 * helper's size argument: 6.1's learns nothing from `n < 1` (newer ones
 * do), so the size would still start at 0. The barrier keeps clang from
 * dropping the mask, which it can prove idle; (n - 1) & (max - 1) + 1
 * leaves a register bounded by ALU operations alone. */
static __always_inline __u32 len_1_to(__u32 n, __u32 max)
{
	barrier_var(n);
	return ((n - 1) & (max - 1)) + 1;
}

#endif
