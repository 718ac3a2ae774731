/* SPDX-License-Identifier: Apache-2.0 */
/* test_config_k8s.c: config_load_sources(): Kubernetes objects in files and
 * as in-memory sources (what the API server hands over), `kind: List`,
 * server-filled metadata, Services and EndpointSlices made services, Pods
 * made workloads, AccessPolicy entries, precedence between sources, and
 * in-memory objects left out, to a fixed point, with the exact messages.
 *
 * Each test gets its own directory under /tmp. "@" in an expected message
 * stands for it.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bpf/lb.h"
#include "config/config.h"

#ifndef DATA_DIR
#define DATA_DIR "tests/unit/data"
#endif

#define HDR "apiVersion: bpfmesh.io/v1alpha1\n"

#include "tmpdir.h"

/* The documents, joined by "---", as dir/name; the list ends with NULL. */
static void put_docs(const char *dir, const char *name, ...)
{
	char *text = NULL, *more;
	const char *doc;
	va_list ap;

	va_start(ap, name);
	while ((doc = va_arg(ap, const char *))) {
		assert_int_not_equal(
		    asprintf(&more, "%s%s%s", text ? text : "", text ? "---\n" : "", doc), -1);
		free(text);
		text = more;
	}
	va_end(ap);
	put(dir, name, text ? text : "");
	free(text);
}

/* The same objects as a file: the in-memory sources joined into dir/name. */
static void put_sources(const char *dir, const char *name, const struct cfg_source *mem, int n)
{
	char *text = NULL, *more;

	for (int i = 0; i < n; i++) {
		assert_int_not_equal(asprintf(&more, "%s%s%.*s", text ? text : "",
					      text ? "---\n" : "", (int)mem[i].len, mem[i].text),
				     -1);
		free(text);
		text = more;
	}
	put(dir, name, text ? text : "");
	free(text);
}

/* A whole file's text, for an in-memory source. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* ---- loading and expectations ---- */

#define SRC(n, t)                                                                                  \
	{                                                                                          \
		.name = (n), .text = (t), .len = strlen(t)                                         \
	}

struct loaded {
	int rc;
	struct mesh_config *cfg;
	struct cfg_errors errs, warns;
};

static void unload(struct loaded *l)
{
	config_free(l->cfg);
	cfg_errors_free(&l->errs);
	cfg_errors_free(&l->warns);
}

/* ---- the cache: every load here is checked against a cached one ---- */

static void dump_origin(FILE *f, const struct cfg_origin *o)
{
	fprintf(f, " @%s:%d:%d%s%s", o->file, o->line, o->column, o->memory ? " mem" : "",
		o->discovered ? " disc" : "");
}

static void dump_meta(FILE *f, const char *kind, const struct cfg_meta *m)
{
	fprintf(f, "\n%s %s/%s", kind, m->ns, m->name);
	dump_origin(f, &m->origin);
}

static void dump_addr(FILE *f, const struct cfg_addr *a)
{
	char t[INET6_ADDRSTRLEN] = "?";

	inet_ntop(a->family, a->addr, t, sizeof(t));
	fprintf(f, " %s", t);
}

/* What a load gave, as text: equal texts, equal loads (for what the cache
 * could change). */
static char *dump_loaded(const struct loaded *l)
{
	const struct mesh_config *c = l->cfg;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int i, j;

	assert_non_null(f);
	fprintf(f, "rc %d", l->rc);
	for (i = 0; i < l->errs.n; i++)
		fprintf(f, "\nerr %s", l->errs.msgs[i]);
	for (i = 0; i < l->warns.n; i++)
		fprintf(f, "\nwarn %s", l->warns.msgs[i]);
	for (i = 0; c && i < c->n_services; i++) {
		const struct cfg_service *s = &c->services[i];

		dump_meta(f, "svc", &s->meta);
		fprintf(f, " policy %d", s->policy);
		for (j = 0; j < s->n_addrs; j++)
			dump_addr(f, &s->addrs[j]);
		for (j = 0; j < s->n_ports; j++)
			fprintf(f, " %s:%u>%u/%u", s->ports[j].name, s->ports[j].port,
				s->ports[j].target_port, s->ports[j].protocol);
		for (j = 0; j < s->n_endpoints; j++) {
			dump_addr(f, &s->endpoints[j].addr);
			fprintf(f, ":%u*%u", s->endpoints[j].port, s->endpoints[j].weight);
		}
	}
	for (i = 0; c && i < c->n_policies; i++) {
		dump_meta(f, "tp", &c->policies[i].meta);
		fprintf(f, " %s %d", c->policies[i].service, c->policies[i].service_idx);
	}
	for (i = 0; c && i < c->n_workloads; i++) {
		const struct cfg_workload *w = &c->workloads[i];

		dump_meta(f, "wl", &w->meta);
		fprintf(f, " %s %d %s %s %s/%s", w->service, w->service_idx, w->pod_uid,
			w->node_name, w->owner_kind, w->owner_name);
		for (j = 0; j < w->n_k8s_services; j++)
			fprintf(f, " k8s:%s", w->k8s_services[j]);
		for (j = 0; j < w->n_addrs; j++)
			dump_addr(f, &w->addrs[j]);
		for (j = 0; j < w->n_containers; j++)
			fprintf(f, " c:%s=%s", w->containers[j].name, w->containers[j].id);
	}
	for (i = 0; c && i < c->n_access; i++) {
		dump_meta(f, "ap", &c->access[i].meta);
		fprintf(f, " %s %d", c->access[i].service, c->access[i].action);
		for (j = 0; j < c->access[i].n_from; j++)
			fprintf(f, " %s=%d", c->access[i].from[j], c->access[i].from_idx[j]);
	}
	if (c && c->telemetry)
		dump_meta(f, "telemetry", &c->telemetry->meta);
	for (i = 0; c && i < c->n_namespaces; i++)
		fprintf(f, "\nns %s", c->namespaces[i]);
	for (i = 0; c && i < c->n_files; i++)
		fprintf(f, "\nfile %s", c->files[i]);
	for (i = 0; c && i < c->n_skipped; i++) {
		fprintf(f, "\nskipped %s %s/%s", c->skipped[i].kind, c->skipped[i].ns,
			c->skipped[i].name);
		dump_origin(f, &c->skipped[i].origin);
		fprintf(f, " %s", c->skipped[i].reason);
	}
	fclose(f);
	return text;
}

static void expect_same_load(const char *what, const char *want, const struct loaded *got)
{
	char *text = dump_loaded(got);

	if (strcmp(want, text)) {
		print_error("uncached load:\n%s\n\n%s:\n%s\n", want, what, text);
		fail_msg("the cache changed what the load gave");
	}
	free(text);
}

static bool distinct_names(const struct cfg_source *mem, int n)
{
	for (int i = 0; i < n; i++)
		for (int j = 0; j < i; j++)
			if (!strcmp(mem[i].name, mem[j].name))
				return false;
	return true;
}

/* config_load_sources(); then the same through a cache, cold and warm: the
 * same result, every message and skip reason included. */
static void load(struct loaded *l, const char *path, const struct cfg_source *mem, int n)
{
	struct cfg_cache *cache = cfg_cache_new();
	struct cfg_cache_stats st;
	struct loaded c;
	char *want;

	memset(l, 0, sizeof(*l));
	l->cfg = (struct mesh_config *)l; /* must be overwritten */
	l->rc = config_load_sources(path, mem, n, &l->cfg, &l->errs, &l->warns);
	want = dump_loaded(l);
	assert_non_null(cache);
	for (int round = 0; round < 2; round++) {
		memset(&c, 0, sizeof(c));
		c.rc = config_load_cached(path, mem, n, cache, &c.cfg, &c.errs, &c.warns);
		expect_same_load(round ? "warm cache" : "cold cache", want, &c);
		unload(&c);
		cfg_cache_stats(cache, &st);
		assert_true(st.entries <= (size_t)n);
		/* warm: every kept object came from the cache (sources of one
		 * name take turns in its entry) */
		if (round && distinct_names(mem, n))
			assert_true(st.hits >= st.entries);
	}
	free(want);
	cfg_cache_free(cache);
}

/* "@" in s becomes dir. */
static void expand(char *dst, size_t n, const char *s, const char *dir)
{
	size_t o = 0;

	for (; *s && o + 1 < n; s++) {
		if (*s == '@') {
			o += (size_t)snprintf(dst + o, n - o, "%s", dir ? dir : "");
			if (o >= n)
				o = n - 1;
		} else {
			dst[o++] = *s;
		}
	}
	dst[o] = '\0';
}

static void expect_msgs(const char *what, const struct cfg_errors *got, const char *dir,
			const char *const *want, int n)
{
	char exp[8192];
	bool ok = got->n == n;
	int i;

	for (i = 0; ok && i < n; i++) {
		expand(exp, sizeof(exp), want[i], dir);
		ok = !strcmp(exp, got->msgs[i]);
	}
	if (ok)
		return;
	print_error("expected %d %s:\n", n, what);
	for (i = 0; i < n; i++) {
		expand(exp, sizeof(exp), want[i], dir);
		print_error("  %s\n", exp);
	}
	print_error("got %d:\n", got->n);
	for (i = 0; i < got->n; i++)
		print_error("  %s\n", got->msgs[i]);
	fail();
}

#define N_ARGS(...) (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
#define NONE (const char *const[]){NULL}, 0
#define MSGS(...) (const char *const[]){__VA_ARGS__}, N_ARGS(__VA_ARGS__)

