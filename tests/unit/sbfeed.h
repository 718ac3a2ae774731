/* SPDX-License-Identifier: Apache-2.0 */
/* sbfeed.h: the span builder tests' observation of one server request on
 * its own socket: what test_spanbuild_done.c and test_spanbuild_responded.c
 * feed the builder. Header-only: each test binary is one translation unit. */
#ifndef BPFMESH_TEST_SBFEED_H
#define BPFMESH_TEST_SBFEED_H

#include <string.h>
#include <sys/socket.h>

#include "trace/obs.h"

/* A GET on the server socket cookie (peer port 40000 + cookie): its kind
 * and time; the caller adds the target, status and body. */
static inline void sbfeed_obs(struct obs *o, uint64_t cookie, uint8_t kind, uint64_t ts)
{
	memset(o, 0, sizeof(*o));
	o->cookie = cookie;
	o->role = OBS_ROLE_SERVER;
	o->kind = kind;
	o->ts_ns = ts;
	o->local.family = o->remote.family = AF_INET;
	o->local.port = 80;
	o->remote.port = (uint16_t)(40000 + cookie);
	memcpy(o->method, "GET", 4);
}

#endif
