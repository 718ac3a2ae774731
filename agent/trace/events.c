/* SPDX-License-Identifier: Apache-2.0 */
/* events.c: kernel capture records -> observations, in order per socket.
 * The records' bytes are the parsers' business (proto.h): here they are
 * only handed to the one that claims them. */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/h2.h"
#include "bpf/http.h"
#include "trace/events.h"
#include "trace/proto.h"
#include "lib/log.h"

#define EV_WAIT_NS (100ULL * 1000000ULL)
/* Records read before the CPU is offered to others (events_consume), while
 * the reader is less than a quarter of the ring behind (2 MiB of the
 * capture ring's 8, bpf/http.bpf.c). A 20 ms batch at 50,000 req/s is
 * about 4,000 records, 1.2 MB; at 110,000 req/s with both ends captured,
 * 2.2 MB. */
#define EV_CHUNK 256
#define EV_YIELD_SHARE 4 /* of the ring */
#define EV_PENDING_MAX 4096

struct ev_pending {
	struct obs obs;
	uint64_t since;
	struct ev_pending *next_spare;
};

/* The capture fields of a record, over an observation zeroed before. */
static void obs_fill(const struct http_event *e, struct obs *o)
{
	o->cookie = e->cookie;
	o->ts_ns = e->ts;
	o->local.family = o->remote.family = e->family == 2 ? AF_INET : AF_INET6;
	memcpy(o->local.addr, e->local, 16);
	memcpy(o->remote.addr, e->remote, 16);
	o->local.port = e->lport;
	o->remote.port = e->rport;
}

/* The capture fields of a record; the rest zero. */
static void obs_from(const struct http_event *e, struct obs *o)
{
	memset(o, 0, sizeof(*o));
	obs_fill(e, o);
}

/* The same for a message about to be parsed, leaving the socket's
 * identity (obs.h: service to id_seq, 780 bytes) as it was: the pipeline
 * sets every byte of it that is read, at delivery, for a request, and a
 * response's is never read. The memset of the whole 2 KB, twice per
 * request, was 3% of the agent at 30k req/s. */
static void obs_from_msg(const struct http_event *e, struct obs *o)
{
	memset(o, 0, offsetof(struct obs, service));
	obs_fill(e, o);
}

/* A request no THREAD record claimed was moved by the socket's last thread
 * (the kernel records only changes). */
static void deliver(struct events *ev, struct obs *o)
{
	if (o->kind == OBS_REQUEST && !o->tid) {
		const struct ev_thread *th = evthreads_get(
		    &ev->by_sock, o->cookie, o->role == OBS_ROLE_CLIENT ? EVT_SEND : EVT_RECV);

		if (th) {
			o->tgid = th->tgid;
			o->tid = th->tid;
			o->cgroup_id = th->cgroup_id;
			memcpy(o->comm, th->comm, sizeof(o->comm));
		}
	}
	ev->deliver(o, ev->ctx);
}

static void spare(struct events *ev, struct ev_pending *p)
{
	p->next_spare = ev->spare;
	ev->spare = p;
}

/* Take the delivered ones (cookie 0) out, the rest keeping their order. */
static void compact(struct events *ev, int from)
{
	int n = from;

	for (int i = from; i < ev->n_pending; i++) {
		if (ev->pending[i]->obs.cookie)
			ev->pending[n++] = ev->pending[i];
		else
			spare(ev, ev->pending[i]);
	}
	ev->n_pending = n;
}

/* Deliver, in order, the waiting requests of a socket. Called for every
 * response: a socket with none waiting costs one pass over the pointers. */
static void flush_cookie(struct events *ev, uint64_t cookie)
{
	int first = -1;

	for (int i = 0; i < ev->n_pending; i++) {
		if (ev->pending[i]->obs.cookie != cookie)
			continue;
		if (first < 0)
			first = i;
		deliver(ev, &ev->pending[i]->obs);
		ev->pending[i]->obs.cookie = 0; /* delivered */
	}
	if (first >= 0)
		compact(ev, first);
}

