/* SPDX-License-Identifier: Apache-2.0 */
/* test_cluster_merge.c: the cluster view's merge (cli_cluster_merge.c) of
 * sketches as agents write them (lat_sketch_write_json): the merged
 * quantiles equal those of one sketch fed every sample, exactly, for every
 * split of the samples among agents; answers that cannot be merged exactly
 * are refused and leave the view as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "cli/cli_cluster_merge.h"
#include "lib/jsonw.h"
#include "metrics/latency.h"

#define MS 1000000ULL
#define NAGENTS 3

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL); /* splitmix64 */

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double unit(void) { return ((rnd() >> 11) + 0.5) / 9007199254740992.0; }

/* lognormal around median_ms, as request latencies are */
static uint64_t sample(double median_ms, double sigma)
{
	double n = sqrt(-2 * log(unit())) * cos(2 * M_PI * unit());

	return (uint64_t)(median_ms * MS * exp(sigma * n));
}

/* s: 100 requests around 4 ms, the sketch the refusal cases start from */
static void hundred_samples(struct lat_sketch *s)
{
	lat_sketch_init(s);
	for (int i = 0; i < 100; i++)
		lat_sketch_add(s, sample(4, 0.5), false);
}

/* An agent's /api/v1/sketches answer with one service "shop/web" whose
 * server side is s (client side null), as api_sketch.c writes it. */
static json_object *answer(const struct lat_sketch *s, const char *name, double rps)
{
	struct jsonw w = {};
	json_object *doc;

	jw_obj_open(&w);
	jw_ku64(&w, "windowSeconds", 60);
	jw_key(&w, "layout");
	lat_layout_write_json(&w);
	jw_key(&w, "services");
	jw_arr_open(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "namespace", "shop");
	jw_kstr(&w, "name", name);
	jw_key(&w, "server");
	jw_obj_open(&w);
	jw_key(&w, "rps");
	jw_dbl(&w, rps);
	jw_ku64(&w, "spanNs", 60000000000ULL);
	lat_sketch_write_json(s, &w);
	jw_obj_close(&w);
	jw_key(&w, "client");
	jw_null(&w);
	jw_obj_close(&w);
	jw_arr_close(&w);
	jw_obj_close(&w);
	assert_false(w.failed);
	doc = json_tokener_parse(w.buf);
	assert_non_null(doc);
	jw_free(&w);
	return doc;
}

static const double qs[] = {0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0};

static void assert_same(const struct cl_view *v, const struct cl_side *m,
			const struct lat_sketch *all)
{
	assert_int_equal(m->count, all->count);
	assert_int_equal(m->errors, all->errors);
	assert_int_equal(m->max_ns, all->max_ns);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		uint64_t want = lat_sketch_quantile(all, qs[i]), got = cl_quantile(v, m, qs[i]);

		if (want != got)
			fail_msg("q=%g: merged %llu ns, one sketch of all samples %llu ns", qs[i],
				 (unsigned long long)got, (unsigned long long)want);
	}
}

/* Three agents with different latency profiles (one slow node): the
 * merged p99 is the p99 of all samples, not any mix of the agents' p99s. */
static void test_merge_equals_one_sketch(void **state)
{
	static struct lat_sketch part[NAGENTS], all;
	static const double median[NAGENTS] = {2, 5, 40}; /* ms */
	static const int n[NAGENTS] = {20000, 5000, 700};
	struct cl_view v = {};
	char err[256];

	(void)state;
	lat_sketch_init(&all);
	for (int a = 0; a < NAGENTS; a++) {
		lat_sketch_init(&part[a]);
		for (int i = 0; i < n[a]; i++) {
			uint64_t x = sample(median[a], 0.6);
			bool e = rnd() % 50 == 0;

			lat_sketch_add(&part[a], x, e);
			lat_sketch_add(&all, x, e);
		}
	}
	/* outside the range: under- and overflow buckets travel too */
	lat_sketch_add(&part[0], 10, false);
	lat_sketch_add(&all, 10, false);
	lat_sketch_add(&part[2], 200000000000ULL, true);
	lat_sketch_add(&all, 200000000000ULL, true);
	for (int a = 0; a < NAGENTS; a++) {
		json_object *doc = answer(&part[a], "web", 10.0 * (a + 1));

		assert_int_equal(cl_merge(&v, doc, err, sizeof(err)), 0);
		json_object_put(doc);
	}
	assert_int_equal(v.agents, NAGENTS);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.svc[0].ns, "shop");
	assert_string_equal(v.svc[0].name, "web");
	assert_int_equal(v.svc[0].agents, NAGENTS);
	assert_true(v.svc[0].side[0].seen);
	assert_false(v.svc[0].side[1].seen);
	assert_true(fabs(v.svc[0].side[0].rps - 60.0) < 1e-9); /* rates add up */
	assert_same(&v, &v.svc[0].side[0], &all);
	/* and it is not what averaging the agents' p99s would give */
	assert_true(cl_quantile(&v, &v.svc[0].side[0], 0.99) !=
		    (lat_sketch_quantile(&part[0], 0.99) + lat_sketch_quantile(&part[1], 0.99) +
		     lat_sketch_quantile(&part[2], 0.99)) /
			3);
	cl_view_free(&v);
}

