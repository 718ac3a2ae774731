/* SPDX-License-Identifier: Apache-2.0 */
/* prom_http.c: the request histograms of the registry as Prometheus
 * histogram families (prom_http.h). */
#include <errno.h>
#include <string.h>

#include "metrics/prom_http.h"

struct http_ctx {
	struct prom_writer *w;
	int err;
};

static const char *const http_family[METRICS_SIDES] = {
    "http_server_request_duration_seconds",
    "http_client_request_duration_seconds",
};
static const char *const http_help[METRICS_SIDES] = {
    "Duration of HTTP server requests.",
    "Duration of HTTP client requests.",
};

/* gRPC (DESIGN.md's names; seconds, the HTTP buckets) */
static const char *const rpc_family[METRICS_SIDES] = {
    "rpc_server_duration",
    "rpc_client_duration",
};
static const char *const rpc_help[METRICS_SIDES] = {
    "Duration of gRPC server calls, in seconds.",
    "Duration of gRPC client calls, in seconds.",
};

/* route "package.Service/Method" -> rpc_service, rpc_method */
static int prom_rpc_histogram(struct prom_writer *w, const struct metrics_hist *h)
{
	char svc[256] = "";
	const char *slash = strchr(h->route, '/');
	const char *method = slash ? slash + 1 : "";
	size_t n = slash ? (size_t)(slash - h->route) : 0;
	struct prom_label l[] = {
	    {"service_name", h->service}, {"service_namespace", h->service_ns},
	    {"rpc_system", "grpc"},	  {"rpc_service", svc},
	    {"rpc_method", method},	  {"rpc_grpc_status_code", h->status_code},
	};
	int err = prom_family_begin(w, rpc_family[h->side], PROM_HISTOGRAM, rpc_help[h->side]);

	if (n >= sizeof(svc))
		n = sizeof(svc) - 1;
	memcpy(svc, h->route, n);
	svc[n] = '\0';
	if (!err)
		err = prom_histogram(w, l, 6, metrics_http_bounds, METRICS_HTTP_BOUNDS, h->counts,
				     h->sum);
	return err;
}

int prom_http_families(struct prom_writer *w)
{
	for (int side = 0; side < METRICS_SIDES; side++) {
		int err = prom_family_begin(w, http_family[side], PROM_HISTOGRAM, http_help[side]);

		if (err)
			return err;
	}
	return 0;
}

int prom_http_histogram(struct prom_writer *w, const struct metrics_hist *h)
{
	struct prom_label l[] = {
	    {"service_name", h->service},	{"service_namespace", h->service_ns},
	    {"http_request_method", h->method}, {"http_response_status_code", h->status_code},
	    {"http_route", h->route},
	};
	int err;

	if (h->rpc)
		return prom_rpc_histogram(w, h);
	err = prom_family_begin(w, http_family[h->side], PROM_HISTOGRAM, http_help[h->side]);
	if (!err)
		err = prom_histogram(w, l, 5, metrics_http_bounds, METRICS_HTTP_BOUNDS, h->counts,
				     h->sum);
	return err;
}

static void http_one(const struct metrics_hist *h, void *arg)
{
	struct http_ctx *c = arg;
	int err = prom_http_histogram(c->w, h);

	if (err && !c->err)
		c->err = err;
}

int prom_write_http_histograms(struct prom_writer *w, const struct metrics *m)
{
	struct http_ctx c = {w, 0};
	int err = prom_http_families(w);

	if (err)
		return err;
	metrics_foreach_histogram(m, http_one, &c);
	return c.err == -ENOMEM ? -ENOMEM : 0;
}
