/* SPDX-License-Identifier: Apache-2.0 */
/* test_kube_watch.c: agent/kube's watch stream and list pages without a
 * network: the events the API server sends (ADDED, MODIFIED, DELETED,
 * BOOKMARK, ERROR 410), lines cut anywhere by the transport, a line over the
 * bound, list pages with their continue token, and the request URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube/list.h"
#include "kube/request.h"
#include "kube/store.h"
#include "kube/watch.h"

#define POD(type, name, rv, extra)                                                                 \
	"{\"type\":\"" type "\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","               \
	"\"metadata\":{\"name\":\"" name "\",\"namespace\":\"prod\",\"resourceVersion\":\"" rv     \
	"\",\"managedFields\":[{\"manager\":\"kubelet\"}]}" extra "}}\n"

struct fx {
	struct kstore *st;
	struct kwatch w;
};

static const struct kobj_type pod_type = {
    .resource = 0, .kind = "Pod", .api_version = "v1", .namespaced = true};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kstore_limits lim = {.max_objects = 100, .max_total_bytes = 1 << 20};

	assert_non_null(f);
	f->st = kstore_new(1, &lim);
	assert_non_null(f->st);
	kwatch_init(&f->w, f->st, &pod_type, 4096);
	kwatch_restart(&f->w, "100");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	kwatch_free(&f->w);
	kstore_free(f->st);
	free(f);
	return 0;
}

static enum kw_result feed(struct fx *f, const char *s) { return kwatch_feed(&f->w, s, strlen(s)); }

/* the snapshot's objects as "ns/name@rv ..." */
static void expect_objects(struct fx *f, const char *want)
{
	struct kube_snapshot *s = kstore_snapshot(f->st);
	char got[1024] = "";

	assert_non_null(s);
	for (size_t i = 0; i < s->n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s/%s@%s", i ? " " : "",
			 s->objects[i]->ns, s->objects[i]->name, s->objects[i]->resource_version);
	kube_snapshot_put(s);
	if (strcmp(got, want))
		fail_msg("objects: expected \"%s\", got \"%s\"", want, got);
}

static void test_added_modified_deleted(void **state)
{
	struct fx *f = *state;

	assert_int_equal(feed(f, POD("ADDED", "a", "101", ",\"spec\":{\"nodeName\":\"n1\"}")),
			 KW_OK);
	assert_int_equal(feed(f, POD("ADDED", "b", "102", "")), KW_OK);
	assert_true(kstore_publish(f->st));
	expect_objects(f, "prod/a@101 prod/b@102");
	assert_string_equal(f->w.rv, "102");

	assert_int_equal(feed(f, POD("MODIFIED", "a", "103", ",\"spec\":{\"nodeName\":\"n2\"}")),
			 KW_OK);
	assert_true(kstore_publish(f->st));
	expect_objects(f, "prod/a@103 prod/b@102");

	assert_int_equal(feed(f, POD("DELETED", "b", "104", "")), KW_OK);
	/* a DELETED of an object never seen is no error */
	assert_int_equal(feed(f, POD("DELETED", "zz", "105", "")), KW_OK);
	assert_true(kstore_publish(f->st));
	expect_objects(f, "prod/a@103");
	assert_string_equal(f->w.rv, "105");
	assert_int_equal(f->w.events, 5);
}

static void test_object_text(void **state)
{
	struct fx *f = *state;
	struct kube_snapshot *s;
	const char *item = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
			   "\"namespace\":\"prod\",\"resourceVersion\":\"7\",\"managedFields\":"
			   "[{\"manager\":\"x\"}]},\"spec\":{\"path\":\"/a/b\"}}}\n";

	assert_int_equal(feed(f, item), KW_OK);
	kstore_publish(f->st);
	s = kstore_snapshot(f->st);
	assert_int_equal(s->n, 1);
	/* kind and apiVersion added, managedFields gone, slashes as written */
	assert_non_null(strstr(s->objects[0]->json, "\"kind\":\"Pod\""));
	assert_non_null(strstr(s->objects[0]->json, "\"apiVersion\":\"v1\""));
	assert_null(strstr(s->objects[0]->json, "managedFields"));
	assert_non_null(strstr(s->objects[0]->json, "\"/a/b\""));
	assert_int_equal(strlen(s->objects[0]->json), s->objects[0]->json_len);
	assert_string_equal(s->objects[0]->kind, "Pod");
	kube_snapshot_put(s);
}

