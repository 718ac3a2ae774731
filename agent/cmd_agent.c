/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_agent.c: `bpfmesh agent`: options, the API and its token, the config
 * directory's watch, and the main loop that drives the agent
 * (agent/daemon/agent.c): poll the rings and the watch, re-apply after a
 * quiet period, housekeeping on a beat, stop on SIGINT/SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "api/api_auth.h"
#include "bpf/lb.h"
#include "config/watch.h"
#include "cmd_agent.h"
#include "daemon/agent.h"
#include "daemon/kubesync.h"
#include "lib/clock.h"
#include "lib/log.h"

static volatile sig_atomic_t agent_exiting, agent_hangup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		agent_hangup = 1; /* reload, as daemons do */
	else
		agent_exiting = 1;
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
		"  --bpffs PATH          pin directory (default /sys/fs/bpf/bpfmesh), see below\n"
		"  --listen ADDR         API address (default 127.0.0.1:9440)\n"
		"  --api-token-file FILE require `Authorization: Bearer TOKEN` on the API\n"
		"                        (TOKEN: the file's content); /healthz, /readyz\n"
		"                        and /metrics stay open\n"
		"  --metrics-auth        with --api-token-file, /metrics needs the token too\n"
		"  --api-open-sensitive  without --api-token-file, serve /api/v1/traces and\n"
		"                        /api/v1/config to any client (default: only to\n"
		"                        root or the agent's user, connecting from this host)\n"
		"  --api-allowed-hosts LIST\n"
		"                        Host header values the API answers besides its\n"
		"                        listen address (and localhost on loopback, any\n"
		"                        IP address on 0.0.0.0 or [::]): comma-separated\n"
		"                        names or addresses, '*' for any; others get 421\n"
		"  --kubeconfig PATH     read Services, EndpointSlices, this node's Pods and\n"
		"                        the bpfmesh.io resources from the Kubernetes API\n"
		"                        server PATH names (its current-context); in a pod\n"
		"                        (KUBERNETES_SERVICE_HOST/PORT set) the service\n"
		"                        account is used without it\n"
		"  --node-name NAME      this node, whose pods are watched (default\n"
		"                        $NODE_NAME, else the hostname)\n"
		"  --max-endpoints N     endpoint capacity of the maps (default %d)\n"
		"  --max-services N      service port capacity of the maps (default %d)\n"
		"  --max-sockets N       open sockets sent through a service that the maps\n"
		"                        hold (connect()ed sockets; unconnected UDP socket x\n"
		"                        endpoint pairs) before new ones are refused\n"
		"                        (default %d)\n"
		"  -v, --verbose         debug logging (libbpf included)\n"
		"  -h, --help            this text\n"
		"\n"
		"The API holds at most %d connections, %d per client address, and\n"
		"closes one idle for %d s; its server errors are logged at most once per\n"
		"%d s per kind, with a count of the rest.\n"
		"\n"
		"With Kubernetes, the files and the API's objects are applied together\n"
		"(a file wins over a custom resource of the same name), %d ms after the\n"
		"last change and at most %d ms after the first; nothing is applied (and\n"
		"/readyz says what it waits for) until every resource was listed once.\n"
		"While the API server cannot be reached the last applied state stays.\n"
		"\n"
		"Killing the agent leaves the data path working; a restarted agent adopts\n"
		"the pinned programs and maps. `bpfmesh detach` removes them.\n"
		"\n"
		"The pin directory: when no bpffs is mounted at /sys/fs/bpf and PATH is\n"
		"under it, the agent mounts one there (mode 0700) and logs it. It creates\n"
		"PATH 0700, owned by root. It refuses to start when PATH, or a directory\n"
		"above it on the bpffs, is not owned by root (or by the agent's user) or\n"
		"is writable by its group or others (a sticky directory above PATH, such\n"
		"as /sys/fs/bpf itself, excepted), and when PATH has a symlink on the way\n"
		"or in it; it follows none. One agent per pin directory: a second one on\n"
		"the same PATH exits with status 1 and names the first one's pid.\n",
		LB_MAX_ENDPOINTS - 1, LB_MAX_SERVICES - 1, LB_MAX_CONNS, API_MAX_CONNECTIONS,
		API_MAX_CONNECTIONS_PER_IP, API_IDLE_TIMEOUT_S, API_LOG_INTERVAL_S,
		KUBESYNC_QUIET_MS, KUBESYNC_MAX_DELAY_MS);
}

/* Telemetry.prometheus.listen: a second listener for /metrics, started,
 * moved or stopped as the configuration says. Outside the lock (api_stop). */
static void sync_metrics_listener(struct agent *a, const struct api_auth *auth, struct api **mapi,
				  char *cur, size_t len)
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
	*mapi = api_start_metrics(a, auth, want);
	if (*mapi) {
		snprintf(cur, len, "%s", want);
		log_info("Prometheus metrics on http://%s/metrics", want);
	}
}

