/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.c: the request-metrics registry (metrics.h). Series live in
 * growing arrays per service; one string map from a series key to its index
 * finds them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "metrics/mx_cache.h"
#include "lib/strmap.h"

const double metrics_http_bounds[METRICS_HTTP_BOUNDS] = {
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
};

/* The same bounds in ns, so that a duration is compared exactly. */
static const uint64_t bounds_ns[METRICS_HTTP_BOUNDS] = {
    5000000ULL,	   10000000ULL,	  25000000ULL,	 50000000ULL,	 75000000ULL,
    100000000ULL,  250000000ULL,  500000000ULL,	 750000000ULL,	 1000000000ULL,
    2500000000ULL, 5000000000ULL, 7500000000ULL, 10000000000ULL,
};

#define METHOD_MAX 16
#define KEY_MAX (16 + 3 * SPAN_STR)
/* What a new series costs at most besides its sketch, for the budget. */
#define SERIES_COST 640

struct mx_hist {
	char *route;
	char method[METHOD_MAX];
	char status[4];
	uint8_t side;
	bool rpc; /* a gRPC series (metrics_hist.rpc) */
	uint64_t counts[METRICS_HTTP_BOUNDS + 1];
	double sum;
	uint64_t count;
};

struct mx_route {
	char *route;
	char method[METHOD_MAX];
	uint8_t side;
	bool rpc; /* a gRPC route: package.Service/Method */
	struct lat_window win;
};

struct mx_endpoint {
	char *address;
	uint16_t port;
	struct lat_window win;
};

struct mx_service {
	char *ns; /* "" for a process that no configuration names */
	char *name;
	/* the Kubernetes identity its spans share: a field on which two spans
	 * differed (two pods of a Deployment) is "" */
	struct span_k8s k8s;
	uint8_t k8s_seen; /* enum k8s_seen */
	struct lat_window side[METRICS_SIDES];
	struct mx_hist *hist;
	uint32_t nhist, caphist;
	struct mx_route *route;
	uint32_t nroute, caproute;
	struct mx_endpoint *ep;
	uint32_t nep, capep;
};

struct metrics {
	struct metrics_config cfg;
	struct strmap keys; /* series key -> index in its array */
	struct mx_service *svc;
	uint32_t nsvc, capsvc;
	struct lat_mem mem; /* the sketches */
	size_t bytes;	    /* the rest, but for the key table (keys.cap) */
	uint64_t start_ns;
	struct metrics_stats st; /* the counters; the rest is computed */
	struct mx_cache cache;	 /* series by a span's labels; not in the budget */
};

static size_t bytes_now(const struct metrics *m)
{
	return m->bytes + m->keys.cap * sizeof(struct strmap_entry) + m->mem.bytes;
}

static bool have_room(const struct metrics *m)
{
	return bytes_now(m) + SERIES_COST <= m->cfg.max_bytes;
}

struct metrics *metrics_new(const struct metrics_config *cfg, uint64_t now_ns)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (cfg)
		m->cfg = *cfg;
	if (!m->cfg.max_services)
		m->cfg.max_services = 512;
	if (!m->cfg.max_histograms)
		m->cfg.max_histograms = 500;
	if (!m->cfg.max_routes)
		m->cfg.max_routes = 200;
	if (!m->cfg.max_endpoints)
		m->cfg.max_endpoints = 128;
	if (!m->cfg.max_bytes)
		m->cfg.max_bytes = 32u << 20;
	m->start_ns = now_ns;
	/* the cache is left out of the budget (and out of the stats) */
	m->bytes = sizeof(*m) - sizeof(m->cache);
	/* without it (no memory) every span takes the long way */
	mx_cache_init(&m->cache);
	return m;
}

static void service_free(struct metrics *m, struct mx_service *s)
{
	uint32_t i;

	for (i = 0; i < METRICS_SIDES; i++)
		lat_window_free(&s->side[i], &m->mem);
	for (i = 0; i < s->nhist; i++)
		free(s->hist[i].route);
	for (i = 0; i < s->nroute; i++) {
		free(s->route[i].route);
		lat_window_free(&s->route[i].win, &m->mem);
	}
	for (i = 0; i < s->nep; i++) {
		free(s->ep[i].address);
		lat_window_free(&s->ep[i].win, &m->mem);
	}
	free(s->hist);
	free(s->route);
	free(s->ep);
	free(s->name);
	free(s->ns);
}

