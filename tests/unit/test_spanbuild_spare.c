/* SPDX-License-Identifier: Apache-2.0 */
/* test_spanbuild_spare.c: the span builder's spare span records: handed
 * out zeroed, at most SB_SPARE_MAX kept, all freed with the builder (run
 * under AddressSanitizer by make test-unit-asan: no leak, no reuse of a
 * freed record); the same for socket and trace group records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "exporters/span_pack.h"
#include "trace/spanbuild_int.h"

static void no_emit(const struct span *sp, const struct span_packed *pk, void *ctx)
{
	(void)pk;
	(void)sp;
	(void)ctx;
}

/* the spans emitted, packed */
struct emitted {
	uint8_t buf[4][SPAN_PACK_MAX];
	size_t len[4];
	int n;
};

static void keep_emit(const struct span *sp, const struct span_packed *pk, void *ctx)
{
	struct emitted *e = ctx;

	(void)pk;
	assert_true(e->n < 4);
	e->len[e->n] = span_pack(sp, e->buf[e->n], sizeof(e->buf[0]));
	e->n++;
}

static struct spanbuild *builder(void)
{
	struct sb_config c = {.emit = no_emit, .sampling_ratio = 1.0, .emit_unsampled = true};
	struct spanbuild *sb = sb_new(&c);

