/* SPDX-License-Identifier: Apache-2.0 */
/* cli_query.c: commands that ask a running agent over its API: services,
 * top and status. --json prints the API's answer as it is. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "httpc.h"

#define DEFAULT_AGENT "127.0.0.1:9440"

struct qopts {
	const char *agent;
	bool json;
	int interval;
};

static int parse_qopts(int argc, char **argv, struct qopts *o, const char *usage)
{
	static const struct option longopts[] = {
	    {"agent", required_argument, 0, 'a'},
	    {"json", no_argument, 0, 'j'},
	    {"interval", required_argument, 0, 'i'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	int opt;

	o->agent = DEFAULT_AGENT;
	o->json = false;
	o->interval = 2;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			o->agent = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'i':
			o->interval = atoi(optarg) > 0 ? atoi(optarg) : 2;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	return 0;
}

static char *fetch(const struct qopts *o, const char *path, int *status)
{
	char *body = NULL;
	int st = httpc_get(o->agent, path, &body, 5000);

	*status = st;
	if (st < 0) {
		fprintf(stderr,
			"bpfmesh: cannot reach the agent at %s: %s (is `bpfmesh agent` running? "
			"use --agent ADDR)\n",
			o->agent, strerror(-st));
		return NULL;
	}
	return body;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static int print_services(const struct qopts *o, FILE *out)
{
	json_object *root, *arr, *svc, *eps;
	int status, i, j;
	char *body = fetch(o, "/api/v1/services", &status);

	if (!body)
		return 1;
	if (o->json || status != 200) {
		fputs(body, status == 200 ? out : stderr);
		free(body);
		return status == 200 ? 0 : 1;
	}
	root = json_tokener_parse(body);
	free(body);
	if (!root || !json_object_object_get_ex(root, "services", &arr)) {
		fprintf(stderr, "bpfmesh: unexpected answer from the agent\n");
		json_object_put(root);
		return 1;
	}
	fprintf(out, "%-28s %-16s %-9s %-9s %-10s %-10s %-8s\n", "SERVICE", "POLICY", "ENDPOINTS",
		"BREAKER", "SELECTED", "CONNS", "ACTIVE");
	for (i = 0; i < (int)json_object_array_length(arr); i++) {
		int64_t sel = 0, opened = 0, active = 0;
		char name[300], epn[32];

		svc = json_object_array_get_idx(arr, i);
		json_object_object_get_ex(svc, "endpoints", &eps);
		for (j = 0; eps && j < (int)json_object_array_length(eps); j++) {
			json_object *e = json_object_array_get_idx(eps, j);

			sel += jint(e, "selected");
			opened += jint(e, "connectionsOpened");
			active += jint(e, "connectionsActive");
		}
		snprintf(name, sizeof(name), "%s/%s", jstr(svc, "namespace"), jstr(svc, "name"));
		snprintf(epn, sizeof(epn), "%lld/%lld", (long long)jint(svc, "endpointsHealthy"),
			 (long long)jint(svc, "endpointsTotal"));
		json_object *br = NULL;

		json_object_object_get_ex(svc, "breaker", &br);
		fprintf(out, "%-28s %-16s %-9s %-9s %-10lld %-10lld %-8lld\n", name,
			jstr(svc, "policy"), epn, br ? jstr(br, "state") : "-", (long long)sel,
			(long long)opened, (long long)active);
		for (j = 0; eps && j < (int)json_object_array_length(eps); j++) {
			json_object *e = json_object_array_get_idx(eps, j);
			char ep[128];

			if (jint(e, "port"))
				snprintf(ep, sizeof(ep), "  %s:%lld", jstr(e, "address"),
					 (long long)jint(e, "port"));
			else
				snprintf(ep, sizeof(ep), "  %s", jstr(e, "address"));
			char health[64];
			int hn = snprintf(health, sizeof(health), "%s", jstr(e, "health"));

			/* ejections so far, and time left when ejected */
			if (jint(e, "ejections"))
				hn += snprintf(health + hn, sizeof(health) - hn, " x%lld",
					       (long long)jint(e, "ejections"));
			if (jint(e, "ejectedForMs"))
				snprintf(health + hn, sizeof(health) - hn, " %.1fs",
					 jint(e, "ejectedForMs") / 1000.0);
			fprintf(out, "%-28s %-16s %-19s %-10lld %-10lld %-8lld\n", ep, "", health,
				(long long)jint(e, "selected"),
				(long long)jint(e, "connectionsOpened"),
				(long long)jint(e, "connectionsActive"));
		}
	}
	json_object_put(root);
	return 0;
}

int cli_services(int argc, char **argv)
{
	struct qopts o;
	int rc =
	    parse_qopts(argc, argv, &o,
			"Usage: bpfmesh services [--json] [--agent ADDR]\n\n"
			"List services with their endpoints: health, connections sent to each\n"
			"(SELECTED), TCP connections established (CONNS) and open (ACTIVE).\n");

	if (rc)
		return rc == 1 ? 0 : rc;
	return print_services(&o, stdout);
}

static volatile sig_atomic_t top_stop;

static void top_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

int cli_top(int argc, char **argv)
{
	struct qopts o;
	int rc = parse_qopts(argc, argv, &o,
			     "Usage: bpfmesh top [--interval SECONDS] [--json] [--agent ADDR]\n\n"
			     "The services table, refreshed in place every SECONDS (default 2)\n"
			     "until Ctrl-C. With --json, prints one JSON document per refresh.\n");

	if (rc)
		return rc == 1 ? 0 : rc;
	signal(SIGINT, top_signal);
	signal(SIGTERM, top_signal);
	while (!top_stop) {
		if (!o.json)
			fputs("\033[H\033[2J", stdout);
		if (print_services(&o, stdout))
			return 1;
		fflush(stdout);
		sleep(o.interval);
	}
	return 0;
}

int cli_status(int argc, char **argv)
{
	json_object *ready, *cfg;
	struct qopts o;
	int status, rc = parse_qopts(argc, argv, &o,
				     "Usage: bpfmesh status [--json] [--agent ADDR]\n\n"
				     "Agent readiness and the configuration in force.\n");
	char *rbody, *cbody;

	if (rc)
		return rc == 1 ? 0 : rc;
	rbody = fetch(&o, "/readyz", &status);
	if (!rbody)
		return 1;
	cbody = fetch(&o, "/api/v1/config", &status);
	if (!cbody) {
		free(rbody);
		return 1;
	}
	if (o.json) {
		printf("{\"readiness\":%s,\"config\":%s}\n", rbody, cbody);
	} else {
		ready = json_tokener_parse(rbody);
		cfg = json_tokener_parse(cbody);
		printf("agent:      %s\n", o.agent);
		printf("ready:      %s\n", jint(ready, "ready") ? "yes" : "no");
		printf("attached:   %s\n", jint(ready, "attached") ? "yes" : "no");
		printf("config:     %s (%s)\n", jstr(cfg, "source"),
		       jint(cfg, "applied") ? "applied" : "not applied");
		printf("reloads:    %lld ok, %lld rejected\n", (long long)jint(cfg, "reloads"),
		       (long long)jint(cfg, "reloadErrors"));
		if (jstr(cfg, "lastError")[0])
			printf("last error: %s\n", jstr(cfg, "lastError"));
		json_object_put(ready);
		json_object_put(cfg);
	}
	free(rbody);
	free(cbody);
	return 0;
}
