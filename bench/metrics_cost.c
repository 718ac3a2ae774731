/* SPDX-License-Identifier: Apache-2.0 */
/* bench/metrics_cost.c: in-process figures for bench/metrics.sh, linked with
 * the agent's own objects (the registry of agent/metrics/metrics.c, the writer of
 * exporters/prometheus.c, the bpfmesh_* writer of agent/metrics/meshset.c).
 *
 *   metrics_cost scrape [SECONDS_PER_CASE]
 *     The cost of producing the whole /metrics text, as GET /metrics does
 *     (writer, histograms from the registry, bpfmesh_* families, finish),
 *     for sets of series of several sizes; the baseline is the scrape of an
 *     empty registry. Prints TSV rows (header first).
 *
 *   metrics_cost rss [MINUTES [RATE]]
 *     The registry fed with synthetic spans of 100 services x 20 routes x 10
 *     endpoints, GET and POST, 200 and 503, SERVER and CLIENT, for MINUTES
 *     (16) simulated minutes in 10 s steps: per step and (service, route,
 *     endpoint) RATE (1) CLIENT and RATE SERVER spans, 4,000 x RATE spans/s; VmRSS, VmHWM, the heap
 * and the registry's own count (metrics_get_stats) before and at checkpoints, then one scrape of
 * the full registry. Prints TSV rows, then lines starting with "@ " (key=value) for the script.
 *
 * A "series" is a time series as Prometheus stores it: one sample line of the
 * exposition (a histogram label set is 17 of them: 15 _bucket, _sum,
 * _count). Label sets are counted separately. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exporters/prometheus.h"
#include "metrics/meshset.h"
#include "metrics/metrics.h"
#include "metrics/prom_http.h"

#define SEC 1000000000ULL

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 42;

static double unit(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((rng >> 11) + 0.5) / 9007199254740992.0;
}

/* A lognormal duration around median_ns. */
static uint64_t lognormal(double median_ns)
{
	double z = sqrt(-2 * log(unit())) * cos(2 * M_PI * unit());

	return (uint64_t)(median_ns * exp(0.6 * z)) + 1;
}

static void span_init(struct span *sp, int kind, int svc, int route, const char *method,
		      uint16_t code, uint64_t dur_ns)
{
	sp->kind = (uint8_t)kind;
	sp->status = code >= (kind == SPAN_KIND_SERVER ? 500 : 400) ? SPAN_STATUS_ERROR : 0;
	snprintf(sp->service_name, sizeof(sp->service_name), "service-%03d", svc);
	snprintf(sp->route, sizeof(sp->route), "/api/v1/resource-%02d/{id}", route);
	snprintf(sp->method, sizeof(sp->method), "%s", method);
	sp->status_code = code;
	sp->start_unix_ns = 1700000000ULL * SEC;
	sp->end_unix_ns = sp->start_unix_ns + dur_ns;
}

/* ---- scrape ------------------------------------------------------------ */

/* The bpfmesh_* families as meshmetrics_collect() makes them for a config of
 * services x endpoints (per endpoint 12 series, per service 4, plus the
 * fixed ones), without reading the kernel: the writer's share of a scrape. */
