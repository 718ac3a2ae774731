// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* http.bpf.c: HTTP/1.x request timing on the wire, for every process of the
 * attached cgroup (loopback included), with cgroup_skb programs, and for
 * workloads in other network namespaces with tc programs on the host side of
 * their veths (Workload.interfaces); the thread that sent or read a request
 * comes from the sock_send_length and sock_recv_length tracepoints, which
 * record it only when a socket's thread changes,
 * connection ends from inet_sock_set_state.
 *
 * A cgroup_skb packet carries its socket, so connections are keyed by the
 * socket cookie. A packet on a host-side veth has left its socket behind in
 * the pod's namespace: there the key is a hash of the connection's 4-tuple
 * as the pod sees it, with the top bit set (cookies count up from 1 and never
 * reach it). The tracepoints compute the same key from the socket when its
 * cookie is unknown and tc capture is on.
 *
 * A response received by a socket the load balancer sent to an endpoint feeds
 * outlier detection (consecutive5xxErrors, consecutiveGatewayErrors) at once,
 * in the kernel, like connect failures do in lb.bpf.c.
 *
 * This file is capture: packets, connection keys, records, the ring. What
 * a protocol's bytes mean is in its own header: lib/http1.bpf.h for HTTP/1.x
 * (which segments start a request or a response, a response's status, a
 * request's trace context past its record), lib/outlier.bpf.h for what a
 * status does to an endpoint. A segment that starts no message costs one
 * load (its first 64 bytes at most) and one hash lookup. A head that fits
 * in those bytes is copied from them into its ring record; a longer one is
 * loaded from the packet straight into its record, reserved in a size
 * class (bpf/http.h). A segment is sent as it is (its first HTTP_HEAD_MAX bytes): the agent finds
 * requests pipelined after the first, which share the segment's timestamp anyway; a longer request
 * whose head goes on is searched for its trace context.
 *
 * No framing is parsed here: a response's bytes are followed by their TCP
 * sequence numbers and stamped with the time they pass, in the socket's
 * state (struct http_resp_at), and reported with the next record that
 * needs them. The agent knows from the response's head how many bytes it
 * has, so it knows which stamp is the last byte's. A line-by-line scan of
 * every response head for Content-Length or chunked cost more than all
 * the rest of a head packet (bench/README.md).
 *
 * A request (or an HTTP/2 preface) that reaches the cgroup hook on a
 * listening socket (its listener defers accepting, TCP_DEFER_ACCEPT, until
 * the first bytes) waits for the socket TCP makes for its connection
 * (struct http_early; h2.bpf.h's h2_early).
 *
 * Records are sized to what they carry, and they never wake the agent, which
 * reads the ring every 20 ms: at tens of thousands of requests a second, a
 * wake-up per record would cost more than the capture.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "http.h"
#include "lib/http1.bpf.h"
/* The load balancer's pinned maps, shared (by pin name) so that a response
 * can count against the endpoint its connection was sent to. */
#include "lib/outlier.bpf.h"
/* The processes seen serving requests, which injection leaves alone. */
#include "lib/serving.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define TCP_ESTABLISHED 1
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the agent while tc capture is attached somewhere: only then do the
 * node-wide tracepoints pay for the 4-tuple key of an unknown socket. */
__u32 tc_capture = 0;

/* Made at the first thread record of this load of the programs: a thread
 * is remembered in http_conn (or http_thr) as pid_tgid ^ thread_salt. The
 * state map is pinned and outlives an agent, the agent's memory of threads
 * does not: a restarted agent (a new load, a new salt) hears of every
 * socket's thread once more. */
__u64 thread_salt = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} http_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HTTP_MAX_CONNS);
	__type(key, __u64);
	__type(value, struct http_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} http_conns3 SEC(".maps");

/* What the send and recv tracepoints need of a keep-alive socket, on the
 * socket itself. They run on every send and read of the node, four times
 * per request on a keep-alive connection captured at both ends, and a
 * socket's storage is a few loads where http_conns3 is a hash lookup
 * (about half of their time). Making it costs about a microsecond, more
 * than a short connection's few runs save: a socket gets it on its
 * HTTP_THR_AFTER'th run, with a role, and keeps it (an HTTP/1 socket is a
 * client or a server for its whole life). Not pinned: a restarted agent
 * (a new map) hears of every socket's thread once more, and the kernel
 * frees the storage with the socket or the map. bench/README.md has the
 * figures. */
#define HTTP_THR_AFTER 8

struct http_thr {
	__u64 key;	 /* the socket's http_conns3 key: its cookie, or its tc key */
	__u64 thread[2]; /* as http_conn.thread, from where it took over */
	__u8 roles;	 /* http_conn.roles when this was made */
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct http_thr);
} http_thr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HTTP_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} http_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http1_scratch);
} http_scratch SEC(".maps");

/* A request that came before its server's socket existed: a listener with
 * TCP_DEFER_ACCEPT (nginx's "deferred", nghttpx's frontends, haproxy's
 * "defer-accept") keeps a connection a request socket until its first
 * bytes, so those bytes pass the cgroup ingress hook on the listening
 * socket (tcp_v4_rcv runs the filter on the listener, then makes the
 * socket in tcp_check_req), and the cookie there is the listener's, shared
 * by every connection it accepts. The record waits here, by the
 * connection's 4-tuple (tuple_key), for the socket that TCP makes right
 * after (its SYN_RECV -> ESTABLISHED change, bm_http_state), and goes to the
 * ring with that socket's cookie. Not pinned: a record waits microseconds. */
