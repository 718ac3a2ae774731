/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_h2frames.c: HTTP/2 capture records (bpf/h2.h) through the agent's
 * connection table (trace/h2_conn.c: frames, HPACK, streams): any bytes,
 * any record flags, records of up to four sockets in any order, closes.
 *
 * The input is a list of records: [socket and side][flags][length, 2 bytes
 * little-endian][bytes]; a socket byte with 0x80 set is a CLOSE. Besides
 * memory safety (and no leak once the table is freed), each observation
 * must keep what h2_conn.h promises: a kind it names, a stream id, strings
 * terminated, a status 0 or 100..599, a gRPC status 0..16. */
#include <string.h>

#include "trace/h2_conn.h"
#include "fuzz.h"

static void check_str(const char *s, size_t size) { FUZZ_CHECK(strnlen(s, size) < size); }

static void check(struct obs *o, void *ctx)
{
	(void)ctx;
	FUZZ_CHECK(o->kind == OBS_REQUEST || o->kind == OBS_RESPONSE ||
		   o->kind == OBS_RESPONSE_END);
	FUZZ_CHECK(o->stream_id != 0 && o->stream_id <= 0x7fffffffu);
	FUZZ_CHECK(o->proto == OBS_PROTO_H2);
	FUZZ_CHECK(o->parse == OBS_PARSE_OK || o->parse == OBS_PARSE_CUT);
	check_str(o->method, sizeof(o->method));
	check_str(o->target, sizeof(o->target));
	check_str(o->host, sizeof(o->host));
	check_str(o->traceparent, sizeof(o->traceparent));
	check_str(o->tracestate, sizeof(o->tracestate));
	FUZZ_CHECK(o->status == 0 || (o->status >= 100 && o->status <= 599));
	FUZZ_CHECK(!o->has_grpc_status || o->grpc_status <= 16);
	FUZZ_CHECK(o->kind == OBS_RESPONSE_END || !o->stream_reset);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_event e;
	struct h2_conns c;
	struct obs base;
	size_t i = 0;

	memset(&c, 0, sizeof(c));
	c.max = 2; /* evictions too */
	memset(&base, 0, sizeof(base));
	while (i + 4 <= size) {
		uint8_t sock = data[i], flags = data[i + 1];
		size_t n = data[i + 2] | (size_t)data[i + 3] << 8;

		i += 4;
		if (n > size - i)
			n = size - i;
		if (n > sizeof(e.head))
			n = sizeof(e.head);
		memset(&e, 0, HTTP_EV_HDR);
		e.cookie = 1 + ((sock >> 1) & 3);
		base.cookie = e.cookie;
		base.ts_ns = e.ts = i;
		if (sock & 0x80) {
			h2_conns_close(&c, e.cookie, &base, check, NULL);
			continue;
		}
		e.kind = HTTP_EV_H2;
		e.dir = sock & 1 ? HTTP_DIR_INGRESS : HTTP_DIR_EGRESS;
		e.flags = flags;
		e.head_len = (uint16_t)n;
		memcpy(e.head, data + i, n);
		h2_conns_record(&c, &e, &base, check, NULL);
		i += n;
		FUZZ_CHECK(c.n <= 2);
	}
	h2_conns_free(&c);
	return 0;
}
