/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* http.h: the ABI of HTTP/1.x capture, shared by bpf/http.bpf.c and the
 * agent's event reader (agent/trace/events.c). The kernel finds where requests
 * and responses start on the wire and sends their heads; it follows each
 * response's bytes (TCP sequence numbers, the time its latest byte passed)
 * without parsing them. The agent parses the heads, knows from a response's
 * head how many bytes it has, and builds spans. */
#ifndef BPFMESH_HTTP_H
#define BPFMESH_HTTP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define HTTP_HEAD_MAX 1024   /* bytes of a segment sent with a head event */
#define HTTP_CTX_SCAN 8192   /* bytes of a request head searched for its trace context */
#define HTTP_MAX_CONNS 65536 /* sockets with HTTP state (LRU) */

enum http_ev_kind {
	HTTP_EV_REQUEST = 1,  /* a request head starts in this segment */
	HTTP_EV_RESPONSE = 2, /* a response head starts */
	/* 3 was RESPONSE_END, the response's last byte by its framing, which
	 * the kernel no longer parses (struct http_resp_at says how far a
	 * response got) */
	HTTP_EV_CLOSE = 4,  /* a socket that carried HTTP closed */
	HTTP_EV_THREAD = 5, /* another thread than before sent on (or read from) an HTTP socket */
	HTTP_EV_H2 = 8,	    /* frames of an HTTP/2 connection (bpf/h2.h) */
};

enum http_dir {
	HTTP_DIR_EGRESS = 1,  /* this socket sent it */
	HTTP_DIR_INGRESS = 2, /* this socket received it */
};

/* http_event.cookie of a connection seen by tc on a host-side interface: a
 * hash of its 4-tuple with this bit set (socket cookies never have it). */
#define HTTP_TC_KEY (1ULL << 63)

/* Records are variable-sized: the fields up to head (HTTP_EV_HDR bytes),
 * then head_len bytes of head for REQUEST and RESPONSE; THREAD and CLOSE
 * records stop at head. The ring takes only sizes known when the program
 * is verified, so a head record is reserved in one of a few classes
 * (HTTP_EV_HDR + 64, 128, 256, 512 or 1024 bytes of head), the smallest that
 * holds the segment's first bytes (up to HTTP_HEAD_MAX), and the bytes past
 * head_len are not the segment's. The agent finds requests pipelined after
 * the first, and responses pipelined after the first when the first's
 * framing says where it ends.
 *
 * A request segment longer than HTTP_HEAD_MAX whose first head does not end
 * within those bytes is searched further, up to HTTP_CTX_SCAN bytes, for
 * traceparent and tracestate lines that end past them: when it finds any,
 * its record carries a struct http_req_ctx after the HTTP_HEAD_MAX head
 * bytes (head_len = HTTP_HEAD_MAX + sizeof(struct http_req_ctx)). Only the
 * segment's own bytes are searched: a head continued in the next segment
 * (a head longer than the MTU on the tc path) is counted like one longer
 * than HTTP_CTX_SCAN (HTTP_DROP_HEAD_LONG).
 *
 * Where a response ends is the agent's to say: the kernel reads no framing.
 * It keeps, per socket, how far the response in flight got (struct
 * http_resp_at in struct http_conn: sequence numbers, the time its latest
 * byte passed, the last bytes of its latest segment) and reports that
 * with the next record on the socket that needs it (a request, the next
 * response, the close); the agent reads the same state from http_conns3
 * for a response still open with nothing after it. */

/* How far the response in flight on a socket got. bytes counts from the
 * first byte of the segment its head started in, by TCP sequence number
 * (retransmitted bytes count once; a response past 4 GiB wraps). */
struct http_resp_at {
	__u32 seq0;  /* TCP sequence number of that segment's first byte */
	__u32 bytes; /* bytes of the response's direction from seq0 to the furthest seen */
	/* the last 8 bytes up to the furthest byte (a chunked body's end,
	 * "0\r\n\r\n"), from the segments that moved it: of the head's
	 * segment only when that is longer than HTTP_HEAD_MAX (the agent has
	 * the bytes of a shorter one), so an end split between the head's
	 * segment and the next is not seen here */
	char tail[8];
};

