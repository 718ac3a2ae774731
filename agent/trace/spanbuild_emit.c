/* SPDX-License-Identifier: Apache-2.0 */
/* spanbuild_emit.c: the end of a span: status, finishing, the hold, the
 * sampling decision and the hand-over to the emit callback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/span_pack.h"
#include "trace/spanbuild_int.h"

/* OpenTelemetry HTTP semantic conventions: a server's 4xx is the client's
 * fault, not the server's, so it stays UNSET; a client sees both as errors.
 * The description stays empty, the status code says it all. */
void sb_set_http_status(struct sb_pend *p, uint16_t code)
{
	p->sp->status_code = code;
	/* error.type: the status code as a string, when it is an error */
	if (code >= 500 || (p->kind == SPAN_KIND_CLIENT && code >= 400)) {
		p->sp->status = SPAN_STATUS_ERROR;
		snprintf(p->sp->error_type, sizeof(p->sp->error_type), "%u", code);
	} else {
		p->sp->status = SPAN_STATUS_UNSET;
		p->sp->error_type[0] = '\0';
	}
}

void sb_set_error(struct sb_pend *p, int err)
{
	const char *msg;

	/* an orderly close that cut a response it had announced the length of */
	snprintf(p->sp->error_type, sizeof(p->sp->error_type), "%s",
		 !err && !p->resp_seen ? "connection_closed" : sb_conn_error_type(err));
	switch (err) {
	case 0:
		msg = p->resp_seen ? "connection closed before the end of the response"
				   : "connection closed before the response";
		break;
	case ECONNRESET:
		msg = "connection reset";
		break;
	case ETIMEDOUT:
		msg = "connection timed out";
		break;
	case ECONNABORTED:
		msg = "connection aborted";
		break;
	case ECONNREFUSED:
		msg = "connection refused";
		break;
	case EPIPE:
		msg = "connection broken";
		break;
	case EHOSTUNREACH:
		msg = "host unreachable";
		break;
	case ENETUNREACH:
		msg = "network unreachable";
		break;
	default:
		snprintf(p->sp->status_message, sizeof(p->sp->status_message),
			 "connection error (errno %d)", err);
		p->sp->status = SPAN_STATUS_ERROR;
		return;
	}
	snprintf(p->sp->status_message, sizeof(p->sp->status_message), "%s", msg);
	p->sp->status = SPAN_STATUS_ERROR;
}

/* An error or slow span keeps its whole trace: marked on the group, every
 * span of it still held (all of them, while one is open) is kept. */
static void note_forced(struct spanbuild *sb, struct sb_pend *p)
{
	bool error = p->sp ? p->sp->status == SPAN_STATUS_ERROR : p->held_error;

	if (sampling_span_forced(&sb->sampler, error, p->end_ns - p->start_ns))
		sb_group_root(sb, p)->forced = true;
}

/* Into sb->done by done_ns, after those of the same time: spans finish
 * about in the order of their done_ns, so the walk back is short. */
static void done_insert(struct spanbuild *sb, struct sb_pend *p)
{
	struct sb_node *at = sb->done.tail;

	while (at && sb_of(at, struct sb_pend, done)->done_ns > p->done_ns)
		at = at->prev;
	dl_insert_after(&sb->done, at, &p->done);
	p->on_done = true;
}

void sb_finish(struct spanbuild *sb, struct sb_pend *p, uint64_t end_ns, bool exact, uint64_t now)
{
	if (p->state == SB_DONE)
		return;
	if (p->state == SB_RESPONDED)
		dl_del(&sb->responded, &p->responding);
	p->state = SB_DONE;
	p->end_ns = end_ns > p->start_ns ? end_ns : p->start_ns;
	p->end_exact = exact;
	p->done_ns = now > end_ns ? now : end_ns;
	done_insert(sb, p);
	sb_group_root(sb, p)->n_open--;
	note_forced(sb, p);
	sb_pend_hold(sb, p);
}

void sb_set_end(struct spanbuild *sb, struct sb_pend *p, uint64_t end_ns)
{
	p->end_ns = end_ns > p->start_ns ? end_ns : p->start_ns;
	p->end_exact = true;
	note_forced(sb, p);
}

bool sb_due(struct spanbuild *sb, struct sb_pend *p, uint64_t now)
{
	if (p->state != SB_DONE || now < p->done_ns + sb->cfg.pair_window_ns)
		return false;
	return sb_group_root(sb, p)->n_open <= 0 || now >= p->done_ns + sb->cfg.max_hold_ns;
}

static void pend_free(struct spanbuild *sb, struct sb_pend *p)
{
	if (p->state != SB_DONE)
		sb_group_root(sb, p)->n_open--;
	if (p->state == SB_RESPONDED)
		dl_del(&sb->responded, &p->responding);
	if (p->on_done)
		dl_del(&sb->done, &p->done);
	if (p->partner)
		p->partner->partner = NULL;
	dl_del(&sb->all, &p->all);
	if (p->sock) {
		struct sb_sock *s = p->sock;

		/* keep the FIFO in step: the response still comes, for nobody */
		for (int i = 0; i < s->fifo_len; i++)
			if (s->fifo[(s->fifo_head + i) % SB_FIFO_MAX] == p)
				s->fifo[(s->fifo_head + i) % SB_FIFO_MAX] = NULL;
		if (s->pair_from == &p->on_sock)
			s->pair_from = p->on_sock.next;
		dl_del(&s->pends, &p->on_sock);
		sb_sock_release(sb, s);
	}
	if (p->proc) {
		dl_del(p->kind == SPAN_KIND_SERVER ? &p->proc->servers : &p->proc->clients,
		       &p->on_proc);
		sb_proc_release(sb, p->proc);
	}
	sb_group_unref(sb, p->group);
	sb_pend_release(sb, p);
	sb->n_pending--;
}

