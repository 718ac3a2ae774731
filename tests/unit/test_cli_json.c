/* SPDX-License-Identifier: Apache-2.0 */
/* test_cli_json.c: the CLI's type check of the agent's answers
 * (cli_json_check in cli_query.c) and its safe array accessors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli_query.h"

static const struct jfield fields[] = {
    {"", JT_OBJECT},
    {"services", JT_ARRAY},
    {"services[]", JT_OBJECT},
    {"services[]/name", JT_STRING},
    {"services[]/latency/server/rps", JT_NUMBER},
    {"services[]/endpoints[]/port", JT_NUMBER},
    {"refusals{}", JT_NUMBER},
    {"spans[]/attributes/http.response.status_code", JT_NUMBER},
    {"ok", JT_BOOL},
};

static int check(const char *doc)
{
	struct qopts o = {.agent = "127.0.0.1:1"};
	json_object *j = json_tokener_parse(doc);
	int rc;

	assert_non_null(j);
	rc = cli_json_check(&o, "/test", j, fields, sizeof(fields) / sizeof(fields[0]));
	json_object_put(j);
	return rc;
}

static void test_good(void **state)
{
	static const char *const good[] = {
	    "{}",
	    "{\"services\": []}",
	    "{\"services\": null, \"refusals\": null}",
	    "{\"services\": [{\"name\": \"web\", \"latency\": {\"server\": null}}]}",
	    "{\"services\": [{\"latency\": {\"server\": {\"rps\": 1}}}]}",
	    "{\"services\": [{\"latency\": {\"server\": {\"rps\": 1.5}}}]}",
	    "{\"services\": [{\"endpoints\": [{\"port\": 80}, {}]}]}",
	    "{\"refusals\": {\"a\": 1, \"b\": 2.5, \"c\": null}}",
	    "{\"spans\": [{\"attributes\": {\"http.response.status_code\": 200}}]}",
	    "{\"ok\": false, \"unknown\": [1, \"x\"]}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (check(good[i]) != CLI_OK)
			fail_msg("refused: %s", good[i]);
}

static void test_bad(void **state)
{
	static const char *const bad[] = {
	    "[]",
	    "\"services\"",
	    "{\"services\": \"web\"}",
	    "{\"services\": {}}",
	    "{\"services\": [1]}",
	    "{\"services\": [{\"name\": 7}]}",
	    "{\"services\": [{\"name\": \"a\"}, {\"name\": []}]}",
	    "{\"services\": [{\"latency\": []}]}",
	    "{\"services\": [{\"latency\": {\"server\": 1}}]}",
	    "{\"services\": [{\"latency\": {\"server\": {\"rps\": \"1\"}}}]}",
	    "{\"services\": [{\"endpoints\": 5}]}",
	    "{\"services\": [{\"endpoints\": [5]}]}",
	    "{\"refusals\": []}",
	    "{\"refusals\": {\"a\": \"1\"}}",
	    "{\"spans\": {}}",
	    "{\"spans\": [{\"attributes\": \"x\"}]}",
	    "{\"spans\": [{\"attributes\": {\"http.response.status_code\": \"200\"}}]}",
	    "{\"ok\": \"yes\"}",
	    "{\"ok\": 1}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (check(bad[i]) != CLI_AGENT_ERROR)
			fail_msg("accepted: %s", bad[i]);
}

static void test_accessors(void **state)
{
	json_object *j = json_tokener_parse("{\"a\": [1, 2], \"s\": \"x\"}");

	(void)state;
	assert_int_equal(jlen(jobj(j, "a")), 2);
	assert_non_null(jat(jobj(j, "a"), 1));
	assert_null(jat(jobj(j, "a"), 2));
	assert_null(jat(jobj(j, "a"), -1));
	/* not arrays: no json-c assertion, just nothing */
	assert_int_equal(jlen(jobj(j, "s")), 0);
	assert_int_equal(jlen(j), 0);
	assert_int_equal(jlen(NULL), 0);
	assert_null(jat(jobj(j, "s"), 0));
	json_object_put(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_accessors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
