/* SPDX-License-Identifier: Apache-2.0 */
/* api_latency.c: the latency views of the API, read from metrics.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_latency.h"
#include "lib/clock.h"
#include "metrics/metrics.h"

int api_arg_window(const char *s, uint32_t *window_s, const char **why)
{
	uint64_t ms;
	char *end;

	*why = "window must be a duration from 10s to 15m, e.g. 60s or 5m";
	if (!s || !*s)
		return -EINVAL;
	if (s[0] >= '0' && s[0] <= '9' && (strtoull(s, &end, 10), !*end)) {
		ms = strtoull(s, NULL, 10) * 1000; /* bare seconds */
		if (strlen(s) > 6)
			return -EINVAL;
	} else if (parse_duration_ms(s, &ms)) {
		return -EINVAL;
	}
	if (ms < LAT_WINDOW_MIN_S * 1000ULL || ms > LAT_WINDOW_MAX_S * 1000ULL)
		return -EINVAL;
	*window_s = (uint32_t)(ms / 1000);
	return 0;
}

static double ms_of(uint64_t ns) { return ns / 1e6; }

/* The SIDE fields, into the object open at w. */
static void side_fields(struct jsonw *w, const struct lat_summary *s)
{
	jw_ku64(w, "requests", s->count);
	jw_ku64(w, "errors", s->errors);
	jw_key(w, "rps");
	jw_dbl(w, s->rate);
	jw_key(w, "errorRate");
	jw_dbl(w, s->error_rate);
	jw_key(w, "p50Ms");
	jw_dbl(w, ms_of(s->p50_ns));
	jw_key(w, "p90Ms");
	jw_dbl(w, ms_of(s->p90_ns));
	jw_key(w, "p99Ms");
	jw_dbl(w, ms_of(s->p99_ns));
	jw_key(w, "maxMs");
	jw_dbl(w, ms_of(s->max_ns));
}

static void side(struct jsonw *w, const struct metrics *m, const char *ns, const char *service,
		 enum metrics_side sd, uint32_t window_s, uint64_t now)
{
	struct lat_summary s;

	jw_key(w, metrics_side_name(sd));
	if (!m || metrics_service_summary(m, ns, service, sd, window_s, now, &s)) {
		jw_null(w);
		return;
	}
	jw_obj_open(w);
	side_fields(w, &s);
	jw_obj_close(w);
}

static void brief(struct jsonw *w, const struct metrics *m, const char *ns, const char *service,
		  uint32_t window_s, uint64_t now)
{
	jw_ku64(w, "windowSeconds", window_s);
	jw_key(w, "relativeError");
	jw_dbl(w, LAT_ALPHA);
	side(w, m, ns, service, METRICS_SERVER, window_s, now);
	side(w, m, ns, service, METRICS_CLIENT, window_s, now);
}

void api_write_latency_brief(struct agent *a, struct jsonw *w, const char *ns, const char *service,
			     uint32_t window_s)
{
	jw_key(w, "latency");
	jw_obj_open(w);
	brief(w, a->exp.metrics, ns, service, window_s, mono_ns());
	jw_obj_close(w);
}

static void on_route(enum metrics_side sd, const char *route, const char *method, bool rpc,
		     const struct lat_summary *s, void *ctx)
{
	struct jsonw *w = ctx;

	jw_obj_open(w);
	jw_kstr(w, "side", metrics_side_name(sd));
	jw_kstr(w, "route", route);
	jw_kstr(w, "method", method);
	jw_key(w, "rpc");
	jw_bool(w, rpc);
	side_fields(w, s);
	jw_obj_close(w);
}

/* The gRPC routes only: the services list carries them for the CLI's
 * Service/Method lines (HTTP routes stay in the single-service view, where
 * they do not multiply a list of many services). */
static void on_rpc_route(enum metrics_side sd, const char *route, const char *method, bool rpc,
			 const struct lat_summary *s, void *ctx)
{
	if (rpc)
		on_route(sd, route, method, rpc, s, ctx);
}

static void on_endpoint(const char *address, uint16_t port, const struct lat_summary *s, void *ctx)
{
	struct jsonw *w = ctx;

	jw_obj_open(w);
	jw_kstr(w, "address", address);
	jw_ku64(w, "port", port);
	side_fields(w, s);
	jw_obj_close(w);
}

void api_write_latency_routes(struct agent *a, struct jsonw *w, const char *ns, const char *service,
			      uint32_t window_s)
{
	jw_key(w, "routes");
	jw_arr_open(w);
	if (a->exp.metrics)
		metrics_foreach_route(a->exp.metrics, ns, service, window_s, mono_ns(), on_route,
				      w);
	jw_arr_close(w);
}

void api_write_latency_rpcs(struct agent *a, struct jsonw *w, const char *ns, const char *service,
			    uint32_t window_s)
{
	jw_key(w, "rpcs");
	jw_arr_open(w);
	if (a->exp.metrics)
		metrics_foreach_route(a->exp.metrics, ns, service, window_s, mono_ns(),
				      on_rpc_route, w);
	jw_arr_close(w);
}

/* Whether the registry has seen requests of the service. */
static bool seen(const struct metrics *m, const char *ns, const char *service, uint32_t window_s,
		 uint64_t now)
{
	struct lat_summary s;

	for (int sd = 0; m && sd < METRICS_SIDES; sd++)
		if (!metrics_service_summary(m, ns, service, sd, window_s, now, &s))
			return true;
	return false;
}

int api_write_latency(struct agent *a, struct jsonw *w, const char *ns, const char *service,
		      uint32_t window_s)
{
	const struct metrics *m = a->exp.metrics;
	uint64_t now = mono_ns();
	bool known = a->cfg && config_find_service(a->cfg, ns, service) >= 0;

	/* a process that no configuration names has no namespace: its bare
	 * name (read as namespace default) finds it when default has none */
	if (!known && !seen(m, ns, service, window_s, now) && !strcmp(ns, "default") &&
	    seen(m, "", service, window_s, now))
		ns = "";
	else if (!known && !seen(m, ns, service, window_s, now))
		return -ENOENT;
	jw_obj_open(w);
	jw_kstr(w, "service", service);
	jw_kstr(w, "namespace", ns);
	brief(w, m, ns, service, window_s, now);
	api_write_latency_routes(a, w, ns, service, window_s);
	jw_key(w, "endpoints");
	jw_arr_open(w);
	if (m)
		metrics_foreach_endpoint(m, ns, service, window_s, now, on_endpoint, w);
	jw_arr_close(w);
	jw_obj_close(w);
	return 0;
}