struct http_early {
	struct http_event e; /* head_len bytes of head, then ctx when it has one */
	struct http_req_ctx ctx;
};

#define HTTP_EARLY_MAX 256 /* connections made at once, node-wide */
/* A record waits microseconds (its socket is made in the same packet's
 * processing); one older than this was left behind. */
#define HTTP_EARLY_AGE_NS (1000ULL * 1000 * 1000)

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HTTP_EARLY_MAX);
	__type(key, __u64);
	__type(value, struct http_early);
} http_early SEC(".maps");

/* where an early record is made (too big for the stack) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http_early);
} http_early_buf SEC(".maps");

/* Set at the first early request: until then a passive open (every
 * accepted connection of the node) costs bm_http_state no lookup. */
__u32 early_seen = 0;

static __always_inline void http_drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&http_drops, &reason);

	if (n)
		*n += 1;
}

/* The addresses first, 8-byte aligned: a head record copies them in four
 * 8-byte moves. At 2 bytes (after family and dir) they took 32 stores into
 * the record's cold ring lines, the hottest spot of a head packet in a
 * perf profile (bench/README.md). */
struct seg {
	__u64 cookie;
	__u8 local[16], remote[16];
	__u32 off; /* payload offset in the skb */
	__u32 len; /* payload bytes */
	__u32 seq; /* TCP sequence number of the payload's first byte */
	__u16 lport, rport;
	__u8 family;
	__u8 dir;
};

/* Bytes of a segment loaded first (capture()): a power of two, and a
 * record's smallest head class. */
#define SEG_FIRST 64

/* Parse the IP and TCP headers. cgroup_skb data starts at L3 (l3 = 0), tc
 * data at the Ethernet header (l3 = ETH_HLEN). The headers are read in
 * place: they are in the linear part of every skb a TCP socket sends, and
 * of every one TCP receives by the time the cgroup hook runs (the tc side
 * sees a pod's own TCP packets). A copy instead would cost a helper call
 * each, and a fallback to one as many verifier paths again; a header out
 * of reach is counted (HTTP_DROP_LOAD). A segment without payload (an
 * ACK) stops before its addresses are copied. */
static __always_inline bool seg_parse(struct __sk_buff *skb, __u8 dir, __u8 family, __u32 l3,
				      struct seg *s)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	const struct tcphdr *th;
	__u32 l4;

	if (family == AF_INET) {
		const struct iphdr *ip = data + l3;

		if ((void *)(ip + 1) > end)
			goto out_of_reach;
		if (ip->protocol != IPPROTO_TCP)
			return false;
		l4 = l3 + ip->ihl * 4;
		th = data + l4;
		if ((void *)(th + 1) > end)
			goto out_of_reach;
		s->off = l4 + th->doff * 4;
		if (skb->len <= s->off)
			return false;
		s->family = AF_INET;
		__builtin_memset(s->local, 0, 16);
		__builtin_memset(s->remote, 0, 16);
		__builtin_memcpy(dir == HTTP_DIR_EGRESS ? s->local : s->remote, &ip->saddr, 4);
		__builtin_memcpy(dir == HTTP_DIR_EGRESS ? s->remote : s->local, &ip->daddr, 4);
	} else if (family == AF_INET6) {
		const struct ipv6hdr *ip6 = data + l3;

		if ((void *)(ip6 + 1) > end)
			goto out_of_reach;
		if (ip6->nexthdr != IPPROTO_TCP)
			return false;
		l4 = l3 + sizeof(*ip6);
		th = data + l4;
		if ((void *)(th + 1) > end)
			goto out_of_reach;
		s->off = l4 + th->doff * 4;
		if (skb->len <= s->off)
			return false;
		s->family = AF_INET6;
		__builtin_memcpy(dir == HTTP_DIR_EGRESS ? s->local : s->remote, &ip6->saddr, 16);
		__builtin_memcpy(dir == HTTP_DIR_EGRESS ? s->remote : s->local, &ip6->daddr, 16);
	} else {
		return false;
	}
	s->dir = dir;
	s->len = skb->len - s->off;
	s->seq = bpf_ntohl(th->seq);
	s->lport = bpf_ntohs(dir == HTTP_DIR_EGRESS ? th->source : th->dest);
	s->rport = bpf_ntohs(dir == HTTP_DIR_EGRESS ? th->dest : th->source);
	return true;
out_of_reach:
	http_drop(HTTP_DROP_LOAD);
	return false;
}

