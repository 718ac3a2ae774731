/* SPDX-License-Identifier: Apache-2.0 */
/* httpc.c: enough HTTP to read the agent's JSON: one request per connection,
 * HTTP/1.0 so the body ends at EOF. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "httpc.h"

static int wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = ev};
	int n = poll(&p, 1, timeout_ms);

	return n > 0 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
}

int httpc_get(const char *addr, const char *path, char **body, int timeout_ms)
{
	struct sockaddr_storage ss;
	unsigned len;
	char req[1024], *buf = NULL, *p;
	size_t n = 0, cap = 0;
	int fd, status = -EPROTO;

	*body = NULL;
	if (api_parse_listen(addr, &ss, &len))
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		status = -errno;
		goto out;
	}
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.0\r\nHost: %s\r\nAccept: application/json\r\n\r\n", path, addr);
	if (write(fd, req, strlen(req)) < 0) {
		status = -errno;
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (n + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);

			if (!nb) {
				status = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		if ((status = wait_fd(fd, POLLIN, timeout_ms)))
			goto out;
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			status = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += r;
	}
	status = -EPROTO;
	if (!buf)
		goto out;
	buf[n] = 0;
	if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) {
		status = -EPROTO;
		goto out;
	}
	p = strstr(buf, "\r\n\r\n");
	*body = strdup(p ? p + 4 : "");
out:
	free(buf);
	close(fd);
	return status;
}