/* http_event.flags of a REQUEST, RESPONSE or CLOSE record (an H2 record's
 * are bpf/h2.h's) */
/* RESPONSE: resp.tail holds the segment's last bytes (head_len < seg_len) */
#define HTTP_EVF_TAIL 1
/* REQUEST, CLOSE: body_last_ns and resp say how far the response in flight
 * got; RESPONSE: body_last_ns is when the previous one's last byte passed */
#define HTTP_EVF_RESP 2
/* REQUEST: the first a client socket sent, looked up in the load balancer's
 * lb_conns (by cookie; never with HTTP_EVF_RESP, and not on tc keys):
 * with HTTP_EVF_SVC the balancer connected it and svc_addr, svc says what
 * connect() named, without it the balancer did not. The agent asks no
 * more, and knows it even when the socket closed before it read the
 * record (lb_conns forgets a socket when it goes). */
#define HTTP_EVF_LB 4
#define HTTP_EVF_SVC 8

struct http_event {
	__u64 ts;	/* CLOCK_MONOTONIC: bpf_ktime_get_ns(), a sent head TCP's stamp */
	__u64 cookie;	/* socket cookie, or a tc connection key (HTTP_TC_KEY) */
	__u64 pid_tgid; /* task context only (egress from sendmsg, the recv tracepoint); else 0 */
	union {
		__u64 cgroup_id; /* THREAD: the task's cgroup v2 id (names it after it exited) */
		/* HTTP_EVF_RESP: when the latest byte of the response in flight
		 * passed (bpf_ktime_get_ns()); else 0 */
		__u64 body_last_ns;
		/* REQUEST with HTTP_EVF_SVC */
		struct {
			__u16 port; /* host order */
			__u8 family;
			__u8 pad[5];
		} svc;
	};
	__u8 kind;   /* enum http_ev_kind */
	__u8 dir;    /* enum http_dir */
	__u8 family; /* AF_INET / AF_INET6 */
	__u8 flags;  /* HTTP_EVF_*; HTTP/2: H2_F_* */
	__s32 error; /* CLOSE: sk_err */
	__u8 local[16];
	__u8 remote[16];
	__u16 lport; /* host order */
	__u16 rport;
	__u16 head_len;
	__u16 seg_len; /* REQUEST, RESPONSE: payload bytes of the segment (capped at 65535) */
	union {
		char comm[16]; /* THREAD: the process's name */
		/* RESPONSE: seq0 is this segment's (resp.bytes 0), tail its last
		 * bytes with HTTP_EVF_TAIL. REQUEST, CLOSE with HTTP_EVF_RESP:
		 * the response in flight */
		struct http_resp_at resp;
		__u8 svc_addr[16]; /* REQUEST with HTTP_EVF_SVC (IPv4: the first 4) */
	};
	char head[HTTP_HEAD_MAX];
};
#define HTTP_EV_HDR 96 /* offsetof(struct http_event, head) */
_Static_assert(sizeof(struct http_event) == HTTP_EV_HDR + HTTP_HEAD_MAX, "http_event ABI");

/* powers of two: the copies' lengths are bounded by a mask */
#define HTTP_CTX_TP 128 /* bytes of a traceparent line kept (a valid one has 68) */
#define HTTP_CTX_TS 512 /* bytes of a tracestate line kept; a longer one is lost */

/* http_req_ctx.flags */
#define HTTP_CTX_TS_LOST 1 /* a tracestate line was longer than HTTP_CTX_TS */

/* The trace context of a request head found past its record's first
 * HTTP_HEAD_MAX bytes: its lines from the name on, as sent (a CR at the
 * end included), NUL-padded. Only the first of each name is copied; their
 * counts say whether there were more (several traceparent lines make none
 * valid, W3C). */