static void on_thread(struct events *ev, const struct http_event *e)
{
	uint8_t role = e->dir == HTTP_DIR_EGRESS ? OBS_ROLE_CLIENT : OBS_ROLE_SERVER;
	struct ev_thread th = {
	    .tgid = e->pid_tgid >> 32, .tid = (uint32_t)e->pid_tgid, .cgroup_id = e->cgroup_id};
	int i;

	ev->threads++;
	memcpy(th.comm, e->comm, sizeof(th.comm));
	th.comm[sizeof(th.comm) - 1] = 0;
	evthreads_set(&ev->by_sock, e->cookie, e->dir == HTTP_DIR_EGRESS ? EVT_SEND : EVT_RECV,
		      &th);
	for (i = 0; i < ev->n_pending; i++) {
		struct obs *o = &ev->pending[i]->obs;

		if (o->cookie != e->cookie || o->role != role || o->tid)
			continue;
		/* requests pipelined in one segment (same time) were moved by
		 * the same call */
		for (int j = i; j < ev->n_pending; j++) {
			struct obs *p = &ev->pending[j]->obs;

			if (p->cookie != e->cookie || p->role != role || p->tid ||
			    p->ts_ns != o->ts_ns)
				continue;
			p->tgid = th.tgid;
			p->tid = th.tid;
			p->cgroup_id = th.cgroup_id;
			memcpy(p->comm, th.comm, sizeof(p->comm));
			i = j;
		}
		/* this request and the ones before it on the socket can go */
		for (int j = 0; j <= i; j++) {
			if (ev->pending[j]->obs.cookie != e->cookie)
				continue;
			deliver(ev, &ev->pending[j]->obs);
			ev->pending[j]->obs.cookie = 0; /* delivered */
		}
		compact(ev, 0);
		return;
	}
}

/* Where a request can wait for its thread: a spare, else a new one (NULL:
 * no memory). */
static struct ev_pending *pending_slot(struct events *ev)
{
	struct ev_pending *p = ev->spare;

	if (p)
		ev->spare = p->next_spare;
	else
		p = malloc(sizeof(*p));
	return p;
}

/* The request in p waits (at most EV_WAIT_NS) for the thread that sent or
 * read it. */
static void hold_pending(struct events *ev, struct ev_pending *p, uint64_t ts)
{
	ev->requests++;
	if (ev->n_pending == ev->cap_pending) {
		if (ev->cap_pending >= EV_PENDING_MAX) {
			/* never hold more than this: oldest goes first */
			deliver(ev, &ev->pending[0]->obs);
			spare(ev, ev->pending[0]);
			memmove(ev->pending, ev->pending + 1,
				--ev->n_pending * sizeof(*ev->pending));
		} else {
			int cap = ev->cap_pending ? ev->cap_pending * 2 : 64;
			void *np = realloc(ev->pending, cap * sizeof(*ev->pending));

			if (!np) {
				deliver(ev, &p->obs);
				spare(ev, p);
				return;
			}
			ev->pending = np;
			ev->cap_pending = cap;
		}
	}
	p->since = ts;
	ev->pending[ev->n_pending++] = p;
}

/* The same for a request observed elsewhere (HTTP/2), copied in. */
static void hold_request(struct events *ev, struct obs *o, uint64_t ts)
{
	struct ev_pending *p = ev->no_threads ? NULL : pending_slot(ev);

	if (!p) {
		ev->requests++;
		deliver(ev, o);
		return;
	}
	p->obs = *o;
	hold_pending(ev, p, ts);
}

/* The messages of a REQUEST or RESPONSE record, split and parsed by the
 * parser of their protocol; bytes that no parser claims still make one
 * observation (OBS_PARSE_BAD), so that what follows on the socket keeps its
 * place. */
static int split_record(const struct http_event *e, uint8_t kind, const struct proto_parser **pp,
			struct proto_msg *m)
{
	int n;

	*pp = proto_detect(kind, e->head, e->head_len);
	n = *pp ? (*pp)->split(kind, e->head, e->head_len, e->seg_len, m, PROTO_MSGS_MAX) : 0;
	if (!n) {
		n = 1;
		m[0] = (struct proto_msg){0, e->head_len, false, 0};
	}
	return n;
}

static void parse_msg(const struct http_event *e, uint8_t kind, const struct proto_parser *pp,
		      const struct proto_msg *m, struct obs *o)
{
	obs_from_msg(e, o);
	o->kind = kind;
	if (pp)
		pp->parse(kind, e->head + m->off, (size_t)m->len, o);
	else
		o->parse = OBS_PARSE_BAD;
}

