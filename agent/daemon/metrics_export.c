/* SPDX-License-Identifier: Apache-2.0 */
/* metrics_export.c: the Prometheus exposition and the OTLP metrics
 * snapshots. Both read the registry and the kernel under the agent's lock;
 * the OTLP exporter encodes the snapshot during otlp_metrics_submit() and
 * sends it from its own thread, so nothing here waits on the network. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/agent.h"
#include "exporters/otlp_metrics.h"
#include "exporters/prometheus.h"
#include "lib/log.h"
#include "daemon/meshmetrics.h"
#include "metrics/metrics.h"
#include "daemon/metrics_export.h"
#include "metrics/prom_http.h"
#include "trace/otlp_conf.h"

/* A histogram series copied out of the registry, so that the exposition is
 * written after the agent's lock is given back: h points into the copy. */
struct hist_copy {
	struct metrics_hist h;
	char *labels[5]; /* service, method, status code, route, namespace */
	uint64_t counts[METRICS_HTTP_BOUNDS + 1];
};

struct hist_copies {
	struct hist_copy *h;
	size_t n, cap;
	bool oom;
};

static void copy_hist(const struct metrics_hist *h, void *ctx)
{
	struct hist_copies *hc = ctx;
	const char *l[5] = {h->service, h->method, h->status_code, h->route, h->service_ns};
	struct hist_copy *c;

	if (hc->n == hc->cap) {
		size_t cap = hc->cap ? hc->cap * 2 : 64;
		void *p = realloc(hc->h, cap * sizeof(*hc->h));

		if (!p) {
			hc->oom = true;
			return;
		}
		hc->h = p;
		hc->cap = cap;
	}
	c = &hc->h[hc->n++];
	memcpy(c->counts, h->counts, sizeof(c->counts));
	for (int i = 0; i < 5; i++)
		if (!(c->labels[i] = strdup(l[i])))
			hc->oom = true;
	c->h = *h;
	c->h.k8s = NULL;
	c->h.counts = NULL; /* set once the array stops moving */
}

static void free_copies(struct hist_copies *hc)
{
	for (size_t i = 0; i < hc->n; i++)
		for (int k = 0; k < 5; k++)
			free(hc->h[i].labels[k]);
	free(hc->h);
}

int metrics_prom_text(struct agent *a, char **text, size_t *len)
{
	struct hist_copies hc = {0};
	struct prom_writer *w;
	struct mm_set set;
	int err = 0;

	/* under the lock only the copies: a scrape of many series must not
	 * hold up the event loop while it formats */
	pthread_mutex_lock(&a->lock);
	if (a->exp.metrics)
		metrics_foreach_histogram(a->exp.metrics, copy_hist, &hc);
	if (meshmetrics_collect(a, &set))
		hc.oom = true;
	pthread_mutex_unlock(&a->lock);

	w = prom_writer_new();
	if (!w || hc.oom)
		err = -ENOMEM;
	if (!err)
		err = prom_http_families(w);
	for (size_t i = 0; !err && i < hc.n; i++) {
		struct hist_copy *c = &hc.h[i];

		c->h.service = c->labels[0];
		c->h.method = c->labels[1];
		c->h.status_code = c->labels[2];
		c->h.route = c->labels[3];
		c->h.service_ns = c->labels[4];
		c->h.k8s = NULL; /* not a Prometheus label */
		c->h.counts = c->counts;
		err = prom_http_histogram(w, &c->h);
		if (err == -EINVAL) /* a duplicate or rejected series: counted, not fatal */
			err = 0;
	}
	if (!err)
		err = mm_set_write_prom(&set, w);
	if (!err)
		err = prom_finish(w, text, len);
	prom_writer_free(w);
	mm_set_free(&set);
	free_copies(&hc);
	return err;
}

static uint64_t unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- OTLP ------------------------------------------------------------- */

#define HIST_ATTRS 4

struct hist_row {
	enum metrics_side side;
	bool rpc;
	char rpc_service[256]; /* of route "package.Service/Method" */
	int rpc_service_attr;  /* its attrs[] index, pointed at it once rows stop moving; -1 */
	const char *service, *service_ns;
	const struct span_k8s *k8s;
	struct otlp_attr attrs[HIST_ATTRS];
	size_t n_attrs;
	const uint64_t *counts;
	uint64_t count;
	double sum;
};

struct rows {
	struct hist_row *r;
	size_t n, cap;
	bool oom;
};

/* gRPC semantic conventions: rpc.system, rpc.service, rpc.method and
 * rpc.grpc.status_code, from the series' route and status code. */
