/* SPDX-License-Identifier: Apache-2.0 */
/* api_auth.c: the API's bearer token: read once at startup, compared in
 * constant time so response timing does not reveal how much of a guess
 * was right. */
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

/* a token is a line, not a document: anything bigger is the wrong file */
#define TOKEN_FILE_MAX 4096

char *api_token_read(const char *path, char *err, size_t err_len)
{
	char buf[TOKEN_FILE_MAX + 1];
	ssize_t n = 0, r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return NULL;
	}
	while (n < (ssize_t)sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
			close(fd);
			return NULL;
		}
		n += r;
	}
	close(fd);
	if (n > TOKEN_FILE_MAX) {
		snprintf(err, err_len, "%s: larger than %d bytes; expected one token", path,
			 TOKEN_FILE_MAX);
		return NULL;
	}
	/* editors and `echo` end the file with a newline (CRLF on Windows) */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = 0;
	if (!n) {
		snprintf(err, err_len, "%s: the file is empty; expected a token", path);
		return NULL;
	}
	/* a header can only carry visible ASCII (RFC 6750 b64token and more);
	 * two lines or a space would make a token no client can send */
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] < 0x21 || buf[i] > 0x7e) {
			snprintf(err, err_len,
				 "%s: the token has a space, a line break or a non-ASCII "
				 "character at byte %zd",
				 path, i + 1);
			explicit_bzero(buf, sizeof(buf));
			return NULL;
		}
	}
	char *tok = strdup(buf);

	explicit_bzero(buf, sizeof(buf));
	if (!tok)
		snprintf(err, err_len, "%s: out of memory", path);
	return tok;
}

int api_auth_init(struct api_auth *au, const char *path, bool metrics, char *err, size_t err_len)
{
	struct stat st;

	memset(au, 0, sizeof(*au));
	au->metrics = metrics;
	if (!path)
		return 0;
	au->token = api_token_read(path, err, err_len);
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