void metrics_free(struct metrics *m)
{
	uint32_t i;

	if (!m)
		return;
	for (i = 0; i < m->nsvc; i++)
		service_free(m, &m->svc[i]);
	free(m->svc);
	strmap_free(&m->keys);
	mx_cache_free(&m->cache);
	free(m);
}

/* Room for one more element in a growing array; the new room is zeroed. */
static int grow(struct metrics *m, void **arr, uint32_t *cap, uint32_t n, size_t elem)
{
	uint32_t nc = *cap ? *cap * 2 : 4;
	void *na;

	if (n < *cap)
		return 0;
	na = realloc(*arr, (size_t)nc * elem);
	if (!na)
		return -ENOMEM;
	memset((char *)na + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
	m->bytes += (size_t)(nc - *cap) * elem;
	*arr = na;
	*cap = nc;
	return 0;
}

static bool key_get(const struct metrics *m, const char *key, uint32_t *idx)
{
	return strmap_get(&m->keys, key, idx);
}

static int key_put(struct metrics *m, const char *key, uint32_t idx)
{
	int err = strmap_put(&m->keys, key, idx);

	if (!err)
		m->bytes += strlen(key) + 1;
	return err;
}

static char *dup_counted(struct metrics *m, const char *s)
{
	char *d = strdup(s);

	if (d)
		m->bytes += strlen(s) + 1;
	return d;
}

/* Decimal digits of v into buf (11 bytes); returns the start. */
static const char *u32_str(char *buf, uint32_t v)
{
	char *p = buf + 10;

	*p = 0;
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	return p;
}

/* A series key: the kind letter, the service index, then the parts, each
 * after a 0x1f. Only the last part can be free text (a route, a service
 * name); the others are numbers, known methods and textual addresses, so no
 * two series share a key. Built by hand: it runs three times per span, and
 * snprintf was a third of the registry's time. */
static void make_key(char *key, char kind, uint32_t si, const char *const *parts, int n)
{
	char num[11];
	const char *d = u32_str(num, si);
	size_t len = 0, l;
	int i;

	key[len++] = kind;
	l = strlen(d);
	memcpy(key + len, d, l);
	len += l;
	for (i = 0; i < n; i++) {
		l = strnlen(parts[i], KEY_MAX - len - 2);
		key[len++] = '\x1f';
		memcpy(key + len, parts[i], l);
		len += l;
	}
	key[len] = 0;
}

/* The decimal digits of v < 1000 (a status code) into buf[4]: snprintf
 * was one call per span. */
static void dec3(char buf[4], unsigned v)
{
	char num[11];
	const char *d = u32_str(num, v % 1000);

	memcpy(buf, d, strlen(d) + 1);
}

static const char *const side_str[METRICS_SIDES] = {"0", "1"};

/* A service's key: its namespace (an RFC 1123 label or "", never free
 * text), then its name. */
static void service_key(char *key, const char *ns, const char *name)
{
	const char *parts[] = {ns, name};

	make_key(key, 'S', 0, parts, 2);
}

/* Index of a service (namespace and name: web of prod and web of staging
 * are two), made on first sight; past the cap or the budget, the overflow
 * service (no namespace). -1 on ENOMEM. */
static int service_get(struct metrics *m, const char *ns, const char *name)
{
	char key[KEY_MAX];
	struct mx_service *s;
	uint32_t i;

	service_key(key, ns, name);
	if (key_get(m, key, &i))
		return (int)i;
	if (m->nsvc >= m->cfg.max_services || !have_room(m)) {
		m->st.overflow[METRICS_OVF_SERVICE]++;
		ns = "";
		name = METRICS_OTHER;
		service_key(key, ns, name);
		if (key_get(m, key, &i))
			return (int)i;
	}
	if (grow(m, (void **)&m->svc, &m->capsvc, m->nsvc, sizeof(*m->svc)))
		return -1;
	s = &m->svc[m->nsvc];
	s->name = dup_counted(m, name);
	s->ns = dup_counted(m, ns);
	if (!s->name || !s->ns || key_put(m, key, m->nsvc)) {
		free(s->name);
		free(s->ns);
		s->name = s->ns = NULL;
		return -1;
	}
	return (int)m->nsvc++;
}

static void hist_key(char *key, uint32_t si, int side, bool rpc, const char *method,
		     const char *status, const char *route)
{
	const char *parts[] = {side_str[side], rpc ? "rpc" : "http", method, status, route};

	make_key(key, 'H', si, parts, 5);
}

static struct mx_hist *hist_get(struct metrics *m, uint32_t si, int side, bool rpc,
				const char *method, const char *status, const char *route)
{
	struct mx_service *s = &m->svc[si];
	char key[KEY_MAX], cls[4] = "";
	struct mx_hist *h;
	uint32_t i;

	hist_key(key, si, side, rpc, method, status, route);
	if (key_get(m, key, &i))
		return &s->hist[i];
	if (s->nhist >= m->cfg.max_histograms || !have_room(m)) {
		/* the status class keeps error rates readable from the
		 * overflow series, and there are at most six of them */
		m->st.overflow[METRICS_OVF_HISTOGRAM]++;
		if (status[0])
			snprintf(cls, sizeof(cls), "%cxx", status[0]);
		method = METRICS_METHOD_OTHER;
		status = cls;
		route = METRICS_OTHER;
		hist_key(key, si, side, rpc, method, status, route);
		if (key_get(m, key, &i))
			return &s->hist[i];
	}
	if (grow(m, (void **)&s->hist, &s->caphist, s->nhist, sizeof(*s->hist)))
		return NULL;
	h = &s->hist[s->nhist];
	h->route = dup_counted(m, route);
	if (!h->route)
		return NULL;
	if (key_put(m, key, s->nhist)) {
		free(h->route);
		h->route = NULL;
		return NULL;
	}
	snprintf(h->method, sizeof(h->method), "%s", method);
	snprintf(h->status, sizeof(h->status), "%s", status);
	h->side = (uint8_t)side;
	h->rpc = rpc;
	s->nhist++;
	return h;
}

static void route_key(char *key, uint32_t si, int side, const char *method, const char *route)
{
	const char *parts[] = {side_str[side], method, route};

	make_key(key, 'R', si, parts, 3);
}

static void endpoint_key(char *key, uint32_t si, const char *address, uint16_t port)
{
	char num[11];
	const char *parts[] = {address, u32_str(num, port)};

	make_key(key, 'E', si, parts, 2);
}

static struct mx_route *route_get(struct metrics *m, uint32_t si, int side, bool rpc,
				  const char *method, const char *route)
{
	struct mx_service *s = &m->svc[si];
	char key[KEY_MAX];
	struct mx_route *r;
	uint32_t i;

	route_key(key, si, side, method, route);
	if (key_get(m, key, &i))
		return &s->route[i];
	if (s->nroute >= m->cfg.max_routes || !have_room(m)) {
		m->st.overflow[METRICS_OVF_ROUTE]++;
		method = METRICS_METHOD_OTHER;
		route = METRICS_OTHER;
		route_key(key, si, side, method, route);
		if (key_get(m, key, &i))
			return &s->route[i];
	}
	if (grow(m, (void **)&s->route, &s->caproute, s->nroute, sizeof(*s->route)))
		return NULL;
	r = &s->route[s->nroute];
	r->route = dup_counted(m, route);
	if (!r->route)
		return NULL;
	if (key_put(m, key, s->nroute)) {
		free(r->route);
		r->route = NULL;
		return NULL;
	}
	snprintf(r->method, sizeof(r->method), "%s", method);
	r->side = (uint8_t)side;
	r->rpc = rpc;
	s->nroute++;
	return r;
}

static struct mx_endpoint *endpoint_get(struct metrics *m, uint32_t si, const char *address,
					uint16_t port)
{
	struct mx_service *s = &m->svc[si];
	char key[KEY_MAX];
	struct mx_endpoint *e;
	uint32_t i;

	endpoint_key(key, si, address, port);
	if (key_get(m, key, &i))
		return &s->ep[i];
	if (s->nep >= m->cfg.max_endpoints || !have_room(m)) {
		m->st.overflow[METRICS_OVF_ENDPOINT]++;
		address = METRICS_OTHER;
		port = 0;
		endpoint_key(key, si, address, port);
		if (key_get(m, key, &i))
			return &s->ep[i];
	}
	if (grow(m, (void **)&s->ep, &s->capep, s->nep, sizeof(*s->ep)))
		return NULL;
	e = &s->ep[s->nep];
	e->address = dup_counted(m, address);
	if (!e->address)
		return NULL;
	if (key_put(m, key, s->nep)) {
		free(e->address);
		e->address = NULL;
		return NULL;
	}
	e->port = port;
	s->nep++;
	return e;
}

bool metrics_span_is_error(const struct span *sp)
{
	if (sp->status == SPAN_STATUS_ERROR)
		return true;
	if (sp->status_code >= 600)
		return false;
	if (sp->kind == SPAN_KIND_SERVER)
		return sp->status_code >= 500;
	return sp->status_code >= 400;
}

/* OTel: http.request.method is one of the known methods, or _OTHER, which
 * also keeps a client sending made-up methods from adding series. */
static const char *method_label(const char *method)
{
	static const char *const known[] = {
	    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(method, known[i]))
			return known[i];
	return METRICS_METHOD_OTHER;
}

/* strncmp(a, b, len) != 0, without the call when the first bytes decide
 * (outside Kubernetes every field is "": five calls a span were 3% of the
 * agent) */
static bool str_differ(const char *a, const char *b, size_t len)
{
	return a[0] != b[0] || (a[0] && strncmp(a, b, len));
}

static void field_merge(char *have, const char *seen, size_t len)
{
	if (str_differ(have, seen, len))
		have[0] = 0;
}

enum k8s_seen {
	K8S_UNSEEN = 0,
	K8S_SEEN = 1,
	/* every field "": no span can change that (a field two spans
	 * disagree on is ""), so spans are not read for it, which spares
	 * six cache misses on a span held 200 ms */
	K8S_NONE = 2,
};

static bool k8s_none(const struct span_k8s *h)
{
	return !h->pod_name[0] && !h->pod_uid[0] && !h->container_name[0] && !h->node_name[0] &&
	       !h->owner_kind[0] && !h->owner_name[0];
}

static void k8s_merge(struct mx_service *s, const struct span_k8s *k)
{
	struct span_k8s *h = &s->k8s;

	if (s->k8s_seen == K8S_NONE)
		return;
	if (s->k8s_seen == K8S_UNSEEN) {
		*h = *k;
		h->pod_name[sizeof(h->pod_name) - 1] = h->pod_uid[sizeof(h->pod_uid) - 1] = 0;
		h->container_name[sizeof(h->container_name) - 1] = 0;
		h->node_name[sizeof(h->node_name) - 1] = 0;
		h->owner_kind[sizeof(h->owner_kind) - 1] = 0;
		h->owner_name[sizeof(h->owner_name) - 1] = 0;
		s->k8s_seen = k8s_none(h) ? K8S_NONE : K8S_SEEN;
		return;
	}
	/* one pod and container, or none */
	if (str_differ(h->pod_uid, k->pod_uid, sizeof(h->pod_uid)) ||
	    str_differ(h->container_name, k->container_name, sizeof(h->container_name)))
		h->pod_uid[0] = h->pod_name[0] = h->container_name[0] = 0;
	field_merge(h->node_name, k->node_name, sizeof(h->node_name));
	if (str_differ(h->owner_kind, k->owner_kind, sizeof(h->owner_kind)) ||
	    str_differ(h->owner_name, k->owner_name, sizeof(h->owner_name)))
		h->owner_kind[0] = h->owner_name[0] = 0;
	if (k8s_none(h))
		s->k8s_seen = K8S_NONE;
}

static void hist_count(struct mx_hist *h, uint64_t dur)
{
	int b;

	for (b = 0; b < METRICS_HTTP_BOUNDS && dur > bounds_ns[b]; b++)
		;
	h->counts[b]++;
	h->count++;
	h->sum += (double)dur / 1e9;
}

static uint64_t overflows(const struct metrics *m)
{
	uint64_t n = 0;

	for (int i = 0; i < METRICS_OVF__MAX; i++)
		n += m->st.overflow[i];
	return n;
}

/* A span's labels, the way to its series: each part length-prefixed, so
 * that no two label sets share a key; 0 when too long to be cached. */
static size_t span_key(char *key, int side, const struct span *sp, const char *ns,
		       const char *service, const char *method, const char *status,
		       const struct span_endpoint *ep)
{
	char port[11];
	const char *parts[] = {side_str[side],
			       sp->rpc_grpc ? "r" : "h",
			       ns,
			       service,
			       method,
			       status,
			       sp->route,
			       ep ? ep->address : "",
			       ep ? u32_str(port, ep->port) : ""};

	return mx_cache_key(key, parts, (int)(sizeof(parts) / sizeof(parts[0])));
}

void metrics_record(struct metrics *m, const struct span *sp, uint64_t now_ns)
{
	uint64_t dur =
	    sp->end_unix_ns > sp->start_unix_ns ? sp->end_unix_ns - sp->start_unix_ns : 0;
	const char *service = sp->service_name[0] ? sp->service_name : "unknown";
	const char *ns = sp->service_namespace;
	const char *method = method_label(sp->method);
	const struct span_endpoint *ep = NULL;
	char status[4] = "", key[MX_CACHE_KEY_MAX];
	struct mx_endpoint *e = NULL;
	struct mx_cache_val v;
	struct mx_service *s;
	struct mx_hist *h;
	struct mx_route *r;
	uint64_t hash, ovf;
	size_t klen;
	bool err;
	int side, si;

	if (sp->kind == SPAN_KIND_SERVER)
		side = METRICS_SERVER;
	else if (sp->kind == SPAN_KIND_CLIENT)
		side = METRICS_CLIENT;
	else {
		m->st.ignored++;
		return;
	}
	err = metrics_span_is_error(sp);
	m->st.spans++;
	m->st.errors += err;
	/* gRPC: rpc.server.duration / rpc.client.duration per service and
	 * method (the route), by gRPC status code */
	if (sp->rpc_grpc) {
		if (sp->has_grpc_status)
			dec3(status, sp->grpc_status_code);
	} else if (sp->status_code >= 100 && sp->status_code <= 599) {
		dec3(status, sp->status_code);
	}
	/* the sketches may use what the series leave of the budget */
	m->mem.limit = m->cfg.max_bytes > bytes_now(m) - m->mem.bytes
			   ? m->cfg.max_bytes - (bytes_now(m) - m->mem.bytes)
			   : 1;
	if (side == METRICS_CLIENT) {
		/* the peer is where the connection really went, after the
		 * load balancer; server.address may be the service's address */
		ep = sp->peer.address[0] ? &sp->peer : &sp->server;
		if (!ep->address[0])
			ep = NULL;
	}
	klen = span_key(key, side, sp, ns, service, method, status, ep);
	hash = mx_cache_hash(key, klen);
	if (mx_cache_get(&m->cache, key, klen, hash, &v)) {
		int b = lat_bucket_of(dur); /* one log() for the three windows */

		s = &m->svc[v.svc];
		k8s_merge(s, &sp->k8s);
		lat_window_record_bucket(&s->side[side], &m->mem, now_ns, dur, b, err);
		hist_count(&s->hist[v.hist], dur);
		lat_window_record_bucket(&s->route[v.route].win, &m->mem, now_ns, dur, b, err);
		if (v.ep >= 0)
			lat_window_record_bucket(&s->ep[v.ep].win, &m->mem, now_ns, dur, b, err);
		return;
	}

	/* the long way: series found, or made, in this order (each takes
	 * from the budget what the ones before left) */
	ovf = overflows(m);
	si = service_get(m, ns, service);
	if (si < 0)
		return;
	s = &m->svc[si];
	k8s_merge(s, &sp->k8s);
	lat_window_record(&s->side[side], &m->mem, now_ns, dur, err);
	h = hist_get(m, (uint32_t)si, side, sp->rpc_grpc, sp->rpc_grpc ? "" : method, status,
		     sp->route);
	if (h)
		hist_count(h, dur);
	r = route_get(m, (uint32_t)si, side, sp->rpc_grpc, method, sp->route);
	if (r)
		lat_window_record(&r->win, &m->mem, now_ns, dur, err);
	if (ep) {
		e = endpoint_get(m, (uint32_t)si, ep->address, ep->port);
		if (e)
			lat_window_record(&e->win, &m->mem, now_ns, dur, err);
	}
	/* only series found or made as asked: an overflow is counted at
	 * every span that meets it */
	if (overflows(m) == ovf && h && r && (!ep || e)) {
		v = (struct mx_cache_val){si, (int32_t)(h - s->hist), (int32_t)(r - s->route),
					  e ? (int32_t)(e - s->ep) : -1};
		mx_cache_put(&m->cache, key, klen, hash, &v);
	}
}

void metrics_tick(struct metrics *m, uint64_t now_ns)
{
	uint32_t i, j;

	for (i = 0; i < m->nsvc; i++) {
		struct mx_service *s = &m->svc[i];

		for (j = 0; j < METRICS_SIDES; j++)
			lat_window_expire(&s->side[j], &m->mem, now_ns);
		for (j = 0; j < s->nroute; j++)
			lat_window_expire(&s->route[j].win, &m->mem, now_ns);
		for (j = 0; j < s->nep; j++)
			lat_window_expire(&s->ep[j].win, &m->mem, now_ns);
	}
}

void metrics_get_stats(const struct metrics *m, struct metrics_stats *out)
{
	uint32_t i;

	*out = m->st;
	out->services = m->nsvc;
	for (i = 0; i < m->nsvc; i++) {
		out->histograms += m->svc[i].nhist;
		out->routes += m->svc[i].nroute;
		out->endpoints += m->svc[i].nep;
	}
	out->bytes = bytes_now(m);
	out->sketch_bytes = m->mem.bytes;
	out->sketch_degraded = m->mem.degraded;
}

const char *metrics_overflow_name(enum metrics_overflow kind)
{
	static const char *const names[METRICS_OVF__MAX] = {"service", "histogram", "route",
							    "endpoint"};

	return kind < METRICS_OVF__MAX ? names[kind] : "unknown";
}

const char *metrics_side_name(enum metrics_side side)
{
	return side == METRICS_SERVER ? "server" : "client";
}

static int cmp_service(const void *a, const void *b)
{
	const struct mx_service *x = *(const struct mx_service *const *)a;
	const struct mx_service *y = *(const struct mx_service *const *)b;
	int c = strcmp(x->ns, y->ns);

	return c ? c : strcmp(x->name, y->name);
}

/* The services in (namespace, name) order, or NULL (none, or ENOMEM). */
static const struct mx_service **sorted_services(const struct metrics *m)
{
	const struct mx_service **v;
	uint32_t i;

	if (!m->nsvc)
		return NULL;
	v = malloc(m->nsvc * sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < m->nsvc; i++)
		v[i] = &m->svc[i];
	qsort(v, m->nsvc, sizeof(*v), cmp_service);
	return v;
}

void metrics_foreach_histogram(const struct metrics *m, metrics_hist_fn fn, void *ctx)
{
	const struct mx_service **v = sorted_services(m);
	uint32_t i, j;

	if (!v)
		return;
	for (i = 0; i < m->nsvc; i++) {
		for (j = 0; j < v[i]->nhist; j++) {
			const struct mx_hist *h = &v[i]->hist[j];
			struct metrics_hist view = {
			    .side = h->side,
			    .rpc = h->rpc,
			    .service = v[i]->name,
			    .service_ns = v[i]->ns,
			    .k8s = &v[i]->k8s,
			    .method = h->method,
			    .status_code = h->status,
			    .route = h->route,
			    .counts = h->counts,
			    .sum = h->sum,
			    .count = h->count,
			};

			fn(&view, ctx);
		}
	}
	free(v);
}

size_t metrics_foreach_service(const struct metrics *m, metrics_service_fn fn, void *ctx)
{
	const struct mx_service **v = sorted_services(m);
	uint32_t i;

	if (!v)
		return 0;
	for (i = 0; i < m->nsvc; i++)
		fn(v[i]->ns, v[i]->name, ctx);
	free(v);
	return m->nsvc;
}

static const struct mx_service *service_find(const struct metrics *m, const char *ns,
					     const char *name)
{
	char key[KEY_MAX];
	uint32_t i;

	service_key(key, ns, name);
	return key_get(m, key, &i) ? &m->svc[i] : NULL;
}

/* A window's summary; acc is scratch space. */
static void summarize(const struct metrics *m, const struct lat_window *w, uint32_t window_s,
		      uint64_t now_ns, struct lat_sketch *acc, struct lat_summary *out)
{
	uint64_t start;

	lat_sketch_init(acc);
	start = lat_window_collect(w, now_ns, window_s, acc);
	lat_summarize(acc, start, m->start_ns, now_ns, out);
}

int metrics_service_summary(const struct metrics *m, const char *ns, const char *service,
			    enum metrics_side side, uint32_t window_s, uint64_t now_ns,
			    struct lat_summary *out)
{
	const struct mx_service *s = service_find(m, ns, service);
	struct lat_sketch acc;

	if (!s || side >= METRICS_SIDES)
		return -ENOENT;
	summarize(m, &s->side[side], window_s, now_ns, &acc, out);
	return 0;
}

int metrics_service_sketch(const struct metrics *m, const char *ns, const char *service,
			   enum metrics_side side, uint32_t window_s, uint64_t now_ns,
			   struct lat_sketch *acc, struct lat_summary *out)
{
	const struct mx_service *s = service_find(m, ns, service);

	if (!s || side >= METRICS_SIDES)
		return -ENOENT;
	summarize(m, &s->side[side], window_s, now_ns, acc, out);
	return 0;
}

int metrics_route_sketch(const struct metrics *m, const char *ns, const char *service,
			 enum metrics_side side, const char *route, const char *method,
			 uint32_t window_s, uint64_t now_ns, struct lat_sketch *acc,
			 struct lat_summary *out)
{
	const struct mx_service *s = service_find(m, ns, service);
	uint64_t start = 0;
	bool found = false;
	uint32_t i;

	if (!s)
		return -ENOENT;
	/* the methods of a route are separate windows: merged here */
	lat_sketch_init(acc);
	for (i = 0; i < s->nroute; i++) {
		const struct mx_route *r = &s->route[i];

		if (r->side != side || strcmp(r->route, route) ||
		    (method && strcmp(r->method, method)))
			continue;
		start = lat_window_collect(&r->win, now_ns, window_s, acc);
		found = true;
	}
	if (!found)
		return -ENOENT;
	lat_summarize(acc, start, m->start_ns, now_ns, out);
	return 0;
}

int metrics_route_summary(const struct metrics *m, const char *ns, const char *service,
			  enum metrics_side side, const char *route, const char *method,
			  uint32_t window_s, uint64_t now_ns, struct lat_summary *out)
{
	struct lat_sketch acc;

	return metrics_route_sketch(m, ns, service, side, route, method, window_s, now_ns, &acc,
				    out);
}

int metrics_foreach_rpc(const struct metrics *m, const char *ns, const char *service,
			metrics_rpc_fn fn, void *ctx)
{
	const struct mx_service *s = service_find(m, ns, service);
	uint32_t i, j;

	if (!s)
		return -ENOENT;
	for (i = 0; i < s->nroute; i++) {
		const struct mx_route *r = &s->route[i];

		if (!r->rpc)
			continue;
		/* a route of several methods: once, where first seen */
		for (j = 0; j < i; j++)
			if (s->route[j].rpc && s->route[j].side == r->side &&
			    !strcmp(s->route[j].route, r->route))
				break;
		if (j == i)
			fn((enum metrics_side)r->side, r->route, ctx);
	}
	return 0;
}

int metrics_foreach_route(const struct metrics *m, const char *ns, const char *service,
			  uint32_t window_s, uint64_t now_ns, metrics_route_fn fn, void *ctx)
{
	const struct mx_service *s = service_find(m, ns, service);
	struct lat_sketch acc;
	struct lat_summary sum;
	uint32_t i;

	if (!s)
		return -ENOENT;
	for (i = 0; i < s->nroute; i++) {
		const struct mx_route *r = &s->route[i];

		summarize(m, &r->win, window_s, now_ns, &acc, &sum);
		fn(r->side, r->route, r->method, r->rpc, &sum, ctx);
	}
	return 0;
}

int metrics_foreach_endpoint(const struct metrics *m, const char *ns, const char *service,
			     uint32_t window_s, uint64_t now_ns, metrics_endpoint_fn fn, void *ctx)
{
	const struct mx_service *s = service_find(m, ns, service);
	struct lat_sketch acc;
	struct lat_summary sum;
	uint32_t i;

	if (!s)
		return -ENOENT;
	for (i = 0; i < s->nep; i++) {
		summarize(m, &s->ep[i].win, window_s, now_ns, &acc, &sum);
		fn(s->ep[i].address, s->ep[i].port, &sum, ctx);
	}
	return 0;
}