void sb_drop(struct spanbuild *sb, struct sb_pend *p, enum sb_drop why)
{
	if (why < SB_DROP__MAX)
		sb->st.dropped[why]++;
	pend_free(sb, p);
}

void sb_emit(struct spanbuild *sb, struct sb_pend *p)
{
	/* false: an SDK exports this span (counted in histograms, exported by
	 * none); first, as it may move p to a trace of its own */
	bool own = sb_link_emit_prepare(sb, p);
	struct sb_group *g = sb_group_root(sb, p);
	bool keep =
	    own && sampling_trace_keep(&sb->sampler, g->trace_id, g->remote_sampled, g->forced);

	if (!own)
		sb->st.sdk_duplicates++;
	if (keep || sb->cfg.emit_unsampled) {
		/* in place (its working record, or the view it is unpacked
		 * into): p goes right after, and a span is 3 KB to copy */
		struct span *sp = sb_pend_view(sb, p);
		struct span_packed pk = {p->held, p->held_len};

		memcpy(sp->trace_id, g->trace_id, sizeof(sp->trace_id));
		memcpy(sp->span_id, p->span_id, sizeof(sp->span_id));
		memcpy(sp->parent_span_id, p->parent_span_id, sizeof(sp->parent_span_id));
		sp->sampled = keep;
		/* the caller's other flags (W3C level 2 "random") stay as sent */
		sp->trace_flags = (uint8_t)((sp->trace_flags & ~1u) | keep);
		sp->parent_remote = p->has_tp && !p->local_parent;
		sp->start_unix_ns = p->start_ns + (uint64_t)sb->cfg.clock_offset_ns;
		sp->end_unix_ns = p->end_ns + (uint64_t)sb->cfg.clock_offset_ns;
		/* held: its bytes are sp's but for the fields just set, all in
		 * the packed head; they go to the sinks as sp's packed form */
		if (!p->sp)
			span_pack_head(sp, p->held);
		sb->cfg.emit(sp, p->sp ? NULL : &pk, sb->cfg.emit_ctx);
		sb->st.spans_emitted++;
		sb->st.spans_sampled += keep;
	}
	if (!keep && own)
		sb->st.dropped[SB_DROP_SAMPLED_OUT]++;
	pend_free(sb, p);
}

/* The lines an emit reads: the record's own, and its packed span. */
static void pend_prefetch(const struct sb_pend *p)
{
	for (size_t o = 0; o < offsetof(struct sb_pend, held_in); o += 64)
		__builtin_prefetch((const char *)p + o);
	for (size_t o = 0; o < p->held_len; o += 64)
		__builtin_prefetch(p->held + o);
}

/* Only spans past their pair window can be due: sb->done's first ones.
 * They are taken off it, put in sb->all's order (they finished about in
 * that order: a short walk back each), then emitted; emitting one changes
 * no other's due time or group, so the spans and their order are those of
 * a walk of sb->all that emits each due span it meets. */
void sb_emit_due(struct spanbuild *sb, uint64_t now)
{
	struct sb_dlist due = {0};
	struct sb_node *n, *next;

	for (n = sb->done.head; n; n = next) {
		struct sb_pend *p = sb_of(n, struct sb_pend, done);
		struct sb_node *at = due.tail;

		next = n->next;
		if (now < p->done_ns + sb->cfg.pair_window_ns)
			break;
		if (!sb_due(sb, p, now))
			continue;
		dl_del(&sb->done, n);
		while (at && sb_of(at, struct sb_pend, done)->seq > p->seq)
			at = at->prev;
		dl_insert_after(&due, at, n);
	}
	while ((n = due.head)) {
		struct sb_pend *p = sb_of(n, struct sb_pend, done);

		if (n->next)
			pend_prefetch(sb_of(n->next, struct sb_pend, done));
		dl_del(&due, n);
		p->on_done = false;
		sb_emit(sb, p);
	}
}

/* Spans are full: the oldest finished one goes out before its time (its
 * links may be incomplete, which beats losing it). */
bool sb_make_room(struct spanbuild *sb)
{
	for (struct sb_node *n = sb->all.head; n; n = n->next) {
		struct sb_pend *p = sb_of(n, struct sb_pend, all);

		if (p->state == SB_DONE) {
			struct sb_node *next = n->next;

			sb->st.early_emits++;
			sb_emit(sb, p);
			/* a full builder emits one span per request, the
			 * oldest: most likely the one after p, whose lines can
			 * come in while the next request is dealt with */
			if (next)
				pend_prefetch(sb_of(next, struct sb_pend, all));
			return true;
		}
	}
	return false;
}
