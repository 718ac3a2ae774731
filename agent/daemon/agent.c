/* SPDX-License-Identifier: Apache-2.0 */
/* agent.c: `bpfmesh agent`: load and attach the programs, apply the config
 * directory, re-apply it when it changes, serve the API. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "daemon/agent.h"
#include "api/api.h"
#include "bpf/lb.h"
#include "lib/cgroup.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "metrics/metrics_export.h"
#include "trace/otlp_conf.h"

volatile sig_atomic_t agent_exiting;

static void on_signal(int sig)
{
	(void)sig;
	agent_exiting = 1;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	int n;

	if (level == LIBBPF_DEBUG && log_verbosity < LOG_DEBUG)
		return 0;
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n > 0 && buf[n - 1 < (int)sizeof(buf) - 1 ? n - 1 : (int)sizeof(buf) - 2] == '\n')
		buf[n - 1 < (int)sizeof(buf) - 1 ? n - 1 : (int)sizeof(buf) - 2] = 0;
	log_msg(level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG, "libbpf: %s", buf);
	return 0;
}

/* terminateConnections also covers endpoints taken out of the config. */
static void terminate_removed_endpoints(struct agent *a, const struct mesh_config *cfg)
{
	struct lb_be_key *keys = NULL;
	int n = terminate_removed(a->cfg, cfg, &keys), netns, done;

	if (n > 0) {
		done = terminator_run(&a->term, keys, n, &netns);
		log_info("terminated %d connection(s) to %d removed endpoint(s) in %d network "
			 "namespace(s)",
			 done, n, netns);
	}
	free(keys);
}

int agent_reload(struct agent *a)
{
	struct cfg_errors errs = {};
	struct mesh_config *cfg = NULL;
	char err[1024];
	uint64_t t0 = mono_ns();
	bool touched = false;
	int rc, i;

	rc = config_load(a->opts.config, &cfg, &errs);
	pthread_mutex_lock(&a->lock);
	if (rc) {
		size_t off = 0;

		a->reload_errors++;
		a->last_error[0] = 0;
		for (i = 0; i < errs.n; i++) {
			log_error("config rejected, previous configuration stays in force: %s",
				  errs.msgs[i]);
			if (off < sizeof(a->last_error))
				off += snprintf(a->last_error + off, sizeof(a->last_error) - off,
						"%s%s", i ? "; " : "", errs.msgs[i]);
		}
		if (!errs.n)
			log_error("config rejected: %s", strerror(-rc));
		goto out;
	}
	rc = lbmaps_apply(&a->lm, cfg, err, sizeof(err), &touched);
	if (rc) {
		a->reload_errors++;
		snprintf(a->last_error, sizeof(a->last_error), "%s", err);
		if (touched) {
			/* the maps may hold part of the new set: the next apply
			 * diffs against what was written, so it converges */
			log_error("config partly applied, retrying at the next change: %s", err);
			a->applied = false;
		} else {
			log_error("config not applied, previous configuration stays in force: %s",
				  err);
		}
		goto out;
	}
	health_apply(&a->health, cfg);
	tcguard_apply(&a->tcg, cfg);
	loader_set_tc_capture(&a->ld, a->tcg.n_attached > 0);
	access_apply(&a->access, cfg, &a->lm);
	terminate_removed_endpoints(a, cfg);
	healthcheck_update(&a->hc, cfg, &a->lm);
	config_free(a->cfg);
	a->cfg = cfg;
	cfg = NULL;
	tracing_apply(&a->tracing, a->cfg);
	metrics_export_apply(a);
	a->applied = true;
	a->reloads++;
	a->last_error[0] = 0;
	log_info("config applied: %d services, %d traffic policies, %d workloads, %d access "
		 "policies from %s in %.1f ms",
		 a->cfg->n_services, a->cfg->n_policies, a->cfg->n_workloads, a->cfg->n_access,
		 a->opts.config, (mono_ns() - t0) / 1e6);
out:
	pthread_mutex_unlock(&a->lock);
	config_free(cfg);
	cfg_errors_free(&errs);
	return rc;
}

/* Watch the directory (or a file's directory): editors and ConfigMap
 * updates replace files by rename, so moves count as much as writes. */