/* Every way of handing 400 samples to two agents gives the same answer. */
static void test_merge_any_split(void **state)
{
	static uint64_t x[400];
	struct lat_sketch all;

	(void)state;
	lat_sketch_init(&all);
	for (int i = 0; i < 400; i++) {
		x[i] = sample(3, 1.2);
		lat_sketch_add(&all, x[i], false);
	}
	for (int split = 0; split <= 400; split += 50) {
		static struct lat_sketch a, b;
		struct cl_view v = {};
		json_object *da, *db;
		char err[256];

		lat_sketch_init(&a);
		lat_sketch_init(&b);
		for (int i = 0; i < 400; i++)
			lat_sketch_add(i < split ? &a : &b, x[i], false);
		da = answer(&a, "api", 1);
		db = answer(&b, "api", 1);
		assert_int_equal(cl_merge(&v, da, err, sizeof(err)), 0);
		assert_int_equal(cl_merge(&v, db, err, sizeof(err)), 0);
		assert_same(&v, &v.svc[0].side[0], &all);
		/* an agent without requests does not count as having seen it */
		assert_int_equal(v.svc[0].agents, (split > 0) + (split < 400));
		json_object_put(da);
		json_object_put(db);
		cl_view_free(&v);
	}
}

static json_object *tweak(json_object *doc, const char *what)
{
	json_object *svc = json_object_array_get_idx(json_object_object_get(doc, "services"), 0);
	json_object *side = json_object_object_get(svc, "server");
	json_object *b = json_object_array_get_idx(json_object_object_get(side, "buckets"), 0);

	if (!strcmp(what, "layout"))
		json_object_object_add(json_object_object_get(doc, "layout"), "relativeError",
				       json_object_new_double(0.02));
	else if (!strcmp(what, "window"))
		json_object_object_add(doc, "windowSeconds", json_object_new_int64(300));
	else if (!strcmp(what, "value"))
		json_object_array_put_idx(b, 2, json_object_new_int64(12345));
	else if (!strcmp(what, "count"))
		json_object_object_add(side, "count", json_object_new_int64(999999));
	else if (!strcmp(what, "index"))
		json_object_array_put_idx(b, 0, json_object_new_int64(LAT_NBUCKETS));
	else if (!strcmp(what, "shape"))
		json_object_array_put_idx(b, 1, json_object_new_string("7"));
	else if (!strcmp(what, "nolayout"))
		json_object_object_del(doc, "layout");
	return doc;
}

/* What cannot be merged exactly is refused, and the view stays as it was. */
static void test_merge_refuses(void **state)
{
	static const char *const cases[] = {"layout", "window", "value",   "count",
					    "index",  "shape",	"nolayout"};
	struct lat_sketch s;
	char err[256];

	(void)state;
	hundred_samples(&s);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct cl_view v = {};
		json_object *good = answer(&s, "web", 1),
			    *bad = tweak(answer(&s, "web", 1), cases[c]);
		uint64_t p99;

		assert_int_equal(cl_merge(&v, good, err, sizeof(err)), 0);
		p99 = cl_quantile(&v, &v.svc[0].side[0], 0.99);
		err[0] = 0;
		if (cl_merge(&v, bad, err, sizeof(err)) != -1)
			fail_msg("%s: merged", cases[c]);
		assert_true(err[0] != 0);
		assert_int_equal(v.agents, 1);
		assert_int_equal(v.svc[0].side[0].count, 100);
		assert_int_equal(cl_quantile(&v, &v.svc[0].side[0], 0.99), p99);
		json_object_put(good);
		json_object_put(bad);
		cl_view_free(&v);
	}
	/* a refused first answer leaves no layout behind */
	{
		struct cl_view v = {};
		json_object *bad = tweak(answer(&s, "web", 1), "count"),
			    *good = answer(&s, "web", 1);

		assert_int_equal(cl_merge(&v, bad, err, sizeof(err)), -1);
		assert_false(v.has_layout);
		assert_int_equal(cl_merge(&v, good, err, sizeof(err)), 0);
		json_object_put(good);
		json_object_put(bad);
		cl_view_free(&v);
	}
}