static int parse_record(const struct http_event *e, uint8_t kind, struct obs *out,
			struct proto_msg *m)
{
	const struct proto_parser *pp;
	int n = split_record(e, kind, &pp, m);

	for (int k = 0; k < n; k++)
		parse_msg(e, kind, pp, &m[k], &out[k]);
	return n;
}

/* ev->note, for an observation of a few fields (RESPONSE_AT,
 * RESPONSE_END): it stays zero past the fields written here, and nothing
 * it is delivered to writes it, so it needs no memset of its 2 KB (three
 * per keep-alive request were 1.4% of the agent at 30k req/s). */
static struct obs *note_obs(struct events *ev, const struct http_event *e, uint8_t role,
			    uint8_t kind, uint64_t ts)
{
	struct obs *o = &ev->note;

	obs_fill(e, o);
	o->role = role;
	o->kind = kind;
	o->ts_ns = ts;
	memset(&o->resp_at, 0, sizeof(o->resp_at));
	return o;
}

/* How far the response before a record got (HTTP_EVF_RESP): it may have
 * ended there. */
static void resp_at(struct events *ev, const struct http_event *e, uint8_t role)
{
	struct obs *o = note_obs(ev, e, role, OBS_RESPONSE_AT, e->body_last_ns);

	memcpy(&o->resp_at, &e->resp, sizeof(o->resp_at));
	deliver(ev, o);
}

/* What a client socket's first request record says of the load balancer
 * (bpf/http.h, HTTP_EVF_LB): whether it connected the socket, and the
 * service address connect() named. */
static void lb_from(const struct http_event *e, struct obs *o)
{
	o->lb_known = true;
	if (!(e->flags & HTTP_EVF_SVC))
		return;
	o->svc.family = e->svc.family;
	memcpy(o->svc.addr, e->svc_addr, 16);
	o->svc.port = e->svc.port;
}

/* A request record: requests pipelined in one segment share its time.
 * Each is parsed where it waits for its thread: copying an observation
 * there (2 KB, a rep movs) was 2% of the agent at 30k req/s. */
static void on_requests(struct events *ev, const struct http_event *e)
{
	static struct obs direct;
	const struct proto_parser *pp;
	struct proto_msg m[PROTO_MSGS_MAX];
	int n = split_record(e, OBS_REQUEST, &pp, m);
	uint8_t role = e->dir == HTTP_DIR_EGRESS ? OBS_ROLE_CLIENT : OBS_ROLE_SERVER;

	if ((e->flags & HTTP_EVF_RESP) && e->body_last_ns)
		resp_at(ev, e, role);
	for (int k = 0; k < n; k++) {
		struct ev_pending *p = ev->no_threads ? NULL : pending_slot(ev);
		struct obs *o = p ? &p->obs : &direct;

		parse_msg(e, OBS_REQUEST, pp, &m[k], o);
		o->role = role;
		if (e->flags & HTTP_EVF_LB)
			lb_from(e, o);
		if (p) {
			hold_pending(ev, p, e->ts);
		} else {
			ev->requests++;
			deliver(ev, o);
		}
	}
}

/* Does the segment of a response record end a chunked body ("0\r\n\r\n",
 * no trailers)? Its last bytes are in the head when it was copied whole,
 * else in resp.tail. */
static bool seg_ends_chunks(const struct http_event *e)
{
	if (e->seg_len < 5)
		return false;
	if (e->head_len >= e->seg_len)
		return obs_chunks_end(e->head + e->seg_len - 5);
	return (e->flags & HTTP_EVF_TAIL) && obs_chunks_end(e->resp.tail + 3);
}

/* The last byte of the response before, or of one in this record. */
static void response_end(struct events *ev, const struct http_event *e, uint8_t role, uint64_t ts)
{
	deliver(ev, note_obs(ev, e, role, OBS_RESPONSE_END, ts));
}

/* A response record: responses pipelined in one segment (answers to
 * pipelined requests) are split like the requests, each with its end when
 * the segment holds it. One that goes on past the segment ends when the
 * kernel's count of its bytes says so (OBS_RESPONSE_AT, and the span
 * builder's poll of the socket's state), or with what follows it. */
