/* SPDX-License-Identifier: Apache-2.0 */
/* cli_cluster_merge.c: merge agents' latency sketches exactly (see the
 * header). An answer is validated whole before any of it is added, so an
 * agent that answers something else leaves the view as it was and is named
 * as not answering. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_cluster_merge.h"

static json_object *member(json_object *o, const char *k)
{
	json_object *v = NULL;

	return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v)
		   ? v
		   : NULL;
}

static bool get_u64(json_object *o, const char *k, uint64_t *out)
{
	json_object *v = member(o, k);

	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return false;
	*out = (uint64_t)json_object_get_int64(v);
	return true;
}

static bool get_num(json_object *o, const char *k, double *out)
{
	json_object *v = member(o, k);

	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return false;
	*out = json_object_get_double(v);
	return isfinite(*out);
}

/* Checks a layout against v's (or, for the first agent, takes it). */
static int check_layout(struct cl_view *v, json_object *doc, char *err, size_t err_len)
{
	json_object *l = member(doc, "layout");
	uint64_t win, lo, hi, nb;
	double a;

	if (!get_u64(doc, "windowSeconds", &win) || !get_num(l, "relativeError", &a) ||
	    !get_u64(l, "kLow", &lo) || !get_u64(l, "kHigh", &hi) || !get_u64(l, "buckets", &nb) ||
	    nb < 2 || nb > CL_MAX_BUCKETS) {
		snprintf(err, err_len,
			 "no sketch layout in the answer (an agent without "
			 "/api/v1/sketches?)");
		return -1;
	}
	if (v->has_layout &&
	    (a != v->relative_error || (int64_t)lo != v->k_low || (int64_t)hi != v->k_high ||
	     (int64_t)nb != v->n_buckets || win != v->window_s)) {
		snprintf(err, err_len,
			 "its sketches are not mergeable with the first agent's (relative error "
			 "%g, buckets %llu, window %llus; the first: %g, %lld, %us)",
			 a, (unsigned long long)nb, (unsigned long long)win, v->relative_error,
			 (long long)v->n_buckets, v->window_s);
		return -1;
	}
	if (!v->has_layout) {
		v->values = calloc(nb, sizeof(*v->values));
		if (!v->values) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		v->relative_error = a;
		v->k_low = (int64_t)lo;
		v->k_high = (int64_t)hi;
		v->n_buckets = (int64_t)nb;
		v->window_s = (uint32_t)win;
		v->has_layout = true;
	}
	return 0;
}

/* One side's sketch: well-formed, indexes in range and ascending, values
 * the layout's (or, where this view has none yet for a bucket, recorded). */
static int check_side(struct cl_view *v, json_object *sk, char *err, size_t err_len)
{
	json_object *b = member(sk, "buckets");
	uint64_t count, errors, max, sum = 0;
	double rps;
	int64_t prev = -1;

	if (!sk || json_object_is_type(sk, json_type_null))
		return 0;
	if (!get_u64(sk, "count", &count) || !get_u64(sk, "errors", &errors) ||
	    !get_u64(sk, "maxNs", &max) || !get_num(sk, "rps", &rps) ||
	    !json_object_is_type(b, json_type_array) || errors > count) {
		snprintf(err, err_len, "a sketch without count, errors, maxNs, rps or buckets");
		return -1;
	}
	for (size_t i = 0; i < json_object_array_length(b); i++) {
		json_object *e = json_object_array_get_idx(b, i), *x[3];
		int64_t k[3];

		if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) != 3) {
			snprintf(err, err_len, "a bucket that is not [index, count, valueNs]");
			return -1;
		}
		for (int j = 0; j < 3; j++) {
			x[j] = json_object_array_get_idx(e, j);
			k[j] = json_object_get_int64(x[j]);
			if (!json_object_is_type(x[j], json_type_int) || k[j] < 0) {
				snprintf(err, err_len,
					 "a bucket that is not [index, count, valueNs]");
				return -1;
			}
		}
		if (k[0] <= prev || k[0] >= v->n_buckets) {
			snprintf(err, err_len, "bucket index %lld out of order or range",
				 (long long)k[0]);
			return -1;
		}
		if (v->values[k[0]] && v->values[k[0]] != (uint64_t)k[2]) {
			snprintf(err, err_len,
				 "bucket %lld answers %lld ns, another agent's %llu: not the "
				 "same sketch",
				 (long long)k[0], (long long)k[2],
				 (unsigned long long)v->values[k[0]]);
			return -1;
		}
		prev = k[0];
		sum += (uint64_t)k[1];
	}
	if (sum != count) {
		snprintf(err, err_len, "buckets add up to %llu, count says %llu",
			 (unsigned long long)sum, (unsigned long long)count);
		return -1;
	}
	return 0;
}

