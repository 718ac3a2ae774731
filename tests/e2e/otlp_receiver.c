/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_receiver: a test OTLP/HTTP collector for the end-to-end tests.
 *   otlp_receiver [--port PORT] [--metrics-out FILE] [--fail-first N]
 *                 [--fail-code CODE] [--retry-after SECONDS] [--partial N]
 *                 [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
 *                 [--verbose]
 * Listens on 127.0.0.1:PORT (default 4318; 0 picks one, shown on stderr),
 * prints "ready" on stdout once listening, then takes HTTP/1.1 POST
 * /v1/traces and /v1/metrics (keep-alive, Content-Length or chunked bodies,
 * Content-Encoding gzip). It decodes an ExportTraceServiceRequest into one JSON object per
 * span on stdout, flushed after each request:
 *   {"trace_id":"hex","span_id":"hex","parent_span_id":"hex or empty",
 *    "name":"...","kind":2,"start_unix_ns":N,"end_unix_ns":N,"flags":N,
 *    "status_code":N,"status_message":"...","trace_state":"...",
 *    "attributes":{"key":value,...},
 *    "resource":{"service.name":"...",...},"scope":{"name":"...","version":"..."}}
 * and, with --metrics-out FILE ("-" for stdout), an ExportMetricsServiceRequest
 * into one JSON object per data point in FILE (appended, flushed after each
 * request). Without it metrics are taken but not printed, so the span lines
 * on stdout stay all there is whatever the exporter sends:
 *   {"signal":"metrics","name":"...","description":"...","unit":"s",
 *    "type":"sum"|"gauge"|"histogram"|..., "temporality":2 (sum, histogram),
 *    "monotonic":true (sum),"start_unix_ns":N,"time_unix_ns":N,
 *    "attributes":{...},"value":42 or 0.5 (sum, gauge; ints stay ints),
 *    "count":N,"sum":x|null,"bucket_counts":[N,...],"explicit_bounds":[x,...],
 *    "min":x|null,"max":x|null (histogram),"resource":{...},"scope":{...}}
 * --fail-first N answers the first N requests of each signal with --fail-code
 * (default 503) and, with --retry-after, a Retry-After header; their data is
 * not printed (the exporter is expected to send it again). --partial N answers
 * every accepted request with 200 and a partial_success rejecting N spans or
 * data points. --verbose describes each request (headers, sizes, answer) on
 * stderr. With --tls-cert and --tls-key it speaks HTTPS (OpenSSL, TLS 1.2 or
 * later) with that certificate; --tls-client-ca also asks every client for a
 * certificate and refuses one that FILE's CA did not sign, or none (mTLS).
 * Each handshake is reported on stderr: "otlp_receiver: TLS handshake done
 * (client certificate: SUBJECT)" or "(no client certificate)", or
 * "otlp_receiver: TLS handshake failed: REASON". Exits 0 on SIGTERM or
 * SIGINT. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest ExportReq;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest MetricsReq;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistPoint;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

#define MAX_CONNS 64
#define HEAD_MAX (64u << 10)
#define BODY_MAX (64u << 20) /* the spec's default request limit, after inflating too */

struct conn {
	int fd;
	char *buf;
	size_t len, cap;
	bool continued; /* "100 Continue" sent for the request being read */
};

enum signal { SIG_TRACES = 0, SIG_METRICS = 1 };

static struct {
	int fail_first, fail_code, retry_after, partial;
	const char *tls_cert, *tls_key, *tls_client_ca;
	bool verbose;
	int n_req;
	int failed[2];	   /* requests of each signal failed so far by --fail-first */
	FILE *metrics_out; /* NULL: metrics are not printed */
} opt = {.fail_code = 503, .retry_after = -1, .partial = -1};

static volatile sig_atomic_t stop;

/* TLS: a connection's SSL by its fd (NULL: plain TCP), so that the request
 * handling below reads and writes through io_read() and io_write() alone. */
#define MAX_FD 4096
static SSL_CTX *tls_ctx;
static SSL *tls_of[MAX_FD];

static ssize_t io_read(int fd, void *buf, size_t len)
{
	SSL *ssl = fd < MAX_FD ? tls_of[fd] : NULL;
	int r;

	if (!ssl)
		return read(fd, buf, len);
	r = SSL_read(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	return r > 0 ? r : -1;
}

static ssize_t io_write(int fd, const void *buf, size_t len)
{
	SSL *ssl = fd < MAX_FD ? tls_of[fd] : NULL;
	size_t done = 0;

	if (!ssl)
		return write(fd, buf, len);
	while (done < len) {
		int r = SSL_write(ssl, (const char *)buf + done, (int)(len - done));

		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return (ssize_t)len;
}

static void io_close(int fd)
{
	if (fd < MAX_FD && tls_of[fd]) {
		SSL_free(tls_of[fd]);
		tls_of[fd] = NULL;
	}
	close(fd);
}

static int tls_init(void)
{
	tls_ctx = SSL_CTX_new(TLS_server_method());
	if (!tls_ctx || !SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(tls_ctx, opt.tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(tls_ctx, opt.tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(tls_ctx) != 1)
		goto fail;
	if (opt.tls_client_ca) {
		if (SSL_CTX_load_verify_locations(tls_ctx, opt.tls_client_ca, NULL) != 1)
			goto fail;
		SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
				   NULL);
	}
	return 0;
fail:
	fprintf(stderr, "otlp_receiver: TLS setup: ");
	ERR_print_errors_fp(stderr);
	return -1;
}

/* The server side of the handshake on a new connection; blocking, but
 * bounded by a receive timeout, so a client that stalls cannot hang us. */
static int tls_accept(int fd)
{
	struct timeval tv = {.tv_sec = 5};
	char subject[256] = "no client certificate";
	unsigned long e;
	X509 *peer;
	SSL *ssl;

	if (fd >= MAX_FD || !(ssl = SSL_new(tls_ctx)))
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1) {
		e = ERR_get_error();
		fprintf(stderr, "otlp_receiver: TLS handshake failed: %s\n",
			e ? ERR_reason_error_string(e) : "connection closed");
		ERR_clear_error();
		SSL_free(ssl);
		return -1;
	}
	peer = SSL_get1_peer_certificate(ssl);
	if (peer) {
		snprintf(subject, sizeof(subject), "client certificate: ");
		X509_NAME_oneline(X509_get_subject_name(peer), subject + strlen(subject),
				  (int)(sizeof(subject) - strlen(subject)));
		X509_free(peer);
	}
	fprintf(stderr, "otlp_receiver: TLS handshake done (%s)\n", subject);
	tls_of[fd] = ssl;
	return 0;
}

static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

/* ---- JSON output --------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (within n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t k = p[0] < 0x80			  ? 1
		   : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
		   : p[0] >= 0xe0 && p[0] <= 0xef ? 3
		   : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
						  : 0;

	if (!k || k > n)
		return 0;
	for (size_t i = 1; i < k; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return k;
}

/* A JSON string; bytes that are not UTF-8 come out as U+FFFD so the line stays
 * parseable and the test sees that something was wrong. */
static void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), k;

	fputc('"', f);
	while (n) {
		if (*p == '"' || *p == '\\') {
			fprintf(f, "\\%c", *p);
		} else if (*p < 0x20) {
			fprintf(f, "\\u%04x", *p);
		} else if (!(k = utf8_len(p, n))) {
			fputs("\\ufffd", f);
		} else {
			fwrite(p, 1, k, f);
			p += k;
			n -= k;
			continue;
		}
		p++;
		n--;
	}
	fputc('"', f);
}

static void json_hex(FILE *f, const ProtobufCBinaryData *b)
{
	fputc('"', f);
	for (size_t i = 0; i < b->len; i++)
		fprintf(f, "%02x", b->data[i]);
	fputc('"', f);
}

static void json_value(FILE *f, const AnyValue *v)
{
	if (!v) {
		fputs("null", f);
		return;
	}
	switch (v->value_case) {
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
		json_str(f, v->string_value);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
		fprintf(f, "%" PRId64, v->int_value);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
		fputs(v->bool_value ? "true" : "false", f);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
		if (isfinite(v->double_value))
			fprintf(f, "%.17g", v->double_value);
		else
			fputs("null", f);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
		json_hex(f, &v->bytes_value);
		break;
	default: /* arrays and maps: bpfmesh sends none */
		fputs("null", f);
	}
}

static void json_attrs(FILE *f, KeyValue **kv, size_t n)
{
	fputc('{', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_str(f, kv[i]->key);
		fputc(':', f);
		json_value(f, kv[i]->value);
	}
	fputc('}', f);
}

static size_t print_spans(const ExportReq *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_resource_spans; i++) {
		const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = r->resource_spans[i];

		for (size_t j = 0; j < rs->n_scope_spans; j++) {
			const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[j];

			for (size_t k = 0; k < ss->n_spans; k++, n++) {
				const Opentelemetry__Proto__Trace__V1__Span *sp = ss->spans[k];

				fputs("{\"trace_id\":", stdout);
				json_hex(stdout, &sp->trace_id);
				fputs(",\"span_id\":", stdout);
				json_hex(stdout, &sp->span_id);
				fputs(",\"parent_span_id\":", stdout);
				json_hex(stdout, &sp->parent_span_id);
				fputs(",\"name\":", stdout);
				json_str(stdout, sp->name);
				printf(",\"kind\":%d,\"start_unix_ns\":%" PRIu64
				       ",\"end_unix_ns\":%" PRIu64 ",\"flags\":%" PRIu32
				       ",\"status_code\":%d,\"status_message\":",
				       (int)sp->kind, sp->start_time_unix_nano,
				       sp->end_time_unix_nano, sp->flags,
				       sp->status ? (int)sp->status->code : 0);
				json_str(stdout, sp->status ? sp->status->message : "");
				fputs(",\"trace_state\":", stdout);
				json_str(stdout, sp->trace_state ? sp->trace_state : "");
				fputs(",\"attributes\":", stdout);
				json_attrs(stdout, sp->attributes, sp->n_attributes);
				fputs(",\"resource\":", stdout);
				if (rs->resource)
					json_attrs(stdout, rs->resource->attributes,
						   rs->resource->n_attributes);
				else
					fputs("{}", stdout);
				fputs(",\"scope\":{\"name\":", stdout);
				json_str(stdout, ss->scope ? ss->scope->name : "");
				fputs(",\"version\":", stdout);
				json_str(stdout, ss->scope ? ss->scope->version : "");
				fputs("}}\n", stdout);
			}
		}
	}
	fflush(stdout);
	return n;
}