static __always_inline __u64 mix64(__u64 h, __u64 v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

/* The connection key of a tc-captured segment: the 4-tuple as the workload's
 * socket sees it (local = the pod), so the tracepoints can find it again. */
static __always_inline __u64 tuple_key(__u8 family, const __u8 *local, const __u8 *remote,
				       __u16 lport, __u16 rport)
{
	__u64 h = mix64(HTTP_TC_KEY, (__u64)family | (__u64)lport << 16 | (__u64)rport << 32);
	__u64 w[4];

	__builtin_memcpy(&w[0], local, 16);
	__builtin_memcpy(&w[2], remote, 16);
	h = mix64(h, w[0]);
	h = mix64(h, w[1]);
	h = mix64(h, w[2]);
	h = mix64(h, w[3]);
	return h | HTTP_TC_KEY;
}

/* Records never wake the agent: it reads the ring every 20 ms, which the
 * 8 MiB ring outlasts at any rate the agent can follow. A wake-up per record
 * (or per record past a fill level, which under overload is every record)
 * costs microseconds in irq_work. */
static __always_inline __u64 wake_flags(void) { return BPF_RB_NO_WAKEUP; }

/* http_event's small fields as the 8-byte words they share, so that a
 * record's header is written in 12 stores of 8 bytes: its lines are cold
 * (the ring moves on through 8 MiB), and byte and half-word stores into
 * them filled the store buffer (bench/README.md). */
union ev_w32 { /* kind .. error */
	struct {
		__u8 kind, dir, family, flags;
		__s32 error;
	};
	__u64 w;
};
union ev_w72 { /* lport .. seg_len */
	struct {
		__u16 lport, rport, head_len, seg_len;
	};
	__u64 w;
};
_Static_assert(__builtin_offsetof(struct http_event, kind) == 32 &&
		   __builtin_offsetof(struct http_event, lport) == 72,
	       "ev_fill's words");

/* The fields every record has (up to head); head_len and seg_len are a
 * head record's. */
static __always_inline void ev_fill(struct http_event *e, const struct seg *s, __u8 kind, __u64 now,
				    __u16 head_len, __u16 seg_len)
{
	union ev_w32 a = {.kind = kind, .dir = s->dir, .family = s->family};
	union ev_w72 b = {
	    .lport = s->lport, .rport = s->rport, .head_len = head_len, .seg_len = seg_len};
	__u64 *w = (__u64 *)e;

	w[0] = now;
	w[1] = s->cookie;
	w[2] = 0; /* pid_tgid */
	w[3] = 0; /* cgroup_id */
	w[4] = a.w;
	__builtin_memcpy(e->local, s->local, 16);
	__builtin_memcpy(e->remote, s->remote, 16);
	w[9] = b.w;
	w[10] = 0; /* comm */
	w[11] = 0;
}

/* A record without head: HTTP_EV_HDR bytes of the ring. */
static __always_inline struct http_event *ev_reserve_hdr(void)
{
	struct http_event *e = bpf_ringbuf_reserve(&http_events, HTTP_EV_HDR, 0);

	if (!e)
		http_drop(HTTP_DROP_RINGBUF);
	return e;
}

static __always_inline struct http1_scratch *scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&http_scratch, &zero);
}

/* The segment's first len bytes (1..class, class a power of two) into
 * head, straight from the packet. */
static __always_inline int load_bytes(struct __sk_buff *skb, const struct seg *s, char *head,
				      __u32 len, __u32 class)
{
	if (bpf_skb_load_bytes(skb, s->off, head, len_1_to(len, class))) {
		http_drop(HTTP_DROP_LOAD);
		return -1;
	}
	return 0;
}

/* A head record of class bytes of head (and slack more), reserved in the
 * ring and filled with the segment's first bytes: one copy, packet to
 * ring. class is a constant at every call: the ring takes no other size. */
static __always_inline struct http_event *head_reserve(struct __sk_buff *skb, const struct seg *s,
						       __u8 kind, __u64 now, __u32 class,
						       __u32 slack)
{
	struct http_event *e = bpf_ringbuf_reserve(&http_events, HTTP_EV_HDR + class + slack, 0);
	__u32 len = s->len < class ? s->len : class;

	if (!e) {
		http_drop(HTTP_DROP_RINGBUF);
		return NULL;
	}
	if (load_bytes(skb, s, e->head, len, class)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return NULL;
	}
	ev_fill(e, s, kind, now, len, s->len > 0xffff ? 0xffff : s->len);
	return e;
}

/* A response received by a socket the load balancer connected: its status
 * feeds outlier detection. tc keys are not sockets the balancer knows. The
 * socket's state (c) remembers whether lb_conns has it: a keep-alive
 * socket the balancer never made looks once, not at every response (a
 * hash lookup, a tenth of a head packet's cost). The balancer makes its
 * entry at connect(), before any byte, so the answer holds for the
 * socket's life. */
static __always_inline void outlier_on_response(const struct seg *s, struct http_conn *c,
						__u32 status, __u64 now)
{
	struct lb_conn *conn;

	if (!status || s->dir != HTTP_DIR_INGRESS || (s->cookie & HTTP_TC_KEY) ||
	    c->lb == HTTP_LB_NO)
		return;
	conn = outlier_conn(&s->cookie);
	c->lb = conn ? HTTP_LB_YES : HTTP_LB_NO;
	if (conn)
		outlier_feed(conn, status, now);
}

/* A head of at most SEG_FIRST bytes, whole in the first bytes capture
 * loaded already (first): copied from there, not loaded again. A request
 * (wrk's, curl's) is that short; a second load from the packet, whose
 * payload sits in page fragments, was a helper call and skb_copy_bits. */
static __always_inline struct http_event *head_reserve_first(const struct seg *s, __u8 kind,
							     __u64 now, const __u64 *first)
{
	struct http_event *e = bpf_ringbuf_reserve(&http_events, HTTP_EV_HDR + SEG_FIRST, 0);
	__u64 *h;

	if (!e) {
		http_drop(HTTP_DROP_RINGBUF);
		return NULL;
	}
	h = (__u64 *)e->head;
#pragma clang loop unroll(full)
	for (int i = 0; i < SEG_FIRST / 8; i++)
		h[i] = first[i];
	ev_fill(e, s, kind, now, s->len, s->len);
	return e;
}

