/* SPDX-License-Identifier: Apache-2.0 */
/* api_sketch.c: the raw latency sketches of /api/v1/sketches, the input of a
 * cluster-wide view; the summaries of /api/v1/services are computed from the
 * same windows. */
#include <string.h>

#include "api/api_sketch.h"
#include "lib/clock.h"
#include "metrics/metrics.h"

struct sketch_ctx {
	struct agent *a;
	struct jsonw *w;
	uint32_t window_s;
	uint64_t now;
};

/* A sketch's fields, into the object open at w. */
static void write_sketch(struct jsonw *w, const struct lat_sketch *acc, const struct lat_summary *s)
{
	jw_key(w, "rps");
	jw_dbl(w, s->rate);
	jw_ku64(w, "spanNs", s->span_ns);
	lat_sketch_write_json(acc, w);
}

static void write_side(struct sketch_ctx *c, const char *ns, const char *service,
		       enum metrics_side sd)
{
	const struct metrics *m = c->a->exp.metrics;
	struct lat_sketch acc;
	struct lat_summary s;

	jw_key(c->w, metrics_side_name(sd));
	if (!m || metrics_service_sketch(m, ns, service, sd, c->window_s, c->now, &acc, &s)) {
		jw_null(c->w);
		return;
	}
	jw_obj_open(c->w);
	write_sketch(c->w, &acc, &s);
	jw_obj_close(c->w);
}

struct rpc_ctx {
	struct sketch_ctx *c;
	const char *ns, *service;
};

/* One gRPC route of a side, its methods merged. */
static void on_rpc(enum metrics_side sd, const char *route, void *ctx)
{
	struct rpc_ctx *r = ctx;
	struct sketch_ctx *c = r->c;
	struct lat_sketch acc;
	struct lat_summary s;

	if (metrics_route_sketch(c->a->exp.metrics, r->ns, r->service, sd, route, NULL, c->window_s,
				 c->now, &acc, &s))
		return;
	jw_obj_open(c->w);
	jw_kstr(c->w, "side", metrics_side_name(sd));
	jw_kstr(c->w, "route", route);
	write_sketch(c->w, &acc, &s);
	jw_obj_close(c->w);
}

/* The gRPC routes only, as the services list carries them: HTTP routes
 * would multiply a cluster's list. */
static void write_rpcs(struct sketch_ctx *c, const char *ns, const char *service)
{
	struct rpc_ctx r = {.c = c, .ns = ns, .service = service};

	jw_key(c->w, "rpcs");
	jw_arr_open(c->w);
	if (c->a->exp.metrics)
		metrics_foreach_rpc(c->a->exp.metrics, ns, service, on_rpc, &r);
	jw_arr_close(c->w);
}

static void write_service(struct sketch_ctx *c, const char *ns, const char *name)
{
	jw_obj_open(c->w);
	jw_kstr(c->w, "namespace", ns);
	jw_kstr(c->w, "name", name);
	for (int sd = 0; sd < METRICS_SIDES; sd++)
		write_side(c, ns, name, (enum metrics_side)sd);
	write_rpcs(c, ns, name);
	jw_obj_close(c->w);
}

static bool configured(const struct agent *a, const char *ns, const char *name)
{
	for (int i = 0; a->cfg && i < a->cfg->n_services; i++)
		if (!strcmp(a->cfg->services[i].meta.ns, ns) &&
		    !strcmp(a->cfg->services[i].meta.name, name))
			return true;
	return false;
}

/* a service seen in requests that the configuration does not name */
static void on_service(const char *ns, const char *service, void *ctx)
{
	struct sketch_ctx *c = ctx;

	if (!configured(c->a, ns, service))
		write_service(c, ns, service);
}

void api_write_sketches(struct agent *a, struct jsonw *w, uint32_t window_s)
{
	struct sketch_ctx c = {.a = a, .w = w, .window_s = window_s, .now = mono_ns()};

	jw_obj_open(w);
	jw_ku64(w, "windowSeconds", window_s);
	jw_key(w, "layout");
	lat_layout_write_json(w);
	jw_key(w, "services");
	jw_arr_open(w);
	for (int i = 0; a->cfg && i < a->cfg->n_services; i++)
		write_service(&c, a->cfg->services[i].meta.ns, a->cfg->services[i].meta.name);
	if (a->exp.metrics)
		metrics_foreach_service(a->exp.metrics, on_service, &c);
	jw_arr_close(w);
	jw_obj_close(w);
}
