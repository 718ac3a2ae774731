/* SPDX-License-Identifier: Apache-2.0 */
/* halfopen: open N TCP connections to a server and never send a byte, the
 * way a careless or hostile local client ties up a server's connection
 * slots. Used by test_api_limits.sh against the agent's API.
 *
 *   halfopen HOST PORT N SECONDS
 *
 * Prints "connected C failed F" once every connect() has finished (or 5 s
 * have passed), holds the sockets for SECONDS (or until SIGTERM), then
 * "closed X": how many the server closed meanwhile. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t slen;
	struct rlimit rl;
	struct pollfd *pfd;
	int n, hold, connected = 0, failed = 0, closed = 0, left;
	long deadline;

	if (argc != 5) {
		fprintf(stderr, "usage: halfopen HOST PORT N SECONDS\n");
		return 2;
	}
	n = atoi(argv[3]);
	hold = atoi(argv[4]);
	if (inet_pton(AF_INET, argv[1], &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(atoi(argv[2]));
		slen = sizeof(*in4);
	} else if (inet_pton(AF_INET6, argv[1], &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(atoi(argv[2]));
		slen = sizeof(*in6);
	} else {
		fprintf(stderr, "halfopen: %s: not an address\n", argv[1]);
		return 2;
	}
	/* N sockets need N descriptors: any user may raise the soft limit */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < (rlim_t)n + 16) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)n + 16 ? rl.rlim_max : (rlim_t)n + 16;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	pfd = calloc(n, sizeof(*pfd));
	if (!pfd)
		return 1;
	/* non-blocking, so a full accept queue costs a timeout, not a hang */
	for (int i = 0; i < n; i++) {
		pfd[i].fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		pfd[i].events = POLLOUT;
		if (pfd[i].fd < 0 ||
		    (connect(pfd[i].fd, (struct sockaddr *)&ss, slen) && errno != EINPROGRESS)) {
			if (pfd[i].fd >= 0)
				close(pfd[i].fd);
			pfd[i].fd = -1;
			failed++;
		}
	}
	deadline = now_ms() + 5000;
	left = n - failed;
	while (left > 0 && now_ms() < deadline && !stop) {
		if (poll(pfd, n, 100) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			int err = 0;
			socklen_t el = sizeof(err);

			if (pfd[i].fd < 0 || pfd[i].events != POLLOUT || !pfd[i].revents)
				continue;
			getsockopt(pfd[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
			left--;
			if (err) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				failed++;
				continue;
			}
			connected++;
			pfd[i].events = POLLIN; /* from now on: watch for the close */
		}
	}
	failed += left;
	printf("connected %d failed %d\n", connected, failed);
	fflush(stdout);
	for (deadline = now_ms() + hold * 1000L; now_ms() < deadline && !stop;)
		usleep(100000);
	/* a server that closed the socket made it readable (EOF or reset) */
	poll(pfd, n, 0);
	for (int i = 0; i < n; i++)
		if (pfd[i].fd >= 0 && pfd[i].events == POLLIN && pfd[i].revents)
			closed++;
	printf("closed %d\n", closed);
	for (int i = 0; i < n; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	free(pfd);
	return 0;
}
