/* SPDX-License-Identifier: Apache-2.0 */
/* test_api_host.c: the Host header check against DNS rebinding
 * (api_host.c): the listen address, localhost on loopback, any address on
 * a wildcard listen, and --api-allowed-hosts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "api/api.h"
#include "api/api_host.h"

static struct sockaddr_storage listen_on(const char *s)
{
	struct sockaddr_storage ss;
	unsigned len;

	assert_int_equal(api_parse_listen(s, &ss, &len), 0);
	return ss;
}

static void check(const struct api_hosts *h, const char *listen, const char *host, bool want)
{
	struct sockaddr_storage ss = listen_on(listen);

	if (api_host_allowed(h, &ss, host) != want)
		fail_msg("listen %s, Host '%s': expected %s", listen, host ? host : "(none)",
			 want ? "allowed" : "refused");
}

static void test_loopback(void **state)
{
	static const struct {
		const char *host;
		bool ok;
	} cases[] = {
	    {NULL, true}, /* HTTP/1.0 */
	    {"", true},
	    {"127.0.0.1:9440", true},
	    {"127.0.0.1", true},
	    {"127.0.0.1:19440", true}, /* a port forward */
	    {" 127.0.0.1:9440 ", true},
	    {"localhost:9440", true},
	    {"localhost", true},
	    {"LOCALHOST", true},
	    {"localhost.:9440", true},
	    {"evil.example:9440", false},
	    {"evil.example", false},
	    {"localhost.evil.example", false},
	    {"evil-localhost", false},
	    {"127.0.0.1.evil.example", false},
	    {"127.0.0.2:9440", false},
	    {"[::1]:9440", false},
	    {"0.0.0.0:9440", false},
	    {"127.0.0.1:", false},
	    {"127.0.0.1:94x0", false},
	    {"127.0.0.1:9440:1", false},
	    {"localhost:1234567", false},
	    {"[127.0.0.1]", false},
	    {"::1", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(NULL, "127.0.0.1:9440", cases[i].host, cases[i].ok);
	/* another loopback address: its own literal, and localhost */
	check(NULL, "127.0.0.53:9440", "127.0.0.53", true);
	check(NULL, "127.0.0.53:9440", "localhost", true);
	check(NULL, "127.0.0.53:9440", "127.0.0.1", false);
	check(NULL, "[::1]:9440", "[::1]:9440", true);
	check(NULL, "[::1]:9440", "[0:0::1]", true);
	check(NULL, "[::1]:9440", "localhost:9440", true);
	check(NULL, "[::1]:9440", "127.0.0.1", false);
	check(NULL, "[::1]:9440", "[::2]", false);
}

static void test_other_listens(void **state)
{
	(void)state;
	/* a node address: that address only, no localhost (it is not on lo) */
	check(NULL, "10.1.2.3:9440", "10.1.2.3:9440", true);
	check(NULL, "10.1.2.3:9440", "localhost:9440", false);
	check(NULL, "10.1.2.3:9440", "10.1.2.4:9440", false);
	check(NULL, "10.1.2.3:9440", "node1.example:9440", false);
	/* a wildcard: every address (pod, node, loopback) and localhost */
	check(NULL, "0.0.0.0:9464", "10.1.2.3:9464", true);
	check(NULL, "0.0.0.0:9464", "192.168.7.7", true);
	check(NULL, "0.0.0.0:9464", "[fd00::1]:9464", true);
	check(NULL, "0.0.0.0:9464", "localhost", true);
	check(NULL, "0.0.0.0:9464", "node1.example:9464", false);
	check(NULL, "[::]:9464", "10.1.2.3", true);
	check(NULL, "[::]:9464", "[::1]", true);
	check(NULL, "[::]:9464", "prometheus.example", false);
	check(NULL, ":9464", "10.1.2.3", true);
}

static void test_allow_list(void **state)
{
	struct api_hosts h;
	char err[200];

	(void)state;
	assert_int_equal(api_hosts_parse(&h, "Node1.Example., 10.9.8.7,[fd00::7]:80,agent:9440",
					 err, sizeof(err)),
			 0);
	assert_int_equal(h.n, 4);
	assert_false(h.any);
	check(&h, "127.0.0.1:9440", "node1.example:9440", true);
	check(&h, "127.0.0.1:9440", "NODE1.example", true);
	check(&h, "127.0.0.1:9440", "x.node1.example", false);
	check(&h, "127.0.0.1:9440", "10.9.8.7:1", true);
	check(&h, "127.0.0.1:9440", "[fd00:0::7]", true);
	check(&h, "127.0.0.1:9440", "agent", true);
	check(&h, "127.0.0.1:9440", "agent2", false);
	check(&h, "127.0.0.1:9440", "127.0.0.1", true);
	check(&h, "127.0.0.1:9440", "localhost", true);
	check(&h, "127.0.0.1:9440", "evil.example", false);
	api_hosts_free(&h);
	assert_int_equal(h.n, 0);

	assert_int_equal(api_hosts_parse(&h, "*", err, sizeof(err)), 0);
	assert_true(h.any);
	check(&h, "127.0.0.1:9440", "evil.example", true);
	api_hosts_free(&h);

	static const char *const bad[] = {"",	 "a,,b", ",a",	 "a,",	 "a b",	     "a/b",
					  "a:b", "a:",	 "[::1", "[zz]", "a:123456", "evil\x01"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (api_hosts_parse(&h, bad[i], err, sizeof(err)) != -1 || !err[0])
			fail_msg("'%s': expected a rejection with a reason", bad[i]);
		assert_int_equal(h.n, 0);
	}
	assert_int_equal(api_hosts_parse(&h, NULL, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_loopback),
	    cmocka_unit_test(test_other_listens),
	    cmocka_unit_test(test_allow_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
