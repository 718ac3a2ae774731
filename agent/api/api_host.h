/* SPDX-License-Identifier: Apache-2.0 */
/* api_host.h: the Host header check that keeps DNS rebinding away from the
 * API. A web page from evil.example can make a browser on this host connect
 * to 127.0.0.1:9440 by pointing its own name there, but the browser still
 * sends "Host: evil.example": a listener answers only Host values that name
 * it. Pure functions, no I/O. */
#ifndef BPFMESH_API_HOST_H
#define BPFMESH_API_HOST_H

#include <stdbool.h>
#include <stddef.h>

struct sockaddr_storage;

/* --api-allowed-hosts: names and addresses a client may use besides those
 * of the listen address. */
struct api_hosts {
	bool any;     /* "*": no Host check at all */
	char **names; /* lowercase, without port or trailing dot; IPv6 in [] */
	int n;
};

/* Parse "HOST[,HOST...]" (a port after a host is allowed and ignored; "*"
 * allows any Host). NULL or "" is refused, as are empty entries and
 * characters no host name has. 0, or -1 with err set. */
int api_hosts_parse(struct api_hosts *h, const char *list, char *err, size_t err_len);
void api_hosts_free(struct api_hosts *h);

/* Whether a request with this Host header value (NULL or "": none, which
 * HTTP/1.0 allows) may be served by a listener on listen:
 *   - an IP address: the listen address itself; any address when listening
 *     on 0.0.0.0 or [::] (an address is never a rebinding: that needs a name);
 *   - "localhost" when listening on loopback (or on 0.0.0.0 / [::]);
 *   - anything in h (h may be NULL).
 * The port is not compared: a port forward changes it, and rebinding works
 * through the name, not the port. */
bool api_host_allowed(const struct api_hosts *h, const struct sockaddr_storage *listen,
		      const char *host);

#endif
