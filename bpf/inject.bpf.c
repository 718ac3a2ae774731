// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* inject.bpf.c: W3C traceparent injection into the HTTP/1.x requests that
 * meshed processes send without one (Telemetry propagation.inject).
 *
 * bm_inject_c4/c6 (cgroup connect, on the agent's cgroup) pick the client
 * sockets: at connect(), in the task's context, they ask whether the task's
 * cgroup has injection on (a Workload's setting on the nearest ancestor,
 * else inject_all); bm_inject_ops (sockops) puts such a socket in
 * inject_socks once it is established. bm_inject_msg (sk_msg on inject_socks) then sees every send
 * of those sockets: a message that starts with a request line gets a
 * traceparent header pushed right after that line, unless its head (up to
 * its blank line) already has one; requests pipelined behind it in the same
 * message get one each. The programs only add bytes: no redirect, no drop.
 *
 * Ids: trace id random, span id random in its high half and tagged in its
 * low half (inject.h), sampled flag from the same trace-id rule the agent's
 * sampler uses (inject_threshold), so the agent's CLIENT span, which adopts
 * these ids, is exported exactly when the callee is told it is sampled.
 *
 * SDK-instrumented processes (inject_skip) are left alone: connect4/6 do
 * not choose their sockets, and bm_inject_msg passes their sends unchanged
 * (a connection chosen before the agent marked its process). So are the
 * processes capture saw serving HTTP requests (http_serving, shared with
 * http.bpf.c): the ids made here would start a new trace at every middle
 * hop, where bpfmesh's nesting keeps a call in the trace of the request
 * its thread serves. Injection is for edge clients.
 *
 * The agent loads these programs only when injection is on somewhere and
 * keeps them unpinned: when the agent goes, injection goes (nobody would
 * export the spans the headers name).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "inject.h"
#include "lib/serving.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the agent before load. */
const volatile __u64 inject_key = 0;
/* Set by the agent at load and on reloads. */
__u32 inject_all = 0;
__u64 inject_threshold = 0; /* sampling.h: keep when the trace id's low 56 bits >= this */
/* Set by the agent while its self-test runs (the sockhash then holds only
 * the test's socket): the agent's own process may be one capture saw
 * serving (its API, in a meshed cgroup), and the test must see a header. */
__u32 inject_selftest = 0;

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, INJECT_MAX_SOCKS);
	__type(key, __u64);   /* socket cookie */
	__type(value, __u32); /* a socket fd, from userspace (the self-test) */
} inject_socks SEC(".maps");

/* Sockets whose connect() chose injection, until they are established. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, INJECT_MAX_SOCKS);
	__type(key, __u64);
	__type(value, __u8);
} inject_want SEC(".maps");

/* cgroup id -> INJECT_CG_ON / INJECT_CG_OFF (a Workload's tracing.inject) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, INJECT_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, __u8);
} inject_cgrp SEC(".maps");

/* tgid -> struct inject_skip: SDK-instrumented processes, written by the
 * agent (lb/inject_skip.c) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, INJECT_MAX_SKIP);
	__type(key, __u32);
	__type(value, struct inject_skip);
} inject_skip SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, INJECT_ST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} inject_stats SEC(".maps");

/* The head being searched, copied out of the message: a bpf_loop callback
 * cannot read a message's bytes. */
struct inject_buf {
	char b[INJECT_SCAN_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct inject_buf);
} inject_scratch SEC(".maps");

static __always_inline void count(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&inject_stats, &i);

	if (v)
		*v += 1;
}

/* --- which sockets --- */

/* INJECT_CG_ON, _OFF or _SDK for the task's cgroup: the deepest ancestor
 * with a Workload's setting wins, else inject_all. */
static __always_inline __u8 cgroup_setting(void)
{
	__u8 on = inject_all ? INJECT_CG_ON : INJECT_CG_OFF;

	for (int lv = 0; lv < INJECT_CGROUP_LEVELS; lv++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(lv);
		__u8 *v;

		if (!id)
			break;
		v = bpf_map_lookup_elem(&inject_cgrp, &id);
		if (v)
			on = *v;
	}
	return on;
}

/* Does the current task belong to a process whose SDK exports its own
 * spans? Its requests without a traceparent are ones the SDK chose not to
 * trace (its export calls among them): no header, as Beyla leaves services
 * that export OTel themselves alone. */
static __always_inline bool sdk_task(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct inject_skip *v = bpf_map_lookup_elem(&inject_skip, &tgid);

	return v && !(v->flags & INJECT_SKIP_GONE) && v->cgroup_id == bpf_get_current_cgroup_id();
}

/* connect() runs in the task: its cgroup is the caller's (a sockops
 * program could not ask on 6.1, where it has no cgroup helpers). An SDK'd
 * process's socket never enters the sockhash (nor its FIONREAD hazard). */
