/* SPDX-License-Identifier: Apache-2.0 */
/* test_spanbuild_spare.c: the span builder's spare span records: handed
 * out zeroed, at most SB_SPARE_MAX kept, all freed with the builder (run
 * under AddressSanitizer by make test-unit-asan: no leak, no reuse of a
 * freed record). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "exporters/span_pack.h"
#include "trace/spanbuild_int.h"

static void no_emit(const struct span *sp, void *ctx)
{
	(void)sp;
	(void)ctx;
}

/* the spans emitted, packed */
struct emitted {
	uint8_t buf[4][SPAN_PACK_MAX];
	size_t len[4];
	int n;
};

static void keep_emit(const struct span *sp, void *ctx)
{
	struct emitted *e = ctx;

	assert_true(e->n < 4);
	e->len[e->n] = span_pack(sp, e->buf[e->n], sizeof(e->buf[0]));
	e->n++;
}

static struct spanbuild *builder(void)
{
	struct sb_config c = {.emit = no_emit, .sampling_ratio = 1.0, .emit_unsampled = true};
	struct spanbuild *sb = sb_new(&c);

	assert_non_null(sb);
	return sb;
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* A record given back dirty comes out again empty, the same memory: all
 * but its span zeroed, its span reading as a zeroed one (span_clear: the
 * strings' bytes past their NUL are left). */
static void test_spare_comes_back_empty(void **state)
{
	struct spanbuild *sb = builder();
	struct sb_pend *p = sb_pend_alloc(sb), *q;
	static const struct span zero;
	uint8_t a[SPAN_PACK_MAX], b[SPAN_PACK_MAX];
	size_t la, lb;

	(void)state;
	assert_non_null(p);
	assert_true(all_zero(p, sizeof(*p)));
	memset(p, 0xa5, sizeof(*p));
	sb_pend_release(sb, p);
	assert_int_equal(sb->n_spare, 1);
	q = sb_pend_alloc(sb);
	assert_ptr_equal(q, p);
	assert_int_equal(sb->n_spare, 0);
	assert_true(all_zero((char *)q + sizeof(q->sp), sizeof(*q) - sizeof(q->sp)));
	la = span_pack(&q->sp, a, sizeof(a));
	lb = span_pack(&zero, b, sizeof(b));
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	sb_pend_release(sb, q);
	sb_free(sb);
}

/* More given back than SB_SPARE_MAX: the rest is freed, not kept. */
static void test_spares_bounded(void **state)
{
	enum { N = SB_SPARE_MAX + 40 };
	static struct sb_pend *p[N];
	struct spanbuild *sb = builder();

	(void)state;
	for (int i = 0; i < N; i++) {
		p[i] = sb_pend_alloc(sb);
		assert_non_null(p[i]);
	}
	for (int i = 0; i < N; i++) {
		sb_pend_release(sb, p[i]);
		/* the newest first, even at the cap: it is in the cache */
		assert_ptr_equal(sb->spare, p[i]);
	}
	assert_int_equal(sb->n_spare, SB_SPARE_MAX);
	/* kept: the newest, then the SB_SPARE_MAX - 1 first ones (each one
	 * past the cap freed the one before it), taken newest first, each
	 * once */
	p[SB_SPARE_MAX - 1] = p[N - 1];
	for (int i = 0; i < SB_SPARE_MAX; i++) {
		struct sb_pend *q = sb_pend_alloc(sb);

		assert_ptr_equal(q, p[SB_SPARE_MAX - 1 - i]);
		sb_pend_release(sb, q);
		q = sb_pend_alloc(sb);
		assert_ptr_equal(q, p[SB_SPARE_MAX - 1 - i]);
	}
	assert_int_equal(sb->n_spare, 0);
	for (int i = 0; i < SB_SPARE_MAX; i++)
		sb_pend_release(sb, p[i]);
	sb_free(sb); /* frees the spares: ASan reports any leak, or a double free */
}

/* Spans made and emitted by the builder go through the spares; a record
 * whose last span left its strings' tails behind (here: garbage) makes the
 * same span as a new one: the same packed bytes but ids and times. */
static void test_builder_reuses_records(void **state)
{
	static struct emitted e;
	struct sb_config c = {.emit = keep_emit,
			      .emit_ctx = &e,
			      .sampling_ratio = 1.0,
			      .emit_unsampled = true,
			      .host_name = "node-1"};
	struct spanbuild *sb = sb_new(&c);
	struct obs o;
	/* where the packed times start: the format byte, the three ids, five
	 * one-byte fields (span_pack.c) */
	size_t t = 1 + 16 + 8 + 8 + 5, n;

	(void)state;
	assert_non_null(sb);
	for (int i = 0; i < 3; i++) {
		if (i == 2)
			memset(&sb->spare->sp, 0xa5, sizeof(sb->spare->sp));
		memset(&o, 0, sizeof(o));
		o.cookie = 1;
		o.role = OBS_ROLE_SERVER;
		o.kind = OBS_REQUEST;
		o.ts_ns = 1000000000ULL * (i + 1);
		o.local.family = o.remote.family = AF_INET;
		o.remote.port = 40000;
		o.local.port = 80;
		memcpy(o.method, "GET", 4);
		memcpy(o.target, "/", 2);
		memcpy(o.user_agent, "loadgen", 8);
		memcpy(o.service, "web", 4);
		memcpy(o.service_ns, "default", 8);
		memcpy(o.comm, "nginx", 6);
		sb_feed(sb, &o);
		o.kind = OBS_RESPONSE;
		o.status = 200;
		o.body = OBS_BODY_NONE;
		o.ts_ns += 1000;
		sb_feed(sb, &o);
		sb_tick(sb, o.ts_ns + 20000000000ULL);
		/* emitted: its record waits for the next request */
		assert_int_equal(sb->n_pending, 0);
		assert_int_equal(sb->n_spare, 1);
	}
	assert_int_equal(e.n, 3);
	n = e.len[0];
	assert_true(n > t + 16);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(e.len[i], n);
		/* the kind, status, flags, then everything after the times */
		assert_memory_equal(e.buf[i] + t - 5, e.buf[0] + t - 5, 5);
		assert_memory_equal(e.buf[i] + t + 16, e.buf[0] + t + 16, n - t - 16);
	}
	sb_free(sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spare_comes_back_empty),
	    cmocka_unit_test(test_spares_bounded),
	    cmocka_unit_test(test_builder_reuses_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