/* The shortest form that reads back as d (0.1, not 0.10000000000000001, so
 * a test can grep for it), kept a double in JSON (42.0, not 42); null when
 * not finite. */
static void json_double(FILE *f, double d)
{
	char buf[64];

	if (!isfinite(d)) {
		fputs("null", f);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	fputs(buf, f);
	if (!strpbrk(buf, ".e"))
		fputs(".0", f);
}

/* The fields every metric data point line starts with. */
static void metric_head(FILE *f, const Metric *m, const char *type)
{
	fputs("{\"signal\":\"metrics\",\"name\":", f);
	json_str(f, m->name);
	fputs(",\"description\":", f);
	json_str(f, m->description);
	fputs(",\"unit\":", f);
	json_str(f, m->unit);
	fprintf(f, ",\"type\":\"%s\"", type);
}

static void point_common(FILE *f, uint64_t start, uint64_t time, KeyValue **kv, size_t n)
{
	fprintf(f, ",\"start_unix_ns\":%" PRIu64 ",\"time_unix_ns\":%" PRIu64 ",\"attributes\":",
		start, time);
	json_attrs(f, kv, n);
}

static void metric_tail(FILE *f, const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm,
			const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm)
{
	fputs(",\"resource\":", f);
	if (rm->resource)
		json_attrs(f, rm->resource->attributes, rm->resource->n_attributes);
	else
		fputs("{}", f);
	fputs(",\"scope\":{\"name\":", f);
	json_str(f, sm->scope ? sm->scope->name : "");
	fputs(",\"version\":", f);
	json_str(f, sm->scope ? sm->scope->version : "");
	fputs("}}\n", f);
}

static void number_value(FILE *f, const NumberPoint *p)
{
	fputs(",\"value\":", f);
	if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT)
		fprintf(f, "%" PRId64, p->as_int);
	else if (p->value_case ==
		 OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE)
		json_double(f, p->as_double);
	else
		fputs("null", f);
}

