/* SPDX-License-Identifier: Apache-2.0 */
/* spanbuild_link.c: which trace a span belongs to and who its parent is.
 * A new span starts its own trace (random id, or the traceparent's of its
 * request); links found later merge traces:
 * - same node: a CLIENT request on one socket and a SERVER request on the
 *   other socket of the same connection are one call; the SERVER span becomes
 *   the CLIENT span's child, unless the request carried a traceparent: headers
 *   win, it stays the child of the span the header names (an SDK's CLIENT
 *   span), but for a header the caller only passed on unchanged from the
 *   request it serves, whose own span bpfmesh exports (then the header names
 *   an ancestor of the caller's span, in the same trace);
 * - same process: a CLIENT request sent by the thread that read a SERVER
 *   request, between that read and its response, while that thread serves
 *   no other request, becomes that SERVER span's child; unless the
 *   application sent a traceparent of its own with it: then its own span
 *   (the header's parent) stays the parent, and the two spans share only a
 *   trace when the header continues the SERVER span's one. No thread id, or
 *   two requests in flight on the thread (an event loop): no parent, rather
 *   than a wrong one;
 * - SDK-instrumented processes (its Workload says so, or it was seen sending
 *   a traceparent of its own within sdk_ttl_ns): its SERVER spans and its
 *   CLIENT spans with a traceparent duplicate the SDK's and are emitted
 *   unsampled (histograms count them, nothing exports them); its calls
 *   without a traceparent (the SDK's own export calls, uninstrumented
 *   libraries) are not nested under the request it happens to serve.
 * Either side may be observed first, so both are searched for on each new
 * request. */
#include <stdlib.h>
#include <string.h>

#include "trace/spanbuild_int.h"

#define SB_SDK_TTL_NS (600ULL * 1000000000ULL)
#define SB_SDK_WAYS 4

/* Slack for timestamps of the two sides of a call, taken at different hooks. */
#define SB_PAIR_SLACK_NS 1000000ULL

/* A group record: a spare one, else a new one. Spares go and come in the
 * same order as malloc's own bins would take them back, but without its
 * locked arena: a calloc and a free of a group per request were 8% of
 * the agent at 30k req/s (both ends captured). */
struct sb_group *sb_group_new(struct spanbuild *sb, const uint8_t *trace_id, int remote_sampled)
{
	struct sb_group *g = sb_spare_take(&sb->group_spare, &sb->n_group_spare,
					   offsetof(struct sb_group, merged_into));

	if (g) {
		memset(g, 0, sizeof(*g));
	} else if (!(g = calloc(1, sizeof(*g)))) {
		return NULL;
	}
	if (trace_id)
		memcpy(g->trace_id, trace_id, sizeof(g->trace_id));
	else
		sb_rand_id(sb, g->trace_id, sizeof(g->trace_id));
	g->remote_sampled = remote_sampled;
	return g;
}

/* Spare groups are linked by merged_into. */
static void group_release(struct spanbuild *sb, struct sb_group *g)
{
	sb_spare_give(&sb->group_spare, &sb->n_group_spare, g,
		      offsetof(struct sb_group, merged_into));
}

void sb_group_spares_free(struct spanbuild *sb)
{
	sb_spares_free(&sb->group_spare, &sb->n_group_spare,
		       offsetof(struct sb_group, merged_into));
}

void sb_group_unref(struct spanbuild *sb, struct sb_group *g)
{
	while (g && --g->refs == 0) {
		struct sb_group *next = g->merged_into;

		group_release(sb, g);
		g = next;
	}
}

struct sb_group *sb_group_root(struct spanbuild *sb, struct sb_pend *p)
{
	struct sb_group *g = p->group, *r = g;