	assert_non_null(sb);
	return sb;
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* A record given back dirty comes out again empty, the same memory: all
 * but its packed bytes zeroed, with a working record whose span reads as
 * a zeroed one (span_clear: the strings' bytes past their NUL are left). */
static void test_spare_comes_back_empty(void **state)
{
	struct spanbuild *sb = builder();
	struct sb_pend *p = sb_pend_alloc(sb), *q;
	struct span *sp;
	static const struct span zero;
	uint8_t a[SPAN_PACK_MAX], b[SPAN_PACK_MAX];
	size_t la, lb;

	(void)state;
	assert_non_null(p);
	assert_non_null(p->sp);
	sp = p->sp;
	assert_true(all_zero(p->sp, sizeof(*p->sp)));
	assert_true(
	    all_zero((char *)p + sizeof(p->sp), offsetof(struct sb_pend, held_in) - sizeof(p->sp)));
	memset((char *)p + sizeof(p->sp), 0xa5, sizeof(*p) - sizeof(p->sp));
	p->held = NULL;
	memset(sp, 0xa5, sizeof(*sp));
	sb_pend_release(sb, p);
	assert_int_equal(sb->n_spare, 1);
	assert_int_equal(sb->n_work_spare, 1);
	q = sb_pend_alloc(sb);
	assert_ptr_equal(q, p);
	assert_ptr_equal(q->sp, sp);
	assert_int_equal(sb->n_spare, 0);
	assert_int_equal(sb->n_work_spare, 0);
	assert_true(
	    all_zero((char *)q + sizeof(q->sp), offsetof(struct sb_pend, held_in) - sizeof(q->sp)));
	la = span_pack(q->sp, a, sizeof(a));
	lb = span_pack(&zero, b, sizeof(b));
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	sb_pend_release(sb, q);
	sb_free(sb);
}

/* A finished span is held packed: its working record goes back to the
 * spares at once, and what it reads as (sb_pend_view) is what it was; an
 * edit gives it a working record again, the same span. A long one (past
 * SB_HELD_INLINE packed) is held in memory of its own, freed with it
 * (ASan). */
static void test_held_packed(void **state)
{
	struct spanbuild *sb = builder();
	uint8_t a[SPAN_PACK_MAX], b[SPAN_PACK_MAX];
	size_t la, lb;

	(void)state;
	for (int big = 0; big < 2; big++) {
		struct sb_pend *p = sb_pend_alloc(sb);
		struct span *sp, *e;
		const struct span *v;

		assert_non_null(p);
		sp = p->sp;
		snprintf(sp->name, sizeof(sp->name), "GET /api/{id}");
		snprintf(sp->path, sizeof(sp->path), "/api/7");
		snprintf(sp->service_name, sizeof(sp->service_name), "web");
		if (big)
			memset(sp->tracestate, 'x', sizeof(sp->tracestate) - 1);
		sp->status = SPAN_STATUS_ERROR;
		sp->status_code = 503;
		la = span_pack(sp, a, sizeof(a));
		sb_pend_hold(sb, p);
		assert_null(p->sp);
		assert_int_equal(sb->n_work_spare, 1);
		assert_ptr_equal(&sb->work_spare->sp, sp);
		assert_true(p->held_error);
		assert_int_equal(p->held_len, la);
		if (big)
			assert_ptr_not_equal(p->held, p->held_in);
		else
			assert_ptr_equal(p->held, p->held_in);
		v = sb_pend_view(sb, p);
		assert_ptr_equal(v, &sb->view);
		lb = span_pack(v, b, sizeof(b));
		assert_int_equal(lb, la);
		assert_memory_equal(a, b, la);
		e = sb_pend_edit(sb, p);
		assert_ptr_equal(e, sp); /* the spare, taken again */
		assert_null(p->held);
		assert_null(sb->view_of);
		assert_ptr_equal(sb_pend_view(sb, p), e);
		lb = span_pack(e, b, sizeof(b));
		assert_int_equal(lb, la);
		assert_memory_equal(a, b, la);
		if (big) {
			/* held again, then given back held: its memory goes */
			sb_pend_hold(sb, p);
			assert_non_null(p->held);
			assert_ptr_not_equal(p->held, p->held_in);
		}
		sb_pend_release(sb, p);
	}
	sb_free(sb);
}

/* More given back than SB_SPARE_MAX: the rest is freed, not kept. */
static void test_spares_bounded(void **state)
{
	enum { N = SB_SPARE_MAX + 40 };
	static struct sb_pend *p[N];
	struct spanbuild *sb = builder();

	(void)state;
	for (int i = 0; i < N; i++) {
		p[i] = sb_pend_alloc(sb);
		assert_non_null(p[i]);
	}
	for (int i = 0; i < N; i++) {
		sb_pend_release(sb, p[i]);
		/* the newest first, even at the cap: it is in the cache */
		assert_ptr_equal(sb->spare, p[i]);
	}
	assert_int_equal(sb->n_spare, SB_SPARE_MAX);
	/* kept: the newest, then the SB_SPARE_MAX - 1 first ones (each one
	 * past the cap freed the one before it), taken newest first, each
	 * once */
	p[SB_SPARE_MAX - 1] = p[N - 1];
	for (int i = 0; i < SB_SPARE_MAX; i++) {
		struct sb_pend *q = sb_pend_alloc(sb);

		assert_ptr_equal(q, p[SB_SPARE_MAX - 1 - i]);
		sb_pend_release(sb, q);
		q = sb_pend_alloc(sb);
		assert_ptr_equal(q, p[SB_SPARE_MAX - 1 - i]);
	}
	assert_int_equal(sb->n_spare, 0);
	for (int i = 0; i < SB_SPARE_MAX; i++)
		sb_pend_release(sb, p[i]);
	sb_free(sb); /* frees the spares: ASan reports any leak, or a double free */
}

/* Spans made and emitted by the builder go through the spares; a record
 * whose last span left its strings' tails behind (here: garbage) makes the
 * same span as a new one: the same packed bytes but ids and times. */
static void test_builder_reuses_records(void **state)
{
	static struct emitted e;
	struct sb_config c = {.emit = keep_emit,
			      .emit_ctx = &e,
			      .sampling_ratio = 1.0,
			      .emit_unsampled = true,
			      .host_name = "node-1"};
	struct spanbuild *sb = sb_new(&c);
	struct obs o;
	/* where the packed times start: the format byte, the three ids, five
	 * one-byte fields (span_pack.c) */
	size_t t = 1 + 16 + 8 + 8 + 5, n;

	(void)state;
	assert_non_null(sb);
	for (int i = 0; i < 3; i++) {
		if (i == 2)
			memset(&sb->work_spare->sp, 0xa5, sizeof(sb->work_spare->sp));
		memset(&o, 0, sizeof(o));
		o.cookie = 1;
		o.role = OBS_ROLE_SERVER;
		o.kind = OBS_REQUEST;
		o.ts_ns = 1000000000ULL * (i + 1);
		o.local.family = o.remote.family = AF_INET;
		o.remote.port = 40000;
		o.local.port = 80;
		memcpy(o.method, "GET", 4);
		memcpy(o.target, "/", 2);
		memcpy(o.user_agent, "loadgen", 8);
		memcpy(o.service, "web", 4);
		memcpy(o.service_ns, "default", 8);
		memcpy(o.comm, "nginx", 6);
		sb_feed(sb, &o);
		o.kind = OBS_RESPONSE;
		o.status = 200;
		o.body = OBS_BODY_NONE;
		o.ts_ns += 1000;
		sb_feed(sb, &o);
		/* finished: held packed, its working record a spare already */
		assert_int_equal(sb->n_pending, 1);
		assert_int_equal(sb->n_work_spare, 1);
		assert_null(sb_of(sb->all.head, struct sb_pend, all)->sp);
		sb_tick(sb, o.ts_ns + 20000000000ULL);
		/* emitted: its records wait for the next request */
		assert_int_equal(sb->n_pending, 0);
		assert_int_equal(sb->n_spare, 1);
		assert_int_equal(sb->n_work_spare, 1);
	}
	assert_int_equal(e.n, 3);
	n = e.len[0];
	assert_true(n > t + 16);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(e.len[i], n);
		/* the kind, status, flags, then everything after the times */
		assert_memory_equal(e.buf[i] + t - 5, e.buf[0] + t - 5, 5);
		assert_memory_equal(e.buf[i] + t + 16, e.buf[0] + t + 16, n - t - 16);
	}
	sb_free(sb);
}

static struct span got[4];
static bool got_packed[4];
static int n_got;

/* A span handed on packed is packed as sp: its bytes are what span_pack()
 * makes of it, the ids and times set at the emit included. */
static void copy_emit(const struct span *sp, const struct span_packed *pk, void *ctx)
{
	(void)ctx;
	assert_true(n_got < 4);
	got_packed[n_got] = pk != NULL;
	if (pk) {
		uint8_t buf[SPAN_PACK_MAX];
		size_t n = span_pack(sp, buf, sizeof(buf));

		assert_int_equal(pk->len, n);
		assert_memory_equal(pk->bytes, buf, n);
	}
	got[n_got++] = *sp;
}

/* One side of a GET of path on the connection 40000 + port <-> 80. */
static void side(struct spanbuild *sb, uint8_t role, uint8_t kind, uint64_t ts, uint16_t port,
		 const char *path)
{
	struct obs o;

	memset(&o, 0, sizeof(o));
	o.cookie = (uint64_t)port * 2 + (role == OBS_ROLE_CLIENT);
	o.role = role;
	o.kind = kind;
	o.ts_ns = ts;
	o.local.family = o.remote.family = AF_INET;
	o.local.port = role == OBS_ROLE_CLIENT ? 40000 + port : 80;
	o.remote.port = role == OBS_ROLE_CLIENT ? 80 : 40000 + port;
	memcpy(o.method, "GET", 4);
	snprintf(o.target, sizeof(o.target), "%s", path);
	o.status = 200;
	o.body = OBS_BODY_NONE;
	sb_feed(sb, &o);
}

/* A CLIENT span finished (held packed) before its SERVER side is seen is
 * still paired: its path is read from the packed span, the pair's ids are
 * the records' own, and the emitted spans carry them; a held one of
 * another path (the same method, the same connection timing) is not. */
static void test_held_span_pairs(void **state)
{
	struct sb_config c = {.emit = copy_emit, .sampling_ratio = 1.0, .emit_unsampled = true};
	struct spanbuild *sb = sb_new(&c);
	const uint64_t ms = 1000000ULL;
	struct sb_stats st;

	(void)state;
	assert_non_null(sb);
	n_got = 0;
	side(sb, OBS_ROLE_CLIENT, OBS_REQUEST, 10 * ms, 1, "/api/held");
	side(sb, OBS_ROLE_CLIENT, OBS_RESPONSE, 11 * ms, 1, "/api/held");
	side(sb, OBS_ROLE_CLIENT, OBS_REQUEST, 10 * ms, 2, "/api/other");
	side(sb, OBS_ROLE_CLIENT, OBS_RESPONSE, 11 * ms, 2, "/api/other");
	/* both finished, held packed: no working record left in use */
	assert_int_equal(sb->n_pending, 2);
	assert_null(sb_of(sb->all.head, struct sb_pend, all)->sp);
	assert_null(sb_of(sb->all.tail, struct sb_pend, all)->sp);
	side(sb, OBS_ROLE_SERVER, OBS_REQUEST, 10 * ms + 500000, 1, "/api/held");
	side(sb, OBS_ROLE_SERVER, OBS_REQUEST, 10 * ms + 500000, 2, "/api/other2");
	side(sb, OBS_ROLE_SERVER, OBS_RESPONSE, 10 * ms + 900000, 1, "/api/held");
	side(sb, OBS_ROLE_SERVER, OBS_RESPONSE, 10 * ms + 900000, 2, "/api/other2");
	sb_get_stats(sb, &st);
	assert_int_equal(st.pairs, 1);
	sb_tick(sb, 20000 * ms);
	assert_int_equal(n_got, 4);
	/* request order: client 1, client 2, server 1, server 2 */
	assert_string_equal(got[0].path, "/api/held");
	assert_string_equal(got[2].path, "/api/held");
	assert_int_equal(got[2].kind, SPAN_KIND_SERVER);
	assert_memory_equal(got[2].parent_span_id, got[0].span_id, 8);
	assert_memory_equal(got[2].trace_id, got[0].trace_id, 16);
	assert_false(all_zero(got[0].span_id, 8));
	assert_true(all_zero(got[0].parent_span_id, 8));
	assert_string_equal(got[1].path, "/api/other");
	assert_string_equal(got[3].path, "/api/other2");
	assert_true(all_zero(got[3].parent_span_id, 8));
	assert_memory_not_equal(got[3].trace_id, got[1].trace_id, 16);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(got[i].status_code, 200);
		assert_true(got_packed[i]); /* held: handed on packed */
	}
	sb_free(sb);
}

