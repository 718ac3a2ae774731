/* SPDX-License-Identifier: Apache-2.0 */
/* api_auth.c: the API's gate (api_auth.h). The bearer token is read once at
 * startup and compared in constant time so response timing does not reveal
 * how much of a guess was right. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api/api_auth.h"
#include "lib/jsonw.h"
#include "lib/log.h"
#include "lib/peeruid.h"
#include "lib/token.h"

int api_auth_init(struct api_auth *au, const char *path, bool metrics, char *err, size_t err_len)
{
	struct stat st;

	memset(au, 0, sizeof(*au));
	au->metrics = metrics;
	if (!path)
		return 0;
	au->token = token_file_read(path, err, err_len);
	if (!au->token)
		return -1;
	au->len = strlen(au->token);
	if (!stat(path, &st) && (st.st_mode & 0077))
		log_warn("--api-token-file %s is readable by group or others (mode %03o); "
			 "chmod 600 it",
			 path, st.st_mode & 0777);
	return 0;
}

void api_auth_free(struct api_auth *au)
{
	if (au->token)
		explicit_bzero(au->token, au->len);
	free(au->token);
	api_hosts_free(&au->hosts);
	memset(au, 0, sizeof(*au));
}

bool api_auth_needed(const struct api_auth *au, const char *url)
{
	if (!au->token)
		return false;
	if (!strcmp(url, "/healthz") || !strcmp(url, "/readyz"))
		return false;
	return au->metrics || strcmp(url, "/metrics");
}

/* Walk the whole secret whatever the guess is, so time depends only on the
 * secret's length (which is not what an attacker needs). */
static bool ct_equal(const char *guess, size_t glen, const char *secret, size_t slen)
{
	volatile unsigned char d = glen != slen;

	for (size_t i = 0; i < slen; i++)
		d |= (unsigned char)(secret[i] ^ (glen ? guess[i % glen] : 0));
	return d == 0;
}

const char *api_auth_verify(const struct api_auth *au, const char *authorization)
{
	const char *t;
	size_t n;

	if (!authorization || !*authorization)
		return "missing bearer token (send Authorization: Bearer TOKEN)";
	/* the scheme is case-insensitive (RFC 7235 2.1) */
	if (strncasecmp(authorization, "Bearer ", 7))
		return "expected an Authorization: Bearer token";
	for (t = authorization + 7; *t == ' '; t++)
		;
	for (n = strlen(t); n && (t[n - 1] == ' ' || t[n - 1] == '\t'); n--)
		;
	if (!n)
		return "missing bearer token (send Authorization: Bearer TOKEN)";
	return ct_equal(t, n, au->token, au->len) ? NULL : "invalid token";
}

const char *api_auth_check(const struct api_auth *au, struct MHD_Connection *c, const char *url)
{
	if (!api_auth_needed(au, url))
		return NULL;
	return api_auth_verify(
	    au, MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION));
}

bool api_path_sensitive(const char *url)
{
	return !strcmp(url, "/api/v1/traces") || !strcmp(url, "/api/v1/config");
}

/* Root, or the user the agent runs as, at the other end of a connection
 * from this host; a remote client cannot be told apart from any other. */
static bool peer_privileged(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	uid_t uid;
	int err;

	if (!ci)
		return false;
	err = peer_uid(ci->connect_fd, &uid);
	if (err) {
		if (err != -ENOENT)
			log_debug("API: cannot tell who is at the other end: %s", strerror(-err));
		return false;
	}
	return uid == 0 || uid == geteuid();
}

unsigned api_access_check(const struct api_auth *au, const struct sockaddr_storage *listen,
			  struct MHD_Connection *c, const char *url, const char *version,
			  const char **why)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);

	/* RFC 9112 3.2: a 1.1 request without Host is answered 400 (and
	 * libmicrohttpd would serve it) */
	if ((!host || !*host) && !au->hosts.any && strcmp(version, MHD_HTTP_VERSION_1_0)) {
		*why = "an HTTP/1.1 request needs a Host header";
		return 400;
	}
	if (!api_host_allowed(&au->hosts, listen, host)) {
		*why = "this agent does not answer for that Host header (DNS rebinding?); use "
		       "its listen address, or start it with --api-allowed-hosts";
		return 421;
	}
	*why = api_auth_check(au, c, url);
	if (*why)
		return 401;
	if (!au->token && !au->open_sensitive && api_path_sensitive(url) && !peer_privileged(c)) {
		*why = "without --api-token-file, the agent serves this path only to root or its "
		       "own user on its host (or start it with --api-open-sensitive)";
		return 403;
	}
	return 0;
}

int api_access_reply(struct MHD_Connection *c, unsigned status, const char *why)
{
	return status == 401 ? api_auth_reply(c, why)
			     : api_reply_error_hdr(c, status, why, NULL, NULL);
}

int api_reply_error_hdr(struct MHD_Connection *c, unsigned status, const char *msg,
			const char *header, const char *value)
{
	struct MHD_Response *r;
	struct jsonw w = {};
	int ret;

	jw_obj_open(&w);
	jw_kstr(&w, "error", msg);
	jw_obj_close(&w);
	jw_raw(&w, "\n");
	if (w.failed) {
		jw_free(&w);
		return MHD_NO;
	}
	r = MHD_create_response_from_buffer(w.len, w.buf, MHD_RESPMEM_MUST_COPY);
	jw_free(&w);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (header)
		MHD_add_response_header(r, header, value);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

int api_auth_reply(struct MHD_Connection *c, const char *why)
{
	/* RFC 6750 3: name the scheme, and say when a token was sent but wrong */
	return api_reply_error_hdr(c, 401, why, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				   strcmp(why, "invalid token")
				       ? "Bearer realm=\"bpfmesh\""
				       : "Bearer realm=\"bpfmesh\", error=\"invalid_token\"");
}
