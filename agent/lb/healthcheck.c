/* SPDX-License-Identifier: Apache-2.0 */
/* healthcheck.c: the active health checker's thread and probes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpf/health.h"
#include "lib/clock.h"
#include "lb/healthcheck.h"
#include "lib/log.h"

#define MS 1000000ULL

int hc_status_code(const char *line, size_t len)
{
	int code = 0, i;

	if (len < 12 || strncmp(line, "HTTP/1.", 7) || line[8] != ' ')
		return -1;
	for (i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
		code = code * 10 + (line[i] - '0');
	}
	return code;
}

/* Move the endpoint in or out of the kernel's ejected state. */
static void set_down(struct healthcheck *hc, struct hc_target *t, bool down)
{
	struct lb_ep_health h;

	if (bpf_map_lookup_elem_flags(hc->health_fd, &t->ep_id, &h, BPF_F_LOCK))
		return;
	if (down) {
		h.state = LB_EP_EJECTED;
		h.reason = LB_REASON_ACTIVE_CHECK;
		h.half_open_left = 0;
	} else if (h.reason == LB_REASON_ACTIVE_CHECK) {
		h.state = LB_EP_HEALTHY;
		h.reason = LB_REASON_ACTIVE_OK;
	}
	h.changed_at = mono_ns();
	if (bpf_map_update_elem(hc->health_fd, &t->ep_id, &h, BPF_F_LOCK | BPF_EXIST))
		log_warn("health check %s: updating its health: %s", t->name, strerror(errno));
	t->down = down;
	if (down)
		log_warn("endpoint %s ejected: active health check failed %u times", t->name,
			 t->fail_run);
	else
		log_info("endpoint %s restored: active health check passed %u times", t->name,
			 t->ok_run);
}

static void finish(struct healthcheck *hc, struct hc_target *t, bool ok, uint64_t now)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->phase = 0;
	t->due = now + t->interval_ns;
	t->probes++;
	if (ok) {
		t->fail_run = 0;
		t->ok_run++;
		if (t->down && t->ok_run >= t->healthy_threshold)
			set_down(hc, t, false);
	} else {
		t->failures++;
		t->ok_run = 0;
		t->fail_run++;
		if (!t->down && t->fail_run >= t->unhealthy_threshold)
			set_down(hc, t, true);
	}
}

static void start_probe(struct healthcheck *hc, struct hc_target *t, uint64_t now)
{
	struct sockaddr_storage ss = {};
	socklen_t len;

	t->got = 0;
	t->deadline = now + t->timeout_ns;
	if (t->family == AF_INET) {
		struct sockaddr_in *a = (void *)&ss;

		a->sin_family = AF_INET;
		memcpy(&a->sin_addr, t->addr, 4);
		a->sin_port = htons(t->port);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (void *)&ss;

		a->sin6_family = AF_INET6;
		memcpy(&a->sin6_addr, t->addr, 16);
		a->sin6_port = htons(t->port);
		len = sizeof(*a);
	}
	t->fd = socket(t->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		finish(hc, t, false, now);
		return;
	}
	if (connect(t->fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		finish(hc, t, false, now);
		return;
	}
	t->phase = 1;
}

static void step(struct healthcheck *hc, struct hc_target *t, short revents, uint64_t now)
{
	int err = 0;
	socklen_t elen = sizeof(err);

	if (t->phase == 1) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return;
		getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
		if (err || !t->http) {
			finish(hc, t, !err, now);
			return;
		}
		char req[512];
		int n =
		    snprintf(req, sizeof(req),
			     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bpfmesh-healthcheck\r\n"
			     "Connection: close\r\n\r\n",
			     t->path, t->name);
		if (write(t->fd, req, n) != n) {
			finish(hc, t, false, now);
			return;
		}
		t->phase = 2;
		return;
	}
	if (!(revents & (POLLIN | POLLERR | POLLHUP)))
		return;
	ssize_t r = read(t->fd, t->buf + t->got, sizeof(t->buf) - 1 - t->got);

	if (r <= 0) {
		finish(hc, t, false, now);
		return;
	}
	t->got += r;
	if (t->got >= 12 || memchr(t->buf, '\n', t->got)) {
		int code = hc_status_code(t->buf, t->got);

		finish(hc, t, code >= 200 && code < 300, now);
	}
}

static void *run(void *arg)
{
	struct healthcheck *hc = arg;
	struct pollfd *pfd = NULL;
	int *idx = NULL, cap = 0;

	while (!hc->stop) {
		uint64_t now = mono_ns(), next = now + 200 * MS;
		int n = 0, i, r;

		pthread_mutex_lock(&hc->lock);
		if (cap < hc->n) {
			struct pollfd *np = realloc(pfd, hc->n * sizeof(*pfd));
			int *ni = np ? realloc(idx, hc->n * sizeof(*idx)) : NULL;

			if (np)
				pfd = np;
			if (ni) {
				idx = ni;
				cap = hc->n;
			}
		}
		for (i = 0; i < cap && i < hc->n; i++) {
			struct hc_target *t = &hc->t[i];

			if (t->phase == 0 && now >= t->due)
				start_probe(hc, t, now);
			if (t->phase && now >= t->deadline) {
				finish(hc, t, false, now); /* timeout */
				continue;
			}
			if (t->phase) {
				pfd[n].fd = t->fd;
				pfd[n].events = t->phase == 1 ? POLLOUT : POLLIN;
				idx[n++] = i;
				if (t->deadline < next)
					next = t->deadline;
			} else if (t->due < next) {
				next = t->due;
			}
		}
		pthread_mutex_unlock(&hc->lock);
		r = poll(pfd, n, next > now ? (int)((next - now) / MS) + 1 : 0);
		if (r <= 0)
			continue;
		pthread_mutex_lock(&hc->lock);
		now = mono_ns();
		for (i = 0; i < n; i++)
			if (pfd[i].revents && idx[i] < hc->n && hc->t[idx[i]].fd == pfd[i].fd)
				step(hc, &hc->t[idx[i]], pfd[i].revents, now);
		pthread_mutex_unlock(&hc->lock);
	}
	free(pfd);
	free(idx);
	return NULL;
}

