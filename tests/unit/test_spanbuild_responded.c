/* SPDX-License-Identifier: Apache-2.0 */
/* test_spanbuild_responded.c: the span builder's list of responses still
 * open (the only spans its tick polls and times out) holds exactly the
 * spans in SB_RESPONDED, whichever way they leave that state: their end,
 * the deadline, a close, a later response, a flush. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "trace/spanbuild_int.h"
#include "sbfeed.h"

#define MS 1000000ULL

static int emitted;

static void count_emit(const struct span *sp, const struct span_packed *pk, void *ctx)
{
	(void)pk;
	(void)sp;
	(void)ctx;
	emitted++;
}

static struct spanbuild *builder(void)
{
	struct sb_config c = {.emit = count_emit, .sampling_ratio = 1.0, .emit_unsampled = true};
	struct spanbuild *sb = sb_new(&c);

	assert_non_null(sb);
	emitted = 0;
	return sb;
}

/* The list against a walk of every span: same members, in SB_RESPONDED. */
static int check_list(struct spanbuild *sb)
{
	int on_list = 0, responded = 0;

	for (struct sb_node *n = sb->responded.head; n; n = n->next) {
		struct sb_pend *p = sb_of(n, struct sb_pend, responding);

		assert_int_equal(p->state, SB_RESPONDED);
		on_list++;
	}
	for (struct sb_node *n = sb->all.head; n; n = n->next)
		responded += sb_of(n, struct sb_pend, all)->state == SB_RESPONDED;
	assert_int_equal(on_list, responded);
	return on_list;
}

static void feed(struct spanbuild *sb, uint64_t cookie, uint8_t kind, uint64_t ts, uint16_t status,
		 uint8_t body)
{
	struct obs o;

	sbfeed_obs(&o, cookie, kind, ts);
	memcpy(o.target, "/", 2);
	o.status = status;
	o.body = body;
	sb_feed(sb, &o);
}

static void test_responded_list(void **state)
{
	struct spanbuild *sb = builder();

	(void)state;
	/* a response whose body goes on: open until its end */
	feed(sb, 1, OBS_REQUEST, 1 * MS, 0, 0);
	assert_int_equal(check_list(sb), 0);
	feed(sb, 1, OBS_RESPONSE, 2 * MS, 200, OBS_BODY_LENGTH);
	assert_int_equal(check_list(sb), 1);
	feed(sb, 1, OBS_RESPONSE_END, 3 * MS, 0, 0);
	assert_int_equal(check_list(sb), 0);

	/* a bodiless response is done at its head */
	feed(sb, 1, OBS_REQUEST, 4 * MS, 0, 0);
	feed(sb, 1, OBS_RESPONSE, 5 * MS, 204, OBS_BODY_NONE);
	assert_int_equal(check_list(sb), 0);

	/* a later response ends the one before */
	feed(sb, 2, OBS_REQUEST, 6 * MS, 0, 0);
	feed(sb, 2, OBS_REQUEST, 6 * MS, 0, 0);
	feed(sb, 2, OBS_RESPONSE, 7 * MS, 200, OBS_BODY_TO_CLOSE);
	assert_int_equal(check_list(sb), 1);
	feed(sb, 2, OBS_RESPONSE, 8 * MS, 200, OBS_BODY_TO_CLOSE);
	assert_int_equal(check_list(sb), 1);
	/* the close ends it */
	feed(sb, 2, OBS_CLOSE, 9 * MS, 0, 0);
	assert_int_equal(check_list(sb), 0);

	/* no end ever: the tick's deadline (5 s) takes it off */
	feed(sb, 3, OBS_REQUEST, 10 * MS, 0, 0);
	feed(sb, 3, OBS_RESPONSE, 11 * MS, 200, OBS_BODY_LENGTH);
	feed(sb, 4, OBS_REQUEST, 10 * MS, 0, 0);
	feed(sb, 4, OBS_RESPONSE, 11 * MS, 200, OBS_BODY_LENGTH);
	assert_int_equal(check_list(sb), 2);
	sb_tick(sb, 1000 * MS);
	assert_int_equal(check_list(sb), 2);
	sb_tick(sb, 6000 * MS);
	assert_int_equal(check_list(sb), 0);
	sb_tick(sb, 20000 * MS);
	assert_int_equal(sb->n_pending, 0);
	assert_int_equal(emitted, 6);

	/* still open at a flush: dropped, off the list */
	feed(sb, 5, OBS_REQUEST, 21000 * MS, 0, 0);
	feed(sb, 5, OBS_RESPONSE, 21001 * MS, 200, OBS_BODY_LENGTH);
	assert_int_equal(check_list(sb), 1);
	sb_flush(sb);
	assert_int_equal(check_list(sb), 0);
	assert_null(sb->responded.head);
	assert_null(sb->responded.tail);
	sb_free(sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_responded_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