	while (r->merged_into)
		r = r->merged_into;
	if (r != g) {
		/* point the span at the root so the next lookup is one step */
		r->refs++;
		p->group = r;
		sb_group_unref(sb, g);
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

/* --- SDK-instrumented processes --- */

static struct sb_sdk_proc *sdk_set(struct spanbuild *sb, uint32_t tgid)
{
	return &sb->sdk[(tgid * 2654435761u) % (SB_SDK_SLOTS / SB_SDK_WAYS) * SB_SDK_WAYS];
}

static struct sb_sdk_proc *sdk_find(struct spanbuild *sb, uint32_t tgid, uint64_t cgroup_id)
{
	struct sb_sdk_proc *set = sdk_set(sb, tgid);

	for (int i = 0; i < SB_SDK_WAYS; i++)
		if (set[i].tgid == tgid && set[i].cgroup_id == cgroup_id)
			return &set[i];
	return NULL;
}

static uint64_t sdk_ttl(const struct spanbuild *sb)
{
	return sb->cfg.sdk_ttl_ns ? sb->cfg.sdk_ttl_ns : SB_SDK_TTL_NS;
}

/* FNV-1a of "namespace/name" */
static uint64_t svc_hash(const struct span *sp)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const char *c = sp->service_namespace; *c; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ULL;
	h = (h ^ '/') * 0x100000001b3ULL;
	for (const char *c = sp->service_name; *c; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ULL;
	return h;
}

/* c carried a traceparent of its process's own: remember the process, in
 * the set's slot of the same process, else the free or stalest one. */
static void sdk_mark(struct spanbuild *sb, const struct sb_pend *c)
{
	struct sb_sdk_proc *e = sdk_find(sb, c->tgid, c->cgroup_id), *set;
	struct sb_sdk_svc *v;
	uint64_t h;

	/* its Workload says no SDK: nothing to mark (nor to keep injection
	 * away from, sb_sdk_procs) */
	if (c->instr == OBS_INSTR_NO)
		return;
	if (!e) {
		set = sdk_set(sb, c->tgid);
		e = &set[0];
		for (int i = 1; i < SB_SDK_WAYS && e->tgid; i++)
			if (!set[i].tgid || set[i].seen_ns < e->seen_ns)
				e = &set[i];
		e->tgid = c->tgid;
		e->cgroup_id = c->cgroup_id;
		e->seen_ns = 0;
	}
	if (c->start_ns > e->seen_ns)
		e->seen_ns = c->start_ns;
	h = svc_hash(sb_pend_view(sb, c));
	v = &sb->sdk_svc[h % SB_SDK_SVC_SLOTS];
	if (v->hash != h)
		*v = (struct sb_sdk_svc){.hash = h};
	if (c->start_ns > v->seen_ns)
		v->seen_ns = c->start_ns;
	sb->st.sdk_marks++;
}

/* Does an SDK in p's process export its spans? The Workload says so, or
 * the process sent a traceparent of its own not longer than the TTL before
 * p started (or after: the first request's call marks it). A request whose
 * thread the capture could not tell (tgid 0) goes by its service: some
 * process of it on this node is marked. */
static bool sdk_process(struct spanbuild *sb, const struct sb_pend *p)
{
	const struct sb_sdk_proc *e;
	const struct sb_sdk_svc *v;
	uint64_t h;

	if (p->instr != OBS_INSTR_AUTO)
		return p->instr == OBS_INSTR_YES;
	if (p->tgid) {
		e = sdk_find(sb, p->tgid, p->cgroup_id);
		return e && e->seen_ns + sdk_ttl(sb) >= p->start_ns;
	}
	h = svc_hash(sb_pend_view(sb, p));
	v = &sb->sdk_svc[h % SB_SDK_SVC_SLOTS];
	return v->hash == h && v->seen_ns && v->seen_ns + sdk_ttl(sb) >= p->start_ns;
}

uint32_t sb_sdk_count(const struct spanbuild *sb, uint64_t now)
{
	uint32_t n = 0;

	for (int i = 0; i < SB_SDK_SLOTS; i++)
		n += sb->sdk[i].tgid && sb->sdk[i].seen_ns + sdk_ttl(sb) >= now;
	return n;
}

size_t sb_sdk_procs(const struct spanbuild *sb, struct sb_sdk_id *out, size_t max)
{
	size_t n = 0;

	for (int i = 0; i < SB_SDK_SLOTS && n < max; i++)
		if (sb->sdk[i].tgid && sb->sdk[i].seen_ns + sdk_ttl(sb) >= sb->now_ns)
			out[n++] = (struct sb_sdk_id){sb->sdk[i].tgid, sb->sdk[i].cgroup_id};
	return n;
}

/* c's traceparent is one a request its process serves came with: passed
 * on, not the application's own. */
static bool tp_same(const struct trace_parent *a, const struct trace_parent *b)
{
	return !memcmp(a->trace_id, b->trace_id, sizeof(a->trace_id)) &&
	       !memcmp(a->span_id, b->span_id, sizeof(a->span_id));
}

static bool tp_passed_on(const struct sb_proc *proc, const struct sb_pend *c)
{
	for (struct sb_node *n = proc ? proc->servers.head : NULL; n; n = n->next) {
		const struct sb_pend *s = sb_of(n, struct sb_pend, on_proc);

		if (s->has_tp && tp_same(&s->tp, &c->tp))
			return true;
	}
	return false;
}

/* --- same-node pairs --- */

/* Could server request s be client request c, as the other socket saw it? */
static bool pair_fits(struct spanbuild *sb, const struct sb_pend *c, const struct sb_pend *s)
{
	if (c->partner || s->partner)
		return false;
	if (strcmp(c->method, s->method) || c->path_hash != s->path_hash ||
	    c->path_truncated != s->path_truncated)
		return false;
	/* The server reads what the client sent, and before the client is
	 * answered; with these a side that missed a request (an agent restart
	 * in the middle of a connection) does not shift every later pair. */
	if (s->start_ns + SB_PAIR_SLACK_NS < c->start_ns)
		return false;
	if (c->resp_seen && s->start_ns > c->resp_ns + SB_PAIR_SLACK_NS)
		return false;
	/* the same hash: the paths themselves, last, as one of them may be
	 * held packed (not both: the new request is not) */
	return !strcmp(sb_pend_view(sb, c)->path, sb_pend_view(sb, s)->path);
}

/* The caller passed s's header on unchanged (or its Workload says no SDK
 * wrote it: instrumented "false") and bpfmesh exports the caller's span:
 * that span is a closer parent than the header's, in the header's trace. */
static bool pair_refines_header(struct spanbuild *sb, const struct sb_pend *c,
				const struct sb_pend *s)
{
	return c->has_tp && (c->tp_forwarded || c->instr == OBS_INSTR_NO) &&
	       tp_same(&c->tp, &s->tp) && !sdk_process(sb, c);
}

static void link_pair(struct spanbuild *sb, struct sb_pend *c, struct sb_pend *s)
{
	struct sb_group *gs, *gc;

	c->partner = s;
	s->partner = c;
	sb->st.pairs++;
	if (s->has_tp && !pair_refines_header(sb, c, s)) {
		/* headers win: s keeps the parent its header names; one trace
		 * on this node only when the caller's span is in it too */
		gs = sb_group_root(sb, s);
		gc = sb_group_root(sb, c);
		if (!memcmp(gs->trace_id, gc->trace_id, sizeof(gs->trace_id)))
			group_merge(gs, gc);
		return;
	}
	memcpy(s->parent_span_id, c->span_id, sizeof(s->parent_span_id));
	s->local_parent = true;
	group_merge(sb_group_root(sb, s), sb_group_root(sb, c));
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
			bool client = p->kind == SPAN_KIND_CLIENT;
			struct sb_pend *c = client ? p : q, *s = client ? q : p;

			if (pair_fits(sb, c, s)) {
				link_pair(sb, c, s);
				return;
			}
		}
	}
}