static int mesh_build(struct mm_set *set, int services, int endpoints)
{
	static const char *const ep_states[] = {"healthy", "ejected", "half_open"};
	static const char *const br_states[] = {"closed", "open", "half_open"};
	static const char *const reasons[] = {"no_endpoint", "all_ejected",  "breaker_open",
					      "bulkhead",    "rate_limited", "tc_ejected",
					      "no_backend",  "revnat_full"};
	struct mm_family *opened, *closed, *active, *selected, *failures, *h5xx, *state, *ej, *f;
	char svc[64], ep[64];

	memset(set, 0, sizeof(*set));
	opened = mm_family(set, "bpfmesh.connections.opened", "{connection}", "Opened.", true);
	closed = mm_family(set, "bpfmesh.connections.closed", "{connection}", "Closed.", true);
	active = mm_family(set, "bpfmesh.connections.active", "{connection}", "Active.", false);
	selected = mm_family(set, "bpfmesh.lb.selections", "{selection}", "Selections.", true);
	failures = mm_family(set, "bpfmesh.connect.failures", "{connection}", "Failures.", true);
	h5xx = mm_family(set, "bpfmesh.endpoint.http_5xx", "{response}", "5xx.", true);
	state = mm_family(set, "bpfmesh.endpoint.state", "1", "State.", false);
	ej = mm_family(set, "bpfmesh.endpoint.ejections", "{ejection}", "Ejections.", true);
	for (int s = 0; s < services; s++) {
		snprintf(svc, sizeof(svc), "svc-%05d", s);
		for (int e = 0; e < endpoints; e++) {
			int i = s * endpoints + e;

			snprintf(ep, sizeof(ep), "127.%d.%d.%d", 120 + i / 65536, i / 256 % 256,
				 i % 256);
#define L2 3, "service.name", svc, "service.namespace", "default", "endpoint", ep
			mm_add(set, opened, 1000 + i, L2);
			mm_add(set, closed, 990 + i, L2);
			mm_add(set, active, i % 10, L2);
			mm_add(set, selected, 1000 + i, L2);
			mm_add(set, h5xx, i % 3, L2);
			mm_add(set, ej, 0, L2);
#undef L2
			mm_add(set, failures, 0, 4, "service.name", svc, "service.namespace",
			       "default", "endpoint", ep, "reason", "refused");
			mm_add(set, failures, 0, 4, "service.name", svc, "service.namespace",
			       "default", "endpoint", ep, "reason", "timeout");
			mm_add(set, failures, 0, 4, "service.name", svc, "service.namespace",
			       "default", "endpoint", ep, "reason", "reset");
			for (int k = 0; k < 3; k++)
				mm_add(set, state, k == 0, 4, "service.name", svc,
				       "service.namespace", "default", "endpoint", ep, "state",
				       ep_states[k]);
		}
	}
	f = mm_family(set, "bpfmesh.breaker.state", "1", "Breaker.", false);
	for (int s = 0; s < services; s++) {
		snprintf(svc, sizeof(svc), "svc-%05d", s);
		for (int k = 0; k < 3; k++)
			mm_add(set, f, k == 0, 3, "service.name", svc, "service.namespace",
			       "default", "state", br_states[k]);
	}
	f = mm_family(set, "bpfmesh.pool.connections", "{connection}", "Pool.", false);
	for (int s = 0; s < services; s++) {
		snprintf(svc, sizeof(svc), "svc-%05d", s);
		mm_add(set, f, 0, 2, "service.name", svc, "service.namespace", "default");
	}
	f = mm_family(set, "bpfmesh.refusals", "{connection}", "Refusals.", true);
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		mm_add(set, f, 0, 1, "reason", reasons[i]);
	f = mm_family(set, "bpfmesh.config.reloads", "{reload}", "Reloads.", true);
	mm_add(set, f, 1, 1, "result", "applied");
	mm_add(set, f, 0, 1, "result", "rejected");
	return set->oom ? -ENOMEM : 0;
}

/* A registry with services x routes x methods x codes SERVER label sets. */
static struct metrics *registry(int services, int routes, int methods, int codes)
{
	static const char *const meth[] = {"GET", "POST"};
	static const uint16_t code[] = {200, 503};
	struct metrics *m = metrics_new(NULL, 0);
	struct span sp;

	if (!m)
		return NULL;
	memset(&sp, 0, sizeof(sp));
	for (int s = 0; s < services; s++)
		for (int r = 0; r < routes; r++)
			for (int k = 0; k < methods; k++)
				for (int c = 0; c < codes; c++)
					for (int i = 0; i < 20; i++) {
						span_init(&sp, SPAN_KIND_SERVER, s, r, meth[k],
							  code[c], lognormal(5e6 * (1 + r % 5)));
						metrics_record(m, &sp, SEC + (uint64_t)i * SEC);
					}
	return m;
}

/* The reference: the same lines written with one snprintf each into one
 * growing buffer, in registry order; no sorting, no escaping, no UTF-8 or
 * name checks, no per-series blocks. What the format itself costs. */
struct dbuf {
	char *s;
	size_t len, cap;
};

static void d_printf(struct dbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void d_printf(struct dbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (b->s && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap ? b->cap * 2 : 65536;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			abort();
	}
}

static const char *const d_family[METRICS_SIDES] = {"http_server_request_duration_seconds",
						    "http_client_request_duration_seconds"};

static void d_hist(const struct metrics_hist *h, void *ctx)
{
	struct dbuf *b = ctx;
	const char *fam = d_family[h->side];
	uint64_t cum = 0;
	char labels[512];

	snprintf(labels, sizeof(labels),
		 "service_name=\"%s\",http_request_method=\"%s\",http_response_status_code=\"%s\","
		 "http_route=\"%s\"",
		 h->service, h->method, h->status_code, h->route);
	for (int i = 0; i <= METRICS_HTTP_BOUNDS; i++) {
		cum += h->counts[i];
		if (i < METRICS_HTTP_BOUNDS)
			d_printf(b, "%s_bucket{%s,le=\"%g\"} %llu\n", fam, labels,
				 metrics_http_bounds[i], (unsigned long long)cum);
		else
			d_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", fam, labels,
				 (unsigned long long)cum);
	}
	d_printf(b, "%s_sum{%s} %.17g\n", fam, labels, h->sum);
	d_printf(b, "%s_count{%s} %llu\n", fam, labels, (unsigned long long)cum);
}

