/* SPDX-License-Identifier: Apache-2.0 */
/* token.c: a bearer token from a file, checked to be one sendable token. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/token.h"

/* a token is a line, not a document: anything bigger is the wrong file */
#define TOKEN_FILE_MAX 4096

char *token_file_read(const char *path, char *err, size_t err_len)
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
