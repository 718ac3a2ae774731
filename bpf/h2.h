/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* h2.h: the ABI of HTTP/2 (h2c, gRPC) capture, shared by the kernel side
 * (bpf/http.bpf.c) and the agent (agent/trace/h2_*.c). The kernel follows
 * the frames of a connection it recognised as HTTP/2 and sends, per
 * direction, a compacted copy of the frame stream; the agent reassembles
 * it, decodes the header blocks with HPACK and makes one request per
 * stream. Nothing here is parsed in the kernel beyond the 9-byte frame
 * header.
 *
 * Recognition (per connection, both sockets):
 * - prior knowledge: the first bytes a socket sends are the client preface
 *   H2_PREFACE (24 bytes): it is the client, the peer the server;
 * - upgrade: a request with "Upgrade: h2c" answered by "101 Switching
 *   Protocols": frames start right after the 101's blank line (server) and
 *   with the preface the client sends after it. The HTTP/1.x request and
 *   its 101 are reported as HTTP/1.x records, as today.
 * The preface itself is never sent to the agent; records start after it.
 * Encrypted traffic (TLS, h2 negotiated by ALPN) is not recognised.
 *
 * Records. An H2 record is a struct http_event (bpf/http.h), kind
 * HTTP_EV_H2, sized like the others (HTTP_EV_HDR + head_len bytes). Its
 * fields mean:
 *   ts, cookie, pid_tgid, family, local/remote, lport/rport, comm: as for
 *     HTTP/1.x records (ts: the segment's time);
 *   dir:      HTTP_DIR_EGRESS (the socket sent these frames) or INGRESS;
 *   flags: H2_F_* flags (h2_flags() reads it);
 *   error:    0 (reserved);
 *   seg_len:  payload bytes of the segment (capped at 65535);
 *   head_len, head: the next bytes of the compacted stream (below).
 *
 * The compacted stream of one direction is, frame after frame:
 *   - the 9-byte frame header, always, unchanged (its length field stays the
 *     real payload length, also when the payload is left out);
 *   - for H2_KEEP_TYPES frames (HEADERS, CONTINUATION, PUSH_PROMISE,
 *     RST_STREAM, SETTINGS, GOAWAY): the first min(length, H2_KEEP_MAX)
 *     payload bytes, padding included, as on the wire;
 *   - for every other type (DATA, PING, WINDOW_UPDATE, PRIORITY, unknown
 *     types): no payload byte.
 * The agent knows from each header how many payload bytes follow it, so
 * the stream needs no other framing; record boundaries need not fall on
 * frame boundaries (a header or a payload may be split between records and
 * between segments). The records of one direction of a socket are sent in
 * the order of the bytes on the wire.
 *
 * Kernel state per socket and direction (struct h2_dir, in the socket's
 * connection state), carried from one segment to the next:
 *   - hdr[9], hdr_have: the first bytes of a frame header that the segment
 *     ended in (0..8 of them): the header is parsed when its 9th byte
 *     comes; its bytes are copied into the stream as they are seen;
 *   - left: payload bytes of the current frame not yet seen;
 *   - keep: of those, how many are still to be copied (0 for the types left
 *     out and once H2_KEEP_MAX is reached);
 *   - end_stream: the current frame has END_STREAM (0x1) and is DATA or
 *     HEADERS: its last byte ends a stream, see H2_F_END_TAIL.
 * A segment is walked from its first byte: finish the current frame (skip
 * or copy `left` bytes), complete a split header, then header after
 * header, jumping over payloads that are not kept. The walk is bounded
 * (H2_SEG_FRAMES_MAX headers per segment); copying is bounded by the record
 * size (several records may carry one segment, each with the segment's ts
 * and seg_len) and by H2_SEG_COPY_MAX bytes per segment.
 *
 * Losses are never silent: when bytes of the stream cannot be sent (ring
 * buffer full, the per-segment copy budget spent, a read that failed), the
 * kernel stops copying until the next frame header that starts in a later
 * segment (it keeps walking headers, so it stays in step), and the next
 * record it sends has H2_F_GAP and starts on a frame header. When the
 * kernel itself loses the frame boundaries (a header walk cut by
 * H2_SEG_FRAMES_MAX, a length that cannot be right), it sends one last
 * record with H2_F_STOP (no bytes) and follows the connection no more.
 *
 * Frames that end a stream after their segment: when the payload of a DATA
 * or HEADERS frame with END_STREAM continues past the segment that holds its
 * header, the last record of that segment has H2_F_TAIL_OPEN, and the
 * segment that holds the frame's last byte gets a record with H2_F_END_TAIL
 * (with no bytes of its own when it has nothing to copy), so that the agent
 * ends the stream at the time of its last byte. Otherwise a segment with
 * nothing to copy (the middle of a DATA payload) sends no record.
 *
 * The rest is as for HTTP/1.x sockets: THREAD records when the thread that
 * sends (client) or reads (server) requests changes, and a CLOSE record,
 * which also frees the agent's state of the connection. */
#ifndef BPFMESH_H2_H
#define BPFMESH_H2_H

#include "bpf/http.h"

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24
#define H2_FRAME_HDR 9	     /* length (24 bits), type, flags, stream id (31 bits, BE) */
#define H2_KEEP_MAX 4096     /* payload bytes of a kept frame in the stream */
#define H2_SEG_COPY_MAX 8192 /* bytes copied from one segment at most */
#define H2_SEG_FRAMES_MAX 64 /* frame headers walked in one segment at most */
#define H2_MAX_CONNS 16384   /* sockets followed as HTTP/2 at once (h2_socks) */

/* Frame types (RFC 9113 6) and flags the capture and the agent use. */
enum h2_frame_type {
	H2_DATA = 0x0,
	H2_HEADERS = 0x1,
	H2_PRIORITY = 0x2,
	H2_RST_STREAM = 0x3,
	H2_SETTINGS = 0x4,
	H2_PUSH_PROMISE = 0x5,
	H2_PING = 0x6,
	H2_GOAWAY = 0x7,
	H2_WINDOW_UPDATE = 0x8,
	H2_CONTINUATION = 0x9,
};

#define H2_FLAG_END_STREAM 0x1
#define H2_FLAG_ACK 0x1 /* SETTINGS, PING */
#define H2_FLAG_END_HEADERS 0x4
#define H2_FLAG_PADDED 0x8
#define H2_FLAG_PRIORITY 0x20

/* The types whose payload is in the compacted stream, as a bit mask. */
#define H2_KEEP_TYPES                                                                              \
	((1u << H2_HEADERS) | (1u << H2_CONTINUATION) | (1u << H2_PUSH_PROMISE) |                  \
	 (1u << H2_RST_STREAM) | (1u << H2_SETTINGS) | (1u << H2_GOAWAY))

/* http_event.flags of an H2 record. */
enum h2_rec_flag {
	/* bytes of this direction's stream were lost before this record; it
	 * starts on a frame header */
	H2_F_GAP = 0x01,
	/* the first record of this direction (right after the preface or the
	 * 101): nothing came before it */
	H2_F_START = 0x02,
	/* this socket is the connection's client (it sent the preface): set
	 * on every record of the socket */
	H2_F_CLIENT = 0x04,
	/* the connection became HTTP/2 by an h2c upgrade: stream 1 is the
	 * answer to the HTTP/1.x request that asked for it (set on every
	 * record) */
	H2_F_UPGRADE = 0x08,
	/* on the segment's last record: the segment ends inside the payload of
	 * a DATA or HEADERS frame with END_STREAM */
	H2_F_TAIL_OPEN = 0x10,
	/* the segment holds the last byte of the frame that H2_F_TAIL_OPEN
	 * announced, which comes before any byte of this record */
	H2_F_END_TAIL = 0x20,
	/* the kernel lost the frames: no more records for this direction */
	H2_F_STOP = 0x40,
	/* the record starts on a frame header (always so with GAP and START):
	 * where an agent that starts mid-connection picks up */
	H2_F_ALIGNED = 0x80,
};

/* Kernel state of one direction of an HTTP/2 socket (see above). */
struct h2_dir {
	__u32 left; /* payload bytes of the current frame still to come */
	__u32 keep; /* of those, bytes still to copy */
	__u8 hdr[H2_FRAME_HDR];
	__u8 hdr_have;	 /* bytes of hdr[] received (a header split between segments) */
	__u8 end_stream; /* the current frame ends a stream (H2_F_TAIL_OPEN / END_TAIL) */
	__u8 flags;	 /* H2_F_GAP, H2_F_START owed to the next record (and kernel bits) */
	__u32 seq;	 /* kernel: the TCP sequence number of the next byte */
};
_Static_assert(sizeof(struct h2_dir) == 24, "h2_dir ABI");

/* Value of the kernel's map of HTTP/2 sockets (an LRU hash "h2_socks",
 * H2_MAX_CONNS entries, keyed like http_conns3: socket cookie or tc
 * connection key). A map of its own, so that http_conn (pinned) keeps its
 * layout. An entry is made at recognition and deleted at close. */
struct h2_sock {
	struct h2_dir dir[2]; /* [0] frames this socket sends, [1] frames it receives */
	__u8 client;	      /* H2_F_CLIENT */
	__u8 upgrade;	      /* H2_F_UPGRADE */
	__u8 reserved[6];
};
_Static_assert(sizeof(struct h2_sock) == 56, "h2_sock ABI");

/* Outlier detection for HTTP/2: the kernel cannot read a response's
 * :status on its own (it is mostly an index into the connection's HPACK
 * table), so the agent, which decodes it, gives each response of a client
 * socket back: an array of these is the data of a BPF_PROG_RUN of
 * bm_h2_outcome, which counts it against the socket's endpoint like an
 * HTTP/1.x response (bpf/lib/outlier.bpf.h), by the endpoint the socket was
 * sent to (kept at recognition, so the socket may have closed since).
 * gRPC statuses come as the HTTP
 * status Envoy maps them to (UNAVAILABLE 503, ...). */
struct h2_outcome {
	__u64 cookie; /* the client socket */
	__u32 status; /* 100..599 */
	__u32 reserved;
};
_Static_assert(sizeof(struct h2_outcome) == 16, "h2_outcome ABI");
#define H2_OUTCOMES_MAX 32 /* outcomes in one run */

static inline __u8 h2_flags(const struct http_event *e) { return e->flags; }

/* A frame header's fields (network byte order on the wire). */
static inline __u32 h2_frame_len(const __u8 *h) { return (__u32)h[0] << 16 | h[1] << 8 | h[2]; }

static inline __u32 h2_frame_stream(const __u8 *h)
{
	return ((__u32)h[5] << 24 | h[6] << 16 | h[7] << 8 | h[8]) & 0x7fffffffu;
}

/* Payload bytes of a frame of this header that the compacted stream holds. */
static inline __u32 h2_frame_kept(const __u8 *h)
{
	__u32 len = h2_frame_len(h);

	if (h[3] > H2_CONTINUATION || !(H2_KEEP_TYPES & (1u << h[3])))
		return 0;
	return len < H2_KEEP_MAX ? len : H2_KEEP_MAX;
}

#endif
