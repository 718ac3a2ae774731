/* SPDX-License-Identifier: Apache-2.0 */
/* events.c: kernel capture events -> http_obs, in order per socket. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/libbpf.h>

#include "bpf/http.h"
#include "events.h"
#include "log.h"

#define EV_WAIT_NS (100ULL * 1000000ULL)
#define EV_PENDING_MAX 4096

struct ev_pending {
	struct http_obs obs;
	uint64_t since;
};

static void obs_from(const struct http_event *e, struct http_obs *o)
{
	memset(o, 0, sizeof(*o) - sizeof(o->head));
	o->cookie = e->cookie;
	o->ts_ns = e->ts;
	o->local.family = o->remote.family = e->family == 2 ? AF_INET : AF_INET6;
	memcpy(o->local.addr, e->local, 16);
	memcpy(o->remote.addr, e->remote, 16);
	o->local.port = e->lport;
	o->remote.port = e->rport;
}

static void deliver(struct events *ev, const struct http_obs *o) { ev->deliver(o, ev->ctx); }

/* Deliver, in order, the waiting requests of a socket (all, or only up to
 * and including the first one that `tid` claims). */
static void flush_cookie(struct events *ev, uint64_t cookie)
{
	int i, n = 0;

	for (i = 0; i < ev->n_pending; i++) {
		if (ev->pending[i].obs.cookie == cookie)
			deliver(ev, &ev->pending[i].obs);
		else
			ev->pending[n++] = ev->pending[i];
	}
	ev->n_pending = n;
}

static void on_thread(struct events *ev, const struct http_event *e)
{
	uint8_t role = e->dir == HTTP_DIR_EGRESS ? OBS_ROLE_CLIENT : OBS_ROLE_SERVER;
	int i;

	ev->threads++;
	for (i = 0; i < ev->n_pending; i++) {
		struct http_obs *o = &ev->pending[i].obs;

		if (o->cookie != e->cookie || o->role != role || o->tid)
			continue;
		o->tgid = e->pid_tgid >> 32;
		o->tid = (uint32_t)e->pid_tgid;
		memcpy(o->comm, e->comm, sizeof(o->comm));
		o->comm[sizeof(o->comm) - 1] = 0;
		/* this request and the ones before it on the socket can go */
		for (int j = 0; j <= i; j++) {
			if (ev->pending[j].obs.cookie != e->cookie)
				continue;
			deliver(ev, &ev->pending[j].obs);
			ev->pending[j].obs.cookie = 0; /* delivered */
		}
		int n = 0;

		for (int j = 0; j < ev->n_pending; j++)
			if (ev->pending[j].obs.cookie)
				ev->pending[n++] = ev->pending[j];
		ev->n_pending = n;
		return;
	}
}

void events_handle(struct events *ev, const struct http_event *e)
{
	struct http_obs o;

	ev->events++;
	switch (e->kind) {
	case HTTP_EV_REQUEST:
		ev->requests++;
		obs_from(e, &o);
		o.kind = OBS_REQUEST;
		o.role = e->dir == HTTP_DIR_EGRESS ? OBS_ROLE_CLIENT : OBS_ROLE_SERVER;
		o.head_len = e->head_len > OBS_HEAD_MAX ? OBS_HEAD_MAX : e->head_len;
		memcpy(o.head, e->head, o.head_len);
		if (ev->n_pending == ev->cap_pending) {
			if (ev->cap_pending >= EV_PENDING_MAX) {
				/* never hold more than this: oldest goes first */
				deliver(ev, &ev->pending[0].obs);
				memmove(ev->pending, ev->pending + 1,
					--ev->n_pending * sizeof(*ev->pending));
			} else {
				int cap = ev->cap_pending ? ev->cap_pending * 2 : 64;
				void *np = realloc(ev->pending, cap * sizeof(*ev->pending));

				if (!np) {
					deliver(ev, &o);
					return;
				}
				ev->pending = np;
				ev->cap_pending = cap;
			}
		}
		ev->pending[ev->n_pending].obs = o;
		ev->pending[ev->n_pending++].since = e->ts;
		return;
	case HTTP_EV_THREAD:
		on_thread(ev, e);
		return;
	case HTTP_EV_RESPONSE:
	case HTTP_EV_RESPONSE_END:
		flush_cookie(ev, e->cookie);
		obs_from(e, &o);
		o.role = e->dir == HTTP_DIR_EGRESS ? OBS_ROLE_SERVER : OBS_ROLE_CLIENT;
		if (e->kind == HTTP_EV_RESPONSE) {
			ev->responses++;
			o.kind = OBS_RESPONSE;
			o.head_len = e->head_len > OBS_HEAD_MAX ? OBS_HEAD_MAX : e->head_len;
			memcpy(o.head, e->head, o.head_len);
			deliver(ev, &o);
			if (!e->complete)
				return;
			o.head_len = 0;
		}
		o.kind = OBS_RESPONSE_END;
		deliver(ev, &o);
		return;
	case HTTP_EV_CLOSE:
		ev->closes++;
		flush_cookie(ev, e->cookie);
		memset(&o, 0, sizeof(o) - sizeof(o.head));
		o.cookie = e->cookie;
		o.kind = OBS_CLOSE;
		o.ts_ns = e->ts;
		o.error = e->error;
		deliver(ev, &o);
		return;
	}
}

static int on_ring(void *ctx, void *data, size_t size)
{
	if (size >= sizeof(struct http_event))
		events_handle(ctx, data);
	return 0;
}

int events_init(struct events *ev, int ring_fd, int drops_fd, events_obs_fn fn, void *ctx)
{
	memset(ev, 0, sizeof(*ev));
	ev->deliver = fn;
	ev->ctx = ctx;
	ev->drops_fd = drops_fd;
	ev->wait_ns = EV_WAIT_NS;
	ev->rb = ring_buffer__new(ring_fd, on_ring, ev, NULL);
	if (!ev->rb) {
		log_error("http_events ring buffer: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

void events_free(struct events *ev)
{
	ring_buffer__free(ev->rb);
	free(ev->pending);
	memset(ev, 0, sizeof(*ev));
}

int events_fd(struct events *ev) { return ev->rb ? ring_buffer__epoll_fd(ev->rb) : -1; }

void events_consume(struct events *ev)
{
	if (ev->rb)
		ring_buffer__consume(ev->rb);
}

void events_tick(struct events *ev, uint64_t now)
{
	int i = 0;

	/* a request whose thread never showed goes on without one */
	while (i < ev->n_pending) {
		if (now - ev->pending[i].since >= ev->wait_ns) {
			ev->late_threads++;
			flush_cookie(ev, ev->pending[i].obs.cookie);
			i = 0; /* the array changed */
			continue;
		}
		i++;
	}
}
