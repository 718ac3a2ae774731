/* SPDX-License-Identifier: Apache-2.0 */
/* test_events.c: kernel capture records -> observations: pipelined requests
 * of one segment are split, each waits for its thread, and one THREAD record
 * (one recv) claims every request of its segment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <cmocka.h>

#include "bpf/http.h"
#include "trace/events.h"

static struct http_obs seen[16];
static int n_seen;

static void collect(const struct http_obs *o, void *ctx)
{
	(void)ctx;
	if (n_seen < 16)
		seen[n_seen++] = *o;
}

static void test_split(void **state)
{
	const char *one = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *three = "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
			    "HEAD /c HTTP/1.1\r\n\r\n";
	const char *body = "POST /a HTTP/1.1\r\nContent-Length: 9\r\n\r\nGETTY=123";
	const char *cut = "GET /a HTTP/1.1\r\n\r\nGET /b HT";
	int st[8];

	(void)state;
	assert_int_equal(events_split_requests(one, strlen(one), st, 8), 1);
	assert_int_equal(st[0], 0);
	assert_int_equal(events_split_requests(three, strlen(three), st, 8), 3);
	assert_memory_equal(three + st[1], "POST /b ", 8);
	assert_memory_equal(three + st[2], "HEAD /c ", 8);
	/* a body that happens to start like a method is not a request */
	assert_int_equal(events_split_requests(body, strlen(body), st, 8), 1);
	/* a request cut by the capture still starts where it starts */
	assert_int_equal(events_split_requests(cut, strlen(cut), st, 8), 2);
	assert_int_equal(events_split_requests(three, strlen(three), st, 2), 2); /* max */
	assert_int_equal(events_split_requests("", 0, st, 8), 0);
}

static void test_split_responses(void **state)
{
	const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			  "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	const char *cont = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			   "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc";
	const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n";
	int st[8];
	bool ends[8];

	(void)state;
	assert_int_equal(events_split_responses(two, strlen(two), strlen(two), st, ends, 8), 2);
	assert_memory_equal(two + st[1], "HTTP/1.1 404", 12);
	assert_true(ends[0] && ends[1]);
	/* the second one's body goes on in the next segments */
	assert_int_equal(events_split_responses(cont, strlen(cont), strlen(cont), st, ends, 8), 2);
	assert_true(ends[0]);
	assert_false(ends[1]);
	/* chunked: the kernel follows it; we do not look further */
	assert_int_equal(
	    events_split_responses(chunked, strlen(chunked), strlen(chunked), st, ends, 8), 1);
	assert_false(ends[0]);
}

static void test_pipelined_segment(void **state)
{
	const char *seg = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
	struct events ev;
	struct http_event e;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.deliver = collect;
	n_seen = 0;
	memset(&e, 0, sizeof(e));
	e.kind = HTTP_EV_REQUEST;
	e.dir = HTTP_DIR_INGRESS;
	e.family = AF_INET;
	e.cookie = 7;
	e.ts = 1000;
	e.head_len = strlen(seg);
	memcpy(e.head, seg, strlen(seg));
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 0); /* both wait for their thread */
	assert_int_equal(ev.requests, 2);

	memset(&e, 0, sizeof(e));
	e.kind = HTTP_EV_THREAD;
	e.dir = HTTP_DIR_INGRESS;
	e.cookie = 7;
	e.ts = 1100;
	e.pid_tgid = (42ULL << 32) | 43;
	memcpy(e.comm, "httpsvc", 8);
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 2);
	assert_int_equal(seen[0].kind, OBS_REQUEST);
	assert_memory_equal(seen[0].head, "GET /a ", 7);
	assert_memory_equal(seen[1].head, "GET /b ", 7);
	assert_int_equal(seen[0].head_len, 19);
	assert_int_equal(seen[0].tid, 43);
	assert_int_equal(seen[1].tid, 43); /* one recv moved both */
	assert_int_equal(seen[1].tgid, 42);
	assert_int_equal(seen[1].ts_ns, 1000);
	assert_int_equal(ev.n_pending, 0);
	free(ev.pending);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split),
	    cmocka_unit_test(test_split_responses),
	    cmocka_unit_test(test_pipelined_segment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