static void rpc_row(struct hist_row *r, const struct metrics_hist *h)
{
	const char *slash = strchr(h->route, '/');
	size_t n = slash ? (size_t)(slash - h->route) : 0;
	char *end;
	long code = strtol(h->status_code, &end, 10);

	if (n >= sizeof(r->rpc_service))
		n = sizeof(r->rpc_service) - 1;
	memcpy(r->rpc_service, h->route, n);
	r->rpc_service[n] = '\0';
	r->attrs[r->n_attrs++] = OTLP_ATTR_STR("rpc.system", "grpc");
	r->rpc_service_attr = n ? (int)r->n_attrs : -1;
	if (n)
		r->attrs[r->n_attrs++] = OTLP_ATTR_STR("rpc.service", "");
	if (slash && slash[1])
		r->attrs[r->n_attrs++] = OTLP_ATTR_STR("rpc.method", slash + 1);
	if (h->status_code[0] && !*end)
		r->attrs[r->n_attrs++] = OTLP_ATTR_INT("rpc.grpc.status_code", code);
}

static void on_hist(const struct metrics_hist *h, void *ctx)
{
	struct rows *rs = ctx;
	struct hist_row *r;
	char *end;
	long code;

	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		void *p = realloc(rs->r, cap * sizeof(*rs->r));

		if (!p) {
			rs->oom = true;
			return;
		}
		rs->r = p;
		rs->cap = cap;
	}
	r = &rs->r[rs->n++];
	memset(r, 0, sizeof(*r));
	r->side = h->side;
	r->service = h->service;
	r->service_ns = h->service_ns;
	r->k8s = h->k8s;
	r->counts = h->counts;
	r->count = h->count;
	r->sum = h->sum;
	r->rpc = h->rpc;
	if (h->rpc) {
		rpc_row(r, h);
		return;
	}
	if (h->method[0])
		r->attrs[r->n_attrs++] = OTLP_ATTR_STR("http.request.method", h->method);
	code = strtol(h->status_code, &end, 10);
	if (h->status_code[0] && !*end)
		r->attrs[r->n_attrs++] = OTLP_ATTR_INT("http.response.status_code", code);
	else if (h->status_code[0]) /* an overflow series: "5xx" */
		r->attrs[r->n_attrs++] = OTLP_ATTR_STR("http.response.status_code", h->status_code);
	if (h->route[0])
		r->attrs[r->n_attrs++] = OTLP_ATTR_STR("http.route", h->route);
}

static const char *const hist_name[2][METRICS_SIDES] = {
    {OTLP_METRIC_HTTP_SERVER_DURATION, OTLP_METRIC_HTTP_CLIENT_DURATION},
    {"rpc.server.duration", "rpc.client.duration"}};
static const char *const hist_help[2][METRICS_SIDES] = {
    {"Duration of HTTP server requests.", "Duration of HTTP client requests."},
    {"Duration of gRPC server calls.", "Duration of gRPC client calls."}};

/* A service's resource attributes beyond service.*: what its pod identity
 * says (metrics.h: one pod's, or node and owner shared by several). inst
 * holds service.instance.id. Returns how many. */
struct res_k8s {
	struct otlp_attr a[OTLP_RES_ATTRS_EXTRA];
	char inst[sizeof(((struct span_k8s *)0)->pod_uid) +
		  sizeof(((struct span_k8s *)0)->container_name) + 1];
};

static size_t k8s_attrs(const char *ns, const struct span_k8s *k, struct res_k8s *out)
{
	const char *owner;
	size_t n = 0;

	if (!k || (!k->pod_uid[0] && !k->node_name[0] && !k->owner_name[0]))
		return 0;
	if (k->pod_uid[0]) {
		snprintf(out->inst, sizeof(out->inst), "%s%s%s", k->pod_uid,
			 k->container_name[0] ? "/" : "", k->container_name);
		out->a[n++] = OTLP_ATTR_STR("service.instance.id", out->inst);
	}
	out->a[n++] = OTLP_ATTR_STR("k8s.namespace.name", ns);
	out->a[n++] = OTLP_ATTR_STR("k8s.pod.name", k->pod_name);
	out->a[n++] = OTLP_ATTR_STR("k8s.pod.uid", k->pod_uid);
	out->a[n++] = OTLP_ATTR_STR("k8s.container.name", k->container_name);
	out->a[n++] = OTLP_ATTR_STR("k8s.node.name", k->node_name);
	owner = span_k8s_owner_key(k->owner_kind);
	if (owner)
		out->a[n++] = OTLP_ATTR_STR(owner, k->owner_name);
	return n;
}

static bool same_service(const struct hist_row *a, const struct hist_row *b)
{
	return !strcmp(a->service, b->service) && !strcmp(a->service_ns, b->service_ns);
}

/* One resource per service (namespace and name, and on Kubernetes its pod's
 * identity) with its two histograms, then the mesh's own metrics under
 * service.name "bpfmesh". Rows come in service order. */
