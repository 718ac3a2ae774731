/* SPDX-License-Identifier: Apache-2.0 */
/* test_span_pack.c: the packed form of a span (exporters/span_pack.c): exact
 * round trips, every truncated or garbled input refused without reading past
 * its end (run under ASan: make test-unit-asan), and a field table that
 * covers struct span. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exporters/span_pack.h"

/* Every string of s filled to its last byte but one with a pattern that
 * differs per field (so a field packed into its neighbour shows). */
#define FILL(f, c) (memset((f), (c), sizeof(f) - 1), (f)[sizeof(f) - 1] = 0)

static void fill_all(struct span *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 16; i++)
		s->trace_id[i] = (uint8_t)(0x10 + i);
	for (int i = 0; i < 8; i++) {
		s->span_id[i] = (uint8_t)(0x30 + i);
		s->parent_span_id[i] = (uint8_t)(0x50 + i);
	}
	s->kind = SPAN_KIND_CLIENT;
	s->status = SPAN_STATUS_ERROR;
	s->sampled = 1;
	s->trace_flags = 0x81;
	s->parent_remote = true;
	s->start_unix_ns = 0x0102030405060708ULL;
	s->end_unix_ns = 0x1112131415161718ULL;
	FILL(s->name, 'a');
	FILL(s->status_message, 'b');
	FILL(s->tracestate, 'c');
	FILL(s->method, 'd');
	FILL(s->method_original, 'e');
	s->status_code = 0xfedc;
	FILL(s->error_type, 'f');
	s->http_version = 11;
	FILL(s->path, 'g');
	FILL(s->query, 'h');
	FILL(s->authority, 'i');
	FILL(s->user_agent, 'j');
	FILL(s->route, 'k');
	FILL(s->server.address, 'l');
	s->server.port = 0xa1b2;
	FILL(s->client.address, 'm');
	s->client.port = 0xc3d4;
	FILL(s->peer.address, 'n');
	s->peer.port = 0xe5f6;
	s->rpc_grpc = true;
	s->has_grpc_status = true;
	s->grpc_status_code = 16;
	FILL(s->service_name, 'o');
	FILL(s->service_namespace, 'p');
	FILL(s->host_name, 'q');
	s->pid = 0xdeadbeef;
	FILL(s->exe_name, 'r');
	FILL(s->k8s.pod_name, 's');
	FILL(s->k8s.pod_uid, 't');
	FILL(s->k8s.container_name, 'u');
	FILL(s->k8s.node_name, 'v');
	FILL(s->k8s.owner_kind, 'w');
	FILL(s->k8s.owner_name, 'x');
}

#define EQ_MEM(f) assert_memory_equal(&a->f, &b->f, sizeof(a->f))
#define EQ_INT(f) assert_int_equal(a->f, b->f)

/* Field by field, written out here rather than taken from the codec's table:
 * a field the table forgot fails. */
static void assert_spans_equal(const struct span *a, const struct span *b)
{
	EQ_MEM(trace_id);
	EQ_MEM(span_id);
	EQ_MEM(parent_span_id);
	EQ_INT(kind);
	EQ_INT(status);
	EQ_INT(sampled);
	EQ_INT(trace_flags);
	EQ_INT(parent_remote);
	EQ_INT(start_unix_ns);
	EQ_INT(end_unix_ns);
	EQ_MEM(name);
	EQ_MEM(status_message);
	EQ_MEM(tracestate);
	EQ_MEM(method);
	EQ_MEM(method_original);
	EQ_INT(status_code);
	EQ_MEM(error_type);
	EQ_INT(http_version);
	EQ_MEM(path);
	EQ_MEM(query);
	EQ_MEM(authority);
	EQ_MEM(user_agent);
	EQ_MEM(route);
	EQ_MEM(server.address);
	EQ_INT(server.port);
	EQ_MEM(client.address);
	EQ_INT(client.port);
	EQ_MEM(peer.address);
	EQ_INT(peer.port);
	EQ_INT(rpc_grpc);
	EQ_INT(has_grpc_status);
	EQ_INT(grpc_status_code);
	EQ_MEM(service_name);
	EQ_MEM(service_namespace);
	EQ_MEM(host_name);
	EQ_INT(pid);
	EQ_MEM(exe_name);
	EQ_MEM(k8s.pod_name);
	EQ_MEM(k8s.pod_uid);
	EQ_MEM(k8s.container_name);
	EQ_MEM(k8s.node_name);
	EQ_MEM(k8s.owner_kind);
	EQ_MEM(k8s.owner_name);
}

