/* SPDX-License-Identifier: Apache-2.0 */
/* cli_cluster.c: ask each agent for its sketches, merge them
 * (cli_cluster_merge.c), print one table or one JSON document. The agents
 * are asked CLUSTER_PARALLEL at a time, so agents that cannot be reached
 * cost about one connect timeout of cli_get, not one each; the answers are
 * merged in the order of the list. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_cluster.h"
#include "cli/cli_cluster_merge.h"

void cli_cluster_agents_free(char **addrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(addrs[i]);
	free(addrs);
}

int cli_cluster_agents(const struct qopts *o, char ***addrs, size_t *n)
{
	char *copy, *save = NULL, *tok, **list = NULL;
	size_t cnt = 0;

	*addrs = NULL;
	*n = 0;
	if (!o->agents)
		return cli_cluster_discover(o, addrs, n);
	copy = strdup(o->agents);
	for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char **p = realloc(list, (cnt + 1) * sizeof(*list));

		if (!p || !(p[cnt] = strdup(tok))) {
			list = p ? p : list;
			cli_cluster_agents_free(list, cnt);
			free(copy);
			fprintf(stderr, "bpfmesh: out of memory\n");
			return CLI_AGENT_ERROR;
		}
		list = p;
		cnt++;
	}
	free(copy);
	*addrs = list;
	*n = cnt;
	return CLI_OK;
}

struct crow {
	struct svc_figs f; /* first: svc_figs_cmp sorts rows */
	const struct cl_service *s;
	const struct cl_side *side; /* NULL: no requests in the window */
};

/* As one agent's table: the server side, else the client side. */
static void crow_init(const struct cl_view *v, struct crow *r, const struct cl_service *s)
{
	const struct cl_side *side = s->side[0].count	? &s->side[0]
				     : s->side[1].count ? &s->side[1]
							: NULL;

	r->s = s;
	r->side = side;
	if (!strcmp(s->ns, "default") || !s->ns[0])
		snprintf(r->f.name, sizeof(r->f.name), "%s", s->name);
	else
		snprintf(r->f.name, sizeof(r->f.name), "%s/%s", s->ns, s->name);
	r->f.rps = side ? side->rps : NAN;
	r->f.err = side ? (double)side->errors / (double)side->count : NAN;
	r->f.p50 = side ? cl_quantile(v, side, 0.50) / 1e6 : NAN;
	r->f.p99 = side ? cl_quantile(v, side, 0.99) / 1e6 : NAN;
}

/* A gRPC service's Service/Method lines under its row, of the side the row
 * shows (the server's when it shows none), with the row's columns; AGENTS:
 * the agents that saw a call of the method. */
static void print_rpcs(FILE *out, const struct cl_view *v, const struct crow *r)
{
	int sd = r->side == &r->s->side[1] ? 1 : 0;

	for (size_t i = 0; i < r->s->n_rpc; i++) {
		const struct cl_rpc *m = &r->s->rpc[i];
		struct svc_figs f;
		char rps[16], err[16], p50[16], p99[16];

		if (m->side != sd)
			continue;
		f.rps = m->s.rps;
		f.err = m->s.count ? (double)m->s.errors / (double)m->s.count : 0;
		f.p50 = cl_quantile(v, &m->s, 0.50) / 1e6;
		f.p99 = cl_quantile(v, &m->s, 0.99) / 1e6;
		svc_figs_cells(&f, rps, err, p50, p99);
		fprintf(out, "  %-30s %8s %7s %9s %9s  %u/%u\n", m->route, rps, err, p50, p99,
			m->agents, v->agents);
	}
}