static void test_bookmark(void **state)
{
	struct fx *f = *state;
	const char *bm =
	    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
	    "\"metadata\":{\"resourceVersion\":\"250\",\"creationTimestamp\":null}}}\n";

	assert_int_equal(feed(f, POD("ADDED", "a", "101", "")), KW_OK);
	assert_true(kstore_publish(f->st));
	assert_int_equal(feed(f, bm), KW_OK);
	assert_string_equal(f->w.rv, "250");
	/* a bookmark changes no object: nothing to publish */
	assert_false(kstore_publish(f->st));
	expect_objects(f, "prod/a@101");
}

static void test_error_410(void **state)
{
	struct fx *f = *state;
	const char *gone =
	    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
	    "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource "
	    "version: 100 (200)\",\"reason\":\"Expired\",\"code\":410}}\n";

	assert_int_equal(feed(f, POD("ADDED", "a", "101", "")), KW_OK);
	/* the events after the ERROR in the same read are not applied */
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s%s", gone, POD("ADDED", "b", "300", ""));
	assert_int_equal(feed(f, buf), KW_RELIST);
	assert_non_null(strstr(f->w.err, "too old resource version"));
	assert_string_equal(f->w.rv, "101");
	kstore_publish(f->st);
	expect_objects(f, "prod/a@101");
}

static void test_error_other(void **state)
{
	struct fx *f = *state;

	/* before 1.18 the reason was Gone; code alone is enough too */
	assert_int_equal(
	    feed(f, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"reason\":\"Gone\"}}\n"),
	    KW_RELIST);
	kwatch_restart(&f->w, f->w.rv);
	assert_int_equal(feed(f, "{\"type\":\"ERROR\",\"object\":{\"code\":410}}\n"), KW_RELIST);
	kwatch_restart(&f->w, f->w.rv);
	assert_int_equal(feed(f, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,"
				 "\"reason\":\"InternalError\",\"message\":\"etcd down\"}}\n"),
			 KW_ERROR);
	assert_non_null(strstr(f->w.err, "500"));
	assert_non_null(strstr(f->w.err, "etcd down"));
}

static void test_split_lines(void **state)
{
	struct fx *f = *state;
	char stream[2048];
	size_t len;

	/* three events, CRLF on one, blank keep-alive lines between */
	snprintf(stream, sizeof(stream), "%s\n%.*s\r\n\n%s",
		 POD("ADDED", "a", "101", ",\"spec\":{\"x\":\"\\u00e9\\n\\\"}\"}"),
		 (int)strlen(POD("ADDED", "b", "102", "")) - 1, POD("ADDED", "b", "102", ""),
		 POD("MODIFIED", "a", "103", ""));
	len = strlen(stream);
	/* every cut point of two reads, and one byte a read */
	for (size_t cut = 0; cut <= len; cut++) {
		kstore_replace(f->st, 0, NULL, 0);
		kwatch_restart(&f->w, "100");
		assert_int_equal(kwatch_feed(&f->w, stream, cut), KW_OK);
		assert_int_equal(kwatch_feed(&f->w, stream + cut, len - cut), KW_OK);
		expect_objects(f, "prod/a@103 prod/b@102");
		assert_int_equal(f->w.len, 0);
	}
	kstore_replace(f->st, 0, NULL, 0);
	kwatch_restart(&f->w, "100");
	for (size_t i = 0; i < len; i++)
		assert_int_equal(kwatch_feed(&f->w, stream + i, 1), KW_OK);
	expect_objects(f, "prod/a@103 prod/b@102");
	assert_int_equal(f->w.events, 3);
}

static void test_partial_line_waits(void **state)
{
	struct fx *f = *state;
	const char *ev = POD("ADDED", "a", "101", "");

	/* no newline yet: nothing applied, the bytes kept */
	assert_int_equal(kwatch_feed(&f->w, ev, strlen(ev) - 1), KW_OK);
	assert_false(kstore_publish(f->st));
	assert_int_equal(f->w.len, strlen(ev) - 1);
	/* a new stream forgets the half line */
	kwatch_restart(&f->w, f->w.rv);
	assert_int_equal(f->w.len, 0);
	assert_int_equal(feed(f, "\n"), KW_OK);
	assert_false(kstore_publish(f->st));
}

static void test_oversized_line(void **state)
{
	struct fx *f = *state;
	char *big = malloc(8192);
	int n;

	assert_non_null(big);
	n = snprintf(big, 8192,
		     "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"big\","
		     "\"namespace\":\"prod\"},\"data\":\"");
	memset(big + n, 'x', 5000);
	snprintf(big + n + 5000, 8192 - n - 5000, "\"}}\n");
	/* in small reads: refused as soon as the bound is passed */
	enum kw_result rc = KW_OK;

	for (size_t i = 0; i < strlen(big) && rc == KW_OK; i += 700)
		rc = kwatch_feed(&f->w, big + i, strlen(big) - i < 700 ? strlen(big) - i : 700);
	assert_int_equal(rc, KW_ERROR);
	assert_non_null(strstr(f->w.err, "longer than 4096 bytes"));
	assert_true(f->w.len <= 4096);
	/* whole, in one read */
	kwatch_restart(&f->w, "100");
	assert_int_equal(feed(f, big), KW_ERROR);
	assert_non_null(strstr(f->w.err, "longer than 4096 bytes"));
	assert_false(kstore_publish(f->st));
	free(big);
}