static void d_mesh(struct dbuf *b, const struct mm_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct mm_family *f = &set->fams[i];
		char name[128];

		mm_prom_name(f, name, sizeof(name));
		d_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, f->help, name,
			 f->counter ? "counter" : "gauge");
		for (size_t j = 0; j < f->n; j++) {
			const struct mm_sample *sm = &f->samples[j];
			char l[3 * (MM_VALUE_MAX + 40)] = "";
			size_t o = 0;

			for (int k = 0; k < sm->n_labels; k++)
				o += (size_t)snprintf(l + o, sizeof(l) - o, "%s%s=\"%s\"",
						      k ? "," : "", sm->keys[k], sm->values[k]);
			d_printf(b, "%s{%s} %g\n", name, l, sm->value);
		}
	}
}

struct scrape_case {
	const char *name;
	int hsvc, hroutes, hmethods, hcodes; /* histogram label sets */
	int msvc, meps;			     /* bpfmesh_* as for a config of msvc x meps */
};

/* One scrape: what GET /metrics does, but for the kernel reads. */
static int scrape_once(const struct metrics *m, const struct scrape_case *c, bool direct,
		       char **text, size_t *len)
{
	struct prom_writer *w;
	struct mm_set set = {0};
	int err = 0;

	if (direct) {
		struct dbuf b = {0};

		d_printf(&b, "%s", "");
		metrics_foreach_histogram(m, d_hist, &b);
		if (c->msvc && !mesh_build(&set, c->msvc, c->meps))
			d_mesh(&b, &set);
		mm_set_free(&set);
		*text = b.s;
		*len = b.len;
		return 0;
	}
	w = prom_writer_new();
	if (!w)
		return -ENOMEM;
	err = prom_write_http_histograms(w, m);
	if (!err && c->msvc)
		err = mesh_build(&set, c->msvc, c->meps);
	if (!err && c->msvc)
		err = mm_set_write_prom(&set, w);
	mm_set_free(&set);
	if (!err)
		err = prom_finish(w, text, len);
	prom_writer_free(w);
	return err;
}