static void print_table(FILE *out, const struct cl_view *v, size_t asked, const char *sort)
{
	struct crow *rows = calloc(v->n ? v->n : 1, sizeof(*rows));

	if (!rows) {
		fprintf(stderr, "bpfmesh: out of memory\n");
		return;
	}
	for (size_t i = 0; i < v->n; i++)
		crow_init(v, &rows[i], &v->svc[i]);
	if (sort)
		qsort_r(rows, v->n, sizeof(*rows), svc_figs_cmp, (void *)sort);
	fprintf(out, "cluster: %u of %zu agents answered, window %us, sketches merged\n", v->agents,
		asked, v->window_s);
	fprintf(out, "%-32s %8s %7s %9s %9s  %s\n", "SERVICE", "RPS", "ERR%", "P50", "P99",
		"AGENTS");
	for (size_t i = 0; i < v->n; i++) {
		char rps[16], err[16], p50[16], p99[16];

		svc_figs_cells(&rows[i].f, rps, err, p50, p99);
		fprintf(out, "%-32s %8s %7s %9s %9s  %u/%u\n", rows[i].f.name, rps, err, p50, p99,
			rows[i].s->agents, v->agents);
		print_rpcs(out, v, &rows[i]);
	}
	if (!v->n)
		fprintf(out, "(no services)\n");
	free(rows);
}

static json_object *side_json(const struct cl_view *v, const struct cl_side *s)
{
	json_object *o;

	if (!s->seen)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "requests", json_object_new_int64((int64_t)s->count));
	json_object_object_add(o, "errors", json_object_new_int64((int64_t)s->errors));
	json_object_object_add(o, "rps", json_object_new_double(s->rps));
	json_object_object_add(
	    o, "errorRate",
	    json_object_new_double(s->count ? (double)s->errors / (double)s->count : 0));
	json_object_object_add(o, "p50Ms", json_object_new_double(cl_quantile(v, s, 0.5) / 1e6));
	json_object_object_add(o, "p90Ms", json_object_new_double(cl_quantile(v, s, 0.9) / 1e6));
	json_object_object_add(o, "p99Ms", json_object_new_double(cl_quantile(v, s, 0.99) / 1e6));
	json_object_object_add(o, "maxMs", json_object_new_double(s->max_ns / 1e6));
	return o;
}

/* A service's merged rpcs: [{"side", "route", "agents", and a side's
 * fields}]. */
static json_object *rpcs_json(const struct cl_view *v, const struct cl_service *c)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < c->n_rpc; i++) {
		json_object *o = side_json(v, &c->rpc[i].s);

		if (!o)
			continue;
		json_object_object_add(
		    o, "side", json_object_new_string(c->rpc[i].side ? "client" : "server"));
		json_object_object_add(o, "route", json_object_new_string(c->rpc[i].route));
		json_object_object_add(o, "agents", json_object_new_int64(c->rpc[i].agents));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* {"windowSeconds", "relativeError", "partial", "agents": [{"address",
 * "answered", "error"?}], "services": [{"namespace", "name", "agents",
 * "latency": {"server", "client"}, "rpcs": [...]}]} */
static void print_json(FILE *out, const struct cl_view *v, json_object *agents, bool partial)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(root, "windowSeconds", json_object_new_int64(v->window_s));
	json_object_object_add(root, "relativeError", json_object_new_double(v->relative_error));
	json_object_object_add(root, "partial", json_object_new_boolean(partial));
	json_object_object_add(root, "agents", json_object_get(agents));
	for (size_t i = 0; i < v->n; i++) {
		json_object *s = json_object_new_object(), *lat = json_object_new_object();

		json_object_object_add(s, "namespace", json_object_new_string(v->svc[i].ns));
		json_object_object_add(s, "name", json_object_new_string(v->svc[i].name));
		json_object_object_add(s, "agents", json_object_new_int64(v->svc[i].agents));
		json_object_object_add(lat, "server", side_json(v, &v->svc[i].side[0]));
		json_object_object_add(lat, "client", side_json(v, &v->svc[i].side[1]));
		json_object_object_add(s, "latency", lat);
		json_object_object_add(s, "rpcs", rpcs_json(v, &v->svc[i]));
		json_object_array_add(arr, s);
	}
	json_object_object_add(root, "services", arr);
	fprintf(out, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
}

#define CLUSTER_PARALLEL 16

struct fetch {
	const struct qopts *o;
	char **addrs;
	size_t n, next;
	pthread_mutex_t lock;
	json_object **docs; /* NULL: no usable answer (cli_get_json said why) */
	int *rcs;
};

static void *fetch_worker(void *arg)
{
	struct fetch *f = arg;

	for (;;) {
		struct qopts one = *f->o;
		size_t i;

		pthread_mutex_lock(&f->lock);
		i = f->next++;
		pthread_mutex_unlock(&f->lock);
		if (i >= f->n)
			return NULL;
		one.agent = f->addrs[i];
		f->docs[i] = cli_get_json(&one, "/api/v1/sketches", 0, &f->rcs[i], NULL);
	}
}

/* Every agent's answer into f->docs; workers that cannot be started leave
 * their share to the others (or to this thread). */
static int fetch_all(struct fetch *f)
{
	pthread_t th[CLUSTER_PARALLEL];
	size_t started = 0, want = f->n < CLUSTER_PARALLEL ? f->n : CLUSTER_PARALLEL;

	f->docs = calloc(f->n ? f->n : 1, sizeof(*f->docs));
	f->rcs = calloc(f->n ? f->n : 1, sizeof(*f->rcs));
	if (!f->docs || !f->rcs)
		return -1;
	/* json-c picks its hash seed on first use: before the threads do */
	json_object_put(json_tokener_parse("{\"seed\":0}"));
	pthread_mutex_init(&f->lock, NULL);
	while (started < want && !pthread_create(&th[started], NULL, fetch_worker, f))
		started++;
	fetch_worker(f);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&f->lock);
	return 0;
}

