/* SPDX-License-Identifier: Apache-2.0 */
/* tracing.c: wiring of the tracing pipeline, and how a socket's process is
 * named: the Workload whose cgroup holds the process (preferring one that
 * serves the socket's port), else the Service with the socket's address as
 * an endpoint, else the process name. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/cgroup.h"
#include "lib/clock.h"
#include "exporters/otlp.h"
#include "lib/log.h"
#include "metrics/metrics.h"
#include "trace/otlp_conf.h"
#include "trace/spanbuild.h"
#include "trace/tracing.h"

#define STORE_SPANS 4096

/* The process's cgroup v2 path relative to the mount ("" when unknown). */
static void proc_cgroup(uint32_t tgid, char *buf, size_t len)
{
	char path[64], line[1024];
	FILE *f;

	buf[0] = 0;
	snprintf(path, sizeof(path), "/proc/%u/cgroup", tgid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* the v2 hierarchy is "0::/path" */
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(buf, len, "%.511s", line[3] == '/' ? line + 4 : line + 3);
			break;
		}
	}
	fclose(f);
}

/* The cgroup v2 path (relative to the mount) of a cgroup id, as the kernel
 * gives it with bpf_get_current_cgroup_id(): the id is the cgroup's kernfs
 * file handle, so open_by_handle_at() finds the directory even after the
 * process left it. Cached: a cgroup's path does not change. */
