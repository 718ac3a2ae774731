/* SPDX-License-Identifier: Apache-2.0 */
/* api.h: the agent's HTTP API (libmicrohttpd, its own thread). */
#ifndef BPFMESH_API_H
#define BPFMESH_API_H

struct agent;
struct api;
struct api_auth;

/* listen is "HOST:PORT" or "[V6]:PORT"; auth (read-only, must outlive the
 * API) says which requests need the bearer token. NULL on error (logged). */
struct api *api_start(struct agent *a, const struct api_auth *auth, const char *listen);
/* A listener that serves only /metrics (and /healthz), for
 * Telemetry.prometheus.listen; the token rules of the API apply. */
struct api *api_start_metrics(struct agent *a, const struct api_auth *auth, const char *listen);
/* Not with the agent's lock held: it waits for the handlers, which take it. */
void api_stop(struct api *api);

/* Parse "HOST:PORT" / "[V6]:PORT" into a sockaddr; 0 or -EINVAL. */
struct sockaddr_storage;
int api_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *len);

#endif