/* A loaded set that must have applied, with exactly the warnings given. */
static void expect_ok(struct loaded *l, const char *dir, const char *const *warns, int n)
{
	if (l->rc || !l->cfg || l->errs.n) {
		for (int i = 0; i < l->errs.n; i++)
			print_error("unexpected error: %s\n", l->errs.msgs[i]);
		for (int i = 0; i < l->warns.n; i++)
			print_error("warning: %s\n", l->warns.msgs[i]);
		fail_msg("expected the set to apply, got %d", l->rc);
	}
	expect_msgs("warnings", &l->warns, dir, warns, n);
}

/* A set that must have been refused with exactly these errors. */
static void expect_refused(struct loaded *l, const char *dir, const char *const *errs, int n)
{
	if (l->rc != -EINVAL || l->cfg) {
		for (int i = 0; i < l->errs.n; i++)
			print_error("error: %s\n", l->errs.msgs[i]);
		fail_msg("expected -EINVAL and no config, got %d and %s", l->rc,
			 l->cfg ? "a config" : "none");
	}
	expect_msgs("errors", &l->errs, dir, errs, n);
}

static void assert_addr(const struct cfg_addr *a, const char *text)
{
	uint8_t want[16] = {0};
	int family = strchr(text, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(family, text, want), 1);
	assert_int_equal(a->family, family);
	assert_memory_equal(a->addr, want, 16);
}

static const struct cfg_service *service(const struct mesh_config *cfg, const char *ns,
					 const char *name)
{
	int i = config_find_service(cfg, ns, name);

	if (i < 0)
		fail_msg("no service %s/%s", ns, name);
	return &cfg->services[i];
}

static const struct cfg_workload *workload(const struct mesh_config *cfg, const char *ns,
					   const char *name)
{
	for (int i = 0; i < cfg->n_workloads; i++)
		if (!strcmp(cfg->workloads[i].meta.ns, ns) &&
		    !strcmp(cfg->workloads[i].meta.name, name))
			return &cfg->workloads[i];
	fail_msg("no workload %s/%s", ns, name);
	return NULL;
}

/* The skipped entries as "Kind ns/name: reason" lines, in order. */
static void expect_skipped(const struct mesh_config *cfg, const char *dir, const char *const *want,
			   int n)
{
	struct cfg_errors got = {0};
	char line[8192];

	got.msgs = calloc((size_t)cfg->n_skipped + 1, sizeof(char *));
	assert_non_null(got.msgs);
	for (int i = 0; i < cfg->n_skipped; i++) {
		const struct cfg_skipped *s = &cfg->skipped[i];

		snprintf(line, sizeof(line), "%s %s%s%s (%s:%d:%d): %s", s->kind, s->ns,
			 s->ns[0] ? "/" : "", s->name, s->origin.file, s->origin.line,
			 s->origin.column, s->reason);
		got.msgs[got.n++] = strdup(line);
	}
	expect_msgs("skipped objects", &got, dir, want, n);
	cfg_errors_free(&got);
}

/* The endpoints of a service as "addr" or "addr:port" strings, in order. */
static void expect_endpoints(const struct cfg_service *s, const char *const *want, int n)
{
	struct cfg_errors got = {0};
	char text[INET6_ADDRSTRLEN], line[128];

	got.msgs = calloc((size_t)s->n_endpoints + 1, sizeof(char *));
	assert_non_null(got.msgs);
	for (int i = 0; i < s->n_endpoints; i++) {
		const struct cfg_endpoint *e = &s->endpoints[i];

		inet_ntop(e->addr.family, e->addr.addr, text, sizeof(text));
		if (e->port)
			snprintf(line, sizeof(line), "%s:%u", text, e->port);
		else
			snprintf(line, sizeof(line), "%s", text);
		assert_int_equal(e->weight, 1);
		got.msgs[got.n++] = strdup(line);
	}
	expect_msgs("endpoints", &got, NULL, want, n);
	cfg_errors_free(&got);
}

/* ---- the numbers the kernel holds ---- */

static void test_kernel_limits(void **state)
{
	(void)state;
	/* config.h cannot include bpf/lb.h (agent/config includes only lib/) */
	assert_int_equal(CFG_MAX_ENDPOINTS, LB_WEIGHT_TABLE_MAX);
	assert_int_equal(CFG_MAX_ENDPOINTS, LB_MAX_EPS_PER_SVC);
	assert_true(CFG_MAX_ENDPOINTS <= LB_MAGLEV_M);
	assert_true(LB_LC_WINDOW <= LB_MAX_EPS_PER_SVC);
}

/* ---- kubectl's output, in a file ---- */

#define KUBECTL_FILE DATA_DIR "/kubectl-get-svc-endpointslices.yaml"

