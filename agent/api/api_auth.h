/* SPDX-License-Identifier: Apache-2.0 */
/* api_auth.h: bearer-token authentication of the agent API
 * (--api-token-file, --metrics-auth). Probes (/healthz, /readyz) stay open so
 * kubelet and systemd need no secret; /metrics too unless --metrics-auth. */
#ifndef BPFMESH_API_AUTH_H
#define BPFMESH_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct MHD_Connection;

struct api_auth {
	char *token; /* NULL: the API is open */
	size_t len;
	bool metrics; /* /metrics needs the token too */
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

/* Queue 401 {"error": why} with WWW-Authenticate: Bearer. Returns MHD's
 * result (MHD_YES / MHD_NO). */
int api_auth_reply(struct MHD_Connection *c, const char *why);

/* Queue a JSON error with one extra header (401's WWW-Authenticate, 405's
 * Allow). Returns MHD's result. */
int api_reply_error_hdr(struct MHD_Connection *c, unsigned status, const char *msg,
			const char *header, const char *value);

#endif
