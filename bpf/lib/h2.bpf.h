/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* h2.bpf.h: the kernel side of HTTP/2 (h2c, gRPC), the protocol's part of
 * capture (http.bpf.c): recognising a connection (prior-knowledge preface,
 * or a 101 that switches to h2c), walking each segment's frame headers and
 * sending the compacted frame stream that bpf/h2.h defines; and counting
 * TLS ClientHellos, which are never parsed. The agent's side is
 * agent/trace/h2_*.c.
 *
 * A socket followed as HTTP/2 has HTTP_ROLE_H2 in its http_conns3 entry
 * (made at recognition, with its client or server role, so THREAD and CLOSE
 * records come as for HTTP/1.x) and its walk state in h2_socks. capture()
 * looks at http_conns3 for every segment that starts no HTTP/1.x message
 * anyway: that lookup tells an HTTP/2 segment, and a socket without state
 * pays one compare of its first bytes for the preface and the ClientHello.
 *
 * The walk also follows the TCP sequence numbers of each direction: a
 * segment seen again (an egress retransmission passes cgroup_skb again) is
 * walked only past what was walked, and bytes that never passed here (a
 * segment taken for an HTTP/1.x head, one lost before the hook) lose the
 * frame boundaries: the direction stops (H2_F_STOP), it is never walked
 * out of step.
 *
 * Include after the ring (http_events), http_drop() and ev_fill(). */
#ifndef BPFMESH_H2_BPF_H
#define BPFMESH_H2_BPF_H

#include "h2.h"
#include "lib/len.bpf.h"

/* Kernel-only bits of h2_dir.flags, beside the H2_F_GAP and H2_F_START
 * owed to the next record. */
#define H2_D_SKIP 0x10	  /* copying suspended after a loss, until a header of a later segment */
#define H2_D_SEQ 0x20	  /* h2_dir.seq holds the next byte's sequence number */
#define H2_D_STOPPED 0x40 /* H2_F_STOP was sent: the direction is not walked */

#define H2_STEPS_MAX (4 * H2_SEG_FRAMES_MAX + 16) /* bpf_loop steps per segment */
#define H2_UPG_SCAN 512				  /* bytes of a 101 searched for h2c */

/* "PRI * HT", "TP/2.0\r\n", "\r\nSM\r\n\r\n" as little-endian words. */
#define H2_PREFACE_W0 0x5448202a20495250ULL
#define H2_PREFACE_W1 0x0a0d302e322f5054ULL
#define H2_PREFACE_W2 0x0a0d0a0d4d530a0dULL

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, H2_MAX_CONNS);
	__type(key, __u64);
	__type(value, struct h2_sock);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} h2_socks SEC(".maps");

/* The endpoint each balanced HTTP/2 client socket was sent to, copied from
 * lb_conns at recognition: the agent's outcomes (bm_h2_outcome) come after
 * its read of the ring, often after the socket closed and its lb_conns
 * entry went. Never deleted: an LRU. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, H2_MAX_CONNS);
	__type(key, __u64);
	__type(value, struct lb_conn);
} h2_lb SEC(".maps");

/* A connection whose preface reached a listener (TCP_DEFER_ACCEPT; see
 * http.bpf.c's struct http_early): its state is made under an early key,
 * its 4-tuple's with H2_EARLY_KEY in place of HTTP_TC_KEY (no socket cookie
 * reaches 2^62, and tc's keys keep their own bit), and the records of that
 * first segment wait here, by the key and their order, for the socket TCP
 * makes right after; h2_early_accepted() then moves state and records to
 * its cookie. A first segment makes one record unless it carries more than
 * a record's worth of headers; one past H2_EARLY_RECS is lost as a full
 * ring's would be (a gap, counted). */
#define H2_EARLY_KEY (1ULL << 62)
#define H2_EARLY_RECS 2
#define H2_EARLY_MAX 128 /* connections made at once, node-wide */
/* They wait microseconds (the socket is made in the same packet's
 * processing); older ones were left behind. */
#define H2_EARLY_AGE_NS (1000ULL * 1000 * 1000)

struct h2_early_key {
	__u64 key;
	__u32 i;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, (H2_EARLY_MAX * H2_EARLY_RECS));
	__type(key, struct h2_early_key);
	__type(value, struct http_event);
} h2_early SEC(".maps");

/* The early key of a connection whose 4-tuple's key is tkey. */
static __always_inline __u64 h2_early_key(__u64 tkey)
{
	return (tkey & ~HTTP_TC_KEY) | H2_EARLY_KEY;
}

