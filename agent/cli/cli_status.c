/* SPDX-License-Identifier: Apache-2.0 */
/* cli_status.c: `bpfmesh status`: is the agent ready, with which
 * configuration, on which kernel, what it has attached and pinned, and how
 * full its maps are (/readyz, /api/v1/config, /api/v1/status). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_query.h"

/* What the report reads of /readyz, /api/v1/config and /api/v1/status. */
static const struct jfield ready_fields[] = {
    {"", JT_OBJECT},
    {"ready", JT_BOOL},
    {"attached", JT_BOOL},
    {"reason", JT_STRING},
};
static const struct jfield config_fields[] = {
    {"", JT_OBJECT},	    {"source", JT_STRING},	 {"applied", JT_BOOL},
    {"reloads", JT_NUMBER}, {"reloadErrors", JT_NUMBER}, {"lastError", JT_STRING},
};
static const struct jfield status_fields[] = {
    {"", JT_OBJECT},
    {"agent", JT_OBJECT},
    {"agent/version", JT_STRING},
    {"agent/pid", JT_NUMBER},
    {"agent/uptimeSeconds", JT_NUMBER},
    {"agent/authRequired", JT_BOOL},
    {"agent/metricsAuth", JT_BOOL},
    {"agent/sensitiveAccess", JT_STRING},
    {"kernel", JT_OBJECT},
    {"kernel/release", JT_STRING},
    {"kernel/machine", JT_STRING},
    {"kernel/features", JT_OBJECT},
    {"kernel/features{}", JT_BOOL},
    {"tracing", JT_OBJECT},
    {"tracing/injection", JT_STRING},
    {"tracing/injectionCounts", JT_OBJECT},
    {"tracing/injectionCounts{}", JT_NUMBER},
    {"tracing/injectionExcluded", JT_NUMBER},
    {"tracing/injectionServing", JT_NUMBER},
    {"attachments", JT_OBJECT},
    {"attachments/cgroup", JT_STRING},
    {"attachments/bpffs", JT_STRING},
    {"attachments/linksTakenOver", JT_NUMBER},
    {"attachments/programs", JT_ARRAY},
    {"attachments/programs[]", JT_OBJECT},
    {"attachments/programs[]/name", JT_STRING},
    {"attachments/programs[]/section", JT_STRING},
    {"attachments/programs[]/state", JT_STRING},
    {"attachments/links", JT_ARRAY},
    {"attachments/links[]", JT_OBJECT},
    {"attachments/links[]/program", JT_STRING},
    {"attachments/links[]/type", JT_STRING},
    {"attachments/links[]/cgroup", JT_STRING},
    {"attachments/links[]/interface", JT_STRING},
    {"attachments/links[]/direction", JT_STRING},
    {"attachments/links[]/current", JT_BOOL},
    {"attachments/links[]/pin", JT_STRING},
    {"attachments/links[]/programId", JT_NUMBER},
    {"attachments/tc", JT_OBJECT},
    {"attachments/tc/interfaces", JT_ARRAY},
    {"attachments/tc/interfaces[]", JT_STRING},
    {"attachments/tc/missing", JT_NUMBER},
    {"kubernetes", JT_OBJECT},
    {"kubernetes/server", JT_STRING},
    {"kubernetes/node", JT_STRING},
    {"kubernetes/synced", JT_BOOL},
    {"kubernetes/podsWithoutCgroup", JT_NUMBER},
    {"kubernetes/resources", JT_OBJECT},
    {"kubernetes/resources{}", JT_OBJECT},
    {"maps", JT_ARRAY},
    {"maps[]", JT_OBJECT},
    {"maps[]/name", JT_STRING},
    {"maps[]/type", JT_STRING},
    {"maps[]/count", JT_STRING},
    {"maps[]/entries", JT_NUMBER},
    {"maps[]/maxEntries", JT_NUMBER},
    {"maps[]/usedPercent", JT_NUMBER},
};
#define N_FIELDS(f) (sizeof(f) / sizeof((f)[0]))

static void fmt_uptime(char *buf, size_t len, double s)
{
	long t = isnan(s) ? 0 : (long)s;

	if (t >= 86400)
		snprintf(buf, len, "%ldd%02ldh%02ldm", t / 86400, t % 86400 / 3600, t % 3600 / 60);
	else if (t >= 3600)
		snprintf(buf, len, "%ldh%02ldm%02lds", t / 3600, t % 3600 / 60, t % 60);
	else
		snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
}

