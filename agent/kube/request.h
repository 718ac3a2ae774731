/* SPDX-License-Identifier: Apache-2.0 */
/* request.h: the URLs of LIST and WATCH requests and a libcurl handle set up
 * for one of them: TLS (CA, client certificate, as files or blobs), the
 * bearer token, timeouts. */
#ifndef BPFMESH_KUBE_REQUEST_H
#define BPFMESH_KUBE_REQUEST_H

#include <curl/curl.h>
#include <stdbool.h>

#include "kube/client.h"
#include "kube/kubeconfig.h"

/* what a request asks; NULL or 0 leaves a parameter out */
struct kreq_query {
	bool watch;
	const char *resource_version;
	const char *continue_token;
	unsigned limit;
	unsigned timeout_s; /* watch: timeoutSeconds */
};

/* The URL for resource r on server with query q, malloc'd (NULL: no
 * memory). The collection across all namespaces: /api/v1/pods,
 * /apis/discovery.k8s.io/v1/endpointslices. */
char *kreq_url(const char *server, const struct kube_resource *r, const struct kreq_query *q);

/* Resets e and sets it up for a GET of url. token: NULL for none.
 * timeout_s: the transfer's limit (0: none); low_speed: abort when under a
 * byte a second for a minute (lists, not watches, which idle). *hdrs gets
 * the header list, freed by the caller after the transfer. 0 or -1. */
int kreq_setup(CURL *e, const struct kube_settings *s, const char *url, const char *token,
	       const char *user_agent, long timeout_s, bool low_speed, struct curl_slist **hdrs);

#endif
