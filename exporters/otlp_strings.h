/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_strings.h: strings on their way into and out of OTLP messages, for
 * both encoders: UTF-8 for the wire (protobuf strings must be UTF-8, and a
 * collector refuses the whole request otherwise) and one printable line for
 * what a collector says back into our log. */
#ifndef BPFMESH_OTLP_STRINGS_H
#define BPFMESH_OTLP_STRINGS_H

#include <stddef.h>
#include <stdint.h>

/* The cleaned copies one encoding made; zero-initialised, freed at its end. */
struct otlp_strpool {
	char **owned;
	size_t n, cap;
};

/* s itself when it is valid UTF-8, else a copy (kept in pool) with U+FFFD for
 * each byte that starts no valid sequence: overlong forms, surrogates, values
 * above U+10FFFF and cut sequences are invalid. NULL only when out of memory;
 * protobuf-c wants char * but never writes through it. */
char *otlp_utf8_clean(struct otlp_strpool *pool, const char *s);
void otlp_strpool_free(struct otlp_strpool *pool);

/* src[0..len) into dst as one NUL-terminated line, '?' for every byte that is
 * not printable ASCII, truncated to size - 1. */
void otlp_copy_printable(char *dst, size_t size, const uint8_t *src, size_t len);

#endif