static const char *const side_keys[2] = {"server", "client"};

static int side_index(json_object *e)
{
	json_object *sd = member(e, "side");

	if (!json_object_is_type(sd, json_type_string))
		return -1;
	for (int i = 0; i < 2; i++)
		if (!strcmp(json_object_get_string(sd), side_keys[i]))
			return i;
	return -1;
}

/* services[i]'s rpcs: absent (an older agent) or at most CL_MAX_RPCS
 * sketches, each with its side and route, no (side, route) twice. */
static int check_rpcs(struct cl_view *v, json_object *svc, size_t i, char *err, size_t err_len)
{
	json_object *arr = member(svc, "rpcs");
	size_t n;

	if (!arr || json_object_is_type(arr, json_type_null))
		return 0;
	if (!json_object_is_type(arr, json_type_array)) {
		snprintf(err, err_len, "services[%zu].rpcs is not an array", i);
		return -1;
	}
	n = json_object_array_length(arr);
	if (n > CL_MAX_RPCS) {
		snprintf(err, err_len, "services[%zu] has %zu rpcs, more than %d", i, n,
			 CL_MAX_RPCS);
		return -1;
	}
	for (size_t j = 0; j < n; j++) {
		json_object *e = json_object_array_get_idx(arr, j), *r = member(e, "route");
		int sd = side_index(e);
		size_t len;

		if (sd < 0 || !json_object_is_type(r, json_type_string) ||
		    !(len = strlen(json_object_get_string(r))) ||
		    len >= sizeof(((struct cl_rpc *)0)->route)) {
			snprintf(err, err_len,
				 "services[%zu].rpcs[%zu] without a side (server, client) or a "
				 "route (1 to 255 characters)",
				 i, j);
			return -1;
		}
		for (size_t k = 0; k < j; k++) {
			json_object *o = json_object_array_get_idx(arr, k);

			if (side_index(o) == sd &&
			    !strcmp(json_object_get_string(member(o, "route")),
				    json_object_get_string(r))) {
				snprintf(err, err_len, "services[%zu].rpcs: %s %s twice", i,
					 side_keys[sd], json_object_get_string(r));
				return -1;
			}
		}
		if (check_side(v, e, err, err_len))
			return -1;
	}
	return 0;
}

static struct cl_service *find_or_add(struct cl_view *v, const char *ns, const char *name)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->svc[i].ns, ns) && !strcmp(v->svc[i].name, name))
			return &v->svc[i];
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct cl_service *p = realloc(v->svc, cap * sizeof(*p));

		if (!p)
			return NULL;
		v->svc = p;
		v->cap = cap;
	}
	memset(&v->svc[v->n], 0, sizeof(v->svc[0]));
	snprintf(v->svc[v->n].ns, sizeof(v->svc[0].ns), "%s", ns);
	snprintf(v->svc[v->n].name, sizeof(v->svc[0].name), "%s", name);
	return &v->svc[v->n++];
}

static int add_side(struct cl_view *v, struct cl_side *s, json_object *sk)
{
	json_object *b = member(sk, "buckets");
	uint64_t count, errors, max;
	double rps;

	if (!sk || json_object_is_type(sk, json_type_null))
		return 0;
	if (!s->buckets && !(s->buckets = calloc(v->n_buckets, sizeof(*s->buckets))))
		return -ENOMEM;
	get_u64(sk, "count", &count);
	get_u64(sk, "errors", &errors);
	get_u64(sk, "maxNs", &max);
	get_num(sk, "rps", &rps);
	s->seen = true;
	s->count += count;
	s->errors += errors;
	s->rps += rps;
	if (max > s->max_ns)
		s->max_ns = max;
	for (size_t i = 0; i < json_object_array_length(b); i++) {
		json_object *e = json_object_array_get_idx(b, i);
		int64_t k = json_object_get_int64(json_object_array_get_idx(e, 0));

		s->buckets[k] += (uint64_t)json_object_get_int64(json_object_array_get_idx(e, 1));
		v->values[k] = (uint64_t)json_object_get_int64(json_object_array_get_idx(e, 2));
	}
	return 0;
}

static struct cl_rpc *find_rpc(struct cl_service *c, int side, const char *route)
{
	for (size_t i = 0; i < c->n_rpc; i++)
		if (c->rpc[i].side == side && !strcmp(c->rpc[i].route, route))
			return &c->rpc[i];
	return NULL;
}

/* The line of (side, route), new when not seen yet; past the view's
 * CL_MAX_RPC_LINES, the service and side's CL_RPC_OTHER line. NULL on
 * ENOMEM. */
