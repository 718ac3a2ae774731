/* SPDX-License-Identifier: Apache-2.0 */
/* api_args.h: strict parsing of what a request carries in its path and query,
 * so a malformed request gets a 400 that says what is wrong instead of a
 * silent default or a misleading 404. Pure functions, no I/O. */
#ifndef BPFMESH_API_ARGS_H
#define BPFMESH_API_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/* A whole decimal number from min to max, no sign, no spaces. 0 or -EINVAL. */
int api_arg_long(const char *s, long min, long max, long *out);

/* A service reference from a path, "name" or "namespace/name" (namespace
 * "default" when absent), both checked against the config's naming rules
 * (RFC 1123). 0, or -EINVAL with *why set to a message for the client. */
int api_arg_service(const char *s, char *ns, size_t ns_len, char *name, size_t name_len,
		    const char **why);

/* What a path under /api/v1/services/ asks for:
 *   NAME              the service NAME of namespace default
 *   NS/NAME           the service NAME of namespace NS
 *   NAME/latency      the latency of default/NAME
 *   NS/NAME/latency   the latency of NS/NAME
 * "A/latency" fits both NS/NAME and NAME/latency: then ns/name hold the
 * service "latency" of namespace A and `alt` says that the path also reads
 * as the latency of default/alt_name; the caller picks (api.c: the service
 * when it exists, since it has no other spelling, while A's latency is also
 * default/A/latency). A valid NAME, "latency" included, is always reachable. */
struct api_svc_path {
	char ns[CFG_NAME_MAX], name[CFG_NAME_MAX];
	bool latency; /* the latency view rather than the service */
	bool alt;
	char alt_name[CFG_NAME_MAX];
};

/* 0, or -EINVAL with *why set for the client. */
int api_arg_service_path(const char *s, struct api_svc_path *p, const char **why);

/* A free-form query value (e.g. a span's service name, which may be a
 * process name): printable, at most max bytes. 0 or -EINVAL. */
int api_arg_text(const char *s, size_t max);

/* libmicrohttpd's unescape callback (MHD_OPTION_UNESCAPE_CALLBACK) for the
 * path and query values: %HH decoded, except that a control character
 * (%00 above all, which would cut the string short: "web%00junk" read as
 * "web") becomes DEL, which every check above rejects. */
struct MHD_Connection;
size_t api_unescape(void *cls, struct MHD_Connection *c, char *s);

#endif
