// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* http.bpf.c: HTTP/1.x request timing on the wire, for every process of the
 * attached cgroup (loopback included), with cgroup_skb programs, and for
 * workloads in other network namespaces with tc programs on the host side of
 * their veths (Workload.interfaces); the thread that sent or read a request
 * comes from the sock_send_length and sock_recv_length tracepoints,
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
 * Only segment heads are looked at: a segment that does not start with an
 * HTTP method or "HTTP/1." costs one 8-byte load and, on sockets that never
 * carried HTTP, one hash miss. A request segment is sent as it is (its first
 * HTTP_HEAD_MAX bytes): the agent finds requests pipelined after the first,
 * which share the segment's timestamp anyway. Only a response head is
 * scanned here, for the Content-Length or chunked framing that tells when its
 * last byte passes.
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
/* The load balancer's pinned maps, shared (by pin name) so that a response
 * can count against the endpoint its connection was sent to. */
#include "lib/lb_maps.bpf.h"
#include "lib/health.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define TCP_CLOSE 7
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the agent while tc capture is attached somewhere: only then do the
 * node-wide tracepoints pay for the 4-tuple key of an unknown socket. */
__u32 tc_capture = 0;

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
} http_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HTTP_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} http_drops SEC(".maps");

/* What the scan of one response head found. It lives in a map value, not
 * on the stack: the verifier then treats every field as unknown, so the
 * bpf_loop callback converges at once instead of being explored value by
 * value. */
struct scan {
	__u32 n;       /* bytes in the head buffer */
	__u32 hdr_end; /* offset after the first "\r\n\r\n", 0 = not found */
	__s64 cl;      /* Content-Length, -1 = none */
	__u32 chunked; /* Transfer-Encoding names chunked */
	__u32 reserved;
};

#define HTTP_SLACK 32 /* header names and values are read a word past an offset */

/* The event being built, its head filled straight from the segment, and the
 * scan over that head. */
struct scratch {
	struct scan st;
	struct http_event ev;
	char slack[HTTP_SLACK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} http_scratch SEC(".maps");

static __always_inline void http_drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&http_drops, &reason);

	if (n)
		*n += 1;
}

/* "GET ", "POST", "PUT ", "DELE", "HEAD", "OPTI", "PATC", "CONN", "TRAC" as
 * little-endian words, then the byte after the method must be a space. */
static __always_inline bool http_is_request(__u64 w)
{
	__u32 lo = (__u32)w;
	__u8 b4 = w >> 32, b5 = w >> 40, b6 = w >> 48, b7 = w >> 56;

	switch (lo) {
	case 0x20544547: /* "GET " */
	case 0x20545550: /* "PUT " */
		return true;
	case 0x54534f50: /* "POST" */
	case 0x44414548: /* "HEAD" */
		return b4 == ' ';
	case 0x43544150: /* "PATC" */
	case 0x43415254: /* "TRAC" */
		return b5 == ' ';
	case 0x454c4544: /* "DELE" */
		return b6 == ' ';
	case 0x4954504f: /* "OPTI" */
	case 0x4e4e4f43: /* "CONN" */
		return b7 == 'S' || b7 == 'T';
	}
	return false;
}

static __always_inline bool http_is_response(__u64 w)
{
	/* "HTTP/1." */
	return (w & 0x00ffffffffffffffULL) == 0x002e312f50545448ULL;
}

struct seg {
	__u64 cookie;
	__u32 off; /* payload offset in the skb */
	__u32 len; /* payload bytes */
	__u8 family;
	__u8 dir;
	__u8 local[16], remote[16];
	__u16 lport, rport;
};

/* Parse the IP and TCP headers. cgroup_skb data starts at L3 (l3 = 0), tc
 * data at the Ethernet header (l3 = ETH_HLEN). */
static __always_inline bool seg_parse(struct __sk_buff *skb, __u8 dir, __u8 family, __u32 l3,
				      struct seg *s)
{
	struct tcphdr th;
	__u32 l4;

