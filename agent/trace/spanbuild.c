/* SPDX-License-Identifier: Apache-2.0 */
/* spanbuild.c: observations in (see spanbuild.h): requests queue per socket,
 * responses and their ends pair with them in order, closes end what is left;
 * the tick ends overdue responses and emits what is due. The top of the
 * builder's files (spanbuild_int.h): it calls the others, none calls it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "trace/inject_ids.h"
#include "trace/spanbuild_int.h"

_Static_assert(OBS_NAME_MAX == SPAN_NAME_MAX && OBS_TARGET_MAX == SPAN_STR &&
		   OBS_METHOD_MAX == sizeof(((struct span *)0)->method),
	       "observation fields copy into span fields whole");

static const char *const drop_names[SB_DROP__MAX] = {
    [SB_DROP_SAMPLED_OUT] = "sampled_out",
    [SB_DROP_BAD_HEAD] = "bad_head",
    [SB_DROP_FIFO_FULL] = "fifo_full",
    [SB_DROP_PENDING_FULL] = "pending_full",
    [SB_DROP_SOCKET_EVICTED] = "socket_evicted",
    [SB_DROP_IDLE] = "idle",
    [SB_DROP_FLUSH] = "flush",
    [SB_DROP_NOT_TRACED] = "not_traced",
};

const char *sb_drop_name(enum sb_drop why)
{
	return (unsigned)why < SB_DROP__MAX ? drop_names[why] : "unknown";
}

/* --- the request FIFO of a socket --- */

static void fifo_push(struct sb_sock *s, struct sb_pend *p)
{
	s->fifo[(s->fifo_head + s->fifo_len) % SB_FIFO_MAX] = p;
	s->fifo_len++;
}

static struct sb_pend *fifo_pop(struct sb_sock *s)
{
	struct sb_pend *p = s->fifo[s->fifo_head];

	s->fifo_head = (s->fifo_head + 1) % SB_FIFO_MAX;
	s->fifo_len--;
	return p;
}

/* A request without a span still takes its place in line, so that the
 * responses after its own pair with their requests: a NULL in the FIFO, or a
 * count behind a full one. */
static void untracked_request(struct spanbuild *sb, struct sb_sock *s, enum sb_drop why)
{
	sb->st.dropped[why]++;
	if (s->skip || s->fifo_len == SB_FIFO_MAX)
		s->skip++;
	else
		fifo_push(s, NULL);
}

/* --- requests --- */

/* gRPC semantic conventions: the span and its route are named
 * "package.Service/Method", the path without its leading '/'; a path that
 * is not one (desync lost it, or a cut one) leaves the name "grpc". */
static void grpc_request(struct span *sp, const struct obs *o)
{
	const char *m = o->target[0] == '/' ? strchr(o->target + 1, '/') : NULL;

	sp->rpc_grpc = true;
	if (!m || m == o->target + 1 || !m[1] || o->target_truncated) {
		snprintf(sp->name, sizeof(sp->name), "grpc");
		return;
	}
	snprintf(sp->route, sizeof(sp->route), "%s", o->target + 1);
	snprintf(sp->name, sizeof(sp->name), "%s", o->target + 1);
}

/* gRPC semantic conventions: a server's span is an error only for the codes
 * that say the server failed; a client's for any code but OK. */
static void grpc_status(struct sb_pend *p, uint8_t code)
{
	static const bool server_error[17] = {
	    [2] = true, [4] = true, [12] = true, [13] = true, [14] = true, [15] = true};

	p->sp->has_grpc_status = true;
	p->sp->grpc_status_code = code;
	if (p->kind == SPAN_KIND_CLIENT ? code != 0 : code < 17 && server_error[code])
		p->sp->status = SPAN_STATUS_ERROR;
	else
		p->sp->status = SPAN_STATUS_UNSET;
}

/* Field by field: a pod's identity is mostly empty strings, and the
 * record's 504 bytes of it need not be written whole. */
static void k8s_copy(struct span_k8s *dst, const struct span_k8s *src)
{
	sb_copy_str(dst->pod_name, sizeof(dst->pod_name), src->pod_name);
	sb_copy_str(dst->pod_uid, sizeof(dst->pod_uid), src->pod_uid);
	sb_copy_str(dst->container_name, sizeof(dst->container_name), src->container_name);
	sb_copy_str(dst->node_name, sizeof(dst->node_name), src->node_name);
	sb_copy_str(dst->owner_kind, sizeof(dst->owner_kind), src->owner_kind);
	sb_copy_str(dst->owner_name, sizeof(dst->owner_name), src->owner_name);
}