/* A head record in the smallest class that holds the segment's first
 * bytes (up to HTTP_HEAD_MAX). */
static __always_inline struct http_event *head_record(struct __sk_buff *skb, const struct seg *s,
						      __u8 kind, __u64 now, const __u64 *first)
{
	if (s->len <= SEG_FIRST)
		return head_reserve_first(s, kind, now, first);
	if (s->len <= 128)
		return head_reserve(skb, s, kind, now, 128, 0);
	if (s->len <= 256)
		return head_reserve(skb, s, kind, now, 256, 0);
	if (s->len <= 512)
		return head_reserve(skb, s, kind, now, 512, 0);
	return head_reserve(skb, s, kind, now, HTTP_HEAD_MAX, 0);
}

/* How far the response in flight on c got, into a record (HTTP_EVF_RESP). */
static __always_inline void resp_report(struct http_event *e, const struct http_conn *c)
{
	e->flags |= HTTP_EVF_RESP;
	e->body_last_ns = c->resp_last;
	e->resp = c->resp;
}

/* The last 8 bytes of the segment (len >= 8) into tail. */
static __always_inline void load_tail(struct __sk_buff *skb, const struct seg *s, char *tail)
{
	if (bpf_skb_load_bytes(skb, s->off + s->len - 8, tail, 8))
		__builtin_memset(tail, 0, 8);
}

/* A response head: its record, and the socket's state starts following
 * its bytes. When the response before it had bytes after its own head
 * segment, its record says when the last of them passed: that response
 * ended there. */
static __always_inline void on_response(struct __sk_buff *skb, struct seg *s, __u64 now,
					const __u64 *w, __u32 *status)
{
	struct http_conn *c = bpf_map_lookup_elem(&http_conns3, &s->cookie);
	struct http_event *e;
	__u64 tail = 0;

	/* from the first bytes, not from the record: read back right after
	 * the copy into it, the status stalled on the copy's stores (the
	 * hottest spot of a response head in perf after ev_fill's) */
	*status = http1_status_head(skb, s->off, s->len, w);
	/* past the record's bytes: the agent reads a chunked end here */
	if (s->len > HTTP_HEAD_MAX)
		load_tail(skb, s, (char *)&tail);
	/* nothing between the reservation and its test: with a helper call
	 * in between, clang tests the pointer again, and 6.1's verifier then
	 * walks a NULL branch that still holds the record */
	e = head_record(skb, s, HTTP_EV_RESPONSE, now, w);
	if (e) {
		if (c && c->resp_state == HTTP_RESP_BODY && c->resp_dir == s->dir) {
			e->flags |= HTTP_EVF_RESP;
			e->body_last_ns = c->resp_last;
		}
		e->resp.seq0 = s->seq;
		if (s->len > HTTP_HEAD_MAX) {
			e->flags |= HTTP_EVF_TAIL;
			__builtin_memcpy(e->resp.tail, &tail, 8);
		}
		bpf_ringbuf_submit(e, wake_flags());
	}
	if (!c) {
		struct http_conn nc = {};

		if (bpf_map_update_elem(&http_conns3, &s->cookie, &nc, BPF_NOEXIST))
			http_drop(HTTP_DROP_CONNS);
		c = bpf_map_lookup_elem(&http_conns3, &s->cookie);
		if (!c)
			return;
	}
	c->resp_last = now;
	c->resp.seq0 = s->seq;
	c->resp.bytes = s->len;
	__builtin_memcpy(c->resp.tail, &tail, 8); /* never the response before's */
	c->resp_state = HTTP_RESP_HEAD;
	c->resp_dir = s->dir;
	outlier_on_response(s, c, *status, now);
}

/* A segment of the response in flight (not its head's): how far it got,
 * and its last bytes. A retransmission moves nothing but the time. */
static __always_inline void on_body(struct __sk_buff *skb, struct seg *s, struct http_conn *c)
{
	__u32 end = s->seq + s->len - c->resp.seq0, n = s->len;
	__u64 t = 0, old;

	c->resp_last = bpf_ktime_get_ns();
	c->resp_state = HTTP_RESP_BODY;
	if ((__s32)(end - c->resp.bytes) <= 0)
		return;
	c->resp.bytes = end;
	if (n >= 8) {
		load_tail(skb, s, c->resp.tail);
		return;
	}
	/* a short segment (a chunked body's "0\r\n\r\n" alone) shifts in
	 * after the bytes before it */
	n = len_1_to(n, 8);
	if (bpf_skb_load_bytes(skb, s->off, &t, n))
		return;
	__builtin_memcpy(&old, c->resp.tail, 8);
	t = old >> (8 * n) | t << (8 * (8 - n)); /* little-endian: the last byte is the top */
	__builtin_memcpy(c->resp.tail, &t, 8);
}

