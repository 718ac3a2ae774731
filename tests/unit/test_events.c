/* SPDX-License-Identifier: Apache-2.0 */
/* test_events.c: kernel capture records -> observations: pipelined requests
 * of one segment are split and parsed by their protocol's parser, each waits
 * for its thread, and one THREAD record (one recv) claims every request of
 * its segment; the kernel records only a change of thread, so a request no
 * record claims gets the socket's last thread when its response comes; pipelined responses each get
 * their end; bytes that no parser claims still make an observation. (The splitting itself is tested
 * with the parser, test_proto_http1.c.) */
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

static struct obs seen[16];
static int n_seen;

static void collect(struct obs *o, void *ctx)
{
	(void)ctx;
	if (n_seen < 16)
		seen[n_seen++] = *o;
}

/* A REQUEST or RESPONSE record of socket 7 carrying head. */
static void record(struct http_event *e, uint8_t kind, uint8_t dir, const char *head)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->dir = dir;
	e->family = AF_INET;
	e->cookie = 7;
	e->ts = 1000;
	e->head_len = strlen(head);
	e->seg_len = e->head_len;
	memcpy(e->head, head, e->head_len);
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
	record(&e, HTTP_EV_REQUEST, HTTP_DIR_INGRESS, seg);
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
	assert_int_equal(seen[0].role, OBS_ROLE_SERVER);
	assert_int_equal(seen[0].proto, OBS_PROTO_HTTP1);
	assert_int_equal(seen[0].parse, OBS_PARSE_OK);
	assert_string_equal(seen[0].method, "GET");
	assert_string_equal(seen[0].target, "/a");
	assert_int_equal(seen[1].parse, OBS_PARSE_OK);
	assert_string_equal(seen[1].target, "/b");
	assert_int_equal(seen[0].tid, 43);
	assert_int_equal(seen[1].tid, 43); /* one recv moved both */
	assert_int_equal(seen[1].tgid, 42);
	assert_int_equal(seen[1].ts_ns, 1000);
	assert_int_equal(ev.n_pending, 0);
	assert_string_equal(seen[1].comm, "httpsvc");
	events_free(&ev);
}

/* Two responses in one segment (answers to pipelined requests): each one
 * starts and ends; the client socket (ingress) is the CLIENT's. */
static void test_pipelined_responses(void **state)
{
	const char *seg = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			  "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	struct events ev;
	struct http_event e;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.deliver = collect;
	n_seen = 0;
	record(&e, HTTP_EV_RESPONSE, HTTP_DIR_INGRESS, seg);
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 4);
	assert_int_equal(seen[0].kind, OBS_RESPONSE);
	assert_int_equal(seen[0].role, OBS_ROLE_CLIENT);
	assert_int_equal(seen[0].status, 200);
	assert_int_equal(seen[0].body, OBS_BODY_LENGTH);
	assert_int_equal(seen[1].kind, OBS_RESPONSE_END);
	assert_int_equal(seen[1].status, 0); /* an end carries no message */
	assert_int_equal(seen[2].kind, OBS_RESPONSE);
	assert_int_equal(seen[2].status, 404);
	assert_int_equal(seen[2].body, OBS_BODY_NONE);
	assert_int_equal(seen[3].kind, OBS_RESPONSE_END);
	assert_int_equal(ev.responses, 2);

	/* chunked, its end not in the segment: what follows will say */
	n_seen = 0;
	record(&e, HTTP_EV_RESPONSE, HTTP_DIR_INGRESS,
	       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n");
	e.resp.seq0 = 5000;
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 1);
	assert_true(seen[0].chunked);
	assert_int_equal(seen[0].resp_need, 0);
	assert_int_equal(seen[0].resp_at.seq0, 5000);
	/* its end in the segment's bytes */
	record(&e, HTTP_EV_RESPONSE, HTTP_DIR_INGRESS,
	       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 3);
	assert_int_equal(seen[2].kind, OBS_RESPONSE_END);
	/* past the record's bytes: in the tail the kernel sent */
	record(&e, HTTP_EV_RESPONSE, HTTP_DIR_INGRESS,
	       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4b0\r\ncc");
	e.seg_len = 1300;
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 4);
	e.flags = HTTP_EVF_TAIL;
	memcpy(e.resp.tail, "c\r\n0\r\n\r\n", 8);
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 6);
	assert_int_equal(seen[5].kind, OBS_RESPONSE_END);
	/* a length past the segment: how many bytes from its first */
	record(&e, HTTP_EV_RESPONSE, HTTP_DIR_INGRESS,
	       "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 7);
	assert_false(seen[6].chunked);
	assert_int_equal(seen[6].resp_need, 40 + 100); /* 40 bytes of head */
	events_free(&ev);
}

