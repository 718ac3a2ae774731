/* SPDX-License-Identifier: Apache-2.0 */
/* cli_services.c: `bpfmesh services` and `bpfmesh top`: one row per service
 * from /api/v1/services (rate, errors and latency from its "latency" object,
 * endpoints' health, breaker), top refreshing it in place. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_cluster.h"
#include "cli/cli_query.h"

/* What the table reads of /api/v1/services. */
static const struct jfield services_fields[] = {
    {"", JT_OBJECT},
    {"services", JT_ARRAY},
    {"services[]", JT_OBJECT},
    {"services[]/name", JT_STRING},
    {"services[]/namespace", JT_STRING},
    {"services[]/latency", JT_OBJECT},
    {"services[]/latency/windowSeconds", JT_NUMBER},
    {"services[]/latency/server", JT_OBJECT},
    {"services[]/latency/server/rps", JT_NUMBER},
    {"services[]/latency/server/errorRate", JT_NUMBER},
    {"services[]/latency/server/p50Ms", JT_NUMBER},
    {"services[]/latency/server/p99Ms", JT_NUMBER},
    {"services[]/latency/client", JT_OBJECT},
    {"services[]/latency/client/rps", JT_NUMBER},
    {"services[]/latency/client/errorRate", JT_NUMBER},
    {"services[]/latency/client/p50Ms", JT_NUMBER},
    {"services[]/latency/client/p99Ms", JT_NUMBER},
    {"services[]/rpcs", JT_ARRAY},
    {"services[]/rpcs[]", JT_OBJECT},
    {"services[]/rpcs[]/side", JT_STRING},
    {"services[]/rpcs[]/route", JT_STRING},
    {"services[]/rpcs[]/rps", JT_NUMBER},
    {"services[]/rpcs[]/errorRate", JT_NUMBER},
    {"services[]/rpcs[]/p50Ms", JT_NUMBER},
    {"services[]/rpcs[]/p99Ms", JT_NUMBER},
    {"services[]/endpointsHealthy", JT_NUMBER},
    {"services[]/endpointsTotal", JT_NUMBER},
    {"services[]/breaker", JT_OBJECT},
    {"services[]/breaker/state", JT_STRING},
    {"services[]/endpoints", JT_ARRAY},
    {"services[]/endpoints[]", JT_OBJECT},
    {"services[]/endpoints[]/address", JT_STRING},
    {"services[]/endpoints[]/port", JT_NUMBER},
    {"services[]/endpoints[]/health", JT_STRING},
    {"services[]/endpoints[]/ejections", JT_NUMBER},
    {"services[]/endpoints[]/ejectedForMs", JT_NUMBER},
    {"services[]/endpoints[]/selected", JT_NUMBER},
    {"services[]/endpoints[]/connectionsOpened", JT_NUMBER},
    {"services[]/endpoints[]/connectionsActive", JT_NUMBER},
    {"refusals", JT_OBJECT},
    {"refusals{}", JT_NUMBER},
};
#define N_SERVICES_FIELDS (sizeof(services_fields) / sizeof(services_fields[0]))

struct row {
	struct svc_figs f; /* first: svc_figs_cmp sorts rows */
	json_object *svc;
	const char *side; /* the side its figures are of: "server" or "client" */
};

/* The server side is what the service itself answered; a service with
 * no server spans (a client only, or not in the agent's cgroup) is seen
 * from its callers. */
static void row_init(struct row *r, json_object *svc)
{
	json_object *lat = jobj(svc, "latency"), *side = jobj(lat, "server");

	r->side = "server";
	if (!side) {
		side = jobj(lat, "client");
		r->side = "client";
	}
	r->svc = svc;
	if (!strcmp(jstr(svc, "namespace"), "default") || !jstr(svc, "namespace")[0])
		snprintf(r->f.name, sizeof(r->f.name), "%s", jstr(svc, "name"));
	else
		snprintf(r->f.name, sizeof(r->f.name), "%s/%s", jstr(svc, "namespace"),
			 jstr(svc, "name"));
	r->f.rps = jdbl(side, "rps");
	r->f.err = jdbl(side, "errorRate");
	r->f.p50 = jdbl(side, "p50Ms");
	r->f.p99 = jdbl(side, "p99Ms");
}

/* A gRPC service's Service/Method lines under its row, of the side the row
 * shows, with the row's columns. */
static void print_rpcs(FILE *out, const struct row *r)
{
	json_object *rpcs = jobj(r->svc, "rpcs");

	for (int i = 0; i < jlen(rpcs); i++) {
		json_object *m = jat(rpcs, i);
		struct svc_figs f;
		char rps[16], err[16], p50[16], p99[16];

		if (strcmp(jstr(m, "side"), r->side))
			continue;
		f.rps = jdbl(m, "rps");
		f.err = jdbl(m, "errorRate");
		f.p50 = jdbl(m, "p50Ms");
		f.p99 = jdbl(m, "p99Ms");
		svc_figs_cells(&f, rps, err, p50, p99);
		fprintf(out, "  %-30s %8s %7s %9s %9s\n", jstr(m, "route"), rps, err, p50, p99);
	}
}