/* The trace context lines a search found (cs), into ctx (bpf/http.h). */
static __always_inline void req_ctx_fill(struct __sk_buff *skb, const struct seg *s,
					 const struct http1_ctx_scan *cs, struct http_req_ctx *ctx)
{
	__u32 n;

	/* a loop, not __builtin_memset: clang's BPF backend spent a minute
	 * (DAG combining) on the 648 bytes of stores a memset unrolls into */
#pragma clang loop unroll(disable)
	for (int i = 0; i < (int)(sizeof(*ctx) / 8); i++)
		((__u64 *)ctx)[i] = 0;
	ctx->n_traceparent = cs->n_tp;
	ctx->n_tracestate = cs->n_ts;
	if (cs->n_tp) {
		n = cs->tp_len < HTTP_CTX_TP ? cs->tp_len : HTTP_CTX_TP;
		bpf_skb_load_bytes(skb, s->off + cs->tp_at, ctx->traceparent,
				   len_1_to(n, HTTP_CTX_TP));
	}
	n = cs->ts_len;
	if (n > HTTP_CTX_TS) {
		ctx->flags |= HTTP_CTX_TS_LOST;
	} else if (cs->n_ts) {
		bpf_skb_load_bytes(skb, s->off + cs->ts_at, ctx->tracestate,
				   len_1_to(n, HTTP_CTX_TS));
	}
}

/* A request longer than its record whose head goes on past it: the record
 * carries the context lines found further on (bpf/http.h). NULL when there
 * are none; a head longer than the search is counted. */
static __always_inline struct http_event *request_ctx_record(struct __sk_buff *skb,
							     const struct seg *s, __u64 now)
{
	struct http1_scratch *sc = scratch_get();
	struct http1_ctx_scan *cs;
	struct http_req_ctx *ctx;
	struct http_event *e;

	if (!sc)
		return NULL;
	cs = &sc->cs;
	if (!http1_ctx_search(skb, s->off, s->len, sc))
		http_drop(HTTP_DROP_HEAD_LONG);
	if (!cs->n_tp && !cs->n_ts)
		return NULL;
	e = head_reserve(skb, s, HTTP_EV_REQUEST, now, HTTP_HEAD_MAX, sizeof(*ctx));
	if (!e)
		return NULL;
	ctx = (void *)(e->head + HTTP_HEAD_MAX);
	req_ctx_fill(skb, s, cs, ctx);
	e->head_len = HTTP_HEAD_MAX + sizeof(*ctx);
	return e;
}

/* A request record: its segment's first bytes, with its trace context when
 * its head goes on past them. */
static __always_inline struct http_event *request_record(struct __sk_buff *skb, const struct seg *s,
							 __u64 now, const __u64 *first)
{
	struct http_event *e;

	if (s->len > HTTP_HEAD_MAX) {
		e = request_ctx_record(skb, s, now);
		if (e)
			return e;
	}
	return head_record(skb, s, HTTP_EV_REQUEST, now, first);
}

/* Is the segment's socket a listener? Then the request came before its
 * connection's socket existed (struct http_early). Asked of request heads
 * received through the cgroup hook only. */
static __always_inline bool on_listener(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	return sk && sk->state == BPF_TCP_LISTEN;
}

/* A request received on a listener: its record waits for the connection's
 * socket (early_accepted). Its head is copied as on_request's would be,
 * with its trace context when it goes on past HTTP_HEAD_MAX bytes. */
static __always_inline void early_request(struct __sk_buff *skb, const struct seg *s, __u64 now)
{
	__u64 key = tuple_key(s->family, s->local, s->remote, s->lport, s->rport);
	__u32 zero = 0, len = s->len < HTTP_HEAD_MAX ? s->len : HTTP_HEAD_MAX;
	struct http_early *b = bpf_map_lookup_elem(&http_early_buf, &zero);
	struct http1_scratch *sc;

	if (!b || load_bytes(skb, s, b->e.head, len, HTTP_HEAD_MAX))
		return;
	ev_fill(&b->e, s, HTTP_EV_REQUEST, now, len, s->len > 0xffff ? 0xffff : s->len);
	if (s->len > HTTP_HEAD_MAX && (sc = scratch_get())) {
		if (!http1_ctx_search(skb, s->off, s->len, sc))
			http_drop(HTTP_DROP_HEAD_LONG);
		if (sc->cs.n_tp || sc->cs.n_ts) {
			req_ctx_fill(skb, s, &sc->cs, &b->ctx);
			b->e.head_len = HTTP_HEAD_MAX + sizeof(b->ctx);
		}
	}
	if (bpf_map_update_elem(&http_early, &key, b, BPF_ANY)) {
		http_drop(HTTP_DROP_CONNS);
		return;
	}
	if (!early_seen)
		early_seen = 1;
}

/* What a client socket's first request learns of the load balancer: the
 * record's flags (HTTP_EVF_LB, HTTP_EVF_SVC), the service address, and
 * http_conn.lb. Kept on the stack and written into the record whatever it
 * holds (zeros for the other requests), so that no map pointer, nor a
 * test of what it found, goes down the record's paths: carried there, the
 * verifier walked each of them twice (19,291 instructions for the egress
 * program became 29,203). */
struct lb_seen {
	__u8 addr[16];
	__u16 port; /* host order */
	__u8 family;
	__u8 flags;
	__u8 lb; /* HTTP_LB_* */
	__u8 pad[3];
};

static __always_inline void lb_seen_get(const __u64 *cookie, struct lb_seen *ls)
{
	struct lb_conn *lbc = outlier_conn(cookie);

	ls->flags = HTTP_EVF_LB;
	ls->lb = HTTP_LB_NO;
	if (!lbc)
		return;
	ls->flags |= HTTP_EVF_SVC;
	ls->lb = HTTP_LB_YES;
	ls->port = bpf_ntohs(lbc->port);
	ls->family = lbc->family;
	__builtin_memcpy(ls->addr, lbc->addr, 16);
}