static void histogram_fields(FILE *f, const HistPoint *p)
{
	fprintf(f, ",\"count\":%" PRIu64 ",\"sum\":", p->count);
	if (p->present_sum_case)
		json_double(f, p->sum);
	else
		fputs("null", f);
	fputs(",\"bucket_counts\":[", f);
	for (size_t i = 0; i < p->n_bucket_counts; i++)
		fprintf(f, "%s%" PRIu64, i ? "," : "", p->bucket_counts[i]);
	fputs("],\"explicit_bounds\":[", f);
	for (size_t i = 0; i < p->n_explicit_bounds; i++) {
		if (i)
			fputc(',', f);
		json_double(f, p->explicit_bounds[i]);
	}
	fputs("],\"min\":", f);
	if (p->present_min_case)
		json_double(f, p->min);
	else
		fputs("null", f);
	fputs(",\"max\":", f);
	if (p->present_max_case)
		json_double(f, p->max);
	else
		fputs("null", f);
}

/* One line per data point of one metric. */
static void print_metric(FILE *f, const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm,
			 const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm, const Metric *m)
{
	size_t k = 0;

	switch (m->data_case) {
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
		for (; k < m->sum->n_data_points; k++) {
			const NumberPoint *p = m->sum->data_points[k];

			metric_head(f, m, "sum");
			fprintf(f, ",\"temporality\":%d,\"monotonic\":%s",
				(int)m->sum->aggregation_temporality,
				m->sum->is_monotonic ? "true" : "false");
			point_common(f, p->start_time_unix_nano, p->time_unix_nano, p->attributes,
				     p->n_attributes);
			number_value(f, p);
			metric_tail(f, rm, sm);
		}
		break;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
		for (; k < m->gauge->n_data_points; k++) {
			const NumberPoint *p = m->gauge->data_points[k];

			metric_head(f, m, "gauge");
			point_common(f, p->start_time_unix_nano, p->time_unix_nano, p->attributes,
				     p->n_attributes);
			number_value(f, p);
			metric_tail(f, rm, sm);
		}
		break;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
		for (; k < m->histogram->n_data_points; k++) {
			const HistPoint *p = m->histogram->data_points[k];

			metric_head(f, m, "histogram");
			fprintf(f, ",\"temporality\":%d",
				(int)m->histogram->aggregation_temporality);
			point_common(f, p->start_time_unix_nano, p->time_unix_nano, p->attributes,
				     p->n_attributes);
			histogram_fields(f, p);
			metric_tail(f, rm, sm);
		}
		break;
	default:
		/* exponential histograms and summaries: bpfmesh sends none, so one
		 * line says that one came */
		metric_head(
		    f, m,
		    m->data_case ==
			    OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM
			? "exponential_histogram"
		    : m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY
			? "summary"
			: "none");
		metric_tail(f, rm, sm);
	}
}