static void test_not_json(void **state)
{
	struct fx *f = *state;

	assert_int_equal(feed(f, "<html>502 Bad Gateway</html>\n"), KW_ERROR);
	kwatch_restart(&f->w, "100");
	assert_int_equal(feed(f, "{\"type\":\"ADDED\"}\n"), KW_ERROR);
	kwatch_restart(&f->w, "100");
	/* two events on one line are not the framing the server writes */
	assert_int_equal(feed(f, "{\"type\":\"ADDED\",\"object\":{}} {}\n"), KW_ERROR);
}

static void test_refused_objects(void **state)
{
	struct fx *f = *state;

	/* no name: left out and counted, the stream goes on */
	assert_int_equal(
	    feed(f, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"namespace\":\"p\"}}}\n"),
	    KW_OK);
	/* a namespaced kind without namespace */
	assert_int_equal(
	    feed(f, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}\n"), KW_OK);
	assert_int_equal(f->w.refused, 2);
	assert_non_null(strstr(f->w.refusal, "namespace"));
	/* an unknown event type is skipped */
	assert_int_equal(feed(f, "{\"type\":\"SOMETHING\",\"object\":{}}\n"), KW_OK);
	assert_int_equal(feed(f, POD("ADDED", "a", "101", "")), KW_OK);
	kstore_publish(f->st);
	expect_objects(f, "prod/a@101");
}

static void test_bound_objects(void **state)
{
	struct kstore_limits lim = {.max_objects = 2, .max_total_bytes = 1 << 20};
	struct kstore *st = kstore_new(1, &lim);
	struct kwatch w;
	const char *s = POD("ADDED", "a", "1", "") POD("ADDED", "b", "2", "")
	    POD("ADDED", "c", "3", "") POD("MODIFIED", "a", "4", "");

	(void)state;
	kwatch_init(&w, st, &pod_type, 4096);
	assert_int_equal(kwatch_feed(&w, s, strlen(s)), KW_OK);
	/* the third is over the bound; a change of a kept one still applies */
	assert_int_equal(w.refused, 1);
	kstore_publish(st);
	struct kube_snapshot *snap = kstore_snapshot(st);

	assert_int_equal(snap->n, 2);
	assert_string_equal(snap->objects[0]->resource_version, "4");
	kube_snapshot_put(snap);
	kwatch_free(&w);
	kstore_free(st);
}

/* ---- list pages -------------------------------------------------------------- */

static void test_list_page(void **state)
{
	const char *body =
	    "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
	    "\"500\",\"continue\":\"eyJ2Ijoi\",\"remainingItemCount\":3},\"items\":["
	    "{\"metadata\":{\"name\":\"a\",\"namespace\":\"prod\",\"resourceVersion\":\"1\"},"
	    "\"spec\":{\"s\":\"]}{\\\"\"}},"
	    " {\"metadata\":{\"name\":\"b\",\"namespace\":\"prod\",\"resourceVersion\":\"2\"}}"
	    "]}";
	struct kvec v = {.max_objects = 10, .max_bytes = 1 << 20};
	struct klist_page page;
	char err[256];

	(void)state;
	assert_int_equal(
	    klist_parse(body, strlen(body), &pod_type, 4096, &v, &page, err, sizeof(err)), 0);
	assert_string_equal(page.resource_version, "500");
	assert_string_equal(page.continue_token, "eyJ2Ijoi");
	assert_int_equal(page.items, 2);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.v[0]->key, "prod/a");
	assert_non_null(strstr(v.v[0]->pub.json, "\"kind\":\"Pod\""));
	assert_non_null(strstr(v.v[0]->pub.json, "]}{"));
	assert_string_equal(v.v[1]->pub.resource_version, "2");
	klist_page_clear(&page);
	kvec_clear(&v);
}

