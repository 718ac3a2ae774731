/* SPDX-License-Identifier: Apache-2.0 */
/* tracectx.h: W3C Trace Context values, the same whichever protocol carried
 * them (an HTTP/1.x header, an HTTP/2 or gRPC metadata entry): the parser of
 * a protocol hands the raw value over in the observation (obs.h), and the
 * span builder reads it here. */
#ifndef BPFMESH_TRACECTX_H
#define BPFMESH_TRACECTX_H

#include <stddef.h>
#include <stdint.h>

struct trace_parent {
	uint8_t trace_id[16];
	uint8_t span_id[8]; /* the caller's span: the parent */
	uint8_t flags;	    /* bit 0: sampled */
};

/* A traceparent value (version-format 00; later versions are read by their
 * version-00 prefix as the spec asks; version ff, uppercase hex and all-zero
 * ids are invalid). 0 or -EINVAL. */
int tracectx_parse_traceparent(const char *v, size_t n, struct trace_parent *out);

#endif
