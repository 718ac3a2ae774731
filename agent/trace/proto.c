/* SPDX-License-Identifier: Apache-2.0 */
/* proto.c: the registry of protocol parsers (see proto.h). Asked in table
 * order: a protocol whose first bytes could be mistaken for another's goes
 * before it. */
#include "trace/proto.h"

/* The parser modules (proto_<name>.c). */
extern const struct proto_parser proto_http1;

static const struct proto_parser *const parsers[] = {
    &proto_http1,
};

#define N_PARSERS (sizeof(parsers) / sizeof(parsers[0]))

const struct proto_parser *proto_detect(uint8_t kind, const char *p, size_t n)
{
	for (size_t i = 0; i < N_PARSERS; i++)
		if (parsers[i]->detect(kind, p, n))
			return parsers[i];
	return NULL;
}

const struct proto_parser *proto_by_id(uint8_t id)
{
	for (size_t i = 0; i < N_PARSERS; i++)
		if (parsers[i]->id == id)
			return parsers[i];
	return NULL;
}