static __always_inline bool h2_is_early(__u64 key)
{
	return (key & (HTTP_TC_KEY | H2_EARLY_KEY)) == H2_EARLY_KEY;
}

/* One segment's walk, in a per-CPU map value: the verifier then knows
 * nothing of its fields, so the bpf_loop callback converges at once. The
 * record is built in ev (its head, then slack that keeps a copy at any
 * offset below HTTP_HEAD_MAX inside the value). */
struct h2_walk {
	struct seg seg;	 /* the segment walked */
	struct h2_dir d; /* the direction's state, written back after the walk */
	__u32 off;	 /* the payload's offset in the skb */
	__u32 len;	 /* payload bytes */
	__u32 pos;	 /* bytes of the payload walked */
	__u32 budget;	 /* bytes this segment may still copy (H2_SEG_COPY_MAX) */
	__u32 frames;	 /* frame headers started in this segment */
	__u32 rec_len;	 /* bytes in the record being built */
	__u32 hdr_end;	 /* 101 scan: offset after the head, 0 = not found */
	__u8 rec_flags;	 /* ALIGNED, END_TAIL of the record being built */
	__u8 sock_flags; /* H2_F_CLIENT, H2_F_UPGRADE: on every record */
	__u8 lost_here;	 /* a loss in this segment: no resuming before the next */
	__u8 tail;	 /* the segment began inside an END_STREAM frame's payload */
	__u8 h2c;	 /* 101 scan: an "h2c" header value was seen */
	__u8 early_n;	 /* records of this segment kept in h2_early */
	__u8 pad[2];
	__u8 hb[32];		  /* the frame header being read (9 bytes, the rest slack) */
	struct h2_early_key ekey; /* where an early record is kept (h2_emit) */
	struct http_event ev;
	char slack[HTTP_HEAD_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct h2_walk);
} h2_scratch SEC(".maps");

struct h2_walk_ctx {
	struct __sk_buff *skb;
	struct h2_walk *w;
};

/* Send the record built in w (a record without bytes only for its flags):
 * 0, or -1 when the ring is full. */
static __always_inline int h2_emit(struct h2_walk *w)
{
	__u32 hl = w->rec_len;
	__u8 owed = 0;

	if (hl > HTTP_HEAD_MAX)
		hl = HTTP_HEAD_MAX;
	if (hl)
		owed = w->d.flags & (H2_F_GAP | H2_F_START);
	w->ev.head_len = hl;
	w->ev.flags = w->rec_flags | w->sock_flags | owed;
	w->rec_len = 0;
	w->rec_flags = 0;
	if (h2_is_early(w->ev.cookie)) {
		/* the key in the walk's value, not on the stack: a stack
		 * slot written on one branch only keeps the verifier from
		 * pruning the two paths together after every emit */
		w->ekey.key = w->ev.cookie;
		w->ekey.i = w->early_n;
		w->ekey.pad = 0;
		if (w->early_n >= H2_EARLY_RECS ||
		    bpf_map_update_elem(&h2_early, &w->ekey, &w->ev, BPF_ANY)) {
			http_drop(HTTP_DROP_CONNS);
			return -1;
		}
		w->early_n++;
	} else if (bpf_ringbuf_output(&http_events, &w->ev, HTTP_EV_HDR + hl, BPF_RB_NO_WAKEUP)) {
		http_drop(HTTP_DROP_RINGBUF);
		return -1;
	}
	w->d.flags &= ~owed;
	return 0;
}

/* Bytes of the stream could not be sent: what the record holds goes
 * (its bytes precede the loss), copying stops until a frame header of a
 * later segment, whose record carries H2_F_GAP. */
static __always_inline void h2_lose(struct h2_walk *w)
{
	if (w->rec_len)
		h2_emit(w);
	w->rec_len = 0;
	w->rec_flags = 0;
	w->d.flags |= H2_D_SKIP | H2_F_GAP;
	w->lost_here = 1;
}

/* The frames are lost: one record with H2_F_STOP, then nothing more. */
static __always_inline void h2_stop(struct h2_walk *w)
{
	w->rec_len = 0;
	w->rec_flags = H2_F_STOP;
	h2_emit(w);
	w->d.flags |= H2_D_STOPPED;
}

/* Up to want (1..) stream bytes from the walk's position into the record:
 * how many bytes the walk may move over (all of want when they are lost). */