/* How far the response before a record got: a request's record brings it
 * as OBS_RESPONSE_AT before the request, a response's as the end of the
 * response before it. */
static void test_response_progress(void **state)
{
	struct events ev;
	struct http_event e;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.deliver = collect;
	ev.no_threads = true;
	n_seen = 0;
	record(&e, HTTP_EV_REQUEST, HTTP_DIR_EGRESS, "GET /b HTTP/1.1\r\n\r\n");
	e.flags = HTTP_EVF_RESP;
	e.body_last_ns = 900;
	e.resp.seq0 = 77;
	e.resp.bytes = 4000;
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 2);
	assert_int_equal(seen[0].kind, OBS_RESPONSE_AT);
	assert_int_equal(seen[0].role, OBS_ROLE_CLIENT); /* the responses came in */
	assert_int_equal(seen[0].ts_ns, 900);
	assert_int_equal(seen[0].resp_at.seq0, 77);
	assert_int_equal(seen[0].resp_at.bytes, 4000);
	assert_int_equal(seen[1].kind, OBS_REQUEST);

	record(&e, HTTP_EV_RESPONSE, HTTP_DIR_INGRESS, "HTTP/1.1 204 No Content\r\n\r\n");
	e.flags = HTTP_EVF_RESP;
	e.body_last_ns = 950;
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 5);
	assert_int_equal(seen[2].kind, OBS_RESPONSE_END);
	assert_int_equal(seen[2].ts_ns, 950);
	assert_int_equal(seen[3].kind, OBS_RESPONSE);
	assert_int_equal(seen[4].kind, OBS_RESPONSE_END); /* 204: whole in its head */

	/* a close with a response in flight: how far it got */
	memset(&e, 0, sizeof(e));
	e.kind = HTTP_EV_CLOSE;
	e.cookie = 7;
	e.ts = 2000;
	e.flags = HTTP_EVF_RESP;
	e.body_last_ns = 1500;
	e.resp.bytes = 10;
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 6);
	assert_int_equal(seen[5].kind, OBS_CLOSE);
	assert_int_equal(seen[5].body_last_ns, 1500);
	assert_int_equal(seen[5].resp_at.bytes, 10);
	events_free(&ev);
}

/* Bytes that no parser claims: one observation all the same, unread, so
 * that the responses after it still pair in order. */
static void test_unclaimed_bytes(void **state)
{
	struct events ev;
	struct http_event e;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.deliver = collect;
	n_seen = 0;
	record(&e, HTTP_EV_RESPONSE, HTTP_DIR_INGRESS, "SSH-2.0-OpenSSH_9.2\r\n");
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 1);
	assert_int_equal(seen[0].kind, OBS_RESPONSE);
	assert_int_equal(seen[0].proto, OBS_PROTO_NONE);
	assert_int_equal(seen[0].parse, OBS_PARSE_BAD);
	assert_int_equal(seen[0].status, 0);
	record(&e, HTTP_EV_REQUEST, HTTP_DIR_EGRESS, "\x16\x03\x01\x02\x00\x01");
	events_handle(&ev, &e);
	assert_int_equal(ev.n_pending, 1);
	events_tick(&ev, 1000 + 200000000ULL); /* its thread never came */
	assert_int_equal(n_seen, 2);
	assert_int_equal(seen[1].kind, OBS_REQUEST);
	assert_int_equal(seen[1].role, OBS_ROLE_CLIENT);
	assert_int_equal(seen[1].parse, OBS_PARSE_BAD);
	assert_int_equal(ev.late_threads, 1);
	events_free(&ev);
}

/* A kernel without the sock_*_length tracepoints sends no thread events:
 * requests go out at once, without a thread, never held. */
static void test_no_thread_events(void **state)
{
	const char *seg = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
	struct events ev;
	struct http_event e;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.deliver = collect;
	ev.wait_ns = 100000000ULL;
	ev.no_threads = true;
	n_seen = 0;
	record(&e, HTTP_EV_REQUEST, HTTP_DIR_INGRESS, seg);
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 2);
	assert_int_equal(ev.n_pending, 0);
	assert_int_equal(seen[0].tid, 0);
	assert_string_equal(seen[1].target, "/b");
	events_free(&ev);
}