/* Data points in m, printed or not. */
static size_t n_points(const Metric *m)
{
	switch (m->data_case) {
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
		return m->sum->n_data_points;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
		return m->gauge->n_data_points;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
		return m->histogram->n_data_points;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
		return m->exponential_histogram->n_data_points;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
		return m->summary->n_data_points;
	default:
		return 0;
	}
}

static size_t print_metrics(const MetricsReq *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_resource_metrics; i++) {
		const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm =
		    r->resource_metrics[i];

		for (size_t j = 0; j < rm->n_scope_metrics; j++) {
			const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm =
			    rm->scope_metrics[j];

			for (size_t k = 0; k < sm->n_metrics; k++) {
				n += n_points(sm->metrics[k]);
				if (opt.metrics_out)
					print_metric(opt.metrics_out, rm, sm, sm->metrics[k]);
			}
		}
	}
	if (opt.metrics_out)
		fflush(opt.metrics_out);
	return n;
}

/* ---- HTTP ---------------------------------------------------------------- */

/* google.rpc.Status { string message = 2; }, the body the spec gives failures. */
static size_t status_body(uint8_t *out, const char *msg)
{
	size_t n = strlen(msg);

	out[0] = 0x12;
	out[1] = (uint8_t)n; /* our messages stay under 128 bytes */
	memcpy(out + 2, msg, n);
	return n + 2;
}