/* Services are keyed by namespace and name; an empty sketch answers 0. */
static void test_merge_services(void **state)
{
	struct lat_sketch s, empty;
	struct cl_view v = {};
	json_object *a, *b;
	char err[256];

	(void)state;
	lat_sketch_init(&s);
	lat_sketch_init(&empty);
	lat_sketch_add(&s, 3 * MS, false);
	a = answer(&s, "web", 1);
	b = answer(&empty, "cart", 0);
	assert_int_equal(cl_merge(&v, a, err, sizeof(err)), 0);
	assert_int_equal(cl_merge(&v, b, err, sizeof(err)), 0);
	assert_int_equal(v.n, 2);
	assert_int_equal(v.svc[1].agents, 0);
	assert_int_equal(cl_quantile(&v, &v.svc[1].side[0], 0.99), 0);
	assert_int_equal(cl_quantile(&v, &v.svc[0].side[0], 0.5), lat_sketch_quantile(&s, 0.5));
	json_object_put(a);
	json_object_put(b);
	cl_view_free(&v);
}

/* Adds to the first service of doc an rpc of side and route with sketch s,
 * as api_sketch.c writes one; the rpcs array is made on first use. */
static void add_rpc(json_object *doc, const char *side, const char *route,
		    const struct lat_sketch *s, double rps)
{
	json_object *svc = json_object_array_get_idx(json_object_object_get(doc, "services"), 0);
	json_object *arr = json_object_object_get(svc, "rpcs");
	struct jsonw w = {};

	if (!arr) {
		arr = json_object_new_array();
		json_object_object_add(svc, "rpcs", arr);
	}
	jw_obj_open(&w);
	jw_kstr(&w, "side", side);
	jw_kstr(&w, "route", route);
	jw_key(&w, "rps");
	jw_dbl(&w, rps);
	jw_ku64(&w, "spanNs", 60000000000ULL);
	lat_sketch_write_json(s, &w);
	jw_obj_close(&w);
	assert_false(w.failed);
	json_object_array_add(arr, json_tokener_parse(w.buf));
	jw_free(&w);
}

static const struct cl_rpc *rpc_of(const struct cl_service *c, int side, const char *route)
{
	for (size_t i = 0; i < c->n_rpc; i++)
		if (c->rpc[i].side == side && !strcmp(c->rpc[i].route, route))
			return &c->rpc[i];
	return NULL;
}

/* Two agents' rpcs merged per (side, route): a method both served gives the
 * quantiles of one sketch fed both agents' calls; one only agent 1 served
 * stays its own; the same route as a client is another line. */
static void test_merge_rpcs(void **state)
{
	static struct lat_sketch add[2], all, list, call;
	struct cl_view v = {};
	const struct cl_rpc *r;
	json_object *doc[2];
	char err[256];

	(void)state;
	lat_sketch_init(&all);
	lat_sketch_init(&list);
	lat_sketch_init(&call);
	for (int a = 0; a < 2; a++) {
		lat_sketch_init(&add[a]);
		for (int i = 0; i < (a ? 300 : 3000); i++) {
			uint64_t x = sample(a ? 30 : 2, 0.7);
			bool e = rnd() % 20 == 0;

			lat_sketch_add(&add[a], x, e);
			lat_sketch_add(&all, x, e);
		}
	}
	for (int i = 0; i < 50; i++) {
		lat_sketch_add(&list, sample(8, 0.3), false);
		lat_sketch_add(&call, sample(1, 0.3), false);
	}
	doc[0] = answer(&add[0], "cart", 5);
	add_rpc(doc[0], "server", "shop.Cart/Add", &add[0], 4);
	add_rpc(doc[0], "server", "shop.Cart/List", &list, 1);
	doc[1] = answer(&add[1], "cart", 2);
	add_rpc(doc[1], "server", "shop.Cart/Add", &add[1], 2);
	add_rpc(doc[1], "client", "shop.Cart/Add", &call, 1);
	for (int a = 0; a < 2; a++) {
		if (cl_merge(&v, doc[a], err, sizeof(err)))
			fail_msg("agent %d: %s", a, err);
		json_object_put(doc[a]);
	}
	assert_int_equal(v.n, 1);
	assert_int_equal(v.svc[0].n_rpc, 3);
	assert_int_equal(v.n_rpc, 3);
	r = rpc_of(&v.svc[0], 0, "shop.Cart/Add");
	assert_non_null(r);
	assert_int_equal(r->agents, 2);
	assert_true(fabs(r->s.rps - 6.0) < 1e-9);
	assert_same(&v, &r->s, &all);
	r = rpc_of(&v.svc[0], 0, "shop.Cart/List");
	assert_non_null(r);
	assert_int_equal(r->agents, 1);
	assert_same(&v, &r->s, &list);
	r = rpc_of(&v.svc[0], 1, "shop.Cart/Add");
	assert_non_null(r);
	assert_int_equal(r->agents, 1);
	assert_same(&v, &r->s, &call);
	cl_view_free(&v);
}