/* Packed into a buffer of exactly its length on the heap, so ASan sees a
 * read past the end. */
static uint8_t *pack_exact(const struct span *s, size_t *len)
{
	uint8_t buf[SPAN_PACK_MAX];
	uint8_t *p;

	*len = span_pack(s, buf, sizeof(buf));
	assert_true(*len > 0);
	p = malloc(*len);
	assert_non_null(p);
	memcpy(p, buf, *len);
	return p;
}

static void test_full_span_round_trip(void **state)
{
	struct span *in = malloc(sizeof(*in)), *out = malloc(sizeof(*out));
	size_t len;
	uint8_t *p;

	(void)state;
	fill_all(in);
	p = pack_exact(in, &len);
	assert_true(len <= SPAN_PACK_MAX);
	memset(out, 0xee, sizeof(*out));
	assert_int_equal(span_unpack(p, len, out), 0);
	assert_spans_equal(in, out);
	/* every byte: the fill leaves no padding that is not zero */
	assert_memory_equal(in, out, sizeof(*in));
	free(p);
	free(in);
	free(out);
}

static void test_empty_span_round_trip(void **state)
{
	struct span in, out;
	uint8_t buf[SPAN_PACK_MAX];
	size_t len;

	(void)state;
	memset(&in, 0, sizeof(in));
	len = span_pack(&in, buf, sizeof(buf));
	/* the numbers and one byte per string: a tenth of the struct */
	assert_true(len > 0 && len < sizeof(in) / 10);
	memset(&out, 0xee, sizeof(out));
	assert_int_equal(span_unpack(buf, len, &out), 0);
	assert_memory_equal(&in, &out, sizeof(in));
}

/* Unpacked over a record full of garbage (span_unpack_over), a span reads
 * as the one packed: every field equal, every string ending at its own
 * NUL (strings shorter than the garbage's run too), and it packs to the
 * same bytes; past a string's NUL the record's old bytes stay. A garbled
 * input leaves the record all zero, as span_unpack does. */
static void test_unpack_over_dirty(void **state)
{
	struct span *in = calloc(1, sizeof(*in)), *out = malloc(sizeof(*out));
	uint8_t a[SPAN_PACK_MAX], b[SPAN_PACK_MAX];
	size_t la, lb;

	(void)state;
	fill_all(in);
	snprintf(in->path, sizeof(in->path), "/a");
	in->query[0] = '\0';
	la = span_pack(in, a, sizeof(a));
	memset(out, 0xa5, sizeof(*out));
	assert_int_equal(span_unpack_over(a, la, out), 0);
	for (size_t i = 0; i < span_pack_nfields; i++) {
		const struct span_pack_field *f = &span_pack_fields[i];
		const char *x = (const char *)in + f->off, *y = (const char *)out + f->off;

		if (f->kind == SPAN_PACK_STR)
			assert_string_equal(x, y); /* fill_all ends each at its size - 1 */
		else
			assert_memory_equal(x, y, f->size);
	}
	assert_string_equal(out->path, "/a");
	assert_string_equal(out->query, "");
	assert_int_equal((uint8_t)out->path[3], 0xa5);
	assert_int_equal((uint8_t)out->query[1], 0xa5);
	lb = span_pack(out, b, sizeof(b));
	assert_int_equal(lb, la);
	assert_memory_equal(a, b, la);
	a[0] ^= 0xff;
	memset(out, 0xa5, sizeof(*out));
	assert_int_equal(span_unpack_over(a, la, out), -EINVAL);
	for (size_t i = 0; i < sizeof(*out); i++)
		assert_int_equal(((uint8_t *)out)[i], 0);
	free(in);
	free(out);
}

/* A string filled to the brim with no NUL is cut to its size - 1 and comes
 * back NUL-terminated, as the OTLP queue always stored it. */
/* A span full of garbage, cleared, packs as a zeroed span and unpacks to
 * one; the clear writes each number and each string's first byte, and no
 * other byte of a string (a span record reused per request is not written
 * whole). */