static __always_inline __u32 h2_take(struct h2_walk_ctx *x, struct h2_walk *w, __u32 want)
{
	__u32 n = want, at;

	if (w->d.flags & H2_D_SKIP)
		return want;
	if (!w->budget || (w->rec_len >= HTTP_HEAD_MAX && h2_emit(w))) {
		h2_lose(w);
		return want;
	}
	at = w->rec_len;
	if (n > HTTP_HEAD_MAX - at)
		n = HTTP_HEAD_MAX - at;
	if (n > w->budget)
		n = w->budget;
	if (!at && !w->d.left && !w->d.hdr_have)
		w->rec_flags |= H2_F_ALIGNED;
	/* at an offset below HTTP_HEAD_MAX: inside head + slack */
	n = len_1_to(n, HTTP_HEAD_MAX);
	if (bpf_skb_load_bytes(x->skb, w->off + w->pos, &w->ev.head[at & (HTTP_HEAD_MAX - 1)], n)) {
		http_drop(HTTP_DROP_LOAD);
		h2_lose(w);
		return want;
	}
	w->rec_len = at + n;
	w->budget -= n;
	return n;
}

/* Can this header be right? When it cannot, the walk lost the frame
 * boundaries. Lengths fixed by RFC 9113 and the stream-0 rules. */
static __always_inline bool h2_header_sane(__u8 type, __u32 len, __u32 sid)
{
	switch (type) {
	case H2_DATA:
	case H2_HEADERS:
	case H2_CONTINUATION:
	case H2_PUSH_PROMISE:
		return sid != 0;
	case H2_PRIORITY:
		return sid != 0 && len == 5;
	case H2_RST_STREAM:
		return sid != 0 && len == 4;
	case H2_SETTINGS:
		return sid == 0 && len % 6 == 0;
	case H2_PING:
		return sid == 0 && len == 8;
	case H2_GOAWAY:
		return sid == 0 && len >= 8;
	case H2_WINDOW_UPDATE:
		return len == 4;
	}
	return true; /* extension frames are skipped */
}

/* The header's 9 bytes are in: the frame's payload comes next. */
static __always_inline bool h2_header_done(struct h2_walk *w)
{
	struct h2_dir *d = &w->d;
	__u32 len, sid;
	__u8 type;

	__builtin_memcpy(d->hdr, w->hb, H2_FRAME_HDR);
	len = h2_frame_len(w->hb);
	sid = h2_frame_stream(w->hb);
	type = w->hb[3];
	if (!h2_header_sane(type, len, sid))
		return false;
	d->hdr_have = 0;
	d->left = len;
	d->keep = h2_frame_kept(w->hb);
	d->end_stream =
	    len && (type == H2_DATA || type == H2_HEADERS) && (w->hb[4] & H2_FLAG_END_STREAM);
	return true;
}

/* Payload bytes of the current frame: copied while kept, else skipped. */
static __always_inline void h2_payload_step(struct h2_walk_ctx *x, struct h2_walk *w, __u32 avail)
{
	struct h2_dir *d = &w->d;
	__u32 n = d->left < avail ? d->left : avail;
	bool copied = false;

	if (d->keep) {
		if (n > d->keep)
			n = d->keep;
		copied = !(d->flags & H2_D_SKIP);
		n = h2_take(x, w, n);
		copied = copied && !(d->flags & H2_D_SKIP);
		d->keep -= n < d->keep ? n : d->keep;
	}
	d->left -= n;
	w->pos += n;
	if (d->left || !d->end_stream)
		return;
	/* an END_STREAM frame whose header came in an earlier segment ends
	 * here: the agent learns its time from H2_F_END_TAIL unless the last
	 * byte is in the record itself */
	if (w->tail && !copied)
		w->rec_flags |= H2_F_END_TAIL;
	d->end_stream = 0;
	w->tail = 0;
}

/* Frame header bytes (the first, or the rest of one split before). */
static __always_inline int h2_header_step(struct h2_walk_ctx *x, struct h2_walk *w, __u32 avail)
{
	struct h2_dir *d = &w->d;
	__u32 have = d->hdr_have, n = H2_FRAME_HDR - have;

	if (!have) {
		if (++w->frames > H2_SEG_FRAMES_MAX)
			return -1;
		if ((d->flags & H2_D_SKIP) && !w->lost_here)
			d->flags &= ~H2_D_SKIP; /* H2_F_GAP stays owed */
	}
	if (n > avail)
		n = avail;
	n = len_1_to(h2_take(x, w, n), 16);
	if (bpf_skb_load_bytes(x->skb, w->off + w->pos, &w->hb[have & 15], n))
		return -1;
	w->pos += n;
	d->hdr_have = have + n;
	if (d->hdr_have < H2_FRAME_HDR)
		return 0;
	return h2_header_done(w) ? 0 : -1;
}