	__builtin_memset(s, 0, sizeof(*s));
	s->dir = dir;
	if (family == AF_INET) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, l3, &ip, sizeof(ip)) || ip.protocol != IPPROTO_TCP)
			return false;
		l4 = l3 + ip.ihl * 4;
		__builtin_memcpy(dir == HTTP_DIR_EGRESS ? s->local : s->remote, &ip.saddr, 4);
		__builtin_memcpy(dir == HTTP_DIR_EGRESS ? s->remote : s->local, &ip.daddr, 4);
		s->family = AF_INET;
	} else if (family == AF_INET6) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, l3, &ip6, sizeof(ip6)) || ip6.nexthdr != IPPROTO_TCP)
			return false;
		l4 = l3 + sizeof(ip6);
		__builtin_memcpy(dir == HTTP_DIR_EGRESS ? s->local : s->remote, &ip6.saddr, 16);
		__builtin_memcpy(dir == HTTP_DIR_EGRESS ? s->remote : s->local, &ip6.daddr, 16);
		s->family = AF_INET6;
	} else {
		return false;
	}
	if (bpf_skb_load_bytes(skb, l4, &th, sizeof(th)))
		return false;
	s->off = l4 + th.doff * 4;
	if (skb->len <= s->off)
		return false;
	s->len = skb->len - s->off;
	s->lport = bpf_ntohs(dir == HTTP_DIR_EGRESS ? th.source : th.dest);
	s->rport = bpf_ntohs(dir == HTTP_DIR_EGRESS ? th.dest : th.source);
	return true;
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

/* The fields every record has (up to head). */
static __always_inline void ev_fill(struct http_event *e, const struct seg *s, __u8 kind, __u64 now)
{
	e->ts = now;
	e->cookie = s->cookie;
	e->pid_tgid = 0;
	e->cgroup_id = 0;
	e->kind = kind;
	e->dir = s->dir;
	e->family = s->family;
	e->complete = 0;
	e->error = 0;
	__builtin_memcpy(e->local, s->local, 16);
	__builtin_memcpy(e->remote, s->remote, 16);
	e->lport = s->lport;
	e->rport = s->rport;
	e->head_len = 0;
	e->seg_len = 0;
	__builtin_memset(e->comm, 0, sizeof(e->comm));
}

/* A record without head: HTTP_EV_HDR bytes of the ring. */
static __always_inline struct http_event *ev_reserve_hdr(void)
{
	struct http_event *e = bpf_ringbuf_reserve(&http_events, HTTP_EV_HDR, 0);

	if (!e)
		http_drop(HTTP_DROP_RINGBUF);
	return e;
}

static __always_inline struct scratch *scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&http_scratch, &zero);
}

/* Eight head bytes from off on (little-endian word); the slack keeps a read
 * past the last offset inside the map value. */
static __always_inline __u64 load8(const struct scratch *sc, __u32 off)
{
	__u64 w;

	__builtin_memcpy(&w, &sc->ev.head[off & (HTTP_SCAN_MAX - 1)], 8);
	return w;
}

#define LOWER8 0x2020202020202020ULL	 /* ORed in: ASCII letters to lower case */
#define W_CONTENT_ 0x2d746e65746e6f63ULL /* "content-" */
#define W_LENGTH 0x003a6874676e656cULL	 /* "length:" (7 bytes) */
#define W_TRANSFER 0x726566736e617274ULL /* "transfer" */
#define W_ENCODIN 0x6e69646f636e652dULL	 /* "-encodin" */
#define W_G 0x3a67U			 /* "g:" */
#define W_CHUNKED 0x0064656b6e756863ULL	 /* "chunked" (7 bytes) */
#define BYTES7 0x00ffffffffffffffULL

/* Content-Length's digits, after optional spaces, from q on. */
static __always_inline __s64 parse_length(const struct scratch *sc, __u32 q, __u32 n)
{
	__s64 v = -1;

#pragma unroll
	for (int k = 0; k < 24; k++) {
		char c;

		if (q + k >= n)
			break;
		c = sc->ev.head[(q + k) & (HTTP_SCAN_MAX - 1)];
		if (c >= '0' && c <= '9')
			v = (v < 0 ? 0 : v) * 10 + (c - '0');
		else if (c != ' ' || v >= 0)
			break;
	}
	return v;
}