static void fill_request(struct spanbuild *sb, struct sb_sock *s, struct sb_pend *p,
			 const struct obs *o)
{
	struct span *sp = p->sp;

	sb_copy_str(sp->path, sizeof(sp->path), o->target);
	p->path_hash = sb_path_hash(sp->path);
	if (o->rpc == OBS_RPC_GRPC) {
		grpc_request(sp, o);
	} else if (s->rt) {
		if (route_of(s->rt, o->target, o->target_truncated, sp->route, sizeof(sp->route)) ==
		    ROUTE_OVERFLOW_CAP)
			sb->st.route_overflows++;
	} else {
		route_fold(o->target, o->target_truncated, sp->route, sizeof(sp->route));
	}
	sb_http_attrs(sb, s, p, o);
	sb_copy_str(sp->service_name, sizeof(sp->service_name), s->service);
	sb_copy_str(sp->service_namespace, sizeof(sp->service_namespace), s->service_ns);
	sb_copy_str(sp->host_name, sizeof(sp->host_name), sb->host_name);
	k8s_copy(&sp->k8s, &s->k8s);
}

/* The traceparent a request carried, when it is a valid one. */
static bool request_tp(const struct obs *o, struct trace_parent *tp)
{
	return o->traceparent[0] &&
	       !tracectx_parse_traceparent(o->traceparent,
					   strnlen(o->traceparent, sizeof(o->traceparent)), tp);
}

/* The span's trace and its own id, from the traceparent it carried. */
static struct sb_group *pend_ids(struct spanbuild *sb, struct sb_pend *p, const struct obs *o)
{
	struct trace_parent tp;
	struct sb_group *g;

	if (!request_tp(o, &tp)) {
		sb_rand_id(sb, p->span_id, sizeof(p->span_id));
		return sb_group_new(sb, NULL, -1);
	}
	/* A traceparent bpfmesh's kernel added names this very span: its ids
	 * are the span's own (the callee got them), no parent; its sampled
	 * flag came from the sampler's own trace-id rule, so the trace is
	 * sampled as a root. */
	if (p->kind == SPAN_KIND_CLIENT && inject_ids_ours(o, &tp, sb->inject_key)) {
		memcpy(p->span_id, tp.span_id, sizeof(p->span_id));
		p->injected = true;
		sb->st.injected++;
		return sb_group_new(sb, tp.trace_id, -1);
	}
	/* A SERVER request's traceparent names the caller's span; a CLIENT
	 * request's one was written by the application, which propagates its
	 * own context: its span is the parent, whatever this thread serves
	 * (spanbuild_link.c tells a header only passed on unchanged). Either
	 * way the span joins that trace. */
	g = sb_group_new(sb, tp.trace_id, tp.flags & 1);
	memcpy(p->parent_span_id, tp.span_id, sizeof(p->parent_span_id));
	p->has_tp = true;
	p->tp = tp;
	p->app_parent = p->kind == SPAN_KIND_CLIENT;
	p->sp->trace_flags = tp.flags;
	sb_copy_str(p->sp->tracestate, sizeof(p->sp->tracestate), o->tracestate);
	if (p->app_parent)
		sb->st.client_traceparents++;
	else
		sb->st.traceparents++;
	sb_rand_id(sb, p->span_id, sizeof(p->span_id));
	return g;
}

static struct sb_pend *pend_new(struct spanbuild *sb, struct sb_sock *s, const struct obs *o)
{
	struct sb_pend *p = sb_pend_alloc(sb);
	struct sb_group *g;

	if (!p)
		return NULL;
	p->kind = s->role == OBS_ROLE_CLIENT ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER;
	p->sp->kind = p->kind;
	g = pend_ids(sb, p, o);
	if (!g) {
		sb_pend_release(sb, p);
		return NULL;
	}
	g->refs = 1;
	g->n_open = 1;
	p->group = g;
	p->sock = s;
	p->tgid = o->tgid;
	p->tid = o->tid;
	p->instr = o->instrumented;
	p->cgroup_id = o->cgroup_id;
	p->start_ns = o->ts_ns;
	p->seq = ++sb->seq;
	memcpy(p->method, o->method, sizeof(p->method));
	p->stream_id = o->stream_id;
	p->path_truncated = o->target_truncated;
	p->bodiless_response = o->bodiless_response;
	fill_request(sb, s, p, o);
	dl_push(&sb->all, &p->all);
	dl_push(&s->pends, &p->on_sock);
	if (!s->pair_from)
		s->pair_from = &p->on_sock;
	p->proc = sb_proc_get(sb, o->tgid);
	if (p->proc)
		dl_push(p->kind == SPAN_KIND_SERVER ? &p->proc->servers : &p->proc->clients,
			&p->on_proc);
	sb->n_pending++;
	return p;
}

