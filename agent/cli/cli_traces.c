/* SPDX-License-Identifier: Apache-2.0 */
/* cli_traces.c: `bpfmesh traces [SERVICE]`: the newest spans the agent
 * built, one line each, from GET /api/v1/traces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_query.h"

/* What the listing reads of /api/v1/traces. */
static const struct jfield traces_fields[] = {
    {"", JT_OBJECT},
    {"spans", JT_ARRAY},
    {"spans[]", JT_OBJECT},
    {"spans[]/startTimeUnixNano", JT_NUMBER},
    {"spans[]/durationMs", JT_NUMBER},
    {"spans[]/service", JT_STRING},
    {"spans[]/traceId", JT_STRING},
    {"spans[]/spanId", JT_STRING},
    {"spans[]/kind", JT_STRING},
    {"spans[]/name", JT_STRING},
    {"spans[]/status", JT_STRING},
    {"spans[]/attributes", JT_OBJECT},
    {"spans[]/attributes/http.response.status_code", JT_NUMBER},
};

static void print_span(json_object *sp, bool with_service)
{
	json_object *attrs = jobj(sp, "attributes");
	uint64_t start = (uint64_t)jint(sp, "startTimeUnixNano");
	time_t secs = (time_t)(start / 1000000000ULL);
	char when[32], code[8] = "-", dur[16];
	struct tm tm;

	strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&secs, &tm));
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03u",
		 (unsigned)(start / 1000000 % 1000));
	if (jint(attrs, "http.response.status_code"))
		snprintf(code, sizeof(code), "%lld",
			 (long long)jint(attrs, "http.response.status_code"));
	snprintf(dur, sizeof(dur), "%.2f", jdbl(sp, "durationMs"));
	printf("%-12s ", when);
	if (with_service)
		printf("%-20s ", jstr(sp, "service"));
	/* 8 of the span id's 16 hex digits tell spans of one trace apart */
	printf("%-32s %-8.8s %-6s %-32s %4s%s %10s\n", jstr(sp, "traceId"), jstr(sp, "spanId"),
	       jstr(sp, "kind"), jstr(sp, "name"), code,
	       !strcmp(jstr(sp, "status"), "ERROR") ? "!" : " ", dur);
}

#define TRACES_HELP                                                                                \
	"Usage: bpfmesh traces [SERVICE] [--limit N] [--json] [--agent ADDR]\n"                    \
	"                      [--token-file FILE]\n"                                              \
	"\n"                                                                                       \
	"The newest spans of SERVICE (of every service when left out), oldest first:\n"            \
	"start time, trace id, span id (first 8 hex digits), kind (SERVER or CLIENT),\n"           \
	"name (METHOD route), HTTP status code (! marks a span with status ERROR)\n"               \
	"and duration in milliseconds. SERVICE is the span's service.name: a\n"                    \
	"Service's name, or the process name of a client outside any Workload.\n"                  \
	"Spans hold request paths: without a token the agent serves them only to\n"                \
	"root (or its own user) on its host.\n"                                                    \
	"\n"                                                                                       \
	"Options:\n"                                                                               \
	"  --limit N            at most N spans, 1 to 1000 (default 20)\n" CLI_QOPTS_HELP

int cli_traces(int argc, char **argv)
{
	struct qopts o;
	json_object *root, *spans;
	char path[1200], *raw, *esc = NULL;
	int rc = cli_parse(argc, argv, &o, QO_LIMIT, 1, TRACES_HELP);

	if (rc >= 0)
		return rc;
	if (o.n_args && !(esc = cli_escape(o.args[0]))) {
		fprintf(stderr, "bpfmesh: out of memory\n");
		cli_qopts_free(&o);
		return CLI_AGENT_ERROR;
	}
	snprintf(path, sizeof(path), "/api/v1/traces?limit=%ld%s%s", o.limit,
		 esc ? "&service=" : "", esc ? esc : "");
	free(esc);
	root = cli_get_json(&o, path, 0, &rc, &raw);
	if (root && !o.json)
		rc = cli_json_check(&o, "/api/v1/traces", root, traces_fields,
				    sizeof(traces_fields) / sizeof(traces_fields[0]));
	if (rc != CLI_OK) {
		/* printed */
	} else if (root && o.json) {
		fputs(raw, stdout);
	} else if (root) {
		spans = jobj(root, "spans");
		int n = jlen(spans);

		if (!n) {
			printf("no spans%s%s yet\n", o.n_args ? " of " : "",
			       o.n_args ? o.args[0] : "");
		} else {
			printf("%-12s ", "TIME");
			if (!o.n_args)
				printf("%-20s ", "SERVICE");
			printf("%-32s %-8s %-6s %-32s %5s %10s\n", "TRACE", "SPAN", "KIND", "NAME",
			       "CODE", "MS");
			/* the API gives the newest first; a log reads oldest first */
			for (int i = n - 1; i >= 0; i--)
				print_span(jat(spans, i), !o.n_args);
		}
	}
	json_object_put(root);
	free(raw);
	cli_qopts_free(&o);
	return rc;
}