struct http_req_ctx {
	__u8 n_traceparent;
	__u8 n_tracestate;
	__u8 flags; /* HTTP_CTX_* */
	__u8 reserved[5];
	char traceparent[HTTP_CTX_TP];
	char tracestate[HTTP_CTX_TS];
};
_Static_assert(sizeof(struct http_req_ctx) == 648, "http_req_ctx ABI");

/* The largest record: a request with its context. */
#define HTTP_EV_MAX (HTTP_EV_HDR + HTTP_HEAD_MAX + 648)

/* http_drops index: why capture lost something (never silently). */
enum http_drop_reason {
	HTTP_DROP_RINGBUF = 0,	/* ring buffer full */
	HTTP_DROP_CONNS = 1,	/* http_conns3 (or http.bpf.c's http_early) update failed */
	HTTP_DROP_LOAD = 2,	/* payload could not be read */
	HTTP_DROP_PIPELINE = 3, /* unused: the agent splits pipelined requests */
	/* a request head went on past what its context search reads (its
	 * segment's end, or HTTP_CTX_SCAN bytes): a traceparent past that is
	 * not seen */
	HTTP_DROP_HEAD_LONG = 4,
	/* from here on, things seen rather than lost: TLS ClientHellos (a
	 * connection capture cannot read; bpf/lib/h2.bpf.h) */
	HTTP_COUNT_TLS_SENT = 5, /* sent by a socket (its client) */
	HTTP_COUNT_TLS_RECV = 6, /* received by a socket (its server) */
	HTTP_DROP_MAX = 8,
};

/* http_conns3 value: how far the response in flight got, and the threads
 * the agent was last told about. A THREAD record is sent only when a
 * socket's sending (or reading) thread differs from the one before: a
 * thread keeps a keep-alive connection for many requests, and the agent
 * remembers it per socket (agent/trace/evthreads.c). A socket past its
 * first few send and read calls keeps its threads in its own storage
 * instead (http.bpf.c, http_thr). */
struct http_conn {
	/* when the latest byte of the response in flight passed
	 * (bpf_ktime_get_ns()); 0 when none is */
	__u64 resp_last;
	struct http_resp_at resp;
	__u8 resp_state; /* HTTP_RESP_*: a response in flight */
	__u8 resp_dir;	 /* enum http_dir: the way its bytes go */
	__u8 roles;	 /* HTTP_ROLE_*: what requests the socket sent or received */
	__u8 tp_runs;	 /* tracepoint runs that found the socket here, up to HTTP_THR_AFTER */
	__u8 lb;	 /* HTTP_LB_*: did the load balancer connect the socket (outliers) */
	__u8 pad[3];
	__u64 thread[2]; /* the last THREAD record's pid_tgid ^ thread_salt: [0] sent, [1] read */
};
_Static_assert(sizeof(struct http_conn) == 48, "http_conn ABI");

/* http_conn.resp_state */
#define HTTP_RESP_HEAD 1 /* its head's segment passed, nothing after it yet */
#define HTTP_RESP_BODY 2 /* and bytes after it */

/* http_conn.lb: whether the socket is in lb_conns, looked up at a client
 * socket's first request (HTTP_EVF_LB) or else at its first response with
 * a status, and remembered, so that the responses after it on a keep-alive
 * connection the balancer never made skip the lookup. 0 (an entry made by
 * an older capture, too) looks again. */
#define HTTP_LB_UNKNOWN 0
#define HTTP_LB_NO 1  /* not balanced: its responses feed no outlier detection */
#define HTTP_LB_YES 2 /* balanced: its responses look up their endpoint */

/* http_conn.roles: THREAD records are sent for the way that moves requests,
 * sends on a client socket and reads on a server socket. */
#define HTTP_ROLE_CLIENT 1 /* the socket sent a request */
#define HTTP_ROLE_SERVER 2 /* the socket received a request */
#define HTTP_ROLE_H2 4	   /* the socket is followed as HTTP/2 (h2_socks, bpf/h2.h) */

#endif