/* An HTTP/2 stream whose response had no body finished at its head, held
 * packed; a reset of the stream after that still makes the span an error
 * (the held span edited: a working record again, the same span), and it
 * keeps its end. */
static void test_held_span_edited(void **state)
{
	struct sb_config c = {.emit = copy_emit, .sampling_ratio = 1.0, .emit_unsampled = true};
	struct spanbuild *sb = sb_new(&c);
	const uint64_t ms = 1000000ULL;
	struct sb_pend *p;
	struct obs o;

	(void)state;
	assert_non_null(sb);
	n_got = 0;
	memset(&o, 0, sizeof(o));
	o.cookie = 9;
	o.role = OBS_ROLE_SERVER;
	o.kind = OBS_REQUEST;
	o.ts_ns = 10 * ms;
	o.local.family = o.remote.family = AF_INET;
	o.local.port = 80;
	o.remote.port = 40009;
	o.stream_id = 3;
	memcpy(o.method, "GET", 4);
	memcpy(o.target, "/h2", 4);
	sb_feed(sb, &o);
	o.kind = OBS_RESPONSE;
	o.ts_ns = 11 * ms;
	o.status = 204;
	o.body = OBS_BODY_NONE;
	sb_feed(sb, &o);
	p = sb_of(sb->all.head, struct sb_pend, all);
	assert_int_equal(p->state, SB_DONE);
	assert_null(p->sp);
	assert_false(p->held_error);
	o.kind = OBS_RESPONSE_END;
	o.ts_ns = 12 * ms;
	o.status = 0;
	o.stream_reset = true;
	o.h2_error = 8;
	sb_feed(sb, &o);
	assert_non_null(p->sp);
	assert_null(p->held);
	sb_tick(sb, 20000 * ms);
	assert_int_equal(n_got, 1);
	assert_string_equal(got[0].path, "/h2");
	assert_int_equal(got[0].status_code, 204);
	assert_int_equal(got[0].status, SPAN_STATUS_ERROR);
	assert_string_equal(got[0].status_message, "stream reset (HTTP/2 error 8)");
	assert_int_equal(got[0].end_unix_ns - got[0].start_unix_ns, 2 * ms);
	assert_false(got_packed[0]); /* a working record: nothing packed */
	assert_int_equal(sb->n_pending, 0);
	sb_free(sb);
}