static void thread_record(struct http_event *e, uint8_t dir, uint32_t tid, const char *comm)
{
	memset(e, 0, sizeof(*e));
	e->kind = HTTP_EV_THREAD;
	e->dir = dir;
	e->cookie = 7;
	e->ts = 1100;
	e->pid_tgid = (42ULL << 32) | tid;
	e->cgroup_id = 99;
	memcpy(e->comm, comm, strlen(comm) + 1);
}

/* Keep-alive: the first request's reader is recorded, the next one's (the
 * same thread) is not; it waits for its response and gets the socket's last
 * reader. Another reader is recorded and wins; after the close the socket's
 * threads are forgotten. */
static void test_thread_changes_only(void **state)
{
	struct events ev;
	struct http_event e;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.deliver = collect;
	ev.wait_ns = 100000000ULL;
	n_seen = 0;
	record(&e, HTTP_EV_REQUEST, HTTP_DIR_INGRESS, "GET /1 HTTP/1.1\r\n\r\n");
	events_handle(&ev, &e);
	thread_record(&e, HTTP_DIR_INGRESS, 43, "worker");
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 1);
	assert_int_equal(seen[0].tid, 43);
	record(&e, HTTP_EV_RESPONSE, HTTP_DIR_EGRESS,
	       "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 3);

	/* the same reader: no record; the request waits for its response */
	record(&e, HTTP_EV_REQUEST, HTTP_DIR_INGRESS, "GET /2 HTTP/1.1\r\n\r\n");
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 3);
	assert_int_equal(ev.n_pending, 1);
	record(&e, HTTP_EV_RESPONSE, HTTP_DIR_EGRESS,
	       "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 6);
	assert_int_equal(seen[3].kind, OBS_REQUEST);
	assert_string_equal(seen[3].target, "/2");
	assert_int_equal(seen[3].tid, 43);
	assert_int_equal(seen[3].tgid, 42);
	assert_int_equal(seen[3].cgroup_id, 99);
	assert_string_equal(seen[3].comm, "worker");
	assert_int_equal(seen[4].kind, OBS_RESPONSE);

	/* another reader: recorded, it claims the request */
	record(&e, HTTP_EV_REQUEST, HTTP_DIR_INGRESS, "GET /3 HTTP/1.1\r\n\r\n");
	events_handle(&ev, &e);
	thread_record(&e, HTTP_DIR_INGRESS, 44, "worker2");
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 7);
	assert_int_equal(seen[6].tid, 44);
	assert_string_equal(seen[6].comm, "worker2");

	/* the sender's thread is another record's business */
	record(&e, HTTP_EV_REQUEST, HTTP_DIR_EGRESS, "GET /4 HTTP/1.1\r\n\r\n");
	events_handle(&ev, &e);
	events_tick(&ev, 1000 + 200000000ULL);
	assert_int_equal(n_seen, 8);
	assert_int_equal(seen[7].role, OBS_ROLE_CLIENT);
	assert_int_equal(seen[7].tid, 0);

	/* closed: the socket's threads go with it (a new socket may get its
	 * cookie's slot, never its threads) */
	memset(&e, 0, sizeof(e));
	e.kind = HTTP_EV_CLOSE;
	e.cookie = 7;
	events_handle(&ev, &e);
	record(&e, HTTP_EV_REQUEST, HTTP_DIR_INGRESS, "GET /5 HTTP/1.1\r\n\r\n");
	events_handle(&ev, &e);
	events_tick(&ev, 1000 + 200000000ULL);
	assert_int_equal(seen[n_seen - 1].tid, 0);
	assert_string_equal(seen[n_seen - 1].target, "/5");
	events_free(&ev);
}

static uint64_t many_order[512];
static int n_many;

static void collect_cookie(struct obs *o, void *ctx)
{
	(void)ctx;
	if (o->kind == OBS_REQUEST && n_many < 512)
		many_order[n_many++] = o->cookie * 1000 + o->ts_ns;
}

/* Requests of many sockets waiting at once: a response, a thread record
 * and the tick each release the requests of their own socket, in order,
 * and no other. */