static void test_clear_reads_as_zeroed(void **state)
{
	struct span *dirty = malloc(sizeof(*dirty)), *zero = calloc(1, sizeof(*zero)), out;
	uint8_t a[SPAN_PACK_MAX], b[SPAN_PACK_MAX];
	size_t la, lb;

	(void)state;
	memset(dirty, 0xa5, sizeof(*dirty));
	span_clear(dirty);
	la = span_pack(dirty, a, sizeof(a));
	lb = span_pack(zero, b, sizeof(b));
	assert_true(la > 0);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	assert_int_equal(span_unpack(a, la, &out), 0);
	assert_memory_equal(&out, zero, sizeof(out));
	for (size_t i = 0; i < span_pack_nfields; i++) {
		const struct span_pack_field *f = &span_pack_fields[i];
		const uint8_t *at = (const uint8_t *)dirty + f->off;

		if (f->kind != SPAN_PACK_STR) {
			for (size_t j = 0; j < f->size; j++)
				assert_int_equal(at[j], 0);
			continue;
		}
		assert_int_equal(at[0], 0);
		/* the rest of the string is left as it was */
		assert_int_equal(at[1], 0xa5);
	}
	free(dirty);
	free(zero);
}

static void test_unterminated_strings_cut(void **state)
{
	struct span in, out;
	uint8_t buf[SPAN_PACK_MAX];
	size_t len;

	(void)state;
	fill_all(&in);
	memset(in.path, 'P', sizeof(in.path));
	memset(in.k8s.owner_name, 'O', sizeof(in.k8s.owner_name));
	len = span_pack(&in, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(span_unpack(buf, len, &out), 0);
	assert_int_equal(strlen(out.path), sizeof(out.path) - 1);
	assert_int_equal(strlen(out.k8s.owner_name), sizeof(out.k8s.owner_name) - 1);
	assert_int_equal(out.query[0], 'h'); /* the neighbour is its own */
	assert_int_equal(out.k8s.owner_kind[0], 'w');
}

static void test_small_buffer_refused(void **state)
{
	struct span in;
	uint8_t buf[SPAN_PACK_MAX];
	size_t len, got;

	(void)state;
	fill_all(&in);
	len = span_pack(&in, buf, sizeof(buf));
	for (size_t cap = 0; cap < len; cap++) {
		uint8_t *p = malloc(cap ? cap : 1);

		got = span_pack(&in, p, cap);
		if (got)
			fail_msg("span_pack into %zu bytes gave %zu, expected 0 (needs %zu)", cap,
				 got, len);
		free(p);
	}
	assert_int_equal(span_pack(&in, buf, len), len);
}

/* Every prefix of a packed span, each in a heap block of its own length. */
static void check_prefixes(const struct span *in)
{
	struct span out;
	size_t len;
	uint8_t *full = pack_exact(in, &len);

	for (size_t n = 0; n < len; n++) {
		uint8_t *p = malloc(n ? n : 1);

		memcpy(p, full, n);
		if (span_unpack(p, n, &out) != -EINVAL)
			fail_msg("a prefix of %zu of %zu bytes was accepted", n, len);
		assert_int_equal(out.trace_id[0], 0); /* zeroed, not half filled */
		assert_int_equal(out.name[0], 0);
		free(p);
	}
	free(full);
}

static void test_truncated_refused(void **state)
{
	struct span s;

	(void)state;
	fill_all(&s);
	check_prefixes(&s);
	memset(&s, 0, sizeof(s));
	check_prefixes(&s);
}

static void test_garbled_refused(void **state)
{
	struct span in, out;
	uint8_t buf[SPAN_PACK_MAX + 1], *p;
	size_t len;
	size_t name_len_at = 1 + 16 + 8 + 8 + 4 + 1 + 8 + 8; /* after the fixed head */

	(void)state;
	memset(&in, 0, sizeof(in));
	strcpy(in.name, "GET /x");
	strcpy(in.service_name, "users");
	len = span_pack(&in, buf, sizeof(buf));
	assert_int_equal(buf[name_len_at], 6);
	assert_memory_equal(buf + name_len_at + 1, "GET /x", 6);
	/* a trailing byte */
	buf[len] = 0;
	assert_int_equal(span_unpack(buf, len + 1, &out), -EINVAL);
	/* another format byte */
	buf[0] ^= 0xff;
	assert_int_equal(span_unpack(buf, len, &out), -EINVAL);
	buf[0] ^= 0xff;
	assert_int_equal(span_unpack(buf, len, &out), 0);
	/* a length that runs past the end (checked in a block of exact size) */
	p = malloc(len);
	memcpy(p, buf, len);
	p[name_len_at] = 0xff;
	assert_int_equal(span_unpack(p, len, &out), -EINVAL);
	/* a NUL inside a string */
	memcpy(p, buf, len);
	p[name_len_at + 3] = 0;
	assert_int_equal(span_unpack(p, len, &out), -EINVAL);
	/* a bool that is neither 0 nor 1 (parent_remote, after trace_flags) */
	memcpy(p, buf, len);
	p[1 + 16 + 8 + 8 + 4] = 2;
	assert_int_equal(span_unpack(p, len, &out), -EINVAL);
	free(p);
}

/* A string longer than its field cannot come back: the length is refused,
 * not cut into the neighbour. method is 16 bytes: 15 fit, 16 do not. */
static void test_length_bounded_by_field(void **state)
{
	struct span in, out;
	uint8_t buf[SPAN_PACK_MAX], big[SPAN_PACK_MAX + 16];
	size_t len, at = 0, n;

	(void)state;
	memset(&in, 0, sizeof(in));
	len = span_pack(&in, buf, sizeof(buf));
	/* find method's length byte: the fourth string */
	for (size_t i = 0; i < span_pack_nfields; i++) {
		const struct span_pack_field *f = &span_pack_fields[i];

		if (!strcmp(f->name, "method"))
			break;
		at += f->kind == SPAN_PACK_STR ? 1 : f->kind == SPAN_PACK_BOOL ? 1 : f->size;
	}
	at += 1; /* the format byte */
	assert_int_equal(buf[at], 0);
	for (int sl = 15; sl <= 16; sl++) {
		memcpy(big, buf, at);
		big[at] = (uint8_t)sl;
		memset(big + at + 1, 'M', (size_t)sl);
		memcpy(big + at + 1 + sl, buf + at + 1, len - at - 1);
		n = len + (size_t)sl;
		assert_int_equal(span_unpack(big, n, &out), sl == 15 ? 0 : -EINVAL);
		if (sl == 15)
			assert_int_equal(strlen(out.method), 15);
	}
}

/* The table walks struct span in order and leaves out nothing but padding:
 * a gap between two fields is smaller than the next one's alignment, as
 * padding always is. With the size assertion in span_pack.c this catches a
 * field added to struct span and not to the codec. */
/* A packed span's head rewritten from a span whose head fields changed
 * reads as that span packed; the strings after it stay. */
static void test_head_rewritten(void **state)
{
	uint8_t a[SPAN_PACK_MAX], b[SPAN_PACK_MAX];
	struct span s, out;
	size_t na, nb;

	(void)state;
	fill_all(&s);
	na = span_pack(&s, a, sizeof(a));
	for (int i = 0; i < 16; i++)
		s.trace_id[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 8; i++) {
		s.span_id[i] = (uint8_t)(0xc0 + i);
		s.parent_span_id[i] = (uint8_t)(0xe0 + i);
	}
	s.kind = SPAN_KIND_SERVER;
	s.status = SPAN_STATUS_OK;
	s.sampled = 0;
	s.trace_flags = 0x02;
	s.parent_remote = false;
	s.start_unix_ns = 0x2122232425262728ULL;
	s.end_unix_ns = 0x3132333435363738ULL;
	span_pack_head(&s, a);
	nb = span_pack(&s, b, sizeof(b));
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, nb);
	assert_int_equal(span_unpack(a, na, &out), 0);
	assert_spans_equal(&s, &out);
	/* the head ends where the first string's length byte is */
	assert_int_equal(a[SPAN_PACK_HEAD], sizeof(s.name) - 1);
}