static void count_lines(const char *text, size_t *series, size_t *comments)
{
	const char *p = text;

	*series = *comments = 0;
	while (*p) {
		const char *nl = strchr(p, '\n');

		if (*p == '#')
			(*comments)++;
		else if (*p != '\n')
			(*series)++;
		if (!nl)
			break;
		p = nl + 1;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#define BATCHES 5

/* us per scrape: the median over BATCHES batches of the mean of a batch. */
static double time_scrapes(const struct metrics *m, const struct scrape_case *c, bool direct,
			   double seconds, long *iters_out)
{
	double per[BATCHES];
	long iters;
	uint64_t t0, t1;
	char *text;
	size_t len;

	/* calibrate: one batch about seconds / BATCHES long */
	t0 = mono_ns();
	if (scrape_once(m, c, direct, &text, &len))
		return -1;
	free(text);
	t1 = mono_ns();
	iters = (long)(seconds / BATCHES * 1e9 / (double)(t1 - t0 + 1));
	if (iters < 3)
		iters = 3;
	for (int b = 0; b < BATCHES; b++) {
		t0 = mono_ns();
		for (long i = 0; i < iters; i++) {
			if (scrape_once(m, c, direct, &text, &len))
				return -1;
			free(text);
		}
		t1 = mono_ns();
		per[b] = (double)(t1 - t0) / 1e3 / (double)iters;
	}
	qsort(per, BATCHES, sizeof(per[0]), cmp_double);
	*iters_out = iters * BATCHES;
	return per[BATCHES / 2];
}

static int run_scrape(double seconds)
{
	static const struct scrape_case cases[] = {
	    {"empty registry, no bpfmesh_*", 0, 0, 0, 0, 0, 0},
	    {"60 histogram label sets (5 svc x 6 routes x 2 methods)", 5, 6, 2, 1, 0, 0},
	    {"bpfmesh_* of 20 services x 4 endpoints", 0, 0, 0, 0, 20, 4},
	    {"both of the above", 5, 6, 2, 1, 20, 4},
	    {"1,000 histogram label sets (10 x 25 x 2 x 2)", 10, 25, 2, 2, 0, 0},
	};

	printf("CASE\tHIST LABEL SETS\tSERIES\tBYTES\tSCRAPES\tUS/SCRAPE\tNS/SERIES\tDIRECT "
	       "US\tvs DIRECT\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct scrape_case *c = &cases[i];
		struct metrics *m = registry(c->hsvc, c->hroutes, c->hmethods, c->hcodes);
		struct metrics_stats st;
		size_t series, comments, len;
		long iters = 0, diters = 0;
		char *text, per[32];
		double us, dus;

		if (!m || scrape_once(m, c, false, &text, &len)) {
			fprintf(stderr, "metrics_cost: out of memory\n");
			return 1;
		}
		count_lines(text, &series, &comments);
		free(text);
		metrics_get_stats(m, &st);
		/* alternated, so that a noisy neighbour hits both */
		us = time_scrapes(m, c, false, seconds / 2, &iters);
		dus = time_scrapes(m, c, true, seconds / 2, &diters);
		if (us < 0 || dus < 0) {
			fprintf(stderr, "metrics_cost: scrape failed\n");
			return 1;
		}
		if (series)
			snprintf(per, sizeof(per), "%.0f", us * 1e3 / (double)series);
		else
			snprintf(per, sizeof(per), "-");
		printf("%s\t%u\t%zu\t%zu\t%ld\t%.1f\t%s\t%.1f\t%.1f\n", c->name, st.histograms,
		       series, len, iters, us, per, dus, us / dus);
		metrics_free(m);
	}
	return 0;
}

/* ---- rss --------------------------------------------------------------- */

struct memsnap {
	long rss_kb, hwm_kb;
	size_t heap; /* malloc'd and in use, mmapped chunks included */
};

static void snap(struct memsnap *s)
{
	struct mallinfo2 mi = mallinfo2();
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	s->rss_kb = s->hwm_kb = -1;
	s->heap = mi.uordblks + mi.hblkhd;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			s->rss_kb = atol(line + 6);
		else if (!strncmp(line, "VmHWM:", 6))
			s->hwm_kb = atol(line + 6);
	}
	fclose(f);
}

#define MIB(x) ((double)(x) / 1048576.0)
#define KMIB(kb) ((double)(kb) / 1024.0)

enum { RSS_SERVICES = 100, RSS_ROUTES = 20, RSS_ENDPOINTS = 10, STEP_S = 10 };

static void checkpoint(const struct metrics *m, const struct memsnap *m0, int minutes,
		       uint64_t feed_ns)
{
	struct metrics_stats st;
	struct memsnap s;
	uint64_t ovf = 0;

	metrics_get_stats(m, &st);
	snap(&s);
	for (int i = 0; i < METRICS_OVF__MAX; i++)
		ovf += st.overflow[i];
	printf("after %d min\t%.2f M\t%u / %u / %u\t%.1f MiB\t%.1f MiB\t%.1f MiB\t%.1f MiB\t%.1f "
	       "MiB\t%llu / %llu\t%.0f\n",
	       minutes, (double)st.spans / 1e6, st.histograms, st.routes, st.endpoints,
	       MIB(st.bytes), MIB(st.sketch_bytes), MIB(s.heap - m0->heap),
	       KMIB(s.rss_kb - m0->rss_kb), KMIB(s.hwm_kb), (unsigned long long)st.sketch_degraded,
	       (unsigned long long)ovf, (double)feed_ns / (double)st.spans);
}

static int run_rss(int minutes, int rate)
{
	static const char *const meth[] = {"GET", "POST"};
	const int steps = minutes * 60 / STEP_S;
	const int per_step = RSS_SERVICES * RSS_ROUTES * RSS_ENDPOINTS * 2 * rate;
	struct memsnap m0, m1, m2;
	struct metrics_stats st;
	struct metrics *m;
	uint64_t feed_ns = 0, t0, scrape_ns;
	struct span sp;
	size_t len, series, comments;
	char *text;

	snap(&m0);
	printf("WHEN\tSPANS\tHIST / ROUTE WIN / ENDPOINT WIN\tREGISTRY (OWN COUNT)\tOF WHICH "
	       "SKETCHES\tHEAP GREW\tVmRSS GREW\tVmHWM\tDEGRADED / OVERFLOW\tNS/SPAN\n");
	printf("before\t0\t0 / 0 / 0\t-\t-\t-\t-\t%.1f MiB\t-\t-\n", KMIB(m0.hwm_kb));
	m = metrics_new(NULL, 0); /* the agent's defaults (tracing.c) */
	if (!m)
		return 1;
	memset(&sp, 0, sizeof(sp));
	for (int t = 0; t < steps; t++) {
		uint64_t base = (uint64_t)t * STEP_S * SEC;
		int idx = 0;

		t0 = mono_ns();
		for (int s = 0; s < RSS_SERVICES; s++)
			for (int r = 0; r < RSS_ROUTES; r++)
				for (int e = 0; e < RSS_ENDPOINTS * rate; e++) {
					/* every (service, route, endpoint) with both methods
					 * and both codes within 20 steps (200 s), 1 in 10
					 * a 503 */
					const char *method = meth[(t + e) % 2];
					uint16_t code = (t / 2 + s + r + e) % 10 ? 200 : 503;
					int ep = e % RSS_ENDPOINTS;
					double median = 2e6 * (1 + r % 7) * (1 + s % 3);

					span_init(&sp, SPAN_KIND_CLIENT, s, r, method, code,
						  lognormal(median * 1.2));
					snprintf(sp.peer.address, sizeof(sp.peer.address),
						 "10.%d.%d.%d", 1 + s / 250, s % 250, ep + 1);
					sp.peer.port = 8080;
					metrics_record(m, &sp,
						       base + (uint64_t)idx++ * STEP_S * SEC /
								  per_step);
					span_init(&sp, SPAN_KIND_SERVER, s, r, method, code,
						  lognormal(median));
					sp.peer.address[0] = 0;
					metrics_record(m, &sp,
						       base + (uint64_t)idx++ * STEP_S * SEC /
								  per_step);
				}
		metrics_tick(m, base + STEP_S * SEC); /* the agent: every 5 s */
		feed_ns += mono_ns() - t0;
		if ((t + 1) * STEP_S == 60 || ((t + 1) * STEP_S == 300 && minutes > 5) ||
		    t + 1 == steps)
			checkpoint(m, &m0, (t + 1) * STEP_S / 60, feed_ns);
	}
	snap(&m1);

	/* one scrape of all of it, as GET /metrics would (histograms only) */
	t0 = mono_ns();
	{
		struct prom_writer *w = prom_writer_new();

		if (!w || prom_write_http_histograms(w, m) || prom_finish(w, &text, &len)) {
			fprintf(stderr, "metrics_cost: scrape failed\n");
			return 1;
		}
		prom_writer_free(w);
	}
	scrape_ns = mono_ns() - t0;
	count_lines(text, &series, &comments);
	free(text);
	snap(&m2);
	metrics_get_stats(m, &st);
	printf("@ rss_before_kb=%ld rss_after_kb=%ld hwm_after_feed_kb=%ld hwm_after_scrape_kb=%ld "
	       "rss_after_scrape_kb=%ld heap_grew=%zu registry_bytes=%zu sketch_bytes=%zu "
	       "histograms=%u routes=%u endpoints=%u spans=%llu degraded=%llu scrape_bytes=%zu "
	       "scrape_series=%zu scrape_ms=%.1f feed_s=%.2f\n",
	       m0.rss_kb, m1.rss_kb, m1.hwm_kb, m2.hwm_kb, m2.rss_kb, m1.heap - m0.heap, st.bytes,
	       st.sketch_bytes, st.histograms, st.routes, st.endpoints,
	       (unsigned long long)st.spans, (unsigned long long)st.sketch_degraded, len, series,
	       (double)scrape_ns / 1e6, (double)feed_ns / 1e9);
	metrics_free(m);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "scrape"))
		return run_scrape(argc >= 3 ? atof(argv[2]) : 1.0);
	if (argc >= 2 && !strcmp(argv[1], "rss"))
		return run_rss(argc >= 3 && atoi(argv[2]) > 0 ? atoi(argv[2]) : 16,
			       argc >= 4 && atoi(argv[3]) > 0 ? atoi(argv[3]) : 1);
	fprintf(stderr, "usage: metrics_cost scrape [SECONDS_PER_CASE] | rss [MINUTES]\n");
	return 2;
}
