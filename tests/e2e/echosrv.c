/* SPDX-License-Identifier: Apache-2.0 */
/* echosrv: a test endpoint. Every TCP connection gets "NAME\n", again for
 * every chunk it sends, and is held until the client closes it; every UDP
 * datagram is answered with "NAME\n".
 *   echosrv NAME [-t ADDR:PORT]... [-u ADDR:PORT]...
 * Addresses: 127.0.0.1:18081, [::1]:18081. Exits on SIGTERM/SIGINT.
 * SIGUSR1 closes the TCP listeners (new connections are refused, open ones
 * stay), SIGUSR2 opens them again: an endpoint that fails without dying. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 4096

static volatile sig_atomic_t stop, want_closed = -1;

static void on_sig(int s)
{
	if (s == SIGUSR1)
		want_closed = 1;
	else if (s == SIGUSR2)
		want_closed = 0;
	else
		stop = 1;
}

static int parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *c;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		c = strchr(s, ']');
		if (!c)
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int)(c - s - 1), s + 1);
		c++;
	} else {
		c = strrchr(s, ':');
		if (!c)
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int)(c - s), s);
	}
	struct sockaddr_in *a4 = (void *)ss;
	struct sockaddr_in6 *a6 = (void *)ss;

	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(atoi(c + 1));
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(atoi(c + 1));
		*len = sizeof(*a6);
		return 0;
	}
	return -1;
}

static int open_listener(const struct sockaddr_storage *ss, socklen_t len, bool udp)
{
	int one = 1, fd = socket(ss->ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const void *)ss, len) || (!udp && listen(fd, 1024))) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static struct pollfd pfd[MAX_FDS];
	static char kind[MAX_FDS]; /* 'l' listener, 'u' udp, 'c' connection, 'x' closed listener */
	static struct sockaddr_storage addrs[MAX_FDS];
	static socklen_t addr_len[MAX_FDS];
	char msg[256];
	int n = 0, i;

	if (argc < 4) {
		fprintf(stderr, "usage: echosrv NAME [-t ADDR:PORT]... [-u ADDR:PORT]...\n");
		return 2;
	}
	snprintf(msg, sizeof(msg), "%s\n", argv[1]);
	for (i = 2; i + 1 < argc; i += 2) {
		struct sockaddr_storage ss;
		socklen_t len;
		bool udp = !strcmp(argv[i], "-u");
		int fd;

		if (parse(argv[i + 1], &ss, &len)) {
			fprintf(stderr, "echosrv: bad address %s\n", argv[i + 1]);
			return 2;
		}
		fd = open_listener(&ss, len, udp);
		if (fd < 0) {
			fprintf(stderr, "echosrv %s: %s: %s\n", argv[1], argv[i + 1], strerror(errno));
			return 1;
		}
		addrs[n] = ss;
		addr_len[n] = len;
		pfd[n].fd = fd;
		pfd[n].events = POLLIN;
		kind[n++] = udp ? 'u' : 'l';
	}
	signal(SIGTERM, on_sig);
	signal(SIGINT, on_sig);
	signal(SIGUSR1, on_sig);
	signal(SIGUSR2, on_sig);
	signal(SIGPIPE, SIG_IGN);
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		int r;

		if (want_closed >= 0) {
			for (i = 0; i < n; i++) {
				if (want_closed && kind[i] == 'l') {
					close(pfd[i].fd);
					pfd[i].fd = -1; /* poll skips it */
					kind[i] = 'x';
				} else if (!want_closed && kind[i] == 'x') {
					pfd[i].fd = open_listener(&addrs[i], addr_len[i], false);
					kind[i] = 'l';
				}
			}
			printf(want_closed ? "closed\n" : "open\n");
			fflush(stdout);
			want_closed = -1;
		}
		r = poll(pfd, n, 200);

		if (r <= 0)
			continue;
		for (i = 0; i < n; i++) {
			char buf[2048];
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (kind[i] == 'l') {
				int c = accept(pfd[i].fd, NULL, NULL);

				if (c < 0)
					continue;
				if (n >= MAX_FDS || write(c, msg, strlen(msg)) < 0) {
					close(c);
					continue;
				}
				pfd[n].fd = c;
				pfd[n].events = POLLIN;
				pfd[n].revents = 0;
				kind[n++] = 'c';
			} else if (kind[i] == 'x') {
				continue;
			} else if (kind[i] == 'u') {
				ssize_t got = recvfrom(pfd[i].fd, buf, sizeof(buf), 0, (void *)&from,
						       &flen);

				if (got >= 0)
					sendto(pfd[i].fd, msg, strlen(msg), 0, (void *)&from, flen);
			} else {
				ssize_t got = read(pfd[i].fd, buf, sizeof(buf));

				if (got > 0 && write(pfd[i].fd, msg, strlen(msg)) < 0)
					got = 0;
				if (got <= 0) {
					close(pfd[i].fd);
					pfd[i] = pfd[n - 1];
					kind[i] = kind[n - 1];
					n--;
					i--;
				}
			}
		}
	}
	return 0;
}