int cli_cluster_print(const struct qopts *o, char **addrs, size_t n, FILE *out, const char *sort)
{
	struct cl_view v = {};
	json_object *agents = json_object_new_array();
	size_t failed = 0, unreachable = 0;
	struct fetch f = {.o = o, .addrs = addrs, .n = n};
	char err[512];
	int rc = CLI_OK;

	if (fetch_all(&f)) {
		fprintf(stderr, "bpfmesh: out of memory\n");
		free(f.docs);
		free(f.rcs);
		json_object_put(agents);
		return CLI_AGENT_ERROR;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *doc = f.docs[i], *a = json_object_new_object();
		int grc = f.rcs[i];

		json_object_object_add(a, "address", json_object_new_string(addrs[i]));
		if (!doc) {
			snprintf(err, sizeof(err), "%s",
				 grc == CLI_USAGE ? "unreachable" : "error");
			unreachable += grc == CLI_USAGE;
		} else if (cl_merge(&v, doc, err, sizeof(err))) {
			json_object_put(doc);
			doc = NULL;
		}
		json_object_object_add(a, "answered", json_object_new_boolean(doc != NULL));
		if (!doc) {
			fprintf(stderr,
				"bpfmesh: warning: agent %s did not answer (%s): the view is "
				"partial\n",
				addrs[i], err);
			json_object_object_add(a, "error", json_object_new_string(err));
			failed++;
		}
		json_object_array_add(agents, a);
		json_object_put(doc);
	}
	if (n && failed == n) {
		fprintf(stderr, "bpfmesh: none of the %zu agents answered\n", n);
		rc = unreachable == n ? CLI_USAGE : CLI_AGENT_ERROR;
	} else {
		if (o->json)
			print_json(out, &v, agents, failed > 0);
		else
			print_table(out, &v, n, sort);
		if (failed) {
			fprintf(stderr, "bpfmesh: partial view: %zu of %zu agents did not answer\n",
				failed, n);
			rc = CLI_PARTIAL;
		}
	}
	json_object_put(agents);
	free(f.docs);
	free(f.rcs);
	cl_view_free(&v);
	return rc;
}