static void sock_obs(struct obs *o, uint64_t cookie)
{
	memset(o, 0, sizeof(*o));
	o->cookie = cookie;
	o->role = OBS_ROLE_CLIENT;
	o->local.family = o->remote.family = AF_INET;
	o->local.port = 40000 + (uint16_t)cookie;
	o->remote.port = 80;
	o->ts_ns = 1000;
}

/* A socket given back dirty comes out again as a new one, the same memory:
 * what precedes its address texts and what lies between them and its
 * service zeroed, every string "", findable by its new cookie only; at
 * most SB_SPARE_MAX kept, the rest freed with the builder (ASan). */
static void test_socket_spares(void **state)
{
	enum { N = SB_SPARE_MAX + 8 };
	static struct sb_sock *s[N];
	struct spanbuild *sb = builder();
	struct sb_sock *a, *b;
	struct obs o;

	(void)state;
	sock_obs(&o, 1);
	a = sb_sock_new(sb, &o);
	assert_non_null(a);
	memset((char *)a + offsetof(struct sb_sock, fifo), 0xa5,
	       sizeof(*a) - offsetof(struct sb_sock, fifo));
	a->closed = a->upgraded = a->not_traced = a->svc_addr_asked = true;
	a->skip = 3;
	sb_sock_free(sb, a);
	assert_int_equal(sb->n_sockets, 0);
	assert_int_equal(sb->n_sock_spare, 1);
	assert_null(sb_sock_find(sb, 1));
	sock_obs(&o, 2);
	b = sb_sock_new(sb, &o);
	assert_ptr_equal(b, a);
	assert_int_equal(sb->n_sock_spare, 0);
	assert_ptr_equal(sb_sock_find(sb, 2), b);
	assert_null(sb_sock_find(sb, 1));
	assert_int_equal(b->cookie, 2);
	assert_int_equal(b->local.port, 40002);
	assert_int_equal(b->last_ns, 1000);
	assert_false(b->closed || b->upgraded || b->not_traced || b->svc_addr_asked);
	assert_int_equal(b->skip, 0);
	assert_int_equal(b->fifo_len, 0);
	assert_int_equal(b->fifo_head, 0);
	assert_null(b->pends.head);
	assert_null(b->pair_from);
	assert_null(b->rt);
	assert_int_equal(b->svc_gen, 0);
	assert_int_equal(b->id_seq, 0);
	assert_int_equal(b->last_resp_ns, 0);
	assert_int_equal(b->svc_addr.family, 0);
	assert_string_equal(b->local_txt, "");
	assert_string_equal(b->remote_txt, "");
	assert_string_equal(b->svc_txt, "");
	assert_string_equal(b->service, "");
	assert_string_equal(b->service_ns, "");
	assert_string_equal(b->k8s.pod_name, "");
	assert_string_equal(b->k8s.pod_uid, "");
	assert_string_equal(b->k8s.container_name, "");
	assert_string_equal(b->k8s.node_name, "");
	assert_string_equal(b->k8s.owner_kind, "");
	assert_string_equal(b->k8s.owner_name, "");
	sb_sock_free(sb, b);
	for (int i = 0; i < N; i++) {
		sock_obs(&o, 100 + (uint64_t)i);
		s[i] = sb_sock_new(sb, &o);
		assert_non_null(s[i]);
	}
	assert_int_equal(sb->n_sockets, N);
	for (int i = 0; i < N; i++) {
		sb_sock_free(sb, s[i]);
		assert_ptr_equal(sb->sock_spare, s[i]); /* the newest first */
	}
	assert_int_equal(sb->n_sock_spare, SB_SPARE_MAX);
	sock_obs(&o, 7);
	assert_non_null(sb_sock_new(sb, &o)); /* held by the builder: freed with it */
	sb_free(sb);
}