static long h2_step(__u32 i, void *ctx)
{
	struct h2_walk_ctx *x = ctx;
	struct h2_walk *w = x->w;
	__u32 avail;

	(void)i;
	if (w->pos >= w->len || (w->d.flags & H2_D_STOPPED))
		return 1;
	avail = w->len - w->pos;
	if (w->d.left) {
		h2_payload_step(x, w, avail);
		return 0;
	}
	if (h2_header_step(x, w, avail)) {
		h2_stop(w);
		return 1;
	}
	return 0;
}

/* Where the segment (seq: its first byte's sequence number) stands to the
 * bytes walked: the offset the walk starts at, or -1 when it has nothing
 * new (a retransmission) or when bytes were missed (the direction stops). */
static __always_inline int h2_seq_start(struct h2_walk *w, __u32 seq, __u32 start)
{
	struct h2_dir *d = &w->d;
	__s32 diff = (__s32)(seq + start - d->seq);

	if (!(d->flags & H2_D_SEQ)) {
		d->flags |= H2_D_SEQ;
		d->seq = seq + w->len;
		return start;
	}
	if (diff > 0) {
		h2_stop(w);
		return -1;
	}
	if ((__u32)-diff >= w->len - start)
		return -1;
	d->seq = seq + w->len;
	return start - diff;
}

/* Walk len payload bytes of the segment at off from start on, the state of
 * this direction in *d (read and written back). */
static __always_inline void h2_walk_seg(struct __sk_buff *skb, const struct seg *s,
					struct h2_walk *w, struct h2_dir *d, __u8 sock_flags,
					__u32 start, __u64 now)
{
	struct h2_walk_ctx x = {.skb = skb, .w = w};
	int pos;

	w->d = *d;
	if (w->d.flags & H2_D_STOPPED)
		return;
	ev_fill(&w->ev, s, HTTP_EV_H2, now, 0, s->len > 0xffff ? 0xffff : s->len);
	w->off = s->off;
	w->len = s->len;
	w->sock_flags = sock_flags;
	w->rec_len = 0;
	w->rec_flags = 0;
	w->budget = H2_SEG_COPY_MAX;
	w->frames = 0;
	w->lost_here = 0;
	w->early_n = 0;
	pos = h2_seq_start(w, s->seq, start);
	if (pos < 0)
		goto out;
	w->pos = pos;
	w->tail = w->d.end_stream && w->d.left;
	bpf_loop(H2_STEPS_MAX, h2_step, &x, 0);
	if (w->d.flags & H2_D_STOPPED)
		goto out;
	if (w->pos < w->len) {
		h2_stop(w); /* more headers than a segment may have */
		goto out;
	}
	if (w->rec_len && w->d.left && w->d.end_stream)
		w->rec_flags |= H2_F_TAIL_OPEN;
	if (w->rec_len || (w->rec_flags & H2_F_END_TAIL))
		h2_emit(w);
out:
	*d = w->d;
}

static __always_inline struct h2_walk *h2_walk_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&h2_scratch, &zero);
}

/* The walk of the segment in the scratch (h2_walk.seg) from start on, as a
 * global function: the verifier checks it (and its bpf_loop callback) once
 * per program, not once per place that calls it. */
__noinline int h2_walk_sock(struct __sk_buff *skb, __u32 start)
{
	struct h2_walk *w = h2_walk_get();
	struct h2_sock *h;
	__u8 flags;

	if (!w)
		return 0;
	h = bpf_map_lookup_elem(&h2_socks, &w->seg.cookie);
	if (!h)
		return 0;
	flags = (h->client ? H2_F_CLIENT : 0) | (h->upgrade ? H2_F_UPGRADE : 0);
	h2_walk_seg(skb, &w->seg, w, &h->dir[w->seg.dir == HTTP_DIR_EGRESS ? 0 : 1], flags, start,
		    bpf_ktime_get_ns());
	return 0;
}