/* Does the header value from q on (up to its line end) name chunked? */
static __always_inline bool value_chunked(const struct scratch *sc, __u32 q, __u32 n)
{
#pragma unroll
	for (int k = 0; k < 32; k++) {
		if (q + k + 7 > n || sc->ev.head[(q + k) & (HTTP_SCAN_MAX - 1)] == '\r')
			return false;
		if (((load8(sc, q + k) | LOWER8) & BYTES7) == W_CHUNKED)
			return true;
	}
	return false;
}

/* A line ends at p: the head ends here, or the next line may be a header
 * that frames the body. Returns true when the head ended. */
static __always_inline bool on_newline(struct scratch *sc, __u32 p)
{
	struct scan *st = &sc->st;
	__u32 n = st->n;
	__u64 w1, w2;

	if (p >= 3 && (__u32)load8(sc, p - 3) == 0x0a0d0a0d) { /* "\r\n\r\n" */
		st->hdr_end = p + 1;
		return true;
	}
	if (p + 20 > n)
		return false;
	w1 = load8(sc, p + 1) | LOWER8;
	w2 = load8(sc, p + 9) | LOWER8;
	if (w1 == W_CONTENT_ && (w2 & BYTES7) == W_LENGTH)
		st->cl = parse_length(sc, p + 16, n);
	else if (w1 == W_TRANSFER && w2 == W_ENCODIN &&
		 (((__u16)load8(sc, p + 17)) | 0x0020) == W_G && value_chunked(sc, p + 19, n))
		st->chunked = 1;
	return false;
}

struct scan_ctx {
	struct scratch *sc;
};

/* One word of the head per call: most words hold no newline and cost one
 * load and a few ALU operations; only line ends are looked at. */
