/* SPDX-License-Identifier: Apache-2.0 */
/* proto.h: the protocol seam. The kernel detects and copies (bpf/lib/
 * <proto>.bpf.h); a parser module per protocol (trace/proto_<proto>.c)
 * turns the copied bytes into protocol-neutral observations (obs.h); the
 * span builder only reads those. The capture reader (events.c) asks the
 * registry which parser claims a record, has it split the record into
 * messages and parse each one.
 *
 * Adding a protocol: its kernel side, a parser module that defines a
 * struct proto_parser, its enum obs_proto value (obs.h) and one line in the
 * table of proto.c. Nothing else in the agent names a protocol. */
#ifndef BPFMESH_PROTO_H
#define BPFMESH_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/obs.h"

#define PROTO_MSGS_MAX 16 /* messages taken from one captured segment */

/* One message within the captured bytes of a segment. */
struct proto_msg {
	int off, len; /* where it starts, and its bytes up to the next one's start */
	bool ends;    /* RESPONSE: its last byte is within the segment */
	/* RESPONSE framed by its length: bytes from the record's first byte
	 * to its last, which may be past the segment; 0 when not known */
	int64_t need;
};

struct proto_parser {
	const char *name; /* "http1" */
	uint8_t id;	  /* enum obs_proto */
	/* Does a message of this protocol of kind (OBS_REQUEST or
	 * OBS_RESPONSE) start at p (n bytes)? Cheap: it runs on every record
	 * until a parser says yes. */
	bool (*detect)(uint8_t kind, const char *p, size_t n);
	/* Where the messages of kind in one segment start: p holds the first
	 * n of its seg_len payload bytes. Fills at most max messages, the first
	 * at 0, and returns how many; 0 only when n is 0. */
	int (*split)(uint8_t kind, const char *p, int n, int seg_len, struct proto_msg *msgs,
		     int max);
	/* One message's fields into o: proto, parse, and the fields of kind
	 * (obs.h). o comes with its capture fields set and the rest zero. */
	void (*parse)(uint8_t kind, const char *p, size_t n, struct obs *o);
};

/* The parser that claims a message of kind starting at p, or NULL. */
const struct proto_parser *proto_detect(uint8_t kind, const char *p, size_t n);

/* The parser registered with id (enum obs_proto), or NULL. */
const struct proto_parser *proto_by_id(uint8_t id);

#endif