int cmd_agent(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, 0, 'c'},
	    {"cgroup", required_argument, 0, 'g'},
	    {"bpffs", required_argument, 0, 'b'},
	    {"listen", required_argument, 0, 'l'},
	    {"max-endpoints", required_argument, 0, 'E'},
	    {"max-services", required_argument, 0, 'S'},
	    {"max-sockets", required_argument, 0, 'K'},
	    {"api-token-file", required_argument, 0, 'T'},
	    {"metrics-auth", no_argument, 0, 'M'},
	    {"api-open-sensitive", no_argument, 0, 'O'},
	    {"api-allowed-hosts", required_argument, 0, 'H'},
	    {"kubeconfig", required_argument, 0, 'k'},
	    {"node-name", required_argument, 0, 'N'},
	    {"verbose", no_argument, 0, 'v'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	static struct agent a;
	static struct api_auth auth;	      /* set before the API starts, then read-only */
	struct api *api = NULL, *mapi = NULL; /* the API; a /metrics-only listener */
	char mlisten[128] = "";
	static struct cfg_watch watch = {.fd = -1};
	uint64_t last_tick = 0, now;
	int opt, rc = 1, wfd = -1, err_watch, kube_mode;
	char err[600], node[CFG_NAME_MAX];
	static struct kube_settings kset;

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
		case 'K':
			if (parse_count("--max-sockets", optarg, &a.opts.max_sockets))
				return 2;
			break;
		case 'T':
			a.opts.api_token_file = optarg;
			break;
		case 'M':
			a.opts.metrics_auth = true;
			break;
		case 'O':
			a.opts.api_open_sensitive = true;
			break;
		case 'H':
			a.opts.api_allowed_hosts = optarg;
			break;
		case 'k':
			a.opts.kubeconfig = optarg;
			break;
		case 'N':
			a.opts.node_name = optarg;
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
	if (api_auth_init(&auth, a.opts.api_token_file, a.opts.metrics_auth, err, sizeof(err))) {
		fprintf(stderr, "bpfmesh agent: --api-token-file %s\n", err);
		return 2;
	}
	auth.open_sensitive = a.opts.api_open_sensitive;
	if (a.opts.api_allowed_hosts &&
	    api_hosts_parse(&auth.hosts, a.opts.api_allowed_hosts, err, sizeof(err))) {
		fprintf(stderr, "bpfmesh agent: --api-allowed-hosts %s\n", err);
		api_auth_free(&auth);
		return 2;
	}
	/* before anything is attached too: a kubeconfig that cannot be read is
	 * a usage error, not a half-started agent */
	kube_mode = kubesync_settings(&kset, a.opts.kubeconfig, err, sizeof(err));
	if (kube_mode < 0) {
		fprintf(stderr, "bpfmesh agent: %s: %s\n",
			a.opts.kubeconfig ? a.opts.kubeconfig : "in-cluster Kubernetes config",
			err);
		api_auth_free(&auth);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	/* resolved once: the Kubernetes client's field selector and the
	 * k8s.node.name of pods' spans say the same */
	kubesync_node_name(node, sizeof(node), a.opts.node_name);
	a.opts.node_name = node;
	if (agent_start(&a))
		goto out;
	if (kube_mode == 0) {
		a.kube = kubesync_start(&kset, node, err, sizeof(err));
		kube_settings_clear(&kset);
		if (!a.kube) {
			log_error("Kubernetes API client: %s", err);
			goto out;
		}
		log_info("Kubernetes: API server %s, node %s", a.kube->origin, node);
	}

	err_watch = cfgw_open(&watch, a.opts.config);
	if (err_watch)
		log_warn("cannot watch %s (%s): changes need a restart or SIGHUP", a.opts.config,
			 strerror(-err_watch));
	wfd = cfgw_fd(&watch);
	agent_reload(&a);
	sync_metrics_listener(&a, &auth, &mapi, mlisten, sizeof(mlisten));

	api = api_start(&a, &auth, a.opts.listen);
	if (!api)
		goto out;
	log_info("agent running: config %s, cgroup %s, API http://%s", a.opts.config, a.cgroup,
		 a.opts.listen);

	while (!agent_exiting) {
		struct pollfd pfd[5] = {
		    {.fd = agent_health_fd(&a), .events = POLLIN},
		    {.fd = agent_trace_fd(&a), .events = POLLIN},
		    {.fd = agent_cgroups_fd(&a), .events = POLLIN},
		    {.fd = wfd, .events = POLLIN},
		    {.fd = kubesync_fd(a.kube), .events = POLLIN},
		};
		/* 20 ms: the capture programs wake us only when their ring
		 * fills up, so we read it on this beat (and the span builder
		 * wants a tick every 50 ms) */
		int n = poll(pfd, 5, 20); /* a negative fd is skipped */

		if (n < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			break;
		}
		agent_consume(&a, n > 0 && (pfd[0].revents & POLLIN));
		now = mono_ns();
		agent_follow_cgroups(&a, now);
		if (n > 0 && wfd >= 0 && (pfd[3].revents & POLLIN))
			cfgw_read(&watch, now);
		cfgw_check(&watch, now);
		if (agent_hangup) {
			agent_hangup = 0;
			log_info("SIGHUP: reloading %s", a.opts.config);
			cfgw_poke(&watch, now);
		}
		if (n > 0 && a.kube && (pfd[4].revents & POLLIN))
			kubesync_read(a.kube, now);
		/* apply once the path has been quiet and no file is half written,
		 * or the API's objects have been */
		if (cfgw_due(&watch, now) || (a.kube && kubesync_due(a.kube, now))) {
			agent_reload(&a);
			sync_metrics_listener(&a, &auth, &mapi, mlisten, sizeof(mlisten));
		}
		/* housekeeping every 50 ms, not at every wake-up: under load the
		 * ring buffers wake us thousands of times a second */
		now = mono_ns();
		if (now - last_tick < 50000000ULL)
			continue;
		last_tick = now;
		if (agent_tick(&a, now)) {
			log_info(
			    "endpoints removed earlier are gone from the maps: applying %s again",
			    a.opts.config);
			agent_reload(&a);
		}
		api_tick(api);
		api_tick(mapi);
	}
	rc = 0;
out:
	api_stop(api);
	api_stop(mapi);
	cfgw_close(&watch);
	/* the thread first: nothing reads the snapshots after this */
	kubesync_stop(a.kube);
	a.kube = NULL;
	kube_settings_clear(&kset);
	agent_stop(&a);
	api_auth_free(&auth);
	return rc;
}