/* --- sockets --- */

/* Forget a socket: what is still open on it can never end now (dropped, not
 * made up); a started response ends where it started; finished spans stay
 * held, only without their socket. */
static void sock_evict(struct spanbuild *sb, struct sb_sock *s, enum sb_drop why, uint64_t now)
{
	struct sb_node *n;

	while ((n = s->pends.head)) {
		struct sb_pend *p = sb_of(n, struct sb_pend, on_sock);

		dl_del(&s->pends, n);
		p->sock = NULL;
		if (p->state == SB_OPEN)
			sb_drop(sb, p, why);
		else if (p->state == SB_RESPONDED)
			sb_finish(sb, p, p->resp_ns, false, now);
	}
	sb_sock_free(sb, s);
}

/* A socket first seen: at max_sockets, the least recently used one goes. */
static struct sb_sock *sock_new(struct spanbuild *sb, const struct obs *o)
{
	if (sb->n_sockets >= sb->cfg.max_sockets && sb->lru.head)
		sock_evict(sb, sb_of(sb->lru.head, struct sb_sock, lru), SB_DROP_SOCKET_EVICTED,
			   o->ts_ns);
	return sb_sock_new(sb, o);
}

/* A request on a stream (HTTP/2): no place in line to keep, its response
 * names its stream. */
static void on_stream_request(struct spanbuild *sb, struct sb_sock *s, const struct obs *o)
{
	struct sb_pend *p;

	if (o->parse == OBS_PARSE_BAD) {
		sb->st.dropped[SB_DROP_BAD_HEAD]++;
		return;
	}
	if ((sb->n_pending >= sb->cfg.max_pending && !sb_make_room(sb)) ||
	    !(p = pend_new(sb, s, o))) {
		sb->st.dropped[SB_DROP_PENDING_FULL]++;
		return;
	}
	sb_link_new_request(sb, p);
}

/* The request of a stream, newest first: stream ids are not reused on a
 * connection. */
static struct sb_pend *stream_pend(struct sb_sock *s, uint32_t id)
{
	for (struct sb_node *n = s->pends.tail; n; n = n->prev) {
		struct sb_pend *p = sb_of(n, struct sb_pend, on_sock);

		if (p->stream_id == id)
			return p;
	}
	return NULL;
}

static void on_request(struct spanbuild *sb, const struct obs *o)
{
	struct sb_sock *s = sb_sock_find(sb, o->cookie);
	struct sb_pend *p;

	if (!s && o->role != OBS_ROLE_CLIENT && o->role != OBS_ROLE_SERVER)
		return;
	if (!s)
		s = sock_new(sb, o);
	if (!s) {
		sb->st.dropped[SB_DROP_PENDING_FULL]++;
		return;
	}
	/* after an h2c upgrade, HTTP/2 streams go on */
	if (s->closed || (s->upgraded && !o->stream_id))
		return;
	sb_sock_touch(sb, s, o->ts_ns);
	sb_sock_service(sb, s, o);
	if (s->not_traced) {
		sb->st.dropped[SB_DROP_NOT_TRACED]++;
		return;
	}
	if (o->stream_id) {
		on_stream_request(sb, s, o);
		return;
	}
	if (o->parse == OBS_PARSE_BAD) {
		untracked_request(sb, s, SB_DROP_BAD_HEAD);
		return;
	}
	if (s->skip || s->fifo_len == SB_FIFO_MAX) {
		untracked_request(sb, s, SB_DROP_FIFO_FULL);
		return;
	}
	if (sb->n_pending >= sb->cfg.max_pending && !sb_make_room(sb)) {
		untracked_request(sb, s, SB_DROP_PENDING_FULL);
		return;
	}
	p = pend_new(sb, s, o);
	if (!p) {
		untracked_request(sb, s, SB_DROP_PENDING_FULL);
		return;
	}
	fifo_push(s, p);
	sb_link_new_request(sb, p);
}

