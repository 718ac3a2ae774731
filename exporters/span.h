/* SPDX-License-Identifier: Apache-2.0 */
/* span.h: a finished span, as the span builder (agent/trace/spanbuild.c) hands it
 * to the exporters (exporters/otlp*.c) and the trace API. Plain data, no
 * pointers, so spans can be copied into bounded queues. Names follow the
 * OpenTelemetry semantic conventions (DESIGN.md, "Telemetry names").
 * A string field ends at its first NUL (or at its size - 1, cut); the bytes
 * after the NUL are not part of the span and need not be zero (span_pack.h,
 * span_clear()). */
#ifndef BPFMESH_SPAN_H
#define BPFMESH_SPAN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define SPAN_STR 256	  /* path, route, name */
#define SPAN_NAME_MAX 128 /* service names, addresses */

enum span_kind {
	SPAN_KIND_SERVER = 2, /* OTLP Span.SpanKind values */
	SPAN_KIND_CLIENT = 3,
};

enum span_status {
	SPAN_STATUS_UNSET = 0, /* OTLP Status.StatusCode values */
	SPAN_STATUS_OK = 1,
	SPAN_STATUS_ERROR = 2,
};

struct span_endpoint {
	char address[SPAN_NAME_MAX]; /* textual IP */
	uint16_t port;
};

/* The Kubernetes identity of a pod's span: the resource's k8s.* attributes
 * (OpenTelemetry semantic conventions), k8s.namespace.name being
 * span.service_namespace. pod_uid "" means the span is no pod's, and then
 * every field is "". */
struct span_k8s {
	char pod_name[SPAN_NAME_MAX];	/* k8s.pod.name */
	char pod_uid[40];		/* k8s.pod.uid */
	char container_name[64];	/* k8s.container.name; "" when the cgroup does not say */
	char node_name[SPAN_NAME_MAX];	/* k8s.node.name */
	char owner_kind[16];		/* Deployment, StatefulSet, DaemonSet, ReplicaSet, Job */
	char owner_name[SPAN_NAME_MAX]; /* k8s.<owner kind>.name */
};

/* The semantic conventions' attribute for a pod's controller kind
 * ("Deployment": "k8s.deployment.name"), NULL for one they do not name. */
static inline const char *span_k8s_owner_key(const char *kind)
{
	static const char *const keys[][2] = {
	    {"Deployment", "k8s.deployment.name"},
	    {"StatefulSet", "k8s.statefulset.name"},
	    {"DaemonSet", "k8s.daemonset.name"},
	    {"ReplicaSet", "k8s.replicaset.name"},
	    {"Job", "k8s.job.name"},
	    {"CronJob", "k8s.cronjob.name"},
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(kind, keys[i][0]))
			return keys[i][1];
	return NULL;
}

struct span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_span_id[8]; /* all zero: a root span */
	uint8_t kind;		   /* enum span_kind */
	uint8_t status;		   /* enum span_status */
	uint8_t sampled;	   /* W3C trace-flags bit 0 */
	/* W3C trace-flags of the span's context (bit 0 set from sampled at
	 * export) and whether its parent came from a traceparent header rather
	 * than from a span bpfmesh made (OTLP Span.flags bits 8-9) */
	uint8_t trace_flags;
	bool parent_remote;
	uint64_t start_unix_ns;
	uint64_t end_unix_ns;

	char name[SPAN_STR];		    /* SERVER "GET /api/v1/users/{id}", CLIENT "GET" */
	char status_message[SPAN_NAME_MAX]; /* e.g. "connection reset" when no response came */
	char tracestate[256];		    /* W3C tracestate of the incoming context, "" none */

	/* attributes (OpenTelemetry HTTP semantic conventions, stable) */
	char method[16];		/* http.request.method; "_OTHER" for an unknown one */
	char method_original[16];	/* http.request.method_original: the "_OTHER" one */
	uint16_t status_code;		/* http.response.status_code; 0 = no response */
	char error_type[32];		/* error.type: "500", "connection_reset", ...; "" none */
	uint8_t http_version;		/* network.protocol.version: 10, 11; 0 unknown */
	char path[SPAN_STR];		/* url.path */
	char query[SPAN_STR];		/* url.query, already redacted as configured */
	char authority[SPAN_NAME_MAX];	/* CLIENT url.full's host[:port], the Host header */
	char user_agent[SPAN_NAME_MAX]; /* user_agent.original */
	char route[SPAN_STR];		/* http.route (exported on SERVER spans only) */
	struct span_endpoint server;	/* server.address / server.port: as the application
					 * addressed the server (Host header, else the socket) */
	struct span_endpoint client;	/* client.address (SERVER spans) */
	struct span_endpoint peer;	/* network.peer.address / .port */
	/* gRPC (rpc.*): route is "package.Service/Method", the path without
	 * its '/'; rpc.service and rpc.method are its two parts */
	bool rpc_grpc;		  /* rpc.system = grpc; no http.route */
	bool has_grpc_status;	  /* rpc.grpc.status_code known */
	uint8_t grpc_status_code; /* 0 OK .. 16 UNAUTHENTICATED */

	/* resource */
	char service_name[SPAN_NAME_MAX];      /* service.name */
	char service_namespace[SPAN_NAME_MAX]; /* service.namespace */
	char host_name[SPAN_NAME_MAX];	       /* host.name */
	uint32_t pid;			       /* process.pid; 0 unknown */
	char exe_name[16];		       /* process.executable.name (the process's comm) */
	struct span_k8s k8s;		       /* k8s.*, service.instance.id */
};

#endif