static void test_list_last_page_and_empty(void **state)
{
	const char *last = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":"
			   "{\"resourceVersion\":\"9\",\"continue\":\"\"},\"items\":[]}";
	const char *null_items = "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":null}";
	struct kvec v = {.max_objects = 10, .max_bytes = 1 << 20};
	struct klist_page page;
	char err[256];

	(void)state;
	assert_int_equal(
	    klist_parse(last, strlen(last), &pod_type, 4096, &v, &page, err, sizeof(err)), 0);
	assert_null(page.continue_token);
	assert_int_equal(v.n, 0);
	klist_page_clear(&page);
	assert_int_equal(klist_parse(null_items, strlen(null_items), &pod_type, 4096, &v, &page,
				     err, sizeof(err)),
			 0);
	klist_page_clear(&page);
}

static void test_list_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{]}",
	    "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{}",
	    "{\"metadata\":{\"resourceVersion\":\"1\"}}",
	    "{\"items\":[]}",
	    "{\"kind\":\"Status\",\"metadata\":{},\"code\":410}",
	    "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[]} trailing",
	    NULL,
	};
	struct kvec v = {.max_objects = 10, .max_bytes = 1 << 20};
	struct klist_page page;
	char err[256];

	(void)state;
	for (int i = 0; bad[i]; i++) {
		if (!klist_parse(bad[i], strlen(bad[i]), &pod_type, 4096, &v, &page, err,
				 sizeof(err)))
			fail_msg("accepted as a list: %s", bad[i]);
		klist_page_clear(&page);
		kvec_clear(&v);
	}
}

static void test_list_refusals(void **state)
{
	const char *body = "{\"metadata\":{\"resourceVersion\":\"5\"},\"items\":["
			   "{\"metadata\":{\"name\":\"a\",\"namespace\":\"p\"}},"
			   "{\"metadata\":{\"namespace\":\"p\"}},"
			   "{\"metadata\":{\"name\":\"c\",\"namespace\":\"p\"},\"x\":\"" /* big */
			   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			   "\"},"
			   "{\"metadata\":{\"name\":\"d\",\"namespace\":\"p\"}},"
			   "{\"metadata\":{\"name\":\"e\",\"namespace\":\"p\"}}]}";
	struct kvec v = {.max_objects = 2, .max_bytes = 1 << 20};
	struct klist_page page;
	char err[256];

	(void)state;
	assert_int_equal(
	    klist_parse(body, strlen(body), &pod_type, 150, &v, &page, err, sizeof(err)), 0);
	/* a: kept; no name; c: too big; d: kept; e: over max_objects */
	assert_int_equal(v.n, 2);
	assert_int_equal(v.refused, 3);
	assert_non_null(strstr(page.first_refusal, "metadata.name"));
	klist_page_clear(&page);
	kvec_clear(&v);
}

/* ---- request URLs ---------------------------------------------------------------- */

static void test_urls(void **state)
{
	struct kube_resource pods = {.group_version = "v1",
				     .resource = "pods",
				     .kind = "Pod",
				     .namespaced = true,
				     .field_selector = "spec.nodeName=node-1",
				     .label_selector = "app in (a,b),tier!=db"};
	struct kube_resource slices = {.group_version = "discovery.k8s.io/v1",
				       .resource = "endpointslices"};
	struct kreq_query list = {.resource_version = "0", .limit = 500};
	struct kreq_query watch = {.watch = true, .resource_version = "12", .timeout_s = 300};
	struct kreq_query next = {.continue_token = "a+b/c=", .limit = 500};
	char *u;

	(void)state;
	u = kreq_url("https://10.0.0.1:443", &pods, &list);
	assert_string_equal(u, "https://10.0.0.1:443/api/v1/pods?resourceVersion=0&limit=500"
			       "&fieldSelector=spec.nodeName%3Dnode-1"
			       "&labelSelector=app%20in%20%28a%2Cb%29%2Ctier%21%3Ddb");
	free(u);
	u = kreq_url("http://h:1/prefix", &slices, &watch);
	assert_string_equal(u, "http://h:1/prefix/apis/discovery.k8s.io/v1/endpointslices?"
			       "watch=true&allowWatchBookmarks=true&resourceVersion=12"
			       "&timeoutSeconds=300");
	free(u);
	u = kreq_url("http://h:1", &slices, &next);
	assert_string_equal(u, "http://h:1/apis/discovery.k8s.io/v1/endpointslices?"
			       "continue=a%2Bb%2Fc%3D&limit=500");
	free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_added_modified_deleted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_object_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bookmark, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_410, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_other, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_split_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_partial_line_waits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversized_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_objects, setup, teardown),
	    cmocka_unit_test(test_bound_objects),
	    cmocka_unit_test(test_list_page),
	    cmocka_unit_test(test_list_last_page_and_empty),
	    cmocka_unit_test(test_list_bad),
	    cmocka_unit_test(test_list_refusals),
	    cmocka_unit_test(test_urls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
