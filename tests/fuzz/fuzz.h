/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz.h: what every libFuzzer harness of tests/fuzz shares: the entry
 * point's prototype and the check that turns a broken contract into a crash
 * the fuzzer saves. Parsers that return without a sanitizer report can still
 * be wrong (an unterminated string, a result outside the documented range),
 * so each harness also checks what its header promises. */
#ifndef BPFMESH_FUZZ_H
#define BPFMESH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__,        \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A NUL-terminated heap copy of the input, exactly size + 1 bytes long, so
 * that AddressSanitizer sees a read past the terminator. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	for (size_t i = 0; i < size; i++)
		s[i] = (char)data[i];
	s[size] = '\0';
	return s;
}

#endif