static void test_table_covers_struct(void **state)
{
	size_t end = 0, sum = 0;

	(void)state;
	for (size_t i = 0; i < span_pack_nfields; i++) {
		const struct span_pack_field *f = &span_pack_fields[i];

		if (f->off < end)
			fail_msg("%s at %u overlaps the field before (ends at %zu)", f->name,
				 f->off, end);
		if (f->off - end >= f->align)
			fail_msg("%zu bytes before %s are no field of the table", f->off - end,
				 f->name);
		if (f->kind == SPAN_PACK_STR && f->size > 256)
			fail_msg("%s: a string of %u bytes does not fit a length byte", f->name,
				 f->size);
		end = f->off + f->size;
		sum += f->size;
	}
	assert_true(sizeof(struct span) - end < __alignof__(struct span));
	assert_true(sum > sizeof(struct span) - 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_span_round_trip),
	    cmocka_unit_test(test_empty_span_round_trip),
	    cmocka_unit_test(test_clear_reads_as_zeroed),
	    cmocka_unit_test(test_unpack_over_dirty),
	    cmocka_unit_test(test_unterminated_strings_cut),
	    cmocka_unit_test(test_small_buffer_refused),
	    cmocka_unit_test(test_truncated_refused),
	    cmocka_unit_test(test_garbled_refused),
	    cmocka_unit_test(test_length_bounded_by_field),
	    cmocka_unit_test(test_table_covers_struct),
	    cmocka_unit_test(test_head_rewritten),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
