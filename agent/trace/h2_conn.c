/* SPDX-License-Identifier: Apache-2.0 */
/* h2_conn.c: HTTP/2 connections, their streams, and the observations they
 * make (h2_conn.h). One record is handled at a time: its frames come back
 * from h2_frames.c with the record as context. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "trace/h2_conn.h"
#include "trace/h2_frames.h"
#include "trace/h2_hpack.h"
#include "trace/proto_h2.h"

/* side[] index: frames sent by the connection's client, by its server */
enum { S_CLIENT = 0, S_SERVER = 1 };

struct h2_stream {
	uint32_t id;
	bool responded;	  /* OBS_RESPONSE made */
	bool grpc;	  /* the request's content-type */
	bool desync;	  /* a block of it was not decoded whole, or bytes were lost meanwhile */
	bool end_pending; /* END_STREAM seen; its frame's last byte is in a later segment */
	bool has_grpc_status;
	uint8_t grpc_status;
};

struct h2_side {
	struct h2_reasm rs;
	struct h2_hpack hp;
	bool started; /* a record that starts on a frame header came */
	bool stopped; /* the kernel follows this direction no more */
	/* the header block being read */
	bool blk_open;
	uint8_t blk_type;
	bool blk_end_stream;
	uint32_t blk_stream;
	uint64_t blk_ts;
	struct h2_head head;
	/* an END_STREAM waiting for the segment of its frame's last byte */
	uint32_t pend_stream;
	uint64_t pend_ts;
};

struct h2_conn {
	uint64_t cookie;
	struct h2_conn *hnext;
	bool client;  /* this socket is the connection's client */
	bool upgrade; /* h2c upgrade: stream 1 is the HTTP/1.x request's */
	uint64_t last_ts;
	struct h2_side side[2];
	uint32_t n_streams;
	struct h2_stream streams[H2_STREAMS_MAX];
};

