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
	jw_key(c->w, "rps");
	jw_dbl(c->w, s.rate);
	jw_ku64(c->w, "spanNs", s.span_ns);
	lat_sketch_write_json(&acc, c->w);
	jw_obj_close(c->w);
}

static void write_service(struct sketch_ctx *c, const char *ns, const char *name)
{
	jw_obj_open(c->w);
	jw_kstr(c->w, "namespace", ns);
	jw_kstr(c->w, "name", name);
	for (int sd = 0; sd < METRICS_SIDES; sd++)
		write_side(c, ns, name, (enum metrics_side)sd);
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
