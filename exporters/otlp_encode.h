/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_encode.h: the OTLP/HTTP wire format of traces: spans to a serialized
 * ExportTraceServiceRequest, gzip for the request body, and what the
 * collector answers (ExportTraceServiceResponse on success, google.rpc.Status
 * on failure). Pure functions: no I/O, no global state. */
#ifndef BPFMESH_OTLP_ENCODE_H
#define BPFMESH_OTLP_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "exporters/span.h"

#define OTLP_SCOPE_NAME "bpfmesh" /* also telemetry.sdk.name */

/* OTLP Span.flags above the W3C trace flags (SpanFlags in trace.proto) */
#define OTLP_FLAGS_HAS_IS_REMOTE 0x100 /* SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK */
#define OTLP_FLAGS_IS_REMOTE 0x200     /* SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK */

struct otlp_node;

/* A heap buffer the caller releases with otlp_buf_free(). */
struct otlp_buf {
	uint8_t *data;
	size_t len;
};

void otlp_buf_free(struct otlp_buf *b);

/* Serialize n spans into one ExportTraceServiceRequest: one ResourceSpans per
 * resource, in order of first appearance: service.name, service.namespace,
 * host.name and, for a pod's span (span.k8s), service.instance.id (pod UID
 * "/" container) and the k8s.* attributes, so two pods or two containers of
 * one service are two resources. Each has one ScopeSpans
 * (OTLP_SCOPE_NAME, scope_version). Strings that are
 * not valid UTF-8 are sent with U+FFFD in place of the bad bytes (protobuf
 * strings must be UTF-8, and a collector refuses the whole request otherwise);
 * a string field without its NUL is sent empty. Returns 0, or -ENOMEM. */
int otlp_encode_traces(const struct span *spans, size_t n, const char *scope_version,
		       struct otlp_buf *out);

/* The same, with the machine's resource attributes (otlp_node.h; NULL: none)
 * on every resource. Either way a resource also has telemetry.sdk.name
 * (bpfmesh), .version (scope_version) and .language (where the process's
 * name says it), process.pid and process.executable.name, and a process
 * outside a pod service.instance.id "host.id (else host.name):pid". Spans
 * carry url.scheme, url.query, url.full (CLIENT), error.type,
 * network.protocol.version, user_agent.original, tracestate and the W3C
 * flags with the remote-parent bits. */
int otlp_encode_traces_node(const struct span *spans, size_t n, const char *scope_version,
			    const struct otlp_node *node, struct otlp_buf *out);

/* gzip (RFC 1952) of in, for Content-Encoding: gzip. Returns 0, or -ENOMEM. */
int otlp_gzip(const uint8_t *in, size_t len, struct otlp_buf *out);

/* A 2xx answer's body. A collector that accepted part of the data says how many
 * spans it rejected and why; an empty body is full success. Returns 0 (with
 * *rejected >= 0 and msg filled, possibly empty) or -EINVAL when the body is
 * not an ExportTraceServiceResponse. */
int otlp_decode_response(const uint8_t *body, size_t len, int64_t *rejected, char *msg,
			 size_t msg_size);

/* What a 2xx answer's partial_success says, for both signals' responses:
 * *rejected = count (negative taken as 0) and msg = message on one printable
 * line (message may be NULL). */
void otlp_partial_success(int64_t count, const char *message, int64_t *rejected, char *msg,
			  size_t msg_size);

/* The message of a google.rpc.Status error body (field 2), for the log.
 * Returns 0 and msg, or -ENOENT when the body is not such a message or has none. */
int otlp_status_message(const uint8_t *body, size_t len, char *msg, size_t msg_size);

#endif
