/* SPDX-License-Identifier: Apache-2.0 */
/* test_printable.c: what the traffic puts in an agent's answers reaches an
 * operator's terminal without its control characters: an HTTP/2 :path is
 * cut where it stops being a request-target (proto_h2.c), and the CLI makes
 * every string of an answer printable (cli_json_printable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli_query.h"
#include "trace/proto_h2.h"

static const char *printable(const char *s)
{
	static char out[256];

	cli_printable(s, out, sizeof(out));
	return out;
}

static void test_controls_replaced(void **state)
{
	(void)state;
	assert_string_equal(printable("plain/path"), "plain/path");
	/* an escape sequence that sets a terminal's title */
	assert_string_equal(printable("a\033]2;pwned\007b"), "a?]2;pwned?b");
	assert_string_equal(printable("tab\there\r\n\x7f"), "tab?here???");
	/* C1 CSI, as UTF-8 and as a lone byte (a Latin-1 terminal's CSI) */
	assert_string_equal(printable("x\xc2\x9b"
				      "31m"),
			    "x?31m");
	assert_string_equal(printable("x\x9b"
				      "31m"),
			    "x?31m");
	/* bytes that are no UTF-8: overlong '/', a surrogate, a cut sequence */
	assert_string_equal(printable("\xc0\xaf"
				      "a"),
			    "??a");
	assert_string_equal(printable("\xed\xa0\x80"), "???");
	assert_string_equal(printable("\xe6\x97"), "??");
	/* UTF-8 text stays */
	assert_string_equal(printable("caf\xc3\xa9 \xe6\x97\xa5\xf0\x9f\x99\x82"),
			    "caf\xc3\xa9 \xe6\x97\xa5\xf0\x9f\x99\x82");
}

static void test_bounded(void **state)
{
	char out[4];

	(void)state;
	cli_printable("abcdef", out, sizeof(out));
	assert_string_equal(out, "abc");
	/* a character that does not fit whole is left out */
	cli_printable("ab\xc3\xa9", out, sizeof(out));
	assert_string_equal(out, "ab");
}

static void test_json_answer(void **state)
{
	json_object *doc = json_tokener_parse(
	    "{\"services\":[{\"name\":\"ok\",\"rpcs\":[{\"route\":\"pkg.S/\\u001b[2JM\"}]}],"
	    "\"n\":3,\"s\":\"\\u009bX\"}");
	json_object *svc;

	(void)state;
	assert_non_null(doc);
	cli_json_printable(doc);
	svc = jat(jobj(doc, "services"), 0);
	assert_string_equal(jstr(svc, "name"), "ok");
	assert_string_equal(jstr(jat(jobj(svc, "rpcs"), 0), "route"), "pkg.S/?[2JM");
	assert_string_equal(jstr(doc, "s"), "?X");
	assert_int_equal(jint(doc, "n"), 3);
	json_object_put(doc);
}

static void field(struct h2_head *h, const char *name, const char *v, size_t n)
{
	h2_head_field((const uint8_t *)name, strlen(name), (const uint8_t *)v, n, h);
}

static void test_h2_path(void **state)
{
	static const char esc[] = "/pkg.Svc/M\033]2;x\007?q=1";
	struct h2_head h;

	(void)state;
	h2_head_reset(&h);
	field(&h, ":path", "/a/b?x=1&y=2", 12);
	assert_string_equal(h.target, "/a/b");
	assert_string_equal(h.query, "x=1&y=2");
	assert_false(h.target_truncated);
	/* cut at its first byte that no request-target has, marked; the
	 * query after it left out */
	h2_head_reset(&h);
	field(&h, ":path", esc, sizeof(esc) - 1);
	assert_string_equal(h.target, "/pkg.Svc/M");
	assert_true(h.target_truncated);
	assert_string_equal(h.query, "");
	/* a bad byte in the query only: the path stays whole, the query goes */
	h2_head_reset(&h);
	field(&h, ":path", "/ok?q=\001", 7);
	assert_string_equal(h.target, "/ok");
	assert_false(h.target_truncated);
	assert_string_equal(h.query, "");
	/* a space, a NUL, a byte past ASCII */
	h2_head_reset(&h);
	field(&h, ":path", "/a b", 4);
	assert_string_equal(h.target, "/a");
	h2_head_reset(&h);
	field(&h, ":path", "/a\0b", 4);
	assert_string_equal(h.target, "/a");
	h2_head_reset(&h);
	field(&h, ":path", "/caf\xc3\xa9", 6);
	assert_string_equal(h.target, "/caf");
	assert_true(h.target_truncated);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_controls_replaced),
	    cmocka_unit_test(test_bounded),
	    cmocka_unit_test(test_json_answer),
	    cmocka_unit_test(test_h2_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
