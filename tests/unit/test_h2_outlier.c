/* SPDX-License-Identifier: Apache-2.0 */
/* test_h2_outlier.c: which HTTP/2 observations become outcomes for the
 * kernel's outlier detection (trace/h2_outlier.h): a client socket's
 * responses only, an HTTP status at the response head, a gRPC call's
 * grpc-status (as Envoy maps it) at its end and never its 200 head; the
 * batch is run when full (here on a descriptor that is no program, so the
 * run fails and is counted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "trace/h2_outlier.h"

static struct obs resp(uint8_t kind, uint8_t role, uint16_t status)
{
	struct obs o;

	memset(&o, 0, sizeof(o));
	o.cookie = 77;
	o.kind = kind;
	o.role = role;
	o.stream_id = 3;
	o.status = status;
	return o;
}

static void test_which_observations(void **state)
{
	struct h2_outlier h;
	struct obs o;

	(void)state;
	h2_outlier_init(&h, 1000); /* any fd >= 0: nothing runs before the batch is full */
	o = resp(OBS_RESPONSE, OBS_ROLE_CLIENT, 503);
	h2_outlier_note(&h, &o);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.buf[0].cookie, 77);
	assert_int_equal(h.buf[0].status, 503);
	o = resp(OBS_RESPONSE, OBS_ROLE_SERVER, 503); /* the server's side */
	h2_outlier_note(&h, &o);
	o = resp(OBS_RESPONSE_END, OBS_ROLE_CLIENT, 0); /* an end of plain HTTP/2 */
	h2_outlier_note(&h, &o);
	o = resp(OBS_RESPONSE, OBS_ROLE_CLIENT, 0); /* unreadable (desync) */
	h2_outlier_note(&h, &o);
	o = resp(OBS_RESPONSE, OBS_ROLE_CLIENT, 200);
	o.stream_id = 0; /* HTTP/1.x: the kernel reads its status itself */
	h2_outlier_note(&h, &o);
	assert_int_equal(h.n, 1);
	/* gRPC: the 200 head says nothing, the trailers do */
	o = resp(OBS_RESPONSE, OBS_ROLE_CLIENT, 200);
	o.rpc = OBS_RPC_GRPC;
	h2_outlier_note(&h, &o);
	assert_int_equal(h.n, 1);
	o.kind = OBS_RESPONSE_END;
	o.has_grpc_status = true;
	o.grpc_status = 14; /* UNAVAILABLE */
	h2_outlier_note(&h, &o);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.buf[1].status, 503);
	o.has_grpc_status = false; /* reset without trailers: no outcome */
	h2_outlier_note(&h, &o);
	assert_int_equal(h.n, 2);
}

static void test_grpc_map(void **state)
{
	(void)state;
	assert_int_equal(h2_grpc_http_status(0), 200);
	assert_int_equal(h2_grpc_http_status(4), 504);	/* DEADLINE_EXCEEDED: a gateway error */
	assert_int_equal(h2_grpc_http_status(13), 500); /* INTERNAL */
	assert_int_equal(h2_grpc_http_status(14), 503); /* UNAVAILABLE */
	assert_int_equal(h2_grpc_http_status(16), 401);
	assert_int_equal(h2_grpc_http_status(99), 500);
}

static void test_full_batch_runs(void **state)
{
	struct h2_outlier h;
	struct obs o = resp(OBS_RESPONSE, OBS_ROLE_CLIENT, 200);
	int fd = dup(0);

	(void)state;
	h2_outlier_init(&h, fd); /* not a program: the run fails, is counted */
	for (int i = 0; i < H2_OUTCOMES_MAX; i++)
		h2_outlier_note(&h, &o);
	assert_int_equal(h.n, 0);
	assert_int_equal(h.runs, 1);
	assert_int_equal(h.failed_runs, 1);
	h2_outlier_flush(&h); /* nothing kept: no run */
	assert_int_equal(h.runs, 1);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_which_observations),
	    cmocka_unit_test(test_grpc_map),
	    cmocka_unit_test(test_full_batch_runs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
