/* SPDX-License-Identifier: Apache-2.0 */
/* test_spanbuild_done.c: the span builder's list of finished spans (the
 * only ones its tick looks at for spans to emit) holds exactly the spans in
 * SB_DONE, ordered by the time they finished; the tick emits the due ones
 * in the order their requests came, whatever the order they finished in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "trace/spanbuild_int.h"
#include "sbfeed.h"

#define MS 1000000ULL

static char order[16];
static int emitted;

static void keep_order(const struct span *sp, const struct span_packed *pk, void *ctx)
{
	(void)pk;
	(void)ctx;
	if (emitted < (int)sizeof(order) - 1)
		order[emitted] = sp->path[1]; /* "/a" -> 'a' */
	emitted++;
}

static struct spanbuild *builder(void)
{
	struct sb_config c = {.emit = keep_order, .sampling_ratio = 1.0, .emit_unsampled = true};
	struct spanbuild *sb = sb_new(&c);

	assert_non_null(sb);
	memset(order, 0, sizeof(order));
	emitted = 0;
	return sb;
}

/* The list against a walk of every span: the same members, in SB_DONE,
 * done_ns never going down. */
static int check_list(struct spanbuild *sb)
{
	int on_list = 0, done = 0;
	uint64_t last = 0;

	for (struct sb_node *n = sb->done.head; n; n = n->next) {
		struct sb_pend *p = sb_of(n, struct sb_pend, done);

		assert_int_equal(p->state, SB_DONE);
		assert_true(p->on_done);
		assert_true(p->done_ns >= last);
		last = p->done_ns;
		on_list++;
	}
	for (struct sb_node *n = sb->all.head; n; n = n->next)
		done += sb_of(n, struct sb_pend, all)->state == SB_DONE;
	assert_int_equal(on_list, done);
	return on_list;
}

/* A request on its own socket (cookie), its path "/<name>". */
static void feed(struct spanbuild *sb, uint64_t cookie, uint8_t kind, uint64_t ts, char name)
{
	struct obs o;

	sbfeed_obs(&o, cookie, kind, ts);
	o.target[0] = '/';
	o.target[1] = name;
	o.status = 200;
	o.body = OBS_BODY_NONE; /* ends at its head */
	sb_feed(sb, &o);
}

static void test_done_list_and_order(void **state)
{
	struct spanbuild *sb = builder();

	(void)state;
	/* requests a, b, c, d in this order */
	feed(sb, 1, OBS_REQUEST, 1 * MS, 'a');
	feed(sb, 2, OBS_REQUEST, 2 * MS, 'b');
	feed(sb, 3, OBS_REQUEST, 3 * MS, 'c');
	feed(sb, 4, OBS_REQUEST, 4 * MS, 'd');
	assert_int_equal(check_list(sb), 0);
	/* finished c, a, d, then b (at a time before d's) */
	feed(sb, 3, OBS_RESPONSE, 10 * MS, 'c');
	feed(sb, 1, OBS_RESPONSE, 20 * MS, 'a');
	feed(sb, 4, OBS_RESPONSE, 40 * MS, 'd');
	assert_int_equal(check_list(sb), 3);
	feed(sb, 2, OBS_RESPONSE, 30 * MS, 'b');
	assert_int_equal(check_list(sb), 4);
	/* the pair window (200 ms) has passed for c and a only */
	sb_tick(sb, 225 * MS);
	assert_string_equal(order, "ac");
	assert_int_equal(check_list(sb), 2);
	/* and now for all: request order again */
	sb_tick(sb, 1000 * MS);
	assert_string_equal(order, "acbd");
	assert_int_equal(check_list(sb), 0);
	sb_free(sb);
}

/* A span that leaves the builder otherwise (made room for, flushed) leaves
 * the list too. */
static void test_done_list_other_exits(void **state)
{
	struct spanbuild *sb = builder();

	(void)state;
	feed(sb, 1, OBS_REQUEST, 1 * MS, 'a');
	feed(sb, 1, OBS_RESPONSE, 2 * MS, 'a');
	feed(sb, 2, OBS_REQUEST, 3 * MS, 'b');
	feed(sb, 2, OBS_RESPONSE, 4 * MS, 'b');
	assert_int_equal(check_list(sb), 2);
	assert_true(sb_make_room(sb));
	assert_string_equal(order, "a");
	assert_int_equal(check_list(sb), 1);
	feed(sb, 3, OBS_REQUEST, 5 * MS, 'c');
	sb_flush(sb);
	assert_string_equal(order, "ab");
	assert_int_equal(check_list(sb), 0);
	sb_free(sb); /* under ASan: nothing left on the list points at freed memory */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_done_list_and_order),
	    cmocka_unit_test(test_done_list_other_exits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
