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

#include "trace/spanbuild_int.h"

static void no_emit(const struct span *sp, void *ctx)
{
	(void)sp;
	(void)ctx;
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

/* A record given back dirty comes out again zeroed, the same memory. */
static void test_spare_comes_back_zeroed(void **state)
{
	struct spanbuild *sb = builder();
	struct sb_pend *p = sb_pend_alloc(sb), *q;

	(void)state;
	assert_non_null(p);
	assert_true(all_zero(p, sizeof(*p)));
	memset(p, 0xa5, sizeof(*p));
	sb_pend_release(sb, p);
	assert_int_equal(sb->n_spare, 1);
	q = sb_pend_alloc(sb);
	assert_ptr_equal(q, p);
	assert_int_equal(sb->n_spare, 0);
	assert_true(all_zero(q, sizeof(*q)));
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
	for (int i = 0; i < N; i++)
		sb_pend_release(sb, p[i]);
	assert_int_equal(sb->n_spare, SB_SPARE_MAX);
	/* the spares are taken newest first, each once */
	for (int i = 0; i < SB_SPARE_MAX; i++) {
		struct sb_pend *q = sb_pend_alloc(sb);

		assert_ptr_equal(q, p[SB_SPARE_MAX - 1 - i]);
		sb_pend_release(sb, q);
		q = sb_pend_alloc(sb);
		assert_ptr_equal(q, p[SB_SPARE_MAX - 1 - i]);
		p[SB_SPARE_MAX - 1 - i] = q;
	}
	assert_int_equal(sb->n_spare, 0);
	for (int i = 0; i < SB_SPARE_MAX; i++)
		sb_pend_release(sb, p[i]);
	sb_free(sb); /* frees the spares: ASan reports any leak */
}

/* Spans made and emitted by the builder go through the spares. */
static void test_builder_reuses_records(void **state)
{
	struct spanbuild *sb = builder();
	struct obs o;

	(void)state;
	for (int i = 0; i < 3; i++) {
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
	sb_free(sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spare_comes_back_zeroed),
	    cmocka_unit_test(test_spares_bounded),
	    cmocka_unit_test(test_builder_reuses_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