static __always_inline void lb_report(struct http_event *e, const struct lb_seen *ls)
{
	e->flags |= ls->flags;
	e->svc.port = ls->port;
	e->svc.family = ls->family;
	__builtin_memcpy(e->svc_addr, ls->addr, 16);
}

/* A request: its record, and how far the response before it got when it
 * had bytes after its head segment (the agent ends it there once it has
 * them all; a client that pipelines sends before it does). A client
 * socket's first request also says whether the load balancer connected
 * it, and to which service address: the agent would otherwise ask
 * lb_conns itself, a system call per connection, too late for one that
 * closed first. The lookup is the one its first response would make for
 * outlier detection (http_conn.lb), made earlier. */
static __always_inline void on_request(struct __sk_buff *skb, struct seg *s, __u64 now,
				       const __u64 *first)
{
	__u8 role = s->dir == HTTP_DIR_EGRESS ? HTTP_ROLE_CLIENT : HTTP_ROLE_SERVER;
	struct http_conn c = {.roles = role}, *old;
	struct lb_seen ls = {};
	struct http_event *e;

	old = bpf_map_lookup_elem(&http_conns3, &s->cookie);
	if (role == HTTP_ROLE_CLIENT && !(s->cookie & HTTP_TC_KEY) &&
	    (!old || !(old->roles & role))) {
		lb_seen_get(&s->cookie, &ls);
		c.lb = ls.lb;
	}
	if (old) {
		if (!(old->roles & role))
			old->roles |= role;
		if (ls.lb)
			old->lb = ls.lb;
	} else if (bpf_map_update_elem(&http_conns3, &s->cookie, &c, BPF_NOEXIST)) {
		http_drop(HTTP_DROP_CONNS);
	}
	e = request_record(skb, s, now, first);
	if (!e)
		return;
	/* the two share the record's fields; a socket that served before it
	 * asked (rare) leaves the agent to ask lb_conns */
	if (old && old->resp_state == HTTP_RESP_BODY)
		resp_report(e, old);
	else
		lb_report(e, &ls);
	bpf_ringbuf_submit(e, wake_flags());
}

/* HTTP/2 (and the TLS count): after the ring, http_drop() and ev_fill(),
 * which it uses. */
#include "lib/h2.bpf.h"

/* When a head segment passed. One its socket sends (cgroup egress) carries
 * the time TCP stamped it with in __tcp_transmit_skb, just before this
 * hook: skb->tstamp, its departure time on CLOCK_MONOTONIC, the clock of
 * bpf_ktime_get_ns() (paced by fq, the time it may leave). That spares a
 * clock read, a helper call and kvm-clock's pvclock, per egress head. A
 * received segment's tstamp is 0 or CLOCK_REALTIME (net_timestamp_check),
 * and a tc one's came through another namespace: those read the clock. */
static __always_inline __u64 seg_time(struct __sk_buff *skb, const struct seg *s, bool tc)
{
	__u64 t;

	if (!tc && s->dir == HTTP_DIR_EGRESS) {
		t = skb->tstamp;
		if (t)
			return t;
	}
	return bpf_ktime_get_ns();
}

/* tc: seen on a host-side interface, keyed by the 4-tuple, not the socket. */
static __always_inline void capture(struct __sk_buff *skb, __u8 dir, __u8 family, __u32 l3, bool tc)
{
	struct http_conn *c;
	struct seg s;
	/* the segment's first bytes, up to SEG_FIRST: enough to know a head,
	 * and the whole of a short one */
	__u64 w[SEG_FIRST / 8] = {};

	if (!seg_parse(skb, dir, family, l3, &s))
		return;
	if (s.len >= 8 &&
	    bpf_skb_load_bytes(skb, s.off, w,
			       len_1_to(s.len < SEG_FIRST ? s.len : SEG_FIRST, SEG_FIRST)))
		return;
	s.cookie = tc ? tuple_key(s.family, s.local, s.remote, s.lport, s.rport)
		      : bpf_get_socket_cookie(skb);
	/* the clock is read only for segments that carry an event */
	if (s.len >= 8 && http1_is_response(w[0])) {
		__u32 status = 0;

		on_response(skb, &s, seg_time(skb, &s, tc), w, &status);
		if (status == 101)
			h2_on_response(skb, &s);
	} else if (s.len >= 8 && http1_is_request(skb, s.off, s.len, w[0])) {
		if (!tc && dir == HTTP_DIR_INGRESS && on_listener(skb))
			early_request(skb, &s, seg_time(skb, &s, tc));
		else
			on_request(skb, &s, seg_time(skb, &s, tc), w);
	} else {
		c = bpf_map_lookup_elem(&http_conns3, &s.cookie);
		if (!c) {
			/* a preface on a listener: its connection's state and
			 * records wait under an early key (h2.bpf.h) */
			if (w[0] == H2_PREFACE_W0 && !tc && dir == HTTP_DIR_INGRESS &&
			    on_listener(skb)) {
				s.cookie = h2_early_key(
				    tuple_key(s.family, s.local, s.remote, s.lport, s.rport));
				if (!early_seen)
					early_seen = 1;
			}
			h2_first_bytes(skb, &s, w[0]);
		} else if (c->roles & HTTP_ROLE_H2)
			h2_on_segment(skb, &s);
		else if (c->resp_state && c->resp_dir == s.dir)
			on_body(skb, &s, c);
	}
}