/* The record being handled. */
struct h2_rec {
	struct h2_conns *c;
	struct h2_conn *k;
	int si; /* the side that sent it */
	uint8_t flags;
	uint64_t ts;
	const struct obs *base;
	h2_obs_fn fn;
	void *ctx;
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* --- streams --- */

static struct h2_stream *stream_find(struct h2_conn *k, uint32_t id)
{
	for (uint32_t i = 0; i < k->n_streams; i++)
		if (k->streams[i].id == id)
			return &k->streams[i];
	return NULL;
}

static void stream_free(struct h2_conns *c, struct h2_conn *k, struct h2_stream *s)
{
	if (s->desync)
		c->st.desync_requests++;
	*s = k->streams[--k->n_streams];
}

static void make(struct h2_rec *r, struct obs *o, uint8_t kind, const struct h2_stream *s,
		 uint64_t ts)
{
	*o = *r->base;
	o->kind = kind;
	o->role = r->k->client ? OBS_ROLE_CLIENT : OBS_ROLE_SERVER;
	o->ts_ns = ts;
	o->stream_id = s->id;
	o->proto = OBS_PROTO_H2;
	o->rpc = s->grpc ? OBS_RPC_GRPC : OBS_RPC_NONE;
	o->desync = s->desync;
}

static void emit_end(struct h2_rec *r, struct h2_stream *s, uint64_t ts)
{
	struct obs o;

	make(r, &o, OBS_RESPONSE_END, s, ts);
	o.has_grpc_status = s->has_grpc_status;
	o.grpc_status = s->grpc_status;
	r->fn(&o, r->ctx);
	stream_free(r->c, r->k, s);
}

static void emit_reset(struct h2_rec *r, struct h2_stream *s, uint32_t code, uint64_t ts)
{
	struct obs o;

	make(r, &o, OBS_RESPONSE_END, s, ts);
	o.stream_reset = true;
	o.h2_error = code;
	r->fn(&o, r->ctx);
	stream_free(r->c, r->k, s);
}

/* The server's END_STREAM: its time is the frame's last byte, which is in
 * a later segment when the record says the frame goes on. */
static void stream_end(struct h2_rec *r, struct h2_stream *s, bool at_record_end)
{
	struct h2_side *sd = &r->k->side[S_SERVER];

	if ((r->flags & H2_F_TAIL_OPEN) && at_record_end) {
		s->end_pending = true;
		sd->pend_stream = s->id;
		sd->pend_ts = r->ts;
		return;
	}
	emit_end(r, s, r->ts);
}

/* The end a side owed (its END_TAIL record has come, or will not). */
static void settle_pending(struct h2_rec *r, struct h2_side *sd, uint64_t ts)
{
	struct h2_stream *s = sd->pend_stream ? stream_find(r->k, sd->pend_stream) : NULL;

	sd->pend_stream = 0;
	if (s && s->end_pending)
		emit_end(r, s, ts);
}

/* --- header blocks --- */

static void client_headers(struct h2_rec *r, struct h2_side *sd, bool whole)
{
	struct h2_stream *s;
	struct obs o;

	/* a request's trailers; stream 1 of an upgrade was the HTTP/1.x request */
	if (!sd->blk_stream || stream_find(r->k, sd->blk_stream) ||
	    (r->k->upgrade && sd->blk_stream == 1))
		return;
	if (r->k->n_streams == H2_STREAMS_MAX) {
		r->c->st.streams_full++;
		return;
	}
	s = &r->k->streams[r->k->n_streams++];
	memset(s, 0, sizeof(*s));
	s->id = sd->blk_stream;
	s->grpc = sd->head.grpc;
	s->desync = !whole;
	r->c->st.streams++;
	make(r, &o, OBS_REQUEST, s, sd->blk_ts);
	h2_head_request(&sd->head, whole, &o);
	r->fn(&o, r->ctx);
}

static void respond(struct h2_rec *r, struct h2_stream *s, const struct h2_head *h, bool whole,
		    uint64_t ts)
{
	struct obs o;

	s->responded = true;
	make(r, &o, OBS_RESPONSE, s, ts);
	if (h)
		h2_head_response(h, whole, &o);
	else
		o.parse = OBS_PARSE_CUT; /* its HEADERS were lost */
	r->fn(&o, r->ctx);
}

static void server_headers(struct h2_rec *r, struct h2_side *sd, bool whole, bool at_record_end)
{
	struct h2_stream *s = stream_find(r->k, sd->blk_stream);

	if (!s) {
		/* even: a pushed stream (PUSH_PROMISE), no request of ours */
		if (!(r->k->upgrade && sd->blk_stream == 1) && (sd->blk_stream & 1))
			r->c->st.unknown_streams++;
		return;
	}
	if (!whole)
		s->desync = true;
	if (!s->responded) {
		/* 1xx: the final response is still to come */
		if (sd->head.status >= 100 && sd->head.status < 200 && !sd->blk_end_stream)
			return;
		respond(r, s, &sd->head, whole, sd->blk_ts);
	}
	if (!sd->blk_end_stream)
		return;
	if (sd->head.has_grpc_status) {
		s->has_grpc_status = true;
		s->grpc_status = sd->head.grpc_status;
	}
	stream_end(r, s, at_record_end);
}

static void block_done(struct h2_rec *r, struct h2_side *sd, bool at_record_end)
{
	bool whole = h2_hpack_block_whole(&sd->hp);

	sd->blk_open = false;
	if (sd->blk_type != H2_HEADERS)
		return; /* PUSH_PROMISE: decoded for the table only */
	if (sd - r->k->side == S_CLIENT)
		client_headers(r, sd, whole);
	else
		server_headers(r, sd, whole, at_record_end);
}

static void feed(struct h2_rec *r, struct h2_side *sd, const uint8_t *p, uint32_t n, bool first,
		 bool last, bool cut, bool at_record_end)
{
	h2_hpack_fragment(&sd->hp, p, n, first, last, cut, h2_head_field, &sd->head);
	if (last || cut)
		block_done(r, sd, at_record_end);
}

/* Bytes of this side were lost: its table, its partial frame, and what its
 * streams in flight will show. */
static void lose(struct h2_rec *r, struct h2_side *sd)
{
	h2_reasm_reset(&sd->rs);
	h2_hpack_lose(&sd->hp);
	if (sd->blk_open)
		block_done(r, sd, false);
	for (uint32_t i = 0; i < r->k->n_streams; i++)
		r->k->streams[i].desync = true;
}

/* HEADERS and PUSH_PROMISE: padding, priority and the promised stream
 * around the block's first fragment. */
static void open_block(struct h2_rec *r, struct h2_side *sd, const struct h2_frame *f,
		       uint32_t extra)
{
	uint32_t off = 0, pad = 0, end, have;

	if (f->flags & H2_FLAG_PADDED) {
		if (!f->kept) {
			lose(r, sd);
			return;
		}
		pad = f->payload[0];
		off = 1;
	}
	if (f->type == H2_HEADERS && (f->flags & H2_FLAG_PRIORITY))
		off += 5;
	off += extra;
	if (off + pad > f->len) { /* not a frame a peer would accept */
		lose(r, sd);
		return;
	}
	end = f->len - pad;
	have = f->kept < end ? f->kept : end;
	if (have < off)
		have = off;
	sd->blk_open = true;
	sd->blk_type = f->type;
	sd->blk_stream = f->stream;
	sd->blk_end_stream = f->type == H2_HEADERS && (f->flags & H2_FLAG_END_STREAM);
	sd->blk_ts = f->ts;
	h2_head_reset(&sd->head);
	feed(r, sd, f->payload ? f->payload + off : NULL, have - off, true,
	     f->flags & H2_FLAG_END_HEADERS, f->kept < end, f->at_record_end);
}

static void on_continuation(struct h2_rec *r, struct h2_side *sd, const struct h2_frame *f)
{
	if (!sd->blk_open)
		return; /* the block's start was lost */
	if (f->stream != sd->blk_stream) {
		lose(r, sd);
		return;
	}
	feed(r, sd, f->payload, f->kept, false, f->flags & H2_FLAG_END_HEADERS, f->kept < f->len,
	     f->at_record_end);
}

/* --- other frames --- */

static void on_data(struct h2_rec *r, const struct h2_frame *f)
{
	struct h2_stream *s;

	if (r->si != S_SERVER || !(f->flags & H2_FLAG_END_STREAM))
		return;
	s = stream_find(r->k, f->stream);
	if (!s)
		return;
	if (!s->responded) /* only after a loss: its HEADERS went with it */
		respond(r, s, NULL, false, f->ts);
	stream_end(r, s, f->at_record_end);
}

static void on_rst_stream(struct h2_rec *r, const struct h2_frame *f)
{
	struct h2_stream *s = stream_find(r->k, f->stream);

	if (s)
		emit_reset(r, s, f->kept >= 4 ? be32(f->payload) : 0, f->ts);
}

/* A server's GOAWAY: the client's streams after the last one it names were
 * never processed. (A client's concerns pushed streams, which make no
 * request.) */
static void on_goaway(struct h2_rec *r, const struct h2_frame *f)
{
	uint32_t last, code;

	if (r->si != S_SERVER || f->kept < 8)
		return;
	last = be32(f->payload) & 0x7fffffffu;
	code = be32(f->payload + 4);
	for (uint32_t i = 0; i < r->k->n_streams;) {
		struct h2_stream *s = &r->k->streams[i];

		if (s->id > last)
			emit_reset(r, s, code, f->ts); /* swaps the last one in: same i */
		else
			i++;
	}
}

/* SETTINGS_HEADER_TABLE_SIZE bounds the table of the peer's encoder: the
 * decoder of the other side's frames. */
static void on_settings(struct h2_rec *r, const struct h2_frame *f)
{
	if (f->flags & H2_FLAG_ACK)
		return;
	for (uint32_t i = 0; i + 6 <= f->kept; i += 6)
		if (f->payload[i] == 0 && f->payload[i + 1] == 1)
			h2_hpack_settings(&r->k->side[!r->si].hp, be32(f->payload + i + 2));
}

static void on_frame(const struct h2_frame *f, void *ctx)
{
	struct h2_rec *r = ctx;
	struct h2_side *sd = &r->k->side[r->si];

	r->c->st.frames++;
	/* RFC 9113 6.10: nothing but its CONTINUATIONs within a block */
	if (sd->blk_open && f->type != H2_CONTINUATION)
		lose(r, sd);
	switch (f->type) {
	case H2_HEADERS:
		open_block(r, sd, f, 0);
		break;
	case H2_PUSH_PROMISE:
		open_block(r, sd, f, 4);
		break;
	case H2_CONTINUATION:
		on_continuation(r, sd, f);
		break;
	case H2_DATA:
		on_data(r, f);
		break;
	case H2_RST_STREAM:
		on_rst_stream(r, f);
		break;
	case H2_GOAWAY:
		on_goaway(r, f);
		break;
	case H2_SETTINGS:
		on_settings(r, f);
		break;
	default:
		break;
	}
}

/* --- connections --- */

static size_t bucket(const struct h2_conns *c, uint64_t cookie)
{
	return (size_t)((cookie * 0x9e3779b97f4a7c15ULL) >> 32) & c->mask;
}

static struct h2_conn *conn_find(struct h2_conns *c, uint64_t cookie)
{
	if (!c->ht)
		return NULL;
	for (struct h2_conn *k = c->ht[bucket(c, cookie)]; k; k = k->hnext)
		if (k->cookie == cookie)
			return k;
	return NULL;
}

static void conn_free(struct h2_conns *c, struct h2_conn *k)
{
	struct h2_conn **pp = &c->ht[bucket(c, k->cookie)];

	while (*pp != k)
		pp = &(*pp)->hnext;
	*pp = k->hnext;
	while (k->n_streams)
		stream_free(c, k, &k->streams[0]);
	for (int i = 0; i < 2; i++) {
		c->st.resyncs += k->side[i].hp.resyncs;
		h2_reasm_free(&k->side[i].rs);
		h2_hpack_free(&k->side[i].hp);
	}
	free(k);
	c->n--;
}

/* The least recently active connection goes (its CLOSE was missed, most
 * likely). A scan, but only when the table is full. */
static void evict_one(struct h2_conns *c)
{
	struct h2_conn *old = NULL;

	for (size_t b = 0; b <= c->mask; b++)
		for (struct h2_conn *k = c->ht[b]; k; k = k->hnext)
			if (!old || k->last_ts < old->last_ts)
				old = k;
	if (old) {
		conn_free(c, old);
		c->st.conns_evicted++;
	}
}

static struct h2_conn *conn_new(struct h2_conns *c, uint64_t cookie)
{
	struct h2_conn *k;
	size_t b;