static void print_features(json_object *f)
{
	static const struct {
		const char *key, *label;
	} names[] = {
	    {"btf", "BTF"},
	    {"ringbuf", "ring buffer"},
	    {"cgroupLinks", "cgroup links"},
	    {"socketIterators", "socket iterators"},
	    {"sockDestroy", "bpf_sock_destroy"},
	    {"tcx", "tcx"},
	    {"sockLengthTracepoints", "sock_send/recv_length"},
	    {"bpfJit", "JIT"},
	};
	const char *sep = "";

	printf("features:   ");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!jobj(f, names[i].key))
			continue;
		printf("%s%s %s", sep, names[i].label, jbool(f, names[i].key) ? "yes" : "NO");
		sep = ", ";
	}
	printf("\n");
}

/* Where one link holds its program: the cgroup, an interface and
 * direction, or a kernel tracepoint. */
static int link_target(char *buf, size_t len, json_object *l)
{
	const char *type = jstr(l, "type");

	if (!strcmp(type, "cgroup"))
		return snprintf(buf, len, "%s", jobj(l, "cgroup") ? "cgroup" : "another cgroup");
	if (!strcmp(type, "tcx"))
		return snprintf(buf, len, "%s %s", jstr(l, "interface"), jstr(l, "direction"));
	if (!strcmp(type, "tracing") || !strcmp(type, "raw_tracepoint"))
		return snprintf(buf, len, "tracepoint");
	return snprintf(buf, len, "%s link", type);
}

/* Each program, its hook and state, and where its links hold it. */
static void print_programs(json_object *att)
{
	json_object *progs = jobj(att, "programs"), *links = jobj(att, "links");
	int n = jlen(progs), nl = jlen(links);

	printf("\n%-17s %-28s %-13s %s\n", "PROGRAM", "HOOK", "STATE", "ON");
	for (int i = 0; i < n; i++) {
		json_object *p = jat(progs, i);
		char on[512] = "";
		size_t off = 0;

		for (int j = 0; j < nl; j++) {
			json_object *l = jat(links, j);

			if (strcmp(jstr(l, "program"), jstr(p, "name")) || off >= sizeof(on))
				continue;
			if (off)
				off += snprintf(on + off, sizeof(on) - off, ", ");
			if (off < sizeof(on))
				off += link_target(on + off, sizeof(on) - off, l);
		}
		printf("%-17s %-28s %-13s %s\n", jstr(p, "name"), jstr(p, "section"),
		       jstr(p, "state"), on);
	}
	/* pins that run a program this agent did not load */
	for (int i = 0; i < nl; i++) {
		json_object *l = jat(links, i);

		if (!jbool(l, "current"))
			printf(
			    "stale link: %s (%s link, program id %lld not loaded by this agent)\n",
			    jstr(l, "pin"), jstr(l, "type"), (long long)jint(l, "programId"));
	}
}

static void print_maps(json_object *maps)
{
	int n = jlen(maps);

	printf("\n%-15s %-16s %10s %10s %7s\n", "MAP", "TYPE", "ENTRIES", "MAX", "USE");
	for (int i = 0; i < n; i++) {
		json_object *m = jat(maps, i);
		const char *count = jstr(m, "count");
		char entries[32] = "-", use[16] = "-";

		if (!strcmp(count, "exact") || !strcmp(count, "atLeast"))
			snprintf(entries, sizeof(entries), "%s%lld", *count == 'a' ? ">=" : "",
				 (long long)jint(m, "entries"));
		else if (!strcmp(count, "array"))
			snprintf(entries, sizeof(entries), "(array)");
		if (jdbl(m, "usedPercent") > 0 && jdbl(m, "usedPercent") < 0.1)
			snprintf(use, sizeof(use), "<0.1%%");
		else if (!isnan(jdbl(m, "usedPercent")))
			snprintf(use, sizeof(use), "%.1f%%", jdbl(m, "usedPercent"));
		printf("%-15s %-16s %10s %10lld %7s\n", jstr(m, "name"), jstr(m, "type"), entries,
		       (long long)jint(m, "maxEntries"), use);
	}
}