static void on_responses(struct events *ev, const struct http_event *e)
{
	static struct obs o[PROTO_MSGS_MAX];
	struct proto_msg m[PROTO_MSGS_MAX];
	int n = parse_record(e, OBS_RESPONSE, o, m);
	uint8_t role = e->dir == HTTP_DIR_EGRESS ? OBS_ROLE_SERVER : OBS_ROLE_CLIENT;

	/* the response before this one had bytes after its head's segment:
	 * the last of them was its end */
	if ((e->flags & HTTP_EVF_RESP) && e->body_last_ns)
		response_end(ev, e, role, e->body_last_ns);
	for (int k = 0; k < n; k++) {
		o[k].role = role;
		o[k].resp_at.seq0 = e->resp.seq0;
		o[k].resp_need = m[k].need > 0 ? (uint64_t)m[k].need : 0;
		ev->responses++;
		deliver(ev, &o[k]);
		if (m[k].ends || (k == n - 1 && o[k].chunked && seg_ends_chunks(e)))
			response_end(ev, e, role, e->ts);
	}
}

/* An HTTP/2 observation (h2_conn.h): requests wait for their thread like
 * HTTP/1.x ones; what follows on the socket releases them. */
static void h2_out(struct obs *o, void *ctx)
{
	struct events *ev = ctx;

	if (o->kind == OBS_REQUEST) {
		hold_request(ev, o, o->ts_ns);
		return;
	}
	flush_cookie(ev, o->cookie);
	if (o->kind == OBS_RESPONSE)
		ev->responses++;
	h2_outlier_note(&ev->h2_out, o);
	deliver(ev, o);
}

static void on_h2(struct events *ev, const struct http_event *e)
{
	struct obs base;

	obs_from(e, &base);
	h2_conns_record(&ev->h2, e, &base, h2_out, ev);
}

void events_handle(struct events *ev, const struct http_event *e)
{
	struct obs o;

	ev->events++;
	switch (e->kind) {
	case HTTP_EV_REQUEST:
		on_requests(ev, e);
		return;
	case HTTP_EV_THREAD:
		on_thread(ev, e);
		return;
	case HTTP_EV_RESPONSE:
		flush_cookie(ev, e->cookie);
		on_responses(ev, e);
		return;
	case HTTP_EV_H2:
		on_h2(ev, e);
		return;
	case HTTP_EV_CLOSE:
		ev->closes++;
		obs_from(e, &o);
		h2_conns_close(&ev->h2, e->cookie, &o, h2_out, ev);
		flush_cookie(ev, e->cookie);
		memset(&o, 0, sizeof(o));
		o.cookie = e->cookie;
		o.kind = OBS_CLOSE;
		o.ts_ns = e->ts;
		o.error = e->error;
		if (e->flags & HTTP_EVF_RESP) {
			o.body_last_ns = e->body_last_ns;
			memcpy(&o.resp_at, &e->resp, sizeof(o.resp_at));
		}
		deliver(ev, &o);
		evthreads_forget(&ev->by_sock, e->cookie);
		return;
	}
}

/* Records are sized to their class (bpf/http.h): read in place, where
 * they are. Only one whose head_len claims more than it holds (never from
 * this kernel side) is copied, cut to what it has. */
static int on_ring(void *ctx, void *data, size_t size)
{
	static union {
		struct http_event e;
		char b[HTTP_EV_MAX];
	} cut;
	const struct http_event *e = data;
	struct events *ev = ctx;

	ev->bytes += size;
	if (size >= HTTP_EV_HDR) {
		if (e->head_len > size - HTTP_EV_HDR) {
			size_t n = size < sizeof(cut) ? size : sizeof(cut);

			memcpy(&cut, data, n);
			cut.e.head_len = n - HTTP_EV_HDR;
			e = &cut.e;
		}
		events_handle(ev, e);
	}
	/* a chunk done: events_consume lets the CPU go before the next */
	return --ev->chunk_left > 0 ? 0 : -EAGAIN;
}

/* The ring's two position pages (consumer, then producer), mapped again,
 * read-only, beside libbpf's own mapping: libbpf 1.3 tells the backlog
 * (ring__avail_data_size), Debian 12's 1.1 does not. */
