/* SPDX-License-Identifier: Apache-2.0 */
/* test_span_ring.c: packed spans in a byte arena (exporters/span_ring.c),
 * against a plain list of what it should hold: random sizes, both bounds,
 * evicting and refusing, records never overlapping or leaving the arena. */
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
#include "exporters/span_ring.h"

/* A span told apart by id, whose packed size grows with pathlen. */
static void mk(struct span *s, uint32_t id, size_t pathlen)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->trace_id, &id, sizeof(id));
	s->span_id[0] = 1;
	snprintf(s->service_name, sizeof(s->service_name), "svc-%u", id % 3);
	if (pathlen > sizeof(s->path) - 1)
		pathlen = sizeof(s->path) - 1;
	memset(s->path, 'a' + (char)(id % 26), pathlen);
}

static size_t packed_len(const struct span *s)
{
	uint8_t buf[SPAN_PACK_MAX];

	return span_pack(s, buf, sizeof(buf));
}

static uint32_t id_of(const struct span *s)
{
	uint32_t id;

	memcpy(&id, s->trace_id, sizeof(id));
	return id;
}

/* Records lie inside the arena, apart, and add up to used. */
static void check_layout(const struct span_ring *r)
{
	size_t used = 0;

	assert_true(r->count <= r->cap);
	for (uint32_t i = 0; i < r->count; i++) {
		const struct span_ring_rec *a = span_ring_at(r, i);

		assert_true(a->len > 0 && (size_t)a->off + a->len <= r->size);
		used += a->len;
		for (uint32_t j = i + 1; j < r->count; j++) {
			const struct span_ring_rec *b = span_ring_at(r, j);

			if (a->off < b->off + b->len && b->off < a->off + a->len)
				fail_msg("records %u [%u,+%u) and %u [%u,+%u) overlap", i, a->off,
					 a->len, j, b->off, b->len);
		}
	}
	assert_int_equal(used, r->used);
	assert_true(used <= r->size);
}

/* The ring holds exactly model[first..last), oldest first. */
static void check_content(const struct span_ring *r, const uint32_t *model, size_t first,
			  size_t last)
{
	struct span out;

	assert_int_equal(r->count, last - first);
	for (uint32_t k = 0; k < r->count; k++) {
		assert_int_equal(span_ring_get(r, k, &out), 0);
		assert_int_equal(id_of(&out), model[first + k]);
	}
}

/* Evicting: the oldest go, the newest are kept, in order, intact. */
static void test_evict_random(void **state)
{
	struct span_ring r;
	enum { N = 20000 };
	uint32_t *model = calloc(N, sizeof(*model));
	size_t first = 0;
	struct span s;

	(void)state;
	srand(7);
	assert_int_equal(span_ring_init(&r, 64, 16 * 1024), 0);
	for (uint32_t i = 0; i < N; i++) {
		mk(&s, i, (size_t)(rand() % 300));
		assert_int_equal(span_ring_push(&r, &s, true), 0);
		model[i] = i;
		first = i + 1 - r.count;
		if (i % 97 == 0) {
			check_layout(&r);
			check_content(&r, model, first, i + 1);
		}
		/* the newest always stays */
		assert_int_equal(span_ring_at(&r, r.count - 1)->len, packed_len(&s));
	}
	check_layout(&r);
	check_content(&r, model, first, N);
	span_ring_free(&r);
	free(model);
}

/* The count bound: 5 small spans in a ring of 3 keep the last 3. */
static void test_evict_by_count(void **state)
{
	struct span_ring r;
	struct span s, out;

	(void)state;
	assert_int_equal(span_ring_init(&r, 3, 1 << 20), 0);
	for (uint32_t i = 1; i <= 5; i++) {
		mk(&s, i, 10);
		assert_int_equal(span_ring_push(&r, &s, true), 0);
	}
	assert_int_equal(r.count, 3);
	assert_int_equal(span_ring_get(&r, 0, &out), 0);
	assert_int_equal(id_of(&out), 3);
	assert_int_equal(span_ring_get(&r, 2, &out), 0);
	assert_int_equal(id_of(&out), 5);
	assert_int_equal(span_ring_get(&r, 3, &out), -EINVAL);
	span_ring_free(&r);
}

/* The byte bound: large spans in an arena of the smallest size evict by
 * bytes long before the count bound. */
static void test_evict_by_bytes(void **state)
{
	struct span_ring r;
	struct span s;
	size_t len;

	(void)state;
	assert_int_equal(span_ring_init(&r, 1000, 0), 0);
	assert_int_equal(r.size, SPAN_PACK_MAX);
	mk(&s, 0, 255);
	len = packed_len(&s);
	for (uint32_t i = 0; i < 100; i++) {
		mk(&s, i, 255);
		assert_int_equal(span_ring_push(&r, &s, true), 0);
		assert_true(r.used <= r.size);
		check_layout(&r);
	}
	/* as many as fit, less at most one lost at the arena's end */
	assert_true(r.count >= SPAN_PACK_MAX / len - 1 && r.count <= SPAN_PACK_MAX / len);
	span_ring_free(&r);
}

/* Refusing (the OTLP queue): a full ring returns -ENOSPC and keeps its
 * spans; a consumer taking the oldest makes room. With spans of at most S
 * bytes in cap * S + SPAN_PACK_MAX, only the count bound refuses. */
static void test_refuse_random(void **state)
{
	enum { CAP = 32, S = 400, N = 20000 };
	struct span_ring r;
	uint32_t *model = calloc(N, sizeof(*model));
	size_t first = 0, last = 0, refused = 0;
	struct span s;

	(void)state;
	srand(11);
	assert_int_equal(span_ring_init(&r, CAP, CAP * S + SPAN_PACK_MAX), 0);
	for (uint32_t i = 0; i < N; i++) {
		int rc;

		mk(&s, i, (size_t)(rand() % 300));
		assert_true(packed_len(&s) <= S);
		rc = span_ring_push(&r, &s, false);
		if (rc) {
			assert_int_equal(rc, -ENOSPC);
			assert_int_equal(r.count, CAP);
			refused++;
		} else {
			model[last++] = i;
		}
		/* a consumer slower, then faster than the producer */
		if (rand() % 3 == 0) {
			uint32_t n = (uint32_t)(rand() % ((i / 500) % 2 ? 20 : 2));

			if (n > r.count)
				n = r.count;
			span_ring_drop_oldest(&r, n);
			first += n;
		}
		if (i % 89 == 0) {
			check_layout(&r);
			check_content(&r, model, first, last);
		}
	}
	assert_true(refused > 0);
	check_content(&r, model, first, last);
	span_ring_free(&r);
	free(model);
}

/* A refusing ring whose spans outgrow S meets its byte bound: refused
 * below the count bound, nothing it held lost. */
static void test_refuse_by_bytes(void **state)
{
	struct span_ring r;
	struct span s, out;
	uint32_t i;

	(void)state;
	assert_int_equal(span_ring_init(&r, 100, 0), 0);
	for (i = 0;; i++) {
		mk(&s, i, 255);
		if (span_ring_push(&r, &s, false))
			break;
	}
	assert_true(i > 0 && i < 100);
	assert_int_equal(r.count, i);
	assert_int_equal(span_ring_get(&r, 0, &out), 0);
	assert_int_equal(id_of(&out), 0);
	span_ring_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_evict_random),    cmocka_unit_test(test_evict_by_count),
	    cmocka_unit_test(test_evict_by_bytes),  cmocka_unit_test(test_refuse_random),
	    cmocka_unit_test(test_refuse_by_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
