/* SPDX-License-Identifier: Apache-2.0 */
/* obs.h: one observation of a request/response protocol on a socket, the
 * one thing that flows from capture to spans. The capture reader (events.c)
 * makes it from the kernel's records, with the protocol's parser (proto.h)
 * for the fields the bytes hold; the pipeline (tracing.c) adds the service
 * of the socket's process (identity.h); the span builder (spanbuild.h)
 * reads it and never sees a byte of the wire. Nothing in it is specific to
 * one protocol: HTTP/1.x, HTTP/2 and gRPC all fill the same fields.
 *
 * A connection has two sockets (client side, server side), each with its
 * own cookie; bpfmesh may see one side or both. */
#ifndef BPFMESH_OBS_H
#define BPFMESH_OBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "exporters/span.h"

#define OBS_METHOD_MAX 16
#define OBS_TARGET_MAX 256	/* path (span.h SPAN_STR) */
#define OBS_HOST_MAX 128	/* span.h SPAN_NAME_MAX */
#define OBS_TRACEPARENT_MAX 128 /* a valid value is read from its first 56 characters */
#define OBS_TRACESTATE_MAX 256
#define OBS_NAME_MAX 128 /* service names (span.h SPAN_NAME_MAX) */

enum obs_kind {
	OBS_REQUEST = 1,      /* a request starts (its first byte) */
	OBS_RESPONSE = 2,     /* a response starts */
	OBS_RESPONSE_END = 3, /* last byte of the response the framing announced */
	OBS_CLOSE = 4,	      /* the socket closed (error != 0: reset, timeout, ...) */
	/* how far the response in flight got (resp_at), its latest byte at
	 * ts_ns: the response ends there when that is all its head announced */
	OBS_RESPONSE_AT = 5,
};

enum obs_role {
	OBS_ROLE_CLIENT = 1, /* this socket sends requests */
	OBS_ROLE_SERVER = 2, /* this socket receives requests */
};

/* Which parser read the message (proto.c registers them). */
enum obs_proto {
	OBS_PROTO_NONE = 0, /* no parser claimed the bytes; or no message (END, CLOSE) */
	OBS_PROTO_HTTP1 = 1,
	OBS_PROTO_H2 = 2, /* HTTP/2 (h2c), gRPC over it (trace/h2_conn.h) */
};

/* The RPC system a request belongs to, when it is one. */
enum obs_rpc {
	OBS_RPC_NONE = 0,
	OBS_RPC_GRPC = 1, /* content-type application/grpc* */
};

/* How much of a message's head the parser could read. */
enum obs_parse {
	OBS_PARSE_OK = 0,  /* all of it */
	OBS_PARSE_CUT = 1, /* the capture ends inside it: fields from complete parts only */
	OBS_PARSE_BAD = 2, /* not a message (of the protocol claimed, or of any): no field */
};

/* What the head of a response says about its body. */
enum obs_body {
	OBS_BODY_FRAMED = 0,   /* unknown (a head cut before its framing): what follows it on
				* the socket, or a timeout, ends it */
	OBS_BODY_NONE = 1,     /* none: the response ends with its head */
	OBS_BODY_TO_CLOSE = 2, /* no length: the connection's close ends it */
	OBS_BODY_LENGTH = 3,   /* framed by Content-Length or chunked, read from the whole
				* head: a close before its last byte cuts the response */
};

/* Whether the process exports spans of its own with an OpenTelemetry SDK
 * (Workload spec.tracing.instrumented): then the span builder exports none
 * that duplicate them. AUTO: when it is seen sending traceparents of its own. */
enum obs_instr {
	OBS_INSTR_AUTO = 0,
	OBS_INSTR_YES = 1,
	OBS_INSTR_NO = 2,
};

/* How far a response got on the wire (bpf/http.h struct http_resp_at). */
struct obs_resp_at {
	uint32_t seq0;	/* TCP sequence number of its head segment's first byte */
	uint32_t bytes; /* bytes from there to the furthest seen */
	char tail[8];	/* the last bytes of the segment that brought the furthest */
};

/* Do the 5 bytes at p end a chunked body ("0\r\n\r\n", no trailers)? */
static inline bool obs_chunks_end(const char *p) { return !memcmp(p, "0\r\n\r\n", 5); }

struct obs_addr {
	int family; /* AF_INET / AF_INET6 */
	uint8_t addr[16];
	uint16_t port; /* host order */
};

struct obs {
	/* capture (events.c), every kind */
	uint64_t cookie;	       /* socket cookie: one side of one connection */
	uint8_t kind;		       /* enum obs_kind */
	uint8_t role;		       /* enum obs_role */
	uint64_t ts_ns;		       /* CLOCK_MONOTONIC: first byte (REQUEST, RESPONSE), last byte
					* (RESPONSE_END), latest byte (RESPONSE_AT) or close */
	uint32_t tgid, tid;	       /* thread that sent (client) or read (server) the request;
					* 0 when unknown */
	char comm[16];		       /* that process's name */
	uint64_t cgroup_id;	       /* its cgroup v2 id (0 when unknown) */
	struct obs_addr local, remote; /* of this socket */
	int error;		       /* OBS_CLOSE: errno (ECONNRESET, ETIMEDOUT), 0 = orderly */
	uint64_t body_last_ns;	       /* OBS_CLOSE: when the latest byte of a response still in
					* flight passed (CLOCK_MONOTONIC), 0 when unknown */
	/* OBS_CLOSE (when body_last_ns), OBS_RESPONSE_AT: how far that
	 * response got; OBS_RESPONSE: resp_at.seq0 names the segment its
	 * head is in (bytes are counted from its first byte) */
	struct obs_resp_at resp_at;