static int ring_positions_map(struct events *ev, int ring_fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	void *c, *p;
	int err;

	err = bpf_obj_get_info_by_fd(ring_fd, &info, &len);
	if (err) {
		log_error("http_events ring buffer: %s", strerror(-err));
		return err;
	}
	ev->page_size = (size_t)sysconf(_SC_PAGESIZE);
	c = mmap(NULL, ev->page_size, PROT_READ, MAP_SHARED, ring_fd, 0);
	p = mmap(NULL, ev->page_size, PROT_READ, MAP_SHARED, ring_fd, (off_t)ev->page_size);
	if (c == MAP_FAILED || p == MAP_FAILED) {
		err = -errno;
		log_error("http_events ring buffer positions: %s", strerror(-err));
		if (c != MAP_FAILED)
			munmap(c, ev->page_size);
		if (p != MAP_FAILED)
			munmap(p, ev->page_size);
		return err;
	}
	ev->cons_pos = c;
	ev->prod_pos = p;
	ev->yield_backlog = info.max_entries / EV_YIELD_SHARE;
	return 0;
}

uint64_t events_backlog(const struct events *ev)
{
	if (!ev->prod_pos)
		return 0;
	/* the producer's position as the kernel publishes it (release) */
	return __atomic_load_n(ev->prod_pos, __ATOMIC_ACQUIRE) - *ev->cons_pos;
}

int events_init(struct events *ev, int ring_fd, int drops_fd, events_obs_fn fn, void *ctx)
{
	int err;

	memset(ev, 0, sizeof(*ev));
	ev->deliver = fn;
	ev->ctx = ctx;
	ev->drops_fd = drops_fd;
	ev->wait_ns = EV_WAIT_NS;
	h2_outlier_init(&ev->h2_out, -1);
	/* capture did not load on this kernel: no ring, nothing to read */
	if (ring_fd < 0)
		return 0;
	ev->rb = ring_buffer__new(ring_fd, on_ring, ev, NULL);
	if (!ev->rb) {
		log_error("http_events ring buffer: %s", strerror(errno));
		return -errno;
	}
	err = ring_positions_map(ev, ring_fd);
	if (err)
		events_free(ev);
	return err;
}

void events_free(struct events *ev)
{
	ring_buffer__free(ev->rb);
	if (ev->cons_pos)
		munmap((void *)ev->cons_pos, ev->page_size);
	if (ev->prod_pos)
		munmap((void *)ev->prod_pos, ev->page_size);
	for (int i = 0; i < ev->n_pending; i++)
		free(ev->pending[i]);
	free(ev->pending);
	while (ev->spare) {
		struct ev_pending *p = ev->spare;

		ev->spare = p->next_spare;
		free(p);
	}
	evthreads_free(&ev->by_sock);
	h2_conns_free(&ev->h2);
	memset(ev, 0, sizeof(*ev));
}

int events_fd(struct events *ev) { return ev->rb ? ring_buffer__epoll_fd(ev->rb) : -1; }

void events_consume(struct events *ev)
{
	/* In chunks, with the CPU offered to whatever waits for it between
	 * them: a 20 ms batch at tens of thousands of requests a second is
	 * milliseconds of work, which the workloads on this CPU would
	 * otherwise wait out (their p99, bench/README.md). */
	while (ev->rb) {
		/* A reader this far behind reads the rest in one go. Each
		 * yield on a machine whose CPUs are all busy waits out the
		 * others' turns: at 110,000 req/s with both ends captured a
		 * reader that kept yielding (until it had read half the ring)
		 * fell 8 MiB behind and lost 7-14% of the records. */
		ev->chunk_left = events_backlog(ev) < ev->yield_backlog ? EV_CHUNK : INT_MAX;
		if (ring_buffer__consume(ev->rb) != -EAGAIN)
			break;
		ev->yields++;
		sched_yield();
	}
	h2_outlier_flush(&ev->h2_out);
}

void events_tick(struct events *ev, uint64_t now)
{
	int i = 0;

	/* a request whose thread never showed goes on without one */
	while (i < ev->n_pending) {
		if (now - ev->pending[i]->since >= ev->wait_ns) {
			ev->late_threads++;
			flush_cookie(ev, ev->pending[i]->obs.cookie);
			i = 0; /* the array changed */
			continue;
		}
		i++;
	}
}