static void print_endpoint(FILE *out, json_object *e)
{
	char ep[128], health[64];
	int hn;

	if (jint(e, "port"))
		snprintf(ep, sizeof(ep), "%s:%lld", jstr(e, "address"), (long long)jint(e, "port"));
	else
		snprintf(ep, sizeof(ep), "%s", jstr(e, "address"));
	hn = snprintf(health, sizeof(health), "%s", jstr(e, "health"));
	/* ejections so far, and time left when ejected */
	if (jint(e, "ejections"))
		hn += snprintf(health + hn, sizeof(health) - hn, " x%lld",
			       (long long)jint(e, "ejections"));
	if (jint(e, "ejectedForMs"))
		snprintf(health + hn, sizeof(health) - hn, " %.1fs",
			 jint(e, "ejectedForMs") / 1000.0);
	fprintf(out, "  %-30s %-20s selected %lld, opened %lld, active %lld\n", ep, health,
		(long long)jint(e, "selected"), (long long)jint(e, "connectionsOpened"),
		(long long)jint(e, "connectionsActive"));
}

/* connect()s the kernel refused, by reason: only when there are some. */
static void print_refusals(FILE *out, json_object *root)
{
	json_object *r = jobj(root, "refusals");
	const char *sep = "refused connect(): ";
	bool any = false;

	if (!json_object_is_type(r, json_type_object))
		return;
	json_object_object_foreach(r, k, v)
	{
		if (json_object_get_int64(v) <= 0)
			continue;
		fprintf(out, "%s%s %lld", sep, k, (long long)json_object_get_int64(v));
		sep = ", ";
		any = true;
	}
	if (any)
		fputc('\n', out);
}

/* The latency window in seconds of the first service that has one. */
static int table_window(json_object *root)
{
	json_object *arr = jobj(root, "services");

	for (int i = 0; i < jlen(arr); i++) {
		json_object *lat = jobj(jat(arr, i), "latency");

		if (jint(lat, "windowSeconds"))
			return (int)jint(lat, "windowSeconds");
	}
	return 0;
}

static void print_table(FILE *out, json_object *root, const char *sort, bool endpoints)
{
	json_object *arr = jobj(root, "services");
	int n = jlen(arr);
	struct row *rows = calloc(n ? n : 1, sizeof(*rows));

	if (!rows) {
		fprintf(stderr, "bpfmesh: out of memory\n");
		return;
	}
	for (int i = 0; i < n; i++)
		row_init(&rows[i], jat(arr, i));
	if (sort)
		qsort_r(rows, n, sizeof(*rows), svc_figs_cmp, (void *)sort);
	fprintf(out, "%-32s %8s %7s %9s %9s  %-9s  %s\n", "SERVICE", "RPS", "ERR%", "P50", "P99",
		"ENDPOINTS", "BREAKER");
	for (int i = 0; i < n; i++) {
		json_object *s = rows[i].svc, *eps = jobj(s, "endpoints");
		char rps[16], err[16], p50[16], p99[16], epn[32];

		svc_figs_cells(&rows[i].f, rps, err, p50, p99);
		snprintf(epn, sizeof(epn), "%lld/%lld", (long long)jint(s, "endpointsHealthy"),
			 (long long)jint(s, "endpointsTotal"));
		fprintf(out, "%-32s %8s %7s %9s %9s  %-9s  %s\n", rows[i].f.name, rps, err, p50,
			p99, epn, jobj(s, "breaker") ? jstr(jobj(s, "breaker"), "state") : "-");
		print_rpcs(out, &rows[i]);
		for (int j = 0; endpoints && j < jlen(eps); j++)
			print_endpoint(out, jat(eps, j));
	}
	if (!n)
		fprintf(out, "(no services configured)\n");
	print_refusals(out, root);
	free(rows);
}