/* --- responses --- */

/* Responses on a socket follow each other: once a later one has started or
 * ended, an earlier one still without its RESPONSE_END is over, and was not
 * framed by the close either. stop: the later one (NULL: all are earlier). */
static void end_earlier(struct spanbuild *sb, struct sb_sock *s, struct sb_pend *stop, uint64_t now)
{
	/* Backwards from stop: the first one met that has seen its response
	 * ran this when that response came, for everything before it, so the
	 * walk ends there instead of crossing every finished span held on a
	 * busy keep-alive socket. */
	for (struct sb_node *n = stop ? stop->on_sock.prev : s->pends.tail; n; n = n->prev) {
		struct sb_pend *q = sb_of(n, struct sb_pend, on_sock);

		q->close_delimited = false;
		if (q->state == SB_RESPONDED)
			sb_finish(sb, q, q->resp_ns, false, now);
		if (q->resp_seen)
			break;
	}
}

static void responded(struct spanbuild *sb, struct sb_sock *s, struct sb_pend *p,
		      const struct obs *o);

static void on_response(struct spanbuild *sb, const struct obs *o)
{
	struct sb_sock *s = sb_sock_find(sb, o->cookie);
	struct sb_pend *p;

	if (!s) {
		sb->st.unpaired_responses++;
		return;
	}
	if (s->not_traced || (s->upgraded && !o->stream_id) || s->closed)
		return;
	sb_sock_touch(sb, s, o->ts_ns);
	/* 100 Continue, 103 Early Hints: the final response is still to come */
	if (o->status >= 100 && o->status < 200 && o->status != 101)
		return;
	if (o->stream_id) {
		p = stream_pend(s, o->stream_id);
		if (!p || p->resp_seen || p->state == SB_DONE) {
			sb->st.unpaired_responses++;
			return;
		}
		s->last_resp_ns = o->ts_ns;
		responded(sb, s, p, o);
		return;
	}
	if (!s->fifo_len) {
		if (s->skip)
			s->skip--;
		else
			sb->st.unpaired_responses++;
		return;
	}
	p = fifo_pop(s);
	s->last_resp_ns = o->ts_ns;
	end_earlier(sb, s, p, o->ts_ns);
	if (!p)
		return; /* the answer to a request that has no span */
	responded(sb, s, p, o);
}

/* A request's response started (o). */
static void responded(struct spanbuild *sb, struct sb_sock *s, struct sb_pend *p,
		      const struct obs *o)
{
	bool no_body;

	if (p->state != SB_RESPONDED)
		dl_push(&sb->responded, &p->responding);
	p->state = SB_RESPONDED;
	p->resp_seen = true;
	p->resp_ns = o->ts_ns;
	if (!o->status) {
		/* a desynchronised HTTP/2 connection may not know it: no error
		 * made up for that */
		if (!o->desync) {
			p->sp->status = SPAN_STATUS_ERROR;
			snprintf(p->sp->status_message, sizeof(p->sp->status_message),
				 "response status unreadable");
		}
		return;
	}
	sb_set_http_status(p, o->status);
	if (o->has_grpc_status && p->sp->rpc_grpc)
		grpc_status(p, o->grpc_status); /* trailers-only */
	if (o->status == 101) {
		s->upgraded = true; /* another protocol from here on */
		sb_finish(sb, p, o->ts_ns, true, o->ts_ns);
		return;
	}
	/* the request or the response head says there is no body (HEAD, 204,
	 * 304, a zero length): the response ends with its head */
	no_body = p->bodiless_response || o->body == OBS_BODY_NONE;
	p->close_delimited = !no_body && o->body == OBS_BODY_TO_CLOSE;
	p->length_declared = !no_body && o->body == OBS_BODY_LENGTH;
	p->chunked = p->length_declared && o->chunked;
	p->resp_seq0 = o->resp_at.seq0;
	p->resp_need = p->length_declared ? o->resp_need : 0;
	if (no_body)
		sb_finish(sb, p, o->ts_ns, false, o->ts_ns); /* a RESPONSE_END may refine it */
}

/* The response a RESPONSE_END closes: the oldest one without an exact end,
 * unless the response after it (with a span or not) had already started by
 * then. */
static struct sb_pend *end_target(struct sb_sock *s, uint64_t ts)
{
	struct sb_pend *best = NULL;

