/* SPDX-License-Identifier: Apache-2.0 */
/* spanbuild_link.c: which trace a span belongs to and who its parent is.
 * A new span starts its own trace (random id, or the traceparent's of its
 * request); links found later merge traces:
 * - same node: a CLIENT request on one socket and a SERVER request on the
 *   other socket of the same connection are one call; the SERVER span becomes
 *   the CLIENT span's child (this beats a traceparent the request carried);
 * - same process: a CLIENT request sent by a thread while it serves a SERVER
 *   request becomes that SERVER span's child, unless the application sent a
 *   traceparent of its own with it: then its own span (the header's parent)
 *   stays the parent, and the two spans share only a trace when the header
 *   continues the SERVER span's one.
 * Either side may be observed first, so both are searched for on each new
 * request. */
#include <stdlib.h>
#include <string.h>

#include "trace/spanbuild_int.h"

/* Slack for timestamps of the two sides of a call, taken at different hooks. */
#define SB_PAIR_SLACK_NS 1000000ULL

struct sb_group *sb_group_new(struct spanbuild *sb, const uint8_t *trace_id, int remote_sampled)
{
	struct sb_group *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	if (trace_id)
		memcpy(g->trace_id, trace_id, sizeof(g->trace_id));
	else
		sb_rand_id(sb, g->trace_id, sizeof(g->trace_id));
	g->remote_sampled = remote_sampled;
	return g;
}

void sb_group_unref(struct sb_group *g)
{
	while (g && --g->refs == 0) {
		struct sb_group *next = g->merged_into;

		free(g);
		g = next;
	}
}

struct sb_group *sb_group_root(struct sb_pend *p)
{
	struct sb_group *g = p->group, *r = g;

	while (r->merged_into)
		r = r->merged_into;
	if (r != g) {
		/* point the span at the root so the next lookup is one step */
		r->refs++;
		p->group = r;
		sb_group_unref(g);
	}
	return r;
}

static void group_merge(struct sb_group *from, struct sb_group *into)
{
	if (from == into)
		return;
	from->merged_into = into;
	into->refs++;
	into->n_open += from->n_open;
	from->n_open = 0;
	into->forced |= from->forced;
}

/* --- same-node pairs --- */

/* Could server request s be client request c, as the other socket saw it? */
static bool pair_fits(const struct sb_pend *c, const struct sb_pend *s)
{
	if (c->partner || s->partner)
		return false;
	if (strcmp(c->method, s->method) || strcmp(c->sp.path, s->sp.path) ||
	    c->path_truncated != s->path_truncated)
		return false;
	/* The server reads what the client sent, and before the client is
	 * answered; with these a side that missed a request (an agent restart
	 * in the middle of a connection) does not shift every later pair. */
	if (s->start_ns + SB_PAIR_SLACK_NS < c->start_ns)
		return false;
	return !c->resp_seen || s->start_ns <= c->resp_ns + SB_PAIR_SLACK_NS;
}

static void link_pair(struct spanbuild *sb, struct sb_pend *c, struct sb_pend *s)
{
	c->partner = s;
	s->partner = c;
	memcpy(s->sp.parent_span_id, c->sp.span_id, sizeof(s->sp.parent_span_id));
	s->local_parent = true;
	group_merge(sb_group_root(s), sb_group_root(c));
	sb->st.pairs++;
}

/* The k-th request of one side is the k-th of the other: the oldest request
 * on the peer socket not paired yet, that fits. */
static void find_pair(struct spanbuild *sb, struct sb_pend *p)
{
	for (struct sb_sock *o = sb_conn_bucket(sb, p->sock); o; o = o->cnext) {
		if (!sb_sock_peers(p->sock, o))
			continue;
		/* pairs form in order: skip the paired head of the list */
		while (o->pair_from && sb_of(o->pair_from, struct sb_pend, on_sock)->partner)
			o->pair_from = o->pair_from->next;
		for (struct sb_node *n = o->pair_from; n; n = n->next) {
			struct sb_pend *q = sb_of(n, struct sb_pend, on_sock);
			bool client = p->sp.kind == SPAN_KIND_CLIENT;
			struct sb_pend *c = client ? p : q, *s = client ? q : p;

			if (pair_fits(c, s)) {
				link_pair(sb, c, s);
				return;
			}
		}
	}
}