static int watch_config(const char *path)
{
	char dir[PATH_MAX];
	struct stat st;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0)
		return -errno;
	snprintf(dir, sizeof(dir), "%s", path);
	if (!stat(path, &st) && !S_ISDIR(st.st_mode)) {
		char *slash = strrchr(dir, '/');

		if (slash)
			*slash = 0;
		else
			snprintf(dir, sizeof(dir), ".");
	}
	if (inotify_add_watch(fd, dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
				  IN_ATTRIB) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static bool drain(int fd)
{
	char buf[4096];
	bool any = false;

	while (read(fd, buf, sizeof(buf)) > 0)
		any = true;
	return any;
}

/* A map capacity: a whole number from 1 to 2^24. */
static int parse_count(const char *flag, const char *s, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v < 1 || v > (1UL << 24)) {
		fprintf(stderr, "bpfmesh agent: %s %s: expected a number from 1 to %lu\n", flag, s,
			1UL << 24);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bpfmesh agent --config DIR [options]\n"
		"\n"
		"Run the node agent: load and attach the eBPF programs, apply the config\n"
		"directory (re-applied atomically whenever it changes) and serve the API.\n"
		"\n"
		"Options:\n"
		"  --config DIR|FILE     configuration (YAML, see deploy/examples)\n"
		"  --cgroup PATH         cgroup v2 to attach to (default: the root of the\n"
		"                        cgroup v2 mount, found in /proc/mounts)\n"
		"  --bpffs PATH          pin directory (default /sys/fs/bpf/bpfmesh)\n"
		"  --listen ADDR         API address (default 127.0.0.1:9440)\n"
		"  --api-token-file FILE require `Authorization: Bearer TOKEN` on the API\n"
		"                        (TOKEN: the file's content); /healthz, /readyz\n"
		"                        and /metrics stay open\n"
		"  --metrics-auth        with --api-token-file, /metrics needs the token too\n"
		"  --max-endpoints N     endpoint capacity of the maps (default %d)\n"
		"  --max-services N      service port capacity of the maps (default %d)\n"
		"  -v, --verbose         debug logging (libbpf included)\n"
		"  -h, --help            this text\n"
		"\n"
		"Killing the agent leaves the data path working; a restarted agent adopts\n"
		"the pinned programs and maps. `bpfmesh detach` removes them.\n",
		LB_MAX_ENDPOINTS - 1, LB_MAX_SERVICES - 1);
}

/* Telemetry.prometheus.listen: a second listener for /metrics, started,
 * moved or stopped as the configuration says. Outside the lock (api_stop). */
static void sync_metrics_listener(struct agent *a, struct api **mapi, char *cur, size_t len)
{
	char want[128] = "";

	pthread_mutex_lock(&a->lock);
	if (a->cfg && a->cfg->telemetry)
		snprintf(want, sizeof(want), "%s", a->cfg->telemetry->prometheus_listen);
	pthread_mutex_unlock(&a->lock);
	if (!strcmp(want, cur))
		return;
	api_stop(*mapi);
	*mapi = NULL;
	cur[0] = 0;
	if (!want[0])
		return;
	*mapi = api_start_metrics(a, want);
	if (*mapi) {
		snprintf(cur, len, "%s", want);
		log_info("Prometheus metrics on http://%s/metrics", want);
	}
}