static __always_inline int choose(struct bpf_sock_addr *ctx)
{
	__u64 cookie;
	__u8 one = 1, on;

	if (ctx->type != 1 /* SOCK_STREAM */)
		return 1;
	on = cgroup_setting();
	if (on == INJECT_CG_OFF)
		return 1;
	if (on == INJECT_CG_SDK || sdk_task()) {
		count(INJECT_ST_SKIP_CONN);
		return 1;
	}
	if (serving_task()) {
		count(INJECT_ST_SRV_CONN);
		return 1;
	}
	cookie = bpf_get_socket_cookie(ctx);
	bpf_map_update_elem(&inject_want, &cookie, &one, BPF_ANY);
	return 1; /* never refuses: only notes */
}

SEC("cgroup/connect4")
int bm_inject_c4(struct bpf_sock_addr *ctx) { return choose(ctx); }

SEC("cgroup/connect6")
int bm_inject_c6(struct bpf_sock_addr *ctx) { return choose(ctx); }

/* Established: a chosen socket goes into inject_socks (sockops is where a
 * program may add a socket to a sockhash). */
SEC("sockops")
int bm_inject_ops(struct bpf_sock_ops *skops)
{
	__u64 cookie;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	if (!bpf_map_lookup_elem(&inject_want, &cookie))
		return 1;
	bpf_map_delete_elem(&inject_want, &cookie);
	if (!bpf_sock_hash_update(skops, &inject_socks, &cookie, BPF_ANY))
		count(INJECT_ST_SOCKS);
	return 1;
}

/* --- the head --- */

/* What the search of one head found. */
struct scan {
	struct inject_buf *buf;
	__u32 line_end; /* bytes up to and with the request line's '\n'; 0: none yet */
	__u32 head_end; /* bytes up to and with the blank line; 0: none yet */
	__u32 window;	/* the last four bytes */
	__u32 match;	/* characters of "\ntraceparent:" matched */
	__u32 has_tp;
	char name[16]; /* "\ntraceparent:", here as the callback reads only its context */
};

#define TP_NAME_LEN 13

static long scan_byte(__u64 i, void *ctx)
{
	struct scan *s = ctx;
	char c;

	if (i >= INJECT_SCAN_MAX)
		return 1;
	c = s->buf->b[i];
	if (c >= 'A' && c <= 'Z')
		c += 'a' - 'A';
	if (c == '\n' && !s->line_end)
		s->line_end = i + 1;
	/* a header name is case-insensitive and starts a line */
	if (c == s->name[s->match & 15])
		s->match++;
	else
		s->match = c == '\n';
	if (s->match >= TP_NAME_LEN) {
		s->has_tp = 1;
		return 1;
	}
	s->window = s->window << 8 | (__u8)c;
	if (s->window == 0x0d0a0d0a) {
		s->head_end = i + 1;
		return 1;
	}
	return 0;
}

/* A request line: a method token, a space, ... " HTTP/1.x\r\n". */
static __always_inline bool request_line(const struct inject_buf *b, __u32 n, __u32 line_end)
{
	const char *p;
	__u32 i, e;

	for (i = 0; i < 16 && i < n; i++) {
		char c = b->b[i];

		if (c == ' ')
			break;
		if (c < 'A' || c > 'Z')
			return false;
	}
	if (i == 0 || i >= 16 || i >= n || line_end < 16)
		return false;
	e = line_end - 11;
	if (e > INJECT_SCAN_MAX - 11)
		return false;
	/* the bound must hold for the register used: without the barrier the
	 * compiler recomputes e + k from line_end, unbounded (6.1, 6.12) */
	asm volatile("" : "+r"(e));
	p = &b->b[e];
	return p[0] == ' ' && p[1] == 'H' && p[2] == 'T' && p[3] == 'T' && p[4] == 'P' &&
	       p[5] == '/' && p[6] == '1' && p[7] == '.' && p[9] == '\r';
}

static __always_inline void put_hex(char *p, __u64 v, int nbytes)
{
	for (int i = nbytes * 2 - 1; i >= 0; i--) {
		char d = v & 15;

		p[i] = d < 10 ? '0' + d : 'a' + d - 10;
		v >>= 4;
	}
}

/* The sending socket's connection, as inject.h hashes it. Every field is
 * read, whatever the family, and the values chosen after: loads under a
 * branch get folded by the compiler into one load through a computed
 * context pointer, which the verifier refuses. */
static __always_inline __u64 msg_conn(struct sk_msg_md *msg)
{
	__u32 l6[4] = {msg->local_ip6[0], msg->local_ip6[1], msg->local_ip6[2], msg->local_ip6[3]};
	__u32 r6[4] = {msg->remote_ip6[0], msg->remote_ip6[1], msg->remote_ip6[2],
		       msg->remote_ip6[3]};
	__u32 l4[4] = {0, 0, bpf_htonl(0xffff), msg->local_ip4};
	__u32 r4[4] = {0, 0, bpf_htonl(0xffff), msg->remote_ip4};
	__u32 rp = msg->remote_port;
	__u16 lport = msg->local_port, rport;

	/* network order, in the upper half on little-endian kernels (like
	 * bpf_sock_ops.remote_port), in the lower half elsewhere */
	if (rp > 0xffff)
		rp >>= 16;
	rport = bpf_ntohs((__u16)rp);

	if (msg->family == 10 /* AF_INET6 */)
		return inject_conn(l6, r6, lport, rport);
	return inject_conn(l4, r4, lport, rport);
}