/* The Kubernetes API's resources, when the agent reads them. */
static void print_kubernetes(json_object *k)
{
	json_object *res = jobj(k, "resources");

	if (!k)
		return;
	printf("kubernetes: %s, node %s (%s)", jstr(k, "server"), jstr(k, "node"),
	       jbool(k, "synced") ? "listed" : "first list not complete");
	if (jint(k, "podsWithoutCgroup"))
		printf("; %lld pods without a cgroup yet", (long long)jint(k, "podsWithoutCgroup"));
	printf("\n");
	if (!res || !json_object_is_type(res, json_type_object))
		return;
	json_object_object_foreach(res, name, r)
	{
		printf("  %-34s %-9s rv %-10s %lld errors", name,
		       jbool(r, "absent")    ? "absent"
		       : jbool(r, "failing") ? "FAILING"
		       : jbool(r, "synced")  ? "synced"
					     : "listing",
		       jstr(r, "resourceVersion")[0] ? jstr(r, "resourceVersion") : "-",
		       (long long)jint(r, "errors"));
		if (jbool(r, "failing") && jstr(r, "lastError")[0])
			printf(" (%s)", jstr(r, "lastError"));
		printf("\n");
	}
}

static void print_status(const struct qopts *o, json_object *ready, json_object *cfg,
			 json_object *st)
{
	json_object *ag = jobj(st, "agent"), *k = jobj(st, "kernel"),
		    *att = jobj(st, "attachments");
	json_object *tc = jobj(att, "tc"), *ifs = jobj(tc, "interfaces");
	char up[32];

	printf("agent:      %s", o->agent);
	if (ag) {
		fmt_uptime(up, sizeof(up), jdbl(ag, "uptimeSeconds"));
		printf(" (bpfmesh %s, pid %lld, up %s)", jstr(ag, "version"),
		       (long long)jint(ag, "pid"), up);
	}
	printf("\nready:      %s", jbool(ready, "ready") ? "yes" : "no");
	if (jstr(ready, "reason")[0])
		printf(" (%s)", jstr(ready, "reason"));
	if (!cfg) /* withheld: what /api/v1/status says of it */
		printf("\nconfig:     %s (%s); reloads and errors: only for root or with a token\n",
		       jstr(ag, "config"), jbool(ag, "configApplied") ? "applied" : "not applied");
	else
		printf("\nconfig:     %s (%s); %lld reloads, %lld rejected\n", jstr(cfg, "source"),
		       jbool(cfg, "applied") ? "applied" : "not applied",
		       (long long)jint(cfg, "reloads"), (long long)jint(cfg, "reloadErrors"));
	if (jstr(cfg, "lastError")[0])
		printf("last error: %s\n", jstr(cfg, "lastError"));
	if (!st) {
		printf("attached:   %s\n(this agent has no /api/v1/status: kernel, "
		       "attachments and maps unknown)\n",
		       jbool(ready, "attached") ? "yes" : "no");
		return;
	}
	if (jbool(ag, "authRequired"))
		printf("API auth:   %s\n", jbool(ag, "metricsAuth")
					       ? "bearer token, /metrics included"
					       : "bearer token (/healthz, /readyz, /metrics open)");
	else
		printf("API auth:   %s\n",
		       !strcmp(jstr(ag, "sensitiveAccess"), "root")
			   ? "none; traces and config only for root on the agent's host"
			   : "none (open)");
	printf("kernel:     %s %s\n", jstr(k, "release"), jstr(k, "machine"));
	print_features(jobj(k, "features"));
	/* what is off on this kernel, one line each (an older agent has none) */
	for (int i = 0; i < jlen(jobj(k, "off")); i++)
		printf("off:        %s\n", json_object_get_string(jat(jobj(k, "off"), i)));
	if (jobj(st, "tracing")) /* an older agent has none */
		printf(
		    "injection:  %s (%lld injected, %lld with their own traceparent; %lld "
		    "SDK-instrumented and %lld serving processes excluded)\n",
		    jstr(jobj(st, "tracing"), "injection"),
		    (long long)jint(jobj(jobj(st, "tracing"), "injectionCounts"), "injected"),
		    (long long)jint(jobj(jobj(st, "tracing"), "injectionCounts"), "hasTraceparent"),
		    (long long)jint(jobj(st, "tracing"), "injectionExcluded"),
		    (long long)jint(jobj(st, "tracing"), "injectionServing"));
	printf("cgroup:     %s\n", jstr(att, "cgroup"));
	printf("pinned at:  %s (%d links, %lld taken over at start)\n", jstr(att, "bpffs"),
	       jlen(jobj(att, "links")), (long long)jint(att, "linksTakenOver"));
	printf("tc:         ");
	for (int i = 0; i < jlen(ifs); i++)
		printf("%s%s", i ? ", " : "", json_object_get_string(jat(ifs, i)));
	if (!jlen(ifs))
		printf("no interfaces");
	if (jint(tc, "missing"))
		printf(" (%lld named by Workloads not found yet)", (long long)jint(tc, "missing"));
	printf("\n");
	/* connections whose bytes capture cannot read (an older agent: none) */
	if (jobj(jobj(cfg, "tracing"), "tls"))
		printf("TLS:        %lld connections sent a ClientHello, %lld received one: "
		       "encrypted, not traced\n",
		       (long long)jint(jobj(jobj(cfg, "tracing"), "tls"), "clientHellosSent"),
		       (long long)jint(jobj(jobj(cfg, "tracing"), "tls"), "clientHellosReceived"));
	print_kubernetes(jobj(st, "kubernetes"));
	print_programs(att);
	print_maps(jobj(st, "maps"));
}