	/* the protocol's parser (proto.h): REQUEST and RESPONSE */
	uint8_t proto;	    /* enum obs_proto */
	uint8_t parse;	    /* enum obs_parse */
	uint32_t stream_id; /* the message's stream on the connection; 0 when the protocol
			     * has one exchange at a time, answered in order (HTTP/1.x) */
	/* REQUEST */
	char method[OBS_METHOD_MAX]; /* as sent ("GET", "BREW"); gRPC: "POST" */
	char target[OBS_TARGET_MAX]; /* the path, without query; gRPC: "/package.Service/Method" */
	bool target_truncated;	     /* target is only a prefix of the real one */
	bool bodiless_response;	     /* its response has no body, whatever its head says (HEAD) */
	char host[OBS_HOST_MAX];     /* Host / :authority as sent; "" when absent or too long */
	char query[OBS_TARGET_MAX];  /* after '?', without it; "" none */
	bool query_truncated;	     /* query is only a prefix of the real one */
	uint8_t version;	     /* 10 (HTTP/1.0), 11, 20 (HTTP/2); 0 unknown */
	char user_agent[OBS_HOST_MAX]; /* User-Agent as sent, cut to fit */
	/* W3C Trace Context headers as sent, not validated (tracectx.h does):
	 * "" when absent; traceparent also "" when sent more than once (then no
	 * value is valid), tracestate the comma-joined field lines, "" when
	 * they do not fit (never a cut list) */
	char traceparent[OBS_TRACEPARENT_MAX];
	char tracestate[OBS_TRACESTATE_MAX];
	/* a client socket's first request, from capture: lb_known says
	 * whether the load balancer's answer came with it, svc is the service
	 * address connect() named when the balancer connected the socket
	 * (family 0: it did not). Without lb_known the span builder asks
	 * (sb_config.service_addr). */
	bool lb_known;
	struct obs_addr svc;
	/* RESPONSE */
	uint16_t status; /* 100..599; 0 when unreadable */
	uint8_t body;	 /* enum obs_body */
	/* OBS_BODY_LENGTH: bytes from the first of its head's segment to its
	 * last (Content-Length framing), 0 when chunked or not known */
	uint64_t resp_need;
	bool chunked; /* its body is chunked: it ends with "0\r\n\r\n" */
	/* HTTP/2: REQUEST, RESPONSE, RESPONSE_END */
	uint8_t rpc;	      /* enum obs_rpc, of the request */
	bool desync;	      /* the connection lost bytes: fields may be missing, never wrong */
	bool has_grpc_status; /* grpc-status from the trailers (RESPONSE_END) or a trailers-only
			       * response (RESPONSE and RESPONSE_END) */
	uint8_t grpc_status;
	bool stream_reset; /* RESPONSE_END: RST_STREAM or GOAWAY ended the stream, not END_STREAM */
	uint32_t h2_error; /* its error code (RFC 9113 7) */

	/* the service of the socket's process (identity.h): REQUEST. From here
	 * to the end, what identity_resolve() writes of every request: the
	 * capture (events.c) leaves these bytes as they were (a string's bytes
	 * past its NUL are no part of it) */
	char service[OBS_NAME_MAX];
	char service_ns[OBS_NAME_MAX];
	struct span_k8s k8s; /* the pod's identity, when the process is a pod's */
	bool
	    not_traced; /* its requests make no spans (honoured; identity.c sets it for none yet) */
	uint8_t instrumented; /* enum obs_instr: its Workload's spec.tracing.instrumented */
	/* which resolution of its socket's identity the five fields above come
	 * from (identity.c numbers each, never twice in a process): equal
	 * non-zero numbers carry equal fields, so the builder need not compare
	 * 760 bytes per request; 0: not numbered, compare them */
	uint64_t id_seq;
};

_Static_assert(offsetof(struct obs, id_seq) + sizeof(uint64_t) == sizeof(struct obs),
	       "the identity's fields are the last of struct obs (events.c clears the rest)");

/* Addresses compare as bytes: IPv4-mapped IPv6 folded to IPv4, unused
 * bytes zero, so a dual-stack server's view of a v4 client matches the
 * client's own. */
static inline void obs_addr_fold(const struct obs_addr *in, struct obs_addr *out)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	struct obs_addr a;

	memset(&a, 0, sizeof(a));
	a.port = in->port;
	if (in->family == AF_INET6 && !memcmp(in->addr, mapped, sizeof(mapped))) {
		a.family = AF_INET;
		memcpy(a.addr, in->addr + 12, 4);
	} else if (in->family == AF_INET) {
		a.family = AF_INET;
		memcpy(a.addr, in->addr, 4);
	} else {
		a.family = in->family;
		memcpy(a.addr, in->addr, 16);
	}
	*out = a;
}

#endif