#define SERVICES_HELP                                                                              \
	"Usage: bpfmesh services [--sort KEY] [--no-endpoints] [--json] [--agent ADDR]\n"          \
	"                        [--token-file FILE] [--cluster [--kubeconfig PATH]]\n"            \
	"                        [--agents HOST:PORT,...]\n"                                       \
	"\n"                                                                                       \
	"One row per service of a running agent: requests per second (RPS), the\n"                 \
	"share of failed requests (ERR%), median and 99th percentile latency (P50,\n"              \
	"P99) over the agent's window, healthy/total endpoints and the breaker\n"                  \
	"state; '-' where the agent has no requests seen. Below a gRPC service, a\n"               \
	"line per package.Service/Method with the same figures. Below each\n"                      \
	"service, its endpoints: health (xN: times ejected, then the time left),\n"                \
	"connections sent to it (selected), established (opened) and open (active).\n"             \
	"A service of a namespace other than default is shown as NAMESPACE/NAME.\n"                \
	"\n"                                                                                       \
	"With --cluster or --agents: one table for many agents, their latency\n"                   \
	"sketches merged exactly (GET /api/v1/sketches): RPS added up, P50/P99 of all\n"           \
	"their requests together, AGENTS = agents that saw requests / agents that\n"               \
	"answered; the Service/Method lines merged per method (AGENTS: the agents\n"               \
	"that saw a call of it); no endpoint lines (endpoints are per node). --json\n"             \
	"prints the merged view. An agent that does not answer is named on stderr\n"               \
	"and the exit status is 3: the view is partial.\n"                                         \
	"\n"                                                                                       \
	"Options:\n"                                                                               \
	"  --sort KEY           rps, errors, p50, p99 (biggest first) or name;\n"                  \
	"                       default: the configuration's order\n"                              \
	"  --no-endpoints       services only\n" CLI_CLUSTER_HELP CLI_QOPTS_HELP                   \
	"3 the cluster view is partial: an agent did not answer.\n"

int cli_services(int argc, char **argv)
{
	struct qopts o;
	json_object *root;
	char *raw;
	int rc =
	    cli_parse(argc, argv, &o, QO_SORT | QO_NO_ENDPOINTS | QO_CLUSTER, 0, SERVICES_HELP);

	if (rc >= 0)
		return rc;
	if (o.cluster) {
		char **addrs;
		size_t n;

		rc = cli_cluster_agents(&o, &addrs, &n);
		if (rc == CLI_OK)
			rc = cli_cluster_print(&o, addrs, n, stdout, o.sort);
		cli_cluster_agents_free(addrs, n);
		cli_qopts_free(&o);
		return rc;
	}
	root = cli_get_json(&o, "/api/v1/services", 0, &rc, &raw);
	if (root && !o.json)
		rc = cli_json_check(&o, "/api/v1/services", root, services_fields,
				    N_SERVICES_FIELDS);
	if (root && rc == CLI_OK) {
		if (o.json)
			fputs(raw, stdout);
		else
			print_table(stdout, root, o.sort, o.endpoints);
		json_object_put(root);
		free(raw);
	}
	cli_qopts_free(&o);
	return rc;
}

static volatile sig_atomic_t top_stop;

static void top_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

/* Wait up to ms for the interval to pass or 'q' to be pressed. */
static void top_wait(long ms, bool keys)
{
	struct timespec t0, t;
	long left = ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!top_stop && left > 0) {
		struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
		char c;

		if (poll(&p, keys ? 1 : 0, (int)left) > 0 && (p.revents & POLLIN)) {
			if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
				top_stop = 1;
			/* a closed or broken stdin: stop reading it */
			if (p.revents & (POLLHUP | POLLERR))
				keys = false;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
	}
}

/* Put one frame on a terminal: home, each line cut to the width and
 * cleared to its end, the rest of the screen cleared; lines past the
 * height are left out so the frame never scrolls. */
static void top_draw(const char *frame, bool tty)
{
	struct winsize ws = {};
	int rows = 0, cols = 0, row = 0;

	if (!tty) {
		fputs(frame, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		return;
	}
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws)) {
		rows = ws.ws_row;
		cols = ws.ws_col;
	}
	fputs("\033[H", stdout);
	for (const char *l = frame; *l && (!rows || row < rows - 1); row++) {
		const char *nl = strchr(l, '\n');
		int len = nl ? (int)(nl - l) : (int)strlen(l);

		if (cols && len > cols - 1)
			len = cols - 1;
		printf("%.*s\033[K\n", len, l);
		l = nl ? nl + 1 : l + strlen(l);
	}
	fputs("\033[J", stdout);
	fflush(stdout);
}

#define TOP_HELP                                                                                   \
	"Usage: bpfmesh top [--interval SECONDS] [--sort KEY] [-n N] [--json]\n"                   \
	"                   [--agent ADDR] [--token-file FILE]\n"                                  \
	"                   [--cluster [--kubeconfig PATH]] [--agents HOST:PORT,...]\n"            \
	"\n"                                                                                       \
	"The services table of `bpfmesh services` (its gRPC Service/Method lines,\n"               \
	"not its endpoint lines) refreshed in place like top(1), under a line with\n"              \
	"the agent's address, the time and the latency window. q or Ctrl-C quits.\n"               \
	"When stdout is not a terminal, the tables are printed one after another.\n"               \
	"With --cluster or --agents: the table of `bpfmesh services --cluster`, its\n"             \
	"agents found once, at the start.\n"                                                       \
	"\n"                                                                                       \
	"Options:\n"                                                                               \
	"  --interval SECONDS   time between refreshes (default 2, from 0.1)\n"                    \
	"  --sort KEY           rps (default), errors, p50, p99 (biggest first) or name\n"         \
	"  -n, --iterations N   stop after N refreshes (for scripts)\n"                            \
	"  --json               one JSON document (/api/v1/services, or the merged\n"              \
	"                       view) per refresh and line\n" CLI_CLUSTER_HELP CLI_QOPTS_HELP      \
	"3 the cluster view is partial: an agent did not answer.\n"