/* A segment of a socket followed as HTTP/2. */
static __always_inline void h2_on_segment(struct __sk_buff *skb, const struct seg *s)
{
	struct h2_walk *w = h2_walk_get();

	if (!w)
		return;
	w->seg = *s;
	h2_walk_sock(skb, 0);
}

/* The connection is HTTP/2 from the byte at start of this segment on (its
 * direction's first frame, or the preface, which the walk skips): the
 * socket's state is made and the segment walked. client: the socket sent
 * the preface; preface_dir: the direction whose first bytes are the
 * preface (0 sent, 1 received). */
static __always_inline void h2_begin(struct __sk_buff *skb, const struct seg *s,
				     struct http_conn *c, bool client, bool upgrade,
				     __u32 preface_dir, __u32 start)
{
	__u8 roles = HTTP_ROLE_H2 | (client ? HTTP_ROLE_CLIENT : HTTP_ROLE_SERVER);
	struct http_conn nc = {.roles = roles};
	struct h2_sock hs = {};
	struct h2_walk *w = h2_walk_get();

	if (!w)
		return;
	if (c)
		c->roles |= roles;
	else if (bpf_map_update_elem(&http_conns3, &s->cookie, &nc, BPF_ANY)) {
		http_drop(HTTP_DROP_CONNS);
		return;
	}
	if (client && !(s->cookie & HTTP_TC_KEY)) {
		struct lb_conn *lc = outlier_conn(&s->cookie);

		if (lc)
			bpf_map_update_elem(&h2_lb, &s->cookie, lc, BPF_ANY);
	}
	hs.client = client;
	hs.upgrade = upgrade;
	hs.dir[0].flags = H2_F_START;
	hs.dir[1].flags = H2_F_START;
	hs.dir[preface_dir & 1].left = H2_PREFACE_LEN;
	if (bpf_map_update_elem(&h2_socks, &s->cookie, &hs, BPF_ANY)) {
		http_drop(HTTP_DROP_CONNS);
		return;
	}
	w->seg = *s;
	h2_walk_sock(skb, start);
}

/* The first bytes of a segment of a socket capture has no state for: the
 * HTTP/2 preface makes it an HTTP/2 socket; a TLS ClientHello (a handshake
 * record, 0x16 0x03 0x0N, whose message is type 1) is counted and left
 * alone. Anything else costs these two compares. */
static __always_inline void h2_first_bytes(struct __sk_buff *skb, const struct seg *s, __u64 w)
{
	__u64 p[2];

	if (w == H2_PREFACE_W0) {
		if (s->len < H2_PREFACE_LEN || bpf_skb_load_bytes(skb, s->off + 8, p, sizeof(p)) ||
		    p[0] != H2_PREFACE_W1 || p[1] != H2_PREFACE_W2)
			return;
		/* the socket that sends the preface is the client */
		h2_begin(skb, s, NULL, s->dir == HTTP_DIR_EGRESS, false,
			 s->dir == HTTP_DIR_EGRESS ? 0 : 1, 0);
	} else if ((w & 0xfcffff) == 0x000316 && (__u8)(w >> 40) == 1) {
		http_drop(s->dir == HTTP_DIR_EGRESS ? HTTP_COUNT_TLS_SENT : HTTP_COUNT_TLS_RECV);
	}
}

/* sk: the socket TCP made for a connection whose preface reached its
 * listener (tkey: its 4-tuple's key). The state made under the early key
 * becomes the socket's, and the records that waited go to the ring in
 * their order, with its cookie. */
static __always_inline void h2_early_accepted(struct sock *sk, __u64 tkey)
{
	__u64 cookie, ts = 0, ek = h2_early_key(tkey);
	struct http_conn *c = bpf_map_lookup_elem(&http_conns3, &ek);
	struct h2_early_key k = {.key = ek};
	struct http_event *e;
	struct h2_sock *h;
	bool stale;

	if (!c)
		return;
	/* left by a connection that never got its socket (the client gave
	 * up): no later connection's of the same 4-tuple. The segment's
	 * records share its time; a record of another time is older. */
	e = bpf_map_lookup_elem(&h2_early, &k);
	if (e)
		ts = e->ts;
	stale = e && bpf_ktime_get_ns() - ts > H2_EARLY_AGE_NS;
	cookie = bpf_get_socket_cookie(sk);
	if (!stale && bpf_map_update_elem(&http_conns3, &cookie, c, BPF_NOEXIST))
		http_drop(HTTP_DROP_CONNS);
	bpf_map_delete_elem(&http_conns3, &ek);
	h = bpf_map_lookup_elem(&h2_socks, &ek);
	if (h) {
		if (!stale && bpf_map_update_elem(&h2_socks, &cookie, h, BPF_NOEXIST))
			http_drop(HTTP_DROP_CONNS);
		bpf_map_delete_elem(&h2_socks, &ek);
	}
	for (__u32 i = 0; i < H2_EARLY_RECS; i++) {
		__u32 n;

		k.i = i;
		e = bpf_map_lookup_elem(&h2_early, &k);
		if (!e)
			break;
		n = e->head_len;
		if (n > HTTP_HEAD_MAX)
			n = HTTP_HEAD_MAX;
		e->cookie = cookie;
		if (!stale && e->ts == ts &&
		    bpf_ringbuf_output(&http_events, e, HTTP_EV_HDR + n, BPF_RB_NO_WAKEUP))
			http_drop(HTTP_DROP_RINGBUF);
		bpf_map_delete_elem(&h2_early, &k);
	}
}