/* Trace groups: one whose last reference goes is kept as a spare (a chain
 * of merged ones, each of them), handed out again zeroed but for the ids
 * asked for, at most SB_SPARE_MAX kept, the rest freed with the builder. */
static void test_group_spares(void **state)
{
	enum { N = SB_SPARE_MAX + 40 };
	static struct sb_group *g[N];
	static const uint8_t tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	struct spanbuild *sb = builder();
	struct sb_group *a, *b, *c;

	(void)state;
	a = sb_group_new(sb, NULL, -1);
	b = sb_group_new(sb, NULL, -1);
	assert_non_null(a);
	assert_non_null(b);
	/* a merged into b: b is held by its own span and by a */
	a->refs = 1;
	a->merged_into = b;
	b->refs = 2;
	b->n_open = 3;
	b->forced = true;
	sb_group_unref(sb, a);
	assert_int_equal(sb->n_group_spare, 1);
	assert_ptr_equal(sb->group_spare, a);
	assert_int_equal(b->refs, 1);
	sb_group_unref(sb, b);
	assert_int_equal(sb->n_group_spare, 2);
	assert_ptr_equal(sb->group_spare, b);
	c = sb_group_new(sb, tid, 1);
	assert_ptr_equal(c, b);
	assert_int_equal(sb->n_group_spare, 1);
	assert_memory_equal(c->trace_id, tid, sizeof(tid));
	assert_null(c->merged_into);
	assert_int_equal(c->refs, 0);
	assert_int_equal(c->n_open, 0);
	assert_int_equal(c->remote_sampled, 1);
	assert_false(c->forced);
	c = sb_group_new(sb, NULL, -1);
	assert_ptr_equal(c, a);
	assert_int_equal(sb->n_group_spare, 0);
	assert_false(all_zero(c->trace_id, sizeof(c->trace_id)));
	assert_int_equal(c->remote_sampled, -1);
	assert_null(c->merged_into);
	c->refs = 1;
	sb_group_unref(sb, c);
	b->refs = 1;
	sb_group_unref(sb, b);
	for (int i = 0; i < N; i++) {
		g[i] = sb_group_new(sb, NULL, -1);
		assert_non_null(g[i]);
		g[i]->refs = 1;
	}
	for (int i = 0; i < N; i++) {
		sb_group_unref(sb, g[i]);
		assert_ptr_equal(sb->group_spare, g[i]); /* the newest first */
	}
	assert_int_equal(sb->n_group_spare, SB_SPARE_MAX);
	sb_free(sb); /* frees the spares: ASan reports any leak, or a double free */
}

