/* SPDX-License-Identifier: Apache-2.0 */
/* injread: an application that reads the way traceparent injection could
 * break (grafana/beyla#2941: sockets in a sockmap misreport FIONREAD), on a
 * connection whose client socket bpfmesh injects into.
 *   injread serve PORT     accept one connection on 127.0.0.1:PORT; wait
 *                          with poll, read the request with FIONREAD and
 *                          splice; print "server received N fionread F
 *                          traceparents T"; answer 200 with a 1000-byte body
 *   injread client PORT    connect, send one GET (print "client sent N"),
 *                          wait with poll until FIONREAD shows the whole
 *                          response, splice it out; print "client fionread F
 *                          spliced S expected E intact 0|1"
 * Exits 0 when it could do all of it (the test compares the numbers). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY 1000
static const char req[] = "GET /injread HTTP/1.1\r\nHost: injread\r\nUser-Agent: injread\r\n\r\n";

/* Poll until at least want bytes are readable (FIONREAD), up to 3 s: the
 * last FIONREAD value, -1 when never readable. */
static int wait_avail(int fd, int want)
{
	int avail = -1;

	for (int i = 0; i < 300; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, 10) == 1 && (p.revents & POLLIN)) {
			if (ioctl(fd, FIONREAD, &avail))
				return -1;
			if (avail >= want)
				break;
		}
	}
	return avail;
}

/* splice n bytes of fd into buf through a pipe; bytes moved */
static int splice_in(int fd, char *buf, int n)
{
	int p[2], got = 0;

	if (pipe(p))
		return -1;
	while (got < n) {
		ssize_t s = splice(fd, NULL, p[1], NULL, (size_t)(n - got), SPLICE_F_NONBLOCK);
		ssize_t r;

		if (s <= 0)
			break;
		r = read(p[0], buf + got, (size_t)s);
		if (r != s)
			break;
		got += (int)r;
	}
	close(p[0]);
	close(p[1]);
	return got;
}

static int serve(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0), fd, avail, n, tps = 0;
	char buf[4096], resp[2048];

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (void *)&a, sizeof(a)) || listen(lfd, 1))
		return perror("listen"), 1;
	printf("ready\n");
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return perror("accept"), 1;
	/* the request is sent in one write: all of it is there at once */
	avail = wait_avail(fd, (int)sizeof(req) - 1);
	usleep(100000);
	ioctl(fd, FIONREAD, &avail);
	n = splice_in(fd, buf, avail > 0 && avail < (int)sizeof(buf) ? avail : 0);
	buf[n > 0 ? n : 0] = 0;
	for (char *p = buf; (p = strstr(p, "\ntraceparent: ")); p++)
		tps++;
	printf("server received %d fionread %d traceparents %d\n", n, avail, tps);
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BODY);
	memset(resp + n, 'x', BODY);
	if (write(fd, resp, (size_t)(n + BODY)) != n + BODY)
		return perror("write"), 1;
	fflush(stdout);
	sleep(1);
	close(fd);
	return 0;
}

static int client(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), head, want, avail, got;
	char expect[2048], buf[2048];

	if (connect(fd, (void *)&a, sizeof(a)))
		return perror("connect"), 1;
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
		return perror("write"), 1;
	printf("client sent %zu\n", sizeof(req) - 1);
	head =
	    snprintf(expect, sizeof(expect), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BODY);
	memset(expect + head, 'x', BODY);
	want = head + BODY;
	avail = wait_avail(fd, want);
	got = splice_in(fd, buf, avail > 0 && avail <= want ? avail : want);
	printf("client fionread %d spliced %d expected %d intact %d\n", avail, got, want,
	       got == want && !memcmp(buf, expect, (size_t)want));
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "client"))
		return client(atoi(argv[2]));
	fprintf(stderr, "usage: injread serve|client PORT\n");
	return 2;
}
