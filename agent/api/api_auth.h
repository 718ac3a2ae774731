/* SPDX-License-Identifier: Apache-2.0 */
/* api_auth.h: who may ask the agent API what. In order:
 *   1. the Host header must name the listener (api_host.h: DNS rebinding);
 *   2. with --api-token-file, the bearer token on every path but the probes
 *      (/healthz, /readyz: kubelet and systemd need no secret) and /metrics
 *      (unless --metrics-auth);
 *   3. without a token, the paths that show what requests carried and how
 *      the node is set up (/api/v1/traces: every url.path, tokens in paths
 *      included; /api/v1/config) only to root or the agent's own user on
 *      this host, unless --api-open-sensitive. */
#ifndef BPFMESH_API_AUTH_H
#define BPFMESH_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "api/api_host.h"

struct MHD_Connection;
struct sockaddr_storage;

struct api_auth {
	char *token; /* NULL: the API is open */
	size_t len;
	bool metrics;		/* /metrics needs the token too */
	bool open_sensitive;	/* without a token: traces and config for anyone */
	struct api_hosts hosts; /* --api-allowed-hosts (none: n == 0) */
};

/* Load the token (path NULL: no authentication). 0, or -1 with err set. */
int api_auth_init(struct api_auth *au, const char *path, bool metrics, char *err, size_t err_len);
void api_auth_free(struct api_auth *au);

/* Whether a request for url must carry the token. */
bool api_auth_needed(const struct api_auth *au, const char *url);

/* Check an Authorization header value (NULL when absent) in constant time:
 * NULL when it carries the token, else the reason for the client. */
const char *api_auth_verify(const struct api_auth *au, const char *authorization);

/* The gate at the top of the API handler: NULL when the request may go
 * on, else the reason to answer with api_auth_reply(). */
const char *api_auth_check(const struct api_auth *au, struct MHD_Connection *c, const char *url);

/* Paths that without a token only root or the agent's user may read. */
bool api_path_sensitive(const char *url);

/* The whole gate, 1 to 3 above, for a listener on listen: 0 when the
 * request may go on, else the status to answer (400 HTTP/1.1 without Host,
 * 421 Host, 401 token, 403 sensitive) with *why for api_access_reply(). */
unsigned api_access_check(const struct api_auth *au, const struct sockaddr_storage *listen,
			  struct MHD_Connection *c, const char *url, const char *version,
			  const char **why);
int api_access_reply(struct MHD_Connection *c, unsigned status, const char *why);

/* Queue 401 {"error": why} with WWW-Authenticate: Bearer. Returns MHD's
 * result (MHD_YES / MHD_NO). */
int api_auth_reply(struct MHD_Connection *c, const char *why);

/* Queue a JSON error with one extra header (401's WWW-Authenticate, 405's
 * Allow). Returns MHD's result. */
int api_reply_error_hdr(struct MHD_Connection *c, unsigned status, const char *msg,
			const char *header, const char *value);

#endif
