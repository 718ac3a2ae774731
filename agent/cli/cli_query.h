/* SPDX-License-Identifier: Apache-2.0 */
/* cli_query.h: what the query commands (services, top, status, traces)
 * share: their options, one GET to the agent with its error handling, a
 * type check of the agent's answer against what the command reads, and JSON
 * accessors that tolerate missing fields (older or newer agents). */
#ifndef BPFMESH_CLI_QUERY_H
#define BPFMESH_CLI_QUERY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#define CLI_DEFAULT_AGENT "127.0.0.1:9440"

/* Exit statuses of the query commands. */
enum {
	CLI_OK = 0,
	CLI_AGENT_ERROR = 1, /* the agent answered, with an error */
	CLI_USAGE = 2,	     /* bad options, or no agent to ask */
};

/* Options a command takes besides --agent, --token-file, --json, --help. */
enum {
	QO_INTERVAL = 1 << 0,	/* --interval SECONDS */
	QO_SORT = 1 << 1,	/* --sort KEY */
	QO_ITERATIONS = 1 << 2, /* -n, --iterations N */
	QO_LIMIT = 1 << 3,	/* --limit N */
	QO_NO_ENDPOINTS = 1 << 4,
	QO_CLUSTER = 1 << 5, /* --cluster, --agents LIST, --kubeconfig PATH */
};

/* The exit status of a cluster view that lacks an agent that did not answer. */
#define CLI_PARTIAL 3

struct qopts {
	const char *agent;
	const char *token_file;
	char *token; /* read from token_file */
	bool json;
	double interval; /* seconds */
	const char *sort;
	long iterations; /* 0: until stopped */
	long limit;
	bool endpoints;
	bool cluster;		/* --cluster or --agents */
	const char *agents;	/* --agents: comma-separated HOST:PORT */
	const char *kubeconfig; /* --kubeconfig: find the agents from the API */
	char **args;		/* positional arguments */
	int n_args;
};

/* The options help lines every query command shares. */
#define CLI_QOPTS_HELP                                                                             \
	"  --agent ADDR         the agent's API, HOST:PORT or [V6]:PORT\n"                         \
	"                       (default $BPFMESH_AGENT, else " CLI_DEFAULT_AGENT ")\n"            \
	"  --token-file FILE    send the bearer token in FILE (default $BPFMESH_TOKEN_FILE);\n"    \
	"                       needed when the agent runs with --api-token-file\n"                \
	"  --json               print the API's JSON as it is\n"                                   \
	"  -h, --help           this text\n"                                                       \
	"\n"                                                                                       \
	"Exit status: 0 done, 1 the agent answered with an error (or with fields of\n"             \
	"unexpected types), 2 bad options or the agent cannot be reached.\n"

/* Parse argv for a command taking the shared options plus `extra` (QO_*).
 * Returns -1 to go on, else the exit status (0 after --help). */
int cli_parse(int argc, char **argv, struct qopts *o, unsigned extra, int max_args,
	      const char *help);
void cli_qopts_free(struct qopts *o);

/* GET path from the agent. Returns the HTTP status with the body in *body
 * (malloc'd), or -1 after printing why the agent cannot be reached. */
int cli_get(const struct qopts *o, const char *path, char **body);

/* GET a JSON document answered with 200 (or also_ok, when not 0).
 * NULL after printing the error; *rc gets the exit status. With raw, also
 * the body as the agent sent it (malloc'd), for --json. */
json_object *cli_get_json(const struct qopts *o, const char *path, int also_ok, int *rc,
			  char **raw);

/* The type a field must have when it is there. */
enum jtype {
	JT_OBJECT = 1,
	JT_ARRAY,
	JT_STRING,
	JT_NUMBER, /* integer or not */
	JT_BOOL,
};

/* A field of an answer: keys separated by '/', a key followed by "[]"
 * stands for each element of that array, by "{}" for each member of that
 * object; "" is the document itself. E.g. "services[]/latency/server/rps",
 * "refusals{}". Keys may contain dots ("http.response.status_code"). */
struct jfield {
	const char *path;
	enum jtype type;
};

/* Check doc (from the agent's `what`, e.g. "/api/v1/services") against the
 * fields a command reads, in order: an absent or null field is fine (an
 * older or newer agent), one of another type is not: then print which, as
 * jq names it (".services[2].endpoints is a string, expected an array"),
 * and return CLI_AGENT_ERROR; else CLI_OK. A container on the way must be
 * what the path says too. The printing code may then read the fields
 * without json-c's assertions firing. */
int cli_json_check(const struct qopts *o, const char *what, json_object *doc,
		   const struct jfield *fields, size_t n);

/* Makes every string value in v safe to print on a terminal, in place:
 * control characters (C0, DEL, and C1 as UTF-8 or as a lone byte) and
 * bytes that are no UTF-8 become '?'. What an agent answers comes from the
 * traffic and processes it watched (an HTTP/2 :path, a process name): the
 * CLI must not hand a terminal escape sequences someone put there.
 * cli_get_json applies it to every answer it parses. */
void cli_json_printable(json_object *v);

/* s made printable as cli_json_printable does, into out (out_len > 0;
 * out may be s itself). */
void cli_printable(const char *s, char *out, size_t out_len);

/* Percent-encode a query value; malloc'd. */
char *cli_escape(const char *s);

/* Field accessors: "" / 0 / NAN / NULL when absent or null. */
const char *jstr(json_object *o, const char *k);
int64_t jint(json_object *o, const char *k);
double jdbl(json_object *o, const char *k);
json_object *jobj(json_object *o, const char *k);
bool jbool(json_object *o, const char *k);
/* Array length and element, 0 / NULL for anything but an array (json-c
 * asserts on those). */
int jlen(json_object *a);
json_object *jat(json_object *a, int i);

/* A latency in ms as people read it: 0.42ms, 12.3ms, 1.25s; "-" for NAN. */
void fmt_ms(char *buf, size_t len, double ms);

/* The figures of a line of the services and top tables, one agent's or the
 * cluster's: the first member of each command's row, so that one comparator
 * sorts both. */
struct svc_figs {
	char name[520];		   /* NAME, or NAMESPACE/NAME out of default */
	double rps, err, p50, p99; /* err a fraction, p50/p99 in ms; NAN: no data */
};
/* qsort_r comparator of rows that start with a struct svc_figs, by key
 * ("name", "rps", "errors", "p50", "p99"): biggest first, rows without data
 * last, then by name. */
int svc_figs_cmp(const void *pa, const void *pb, void *key);
/* The RPS, ERR%, P50 and P99 cells of a row ("-" without data). */
void svc_figs_cells(const struct svc_figs *f, char rps[16], char err[16], char p50[16],
		    char p99[16]);

#endif
