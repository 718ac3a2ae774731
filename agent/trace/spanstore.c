/* SPDX-License-Identifier: Apache-2.0 */
/* spanstore.c: a ring of finished spans, packed, and their JSON form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/span_pack.h"
#include "trace/spanbuild.h"
#include "trace/spanstore.h"

int spanstore_init_sized(struct spanstore *st, uint32_t cap, size_t bytes)
{
	memset(st, 0, sizeof(*st));
	/* first, so that spanstore_free() of a store that failed is safe */
	pthread_mutex_init(&st->lock, NULL);
	return span_ring_init(&st->ring, cap, bytes);
}

int spanstore_init(struct spanstore *st, uint32_t cap)
{
	return spanstore_init_sized(st, cap, (size_t)(cap ? cap : 1) * SPANSTORE_SPAN_BYTES);
}

void spanstore_free(struct spanstore *st)
{
	span_ring_free(&st->ring);
	pthread_mutex_destroy(&st->lock);
}

void spanstore_add_packed(struct spanstore *st, const uint8_t *packed, size_t len)
{
	pthread_mutex_lock(&st->lock);
	if (len && !span_ring_push_packed(&st->ring, packed, len, true))
		st->total++;
	pthread_mutex_unlock(&st->lock);
}

void spanstore_add(struct spanstore *st, const struct span *sp)
{
	uint8_t buf[SPAN_PACK_MAX];
	/* packed outside the lock: the API thread waits only for the copy */
	size_t len = span_pack(sp, buf, sizeof(buf));

	spanstore_add_packed(st, buf, len);
}

static void hex(char *out, const uint8_t *b, int n)
{
	for (int i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = 0;
}

static void write_endpoint(struct jsonw *w, const char *key, const struct span_endpoint *e)
{
	if (!e->address[0])
		return;
	jw_key(w, key);
	jw_obj_open(w);
	jw_kstr(w, "address", e->address);
	if (e->port)
		jw_ku64(w, "port", e->port);
	jw_obj_close(w);
}

void span_write_json(struct jsonw *w, const struct span *sp)
{
	static const uint8_t zero[8];
	char id[33];

	jw_obj_open(w);
	hex(id, sp->trace_id, 16);
	jw_kstr(w, "traceId", id);
	hex(id, sp->span_id, 8);
	jw_kstr(w, "spanId", id);
	if (memcmp(sp->parent_span_id, zero, 8)) {
		hex(id, sp->parent_span_id, 8);
		jw_kstr(w, "parentSpanId", id);
	}
	jw_kstr(w, "name", sp->name);
	jw_kstr(w, "kind", sp->kind == SPAN_KIND_SERVER ? "SERVER" : "CLIENT");
	jw_ku64(w, "startTimeUnixNano", sp->start_unix_ns);
	jw_ku64(w, "endTimeUnixNano", sp->end_unix_ns);
	jw_key(w, "durationMs");
	jw_dbl(w, (sp->end_unix_ns - sp->start_unix_ns) / 1e6);
	jw_kstr(w, "status",
		sp->status == SPAN_STATUS_ERROR ? "ERROR"
		: sp->status == SPAN_STATUS_OK	? "OK"
						: "UNSET");
	if (sp->status_message[0])
		jw_kstr(w, "statusMessage", sp->status_message);
	jw_kstr(w, "service", sp->service_name);
	jw_kstr(w, "namespace", sp->service_namespace);
	jw_key(w, "attributes");
	jw_obj_open(w);
	jw_kstr(w, "http.request.method", sp->method);
	if (sp->method_original[0])
		jw_kstr(w, "http.request.method_original", sp->method_original);
	if (sp->status_code)
		jw_ku64(w, "http.response.status_code", sp->status_code);
	if (sp->error_type[0])
		jw_kstr(w, "error.type", sp->error_type);
	jw_kstr(w, "url.path", sp->path);
	/* the API is no place for query values (tokens, ids): readers of
	 * /api/v1/traces are not all who may read the OTLP backend, which gets
	 * them as Telemetry.tracing.redactQuery says; the keys stay */
	if (sp->query[0]) {
		char q[sizeof(sp->query)];

		sb_redact_query(q, sizeof(q), sp->query, true);
		jw_kstr(w, "url.query", q);
	}
	if (sp->kind == SPAN_KIND_SERVER)
		jw_kstr(w, "http.route", sp->route);
	jw_obj_close(w);
	write_endpoint(w, "server", &sp->server);
	write_endpoint(w, "client", &sp->client);
	write_endpoint(w, "peer", &sp->peer);
	jw_obj_close(w);
}

int spanstore_write_json(struct spanstore *st, struct jsonw *w, const char *service, int limit)
{
	struct span *sp = malloc(sizeof(*sp)); /* one scratch span for all */
	int n = 0;

	jw_arr_open(w);
	pthread_mutex_lock(&st->lock);
	for (uint32_t k = 0; sp && k < st->ring.count && n < limit; k++) {
		if (span_ring_get(&st->ring, st->ring.count - 1 - k, sp))
			continue;
		if (service && service[0] && strcmp(sp->service_name, service))
			continue;
		span_write_json(w, sp);
		n++;
	}
	pthread_mutex_unlock(&st->lock);
	jw_arr_close(w);
	free(sp);
	return n;
}