/* --- in-process nesting --- */

/* Was the thread that sent c serving s then: the thread that read s, between
 * that and s's response? Without both thread ids there is no evidence. */
static bool serving(const struct sb_pend *s, const struct sb_pend *c)
{
	if (!c->tid || !s->tid || c->tid != s->tid)
		return false;
	if (s->start_ns > c->start_ns)
		return false;
	if (s->resp_seen)
		return c->start_ns <= s->resp_ns;
	return s->state != SB_DONE || c->start_ns <= s->end_ns;
}

/* The one SERVER span c can be nested under, or NULL when there is none or
 * more than one (an event loop serving several requests on one thread): a
 * wrong parent is worse than none. */
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
	memcpy(c->parent_span_id, s->span_id, sizeof(c->parent_span_id));
	c->local_parent = true;
	c->nested = true;
	group_merge(sb_group_root(sb, c), sb_group_root(sb, s));
	sb->st.nested++;
}

/* The traceparent c carried is the one s came with, unchanged: the
 * application passed the context on without a span of its own, so the
 * header names s's caller, not an ancestor of c that s does not cover. */
static bool forwarded(const struct sb_pend *s, const struct sb_pend *c)
{
	return s->has_tp && tp_same(&s->tp, &c->tp);
}

/* p, and what hangs under it on this node (the callee's SERVER span, the
 * calls nested under that), move to group g: a nesting undone after the
 * groups merged. Spans linked to them later join g by the usual merges. */