/* `kubectl get svc,endpointslices -o yaml` as `bpfmesh validate` reads it. */
static void test_kubectl_file(void **state)
{
	const struct cfg_service *s;
	struct cfg_errors errs = {0};
	struct mesh_config *cfg;
	struct loaded l;

	(void)state;
	load(&l, KUBECTL_FILE, NULL, 0);
	expect_ok(&l, NULL, NONE);
	assert_int_equal(l.cfg->n_services, 1);
	s = service(l.cfg, "shop", "web");
	assert_true(s->meta.origin.discovered);
	assert_false(s->meta.origin.memory);
	assert_string_equal(s->meta.origin.file, KUBECTL_FILE);
	assert_int_equal(s->meta.origin.line, 10);
	assert_int_equal(s->meta.origin.column, 3);
	assert_int_equal(s->n_addrs, 2);
	assert_addr(&s->addrs[0], "10.96.120.15");
	assert_addr(&s->addrs[1], "fd00:10:96::7c2a");
	assert_int_equal(s->n_ports, 2);
	assert_string_equal(s->ports[0].name, "http");
	assert_int_equal(s->ports[0].port, 80);
	assert_int_equal(s->ports[0].target_port, 8080); /* targetPort: http, from the slices */
	assert_int_equal(s->ports[0].protocol, IPPROTO_TCP);
	assert_string_equal(s->ports[1].name, "metrics");
	assert_int_equal(s->ports[1].target_port, 9090);
	assert_int_equal(s->policy, CFG_LB_LEAST_CONN); /* the annotation */
	/* 10.244.2.9 is terminating and its family has ready endpoints */
	expect_endpoints(s, MSGS("10.244.1.17", "10.244.3.4", "fd00:10:244:1::11"));
	expect_skipped(l.cfg, NULL,
		       MSGS("Service shop/db (" KUBECTL_FILE ":49:3): headless (clusterIP None): "
			    "clients connect to the pods themselves",
			    "Service shop/legacy (" KUBECTL_FILE ":78:3): type ExternalName: a DNS "
			    "name, no cluster IP to balance"));
	assert_int_equal(l.cfg->n_files, 1);
	unload(&l);

	/* config_load(), as `bpfmesh validate FILE` calls it */
	assert_int_equal(config_load(KUBECTL_FILE, &cfg, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(cfg->n_services, 1);
	config_free(cfg);
}

/* ---- the API's objects, in memory (JSON) ---- */

static const char svc_web_json[] =
    "{\n"
    "  \"kind\": \"Service\",\n"
    "  \"apiVersion\": \"v1\",\n"
    "  \"metadata\": {\n"
    "    \"name\": \"web\",\n"
    "    \"namespace\": \"shop\",\n"
    "    \"uid\": \"5d1f6a0e-8d3b-4a55-9d5e-2f0b7a6c1e11\",\n"
    "    \"resourceVersion\": \"18342\",\n"
    "    \"creationTimestamp\": \"2024-05-02T09:14:27Z\",\n"
    "    \"labels\": {\"app.kubernetes.io/name\": \"web\"},\n"
    "    \"annotations\": {\"bpfmesh.io/lb-policy\": \"roundRobin\"},\n"
    "    \"managedFields\": [{\"manager\": \"kubectl\", \"operation\": \"Apply\", "
    "\"apiVersion\": \"v1\", \"time\": \"2024-05-02T09:14:27Z\", \"fieldsType\": \"FieldsV1\", "
    "\"fieldsV1\": {\"f:spec\": {\"f:ports\": "
    "{\"k:{\\\"port\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\": "
    "{\".\": {}}}}}}]\n"
    "  },\n"
    "  \"spec\": {\n"
    "    \"ports\": [{\"name\": \"http\", \"protocol\": \"TCP\", \"port\": 80, \"targetPort\": "
    "\"http\"}],\n"
    "    \"selector\": {\"app.kubernetes.io/name\": \"web\"},\n"
    "    \"clusterIP\": \"10.96.120.15\",\n"
    "    \"clusterIPs\": [\"10.96.120.15\"],\n"
    "    \"type\": \"ClusterIP\",\n"
    "    \"sessionAffinity\": \"None\",\n"
    "    \"ipFamilies\": [\"IPv4\"],\n"
    "    \"ipFamilyPolicy\": \"SingleStack\",\n"
    "    \"internalTrafficPolicy\": \"Cluster\"\n"
    "  },\n"
    "  \"status\": {\"loadBalancer\": {}}\n"
    "}\n";

/* As the API server writes them: one line. The second slice is a rollout's
 * new pods, whose named port "http" is 8081. */
static const char slice_a_json[] =
    "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\",\"metadata\":{\"name\":"
    "\"web-8kq2d\",\"generateName\":\"web-\",\"namespace\":\"shop\",\"uid\":\"2c4e6a8b-0d1f-4a3c-"
    "8e5b-7d9f1b3c5e7a\",\"resourceVersion\":\"18920\",\"generation\":6,\"creationTimestamp\":"
    "\"2024-05-02T09:14:27Z\",\"labels\":{\"endpointslice.kubernetes.io/managed-by\":"
    "\"endpointslice-controller.k8s.io\",\"kubernetes.io/service-name\":\"web\"},\"annotations\":"
    "{\"endpoints.kubernetes.io/last-change-trigger-time\":\"2024-05-02T09:20:03Z\"},"
    "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"name\":\"web\",\"uid\":"
    "\"5d1f6a0e-8d3b-4a55-9d5e-2f0b7a6c1e11\",\"controller\":true,\"blockOwnerDeletion\":true}]},"
    "\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.244.1.17\"],\"conditions\":{"
    "\"ready\":true,\"serving\":true,\"terminating\":false},\"targetRef\":{\"kind\":\"Pod\","
    "\"namespace\":\"shop\",\"name\":\"web-7c9f8d6b5d-x2kqp\",\"uid\":\"3f0a7c1e\"},\"nodeName\":"
    "\"kind-worker\"},{\"addresses\":[\"10.244.2.9\"],\"conditions\":{\"ready\":true,\"serving\":"
    "true,\"terminating\":false},\"nodeName\":\"kind-worker2\"}],\"ports\":[{\"name\":\"http\","
    "\"protocol\":\"TCP\",\"port\":8080}]}";

static const char slice_b_json[] =
    "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\",\"metadata\":{\"name\":"
    "\"web-r7v5x\",\"namespace\":\"shop\",\"labels\":{\"kubernetes.io/service-name\":\"web\"}},"
    "\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.244.3.4\"],\"conditions\":{"
    "\"ready\":true}}],\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8081}]}";

static void test_api_json(void **state)
{
	const struct cfg_source mem[] = {
	    SRC("k8s:EndpointSlice/shop/web-r7v5x", slice_b_json),
	    SRC("k8s:Service/shop/web", svc_web_json),
	    SRC("k8s:EndpointSlice/shop/web-8kq2d", slice_a_json),
	};
	const struct cfg_service *s;
	struct loaded l;

	(void)state;
	load(&l, NULL, mem, 3);
	expect_ok(&l, NULL, NONE);
	assert_int_equal(l.cfg->n_files, 0);
	s = service(l.cfg, "shop", "web");
	assert_true(s->meta.origin.discovered);
	assert_true(s->meta.origin.memory);
	assert_string_equal(s->meta.origin.file, "k8s:Service/shop/web");
	assert_int_equal(s->meta.origin.line, 1);
	assert_int_equal(s->policy, CFG_LB_ROUND_ROBIN);
	/* one port: each slice's number for "http", the most used one as targetPort */
	assert_int_equal(s->n_ports, 1);
	assert_int_equal(s->ports[0].target_port, 8080);
	expect_endpoints(s, MSGS("10.244.1.17", "10.244.2.9", "10.244.3.4:8081"));
	assert_int_equal(l.cfg->n_skipped, 0);
	unload(&l);
}

/* An error names the in-memory source like a file; the object is left out,
 * the rest applies. */
static void test_api_error_names_source(void **state)
{
	static const char bad[] = "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{"
				  "\"name\":\"bad\",\"namespace\":"
				  "\"shop\"},\"spec\":{\"clusterIP\":\"10.96.0.3\",\"ports\":[{"
				  "\"port\":0,\"targetPort\":80}]}}";
	const struct cfg_source mem[] = {
	    SRC("k8s:Service/shop/web", svc_web_json),
	    SRC("k8s:Service/shop/bad", bad),
	};
	char want[256], skipped[512];
	struct loaded l;
	int col = (int)(strstr(bad, "\"port\":0") - bad) + 8;

	(void)state;
	load(&l, NULL, mem, 2);
	snprintf(want, sizeof(want),
		 "k8s:Service/shop/bad:1:%d: spec.ports[0].port: 0 is out of range 1-65535", col);
	expect_ok(&l, NULL, MSGS(want));
	assert_int_equal(l.cfg->n_services, 1);
	snprintf(skipped, sizeof(skipped),
		 "Service shop/bad (k8s:Service/shop/bad:1:1): invalid: spec.ports[0].port: 0 is "
		 "out of range 1-65535");
	expect_skipped(l.cfg, NULL, MSGS(skipped));
	assert_true(l.cfg->skipped[0].origin.memory);
	unload(&l);
}

/* ---- kind: List ---- */

static const char list_text[] = "apiVersion: v1\n"
				"kind: List\n"
				"items:\n"
				"- apiVersion: v1\n"
				"  kind: Service\n"
				"  metadata: {name: a, namespace: prod}\n"
				"  spec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}\n"
				"- apiVersion: v1\n"
				"  kind: Service\n"
				"  metadata: {name: b, namespace: prod}\n"
				"  spec: {clusterIP: 10.96.0.2, ports: [{port: 0}]}\n"
				"- apiVersion: apps/v1\n"
				"  kind: Deployment\n"
				"  metadata: {name: a, namespace: prod}\n"
				"  spec: {replicas: 2}\n"
				"- apiVersion: v1\n"
				"  kind: List\n"
				"  items: []\n"
				"- " HDR "  kind: Workload\n"
				"  metadata: {name: w, namespace: prod}\n"
				"  spec: {service: a, cgroup: prod/w}\n"
				"metadata: {resourceVersion: \"\"}\n";

/* Item by item: in a file, an item's error refuses the set... */
static void test_list_file(void **state)
{
	const char *dir = *state;
	struct loaded l;

	put(dir, "c.yaml", list_text);
	load(&l, dir, NULL, 0);
	expect_refused(
	    &l, dir,
	    MSGS("@/c.yaml:11:47: items[1].spec.ports[0].port: 0 is out of range 1-65535",
		 "@/c.yaml:16:3: items[3].kind: a List inside a List is not read"));
	unload(&l);

	put(dir, "c.yaml",
	    "apiVersion: v2\nkind: List\nitems: {a: 1}\nbogus: 1\n---\nkind: List\n");
	load(&l, dir, NULL, 0);
	expect_refused(&l, dir,
		       MSGS("@/c.yaml:1:13: apiVersion: must be \"v1\" for a List",
			    "@/c.yaml:3:8: items: expected a sequence",
			    "@/c.yaml:4:1: bogus: unknown field",
			    "@/c.yaml:6:1: items: required field is missing",
			    "@/c.yaml:6:1: apiVersion: must be \"v1\" for a List"));
	unload(&l);
}

/* ...from the API, the item is left out and the others apply. */
static void test_list_memory(void **state)
{
	const struct cfg_source mem[] = {SRC("k8s:list", list_text)};
	struct loaded l;

	(void)state;
	load(&l, NULL, mem, 1);
	expect_ok(&l, NULL,
		  MSGS("k8s:list:11:47: items[1].spec.ports[0].port: 0 is out of range 1-65535",
		       "k8s:list:16:3: items[3].kind: a List inside a List is not read"));
	assert_int_equal(l.cfg->n_services, 1);
	assert_string_equal(l.cfg->services[0].meta.name, "a");
	assert_int_equal(l.cfg->n_workloads, 1);
	assert_int_equal(l.cfg->workloads[0].service_idx, 0);
	expect_skipped(
	    l.cfg, NULL,
	    MSGS("Deployment prod/a (k8s:list:12:3): apps/v1 Deployment is not read by "
		 "bpfmesh",
		 "Service prod/b (k8s:list:8:3): invalid: items[1].spec.ports[0].port: 0 "
		 "is out of range 1-65535",
		 "List  (k8s:list:16:3): invalid: items[3].kind: a List inside a List is "
		 "not read"));
	unload(&l);
}

/* `kubectl get pods -A -o yaml` of a big cluster is large, not costly: the
 * bound on a document's walk counts what aliases add to it, not its nodes. */
static void test_big_list(void **state)
{
	const char *dir = *state;
	char *pod = slurp(DATA_DIR "/kubectl-get-pod.yaml"), *text, *item, *p;
	size_t cap = 600 * (strlen(pod) + 600), o = 0;
	struct loaded l;
	int i;

	/* the pod as a List item: every line indented by two, the first "- " */
	text = malloc(cap);
	assert_non_null(text);
	o += (size_t)snprintf(text + o, cap - o, "apiVersion: v1\nkind: List\nitems:\n");
	for (i = 0; i < 500; i++) {
		bool first = true;

		item = strdup(pod);
		assert_non_null(item);
		for (p = strtok(item, "\n"); p; p = strtok(NULL, "\n")) {
			if (p[0] == '#')
				continue;
			if (!strncmp(p, "  name: web-7c9f8d6b5d-x2kqp", 28))
				o += (size_t)snprintf(text + o, cap - o, "    name: pod-%d\n", i);
			else
				o += (size_t)snprintf(text + o, cap - o, "%s%s\n",
						      first ? "- " : "  ", p);
			first = false;
		}
		free(item);
	}
	put(dir, "pods.yaml", text);
	load(&l, dir, NULL, 0);
	expect_ok(&l, dir, NONE);
	assert_int_equal(l.cfg->n_workloads, 500);
	assert_string_equal(l.cfg->workloads[499].meta.name, "pod-499");
	assert_string_equal(l.cfg->workloads[499].owner_name, "web");
	unload(&l);
	free(text);
	free(pod);
}

/* ---- EndpointSlices ---- */

#define K8S_SVC(ns, name, spec)                                                                    \
	"apiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: " ns                 \
	"}\nspec: " spec "\n"
#define SLICE(ns, name, svc, type, endpoints, ports)                                               \
	"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: " name           \
	"\n  namespace: " ns "\n  labels: {kubernetes.io/service-name: " svc                       \
	"}\naddressType: " type "\nendpoints: " endpoints "\nports: " ports "\n"

/* Ready endpoints; serving and terminating ones only where a family has no
 * ready one, as kube-proxy does. Conditions not given mean ready and serving,
 * not terminating. */
static void test_slice_conditions(void **state)
{
	const struct cfg_source mem[] = {
	    SRC("k8s:Service/t/s",
		K8S_SVC("t", "s",
			"{clusterIPs: [10.96.1.1, \"fd00:96::1\"], ports: [{name: http, port: 80, "
			"targetPort: 8080}]}")),
	    SRC("k8s:EndpointSlice/t/s-v4",
		SLICE("t", "s-v4", "s", "IPv4",
		      "[{addresses: [10.0.0.1]},"
		      " {addresses: [10.0.0.2], conditions: {ready: true}},"
		      " {addresses: [10.0.0.3], conditions: {ready: false, serving: true, "
		      "terminating: true}},"
		      " {addresses: [10.0.0.4], conditions: {ready: false, serving: false, "
		      "terminating: false}}]",
		      "[{name: http, port: 8080, protocol: TCP}]")),
	    SRC("k8s:EndpointSlice/t/s-v6",
		SLICE("t", "s-v6", "s", "IPv6",
		      "[{addresses: [\"fd00::1\"], conditions: {ready: false, serving: true, "
		      "terminating: true}},"
		      " {addresses: [\"fd00::2\"], conditions: {ready: false, serving: false, "
		      "terminating: true}},"
		      " {addresses: [\"fd00::3\"], conditions: {ready: false, serving: true}},"
		      " {addresses: [\"fd00::4\"], conditions: {ready: false}}]",
		      "[{name: http, port: 8080}]")),
	};
	struct loaded l;

	for (int in_file = 0; in_file < 2; in_file++) {
		if (in_file)
			put_sources(*state, "c.yaml", mem, 3);
		load(&l, in_file ? *state : NULL, mem, in_file ? 0 : 3);
		expect_ok(&l, NULL, NONE);
		expect_endpoints(service(l.cfg, "t", "s"), MSGS("10.0.0.1", "10.0.0.2", "fd00::1"));
		assert_int_equal(service(l.cfg, "t", "s")->meta.origin.memory, !in_file);
		unload(&l);
	}
}

/* A single-port service takes each slice's number for a named port; a
 * multi-port one the most used, leaving out a slice that differs. An
 * endpoint in two slices counts once. */
static void test_named_target_ports(void **state)
{
	const struct cfg_source mem[] = {
	    SRC("k8s:Service/t/m",
		K8S_SVC("t", "m",
			"{clusterIP: 10.96.2.1, ports: [{name: http, port: 80, targetPort: http}, "
			"{name: grpc, port: 81, targetPort: grpc}]}")),
	    SRC("k8s:EndpointSlice/t/m-1",
		SLICE("t", "m-1", "m", "IPv4", "[{addresses: [10.1.0.2]}, {addresses: [10.1.0.1]}]",
		      "[{name: grpc, port: 9090}, {name: http, port: 8080}]")),
	    SRC("k8s:EndpointSlice/t/m-2",
		SLICE("t", "m-2", "m", "IPv4", "[{addresses: [10.1.0.3]}, {addresses: [10.1.0.2]}]",
		      "[{name: http, port: 8080}, {name: grpc, port: 9090}]")),
	    SRC("k8s:EndpointSlice/t/m-3",
		SLICE("t", "m-3", "m", "IPv4", "[{addresses: [10.1.0.4]}]",
		      "[{name: http, port: 8081}, {name: grpc, port: 9090}]")),
	    SRC("k8s:Service/t/one",
		K8S_SVC("t", "one",
			"{clusterIP: 10.96.2.2, ports: [{port: 80, targetPort: 8080}]}")),
	    SRC("k8s:EndpointSlice/t/one-1",
		SLICE("t", "one-1", "one", "IPv4", "[{addresses: [10.1.1.1]}]",
		      "[{name: \"\", port: 8080, protocol: TCP}]")),
	    SRC("k8s:EndpointSlice/t/one-2",
		SLICE("t", "one-2", "one", "IPv4", "[{addresses: [10.1.1.2]}]", "[]")),
	};
	const struct cfg_service *s;
	struct loaded l;

	load(&l, NULL, mem, 7);
	expect_ok(&l, NULL, NONE);
	s = service(l.cfg, "t", "m");
	assert_int_equal(s->ports[0].target_port, 8080);
	assert_int_equal(s->ports[1].target_port, 9090);
	expect_endpoints(s, MSGS("10.1.0.1", "10.1.0.2", "10.1.0.3"));
	s = service(l.cfg, "t", "one");
	assert_int_equal(s->ports[0].target_port, 8080);
	expect_endpoints(s, MSGS("10.1.1.1"));
	expect_skipped(
	    l.cfg, NULL,
	    MSGS("EndpointSlice t/m-3 (k8s:EndpointSlice/t/m-3:1:1): its ports are not "
		 "the other EndpointSlices' (a multi-port service has one targetPort per "
		 "port): its endpoints are left out",
		 "EndpointSlice t/one-2 (k8s:EndpointSlice/t/one-2:1:1): no port \"\" "
		 "(TCP): its endpoints are left out"));
	unload(&l);

	/* the same objects in a file */
	put_sources(*state, "c.yaml", mem, 7);
	load(&l, *state, NULL, 0);
	expect_ok(&l, NULL, NONE);
	expect_endpoints(service(l.cfg, "t", "m"), MSGS("10.1.0.1", "10.1.0.2", "10.1.0.3"));
	expect_endpoints(service(l.cfg, "t", "one"), MSGS("10.1.1.1"));
	expect_skipped(
	    l.cfg, *state,
	    MSGS("EndpointSlice t/m-3 (@/c.yaml:26:1): its ports are not the other "
		 "EndpointSlices' (a multi-port service has one targetPort per port): its "
		 "endpoints are left out",
		 "EndpointSlice t/one-2 (@/c.yaml:51:1): no port \"\" (TCP): its "
		 "endpoints are left out"));
	unload(&l);
}

/* n endpoints 10.x.y.z as a flow sequence. */
static char *endpoint_list(int first, int n)
{
	size_t cap = (size_t)n * 40 + 8, o = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	o += (size_t)snprintf(s + o, cap - o, "[");
	for (int i = first; i < first + n; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s{addresses: [10.%d.%d.%d]}",
				      i > first ? ", " : "", 10 + i / 62500, i / 250 % 250,
				      i % 250 + 1);
	snprintf(s + o, cap - o, "]");
	return s;
}

/* More than 256 endpoints per service, over several slices, for every
 * policy; beyond 4096 per family the Service is left out (from the API) or
 * the set refused (in a file). */
static void test_many_endpoints(void **state)
{
	const char *dir = *state;
	char *texts[6], *eps, *files;
	struct cfg_source mem[6];
	struct loaded l;
	int i;

	for (i = 0; i < 5; i++) {
		eps = endpoint_list(i * 1000, 1000);
		assert_int_not_equal(
		    asprintf(&texts[i + 1],
			     "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
			     "metadata: {name: big-%d, namespace: t, labels: "
			     "{kubernetes.io/service-name: big}}\n"
			     "addressType: IPv4\nports: [{name: \"\", port: 8080}]\n"
			     "endpoints: %s\n",
			     i, eps),
		    -1);
		free(eps);
		mem[i + 1] = (struct cfg_source)SRC("k8s:EndpointSlice", texts[i + 1]);
	}
	texts[0] = strdup(K8S_SVC("t", "big", "{clusterIP: 10.96.3.1, ports: [{port: 80}]}"));
	mem[0] = (struct cfg_source)SRC("k8s:Service/t/big", texts[0]);
	load(&l, NULL, mem, 4);
	expect_ok(&l, NULL, NONE);
	assert_int_equal(service(l.cfg, "t", "big")->n_endpoints, 3000);
	assert_int_equal(service(l.cfg, "t", "big")->ports[0].target_port, 8080);
	unload(&l);

	/* leastConnections too: it compares a window of the list (bpf/lb.h) */
	free(texts[0]);
	texts[0] = strdup("apiVersion: v1\nkind: Service\nmetadata:\n  name: big\n  namespace: t\n"
			  "  annotations: {bpfmesh.io/lb-policy: leastConnections}\n"
			  "spec: {clusterIP: 10.96.3.1, ports: [{port: 80}]}\n");
	mem[0] = (struct cfg_source)SRC("k8s:Service/t/big", texts[0]);
	load(&l, NULL, mem, 4);
	expect_ok(&l, NULL, NONE);
	assert_int_equal(service(l.cfg, "t", "big")->n_endpoints, 3000);
	assert_int_equal(service(l.cfg, "t", "big")->policy, CFG_LB_LEAST_CONN);
	unload(&l);

	/* 5000: the Service is left out */
	load(&l, NULL, mem, 6);
	expect_ok(&l, NULL,
		  MSGS("k8s:Service/t/big:7:7: 5000 IPv4 endpoints of its EndpointSlices exceed "
		       "the limit of 4096 per service and address family"));
	assert_int_equal(l.cfg->n_services, 0);
	unload(&l);

	/* the same in a file refuses the set */
	put(dir, "svc.yaml", texts[0]);
	assert_int_not_equal(asprintf(&files, "%s---\n%s---\n%s---\n%s---\n%s", texts[1], texts[2],
				      texts[3], texts[4], texts[5]),
			     -1);
	put(dir, "slices.yaml", files);
	free(files);
	load(&l, dir, NULL, 0);
	expect_refused(&l, dir,
		       MSGS("@/svc.yaml:7:7: 5000 IPv4 endpoints of its EndpointSlices exceed the "
			    "limit of 4096 per service and address family"));
	unload(&l);

	/* a slice holds at most 1000 (the API server's limit) */
	free(texts[1]);
	eps = endpoint_list(0, 1001);
	assert_int_not_equal(asprintf(&texts[1],
				      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
				      "metadata: {name: big-0, namespace: t, labels: "
				      "{kubernetes.io/service-name: big}}\n"
				      "addressType: IPv4\nendpoints: %s\n",
				      eps),
			     -1);
	free(eps);
	put(dir, "slices.yaml", texts[1]);
	load(&l, dir, NULL, 0);
	expect_refused(
	    &l, dir,
	    MSGS("@/slices.yaml:5:12: endpoints: 1001 endpoints exceed the limit of 1000 "
		 "per EndpointSlice"));
	unload(&l);
	for (i = 0; i < 6; i++)
		free(texts[i]);
}

/* ---- what is skipped, and why ---- */

static void test_skipped(void **state)
{
	const char *dir = *state;
	struct loaded l;

	put_docs(
	    dir, "c.yaml",
	    K8S_SVC("t", "mixed",
		    "{clusterIP: 10.96.4.1, ports: [{port: 80}, {name: sig, port: 5000, "
		    "protocol: SCTP}]}"),
	    K8S_SVC("t", "sctp", "{clusterIP: 10.96.4.2, ports: [{port: 5000, protocol: SCTP}]}"),
	    K8S_SVC("t", "none", "{clusterIP: 10.96.4.3}"),
	    K8S_SVC("t", "pending", "{type: LoadBalancer, ports: [{port: 80}]}"),
	    SLICE("t", "ext-1", "ext", "FQDN", "[{addresses: [db.example.com]}]", "[{port: 5432}]"),
	    "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
	    "metadata: {name: custom, namespace: t}\n"
	    "addressType: IPv4\nendpoints: [{addresses: [10.5.0.1]}]\n",
	    SLICE("t", "gone-1", "gone", "IPv4", "[{addresses: [10.5.0.2]}]", "[{port: 80}]"),
	    "apiVersion: v1\nkind: Pod\nmetadata: {name: job-1, namespace: t}\n"
	    "status: {phase: Succeeded}\n",
	    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: t}\n"
	    "data: {a: b}\n",
	    NULL);
	load(&l, dir, NULL, 0);
	expect_ok(&l, dir, NONE);
	assert_int_equal(l.cfg->n_services, 1);
	assert_int_equal(service(l.cfg, "t", "mixed")->n_ports, 1);
	assert_int_equal(l.cfg->n_workloads, 0);
	expect_skipped(
	    l.cfg, dir,
	    /* as read, then as discovered */
	    MSGS("EndpointSlice t/ext-1 (@/c.yaml:21:1): addressType FQDN: bpfmesh "
		 "balances to IP addresses only",
		 "EndpointSlice t/custom (@/c.yaml:31:1): no kubernetes.io/service-name "
		 "label: it belongs to no Service",
		 "ConfigMap t/cm (@/c.yaml:52:1): v1 ConfigMap is not read by bpfmesh",
		 "Service t/mixed (@/c.yaml:1:1): port sig 5000/SCTP: bpfmesh balances "
		 "TCP and UDP only",
		 "Service t/sctp (@/c.yaml:6:1): port 5000/SCTP: bpfmesh balances TCP and "
		 "UDP only",
		 "Service t/sctp (@/c.yaml:6:1): no TCP or UDP port",
		 "Service t/none (@/c.yaml:11:1): no ports",
		 "Service t/pending (@/c.yaml:16:1): no cluster IP",
		 "EndpointSlice t/gone-1 (@/c.yaml:37:1): its Service \"t/gone\" is not "
		 "among the objects read",
		 "Pod t/job-1 (@/c.yaml:47:1): phase Succeeded: the pod has stopped"));
	unload(&l);
}

/* sessionAffinity: ClientIP is maglev; the annotation chooses any policy. */
static void test_lb_policy(void **state)
{
	const char *dir = *state;
	struct loaded l;

	put_docs(dir, "c.yaml",
		 K8S_SVC("t", "sticky",
			 "{clusterIP: 10.96.5.1, ports: [{port: 80}], sessionAffinity: ClientIP}"),
		 "apiVersion: v1\nkind: Service\nmetadata:\n  name: rr\n  namespace: t\n"
		 "  annotations: {bpfmesh.io/lb-policy: roundRobin}\n"
		 "spec: {clusterIP: 10.96.5.2, ports: [{port: 80}], sessionAffinity: ClientIP}\n",
		 K8S_SVC("t", "plain", "{clusterIP: 10.96.5.3, ports: [{port: 80}]}"), NULL);
	load(&l, dir, NULL, 0);
	expect_ok(&l, dir, NONE);
	assert_int_equal(service(l.cfg, "t", "sticky")->policy, CFG_LB_MAGLEV);
	assert_int_equal(service(l.cfg, "t", "rr")->policy, CFG_LB_ROUND_ROBIN);
	assert_int_equal(service(l.cfg, "t", "plain")->policy, CFG_LB_RANDOM);
	unload(&l);

	put(dir, "c.yaml",
	    "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  namespace: t\n"
	    "  annotations: {bpfmesh.io/lb-policy: fastest}\n"
	    "spec: {clusterIP: 10.96.5.2, ports: [{port: 80}], sessionAffinity: Sometimes}\n");
	load(&l, dir, NULL, 0);
	expect_refused(
	    &l, dir,
	    MSGS("@/c.yaml:6:39: metadata.annotations.bpfmesh.io/lb-policy: \"fastest\" "
		 "is not one of random, roundRobin, leastConnections, maglev",
		 "@/c.yaml:7:68: spec.sessionAffinity: \"Sometimes\" is not one of None, "
		 "ClientIP"));
	unload(&l);
}

/* ---- pods ---- */

#define POD(ns, name, labels, owners, status)                                                      \
	"apiVersion: v1\nkind: Pod\nmetadata:\n  name: " name "\n  namespace: " ns                 \
	"\n  uid: uid-" name "\n  labels: " labels "\n  ownerReferences: " owners                  \
	"\nspec: {nodeName: node-1, containers: [{name: c, image: x}]}\nstatus: " status "\n"
#define OWNER(kind, name) "{apiVersion: apps/v1, kind: " kind ", name: " name ", controller: true}"
#define RUNNING "{phase: Running}"

static void expect_pod_owners(const struct mesh_config *cfg);

/* A pod's service name: app.kubernetes.io/name, else app, else its owner
 * (a ReplicaSet resolved to its Deployment), else its own name. */
static void test_pod_owners(void **state)
{
	const struct cfg_source mem[] = {
	    SRC("k8s:ReplicaSet/shop/web-5d4f8",
		"apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-5d4f8\n"
		"  namespace: shop\n  ownerReferences: [" OWNER(
		    "Deployment", "web") "]\n"
					 "spec: {replicas: 3}\nstatus: {replicas: 3}\n"),
	    SRC("k8s:Pod/shop/web-5d4f8-abcde",
		POD("shop", "web-5d4f8-abcde",
		    "{app.kubernetes.io/name: shop-web, app: web, pod-template-hash: 5d4f8}",
		    "[" OWNER("ReplicaSet", "web-5d4f8") "]",
		    "{phase: Running, podIP: 10.244.1.5, podIPs: [{ip: 10.244.1.5}, {ip: "
		    "\"fd00::5\"}], containerStatuses: [{name: web, containerID: "
		    "\"containerd://0123abcd\", ready: true, restartCount: 0, image: web:1}, "
		    "{name: "
		    "sidecar, ready: false}]}")),
	    SRC("k8s:Pod/shop/api-6b7c9d-xyz12",
		POD("shop", "api-6b7c9d-xyz12", "{pod-template-hash: 6b7c9d}",
		    "[" OWNER("ReplicaSet", "api-6b7c9d") "]", "{phase: Pending}")),
	    SRC("k8s:Pod/shop/odd-rs-q1", POD("shop", "odd-rs-q1", "{pod-template-hash: zzz}",
					      "[" OWNER("ReplicaSet", "odd-rs") "]", RUNNING)),
	    SRC("k8s:Pod/shop/db-0",
		POD("shop", "db-0", "{app: db}", "[" OWNER("StatefulSet", "db") "]", RUNNING)),
	    SRC("k8s:Pod/kube-system/agent-x7",
		POD("kube-system", "agent-x7", "{}",
		    "[{apiVersion: v1, kind: Node, name: n1}, " OWNER("DaemonSet",
								      "node-agent") "]",
		    "{phase: Running, podIP: 10.244.1.9}")),
	    SRC("k8s:Pod/shop/bare", POD("shop", "bare", "{app: \"\"}", "[]", RUNNING)),
	};
	struct loaded l;

	for (int in_file = 0; in_file < 2; in_file++) {
		if (in_file)
			put_sources(*state, "c.yaml", mem, 7);
		load(&l, in_file ? *state : NULL, mem, in_file ? 0 : 7);
		expect_ok(&l, NULL, NONE);
		expect_pod_owners(l.cfg);
		unload(&l);
	}
}

static void expect_pod_owners(const struct mesh_config *cfg)
{
	const struct cfg_workload *w;

	assert_int_equal(cfg->n_workloads, 6);

	w = workload(cfg, "shop", "web-5d4f8-abcde");
	assert_true(w->meta.origin.discovered);
	assert_string_equal(w->service, "shop-web");
	assert_int_equal(w->service_idx, -1);
	assert_string_equal(w->cgroup, "");
	assert_string_equal(w->pod_name, "web-5d4f8-abcde");
	assert_string_equal(w->pod_uid, "uid-web-5d4f8-abcde");
	assert_string_equal(w->node_name, "node-1");
	assert_string_equal(w->owner_kind, "Deployment");
	assert_string_equal(w->owner_name, "web");
	assert_int_equal(w->n_containers, 2);
	assert_string_equal(w->containers[0].name, "web");
	assert_string_equal(w->containers[0].id, "containerd://0123abcd");
	assert_string_equal(w->containers[1].name, "sidecar");
	assert_string_equal(w->containers[1].id, "");
	assert_int_equal(w->n_addrs, 2);
	assert_addr(&w->addrs[0], "10.244.1.5");
	assert_addr(&w->addrs[1], "fd00::5");

	/* no ReplicaSet among the sources: the pod-template-hash cut off */
	w = workload(cfg, "shop", "api-6b7c9d-xyz12");
	assert_string_equal(w->owner_kind, "Deployment");
	assert_string_equal(w->owner_name, "api");
	assert_string_equal(w->service, "api");
	assert_int_equal(w->n_addrs, 0);
	w = workload(cfg, "shop", "odd-rs-q1");
	assert_string_equal(w->owner_kind, "ReplicaSet");
	assert_string_equal(w->service, "odd-rs");
	w = workload(cfg, "shop", "db-0");
	assert_string_equal(w->owner_kind, "StatefulSet");
	assert_string_equal(w->owner_name, "db");
	assert_string_equal(w->service, "db");
	/* the controller among the owners */
	w = workload(cfg, "kube-system", "agent-x7");
	assert_string_equal(w->owner_kind, "DaemonSet");
	assert_string_equal(w->service, "node-agent");
	assert_int_equal(w->n_addrs, 1);
	assert_addr(&w->addrs[0], "10.244.1.9");
	/* an empty app label is no name */
	w = workload(cfg, "shop", "bare");
	assert_string_equal(w->owner_kind, "");
	assert_string_equal(w->service, "bare");
}

/* `kubectl get pod -o yaml`, as a file and as the API's object. */
static void test_kubectl_pod(void **state)
{
	const char *path = DATA_DIR "/kubectl-get-pod.yaml";
	char *text = slurp(path);
	const struct cfg_source mem[] = {SRC("k8s:Pod/shop/web-7c9f8d6b5d-x2kqp", text)};
	const struct cfg_workload *w;
	struct loaded l;

	(void)state;
	for (int in_file = 0; in_file < 2; in_file++) {
		load(&l, in_file ? path : NULL, mem, in_file ? 0 : 1);
		expect_ok(&l, NULL, NONE);
		assert_int_equal(l.cfg->n_workloads, 1);
		w = workload(l.cfg, "shop", "web-7c9f8d6b5d-x2kqp");
		assert_int_equal(w->meta.origin.memory, !in_file);
		assert_true(w->meta.origin.discovered);
		assert_string_equal(w->meta.origin.file,
				    in_file ? path : "k8s:Pod/shop/web-7c9f8d6b5d-x2kqp");
		assert_int_equal(w->meta.origin.line, 6);
		assert_string_equal(w->service, "web");
		assert_string_equal(w->pod_name, "web-7c9f8d6b5d-x2kqp");
		assert_string_equal(w->pod_uid, "3f0a7c1e-0e8e-4f55-b0a1-6b8b1c9d2e70");
		assert_string_equal(w->node_name, "kind-worker");
		assert_string_equal(w->owner_kind, "Deployment");
		assert_string_equal(w->owner_name, "web");
		assert_string_equal(w->cgroup, "");
		assert_int_equal(w->n_containers, 2);
		assert_string_equal(w->containers[0].name, "log-shipper");
		assert_string_equal(
		    w->containers[0].id,
		    "containerd://"
		    "6c3f0e9a1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6");
		assert_string_equal(w->containers[1].name, "web");
		assert_int_equal(w->n_addrs, 1);
		assert_addr(&w->addrs[0], "10.244.1.17");
		assert_int_equal(w->n_k8s_services, 0);
		unload(&l);
	}
	free(text);
}

/* A pod carries the names of the Services of its namespace that select it. */
static void test_pod_selectors(void **state)
{
	const char *dir = *state;
	const struct cfg_workload *w;
	struct loaded l;

	put_docs(dir, "c.yaml", POD("shop", "canary-1", "{app: web, track: canary}", "[]", RUNNING),
		 POD("shop", "stable-1", "{app: web, track: stable}", "[]", RUNNING),
		 K8S_SVC("shop", "web",
			 "{clusterIP: 10.96.6.1, ports: [{port: 80}], selector: {app: web}}"),
		 K8S_SVC("shop", "web-canary",
			 "{clusterIP: 10.96.6.2, ports: [{port: 80}], selector: {app: web, track: "
			 "canary}}"),
		 K8S_SVC("shop", "headless", "{clusterIP: None, selector: {track: canary}}"),
		 K8S_SVC("shop", "everything", "{clusterIP: 10.96.6.3, ports: [{port: 80}]}"),
		 K8S_SVC("other", "web",
			 "{clusterIP: 10.96.6.4, ports: [{port: 80}], selector: {app: web}}"),
		 NULL);
	load(&l, dir, NULL, 0);
	expect_ok(&l, dir, NONE);
	w = workload(l.cfg, "shop", "canary-1");
	assert_string_equal(w->service, "web");
	assert_int_equal(w->service_idx, config_find_service(l.cfg, "shop", "web"));
	assert_int_equal(w->n_k8s_services, 3);
	assert_string_equal(w->k8s_services[0], "headless");
	assert_string_equal(w->k8s_services[1], "web");
	assert_string_equal(w->k8s_services[2], "web-canary");
	w = workload(l.cfg, "shop", "stable-1");
	assert_int_equal(w->n_k8s_services, 1);
	assert_string_equal(w->k8s_services[0], "web");
	unload(&l);
}

/* ---- precedence between sources ---- */

#define BM_SVC(ns, name, addr)                                                                     \
	HDR "kind: Service\nmetadata: {name: " name ", namespace: " ns "}\n"                       \
	    "spec: {addresses: [\"" addr "\"], ports: [{port: 80}]}\n"

/* One load through the cache against the same load without it. */
static void load_cached_checked(const char *what, struct cfg_cache *cache, const char *dir,
				const struct cfg_source *mem, int n, struct cfg_cache_stats *st)
{
	struct loaded plain, c = {0};
	char *want;

	load(&plain, dir, mem, n);
	want = dump_loaded(&plain);
	c.rc = config_load_cached(dir, mem, n, cache, &c.cfg, &c.errs, &c.warns);
	expect_same_load(what, want, &c);
	cfg_cache_stats(cache, st);
	free(want);
	unload(&c);
	unload(&plain);
}

/* The cache across loads whose sources move, change and go: an object read
 * from the cache in another place gives the messages of its new place
 * (precedence warnings, an address two Services claim), a changed one is
 * read again, and the entries of objects gone are dropped. */
static void test_cache_across_loads(void **state)
{
	const char *dir = *state;
	const struct cfg_source a[] = {
	    SRC("k8s:Service.bpfmesh.io/prod/api", BM_SVC("prod", "api", "10.100.0.3")),
	    SRC("k8s:Service/prod/api",
		K8S_SVC("prod", "api", "{clusterIP: 10.96.0.6, ports: [{port: 80}]}")),
	    SRC("k8s:Service/prod/web",
		K8S_SVC("prod", "web", "{clusterIP: 10.96.0.5, ports: [{port: 80}]}")),
	    SRC("k8s:Service/prod/web2",
		K8S_SVC("prod", "web2", "{clusterIP: 10.96.0.5, ports: [{port: 80}]}")),
	    SRC("k8s:EndpointSlice/prod/web-1",
		SLICE("prod", "web-1", "web", "IPv4", "[{addresses: [10.0.0.1]}]",
		      "[{port: 8080}]")),
	    SRC("k8s:Service/prod/db",
		K8S_SVC("prod", "db", "{clusterIP: 10.96.0.7, ports: [{port: 80}]}")),
	    SRC("k8s:EndpointSlice/prod/db-1",
		SLICE("prod", "db-1", "db", "IPv4", "[{addresses: [10.0.0.2]}]", "[{port: 5432}]")),
	};
	/* another order, one object new, one changed */
	const struct cfg_source b[] = {
	    SRC("k8s:Service/prod/new",
		K8S_SVC("prod", "new", "{clusterIP: 10.96.0.9, ports: [{port: 80}]}")),
	    a[6],
	    SRC("k8s:EndpointSlice/prod/web-1",
		SLICE("prod", "web-1", "web", "IPv4", "[{addresses: [10.0.0.3]}]",
		      "[{port: 8080}]")),
	    a[5],
	    a[3],
	    a[2],
	    a[1],
	    a[0],
	};
	struct cfg_cache *cache = cfg_cache_new();
	struct cfg_cache_stats st;

	assert_non_null(cache);
	put(dir, "web.yaml", BM_SVC("prod", "other", "10.100.0.1"));
	load_cached_checked("first load", cache, dir, a, 7, &st);
	/* the five Services and two slices of Kubernetes, read clean (web2's
	 * address conflict is found after reading) */
	assert_int_equal(st.entries, 6);
	assert_int_equal(st.hits, 6); /* the second pass (web2 left out) */
	load_cached_checked("moved, changed, new", cache, dir, b, 8, &st);
	assert_int_equal(st.entries, 7);
	/* new and web-1 once, the custom resource (not kept) in each pass */
	assert_int_equal(st.misses, 2 + 2);
	load_cached_checked("again", cache, dir, b, 8, &st);
	load_cached_checked("most gone", cache, dir, b + 1, 2, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.hits, 2);
	cfg_cache_free(cache);
}

/* A file wins over a custom resource, a custom resource over a discovered
 * object: a warning at the loser names both. */
static void test_precedence(void **state)
{
	const char *dir = *state;
	const struct cfg_source mem[] = {
	    SRC("k8s:Service.bpfmesh.io/prod/web", BM_SVC("prod", "web", "10.100.0.2")),
	    SRC("k8s:Service/prod/web", K8S_SVC("prod", "web",
						"{clusterIP: 10.96.0.5, ports: "
						"[{port: 80}]}")),
	    SRC("k8s:Service.bpfmesh.io/prod/api", BM_SVC("prod", "api", "10.100.0.3")),
	    SRC("k8s:Service/prod/api", K8S_SVC("prod", "api",
						"{clusterIP: 10.96.0.6, ports: "
						"[{port: 80}]}")),
	    SRC("k8s:Service/prod/db", K8S_SVC("prod", "db",
					       "{clusterIP: 10.96.0.7, ports: "
					       "[{port: 80}]}")),
	    SRC("k8s:Service.bpfmesh.io/prod/api-2", BM_SVC("prod", "api", "10.100.0.4")),
	    SRC("k8s:Telemetry/prod/t", HDR "kind: Telemetry\nmetadata: {name: t, namespace: "
					    "prod}\nspec: {sampling: {ratio: 0.5}}\n"),
	};
	struct loaded l;

	put(dir, "web.yaml", BM_SVC("prod", "web", "10.100.0.1"));
	put(dir, "tel.yaml", HDR "kind: Telemetry\nmetadata: {name: t}\nspec: {}\n");
	load(&l, dir, mem, 7);
	expect_ok(&l, dir,
		  MSGS("k8s:Service.bpfmesh.io/prod/web:3:18: metadata.name: Service \"prod/web\" "
		       "is also defined at @/web.yaml:1:1 (file), which wins over this custom "
		       "resource",
		       "k8s:Service/prod/web:3:18: metadata.name: Service \"prod/web\" is also "
		       "defined at @/web.yaml:1:1 (file), which wins over this Kubernetes object",
		       "k8s:Service/prod/api:3:18: metadata.name: Service \"prod/api\" is also "
		       "defined at k8s:Service.bpfmesh.io/prod/api:1:1 (custom resource), which "
		       "wins over this Kubernetes object",
		       "k8s:Service.bpfmesh.io/prod/api-2:3:18: metadata.name: duplicate Service "
		       "\"prod/api\" (first defined at k8s:Service.bpfmesh.io/prod/api:1:1)",
		       "k8s:Telemetry/prod/t:2:7: kind: only one Telemetry applies: the one at "
		       "@/tel.yaml:1:1 (file) wins over this custom resource"));
	assert_int_equal(l.cfg->n_services, 3);
	assert_addr(&service(l.cfg, "prod", "web")->addrs[0], "10.100.0.1");
	assert_false(service(l.cfg, "prod", "web")->meta.origin.memory);
	assert_addr(&service(l.cfg, "prod", "api")->addrs[0], "10.100.0.3");
	assert_true(service(l.cfg, "prod", "api")->meta.origin.memory);
	assert_false(service(l.cfg, "prod", "api")->meta.origin.discovered);
	assert_addr(&service(l.cfg, "prod", "db")->addrs[0], "10.96.0.7");
	assert_true(service(l.cfg, "prod", "db")->meta.origin.discovered);
	assert_false(l.cfg->telemetry->meta.origin.memory);
	assert_true(l.cfg->telemetry->sampling_ratio == 1.0);
	expect_skipped(
	    l.cfg, dir,
	    MSGS("Service prod/web (k8s:Service.bpfmesh.io/prod/web:1:1): overridden by "
		 "the file at @/web.yaml:1:1",
		 "Telemetry prod/t (k8s:Telemetry/prod/t:1:1): overridden by the file at "
		 "@/tel.yaml:1:1",
		 "Service prod/web (k8s:Service/prod/web:1:1): overridden by the file at "
		 "@/web.yaml:1:1",
		 "Service prod/api (k8s:Service/prod/api:1:1): overridden by the custom "
		 "resource at k8s:Service.bpfmesh.io/prod/api:1:1",
		 "Service prod/api (k8s:Service.bpfmesh.io/prod/api-2:1:1): invalid: "
		 "metadata.name: duplicate Service \"prod/api\" (first defined at "
		 "k8s:Service.bpfmesh.io/prod/api:1:1)"));
	unload(&l);
}

/* ---- in-memory objects left out ---- */

/* An invalid custom resource is left out and the rest applies; an invalid
 * file refuses the set, whatever the API holds. */
static void test_invalid_cr_and_file(void **state)
{
	const char *dir = *state;
	const struct cfg_source mem[] = {
	    SRC("k8s:TrafficPolicy/prod/tp",
		HDR "kind: TrafficPolicy\nmetadata: {name: tp, namespace: prod}\n"
		    "spec: {service: web, connectionPool: {tcp: {connectTimeout: soon}}}\n"),
	    SRC("k8s:Service/prod/db",
		K8S_SVC("prod", "db", "{clusterIP: 10.96.0.7, ports: [{port: 80}]}")),
	};
	struct loaded l;

	put(dir, "web.yaml", BM_SVC("prod", "web", "10.100.0.1"));
	load(&l, dir, mem, 2);
	expect_ok(&l, dir,
		  MSGS("k8s:TrafficPolicy/prod/tp:4:61: spec.connectionPool.tcp.connectTimeout: "
		       "\"soon\" is not a duration (e.g. 500ms, 5s, 1m)"));
	assert_int_equal(l.cfg->n_services, 2);
	assert_int_equal(l.cfg->n_policies, 0);
	expect_skipped(
	    l.cfg, dir,
	    MSGS("TrafficPolicy prod/tp (k8s:TrafficPolicy/prod/tp:1:1): invalid: "
		 "spec.connectionPool.tcp.connectTimeout: \"soon\" is not a duration (e.g. "
		 "500ms, 5s, 1m)"));
	unload(&l);

	put(dir, "bad.yaml", BM_SVC("prod", "bad", "10.100.0.300"));
	load(&l, dir, mem, 2);
	expect_refused(
	    &l, dir,
	    MSGS("@/bad.yaml:4:20: spec.addresses[0]: \"10.100.0.300\" is not an IPv4 or "
		 "IPv6 address"));
	expect_msgs("warnings", &l.warns, dir,
		    MSGS("k8s:TrafficPolicy/prod/tp:4:61: spec.connectionPool.tcp.connectTimeout: "
			 "\"soon\" is not a duration (e.g. 500ms, 5s, 1m)"));
	unload(&l);
}

/* Leaving one object out can make another fail: that one is left out too,
 * until nothing fails. Service api is invalid; the TrafficPolicy and the
 * Workload that name it fail in the second pass, the AccessPolicy that names
 * the Workload in the third. */
static void test_fixed_point(void **state)
{
	const char *dir = *state;
	const struct cfg_source mem[] = {
	    SRC("k8s:AccessPolicy/prod/ap",
		HDR "kind: AccessPolicy\nmetadata: {name: ap, namespace: prod}\n"
		    "spec: {service: web, action: ALLOW, from: [client]}\n"),
	    SRC("k8s:TrafficPolicy/prod/api",
		HDR "kind: TrafficPolicy\nmetadata: {name: api, namespace: prod}\n"
		    "spec: {service: api}\n"),
	    SRC("k8s:Workload/prod/client",
		HDR "kind: Workload\nmetadata: {name: client, namespace: prod}\n"
		    "spec: {service: api, cgroup: prod/client}\n"),
	    SRC("k8s:Service.bpfmesh.io/prod/api",
		HDR "kind: Service\nmetadata: {name: api, namespace: prod}\n"
		    "spec: {addresses: [\"10.100.0.9\"]}\n"),
	};
	struct loaded l;

	put(dir, "web.yaml", BM_SVC("prod", "web", "10.100.0.1"));
	load(&l, dir, mem, 4);
	expect_ok(
	    &l, dir,
	    MSGS("k8s:AccessPolicy/prod/ap:4:44: spec.from[0]: unknown workload "
		 "\"prod/client\"",
		 "k8s:TrafficPolicy/prod/api:4:17: spec.service: unknown service \"prod/api\"",
		 "k8s:Workload/prod/client:4:17: spec.service: unknown service \"prod/api\"",
		 "k8s:Service.bpfmesh.io/prod/api:4:7: spec.ports: required field is missing"));
	assert_int_equal(l.cfg->n_services, 1);
	assert_int_equal(l.cfg->n_policies, 0);
	assert_int_equal(l.cfg->n_workloads, 0);
	assert_int_equal(l.cfg->n_access, 0);
	expect_skipped(l.cfg, dir,
		       MSGS("Service prod/api (k8s:Service.bpfmesh.io/prod/api:1:1): invalid: "
			    "spec.ports: required field is missing",
			    "TrafficPolicy prod/api (k8s:TrafficPolicy/prod/api:1:1): invalid: "
			    "spec.service: unknown service \"prod/api\"",
			    "Workload prod/client (k8s:Workload/prod/client:1:1): invalid: "
			    "spec.service: unknown service \"prod/api\"",
			    "AccessPolicy prod/ap (k8s:AccessPolicy/prod/ap:1:1): invalid: "
			    "spec.from[0]: unknown workload \"prod/client\""));
	unload(&l);
}

/* An in-memory source that is not YAML at all is left out whole. */
static void test_broken_source(void **state)
{
	const struct cfg_source mem[] = {
	    SRC("k8s:Service/prod/web", "{\"kind\": \"Service\", \"apiVersion\": \"v1\""),
	    SRC("k8s:Service/prod/db",
		K8S_SVC("prod", "db", "{clusterIP: 10.96.0.7, ports: [{port: 80}]}")),
	    SRC("k8s:empty", ""),
	};
	struct loaded l;

	(void)state;
	load(&l, NULL, mem, 3);
	expect_ok(&l, NULL,
		  MSGS("k8s:Service/prod/web:2:1: invalid YAML: did not find expected ',' or '}' "
		       "while parsing a flow mapping",
		       "k8s:empty:1:1: source has no documents"));
	assert_int_equal(l.cfg->n_services, 1);
	expect_skipped(l.cfg, NULL,
		       MSGS("  (k8s:Service/prod/web:2:1): invalid: invalid YAML: did not find "
			    "expected ',' or '}' while parsing a flow mapping",
			    "  (k8s:empty:1:1): invalid: source has no documents"));
	unload(&l);
}

/* ---- AccessPolicy entries ---- */

/* Workloads by name, the workloads of a service (Workloads that serve it,
 * pods its selector selects) and of a namespace; each once. */
static void test_access_from(void **state)
{
	const char *dir = *state;
	const struct cfg_source mem[] = {
	    SRC("k8s:Pod/prod/web-1", POD("prod", "web-1", "{app: web}", "[]", RUNNING)),
	    SRC("k8s:Pod/monitoring/prom-0",
		POD("monitoring", "prom-0", "{app: prometheus}", "[]", RUNNING)),
	    SRC("k8s:Service/prod/frontend",
		K8S_SVC("prod", "frontend",
			"{clusterIP: 10.96.0.9, ports: [{port: 80}], selector: {app: web}}")),
	    SRC("k8s:Namespace/prod",
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n"
		"spec: {finalizers: [kubernetes]}\nstatus: {phase: Active}\n"),
	    SRC("k8s:Namespace/monitoring",
		"{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": "
		"\"monitoring\", \"labels\": {\"kubernetes.io/metadata.name\": \"monitoring\"}}}"),
	};
	const struct cfg_access_policy *a;
	struct loaded l;

	put_docs(dir, "c.yaml", BM_SVC("prod", "web", "10.100.0.1"),
		 BM_SVC("prod", "api", "10.100.0.2"),
		 HDR "kind: Workload\nmetadata: {name: client, namespace: prod}\n"
		     "spec: {service: api, cgroup: c}\n",
		 HDR "kind: Workload\nmetadata: {name: w2, namespace: prod}\n"
		     "spec: {service: web, cgroup: w}\n",
		 HDR "kind: AccessPolicy\nmetadata: {name: ap, namespace: prod}\n"
		     "spec:\n"
		     "  service: api\n"
		     "  action: ALLOW\n"
		     "  from:\n"
		     "  - client\n"
		     "  - {workload: w2}\n"
		     "  - {service: frontend}\n"
		     "  - {service: prod/web}\n"
		     "  - {namespace: monitoring}\n"
		     "  - {service: other/nothing}\n"
		     "  - {namespace: nowhere}\n",
		 NULL);
	load(&l, dir, mem, 5);
	expect_ok(&l, dir,
		  MSGS("@/c.yaml:33:5: spec.from[5]: no service \"other/nothing\" is known: the "
		       "entry names no workload",
		       "@/c.yaml:34:5: spec.from[6]: no namespace \"nowhere\" is known: the entry "
		       "names no workload"));
	a = &l.cfg->access[0];
	assert_int_equal(a->n_entries, 7);
	assert_int_equal(a->entries[0].kind, CFG_FROM_WORKLOAD);
	assert_string_equal(a->entries[0].ns, "prod");
	assert_string_equal(a->entries[0].name, "client");
	assert_int_equal(a->entries[1].kind, CFG_FROM_WORKLOAD);
	assert_int_equal(a->entries[2].kind, CFG_FROM_SERVICE);
	assert_string_equal(a->entries[2].ns, "prod");
	assert_string_equal(a->entries[2].name, "frontend");
	assert_string_equal(a->entries[5].ns, "other");
	assert_string_equal(a->entries[5].name, "nothing");
	assert_int_equal(a->entries[6].kind, CFG_FROM_NAMESPACE);
	assert_string_equal(a->entries[6].ns, "nowhere");
	assert_string_equal(a->entries[6].name, "");
	assert_int_equal(a->n_from, 4);
	assert_string_equal(a->from[0], "client");
	assert_string_equal(a->from[1], "w2");
	assert_string_equal(a->from[2], "web-1");
	assert_string_equal(a->from[3], "prom-0");
	for (int i = 0; i < a->n_from; i++)
		assert_string_equal(l.cfg->workloads[a->from_idx[i]].meta.name, a->from[i]);
	assert_int_equal(l.cfg->n_namespaces, 2);
	assert_string_equal(l.cfg->namespaces[0], "prod");
	assert_string_equal(l.cfg->namespaces[1], "monitoring");
	unload(&l);
}

static void test_access_from_errors(void **state)
{
	const char *dir = *state;
	struct loaded l;

	put_docs(dir, "c.yaml", BM_SVC("prod", "api", "10.100.0.2"),
		 HDR "kind: AccessPolicy\nmetadata: {name: ap, namespace: prod}\n"
		     "spec:\n"
		     "  service: api\n"
		     "  action: DENY\n"
		     "  from:\n"
		     "  - {}\n"
		     "  - {workload: a, service: b}\n"
		     "  - {service: \"Bad/x\"}\n"
		     "  - {namespace: a.b}\n"
		     "  - {service: \"\"}\n"
		     "  - {wrkload: x}\n"
		     "  - {workload: nobody}\n"
		     "  - [x]\n",
		 NULL);
	load(&l, dir, NULL, 0);
	expect_refused(
	    &l, dir,
	    MSGS(
		"@/c.yaml:13:5: spec.from[0]: give one of workload, service and namespace",
		"@/c.yaml:14:5: spec.from[1]: give one of workload, service and namespace, not 2",
		"@/c.yaml:15:15: spec.from[2].service: \"Bad/x\": \"Bad\" is not a valid namespace "
		"(RFC 1123 label: at most 63 lowercase letters, digits and '-', starting and "
		"ending with a letter or digit)",
		"@/c.yaml:16:17: spec.from[3].namespace: \"a.b\" is not a valid namespace (RFC "
		"1123 label: at most 63 lowercase letters, digits and '-', starting and ending "
		"with a letter or digit)",
		"@/c.yaml:17:15: spec.from[4].service: \"\" is not a valid name (RFC 1123: "
		"lowercase letters, digits, '-' and '.', starting and ending with a letter or "
		"digit)",
		"@/c.yaml:18:5: spec.from[5]: give one of workload, service and namespace",
		"@/c.yaml:18:6: spec.from[5].wrkload: unknown field",
		"@/c.yaml:19:5: spec.from[6]: unknown workload \"prod/nobody\"",
		"@/c.yaml:20:5: spec.from[7]: expected a string"));
	unload(&l);
}

/* ---- metadata as the API server fills it ---- */

static void test_server_metadata(void **state)
{
	const char *dir = *state;
	struct loaded l;

	put(dir, "c.yaml",
	    HDR "kind: Service\n"
		"metadata:\n"
		"  name: web\n"
		"  namespace: prod\n"
		"  uid: 0b9cc2f4-2b1a-4f62-9a87-6c7d2e4f5a01\n"
		"  resourceVersion: \"18350\"\n"
		"  generation: 3\n"
		"  creationTimestamp: \"2024-05-02T09:14:27Z\"\n"
		"  deletionTimestamp: \"2024-05-02T10:00:00Z\"\n"
		"  deletionGracePeriodSeconds: 30\n"
		"  selfLink: /apis/bpfmesh.io/v1alpha1/namespaces/prod/services/web\n"
		"  generateName: web-\n"
		"  finalizers: [bpfmesh.io/cleanup]\n"
		"  ownerReferences:\n"
		"  - {apiVersion: v1, kind: ConfigMap, name: owner, uid: x, controller: true, "
		"blockOwnerDeletion: true}\n"
		"  labels: {app: web}\n"
		"  annotations: {kubectl.kubernetes.io/last-applied-configuration: \"{}\"}\n"
		"  managedFields:\n"
		"  - manager: kubectl-client-side-apply\n"
		"    operation: Update\n"
		"    fieldsType: FieldsV1\n"
		"    fieldsV1: {\"f:spec\": {\"f:ports\": {}}}\n"
		"spec: {addresses: [\"10.100.0.1\"], ports: [{port: 80}]}\n"
		"status: {conditions: [{type: Ready, status: \"True\"}]}\n");
	load(&l, dir, NULL, 0);
	expect_ok(&l, dir, NONE);
	assert_int_equal(l.cfg->n_services, 1);
	unload(&l);

	put(dir, "c.yaml",
	    HDR "kind: Service\n"
		"metadata: {name: web, uid: [x], ownerReferences: owner}\n"
		"spec: {addresses: [\"10.100.0.1\"], ports: [{port: 80}]}\n"
		"---\n" HDR "kind: Service\n"
		"metadata: {name: web2, ownerReferences: [{kind: Deployment}]}\n"
		"spec: {addresses: [\"10.100.0.2\"], ports: [{port: 80}]}\n");
	load(&l, dir, NULL, 0);
	expect_refused(&l, dir,
		       MSGS("@/c.yaml:3:28: metadata.uid: expected a string",
			    "@/c.yaml:3:50: metadata.ownerReferences: expected a sequence",
			    "@/c.yaml:8:42: metadata.ownerReferences[0].name: required field is "
			    "missing"));
	unload(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kernel_limits),
	    cmocka_unit_test(test_kubectl_file),
	    cmocka_unit_test(test_api_json),
	    cmocka_unit_test(test_api_error_names_source),
	    cmocka_unit_test_setup_teardown(test_list_file, setup, teardown),
	    cmocka_unit_test(test_list_memory),
	    cmocka_unit_test_setup_teardown(test_big_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slice_conditions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_named_target_ports, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_endpoints, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_skipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lb_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pod_owners, setup, teardown),
	    cmocka_unit_test(test_kubectl_pod),
	    cmocka_unit_test_setup_teardown(test_pod_selectors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cache_across_loads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_cr_and_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fixed_point, setup, teardown),
	    cmocka_unit_test(test_broken_source),
	    cmocka_unit_test_setup_teardown(test_access_from, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_access_from_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_metadata, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
