/* SPDX-License-Identifier: Apache-2.0 */
/* test_route.c: http.route from templates, the folding heuristic and the
 * per-service cap on distinct routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "trace/route.h"

static void expect_fold(const char *path, bool truncated, const char *want)
{
	char out[256];

	route_fold(path, truncated, out, sizeof(out));
	if (strcmp(out, want))
		fail_msg("fold(%s%s): expected %s, got %s", path, truncated ? ", cut" : "", want,
			 out);
}

static void test_template_match(void **state)
{
	(void)state;
	assert_true(route_template_match("/api/v1/users/{id}", "/api/v1/users/42"));
	assert_true(route_template_match("/api/v1/users/{id}", "/api/v1/users/bob?x=1"));
	assert_true(route_template_match("/a/{x}/b/{y}", "/a/1/b/2"));
	assert_true(route_template_match("/", "/"));
	assert_true(route_template_match("/health", "/health"));
	/* one placeholder is exactly one non-empty segment */
	assert_false(route_template_match("/api/v1/users/{id}", "/api/v1/users/"));
	assert_false(route_template_match("/api/v1/users/{id}", "/api/v1/users/4/orders"));
	assert_false(route_template_match("/api/v1/users/{id}", "/api/v1/users"));
	assert_false(route_template_match("/api/v1/users/{id}", "/api/v2/users/4"));
	assert_false(route_template_match("/health", "/health/"));
	assert_false(route_template_match("/health", "/healthz"));
	assert_false(route_template_match("/a/{x}", "*"));
	/* braces inside a segment are literal */
	assert_false(route_template_match("/f/{a}.json", "/f/x.json"));
	assert_true(route_template_match("/f/{a}.json", "/f/{a}.json"));
}

static void test_segment_ids(void **state)
{
	(void)state;
	expect_fold("/api/v1/users/42", false, "/api/v1/users/*");
	expect_fold("/orders/123e4567-e89b-12d3-a456-426614174000/items", false, "/orders/*/items");
	expect_fold("/blobs/9f86d081884c7d65", false, "/blobs/*");
	expect_fold("/objects/507f1f77bcf86cd799439011", false, "/objects/*");
	expect_fold("/t/01ARZ3NDEKTSV4RRFFQ69G5FAV", false, "/t/*"); /* ULID */
	expect_fold("/s/aZ3_kd9-QpL0xYw2", false, "/s/*");
	/* words and short mixed names stay */
	expect_fold("/api/v1/oauth2/deadbeef/cafe", false, "/api/v1/oauth2/deadbeef/cafe");
	expect_fold("/users/bob/profile", false, "/users/bob/profile");
	expect_fold("/a1b2c3", false, "/a1b2c3"); /* hex, but only 6 long */
	expect_fold("/products/wireless-headphones", false, "/products/wireless-headphones");
	/* empty segments and the root keep their shape; the query goes */
	expect_fold("/", false, "/");
	expect_fold("/a//7/", false, "/a//*/");
	expect_fold("/items/7?page=2", false, "/items/*");
	expect_fold("*", false, "");
	expect_fold("", false, "");
}

static void test_fold_truncated(void **state)
{
	(void)state;
	/* the last segment of a cut path may be partial: it is "*" */
	expect_fold("/files/report-2024-ann", true, "/files/*");
	expect_fold("/files/", true, "/files/*");
	expect_fold("/abc", true, "/*");
	expect_fold("/users/17/docu", true, "/users/*/*");
}

static void test_fold_small_buffer(void **state)
{
	char out[8];

	(void)state;
	route_fold("/abcdefghijkl/42", false, out, sizeof(out));
	assert_string_equal(out, "/abcdef");
}

static void test_table_templates_first(void **state)
{
	static const char *const tmpl[] = {"/api/v1/users/{id}", "/api/v1/users/me",
					   "/api/v1/{kind}/{id}"};
	struct route_table *rt = route_table_new(tmpl, 3, 0);
	char out[256];

	(void)state;
	assert_non_null(rt);
	/* the first matching template wins, even over a more specific one */
	assert_int_equal(route_of(rt, "/api/v1/users/me", false, out, sizeof(out)), ROUTE_TEMPLATE);
	assert_string_equal(out, "/api/v1/users/{id}");
	assert_int_equal(route_of(rt, "/api/v1/orders/9", false, out, sizeof(out)), ROUTE_TEMPLATE);
	assert_string_equal(out, "/api/v1/{kind}/{id}");
	assert_int_equal(route_of(rt, "/static/app.js", false, out, sizeof(out)), ROUTE_HEURISTIC);
	assert_string_equal(out, "/static/app.js");
	/* a cut path is never claimed by a template */
	assert_int_equal(route_of(rt, "/api/v1/users/12", true, out, sizeof(out)), ROUTE_HEURISTIC);
	assert_string_equal(out, "/api/v1/users/*");
	assert_int_equal(route_of(rt, "*", false, out, sizeof(out)), ROUTE_NONE);
	assert_string_equal(out, "");
	route_table_free(rt);
}

static void test_table_cap(void **state)
{
	static const char *const tmpl[] = {"/t/{x}"};
	struct route_table *rt = route_table_new(tmpl, 1, 3);
	char path[64], out[256];

	(void)state;
	assert_non_null(rt);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/page-%c/7", 'a' + i);
		assert_int_equal(route_of(rt, path, false, out, sizeof(out)), ROUTE_HEURISTIC);
	}
	assert_int_equal(route_table_len(rt), 3);
	/* the same folded route again is no new route */
	assert_int_equal(route_of(rt, "/page-a/8", false, out, sizeof(out)), ROUTE_HEURISTIC);
	assert_string_equal(out, "/page-a/*");
	/* templates do not count against the cap */
	assert_int_equal(route_of(rt, "/t/anything", false, out, sizeof(out)), ROUTE_TEMPLATE);
	/* past the cap: a new route is the catch-all, known ones stay */
	assert_int_equal(route_of(rt, "/page-z/1", false, out, sizeof(out)), ROUTE_OVERFLOW_CAP);
	assert_string_equal(out, ROUTE_OVERFLOW);
	assert_int_equal(route_of(rt, "/page-b/99", false, out, sizeof(out)), ROUTE_HEURISTIC);
	assert_string_equal(out, "/page-b/*");
	assert_int_equal(route_table_len(rt), 3);
	assert_int_equal(route_table_overflows(rt), 1);
	route_table_free(rt);
}

static void test_table_default_cap(void **state)
{
	struct route_table *rt = route_table_new(NULL, 0, 0);
	char path[64], out[256];
	int overflow = 0;

	(void)state;
	assert_non_null(rt);
	for (int i = 0; i < 250; i++) {
		snprintf(path, sizeof(path), "/file-%c%c.txt", 'a' + i % 26, 'a' + i / 26);
		overflow += route_of(rt, path, false, out, sizeof(out)) == ROUTE_OVERFLOW_CAP;
	}
	assert_int_equal(route_table_len(rt), ROUTE_CAP_DEFAULT);
	assert_int_equal(overflow, 250 - ROUTE_CAP_DEFAULT);
	route_table_free(rt);
	route_table_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_template_match),	  cmocka_unit_test(test_segment_ids),
	    cmocka_unit_test(test_fold_truncated),	  cmocka_unit_test(test_fold_small_buffer),
	    cmocka_unit_test(test_table_templates_first), cmocka_unit_test(test_table_cap),
	    cmocka_unit_test(test_table_default_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