/* An agent without "rpcs" (older than them) still merges its services and
 * adds no rpc line; an empty or null rpcs is the same. */
static void test_merge_rpcs_older_agent(void **state)
{
	struct lat_sketch s, t;
	struct cl_view v = {};
	json_object *a, *b, *c;
	char err[256];

	(void)state;
	hundred_samples(&s);
	lat_sketch_init(&t);
	for (int i = 0; i < 40; i++)
		lat_sketch_add(&t, sample(9, 0.5), false);
	a = answer(&s, "cart", 1);
	add_rpc(a, "server", "shop.Cart/Add", &s, 1);
	b = answer(&t, "cart", 1); /* no rpcs key */
	c = answer(&t, "cart", 1);
	json_object_object_add(json_object_array_get_idx(json_object_object_get(c, "services"), 0),
			       "rpcs", NULL);
	assert_int_equal(cl_merge(&v, a, err, sizeof(err)), 0);
	assert_int_equal(cl_merge(&v, b, err, sizeof(err)), 0);
	assert_int_equal(cl_merge(&v, c, err, sizeof(err)), 0);
	assert_int_equal(v.agents, 3);
	assert_int_equal(v.svc[0].side[0].count, 180);
	assert_int_equal(v.svc[0].agents, 3);
	assert_int_equal(v.svc[0].n_rpc, 1);
	assert_int_equal(v.svc[0].rpc[0].s.count, 100);
	assert_int_equal(v.svc[0].rpc[0].agents, 1);
	assert_same(&v, &v.svc[0].rpc[0].s, &s);
	json_object_put(a);
	json_object_put(b);
	json_object_put(c);
	cl_view_free(&v);
}

/* A bad rpc entry refuses the whole answer: its services are not added
 * either, and the view stays as it was. */
