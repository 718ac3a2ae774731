/* SPDX-License-Identifier: Apache-2.0 */
/* httpc.h: a minimal HTTP/1.0 GET client for the CLI talking to the agent. */
#ifndef BPFMESH_HTTPC_H
#define BPFMESH_HTTPC_H

/* GET http://ADDR/path. Returns the HTTP status (and a malloc'd body in
 * *body), or a negative errno when the agent cannot be reached. */
int httpc_get(const char *addr, const char *path, char **body, int timeout_ms);

#endif