	/* backwards: only the last responses can still be open to an end;
	 * once a response is followed by one that started by ts, so is every
	 * older one */
	for (struct sb_node *n = s->pends.tail; n; n = n->prev) {
		struct sb_pend *p = sb_of(n, struct sb_pend, on_sock);
		struct sb_pend *q = n->next ? sb_of(n->next, struct sb_pend, on_sock) : NULL;
		uint64_t next = q && q->resp_seen ? q->resp_ns : s->last_resp_ns;

		if (!p->resp_seen)
			continue; /* waiting for its response, or one that lost it */
		if (next > p->resp_ns && next <= ts)
			break;
		if (!p->end_exact && ts >= p->resp_ns)
			best = p;
	}
	return best;
}

/* A stream ended: END_STREAM of its response (trailers with their gRPC
 * status), or a reset that cut it short. */
static void on_stream_end(struct spanbuild *sb, struct sb_sock *s, const struct obs *o)
{
	struct sb_pend *p = stream_pend(s, o->stream_id);

	if (!p) {
		sb->st.unpaired_ends++;
		return;
	}
	/* one ended at a bodiless response's head is held packed: edited,
	 * it keeps a working record again */
	if (o->stream_reset || o->has_grpc_status) {
		struct span *sp = sb_pend_edit(sb, p);

		if (sp && o->stream_reset) {
			sp->status = SPAN_STATUS_ERROR;
			snprintf(sp->status_message, sizeof(sp->status_message),
				 "stream reset (HTTP/2 error %u)", o->h2_error);
		} else if (sp && sp->rpc_grpc) {
			grpc_status(p, o->grpc_status);
		}
	}
	if (p->state == SB_DONE) /* ended at a bodiless response's head */
		sb_set_end(sb, p, o->ts_ns);
	else
		sb_finish(sb, p, o->ts_ns, true, o->ts_ns);
}

static void on_response_end(struct spanbuild *sb, const struct obs *o)
{
	struct sb_sock *s = sb_sock_find(sb, o->cookie);
	struct sb_pend *p;

	if (!s) {
		sb->st.unpaired_ends++;
		return;
	}
	if (s->not_traced || (s->upgraded && !o->stream_id) || s->closed)
		return;
	sb_sock_touch(sb, s, o->ts_ns);
	if (o->stream_id) {
		on_stream_end(sb, s, o);
		return;
	}
	p = end_target(s, o->ts_ns);
	if (!p) {
		sb->st.unpaired_ends++;
		return;
	}
	end_earlier(sb, s, p, o->ts_ns);
	if (p->state == SB_RESPONDED)
		sb_finish(sb, p, o->ts_ns, true, o->ts_ns);
	else
		sb_set_end(sb, p, o->ts_ns);
}

/* --- how far a response got --- */

/* Has the response of p passed whole, by the kernel's account of its
 * bytes (at)? Its head said how many (Content-Length), or its chunks end
 * with the last bytes seen. at must be of its head segment (seq0). */
static bool resp_complete(const struct sb_pend *p, const struct obs_resp_at *at)
{
	if (at->seq0 != p->resp_seq0)
		return false;
	if (p->resp_need)
		return at->bytes >= p->resp_need;
	return p->chunked && obs_chunks_end(at->tail + 3);
}

/* The response of a socket still waiting for its end: the one of its
 * latest responded request (a later response ends the earlier ones). */
static struct sb_pend *resp_open(struct sb_sock *s)
{
	for (struct sb_node *n = s->pends.tail; n; n = n->prev) {
		struct sb_pend *p = sb_of(n, struct sb_pend, on_sock);

		if (p->resp_seen)
			return p->state == SB_RESPONDED && !p->stream_id ? p : NULL;
	}
	return NULL;
}

static void resp_end_at(struct spanbuild *sb, struct sb_pend *p, uint64_t last_ns)
{
	sb_finish(sb, p, last_ns > p->resp_ns ? last_ns : p->resp_ns, true, sb->now_ns);
}

static void on_response_at(struct spanbuild *sb, const struct obs *o)
{
	struct sb_sock *s = sb_sock_find(sb, o->cookie);
	struct sb_pend *p;

	if (!s || s->closed || s->not_traced || s->upgraded)
		return;
	p = resp_open(s);
	if (p && resp_complete(p, &o->resp_at))
		resp_end_at(sb, p, o->ts_ns);
}

/* At a tick: a response whose length is known and whose last byte no
 * record reported, by the kernel's state of its socket. */