int agent_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, 0, 'c'},
	    {"cgroup", required_argument, 0, 'g'},
	    {"bpffs", required_argument, 0, 'b'},
	    {"listen", required_argument, 0, 'l'},
	    {"max-endpoints", required_argument, 0, 'E'},
	    {"max-services", required_argument, 0, 'S'},
	    {"api-token-file", required_argument, 0, 'T'},
	    {"metrics-auth", no_argument, 0, 'M'},
	    {"verbose", no_argument, 0, 'v'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	static struct agent a;
	struct loader_opts lo = {};
	struct lbm_fds fds;
	struct api *api = NULL, *mapi = NULL; /* the API; a /metrics-only listener */
	char mlisten[128] = "";
	uint64_t pending = 0, last_tc = 0, last_tick = 0, now;
	int opt, rc = 1, wfd = -1;
	char err[600];

	pthread_mutex_init(&a.lock, NULL);
	a.opts.bpffs = "/sys/fs/bpf/bpfmesh";
	a.opts.listen = "127.0.0.1:9440";
	optind = 1;
	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			a.opts.config = optarg;
			break;
		case 'g':
			a.opts.cgroup = optarg;
			break;
		case 'b':
			a.opts.bpffs = optarg;
			break;
		case 'l':
			a.opts.listen = optarg;
			break;
		case 'E':
			if (parse_count("--max-endpoints", optarg, &a.opts.max_endpoints))
				return 2;
			break;
		case 'S':
			if (parse_count("--max-services", optarg, &a.opts.max_services))
				return 2;
			break;
		case 'T':
			a.opts.api_token_file = optarg;
			break;
		case 'M':
			a.opts.metrics_auth = true;
			break;
		case 'v':
			log_verbosity = LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!a.opts.config) {
		fprintf(stderr, "bpfmesh agent: --config DIR is required\n\n");
		usage(stderr);
		return 2;
	}
	if (a.opts.metrics_auth && !a.opts.api_token_file) {
		fprintf(stderr, "bpfmesh agent: --metrics-auth needs --api-token-file FILE\n");
		return 2;
	}
	/* before anything is attached: a bad token file must not leave a
	 * half-started agent or an open API behind */
	if (api_auth_init(&a.auth, a.opts.api_token_file, a.opts.metrics_auth, err, sizeof(err))) {
		fprintf(stderr, "bpfmesh agent: --api-token-file %s\n", err);
		return 2;
	}
	libbpf_set_print(libbpf_log);
	otlp_conf_log_to_agent();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	a.started_ns = mono_ns();

	if (cgroup_resolve(a.opts.cgroup, a.cgroup, sizeof(a.cgroup))) {
		log_error("no cgroup v2 mount found in /proc/mounts; pass --cgroup PATH");
		return 1;
	}
	lo.bpffs = a.opts.bpffs;
	lo.cgroup = a.cgroup;
	lo.max_endpoints = a.opts.max_endpoints;
	lo.max_services = a.opts.max_services;
	if (loader_start(&a.ld, &lo))
		return 1;
	loader_map_fds(&a.ld, &fds);
	if (lbmaps_init(&a.lm, &fds)) {
		log_error("reading pinned maps failed");
		goto out;
	}
	if (health_init(&a.health, &a.lm, loader_map_fd(&a.ld, "lb_events"),
			loader_map_fd(&a.ld, "lb_drops"), loader_map_fd(&a.ld, "lb_ev_lost")))
		goto out;
	access_init(&a.access, loader_map_fd(&a.ld, "lb_access"));
	tcguard_init(&a.tcg, a.opts.bpffs, loader_prog_fd(&a.ld, "bm_tc_guard"),
		     loader_prog_fd(&a.ld, "bm_http_tc_in"),
		     loader_prog_fd(&a.ld, "bm_http_tc_out"));
	terminator_init(&a.term, loader_prog(&a.ld, "bm_iter_tcp"),
			loader_prog(&a.ld, "bm_iter_udp"), loader_map_fd(&a.ld, "lb_term"),
			a.cgroup);
	a.health.term = &a.term;
	if (tracing_init(&a.tracing, loader_map_fd(&a.ld, "http_events"),
			 loader_map_fd(&a.ld, "http_drops"))) {
		log_error("starting the tracing pipeline failed");
		goto out;
	}
	tracing_apply(&a.tracing, NULL);
	if (healthcheck_start(&a.hc, a.lm.fd.ep_health)) {
		log_error("starting the health checker: %s", strerror(errno));
		goto out;
	}
	a.attached = true;

	wfd = watch_config(a.opts.config);
	if (wfd < 0)
		log_warn("cannot watch %s (%s): changes need a restart", a.opts.config,
			 strerror(-wfd));
	agent_reload(&a);
	sync_metrics_listener(&a, &mapi, mlisten, sizeof(mlisten));

	api = api_start(&a, a.opts.listen);
	if (!api)
		goto out;
	log_info("agent running: config %s, cgroup %s, API http://%s", a.opts.config, a.cgroup,
		 a.opts.listen);

	while (!agent_exiting) {
		struct pollfd pfd[3] = {
		    {.fd = health_events_fd(&a.health), .events = POLLIN},
		    {.fd = tracing_fd(&a.tracing), .events = POLLIN},
		    {.fd = wfd, .events = POLLIN},
		};
		/* 20 ms: the capture programs wake us only when their ring
		 * fills up, so we read it on this beat (and the span builder
		 * wants a tick every 50 ms) */
		int n = poll(pfd, wfd >= 0 ? 3 : 2, 20);

		if (n < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			break;
		}
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			pthread_mutex_lock(&a.lock);
			health_consume(&a.health);
			pthread_mutex_unlock(&a.lock);
		}
		pthread_mutex_lock(&a.lock);
		tracing_consume(&a.tracing);
		pthread_mutex_unlock(&a.lock);
		if (n > 0 && wfd >= 0 && (pfd[2].revents & POLLIN) && drain(wfd))
			pending = mono_ns();
		/* apply once the directory has been quiet for 150 ms, so a
		 * multi-file update is seen whole */
		if (pending && mono_ns() - pending > 150000000ULL) {
			pending = 0;
			agent_reload(&a);
			sync_metrics_listener(&a, &mapi, mlisten, sizeof(mlisten));
		}
		/* housekeeping every 50 ms, not at every wake-up: under load the
		 * ring buffers wake us thousands of times a second */
		now = mono_ns();
		if (now - last_tick < 50000000ULL)
			continue;
		last_tick = now;
		pthread_mutex_lock(&a.lock);
		lbmaps_gc(&a.lm, false);
		health_tick(&a.health, now);
		tracing_tick(&a.tracing, now);
		metrics_export_tick(&a, now);
		/* interfaces and workload cgroups named in the config that
		 * did not exist yet */
		if ((a.tcg.missing || a.access.missing) && a.cfg && now - last_tc > 2000000000ULL) {
			last_tc = now;
			if (a.tcg.missing) {
				tcguard_apply(&a.tcg, a.cfg);
				loader_set_tc_capture(&a.ld, a.tcg.n_attached > 0);
			}
			if (a.access.missing)
				access_apply(&a.access, a.cfg, &a.lm);
		}
		pthread_mutex_unlock(&a.lock);
	}
	log_info("agent stopping; programs stay attached (pinned under %s)", a.opts.bpffs);
	rc = 0;
out:
	api_stop(api);
	api_stop(mapi);
	if (wfd >= 0)
		close(wfd);
	healthcheck_stop(&a.hc);
	metrics_export_stop(&a);
	tracing_free(&a.tracing);
	terminator_free(&a.term);
	health_free(&a.health);
	tcguard_free(&a.tcg);
	lbmaps_free(&a.lm);
	loader_close(&a.ld);
	config_free(a.cfg);
	api_auth_free(&a.auth);
	return rc;
}
