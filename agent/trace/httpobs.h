/* SPDX-License-Identifier: Apache-2.0 */
/* httpobs.h: one observation of HTTP/1.x on a socket, as the agent's event
 * reader (agent/trace/events.c) makes it from the kernel's capture events and
 * feeds it to the span builder (agent/trace/spanbuild.c). A connection has two
 * sockets (client side, server side), each with its own cookie; bpfmesh may
 * see one side or both. */
#ifndef BPFMESH_HTTPOBS_H
#define BPFMESH_HTTPOBS_H

#include <stdint.h>

#define OBS_HEAD_MAX 512 /* bytes of a request or response head kept */

enum obs_kind {
	OBS_REQUEST = 1,      /* first bytes of a request (its head, up to OBS_HEAD_MAX) */
	OBS_RESPONSE = 2,     /* first bytes of a response */
	OBS_RESPONSE_END = 3, /* last byte of the response the framing announced */
	OBS_CLOSE = 4,	      /* the socket closed (error != 0: reset, timeout, ...) */
};

enum obs_role {
	OBS_ROLE_CLIENT = 1, /* this socket sends requests */
	OBS_ROLE_SERVER = 2, /* this socket receives requests */
};

struct obs_addr {
	int family; /* AF_INET / AF_INET6 */
	uint8_t addr[16];
	uint16_t port; /* host order */
};

struct http_obs {
	uint64_t cookie;	       /* socket cookie: one side of one connection */
	uint8_t kind;		       /* enum obs_kind */
	uint8_t role;		       /* enum obs_role */
	uint64_t ts_ns;		       /* CLOCK_MONOTONIC: first byte (REQUEST, RESPONSE), last byte
					* (RESPONSE_END) or close */
	uint32_t tgid, tid;	       /* thread that sent (client) or read (server) the request;
					* 0 when unknown */
	char comm[16];		       /* that process's name */
	uint64_t cgroup_id;	       /* its cgroup v2 id (0 when unknown) */
	struct obs_addr local, remote; /* of this socket */
	int error;		       /* OBS_CLOSE: errno (ECONNRESET, ETIMEDOUT), 0 = orderly */
	uint16_t head_len;	       /* bytes in head */
	char head[OBS_HEAD_MAX];       /* REQUEST/RESPONSE: the raw head prefix */
};

#endif