static void poll_response(struct spanbuild *sb, struct sb_pend *p)
{
	struct obs_resp_at at;
	uint64_t last;

	if (p->state != SB_RESPONDED || p->stream_id || !p->sock || p->sock->closed ||
	    (!p->resp_need && !p->chunked))
		return;
	if (!sb->cfg.resp_at(p->sock->cookie, &at, &last, sb->cfg.resp_at_ctx) &&
	    resp_complete(p, &at))
		resp_end_at(sb, p, last);
}

/* --- close --- */

static void on_close(struct spanbuild *sb, const struct obs *o)
{
	struct sb_sock *s = sb_sock_find(sb, o->cookie);
	uint64_t now = o->ts_ns;
	struct sb_pend *last;

	if (!s || s->closed)
		return;
	/* the response in flight may have passed whole before the close */
	last = o->body_last_ns ? resp_open(s) : NULL;
	if (last && resp_complete(last, &o->resp_at))
		resp_end_at(sb, last, o->body_last_ns);
	for (struct sb_node *n = s->pends.head; n; n = n->next) {
		struct sb_pend *p = sb_of(n, struct sb_pend, on_sock);

		if (p->state == SB_OPEN ||
		    (p->state == SB_RESPONDED && (o->error || p->length_declared))) {
			/* no (whole) response: an error, the status code stays what was
			 * seen; a cut response ended at its last byte (the close
			 * says when it passed), one that never came at the close */
			uint64_t end = now;

			if (p->state == SB_RESPONDED && o->body_last_ns && o->body_last_ns <= now)
				end = o->body_last_ns > p->resp_ns ? o->body_last_ns : p->resp_ns;
			sb_set_error(p, o->error);
			sb_finish(sb, p, end, true, now);
		} else if (p->state == SB_RESPONDED) {
			/* framed by the close: its last byte before it */
			uint64_t end = !p->close_delimited ? p->resp_ns
				       : p == last && o->body_last_ns && o->body_last_ns <= now &&
					       o->resp_at.seq0 == p->resp_seq0
					   ? o->body_last_ns
					   : now;

			sb_finish(sb, p, end > p->resp_ns ? end : p->resp_ns, p->close_delimited,
				  now);
		} else if (!o->error && !p->end_exact && p->close_delimited) {
			sb_set_end(sb, p, now);
		}
	}
	s->fifo_len = 0;
	s->skip = 0;
	s->closed = true;
	sb_sock_release(sb, s);
}

void sb_feed(struct spanbuild *sb, const struct obs *o)
{
	sb->st.observations++;
	if (o->ts_ns > sb->now_ns)
		sb->now_ns = o->ts_ns;
	switch (o->kind) {
	case OBS_REQUEST:
		on_request(sb, o);
		break;
	case OBS_RESPONSE:
		on_response(sb, o);
		break;
	case OBS_RESPONSE_END:
		on_response_end(sb, o);
		break;
	case OBS_CLOSE:
		on_close(sb, o);
		break;
	case OBS_RESPONSE_AT:
		on_response_at(sb, o);
		break;
	default:
		break;
	}
}

void sb_tick(struct spanbuild *sb, uint64_t now)
{
	struct sb_node *n, *next;

	if (now > sb->now_ns)
		sb->now_ns = now;
	/* the responses still open: what the poll ends of one changes
	 * nothing for another's deadline, so one walk does both; sb_finish
	 * takes p off the list */
	for (n = sb->responded.head; n; n = next) {
		struct sb_pend *p = sb_of(n, struct sb_pend, responding);
		uint64_t deadline, end, last;
		struct obs_resp_at at;

		next = n->next;
		if (sb->cfg.resp_at)
			poll_response(sb, p);
		deadline = p->resp_ns + sb->cfg.response_end_timeout_ns;
		end = p->resp_ns;
		/* known finished since the deadline, not since this (late) tick;
		 * an HTTP/2 stream (a streaming RPC) ends with its stream */
		if (p->state != SB_RESPONDED || p->stream_id || now < deadline)
			continue;
		/* not known to be whole: at its latest byte known, not exact */
		if (sb->cfg.resp_at && p->sock && !p->sock->closed &&
		    !sb->cfg.resp_at(p->sock->cookie, &at, &last, sb->cfg.resp_at_ctx) &&
		    at.seq0 == p->resp_seq0 && last > end && last <= now)
			end = last;
		sb_finish(sb, p, end, false, deadline);
	}
	sb_emit_due(sb, now);
	while (sb->lru.head) {
		struct sb_sock *s = sb_of(sb->lru.head, struct sb_sock, lru);

		if (s->last_ns + sb->cfg.idle_timeout_ns > now)
			break;
		sock_evict(sb, s, SB_DROP_IDLE, now);
	}
}