static void regroup(struct spanbuild *sb, struct sb_pend *p, struct sb_group *g, int depth)
{
	struct sb_group *old = sb_group_root(sb, p);

	if (old == g || depth > 16)
		return;
	if (p->state != SB_DONE) {
		old->n_open--;
		g->n_open++;
	}
	g->refs++;
	p->group = g;
	sb_group_unref(sb, old);
	if (p->kind == SPAN_KIND_CLIENT) {
		struct sb_pend *s = p->partner;

		if (s && s->local_parent &&
		    !memcmp(s->parent_span_id, p->span_id, sizeof(p->span_id)))
			regroup(sb, s, g, depth + 1);
		return;
	}
	for (struct sb_node *n = p->proc ? p->proc->clients.head : NULL; n; n = n->next) {
		struct sb_pend *c = sb_of(n, struct sb_pend, on_proc);

		if (c->nested && !memcmp(c->parent_span_id, p->span_id, sizeof(p->span_id)))
			regroup(sb, c, g, depth + 1);
	}
}

/* A nesting found wrong (a second request in flight on the thread, or an
 * SDK's own call): c loses its parent, and gets a trace of its own. */
static void unnest(struct spanbuild *sb, struct sb_pend *c)
{
	struct sb_group *g;

	c->nested = false;
	c->local_parent = false;
	sb->st.nested--;
	if (c->has_tp) {
		/* the header it passed on names a span of the same trace */
		memcpy(c->parent_span_id, c->tp.span_id, sizeof(c->parent_span_id));
		c->app_parent = true;
		return;
	}
	memset(c->parent_span_id, 0, sizeof(c->parent_span_id));
	g = sb_group_new(sb, NULL, -1);
	if (g) /* else it stays a root in the old trace */
		regroup(sb, c, g, 0);
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
	gs = sb_group_root(sb, s);
	gc = sb_group_root(sb, c);
	if (!memcmp(gs->trace_id, gc->trace_id, sizeof(gs->trace_id)))
		group_merge(gc, gs);
}

/* A call without a traceparent from an SDK-instrumented process: the SDK
 * propagates the context of every call it traces, so this one it does not
 * (its own export calls): it belongs to no request. */
static bool sdk_untraced_call(struct spanbuild *sb, const struct sb_pend *c)
{
	return !c->has_tp && sdk_process(sb, c);
}

static void nest_client(struct spanbuild *sb, struct sb_pend *c)
{
	struct sb_pend *s;

	if (c->has_tp) {
		c->tp_forwarded = tp_passed_on(c->proc, c);
		if (!c->tp_forwarded && c->tgid)
			sdk_mark(sb, c);
	}
	if (sdk_untraced_call(sb, c))
		return;
	s = nest_parent(c->proc, c);
	if (s)
		nest(sb, s, c);
}

/* A SERVER request observed after calls its thread made while serving it;
 * or one that makes a call nested already ambiguous (two requests in flight
 * on the thread). */
static void adopt_clients(struct spanbuild *sb, struct sb_pend *s)
{
	for (struct sb_node *n = s->proc->clients.head; n; n = n->next) {
		struct sb_pend *c = sb_of(n, struct sb_pend, on_proc);

		if (!serving(s, c) || sdk_untraced_call(sb, c))
			continue;
		if (c->nested)
			unnest(sb, c);
		else if (!c->local_parent && nest_parent(s->proc, c) == s)
			nest(sb, s, c);
	}
}

void sb_link_new_request(struct spanbuild *sb, struct sb_pend *p)
{
	if (p->proc) {
		if (p->kind == SPAN_KIND_CLIENT)
			nest_client(sb, p);
		else
			adopt_clients(sb, p);
	}
	if (p->sock)
		find_pair(sb, p);
}

bool sb_link_emit_prepare(struct spanbuild *sb, struct sb_pend *p)
{
	bool sdk = sdk_process(sb, p);

	/* the process was found SDK-instrumented after its call was nested */
	if (sdk && p->nested && !p->has_tp)
		unnest(sb, p);
	return !sdk || (p->kind == SPAN_KIND_CLIENT && !p->has_tp);
}
