/* SPDX-License-Identifier: Apache-2.0 */
/* test_peeruid.c: the owner of the other end of a loopback TCP connection
 * (peeruid.c), over IPv4 and IPv6; and none for a peer that is gone. As
 * root, also a client that runs as nobody. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/peeruid.h"

/* A listener on loopback of family fam; its address in *ss. */
static int listener(int fam, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd = socket(fam, SOCK_STREAM, 0);

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = fam;
	if (fam == AF_INET)
		((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
	*len = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)ss, *len), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)ss, len), 0);
	return fd;
}

static void own_connection(int fam)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int l = listener(fam, &ss, &len), c = socket(fam, SOCK_STREAM, 0), s;
	uid_t uid = 12345;

	assert_int_equal(connect(c, (struct sockaddr *)&ss, len), 0);
	s = accept(l, NULL, NULL);
	assert_true(s >= 0);
	assert_int_equal(peer_uid(s, &uid), 0);
	assert_int_equal(uid, geteuid());
	/* the client's socket closed and gone to TIME_WAIT or FIN_WAIT2:
	 * nobody owns it any more, whatever the kernel would report */
	close(c);
	usleep(20000);
	assert_int_equal(peer_uid(s, &uid), -ENOENT);
	close(s);
	close(l);
}

static void test_ipv4(void **state)
{
	(void)state;
	own_connection(AF_INET);
}

static void test_ipv6(void **state)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};

	(void)state;
	/* a host without IPv6 on lo: nothing to test */
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		if (fd >= 0)
			close(fd);
		skip();
	}
	close(fd);
	own_connection(AF_INET6);
}

static void test_not_tcp(void **state)
{
	int sv[2];
	uid_t uid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(peer_uid(sv[0], &uid), -ENOENT);
	close(sv[0]);
	close(sv[1]);
	assert_true(peer_uid(-1, &uid) < 0);
}

/* As root: a client running as nobody is nobody. */
static void test_other_user(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int l, s, p[2], status;
	uid_t uid = 0;
	pid_t pid;
	char x;

	(void)state;
	if (geteuid() != 0)
		skip();
	l = listener(AF_INET, &ss, &len);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		int c;

		if (setgid(65534) || setuid(65534))
			_exit(1);
		c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&ss, len))
			_exit(2);
		/* hold the connection until the parent has looked */
		if (read(p[0], &x, 1) < 0)
			_exit(3);
		_exit(0);
	}
	s = accept(l, NULL, NULL);
	assert_true(s >= 0);
	assert_int_equal(peer_uid(s, &uid), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	waitpid(pid, &status, 0);
	assert_int_equal(uid, 65534);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(s);
	close(l);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4),
	    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_not_tcp),
	    cmocka_unit_test(test_other_user),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
