/* SPDX-License-Identifier: Apache-2.0 */
/* inject_selftest.c: does a socket in the injection sockhash still behave
 * like a socket? (inject.h). Everything here is loopback and the agent's
 * own: the pair is put in the sockhash by hand, so no cgroup and no other
 * process is involved. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lb/inject.h"

#define SELFTEST_WAIT_MS 2000

static const char req[] = "GET /bpfmesh-selftest HTTP/1.1\r\nHost: selftest\r\n\r\n";
static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

static int fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* Wait until fd is readable and holds at least want bytes (FIONREAD), or
 * the wait ends; the last FIONREAD value, -1 when poll never said readable. */
static int wait_bytes(int fd, int want)
{
	int avail = -1;

	for (int waited = 0; waited < SELFTEST_WAIT_MS; waited += 10) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, 10) == 1 && (p.revents & POLLIN)) {
			if (ioctl(fd, FIONREAD, &avail))
				return -1;
			if (avail >= want)
				return avail;
		}
	}
	return avail;
}

static int pair(int *cfd, int *sfd)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	*cfd = *sfd = -1;
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&a, &al))
		goto err;
	*cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*cfd < 0 || connect(*cfd, (struct sockaddr *)&a, sizeof(a)))
		goto err;
	*sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*sfd < 0)
		goto err;
	close(lfd);
	return 0;
err:
	close(lfd);
	return -errno;
}

/* The server's side: the request, with exactly one header after its line. */
static int check_request(int sfd, char *why, size_t len)
{
	char buf[512];
	int want = (int)sizeof(req) - 1 + INJECT_HDR_LEN, line = (int)strcspn(req, "\n") + 1;
	int avail = wait_bytes(sfd, want);
	ssize_t n;

	if (avail < 0)
		return fail(why, len, "the receiver never polled readable");
	if (avail != want)
		return fail(why, len, "FIONREAD %d on the receiver, %d bytes sent", avail, want);
	n = recv(sfd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != want)
		return fail(why, len, "the receiver read %zd bytes of %d", n, want);
	if (memcmp(buf, req, line) || memcmp(buf + line, "traceparent: 00-", 16) ||
	    memcmp(buf + line + INJECT_HDR_LEN, req + line, sizeof(req) - 1 - line))
		return fail(why, len, "the receiver's bytes are not the request plus a header");
	return 0;
}

/* The client's side (the socket in the sockhash): the response, by poll,
 * FIONREAD and splice. */
static int check_response(int cfd, int sfd, char *why, size_t len)
{
	int want = (int)sizeof(resp) - 1, avail, p[2];
	char buf[128] = "";
	ssize_t n;

	if (send(sfd, resp, want, MSG_NOSIGNAL) != want)
		return fail(why, len, "send: %s", strerror(errno));
	avail = wait_bytes(cfd, want);
	if (avail < 0)
		return fail(why, len, "the sender never polled readable");
	if (avail != want)
		return fail(why, len, "FIONREAD %d after %d bytes", avail, want);
	if (pipe2(p, O_CLOEXEC))
		return fail(why, len, "pipe: %s", strerror(errno));
	n = splice(cfd, NULL, p[1], NULL, (size_t)want, SPLICE_F_NONBLOCK);
	if (n == want)
		n = read(p[0], buf, sizeof(buf));
	close(p[0]);
	close(p[1]);
	if (n != want || memcmp(buf, resp, (size_t)want))
		return fail(why, len, "splice moved %zd bytes of %d", n, want);
	return 0;
}

int inject_selftest(int sockhash_fd, char *why, size_t len)
{
	uint64_t cookie;
	socklen_t cl = sizeof(cookie);
	int cfd, sfd, rc, err = pair(&cfd, &sfd);

	if (err)
		return fail(why, len, "loopback pair: %s", strerror(-err));
	if (getsockopt(cfd, SOL_SOCKET, SO_COOKIE, &cookie, &cl)) {
		rc = fail(why, len, "SO_COOKIE: %s", strerror(errno));
		goto out;
	}
	if (bpf_map_update_elem(sockhash_fd, &cookie, &cfd, BPF_ANY)) {
		rc = fail(why, len, "adding a socket to the sockhash: %s", strerror(errno));
		goto out;
	}
	if (send(cfd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1)
		rc = fail(why, len, "send: %s", strerror(errno));
	else
		rc = check_request(sfd, why, len);
	if (!rc)
		rc = check_response(cfd, sfd, why, len);
	(void)bpf_map_delete_elem(sockhash_fd, &cookie);
out:
	close(cfd);
	close(sfd);
	return rc;
}