static struct cl_rpc *find_or_add_rpc(struct cl_view *v, struct cl_service *c, int side,
				      const char *route)
{
	struct cl_rpc *r = find_rpc(c, side, route);

	if (r)
		return r;
	if (v->n_rpc >= CL_MAX_RPC_LINES) {
		route = CL_RPC_OTHER;
		if ((r = find_rpc(c, side, route)))
			return r;
	}
	if (c->n_rpc == c->cap_rpc) {
		size_t cap = c->cap_rpc ? c->cap_rpc * 2 : 8;

		if (!(r = realloc(c->rpc, cap * sizeof(*r))))
			return NULL;
		c->rpc = r;
		c->cap_rpc = cap;
	}
	r = &c->rpc[c->n_rpc++];
	memset(r, 0, sizeof(*r));
	snprintf(r->route, sizeof(r->route), "%s", route);
	r->side = side;
	v->n_rpc++;
	return r;
}

static int add_rpcs(struct cl_view *v, struct cl_service *c, json_object *svc)
{
	json_object *arr = member(svc, "rpcs");

	for (size_t j = 0;
	     json_object_is_type(arr, json_type_array) && j < json_object_array_length(arr); j++) {
		json_object *e = json_object_array_get_idx(arr, j);
		struct cl_rpc *r = find_or_add_rpc(v, c, side_index(e),
						   json_object_get_string(member(e, "route")));
		uint64_t cnt = 0;

		if (!r || add_side(v, &r->s, e))
			return -ENOMEM;
		/* an agent counts once on a line, even with several routes in _other */
		if (get_u64(e, "count", &cnt) && cnt > 0 && r->counted != v->agents + 1) {
			r->agents++;
			r->counted = v->agents + 1;
		}
	}
	return 0;
}

int cl_merge(struct cl_view *v, json_object *doc, char *err, size_t err_len)
{
	json_object *arr = member(doc, "services");
	bool fresh = !v->has_layout;
	size_t i, n;

	if (check_layout(v, doc, err, err_len))
		return -1;
	if (!json_object_is_type(arr, json_type_array)) {
		snprintf(err, err_len, "no services array in the answer");
		goto refused;
	}
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(arr, i);
		json_object *ns = member(s, "namespace"), *name = member(s, "name");

		if (!json_object_is_type(ns, json_type_string) ||
		    !json_object_is_type(name, json_type_string)) {
			snprintf(err, err_len, "services[%zu] without namespace and name", i);
			goto refused;
		}
		for (int sd = 0; sd < 2; sd++)
			if (check_side(v, member(s, side_keys[sd]), err, err_len))
				goto refused;
		if (check_rpcs(v, s, i, err, err_len))
			goto refused;
	}
	for (i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(arr, i);
		struct cl_service *c =
		    find_or_add(v, json_object_get_string(member(s, "namespace")),
				json_object_get_string(member(s, "name")));
		bool saw = false;

		if (!c) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		for (int sd = 0; sd < 2; sd++) {
			uint64_t cnt = 0;

			if (add_side(v, &c->side[sd], member(s, side_keys[sd]))) {
				snprintf(err, err_len, "out of memory");
				return -1;
			}
			saw |= get_u64(member(s, side_keys[sd]), "count", &cnt) && cnt > 0;
		}
		if (add_rpcs(v, c, s)) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		c->agents += saw;
	}
	v->agents++;
	return 0;

refused:
	/* the first agent's layout is not taken from an answer refused */
	if (fresh) {
		free(v->values);
		v->values = NULL;
		v->has_layout = false;
	}
	return -1;
}

uint64_t cl_quantile(const struct cl_view *v, const struct cl_side *s, double q)
{
	uint64_t rank, seen = 0, val;
	int64_t i;

	if (!s->count || !s->buckets)
		return 0;
	if (q >= 1.0)
		return s->max_ns;
	if (q < 0)
		q = 0;
	rank = (uint64_t)(q * (double)(s->count - 1));
	for (i = 0; i < v->n_buckets - 1; i++) {
		seen += s->buckets[i];
		if (seen > rank)
			break;
	}
	val = v->values[i];
	return s->max_ns && val > s->max_ns ? s->max_ns : val;
}

void cl_view_free(struct cl_view *v)
{
	for (size_t i = 0; i < v->n; i++) {
		for (int sd = 0; sd < 2; sd++)
			free(v->svc[i].side[sd].buckets);
		for (size_t j = 0; j < v->svc[i].n_rpc; j++)
			free(v->svc[i].rpc[j].s.buckets);
		free(v->svc[i].rpc);
	}
	free(v->svc);
	free(v->values);
	memset(v, 0, sizeof(*v));
}