static int submit(struct agent *a, uint64_t now)
{
	struct exports *t = &a->exp;
	struct rows rs = {0};
	struct mm_set set;
	struct otlp_histogram_point *pts = NULL;
	struct otlp_metric *ms = NULL, *mesh = NULL;
	struct otlp_metrics_resource *res = NULL;
	struct res_k8s *rk = NULL;
	size_t n_res = 0, n_mesh = 0, n_ms = 0;
	void *mesh_block = NULL;
	int err = -ENOMEM;

	if (t->metrics)
		metrics_foreach_histogram(t->metrics, on_hist, &rs);
	meshmetrics_collect(a, &set);
	pts = calloc(rs.n + 1, sizeof(*pts));
	ms = calloc(2 * rs.n + 1, sizeof(*ms));
	res = calloc(rs.n + 2, sizeof(*res));
	rk = calloc(rs.n + 1, sizeof(*rk));
	if (rs.oom || !pts || !ms || !res || !rk)
		goto out;
	for (size_t i = 0; i < rs.n; i++) {
		struct hist_row *r = &rs.r[i];

		if (r->rpc && r->rpc_service_attr >= 0) /* the rows no longer move */
			r->attrs[r->rpc_service_attr].str = r->rpc_service;
		pts[i] = (struct otlp_histogram_point){
		    .attrs = r->attrs,
		    .n_attrs = r->n_attrs,
		    .start_unix_ns = t->metrics_start_unix_ns,
		    .time_unix_ns = now,
		    .bounds = metrics_http_bounds,
		    .n_bounds = METRICS_HTTP_BOUNDS,
		    .bucket_counts = r->counts,
		    .count = r->count,
		    .sum = r->sum,
		};
		/* a new service or side starts a new metric (rows are grouped) */
		if (!i || !same_service(r, &rs.r[i - 1])) {
			res[n_res] = (struct otlp_metrics_resource){
			    .service_name = r->service,
			    .service_namespace = r->service_ns,
			    .host_name = a->tracing.host,
			    .attrs = rk[n_res].a,
			    .n_attrs = k8s_attrs(r->service_ns, r->k8s, &rk[n_res]),
			    .metrics = &ms[n_ms],
			};
			n_res++;
		}
		if (!i || !same_service(r, &rs.r[i - 1]) || r->side != rs.r[i - 1].side ||
		    r->rpc != rs.r[i - 1].rpc) {
			ms[n_ms++] = (struct otlp_metric){
			    .name = hist_name[r->rpc][r->side],
			    .description = hist_help[r->rpc][r->side],
			    .unit = "s",
			    .kind = OTLP_METRIC_HISTOGRAM,
			    .histograms = &pts[i],
			};
			res[n_res - 1].n_metrics++;
		}
		ms[n_ms - 1].n_points++;
	}
	if (!mm_set_to_otlp(&set, t->metrics_start_unix_ns, now, &mesh, &n_mesh, &mesh_block))
		res[n_res++] = (struct otlp_metrics_resource){
		    .service_name = "bpfmesh",
		    .host_name = a->tracing.host,
		    .metrics = mesh,
		    .n_metrics = n_mesh,
		};
	err = otlp_metrics_submit(t->otlp_metrics, &(struct otlp_metrics_snapshot){
						       .resources = res, .n_resources = n_res});
out:
	free(mesh_block);
	free(res);
	free(rk);
	free(ms);
	free(pts);
	free(rs.r);
	mm_set_free(&set);
	return err;
}

void metrics_export_apply(struct agent *a)
{
	struct exports *t = &a->exp;
	const struct cfg_telemetry *tel = a->cfg ? a->cfg->telemetry : NULL;

	if (!t->metrics_start_unix_ns)
		t->metrics_start_unix_ns = unix_now();
	if (tel && tel->otlp_set) {
		struct otlp_settings *set = otlp_conf_from_telemetry(tel);

		if (!t->otlp_metrics) {
			t->otlp_metrics = otlp_metrics_start(set, NULL);
			if (!t->otlp_metrics)
				log_error("OTLP metrics exporter to %s did not start",
					  tel->otlp_endpoint);
		} else {
			otlp_metrics_reconfigure(t->otlp_metrics, set);
		}
		free(set);
		t->metrics_interval_ns = tel->otlp_metrics_interval_ms * 1000000ULL;
	} else {
		metrics_export_stop(a);
	}
}

void metrics_export_tick(struct agent *a, uint64_t now_mono_ns)
{
	struct exports *t = &a->exp;

	if (!t->otlp_metrics || now_mono_ns - t->metrics_sent_mono < t->metrics_interval_ns)
		return;
	t->metrics_sent_mono = now_mono_ns;
	if (submit(a, unix_now()) == -ENOMEM)
		log_warn("OTLP metrics: out of memory building a snapshot");
}

void metrics_export_stop(struct agent *a)
{
	if (a->exp.otlp_metrics)
		otlp_metrics_stop(a->exp.otlp_metrics);
	a->exp.otlp_metrics = NULL;
}