static int reply(int fd, int code, const char *reason, const char *extra, const uint8_t *body,
		 size_t len, bool close_after)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: application/x-protobuf\r\n"
		     "Content-Length: %zu\r\n%s%s\r\n",
		     code, reason, len, extra ? extra : "",
		     close_after ? "Connection: close\r\n" : "");
	if (opt.verbose)
		fprintf(stderr, "otlp_receiver: answer %d, %zu bytes\n", code, len);
	if (io_write(fd, head, (size_t)n) != n || (len && io_write(fd, body, len) != (ssize_t)len))
		return -1;
	return close_after ? -1 : 0;
}

static int fail(int fd, int code, const char *reason, const char *msg, bool close_after)
{
	uint8_t body[160];

	return reply(fd, code, reason, NULL, body, status_body(body, msg), close_after);
}

/* The value of header `name` in head (NUL-terminated, lines end in CRLF),
 * copied into out; false when absent. */
static bool header(const char *head, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	const char *p = strstr(head, "\r\n"), *v, *e;

	while (p && p[2]) {
		p += 2;
		e = strstr(p, "\r\n");
		if (!e)
			e = p + strlen(p);
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			for (v = p + nl + 1; *v == ' ' || *v == '\t'; v++)
				;
			snprintf(out, size, "%.*s", (int)(e - v), v);
			return true;
		}
		p = *e ? e : NULL;
	}
	return false;
}

static int gunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	z_stream z = {0};
	size_t cap = len * 4 + 4096;
	uint8_t *buf = malloc(cap), *grown;
	int rc;

	if (!buf || inflateInit2(&z, 15 + 16) != Z_OK) {
		free(buf);
		return -1;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	*out_len = 0;
	do {
		if (*out_len == cap) {
			if (cap >= BODY_MAX || !(grown = realloc(buf, cap * 2))) {
				rc = Z_MEM_ERROR;
				break;
			}
			buf = grown;
			cap *= 2;
		}
		z.next_out = buf + *out_len;
		z.avail_out = (uInt)(cap - *out_len);
		rc = inflate(&z, Z_NO_FLUSH);
		*out_len = cap - z.avail_out;
	} while (rc == Z_OK);
	inflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

static void log_head(const char *head, size_t body_len)
{
	const char *p = head, *e;

	fprintf(stderr, "otlp_receiver: request %d, %zu byte body\n", opt.n_req, body_len);
	while (*p) {
		e = strstr(p, "\r\n");
		if (!e)
			e = p + strlen(p);
		fprintf(stderr, "otlp_receiver:   %.*s\n", (int)(e - p), p);
		p = *e ? e + 2 : e;
	}
}

/* Prints the spans of a trace request and makes the 200 answer's body in
 * rbody. Returns its length, or -1 when body is not such a request. */
static long take_traces(const uint8_t *body, size_t len, uint8_t *rbody)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse r =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
	ExportReq *req;
	size_t n;

	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
	    NULL, len, body);
	if (!req)
		return -1;
	n = print_spans(req);
	if (opt.verbose)
		fprintf(stderr, "otlp_receiver: %zu spans in %zu bytes\n", n, len);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    req, NULL);
	if (opt.partial < 0)
		return 0;
	ps.rejected_spans = opt.partial;
	ps.error_message = (char *)"rejected by otlp_receiver --partial";
	r.partial_success = &ps;
	return (long)
	    opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&r,
											    rbody);
}