int cli_top(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = top_signal};
	struct termios saved, raw_tio;
	struct qopts o;
	bool tty, keys = false;
	long i;
	int rc = cli_parse(argc, argv, &o, QO_INTERVAL | QO_SORT | QO_ITERATIONS | QO_CLUSTER, 0,
			   TOP_HELP);
	char **addrs = NULL;
	size_t n_addrs = 0;

	if (rc >= 0)
		return rc;
	if (o.cluster && (rc = cli_cluster_agents(&o, &addrs, &n_addrs)) != CLI_OK) {
		cli_qopts_free(&o);
		return rc;
	}
	if (!o.sort)
		o.sort = "rps";
	tty = !o.json && isatty(STDOUT_FILENO);
	/* no SA_RESTART: a signal must cut the wait short */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (tty && isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &saved)) {
		/* keys without Enter and without echo; Ctrl-C stays a signal */
		raw_tio = saved;
		raw_tio.c_lflag &= ~(ICANON | ECHO);
		raw_tio.c_cc[VMIN] = 0;
		raw_tio.c_cc[VTIME] = 0;
		keys = !tcsetattr(STDIN_FILENO, TCSANOW, &raw_tio);
	}
	if (tty)
		fputs("\033[?25l\033[H\033[2J", stdout); /* hide the cursor, clear */
	for (i = 0; !top_stop && (!o.iterations || i < o.iterations); i++) {
		char *raw = NULL, *frame = NULL, now[16];
		size_t flen = 0;
		struct tm tm;
		time_t t;
		json_object *root;
		int window;
		FILE *f;

		if (i)
			top_wait((long)(o.interval * 1000), keys);
		if (top_stop)
			break;
		if (o.cluster) {
			/* a partial view is still drawn; no agent at all ends top */
			if (!(f = open_memstream(&frame, &flen)))
				break;
			t = time(NULL);
			strftime(now, sizeof(now), "%H:%M:%S", localtime_r(&t, &tm));
			if (!o.json)
				fprintf(
				    f, "bpfmesh top - cluster - %s - every %gs, sorted by %s%s\n\n",
				    now, o.interval, o.sort, keys ? " (q quits)" : "");
			rc = cli_cluster_print(&o, addrs, n_addrs, f, o.sort);
			fclose(f);
			if (rc == CLI_OK || rc == CLI_PARTIAL) {
				if (o.json) {
					fputs(frame ? frame : "", stdout);
					fflush(stdout);
				} else {
					top_draw(frame ? frame : "", tty);
				}
			}
			free(frame);
			if (rc != CLI_OK && rc != CLI_PARTIAL)
				break;
			continue;
		}
		root = cli_get_json(&o, "/api/v1/services", 0, &rc, &raw);
		if (root && !o.json)
			rc = cli_json_check(&o, "/api/v1/services", root, services_fields,
					    N_SERVICES_FIELDS);
		if (root && rc != CLI_OK) {
			json_object_put(root);
			free(raw);
			root = NULL;
		}
		if (!root)
			break;
		if (o.json) {
			/* one document per line, so a reader can split them */
			for (char *p = raw; *p; p++)
				if (*p == '\n')
					*p = ' ';
			printf("%s\n", raw);
			fflush(stdout);
		} else if ((f = open_memstream(&frame, &flen))) {
			/* header and table in one buffer, drawn in one go */
			t = time(NULL);
			strftime(now, sizeof(now), "%H:%M:%S", localtime_r(&t, &tm));
			fprintf(f, "bpfmesh top - %s - %s - ", o.agent, now);
			window = table_window(root);
			if (window)
				fprintf(f, "window %ds", window);
			else
				fprintf(f, "no latency window");
			fprintf(f, " - every %gs, sorted by %s%s\n\n", o.interval, o.sort,
				keys ? " (q quits)" : "");
			print_table(f, root, o.sort, false);
			fclose(f);
			top_draw(frame ? frame : "", tty);
			free(frame);
		}
		json_object_put(root);
		free(raw);
	}
	if (keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (tty)
		fputs("\033[?25h", stdout);
	fflush(stdout);
	cli_cluster_agents_free(addrs, n_addrs);
	cli_qopts_free(&o);
	return rc;
}