/* The header line, with fresh ids for a request on connection conn. */
static __always_inline void make_header(char *h, __u64 conn)
{
	__u64 hi = (__u64)bpf_get_prandom_u32() << 32 | bpf_get_prandom_u32();
	__u64 lo = (__u64)bpf_get_prandom_u32() << 32 | bpf_get_prandom_u32();
	__u32 r = bpf_get_prandom_u32() | 1; /* a span id is never zero */
	__u64 span = (__u64)r << 32 | inject_tag(r, conn, inject_key);
	/* sampling.c: the randomness is the trace id's last 7 bytes */
	bool sampled = (lo & 0x00ffffffffffffffULL) >= inject_threshold;

	__builtin_memcpy(h, "traceparent: 00-", 16);
	put_hex(h + 16, hi, 8);
	put_hex(h + 32, lo, 8);
	h[48] = '-';
	put_hex(h + 49, span, 8);
	h[65] = '-';
	h[66] = '0';
	h[67] = sampled ? '1' : '0';
	h[68] = '\r';
	h[69] = '\n';
}

/* The request that starts at byte off of the message: add its header.
 * Returns where the next request would start (off when there is none). */
__noinline int inject_one(struct sk_msg_md *msg, __u32 off)
{
	struct scan s = {};
	char hdr[INJECT_HDR_LEN];
	__u32 zero = 0, n, le, size = msg->size;
	void *data, *end;
	long err;

	if (off >= size || off > 65536)
		return off;
	n = size - off;
	if (n > INJECT_SCAN_MAX)
		n = INJECT_SCAN_MAX;
	if (bpf_msg_pull_data(msg, off, off + n, 0))
		return off;
	data = (void *)(long)msg->data;
	end = (void *)(long)msg->data_end;
	if (end - data < n)
		n = end - data;
	if (n < 16)
		return off;
	s.buf = bpf_map_lookup_elem(&inject_scratch, &zero);
	if (!s.buf)
		return off;
	n &= INJECT_SCAN_MAX * 2 - 1;
	if (n > INJECT_SCAN_MAX)
		return off;
	if (bpf_probe_read_kernel(s.buf->b, n, data))
		return off;
	if (s.buf->b[0] < 'A' || s.buf->b[0] > 'Z')
		return off;
	__builtin_memcpy(s.name, "\ntraceparent:", TP_NAME_LEN);
	bpf_loop(n, scan_byte, &s, 0);
	if (s.has_tp) {
		count(INJECT_ST_HAS_TP);
		return off;
	}
	if (!s.head_end) {
		count(n == INJECT_SCAN_MAX ? INJECT_ST_HEAD_BIG : INJECT_ST_HEAD_SPLIT);
		return off;
	}
	if (!request_line(s.buf, n, s.line_end))
		return off;
	make_header(hdr, msg_conn(msg));
	/* The pushed bytes are an element of their own in the message, and the
	 * kernel sends each element with its own tcp_sendmsg: with TCP_NODELAY
	 * the head would leave in three segments, and a reader of the first
	 * (bpfmesh's own capture among them) would see a head cut after its
	 * request line. Pulling the whole head makes it one element again. */
	err = bpf_msg_push_data(msg, off + s.line_end, INJECT_HDR_LEN, 0);
	if (err) {
		count(INJECT_ST_PUSH_FAIL);
		return off;
	}
	le = s.line_end & (INJECT_SCAN_MAX - 1);
	err = bpf_msg_pull_data(msg, off, off + s.head_end + INJECT_HDR_LEN, 0);
	data = (void *)(long)msg->data;
	end = (void *)(long)msg->data_end;
	if (err || data + le + INJECT_HDR_LEN > end) {
		/* the pushed bytes are zeros: never send them */
		bpf_msg_pop_data(msg, off + s.line_end, INJECT_HDR_LEN, 0);
		count(INJECT_ST_PUSH_FAIL);
		return off;
	}
	__builtin_memcpy(data + le, hdr, INJECT_HDR_LEN);
	count(INJECT_ST_INJECTED);
	/* a request without a body (what clients pipeline) ends at its head */
	return off + s.head_end + INJECT_HDR_LEN;
}

SEC("sk_msg")
int bm_inject_msg(struct sk_msg_md *msg)
{
	__u32 off = 0;

	/* sendmsg runs in the sender's context: a keep-alive connection
	 * chosen before its process was found SDK'd (its first traced call
	 * marks it) stays in the sockhash, but gets no more headers */
	if (!inject_selftest && sdk_task()) {
		count(INJECT_ST_SKIP_MSG);
		return SK_PASS;
	}
	/* likewise a connection opened before its process first served */
	if (!inject_selftest && serving_task()) {
		count(INJECT_ST_SRV_MSG);
		return SK_PASS;
	}

	for (int k = 0; k < INJECT_PIPELINE_MAX; k++) {
		int next = inject_one(msg, off);

		if (next <= (int)off)
			break;
		off = next;
	}
	return SK_PASS;
}
