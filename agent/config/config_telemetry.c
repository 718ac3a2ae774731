/* SPDX-License-Identifier: Apache-2.0 */
/* config_telemetry.c: the Telemetry kind: where traces and metrics go (OTLP,
 * Prometheus), how traces are sampled and which http.route templates exist.
 */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

#define TEL struct cfg_telemetry

static const char *check_url(const char *s)
{
	if (strncmp(s, "http://", 7) && strncmp(s, "https://", 8))
		return "is not an http:// or https:// URL";
	return NULL;
}

static const char *check_route(const char *s)
{
	return s[0] == '/' ? NULL : "does not start with '/'";
}

/* host:port with a numeric port, host possibly empty or a [v6] literal. */
static const char *check_listen(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || !colon[1])
		return "is not host:port";
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535 || colon[1] < '0' || colon[1] > '9')
		return "is not host:port";
	return NULL;
}

/* Header names become HTTP field names on the wire, values their contents. */
static void headers(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	TEL *t = base;
	char sub[CFGP_PATH_LEN], q[CFGP_QUOTE_LEN];
	yaml_node_pair_t *p;
	yaml_node_t *k, *v;
	const char *name, *value;
	int cnt, i;

	if (n->type != YAML_MAPPING_NODE) {
		cfgp_err(d, n, path, "expected a mapping");
		return;
	}
	cnt = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (!cnt)
		return;
	if (cnt > CFGP_MAX_HEADERS) {
		cfgp_err(d, n, path, "%d headers exceed the limit of %d", cnt, CFGP_MAX_HEADERS);
		return;
	}
	t->headers = calloc((size_t)cnt, sizeof(*t->headers));
	if (!t->headers) {
		d->ld->oom = true;
		return;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		k = cfgp_node(d, p->key);
		v = cfgp_node(d, p->value);
		if (!(name = cfgp_string(d, k, path)))
			continue;
		if (!*name || strpbrk(name, " \t\r\n:")) {
			cfgp_err(d, k, path, "%s is not a valid header name", cfgp_quote(q, name));
			continue;
		}
		cfgp_join(sub, path, name);
		if (strlen(name) >= sizeof(t->headers->name)) {
			cfgp_err(d, k, sub, "longer than %zu characters",
				 sizeof(t->headers->name) - 1);
			continue;
		}
		for (i = 0; i < t->n_headers && strcmp(t->headers[i].name, name); i++)
			;
		if (i < t->n_headers) {
			cfgp_err(d, k, sub, "duplicate field");
			continue;
		}
		if (!(value = cfgp_string(d, v, sub)))
			continue;
		if (strlen(value) >= sizeof(t->headers->value)) {
			cfgp_err(d, v, sub, "longer than %zu characters",
				 sizeof(t->headers->value) - 1);
			continue;
		}
		strcpy(t->headers[t->n_headers].name, name);
		strcpy(t->headers[t->n_headers].value, value);
		t->n_headers++;
	}
}

static const struct cfgp_enum compressions[] = {
    {"gzip", 1},
    {"none", 0},
    {NULL, 0},
};

static const struct cfgp_field tls_fields[] = {
    F_STR("caFile", TEL, tls_ca_file),
    F_STR("certFile", TEL, tls_cert_file),
    F_STR("keyFile", TEL, tls_key_file),
    F_BOOL("insecureSkipVerify", TEL, tls_insecure_skip_verify),
    {0},
};

static const struct cfgp_field otlp_fields[] = {
    F_STR("endpoint", TEL, otlp_endpoint, .required = true, .check = check_url),
    F_FUNC("headers", headers),
    F_ENUM("compression", TEL, otlp_gzip, compressions),
    F_DUR("timeout", TEL, otlp_timeout_ms, 1),
    F_DUR("metricsInterval", TEL, otlp_metrics_interval_ms, 1000),
    F_GROUP("tls", tls_fields),
    {0},
};

static const struct cfgp_field sampling_fields[] = {
    F_NUM("ratio", TEL, sampling_ratio, 0, 1),
    F_BOOL("alwaysSampleErrors", TEL, sample_errors),
    F_DUR("latencyThreshold", TEL, sample_slower_than_ms, 0),
    {0},
};

static const struct cfgp_field tracing_fields[] = {
    F_BOOL("redactQuery", TEL, redact_query),
    {0},
};

static const struct cfgp_field route_item = {
    .type = CFGP_STR,
    .size = 512,
    .check = check_route,
};

static const struct cfgp_list route_list = {
    .item = &route_item,
    .elem = 512,
    .noun = "routes",
    .max = CFGP_MAX_ROUTES,
};

static const struct cfgp_field prometheus_fields[] = {
    F_STR("listen", TEL, prometheus_listen, .check = check_listen),
    {0},
};

static const struct cfgp_field propagation_fields[] = {
    F_BOOL("inject", TEL, propagation_inject),
    {0},
};

static const struct cfgp_field spec_fields[] = {
    F_SECTION("otlp", otlp_fields, TEL, otlp_set),
    F_GROUP("sampling", sampling_fields),
    F_GROUP("tracing", tracing_fields),
    F_LIST("routes", TEL, routes, n_routes, &route_list),
    F_GROUP("prometheus", prometheus_fields),
    F_GROUP("propagation", propagation_fields), /* opt-in traceparent injection */
    {0},
};

/* A client certificate is useless without its key and the other way round. */
static void check_tls(struct cfgp_doc *d, const TEL *t, yaml_node_t *tls)
{
	if (!tls || tls->type != YAML_MAPPING_NODE)
		return;
	if (t->tls_cert_file[0] && !t->tls_key_file[0])
		cfgp_err(d, tls, "spec.otlp.tls.keyFile", "required when certFile is set");
	if (t->tls_key_file[0] && !t->tls_cert_file[0])
		cfgp_err(d, tls, "spec.otlp.tls.certFile", "required when keyFile is set");
}

struct cfg_telemetry *cfgp_telemetry(struct cfgp_doc *d, yaml_node_t *spec,
				     const struct cfg_meta *meta)
{
	TEL *t = calloc(1, sizeof(*t));

	if (!t) {
		d->ld->oom = true;
		return NULL;
	}
	t->meta = *meta;
	t->otlp_gzip = true;
	t->otlp_timeout_ms = 10000;
	t->otlp_metrics_interval_ms = 10000;
	t->sampling_ratio = 1.0;
	t->sample_errors = true;

	cfgp_walk(d, spec, "spec", spec_fields, t);
	check_tls(d, t, cfgp_get(d, cfgp_get(d, spec, "otlp"), "tls"));
	return t;
}

void cfgp_telemetry_free(struct cfg_telemetry *t)
{
	if (!t)
		return;
	free(t->headers);
	free(t->routes);
	free(t);
}