static int cgroup_path_of_id(struct tracing *t, uint64_t id, char *buf, size_t len)
{
	struct cg_cache *c = &t->cg_cache[id % TRACING_CG_CACHE];
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = {.fh = {.handle_bytes = sizeof(uint64_t), .handle_type = 0xfe /* FILEID_KERNFS */}};
	char link[64], path[PATH_MAX];
	size_t root = strlen(t->cgroot);
	ssize_t n;
	int fd;

	if (c->id == id) {
		snprintf(buf, len, "%s", c->path);
		return 0;
	}
	if (t->cg_mount_fd < 0)
		t->cg_mount_fd = open(t->cgroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->cg_mount_fd < 0)
		return -errno;
	h.id = id;
	fd = open_by_handle_at(t->cg_mount_fd, &h.fh, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	close(fd);
	if (n < 0 || (size_t)n < root || strncmp(path, t->cgroot, root))
		return -ENOENT;
	path[n] = 0;
	snprintf(c->path, sizeof(c->path), "%.*s", (int)sizeof(c->path) - 1,
		 path + root + (path[root] == '/'));
	c->id = id;
	snprintf(buf, len, "%s", c->path);
	return 0;
}

static bool cgroup_within(const char *proc_cg, const char *wl_cg, const char *cgroot)
{
	size_t root = strlen(cgroot), n;

	/* Workload.cgroup is relative to the mount, or an absolute path under it */
	if (wl_cg[0] == '/' && !strncmp(wl_cg, cgroot, root))
		wl_cg += root + (wl_cg[root] == '/');
	n = strlen(wl_cg);
	return n && !strncmp(proc_cg, wl_cg, n) && (proc_cg[n] == 0 || proc_cg[n] == '/');
}

static int service_of(void *ctx, const struct obs_addr *local, uint32_t tgid, const char *comm,
		      char *name, char *ns)
{
	struct tracing *t = ctx;
	const struct mesh_config *cfg = t->cfg;
	char cg[512];
	int best = -1;

	(void)comm;
	if (!cfg)
		return 1;
	if (tgid) {
		/* the kernel's cgroup id first: the process may be gone by now */
		if (tgid != t->cur_tgid || !t->cur_cgroup_id ||
		    cgroup_path_of_id(t, t->cur_cgroup_id, cg, sizeof(cg)))
			proc_cgroup(tgid, cg, sizeof(cg));
		for (int i = 0; cg[0] && i < cfg->n_workloads; i++) {
			const struct cfg_workload *w = &cfg->workloads[i];

			if (!cgroup_within(cg, w->cgroup, t->cgroot))
				continue;
			if (best < 0)
				best = i;
			for (int p = 0; p < w->n_ports; p++)
				if (w->ports[p] == local->port)
					best = i;
		}
	}
	if (best >= 0) {
		snprintf(name, SPAN_NAME_MAX, "%.127s", cfg->workloads[best].service);
		snprintf(ns, SPAN_NAME_MAX, "%.127s", cfg->workloads[best].meta.ns);
		return 0;
	}
	for (int s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *sv = &cfg->services[s];

		for (int e = 0; e < sv->n_endpoints; e++) {
			const struct cfg_endpoint *ep = &sv->endpoints[e];

			if (ep->addr.family != local->family ||
			    memcmp(ep->addr.addr, local->addr, local->family == AF_INET ? 4 : 16))
				continue;
			for (int p = 0; p < sv->n_ports; p++) {
				if ((ep->port ? ep->port : sv->ports[p].target_port) != local->port)
					continue;
				snprintf(name, SPAN_NAME_MAX, "%.127s", sv->meta.name);
				snprintf(ns, SPAN_NAME_MAX, "%.127s", sv->meta.ns);
				return 0;
			}
		}
	}
	return 1;
}

static void emit(const struct span *sp, void *ctx)
{
	struct tracing *t = ctx;

	t->spans++;
	/* latency histograms count every request; traces only the sampled */
	if (t->metrics)
		metrics_record(t->metrics, sp, mono_ns());
	if (!sp->sampled)
		return;
	spanstore_add(&t->store, sp);
	if (t->otlp)
		otlp_submit(t->otlp, sp);
}

static void on_obs(const struct http_obs *o, void *ctx)
{
	struct tracing *t = ctx;

	if (t->sb) {
		t->cur_tgid = o->tgid; /* for service_of, called from sb_feed */
		t->cur_cgroup_id = o->cgroup_id;
		sb_feed(t->sb, o);
	}
}

static int64_t clock_offset(void)
{
	struct timespec r, m;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000LL + (r.tv_nsec - m.tv_nsec);
}

/* The builder's settings as text, to rebuild it only when they change. */
static void sb_key_of(const struct cfg_telemetry *tel, char *key, size_t len)
{
	size_t off;

	if (!tel) {
		snprintf(key, len, "none");
		return;
	}
	off = snprintf(key, len, "%g|%d|%llu", tel->sampling_ratio, tel->sample_errors,
		       (unsigned long long)tel->sample_slower_than_ms);
	for (int i = 0; i < tel->n_routes && off < len; i++)
		off += snprintf(key + off, len - off, "|%s", tel->routes[i]);
}

static void rebuild(struct tracing *t, const struct cfg_telemetry *tel)
{
	const char **routes = NULL;
	struct sb_config c = {
	    .service_of = service_of,
	    .service_ctx = t,
	    .emit = emit,
	    .emit_ctx = t,
	    .host_name = t->host,
	    .clock_offset_ns = t->clock_offset_ns,
	    .sampling_ratio = tel ? tel->sampling_ratio : 1.0,
	    .sample_errors = tel ? tel->sample_errors : true,
	    .sample_slower_than_ms = tel ? tel->sample_slower_than_ms : 0,
	    .emit_unsampled = true,
	};

	if (tel && tel->n_routes) {
		routes = calloc(tel->n_routes, sizeof(*routes));
		for (int i = 0; routes && i < tel->n_routes; i++)
			routes[i] = tel->routes[i];
		c.routes = routes;
		c.n_routes = routes ? tel->n_routes : 0;
	}
	if (t->sb) {
		sb_flush(t->sb);
		sb_free(t->sb);
	}
	t->sb = sb_new(&c);
	if (!t->sb)
		log_error("span builder: %s", strerror(errno));
	free(routes);
}

int tracing_init(struct tracing *t, int ring_fd, int drops_fd)
{
	memset(t, 0, sizeof(*t));
	gethostname(t->host, sizeof(t->host) - 1);
	t->clock_offset_ns = clock_offset();
	cgroup2_mount(t->cgroot, sizeof(t->cgroot));
	if (spanstore_init(&t->store, STORE_SPANS))
		return -ENOMEM;
	snprintf(t->sb_key, sizeof(t->sb_key), "unset");
	t->cg_mount_fd = -1;
	t->metrics = metrics_new(&(struct metrics_config){0}, mono_ns());
	if (!t->metrics)
		return -ENOMEM;
	return events_init(&t->ev, ring_fd, drops_fd, on_obs, t);
}

void tracing_apply(struct tracing *t, const struct mesh_config *cfg)
{
	const struct cfg_telemetry *tel = cfg ? cfg->telemetry : NULL;
	char key[sizeof(t->sb_key)];

	t->cfg = cfg;
	sb_key_of(tel, key, sizeof(key));
	if (strcmp(key, t->sb_key) || !t->sb) {
		rebuild(t, tel);
		snprintf(t->sb_key, sizeof(t->sb_key), "%s", key);
	} else {
		sb_services_changed(t->sb);
	}
	if (tel && tel->otlp_set) {
		struct otlp_settings *set = otlp_conf_from_telemetry(tel);

		if (!t->otlp) {
			t->otlp = otlp_start(set, NULL);
			if (!t->otlp)
				log_error("OTLP exporter to %s did not start", tel->otlp_endpoint);
		} else {
			otlp_reconfigure(t->otlp, set);
		}
		free(set);
	} else if (t->otlp) {
		otlp_stop(t->otlp);
		t->otlp = NULL;
	}
}

int tracing_fd(struct tracing *t) { return events_fd(&t->ev); }

void tracing_consume(struct tracing *t) { events_consume(&t->ev); }

void tracing_tick(struct tracing *t, uint64_t now)
{
	events_tick(&t->ev, now);
	if (t->sb)
		sb_tick(t->sb, now);
	if (t->metrics && now - t->metrics_ticked > 5000000000ULL) {
		metrics_tick(t->metrics, now);
		t->metrics_ticked = now;
	}
}

void tracing_free(struct tracing *t)
{
	if (t->sb) {
		sb_flush(t->sb);
		sb_free(t->sb);
	}
	t->sb = NULL;
	if (t->otlp)
		otlp_stop(t->otlp);
	t->otlp = NULL;
	events_free(&t->ev);
	spanstore_free(&t->store);
	metrics_free(t->metrics);
	t->metrics = NULL;
	if (t->cg_mount_fd >= 0)
		close(t->cg_mount_fd);
	t->cg_mount_fd = -1;
}