	if (!c->max)
		c->max = H2_CONNS_DEFAULT;
	if (!c->ht) {
		size_t n = 64;

		while (n < c->max)
			n <<= 1;
		c->ht = calloc(n, sizeof(*c->ht));
		if (!c->ht)
			return NULL;
		c->mask = n - 1;
	}
	if (c->n >= c->max)
		evict_one(c);
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	for (int i = 0; i < 2; i++) {
		h2_reasm_init(&k->side[i].rs);
		if (h2_hpack_init(&k->side[i].hp)) {
			h2_hpack_free(&k->side[0].hp);
			h2_hpack_free(&k->side[1].hp);
			free(k);
			return NULL;
		}
	}
	k->cookie = cookie;
	b = bucket(c, cookie);
	k->hnext = c->ht[b];
	c->ht[b] = k;
	c->n++;
	c->st.conns++;
	return k;
}

void h2_conns_record(struct h2_conns *c, const struct http_event *e, const struct obs *base,
		     h2_obs_fn fn, void *ctx)
{
	uint8_t flags = h2_flags(e);
	struct h2_conn *k = conn_find(c, e->cookie);
	struct h2_side *sd;
	struct h2_rec r;

	c->st.records++;
	if (!k && !(k = conn_new(c, e->cookie)))
		return;
	k->last_ts = e->ts;
	k->client = flags & H2_F_CLIENT;
	k->upgrade |= !!(flags & H2_F_UPGRADE);
	r = (struct h2_rec){.c = c,
			    .k = k,
			    .si = (e->dir == HTTP_DIR_EGRESS) == k->client ? S_CLIENT : S_SERVER,
			    .flags = flags,
			    .ts = e->ts,
			    .base = base,
			    .fn = fn,
			    .ctx = ctx};
	sd = &k->side[r.si];
	if (sd->pend_stream)
		settle_pending(&r, sd, (flags & H2_F_END_TAIL) ? e->ts : sd->pend_ts);
	if (sd->stopped)
		return;
	if (flags & H2_F_STOP) {
		sd->stopped = true;
		c->st.stops++;
		lose(&r, sd);
		return;
	}
	if (!sd->started) {
		/* mid-connection (the agent started late): wait for a frame
		 * header, and know that the table is not known */
		if (!(flags & (H2_F_START | H2_F_ALIGNED | H2_F_GAP))) {
			c->st.unaligned++;
			return;
		}
		sd->started = true;
		if (!(flags & H2_F_START)) {
			c->st.gaps++;
			lose(&r, sd);
		}
	} else if (flags & H2_F_GAP) {
		c->st.gaps++;
		lose(&r, sd);
	}
	if (h2_reasm_feed(&sd->rs, (const uint8_t *)e->head, e->head_len, e->ts, on_frame, &r)) {
		lose(&r, sd);
		sd->started = false;
	}
}

void h2_conns_close(struct h2_conns *c, uint64_t cookie, const struct obs *base, h2_obs_fn fn,
		    void *ctx)
{
	struct h2_conn *k = conn_find(c, cookie);
	struct h2_rec r = {.c = c, .k = k, .base = base, .fn = fn, .ctx = ctx};

	if (!k)
		return;
	for (int i = 0; i < 2; i++)
		if (k->side[i].pend_stream)
			settle_pending(&r, &k->side[i], k->side[i].pend_ts);
	conn_free(c, k);
}

void h2_conns_free(struct h2_conns *c)
{
	if (c->ht)
		for (size_t b = 0; b <= c->mask; b++)
			while (c->ht[b])
				conn_free(c, c->ht[b]);
	free(c->ht);
	c->ht = NULL;
	c->n = 0;
}