static void test_many_sockets_waiting(void **state)
{
	struct events ev;
	struct http_event e;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.deliver = collect_cookie;
	ev.wait_ns = 100000000ULL;
	n_many = 0;
	/* sockets 1..100, two requests each (ts 1 and 2) */
	for (int r = 1; r <= 2; r++)
		for (uint64_t c = 1; c <= 100; c++) {
			record(&e, HTTP_EV_REQUEST, HTTP_DIR_INGRESS, "GET / HTTP/1.1\r\n\r\n");
			e.cookie = c;
			e.ts = (uint64_t)r;
			events_handle(&ev, &e);
		}
	assert_int_equal(ev.n_pending, 200);
	assert_int_equal(n_many, 0);
	/* a response of socket 50: its two requests, oldest first */
	record(&e, HTTP_EV_RESPONSE, HTTP_DIR_EGRESS,
	       "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	e.cookie = 50;
	events_handle(&ev, &e);
	assert_int_equal(n_many, 2);
	assert_int_equal(many_order[0], 50 * 1000 + 1);
	assert_int_equal(many_order[1], 50 * 1000 + 2);
	assert_int_equal(ev.n_pending, 198);
	/* a thread record of socket 7 releases its first request (and the
	 * ones before it on the socket: none) */
	thread_record(&e, HTTP_DIR_INGRESS, 43, "worker");
	events_handle(&ev, &e);
	assert_int_equal(n_many, 3);
	assert_int_equal(many_order[2], 7 * 1000 + 1);
	assert_int_equal(ev.n_pending, 197);
	/* a response of socket 7 releases the second only */
	record(&e, HTTP_EV_RESPONSE, HTTP_DIR_EGRESS,
	       "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	events_handle(&ev, &e);
	assert_int_equal(n_many, 4);
	assert_int_equal(many_order[3], 7 * 1000 + 2);
	/* the tick releases the rest, each socket's in order */
	events_tick(&ev, 200000000ULL);
	assert_int_equal(ev.n_pending, 0);
	assert_int_equal(n_many, 200);
	for (int i = 4; i < 200; i++) {
		uint64_t c = many_order[i] / 1000;

		assert_true(c != 7 && c != 50);
		for (int j = i + 1; j < 200; j++)
			if (many_order[j] / 1000 == c)
				assert_true(many_order[j] % 1000 > many_order[i] % 1000);
	}
	events_free(&ev);
}

/* RESPONSE_AT and RESPONSE_END share one observation that is never
 * cleared whole (events.h, ev.note): each must carry only its own fields,
 * nothing of the one before it. */
static void test_note_fields(void **state)
{
	struct events ev;
	struct http_event e;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.deliver = collect;
	n_seen = 0;
	/* a request that says how far the response before it got */
	record(&e, HTTP_EV_REQUEST, HTTP_DIR_INGRESS, "GET / HTTP/1.1\r\n\r\n");
	e.flags = HTTP_EVF_RESP;
	e.body_last_ns = 900;
	e.resp.seq0 = 55;
	e.resp.bytes = 66;
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 1); /* the request waits for its thread */
	assert_int_equal(seen[0].kind, OBS_RESPONSE_AT);
	assert_int_equal(seen[0].cookie, 7);
	assert_int_equal(seen[0].ts_ns, 900);
	assert_int_equal(seen[0].resp_at.seq0, 55);
	assert_int_equal(seen[0].resp_at.bytes, 66);
	/* a bodiless response on another socket, over IPv6: its end */
	record(&e, HTTP_EV_RESPONSE, HTTP_DIR_INGRESS, "HTTP/1.1 204 No Content\r\n\r\n");
	e.cookie = 9;
	e.family = AF_INET6;
	e.lport = 8080;
	e.ts = 2000;
	events_handle(&ev, &e);
	assert_int_equal(n_seen, 3);
	assert_int_equal(seen[1].kind, OBS_RESPONSE);
	assert_int_equal(seen[2].kind, OBS_RESPONSE_END);
	assert_int_equal(seen[2].cookie, 9);
	assert_int_equal(seen[2].role, OBS_ROLE_CLIENT);
	assert_int_equal(seen[2].ts_ns, 2000);
	assert_int_equal(seen[2].local.family, AF_INET6);
	assert_int_equal(seen[2].local.port, 8080);
	if (seen[2].resp_at.seq0 || seen[2].resp_at.bytes)
		fail_msg("RESPONSE_END: expected no resp_at, got seq0 %u bytes %u (the "
			 "RESPONSE_AT before)",
			 seen[2].resp_at.seq0, seen[2].resp_at.bytes);
	assert_int_equal(seen[2].status, 0);
	assert_int_equal(seen[2].stream_id, 0);
	assert_int_equal(seen[2].parse, 0);
	events_free(&ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_note_fields),		cmocka_unit_test(test_pipelined_segment),
	    cmocka_unit_test(test_pipelined_responses), cmocka_unit_test(test_response_progress),
	    cmocka_unit_test(test_unclaimed_bytes),	cmocka_unit_test(test_no_thread_events),
	    cmocka_unit_test(test_thread_changes_only), cmocka_unit_test(test_many_sockets_waiting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