static long take_metrics(const uint8_t *body, size_t len, uint8_t *rbody)
{
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse r =
	    OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_RESPONSE__INIT;
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsPartialSuccess ps =
	    OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_PARTIAL_SUCCESS__INIT;
	MetricsReq *req;
	size_t n;

	req = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
	    NULL, len, body);
	if (!req)
		return -1;
	n = print_metrics(req);
	if (opt.verbose)
		fprintf(stderr, "otlp_receiver: %zu data points in %zu bytes\n", n, len);
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
	    req, NULL);
	if (opt.partial < 0)
		return 0;
	ps.rejected_data_points = opt.partial;
	ps.error_message = (char *)"rejected by otlp_receiver --partial";
	r.partial_success = &ps;
	return (long)
	    opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__pack(
		&r, rbody);
}

/* One complete request. Returns 0 to keep the connection, -1 to close it. */
static int handle(int fd, char *head, const uint8_t *body, size_t body_len)
{
	char method[16] = "", target[256] = "", version[16] = "", val[256], extra[64] = "";
	uint8_t *plain = NULL, rbody[256];
	size_t plain_len = body_len, n;
	enum signal sig;
	bool close_after;
	long answer;

	if (sscanf(head, "%15s %255s %15s", method, target, version) != 3)
		return fail(fd, 400, "Bad Request", "bad request line", true);
	close_after = strcmp(version, "HTTP/1.1") ||
		      (header(head, "Connection", val, sizeof(val)) && !strcasecmp(val, "close"));
	opt.n_req++;
	if (opt.verbose)
		log_head(head, body_len);
	if (strcmp(method, "POST"))
		return fail(fd, 405, "Method Not Allowed", "POST only", close_after);
	if (!strcmp(target, "/v1/traces"))
		sig = SIG_TRACES;
	else if (!strcmp(target, "/v1/metrics"))
		sig = SIG_METRICS;
	else
		return fail(fd, 404, "Not Found", "taken at /v1/traces and /v1/metrics",
			    close_after);
	if (!header(head, "Content-Type", val, sizeof(val)) ||
	    strcasecmp(val, "application/x-protobuf"))
		return fail(fd, 415, "Unsupported Media Type", "binary protobuf only", close_after);
	/* counted per signal: an exporter's metrics must not use up the failures a
	 * test meant for its spans */
	if (opt.failed[sig] < opt.fail_first) {
		opt.failed[sig]++;
		if (opt.retry_after >= 0)
			snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", opt.retry_after);
		n = status_body(rbody, "injected failure");
		return reply(fd, opt.fail_code, "Injected", extra, rbody, n, close_after);
	}
	if (header(head, "Content-Encoding", val, sizeof(val)) && strcasecmp(val, "identity")) {
		if (strcasecmp(val, "gzip"))
			return fail(fd, 415, "Unsupported Media Type", "gzip or nothing",
				    close_after);
		if (gunzip(body, body_len, &plain, &plain_len))
			return fail(fd, 400, "Bad Request", "bad gzip body", close_after);
		body = plain;
	}
	answer = sig == SIG_TRACES ? take_traces(body, plain_len, rbody)
				   : take_metrics(body, plain_len, rbody);
	free(plain);
	if (answer < 0)
		return fail(fd, 400, "Bad Request",
			    sig == SIG_TRACES ? "not an ExportTraceServiceRequest"
					      : "not an ExportMetricsServiceRequest",
			    close_after);
	return reply(fd, 200, "OK", NULL, answer ? rbody : NULL, (size_t)answer, close_after);
}

/* A chunked body (RFC 9112 7.1), as an SDK's exporter may send it (the
 * Node.js OTLP exporter does): its bytes joined in *out. Returns the
 * length it took on the wire, 0 while incomplete, -1 when malformed. */