static void test_merge_rpc_refused(void **state)
{
	static const char *const cases[] = {"noside",	 "badside",  "noroute",	  "emptyroute",
					    "longroute", "twice",    "value",	  "count",
					    "norps",	 "notarray", "notobject", "toomany"};
	struct lat_sketch s;
	char err[256];

	(void)state;
	hundred_samples(&s);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct cl_view v = {};
		json_object *good = answer(&s, "cart", 1), *bad = answer(&s, "cart", 1), *svc, *e;
		char route[300];

		add_rpc(good, "server", "shop.Cart/Add", &s, 1);
		add_rpc(bad, "server", "shop.Cart/Add", &s, 1);
		add_rpc(bad, "server", "shop.Cart/List", &s, 1);
		svc = json_object_array_get_idx(json_object_object_get(bad, "services"), 0);
		e = json_object_array_get_idx(json_object_object_get(svc, "rpcs"), 1);
		if (!strcmp(cases[c], "noside"))
			json_object_object_del(e, "side");
		else if (!strcmp(cases[c], "badside"))
			json_object_object_add(e, "side", json_object_new_string("both"));
		else if (!strcmp(cases[c], "noroute"))
			json_object_object_add(e, "route", json_object_new_int64(7));
		else if (!strcmp(cases[c], "emptyroute"))
			json_object_object_add(e, "route", json_object_new_string(""));
		else if (!strcmp(cases[c], "longroute")) {
			memset(route, 'x', sizeof(route) - 1);
			route[sizeof(route) - 1] = 0;
			json_object_object_add(e, "route", json_object_new_string(route));
		} else if (!strcmp(cases[c], "twice"))
			json_object_object_add(e, "route", json_object_new_string("shop.Cart/Add"));
		else if (!strcmp(cases[c], "value"))
			json_object_array_put_idx(
			    json_object_array_get_idx(json_object_object_get(e, "buckets"), 0), 2,
			    json_object_new_int64(12345));
		else if (!strcmp(cases[c], "count"))
			json_object_object_add(e, "count", json_object_new_int64(999999));
		else if (!strcmp(cases[c], "norps"))
			json_object_object_del(e, "rps");
		else if (!strcmp(cases[c], "notarray"))
			json_object_object_add(svc, "rpcs", json_object_new_string("x"));
		else if (!strcmp(cases[c], "notobject"))
			json_object_array_put_idx(json_object_object_get(svc, "rpcs"), 1,
						  json_object_new_int64(1));
		else if (!strcmp(cases[c], "toomany"))
			for (int i = 0; i < CL_MAX_RPCS; i++) {
				snprintf(route, sizeof(route), "shop.Cart/M%d", i);
				add_rpc(bad, "client", route, &s, 1);
			}
		assert_int_equal(cl_merge(&v, good, err, sizeof(err)), 0);
		err[0] = 0;
		if (cl_merge(&v, bad, err, sizeof(err)) != -1)
			fail_msg("%s: merged", cases[c]);
		assert_true(err[0] != 0);
		assert_int_equal(v.agents, 1);
		assert_int_equal(v.svc[0].side[0].count, 100);
		assert_int_equal(v.svc[0].agents, 1);
		assert_int_equal(v.svc[0].n_rpc, 1);
		assert_int_equal(v.svc[0].rpc[0].s.count, 100);
		assert_int_equal(v.svc[0].rpc[0].agents, 1);
		json_object_put(good);
		json_object_put(bad);
		cl_view_free(&v);
	}
}

/* Past CL_MAX_RPC_LINES lines in the view, a new route is merged into its
 * service and side's _other line, counted once per agent. */
static void test_merge_rpc_lines_bounded(void **state)
{
	struct lat_sketch s;
	struct cl_view v = {};
	const struct cl_rpc *r;
	char route[64], err[256];
	int per = CL_MAX_RPCS, agents = CL_MAX_RPC_LINES / CL_MAX_RPCS;
	json_object *doc;

	(void)state;
	lat_sketch_init(&s);
	lat_sketch_add(&s, 3 * MS, false);
	for (int a = 0; a < agents; a++) {
		doc = answer(&s, "cart", 1);
		for (int i = 0; i < per; i++) {
			snprintf(route, sizeof(route), "shop.Cart/A%dM%d", a, i);
			add_rpc(doc, "server", route, &s, 1);
		}
		assert_int_equal(cl_merge(&v, doc, err, sizeof(err)), 0);
		json_object_put(doc);
	}
	assert_int_equal(v.n_rpc, CL_MAX_RPC_LINES);
	doc = answer(&s, "cart", 1);
	add_rpc(doc, "server", "shop.Cart/A0M0", &s, 1); /* known: its own line */
	add_rpc(doc, "server", "shop.Cart/New1", &s, 1);
	add_rpc(doc, "server", "shop.Cart/New2", &s, 1);
	assert_int_equal(cl_merge(&v, doc, err, sizeof(err)), 0);
	json_object_put(doc);
	assert_int_equal(v.n_rpc, CL_MAX_RPC_LINES + 1);
	assert_null(rpc_of(&v.svc[0], 0, "shop.Cart/New1"));
	r = rpc_of(&v.svc[0], 0, CL_RPC_OTHER);
	assert_non_null(r);
	assert_int_equal(r->s.count, 2);
	assert_int_equal(r->agents, 1);
	assert_int_equal(rpc_of(&v.svc[0], 0, "shop.Cart/A0M0")->s.count, 2);
	cl_view_free(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merge_equals_one_sketch),
	    cmocka_unit_test(test_merge_any_split),
	    cmocka_unit_test(test_merge_refuses),
	    cmocka_unit_test(test_merge_services),
	    cmocka_unit_test(test_merge_rpcs),
	    cmocka_unit_test(test_merge_rpcs_older_agent),
	    cmocka_unit_test(test_merge_rpc_refused),
	    cmocka_unit_test(test_merge_rpc_lines_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
