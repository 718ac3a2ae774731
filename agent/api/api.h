/* SPDX-License-Identifier: Apache-2.0 */
/* api.h: the agent's HTTP API (libmicrohttpd, its own thread). */
#ifndef BPFMESH_API_H
#define BPFMESH_API_H

struct agent;
struct api;
struct api_auth;

/* What one client, or all of them, may hold (README, "HTTP API"). A
 * Prometheus server scrapes over one connection, a kubelet probes over one
 * at a time and a CLI command asks over one: these never come near the
 * limits, a flood of idle connections does. Beyond them a connection is
 * closed at once; at API_MAX_CONNECTIONS new ones wait in the kernel's
 * accept queue. A connection that sends nothing for API_IDLE_TIMEOUT_S is
 * closed, so a burst of idle ones frees its slots within that time (a
 * liveness probe fails after 3 periods of 10 s). 256 connections, two
 * listeners, stay well inside the usual 1024 descriptors. */
#define API_MAX_CONNECTIONS 256
#define API_MAX_CONNECTIONS_PER_IP 32
#define API_IDLE_TIMEOUT_S 5
#define API_LOG_INTERVAL_S 10 /* one line per kind of server error */

/* listen is "HOST:PORT" or "[V6]:PORT"; auth (read-only, must outlive the
 * API) says which requests need the bearer token. NULL on error (logged). */
struct api *api_start(struct agent *a, const struct api_auth *auth, const char *listen);
/* A listener that serves only /metrics (and /healthz), for
 * Telemetry.prometheus.listen; the token rules of the API apply. */
struct api *api_start_metrics(struct agent *a, const struct api_auth *auth, const char *listen);
/* Not with the agent's lock held: it waits for the handlers, which take it. */
void api_stop(struct api *api);
/* On the main loop's beat: log how many server errors were left out (NULL
 * is fine). */
void api_tick(struct api *api);

/* Parse "HOST:PORT" / "[V6]:PORT" into a sockaddr; 0 or -EINVAL. */
struct sockaddr_storage;
int api_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *len);

#endif