static long dechunk(const char *p, size_t n, uint8_t **out, size_t *out_len)
{
	size_t o = 0, len = 0;
	uint8_t *b = NULL, *grown;

	for (;;) {
		const char *eol = memmem(p + o, n - o, "\r\n", 2);
		unsigned long size;
		char *num_end;

		if (!eol)
			break;
		size = strtoul(p + o, &num_end, 16);
		if (num_end == p + o || size > BODY_MAX || len + size > BODY_MAX)
			goto bad;
		o = (size_t)(eol - p) + 2; /* past the size line and any extension */
		if (!size) {
			/* no trailers expected: the last chunk ends in an empty line */
			const char *done = memmem(p + o, n - o, "\r\n", 2);

			if (!done)
				break;
			if (done != p + o)
				goto bad;
			*out = b;
			*out_len = len;
			return (long)(o + 2);
		}
		if (n - o < size + 2)
			break;
		grown = realloc(b, len + size);
		if (!grown)
			goto bad;
		b = grown;
		memcpy(b + len, p + o, size);
		len += size;
		o += size + 2;
	}
	free(b);
	return 0;
bad:
	free(b);
	return -1;
}

/* Handles every complete request in c's buffer. Returns -1 to close. */
static int drain(struct conn *c)
{
	char *end, val[32];
	size_t head_len, body_len;
	unsigned long cl;
	int rc;

	for (;;) {
		end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (!end)
			return c->len > HEAD_MAX
				   ? fail(c->fd, 431, "Too Large", "head too large", true)
				   : 0;
		head_len = (size_t)(end - c->buf) + 4;
		end[2] = 0; /* the head as a string, ending in its last CRLF */
		if (header(c->buf, "Transfer-Encoding", val, sizeof(val))) {
			uint8_t *body = NULL;
			long taken;

			if (strcasecmp(val, "chunked"))
				return fail(c->fd, 411, "Length Required",
					    "Content-Length or chunked only", true);
			taken = dechunk(c->buf + head_len, c->len - head_len, &body, &body_len);
			if (taken < 0)
				return fail(c->fd, 400, "Bad Request", "bad chunked body", true);
			if (!taken) {
				end[2] = '\r';
				return c->len > 2 * (size_t)BODY_MAX ? -1 : 0;
			}
			rc = handle(c->fd, c->buf, body, body_len);
			free(body);
			if (rc)
				return rc;
			memmove(c->buf, c->buf + head_len + taken, c->len - head_len - taken);
			c->len -= head_len + (size_t)taken;
			continue;
		}
		cl =
		    header(c->buf, "Content-Length", val, sizeof(val)) ? strtoul(val, NULL, 10) : 0;
		if (cl > BODY_MAX)
			return fail(c->fd, 413, "Content Too Large", "body over 64 MiB", true);
		body_len = cl;
		if (c->len < head_len + body_len) {
			/* a client that asked waits for this before sending the body */
			if (!c->continued && header(c->buf, "Expect", val, sizeof(val)) &&
			    !strcasecmp(val, "100-continue")) {
				if (io_write(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 25)
					return -1;
				c->continued = true;
			}
			end[2] = '\r'; /* not complete yet: put the head back as it was */
			return 0;
		}
		c->continued = false;
		rc = handle(c->fd, c->buf, (uint8_t *)c->buf + head_len, body_len);
		if (rc)
			return rc;
		memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
		c->len -= head_len + body_len;
	}
}

static int read_conn(struct conn *c)
{
	ssize_t r;
	char *grown;
	int rc;

	if (c->cap - c->len < 65536) {
		size_t cap = c->cap ? c->cap * 2 : 131072;

		if (cap > 2 * (size_t)BODY_MAX || !(grown = realloc(c->buf, cap)))
			return -1;
		c->buf = grown;
		c->cap = cap;
	}
	r = io_read(c->fd, c->buf + c->len, c->cap - c->len);
	if (r <= 0)
		return -1;
	c->len += (size_t)r;
	rc = drain(c);
	/* TLS may hold decrypted bytes that poll() cannot see */
	if (!rc && c->fd < MAX_FD && tls_of[c->fd] && SSL_pending(tls_of[c->fd]) > 0)
		return read_conn(c);
	return rc;
}

static int listen_on(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&a, &al)) {
		fprintf(stderr, "otlp_receiver: 127.0.0.1:%d: %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	fprintf(stderr, "otlp_receiver: listening on 127.0.0.1:%u\n", ntohs(a.sin_port));
	return fd;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: otlp_receiver [--port PORT] [--metrics-out FILE] [--fail-first N]\n"
		"                     [--fail-code CODE] [--retry-after SECONDS] [--partial N]\n"
		"                     [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]\n"
		"                     [--verbose]\n");
}