/* The packet's family: skb->family is the socket's, AF_INET6 for an
 * IPv4-mapped IPv6 socket (gRPC C-core dials v4 targets from one), whose
 * packets are IPv4. */
static __always_inline __u8 cg_family(struct __sk_buff *skb)
{
	return skb->protocol == bpf_htons(ETH_P_IP) ? AF_INET : skb->family;
}

SEC("cgroup_skb/egress")
int bm_http_egress(struct __sk_buff *skb)
{
	capture(skb, HTTP_DIR_EGRESS, cg_family(skb), 0, false);
	return 1;
}

SEC("cgroup_skb/ingress")
int bm_http_ingress(struct __sk_buff *skb)
{
	capture(skb, HTTP_DIR_INGRESS, cg_family(skb), 0, false);
	return 1;
}

static __always_inline void capture_tc(struct __sk_buff *skb, __u8 dir)
{
	if (skb->protocol == bpf_htons(ETH_P_IP))
		capture(skb, dir, AF_INET, ETH_HLEN, true);
	else if (skb->protocol == bpf_htons(ETH_P_IPV6))
		capture(skb, dir, AF_INET6, ETH_HLEN, true);
}

/* On the host side of a pod's veth, ingress is what the pod sent and egress
 * what it receives. Both only watch: TCX_NEXT lets the next program (the tc
 * guard) or the default action decide. */
SEC("tc")
int bm_http_tc_in(struct __sk_buff *skb)
{
	capture_tc(skb, HTTP_DIR_EGRESS);
	return TCX_NEXT;
}

SEC("tc")
int bm_http_tc_out(struct __sk_buff *skb)
{
	capture_tc(skb, HTTP_DIR_INGRESS);
	return TCX_NEXT;
}

/* The key the tc programs give this socket's connection: its 4-tuple, with
 * an IPv4-mapped IPv6 socket taken as the IPv4 connection it carries. */
static __always_inline __u64 sock_tuple_key(struct sock *sk)
{
	__u8 local[16] = {}, remote[16] = {};
	__u16 family = sk->__sk_common.skc_family;
	__u16 lport = sk->__sk_common.skc_num;
	__u16 rport = bpf_ntohs(sk->__sk_common.skc_dport);

	if (family == AF_INET6) {
		struct in6_addr d = sk->__sk_common.skc_v6_daddr;

		if (d.in6_u.u6_addr32[0] || d.in6_u.u6_addr32[1] ||
		    d.in6_u.u6_addr32[2] != bpf_htonl(0xffff)) {
			struct in6_addr l = sk->__sk_common.skc_v6_rcv_saddr;

			__builtin_memcpy(local, &l, 16);
			__builtin_memcpy(remote, &d, 16);
			return tuple_key(AF_INET6, local, remote, lport, rport);
		}
	} else if (family != AF_INET) {
		return 0;
	}
	__builtin_memcpy(local, &sk->__sk_common.skc_rcv_saddr, 4);
	__builtin_memcpy(remote, &sk->__sk_common.skc_daddr, 4);
	return tuple_key(AF_INET, local, remote, lport, rport);
}

/* The state of this socket if capture knows it (its key in *key), or NULL.
 * A socket whose cookie was never made (the field is 0 until someone asks
 * for it, capture's head packets do) never carried HTTP here: one load;
 * else one hash lookup. Only while tc capture is on does a socket without
 * state also pay for its 4-tuple key and a second lookup. */
static __always_inline struct http_conn *known_conn(struct sock *sk, __u64 *key)
{
	struct http_conn *c = NULL;

	*key = sk->__sk_common.skc_cookie.counter;
	if (*key)
		c = bpf_map_lookup_elem(&http_conns3, key);
	if (c || !tc_capture)
		return c;
	*key = sock_tuple_key(sk);
	return *key ? bpf_map_lookup_elem(&http_conns3, key) : NULL;
}

/* The name of the current process: its thread group leader's comm. */
static __always_inline void process_comm(char comm[16])
{
	struct task_struct *t = bpf_get_current_task_btf();

	if (bpf_probe_read_kernel_str(comm, 16, t->group_leader->comm) < 0)
		bpf_get_current_comm(comm, 16);
}

/* Which thread sent or read: the tracepoints run in the task's context,
 * right after the data moved, on sockets that carried HTTP. Only a change
 * of thread is recorded (http_conn.thread, then http_thr.thread): the
 * agent gives a request the socket's last thread when no record says
 * otherwise before its response. The thread is remembered only once its
 * record is in the ring, so a full ring loses no change. */