struct h2_upg_ctx {
	struct h2_walk *w;
};

/* One byte of a 101's head: its end ("\r\n\r\n") or an "h2c" value. */
static long h2_upg_step(__u32 i, void *ctx)
{
	struct h2_walk *w = ((struct h2_upg_ctx *)ctx)->w;
	__u32 v;

	if (i + 4 > w->len)
		return 1;
	__builtin_memcpy(&v, &w->ev.head[i & (H2_UPG_SCAN - 1)], 4);
	if (v == 0x0a0d0a0d) { /* "\r\n\r\n" */
		w->hdr_end = i + 4;
		return 1;
	}
	/* "h2c\r" after ' ' or ':' ("Upgrade: h2c"; a list "websocket, h2c"
	 * is no answer a 101 gives) */
	if (v == 0x0d633268 && i) {
		char c = w->ev.head[(i - 1) & (H2_UPG_SCAN - 1)];

		if (c == ' ' || c == ':')
			w->h2c = 1;
	}
	return 0;
}

/* A 101 response head segment: one that switches to h2c makes the
 * connection HTTP/2 from the byte after its head, which the same segment
 * may hold. Capture reads the status of every response (http.bpf.c) and
 * calls this for a 101 only. */
static __always_inline void h2_on_response(struct __sk_buff *skb, const struct seg *s)
{
	struct h2_upg_ctx x;
	struct http_conn *c;
	struct h2_walk *w;
	__u32 n;

	if (s->len < 16)
		return;
	w = h2_walk_get();
	if (!w)
		return;
	n = len_1_to(s->len < H2_UPG_SCAN ? s->len : H2_UPG_SCAN, H2_UPG_SCAN);
	if (bpf_skb_load_bytes(skb, s->off, w->ev.head, n))
		return;
	w->len = n;
	w->hdr_end = 0;
	w->h2c = 0;
	x.w = w;
	bpf_loop(H2_UPG_SCAN, h2_upg_step, &x, 0);
	if (!w->h2c || !w->hdr_end)
		return;
	/* the socket that received the 101 is the client; the preface comes
	 * from it, after the 101 */
	c = bpf_map_lookup_elem(&http_conns3, &s->cookie);
	h2_begin(skb, s, c, s->dir == HTTP_DIR_INGRESS, true, s->dir == HTTP_DIR_INGRESS ? 0 : 1,
		 w->hdr_end);
}

/* One outcome of the agent's batch (struct h2_outcome at index i of the
 * run's data): a global function, verified once. 1 when there is none. */
__noinline int h2_outcome_one(struct __sk_buff *skb, __u32 i)
{
	struct h2_outcome o;
	struct lb_conn *conn;

	if (i >= H2_OUTCOMES_MAX || bpf_skb_load_bytes(skb, i * sizeof(o), &o, sizeof(o)))
		return 1;
	conn = bpf_map_lookup_elem(&h2_lb, &o.cookie);
	if (conn && o.status >= 100 && o.status <= 599)
		outlier_feed(conn, o.status, bpf_ktime_get_ns());
	return 0;
}

/* Run by the agent (BPF_PROG_RUN, never attached): the statuses of HTTP/2
 * responses its client sockets received (bpf/h2.h). */
SEC("tc")
int bm_h2_outcome(struct __sk_buff *skb)
{
	for (__u32 i = 0; i < H2_OUTCOMES_MAX; i++)
		if (h2_outcome_one(skb, i))
			break;
	return 0;
}

#endif