/* --- in-process nesting --- */

/* Was thread (tgid, tid) serving s when it sent c? An unknown tid on either
 * side matches any thread of the process. */
static bool serving(const struct sb_pend *s, const struct sb_pend *c)
{
	if (c->tid && s->tid && c->tid != s->tid)
		return false;
	if (s->start_ns > c->start_ns)
		return false;
	if (s->resp_seen)
		return c->start_ns <= s->resp_ns;
	return s->state != SB_DONE || c->start_ns <= s->end_ns;
}

/* The one SERVER span c can be nested under, or NULL when there is none or
 * more than one (an event loop serving several requests on one thread, or a
 * process with several requests open and thread ids unknown): a wrong parent
 * is worse than none. */
static struct sb_pend *nest_parent(const struct sb_proc *proc, const struct sb_pend *c)
{
	struct sb_pend *only = NULL;

	for (struct sb_node *n = proc->servers.head; n; n = n->next) {
		struct sb_pend *s = sb_of(n, struct sb_pend, on_proc);

		if (!serving(s, c))
			continue;
		if (only)
			return NULL;
		only = s;
	}
	return only;
}

static void link_nest(struct spanbuild *sb, struct sb_pend *s, struct sb_pend *c)
{
	memcpy(c->sp.parent_span_id, s->sp.span_id, sizeof(c->sp.parent_span_id));
	c->local_parent = true;
	group_merge(sb_group_root(c), sb_group_root(s));
	sb->st.nested++;
}

/* The traceparent c carried is the one s came with, unchanged: the
 * application passed the context on without a span of its own, so the
 * header names s's caller, not an ancestor of c that s does not cover. */
static bool forwarded(const struct sb_pend *s, const struct sb_pend *c)
{
	return s->has_tp && !memcmp(s->tp.trace_id, c->tp.trace_id, sizeof(c->tp.trace_id)) &&
	       !memcmp(s->tp.span_id, c->tp.span_id, sizeof(c->tp.span_id));
}

/* c was sent by the thread serving s. */
static void nest(struct spanbuild *sb, struct sb_pend *s, struct sb_pend *c)
{
	struct sb_group *gs, *gc;

	/* An injected header's trace id was made by the kernel at the send,
	 * which cannot know the trace of the request the thread serves (the
	 * agent makes that one later, from the capture): the callee joined
	 * the header's trace, so c stays there, a root; the local tree is cut
	 * at this process (README: Tracing, injection). */
	if (c->injected)
		return;
	if (!c->app_parent || forwarded(s, c)) {
		link_nest(sb, s, c);
		return;
	}
	/* The application's span is c's parent. In s's trace (an instrumented
	 * application continuing the incoming context) the spans are one trace
	 * on this node all the same: held and sampled together. A header of
	 * another trace keeps c apart, its trace id must not change. */
	gs = sb_group_root(s);
	gc = sb_group_root(c);
	if (!memcmp(gs->trace_id, gc->trace_id, sizeof(gs->trace_id)))
		group_merge(gc, gs);
}

static void nest_client(struct spanbuild *sb, struct sb_pend *c)
{
	struct sb_pend *s = nest_parent(c->proc, c);

	if (s)
		nest(sb, s, c);
}

/* A SERVER request observed after calls its thread made while serving it. */
static void adopt_clients(struct spanbuild *sb, struct sb_pend *s)
{
	for (struct sb_node *n = s->proc->clients.head; n; n = n->next) {
		struct sb_pend *c = sb_of(n, struct sb_pend, on_proc);

		if (!c->local_parent && serving(s, c) && nest_parent(s->proc, c) == s)
			nest(sb, s, c);
	}
}

void sb_link_new_request(struct spanbuild *sb, struct sb_pend *p)
{
	if (p->proc) {
		if (p->sp.kind == SPAN_KIND_CLIENT)
			nest_client(sb, p);
		else
			adopt_clients(sb, p);
	}
	if (p->sock)
		find_pair(sb, p);
}