/* The bucket a socket keeps is its connection's: both sockets of one
 * connection (a spare record taken again included) are in it, found from
 * either; a freed one leaves it, and another connection's socket is in its
 * own bucket. */
static void test_conn_bucket(void **state)
{
	struct spanbuild *sb = builder();
	struct sb_sock *c, *v, *x, *n;
	struct obs o;
	bool seen_c = false, seen_v = false;

	(void)state;
	sock_obs(&o, 1);
	c = sb_sock_new(sb, &o);
	sb_sock_free(sb, c); /* a spare: taken again by the next socket */
	sock_obs(&o, 2);
	c = sb_sock_new(sb, &o);
	o.cookie = 3;
	o.role = OBS_ROLE_SERVER;
	o.local.port = 80;
	o.remote.port = 40002;
	v = sb_sock_new(sb, &o);
	sock_obs(&o, 4);
	x = sb_sock_new(sb, &o);
	assert_non_null(c);
	assert_non_null(v);
	assert_non_null(x);
	assert_true(sb_sock_peers(c, v));
	assert_ptr_equal(sb_conn_bucket(sb, c), sb_conn_bucket(sb, v));
	for (n = sb_conn_bucket(sb, c); n; n = n->cnext) {
		seen_c |= n == c;
		seen_v |= n == v;
	}
	assert_true(seen_c);
	assert_true(seen_v);
	for (n = sb_conn_bucket(sb, x); n; n = n->cnext)
		if (n == x)
			break;
	assert_ptr_equal(n, x);
	/* these two connections' ends hash to different buckets */
	assert_ptr_not_equal(sb_conn_bucket(sb, x), sb_conn_bucket(sb, c));
	sb_sock_free(sb, v);
	for (n = sb_conn_bucket(sb, c); n; n = n->cnext)
		assert_ptr_not_equal(n, v);
	sb_free(sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spare_comes_back_empty),
	    cmocka_unit_test(test_held_packed),
	    cmocka_unit_test(test_spares_bounded),
	    cmocka_unit_test(test_held_span_pairs),
	    cmocka_unit_test(test_held_span_edited),
	    cmocka_unit_test(test_builder_reuses_records),
	    cmocka_unit_test(test_socket_spares),
	    cmocka_unit_test(test_group_spares),
	    cmocka_unit_test(test_conn_bucket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