static int parse_args(int argc, char **argv, int *port)
{
	static const struct option longopts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"metrics-out", required_argument, NULL, 'm'},
	    {"fail-first", required_argument, NULL, 'f'},
	    {"fail-code", required_argument, NULL, 'c'},
	    {"retry-after", required_argument, NULL, 'r'},
	    {"partial", required_argument, NULL, 'P'},
	    {"tls-cert", required_argument, NULL, 'C'},
	    {"tls-key", required_argument, NULL, 'K'},
	    {"tls-client-ca", required_argument, NULL, 'A'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			*port = atoi(optarg);
			break;
		case 'm':
			if (opt.metrics_out && opt.metrics_out != stdout)
				fclose(opt.metrics_out);
			opt.metrics_out = strcmp(optarg, "-") ? fopen(optarg, "a") : stdout;
			if (!opt.metrics_out) {
				fprintf(stderr, "otlp_receiver: %s: %s\n", optarg, strerror(errno));
				return -1;
			}
			break;
		case 'f':
			opt.fail_first = atoi(optarg);
			break;
		case 'c':
			opt.fail_code = atoi(optarg);
			break;
		case 'r':
			opt.retry_after = atoi(optarg);
			break;
		case 'P':
			opt.partial = atoi(optarg);
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'C':
			opt.tls_cert = optarg;
			break;
		case 'K':
			opt.tls_key = optarg;
			break;
		case 'A':
			opt.tls_client_ca = optarg;
			break;
		default:
			usage();
			return ch == 'h' ? 1 : -1;
		}
	}
	if (optind < argc || *port < 0 || *port > 65535 || opt.fail_code < 100 ||
	    opt.fail_code > 599 || !opt.tls_cert != !opt.tls_key ||
	    (opt.tls_client_ca && !opt.tls_cert)) {
		usage();
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct pollfd pfd[MAX_CONNS + 1];
	struct conn conns[MAX_CONNS];
	struct sigaction sa = {.sa_handler = on_sig};
	int port = 4318, lfd, n = 0, i, fd, rc;

	rc = parse_args(argc, argv, &port);
	if (rc)
		return rc > 0 ? 0 : 2;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (opt.tls_cert && tls_init())
		return 1;
	lfd = listen_on(port);
	if (lfd < 0)
		return 1;
	printf("ready\n");
	fflush(stdout);

	while (!stop) {
		pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (i = 0; i < n; i++)
			pfd[i + 1] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
		if (poll(pfd, (nfds_t)n + 1, 500) < 0) {
			if (errno == EINTR)
				continue;
			perror("otlp_receiver: poll");
			return 1;
		}
		/* connections first: accepting may move conns[] around */
		for (i = n - 1; i >= 0; i--) {
			if (!(pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (read_conn(&conns[i]) < 0) {
				io_close(conns[i].fd);
				free(conns[i].buf);
				conns[i] = conns[--n];
			}
		}
		if (pfd[0].revents & POLLIN) {
			fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0 && (n == MAX_CONNS || (tls_ctx && tls_accept(fd))))
				close(fd);
			else if (fd >= 0)
				conns[n++] = (struct conn){.fd = fd};
		}
	}
	for (i = 0; i < n; i++) {
		io_close(conns[i].fd);
		free(conns[i].buf);
	}
	close(lfd);
	SSL_CTX_free(tls_ctx);
	if (opt.metrics_out && opt.metrics_out != stdout)
		fclose(opt.metrics_out);
	return 0;
}