static long scan_response(__u32 i, void *ctx)
{
	/* the map value comes through the stack: no lookup per word */
	struct scratch *sc = ((struct scan_ctx *)ctx)->sc;
	__u32 off = i * 8;
	__u64 w, x;

	if (off >= sc->st.n || off >= HTTP_SCAN_MAX)
		return 1;
	w = load8(sc, off);
	x = w ^ 0x0a0a0a0a0a0a0a0aULL; /* a zero byte where w has '\n' */
	if (!((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL))
		return 0;
#pragma unroll
	for (int b = 0; b < 8; b++) {
		if (((w >> (b * 8)) & 0xff) != '\n' || off + b >= sc->st.n)
			continue;
		if (on_newline(sc, off + b))
			return 1;
	}
	return 0;
}

/* The segment's first bytes into the event's head; the scan state reset. */
static __always_inline struct scratch *load_head(struct __sk_buff *skb, const struct seg *s)
{
	struct scratch *sc = scratch_get();
	__u32 len = s->len;

	if (!sc)
		return NULL;
	if (len > HTTP_HEAD_MAX)
		len = HTTP_HEAD_MAX;
	if (len < 1 || bpf_skb_load_bytes(skb, s->off, sc->ev.head, len)) {
		http_drop(HTTP_DROP_LOAD);
		return NULL;
	}
	__builtin_memset(&sc->st, 0, sizeof(sc->st));
	sc->st.n = len;
	sc->st.cl = -1;
	return sc;
}

/* Send the event built in the scratch with the head bytes it carries. */
static __always_inline void emit_head(const struct seg *s, struct scratch *sc, __u8 kind, __u64 now,
				      __u8 complete)
{
	struct http_event *e = &sc->ev;
	__u32 hl = sc->st.n;

	ev_fill(e, s, kind, now);
	if (hl > HTTP_HEAD_MAX)
		hl = HTTP_HEAD_MAX;
	e->head_len = hl;
	e->seg_len = s->len > 0xffff ? 0xffff : s->len;
	e->complete = complete;
	if (bpf_ringbuf_output(&http_events, e, HTTP_EV_HDR + hl, wake_flags()))
		http_drop(HTTP_DROP_RINGBUF);
}

static __always_inline bool ends_chunked(struct __sk_buff *skb, const struct seg *s)
{
	char t[5];

	if (s->len < 5 || bpf_skb_load_bytes(skb, s->off + s->len - 5, t, 5))
		return false;
	return t[0] == '0' && t[1] == '\r' && t[2] == '\n' && t[3] == '\r' && t[4] == '\n';
}

/* A response on a connection the load balancer made: 5xx and gateway errors
 * (502, 503, 504) count against its endpoint, anything else ends both runs.
 * Like Envoy, the two runs are counted independently. */
static __always_inline void outlier_feed(const struct seg *s, const char *head, __u64 now)
{
	struct lb_conn *conn;
	struct lb_ep_health *h;
	struct lb_ep_stats *st;
	__u32 status;

	if (s->dir != HTTP_DIR_INGRESS || (s->cookie & HTTP_TC_KEY) || s->len < 12)
		return;
	conn = bpf_map_lookup_elem(&lb_conns, &s->cookie);
	if (!conn)
		return;
	if (head[9] < '1' || head[9] > '5' || head[10] < '0' || head[10] > '9' || head[11] < '0' ||
	    head[11] > '9')
		return;
	status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
	if (status >= 500) {
		st = bpf_map_lookup_elem(&lb_ep_stats, &conn->ep_id);
		if (st)
			st->http_5xx++;
		if (status >= 502 && status <= 504)
			lb_ep_failure(conn->ep_id, conn->svc_id, LB_REASON_GATEWAY, now);
		lb_ep_failure(conn->ep_id, conn->svc_id, LB_REASON_5XX, now);
		return;
	}
	h = bpf_map_lookup_elem(&lb_ep_health, &conn->ep_id);
	if (!h || (!h->consec_5xx && !h->consec_gateway))
		return;
	bpf_spin_lock(&h->lock);
	h->consec_5xx = 0;
	h->consec_gateway = 0;
	bpf_spin_unlock(&h->lock);
}

static __always_inline void on_response(struct __sk_buff *skb, struct seg *s, __u64 now)
{
	struct scratch *sc = load_head(skb, s);
	struct http_conn c = {}, *old;
	struct scan_ctx ctx;
	__u8 complete = 0;

	if (!sc)
		return;
	ctx.sc = sc;
	bpf_loop(HTTP_SCAN_MAX / 8, scan_response, &ctx, 0);
	if (sc->st.hdr_end && sc->st.cl >= 0) {
		c.resp_left = sc->st.cl - (__s64)(s->len - sc->st.hdr_end);
		if (c.resp_left <= 0)
			complete = 1;
		else
			c.resp_mode = 1;
	} else if (sc->st.hdr_end && sc->st.chunked) {
		if (ends_chunked(skb, s))
			complete = 1;
		else
			c.resp_mode = 2;
	}
	/* in place when the socket is known: an LRU update costs several
	 * times a lookup */
	old = bpf_map_lookup_elem(&http_conns, &s->cookie);
	if (old)
		*old = c;
	else if (bpf_map_update_elem(&http_conns, &s->cookie, &c, BPF_ANY))
		http_drop(HTTP_DROP_CONNS);
	outlier_feed(s, sc->ev.head, now);
	emit_head(s, sc, HTTP_EV_RESPONSE, now, complete);
}

static __always_inline void on_request(struct __sk_buff *skb, struct seg *s, __u64 now)
{
	struct scratch *sc = load_head(skb, s);
	struct http_conn c = {};

	if (!sc)
		return;
	if (!bpf_map_lookup_elem(&http_conns, &s->cookie) &&
	    bpf_map_update_elem(&http_conns, &s->cookie, &c, BPF_NOEXIST))
		http_drop(HTTP_DROP_CONNS);
	emit_head(s, sc, HTTP_EV_REQUEST, now, 0);
}

/* A body segment of the response in flight: has the framing been met? */
static __always_inline void on_body(struct __sk_buff *skb, struct seg *s, struct http_conn *c,
				    __u64 now)
{
	struct http_event *e;

	if (c->resp_mode == 1) {
		c->resp_left -= s->len;
		if (c->resp_left > 0)
			return;
	} else if (c->resp_mode != 2 || !ends_chunked(skb, s)) {
		return;
	}
	c->resp_mode = 0;
	e = ev_reserve_hdr();
	if (!e)
		return;
	ev_fill(e, s, HTTP_EV_RESPONSE_END, now);
	bpf_ringbuf_submit(e, wake_flags());
}

/* tc: seen on a host-side interface, keyed by the 4-tuple, not the socket. */
static __always_inline void capture(struct __sk_buff *skb, __u8 dir, __u8 family, __u32 l3, bool tc)
{
	struct http_conn *c;
	struct seg s;
	__u64 w = 0;

	if (!seg_parse(skb, dir, family, l3, &s))
		return;
	if (s.len >= 8 && bpf_skb_load_bytes(skb, s.off, &w, 8))
		return;
	s.cookie = tc ? tuple_key(s.family, s.local, s.remote, s.lport, s.rport)
		      : bpf_get_socket_cookie(skb);
	/* the clock is read only for segments that carry an event */
	if (s.len >= 8 && http_is_response(w)) {
		on_response(skb, &s, bpf_ktime_get_ns());
	} else if (s.len >= 8 && http_is_request(w)) {
		on_request(skb, &s, bpf_ktime_get_ns());
	} else {
		c = bpf_map_lookup_elem(&http_conns, &s.cookie);
		if (c && c->resp_mode)
			on_body(skb, &s, c, bpf_ktime_get_ns());
	}
}

SEC("cgroup_skb/egress")
int bm_http_egress(struct __sk_buff *skb)
{
	capture(skb, HTTP_DIR_EGRESS, skb->family, 0, false);
	return 1;
}

SEC("cgroup_skb/ingress")
int bm_http_ingress(struct __sk_buff *skb)
{
	capture(skb, HTTP_DIR_INGRESS, skb->family, 0, false);
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

/* The key under which capture knows this socket, or 0. */
static __always_inline __u64 known_key(struct sock *sk)
{
	__u64 key = bpf_get_socket_cookie(sk);

	if (bpf_map_lookup_elem(&http_conns, &key))
		return key;
	if (!tc_capture)
		return 0;
	key = sock_tuple_key(sk);
	return key && bpf_map_lookup_elem(&http_conns, &key) ? key : 0;
}

/* Which thread sent or read: the tracepoints run in the task's context,
 * right after the data moved, on sockets that carried HTTP. */
static __always_inline void thread_event(struct sock *sk, __u8 dir)
{
	__u64 cookie = known_key(sk);
	struct http_event *e;

	if (!cookie)
		return;
	e = ev_reserve_hdr();
	if (!e)
		return;
	__builtin_memset(e, 0, HTTP_EV_HDR);
	e->ts = bpf_ktime_get_ns();
	e->cookie = cookie;
	e->pid_tgid = bpf_get_current_pid_tgid();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->kind = HTTP_EV_THREAD;
	e->dir = dir;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, wake_flags());
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

/* A socket that carried HTTP closed: requests still open on it end. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(bm_http_state, struct sock *sk, int oldstate, int newstate)
{
	__u64 cookie;
	struct http_event *e;

	if (newstate != TCP_CLOSE || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	cookie = known_key(sk);
	if (!cookie)
		return 0;
	e = ev_reserve_hdr();
	if (e) {
		__builtin_memset(e, 0, HTTP_EV_HDR);
		e->ts = bpf_ktime_get_ns();
		e->cookie = cookie;
		e->kind = HTTP_EV_CLOSE;
		e->error = sk->sk_err;
		bpf_ringbuf_submit(e, wake_flags());
	}
	bpf_map_delete_elem(&http_conns, &cookie);
	return 0;
}