static __always_inline void thread_event(struct sock *sk, __u8 dir)
{
	struct http_thr *t = bpf_sk_storage_get(&http_thr, sk, 0, 0);
	__u64 tid, cg, key, *last;
	struct http_conn *c;
	struct http_event *e;
	__u8 roles;

	if (t) {
		key = t->key;
		roles = t->roles;
		last = t->thread;
	} else {
		c = known_conn(sk, &key);
		if (!c)
			return;
		roles = c->roles;
		last = c->thread;
		/* a socket that keeps going: its own storage from now on */
		if (roles && c->tp_runs < HTTP_THR_AFTER) {
			c->tp_runs++;
		} else if (roles) {
			t = bpf_sk_storage_get(&http_thr, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
			if (t) {
				t->key = key;
				t->roles = roles;
				t->thread[0] = c->thread[0];
				t->thread[1] = c->thread[1];
				last = t->thread;
			} else {
				c->tp_runs = 0; /* out of memory (optmem): later */
			}
		}
	}
	/* a request's thread is its sender's on a client socket, its reader's
	 * on a server socket: the other way's is nobody's business */
	if (!(roles & (dir == HTTP_DIR_EGRESS ? HTTP_ROLE_CLIENT : HTTP_ROLE_SERVER)))
		return;
	if (!thread_salt) /* two CPUs racing here cost one record more */
		thread_salt = ((__u64)bpf_get_prandom_u32() << 32 | bpf_get_prandom_u32()) | 1;
	tid = bpf_get_current_pid_tgid();
	if (dir != HTTP_DIR_EGRESS)
		last++;
	if (*last == (tid ^ thread_salt))
		return;
	/* a thread reads requests: its process serves (lib/serving.bpf.h).
	 * Here, not per packet: once per socket and thread, before its first
	 * call to a callee can connect; again after a full ring, harmless */
	cg = bpf_get_current_cgroup_id();
	if (dir == HTTP_DIR_INGRESS) {
		__u32 tgid = tid >> 32;
		__u64 *was = bpf_map_lookup_elem(&http_serving, &tgid);

		/* an LRU update takes a node off the free list and frees the
		 * old one, where a lookup only marks the entry used: a server
		 * marked already (every connection but its first) is looked
		 * up, not written */
		if (!was || *was != cg)
			bpf_map_update_elem(&http_serving, &tgid, &cg, BPF_ANY);
	}
	e = ev_reserve_hdr();
	if (!e)
		return;
	__builtin_memset(e, 0, HTTP_EV_HDR);
	e->ts = bpf_ktime_get_ns();
	e->cookie = key;
	e->pid_tgid = tid;
	e->cgroup_id = cg;
	e->kind = HTTP_EV_THREAD;
	e->dir = dir;
	/* the process's name (its main thread's), not the thread's: a
	 * process without a Workload is named after it, and a worker thread
	 * ("default-executor", "worker-3") names no service */
	process_comm(e->comm);
	bpf_ringbuf_submit(e, wake_flags());
	*last = tid ^ thread_salt;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(bm_http_send, struct sock *sk, int ret, int flags)
{
	if (ret > 0 && sk->sk_protocol == IPPROTO_TCP)
		thread_event(sk, HTTP_DIR_EGRESS);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(bm_http_recv, struct sock *sk, int ret, int flags)
{
	if (ret > 0 && sk->sk_protocol == IPPROTO_TCP)
		thread_event(sk, HTTP_DIR_INGRESS);
	return 0;
}

/* A socket TCP made for a connection whose request came before it
 * (struct http_early): the request's record goes to the ring with this
 * socket's cookie, and the socket is known as a server from here on, as
 * on_request would have made it. An HTTP/2 preface that came before it
 * left its state and records under an early key (h2.bpf.h). */
static __always_inline void early_accepted(struct sock *sk)
{
	__u64 cookie, key = sock_tuple_key(sk);
	struct http_conn c = {.roles = HTTP_ROLE_SERVER};
	struct http_early *b;
	__u32 n;

	if (!key)
		return;
	b = bpf_map_lookup_elem(&http_early, &key);
	if (!b) {
		h2_early_accepted(sk, key);
		return;
	}
	/* one left by a connection that never got its socket (the client
	 * gave up) is no later connection's of the same 4-tuple */
	if (bpf_ktime_get_ns() - b->e.ts > HTTP_EARLY_AGE_NS) {
		bpf_map_delete_elem(&http_early, &key);
		return;
	}
	cookie = bpf_get_socket_cookie(sk);
	b->e.cookie = cookie;
	if (bpf_map_update_elem(&http_conns3, &cookie, &c, BPF_NOEXIST))
		http_drop(HTTP_DROP_CONNS);
	n = b->e.head_len;
	if (n > HTTP_HEAD_MAX + sizeof(b->ctx))
		n = HTTP_HEAD_MAX + sizeof(b->ctx);
	if (bpf_ringbuf_output(&http_events, b, HTTP_EV_HDR + n, BPF_RB_NO_WAKEUP))
		http_drop(HTTP_DROP_RINGBUF);
	bpf_map_delete_elem(&http_early, &key);
}

/* A socket that carried HTTP closed: requests still open on it end. A
 * socket accepted with a request already in it gets that request. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(bm_http_state, struct sock *sk, int oldstate, int newstate)
{
	struct http_conn *c;
	struct http_event *e;
	__u64 cookie;
	__u8 roles;

	if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV) {
		if (early_seen && sk->sk_protocol == IPPROTO_TCP)
			early_accepted(sk);
		return 0;
	}
	if (newstate != TCP_CLOSE || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	c = known_conn(sk, &cookie);
	if (!c)
		return 0;
	roles = c->roles;
	e = ev_reserve_hdr();
	if (e) {
		__builtin_memset(e, 0, HTTP_EV_HDR);
		e->ts = bpf_ktime_get_ns();
		e->cookie = cookie;
		e->kind = HTTP_EV_CLOSE;
		e->error = sk->sk_err;
		/* a response still in flight: how far its bytes got */
		if (c->resp_state)
			resp_report(e, c);
		bpf_ringbuf_submit(e, wake_flags());
	}
	bpf_map_delete_elem(&http_conns3, &cookie);
	if (roles & HTTP_ROLE_H2)
		bpf_map_delete_elem(&h2_socks, &cookie);
	return 0;
}