void sb_flush(struct spanbuild *sb)
{
	while (sb->lru.head)
		sock_evict(sb, sb_of(sb->lru.head, struct sb_sock, lru), SB_DROP_FLUSH, 0);
	while (sb->all.head) {
		struct sb_pend *p = sb_of(sb->all.head, struct sb_pend, all);

		if (p->state == SB_DONE)
			sb_emit(sb, p);
		else
			sb_drop(sb, p, SB_DROP_FLUSH);
	}
}

/* --- configuration --- */

static void free_routes(char **routes, int n)
{
	for (int i = 0; i < n; i++)
		free(routes[i]);
	free(routes);
}

int sb_set_routes(struct spanbuild *sb, const char *const *routes, int n_routes, int route_cap)
{
	char **copy = NULL;
	int n = n_routes > 0 ? n_routes : 0;

	if (n) {
		copy = calloc((size_t)n, sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		for (int i = 0; i < n; i++) {
			copy[i] = strdup(routes[i]);
			if (!copy[i]) {
				free_routes(copy, i);
				return -ENOMEM;
			}
		}
	}
	free_routes(sb->routes, sb->n_routes);
	sb->routes = copy;
	sb->n_routes = n;
	sb->route_cap = route_cap;
	sb_services_reset(sb);
	return 0;
}

void sb_set_clock_offset(struct spanbuild *sb, int64_t offset_ns)
{
	sb->cfg.clock_offset_ns = offset_ns;
}

void sb_set_sampling(struct spanbuild *sb, double ratio, bool errors, uint64_t slower_than_ms)
{
	sampler_init(&sb->sampler, ratio, errors, slower_than_ms);
}

void sb_set_inject_key(struct spanbuild *sb, uint64_t key) { sb->inject_key = key; }

void sb_get_stats(const struct spanbuild *sb, struct sb_stats *out)
{
	*out = sb->st;
	out->sockets = sb->n_sockets;
	out->pending = sb->n_pending;
	out->sdk_processes = sb_sdk_count(sb, sb->now_ns);
}

static void set_default(uint64_t *v, uint64_t def)
{
	if (!*v)
		*v = def;
}

struct spanbuild *sb_new(const struct sb_config *cfg)
{
	struct spanbuild *sb;

	if (!cfg || !cfg->emit) {
		errno = EINVAL;
		return NULL;
	}
	sb = calloc(1, sizeof(*sb));
	if (!sb) {
		errno = ENOMEM;
		return NULL;
	}
	sb->cfg = *cfg;
	sb->cfg.routes = NULL;
	sb->cfg.host_name = NULL;
	set_default(&sb->cfg.pair_window_ns, 200000000ULL);
	set_default(&sb->cfg.max_hold_ns, 10000000000ULL);
	set_default(&sb->cfg.response_end_timeout_ns, 5000000000ULL);
	set_default(&sb->cfg.idle_timeout_ns, 300000000000ULL);
	if (!sb->cfg.max_sockets)
		sb->cfg.max_sockets = 16384;
	if (!sb->cfg.max_pending)
		sb->cfg.max_pending = 8192;
	snprintf(sb->host_name, sizeof(sb->host_name), "%s", cfg->host_name ? cfg->host_name : "");
	sampler_init(&sb->sampler, cfg->sampling_ratio, cfg->sample_errors,
		     cfg->sample_slower_than_ms);
	sb_rand_seed(sb, cfg->seed);
	if (sb_tables_init(sb) || sb_set_routes(sb, cfg->routes, cfg->n_routes, cfg->route_cap)) {
		sb_free(sb);
		errno = ENOMEM;
		return NULL;
	}
	return sb;
}

void sb_free(struct spanbuild *sb)
{
	if (!sb)
		return;
	while (sb->all.head)
		sb_drop(sb, sb_of(sb->all.head, struct sb_pend, all), SB_DROP__MAX);
	sb_tables_free(sb);
	sb_group_spares_free(sb);
	free_routes(sb->routes, sb->n_routes);
	free(sb);
}
