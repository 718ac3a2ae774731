/* SPDX-License-Identifier: Apache-2.0 */
/* api.h: the agent's HTTP API (libmicrohttpd, its own thread). */
#ifndef BPFMESH_API_H
#define BPFMESH_API_H

struct agent;
struct api;

/* listen is "HOST:PORT" or "[V6]:PORT". NULL on error (logged). */
struct api *api_start(struct agent *a, const char *listen);
void api_stop(struct api *api);

/* Parse "HOST:PORT" / "[V6]:PORT" into a sockaddr; 0 or -EINVAL. */
struct sockaddr_storage;
int api_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *len);

#endif