/* The API ends its documents with a newline; nested, they need none. */
static const char *chomp(char *s)
{
	size_t n = s ? strlen(s) : 0;

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = 0;
	return s;
}

#define STATUS_HELP                                                                                \
	"Usage: bpfmesh status [--json] [--agent ADDR] [--token-file FILE]\n"                      \
	"\n"                                                                                       \
	"The agent (version, pid, uptime), whether it is ready, the configuration in\n"            \
	"force, the kernel and the features bpfmesh relies on, what is attached (the\n"            \
	"cgroup, each program's hook and state, tc interfaces, stale pinned links),\n"             \
	"the Kubernetes resources it watches (when it does) and the maps with their\n"             \
	"entries and use. From /readyz, /api/v1/config and\n"                                      \
	"/api/v1/status; --json prints them as {\"readiness\", \"config\", \"status\"}.\n"         \
	"Without a token, the agent shows /api/v1/config only to root (or its own\n"               \
	"user) on its host; for anyone else the reload counts are left out.\n"                     \
	"\n"                                                                                       \
	"Options:\n" CLI_QOPTS_HELP

int cli_status(int argc, char **argv)
{
	json_object *ready = NULL, *cfg = NULL, *st = NULL;
	char *rraw = NULL, *craw = NULL, *sraw = NULL;
	bool cfg_withheld = false;
	struct qopts o;
	int rc = cli_parse(argc, argv, &o, 0, 0, STATUS_HELP);

	if (rc >= 0)
		return rc;
	/* not ready is an answer, not an error */
	ready = cli_get_json(&o, "/readyz", 503, &rc, &rraw);
	if (ready)
		cfg = cli_get_json(&o, "/api/v1/config", 403, &rc, &craw);
	/* without a token the agent shows its configuration to root only
	 * (403): show the rest */
	if (cfg && json_object_is_type(cfg, json_type_object) && jobj(cfg, "error")) {
		json_object_put(cfg);
		free(craw);
		cfg = NULL;
		craw = NULL;
		cfg_withheld = true;
	}
	/* an agent from before /api/v1/status answers 404: show the rest */
	if (cfg || cfg_withheld)
		st = cli_get_json(&o, "/api/v1/status", 404, &rc, &sraw);
	if (st && json_object_is_type(st, json_type_object) && jobj(st, "error")) {
		json_object_put(st);
		free(sraw);
		st = NULL;
		sraw = NULL;
	}
	if (!o.json && rc == CLI_OK && ready)
		rc = cli_json_check(&o, "/readyz", ready, ready_fields, N_FIELDS(ready_fields));
	if (!o.json && rc == CLI_OK && cfg)
		rc = cli_json_check(&o, "/api/v1/config", cfg, config_fields,
				    N_FIELDS(config_fields));
	if (!o.json && rc == CLI_OK && st)
		rc = cli_json_check(&o, "/api/v1/status", st, status_fields,
				    N_FIELDS(status_fields));
	if (ready && (cfg || cfg_withheld) && rc == CLI_OK) {
		if (o.json)
			printf("{\"readiness\":%s,\"config\":%s,\"status\":%s}\n", chomp(rraw),
			       craw ? chomp(craw) : "null", sraw ? chomp(sraw) : "null");
		else
			print_status(&o, ready, cfg, st);
	}
	json_object_put(ready);
	json_object_put(cfg);
	json_object_put(st);
	free(rraw);
	free(craw);
	free(sraw);
	cli_qopts_free(&o);
	return rc;
}