int healthcheck_start(struct healthcheck *hc, int health_fd)
{
	memset(hc, 0, sizeof(*hc));
	pthread_mutex_init(&hc->lock, NULL);
	hc->health_fd = health_fd;
	if (pthread_create(&hc->thread, NULL, run, hc))
		return -errno;
	hc->running = true;
	return 0;
}

void healthcheck_stop(struct healthcheck *hc)
{
	if (!hc->running)
		return;
	hc->stop = true;
	pthread_join(hc->thread, NULL);
	for (int i = 0; i < hc->n; i++)
		if (hc->t[i].fd >= 0)
			close(hc->t[i].fd);
	free(hc->t);
	hc->t = NULL;
	hc->n = 0;
	hc->running = false;
}

static struct hc_target *find(struct hc_target *t, int n, uint32_t ep_id, const char *name)
{
	for (int i = 0; i < n; i++)
		if (t[i].ep_id == ep_id && !strcmp(t[i].name, name))
			return &t[i];
	return NULL;
}

void healthcheck_update(struct healthcheck *hc, const struct mesh_config *cfg,
			const struct lbmaps *lm)
{
	struct hc_target *nt = NULL;
	int n = 0, cap = 0, pi, si, ei, i;

	for (i = 0; cfg && i < cfg->n_policies; i++) {
		const struct cfg_traffic_policy *tp = &cfg->policies[i];
		const struct cfg_service *s;

		if (!tp->health_set || tp->service_idx < 0)
			continue;
		si = tp->service_idx;
		s = &cfg->services[si];
		for (pi = 0; pi < s->n_ports; pi++) {
			if (s->ports[pi].protocol != IPPROTO_TCP)
				continue; /* no TCP or HTTP check of a UDP port */
			for (ei = 0; ei < s->n_endpoints; ei++) {
				const struct cfg_endpoint *e = &s->endpoints[ei];
				uint16_t port = e->port ? e->port : s->ports[pi].target_port;
				char a[INET6_ADDRSTRLEN];
				struct hc_target *t;
				uint32_t id;

				if (!lbm_backend_id(lm, e->addr.family, e->addr.addr, port, &id))
					continue;
				inet_ntop(e->addr.family, e->addr.addr, a, sizeof(a));
				if (n == cap) {
					cap = cap ? cap * 2 : 16;
					t = realloc(nt, cap * sizeof(*nt));
					if (!t)
						goto out;
					nt = t;
				}
				t = &nt[n++];
				memset(t, 0, sizeof(*t));
				t->family = e->addr.family;
				memcpy(t->addr, e->addr.addr, 16);
				t->port = port;
				t->ep_id = id;
				snprintf(t->name, sizeof(t->name),
					 e->addr.family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
				t->http = !tp->health_tcp;
				snprintf(t->path, sizeof(t->path), "%s", tp->health_http_path);
				t->interval_ns = tp->health_interval_ms * MS;
				t->timeout_ns = tp->health_timeout_ms * MS;
				t->healthy_threshold = tp->healthy_threshold;
				t->unhealthy_threshold = tp->unhealthy_threshold;
				t->fd = -1;
			}
		}
	}
out:
	pthread_mutex_lock(&hc->lock);
	/* targets that stay keep their runs and whether they are down */
	for (i = 0; i < n; i++) {
		struct hc_target *old = find(hc->t, hc->n, nt[i].ep_id, nt[i].name);

		if (old) {
			nt[i].ok_run = old->ok_run;
			nt[i].fail_run = old->fail_run;
			nt[i].down = old->down;
			nt[i].due = old->due;
			nt[i].probes = old->probes;
			nt[i].failures = old->failures;
		} else {
			struct lb_ep_health h;

			/* held down by an earlier agent: ours to bring back */
			if (!bpf_map_lookup_elem_flags(hc->health_fd, &nt[i].ep_id, &h, BPF_F_LOCK))
				nt[i].down =
				    h.state == LB_EP_EJECTED && h.reason == LB_REASON_ACTIVE_CHECK;
		}
	}
	for (i = 0; i < hc->n; i++) {
		struct hc_target *t = &hc->t[i];

		if (t->fd >= 0)
			close(t->fd); /* an in-flight probe is started again */
		/* a target that goes away no longer holds its endpoint down */
		if (t->down && !find(nt, n, t->ep_id, t->name))
			set_down(hc, t, false);
	}
	free(hc->t);
	hc->t = nt;
	hc->n = n;
	pthread_mutex_unlock(&hc->lock);
}
