/* SPDX-License-Identifier: Apache-2.0 */
/* cli_query.c: the plumbing of the commands that ask a running agent:
 * options and environment, the bearer token, one GET over libcurl (already
 * linked for OTLP; it brings timeouts, IPv6 and header handling), and the
 * error messages an operator sees when the agent is away or refuses. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "lib/token.h"
#include "cli/cli_query.h"

static const char *const sort_keys[] = {"rps", "errors", "p50", "p99", "name", NULL};

/* HOST:PORT or [V6]:PORT with a port from 1 to 65535; a host name is fine
 * too, curl resolves it. */
static bool valid_addr(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || colon == s || (s[0] == '[' && colon[-1] != ']'))
		return false;
	port = strtol(colon + 1, &end, 10);
	return colon[1] && !*end && port >= 1 && port <= 65535;
}

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "bpfmesh %s: ", cmd);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see `bpfmesh %s --help`)\n", cmd);
	return CLI_USAGE;
}

static int parse_extra(const char *cmd, int opt, const char *arg, struct qopts *o)
{
	char *end;
	int i;

	switch (opt) {
	case 'i':
		o->interval = strtod(arg, &end);
		if (!*arg || *end || !(o->interval >= 0.1 && o->interval <= 3600))
			return usage_error(cmd, "--interval %s: expected seconds from 0.1 to 3600",
					   arg);
		return -1;
	case 's':
		for (i = 0; sort_keys[i] && strcmp(sort_keys[i], arg); i++)
			;
		if (!sort_keys[i])
			return usage_error(cmd, "--sort %s: expected rps, errors, p50, p99 or name",
					   arg);
		o->sort = sort_keys[i];
		return -1;
	case 'n':
		o->iterations = strtol(arg, &end, 10);
		if (!*arg || *end || o->iterations < 1)
			return usage_error(cmd, "--iterations %s: expected a number from 1", arg);
		return -1;
	case 'A': {
		/* every element a valid address; empty ones are not */
		char *copy = strdup(arg), *save = NULL, *tok;
		bool good = copy && *arg && arg[strlen(arg) - 1] != ',' && !strstr(arg, ",,");

		for (tok = copy ? strtok_r(copy, ",", &save) : NULL; good && tok;
		     tok = strtok_r(NULL, ",", &save))
			good = valid_addr(tok);
		free(copy);
		if (!good)
			return usage_error(cmd, "--agents %s: expected HOST:PORT,HOST:PORT,...",
					   arg);
		o->agents = arg;
		o->cluster = true;
		return -1;
	}
	case 'C':
		o->cluster = true;
		return -1;
	case 'K':
		o->kubeconfig = arg;
		o->cluster = true;
		return -1;
	case 'l':
		o->limit = strtol(arg, &end, 10);
		if (!*arg || *end || o->limit < 1 || o->limit > 1000)
			return usage_error(cmd, "--limit %s: expected a number from 1 to 1000",
					   arg);
		return -1;
	}
	return CLI_USAGE;
}

int cli_parse(int argc, char **argv, struct qopts *o, unsigned extra, int max_args,
	      const char *help)
{
	static const struct {
		struct option opt;
		unsigned flag;
	} all[] = {
	    {{"agent", required_argument, 0, 'a'}, 0},
	    {{"token-file", required_argument, 0, 't'}, 0},
	    {{"json", no_argument, 0, 'j'}, 0},
	    {{"help", no_argument, 0, 'h'}, 0},
	    {{"interval", required_argument, 0, 'i'}, QO_INTERVAL},
	    {{"sort", required_argument, 0, 's'}, QO_SORT},
	    {{"iterations", required_argument, 0, 'n'}, QO_ITERATIONS},
	    {{"limit", required_argument, 0, 'l'}, QO_LIMIT},
	    {{"no-endpoints", no_argument, 0, 'E'}, QO_NO_ENDPOINTS},
	    {{"cluster", no_argument, 0, 'C'}, QO_CLUSTER},
	    {{"agents", required_argument, 0, 'A'}, QO_CLUSTER},
	    {{"kubeconfig", required_argument, 0, 'K'}, QO_CLUSTER},
	};
	struct option longopts[sizeof(all) / sizeof(all[0]) + 1] = {};
	const char *cmd = argv[0], *env;
	char err[600];
	int opt, n = 0, rc;

	memset(o, 0, sizeof(*o));
	env = getenv("BPFMESH_AGENT");
	o->agent = env && *env ? env : CLI_DEFAULT_AGENT;
	env = getenv("BPFMESH_TOKEN_FILE");
	o->token_file = env && *env ? env : NULL;
	o->interval = 2;
	o->limit = 20;
	o->endpoints = true;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!all[i].flag || (all[i].flag & extra))
			longopts[n++] = all[i].opt;
	optind = 1;
	opterr = 0; /* our message names the command */
	while ((opt = getopt_long(argc, argv, extra & QO_ITERATIONS ? "hn:" : "h", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'a':
			o->agent = optarg;
			break;
		case 't':
			o->token_file = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'E':
			o->endpoints = false;
			break;
		case 'h':
			fputs(help, stdout);
			return CLI_OK;
		case '?':
			return usage_error(cmd, "%s: unknown option, or its value is missing",
					   argv[optind - 1]);
		default:
			rc = parse_extra(cmd, opt, optarg, o);
			if (rc >= 0)
				return rc;
		}
	}
	o->args = argv + optind;
	o->n_args = argc - optind;
	if (o->n_args > max_args)
		return usage_error(cmd, "unexpected argument '%s'", argv[optind + max_args]);
	if (!valid_addr(o->agent))
		return usage_error(cmd, "--agent %s: expected HOST:PORT or [V6]:PORT", o->agent);
	if (o->token_file) {
		o->token = token_file_read(o->token_file, err, sizeof(err));
		if (!o->token)
			return usage_error(cmd, "--token-file %s", err);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return -1;
}

void cli_qopts_free(struct qopts *o)
{
	if (o->token)
		memset(o->token, 0, strlen(o->token));
	free(o->token);
	o->token = NULL;
	curl_global_cleanup();
}

struct body {
	char *p;
	size_t n;
	bool failed;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb;
	char *np = realloc(b->p, b->n + n + 1);

	if (!np) {
		b->failed = true;
		return 0;
	}
	memcpy(np + b->n, data, n);
	b->n += n;
	np[b->n] = 0;
	b->p = np;
	return n;
}

/* curl says "Couldn't connect to server"; the errno says why. */
static void unreachable(const struct qopts *o, CURL *e, CURLcode res)
{
	long os = 0;
	char why[256];

	curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os);
	if (res == CURLE_OPERATION_TIMEDOUT)
		snprintf(why, sizeof(why), "%s", "timed out");
	else if (os)
		snprintf(why, sizeof(why), "%s", strerror((int)os));
	else
		snprintf(why, sizeof(why), "%s", curl_easy_strerror(res));
	why[0] = tolower((unsigned char)why[0]);
	fprintf(stderr, "bpfmesh: cannot reach the agent at %s: %s (is `bpfmesh agent` running?)\n",
		o->agent, why);
}

int cli_get(const struct qopts *o, const char *path, char **body)
{
	struct curl_slist *hdrs = NULL;
	struct body b = {};
	char url[1024], *auth = NULL;
	long status = -1;
	CURLcode res;
	CURL *e = curl_easy_init();

	*body = NULL;
	if (!e) {
		fprintf(stderr, "bpfmesh: cannot start an HTTP client\n");
		return -1;
	}
	snprintf(url, sizeof(url), "http://%s%s", o->agent, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	/* the agent is local or named exactly: an http_proxy in the
	 * environment must not send our token somewhere else */
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (o->token && asprintf(&auth, "Authorization: Bearer %s", o->token) > 0)
		hdrs = curl_slist_append(hdrs, auth);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	res = curl_easy_perform(e);
	if (res == CURLE_OK && !b.failed) {
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		*body = b.p ? b.p : strdup("");
		b.p = NULL;
	} else if (b.failed) {
		fprintf(stderr, "bpfmesh: out of memory reading the agent's answer\n");
	} else {
		unreachable(o, e, res);
	}
	free(b.p);
	curl_slist_free_all(hdrs);
	if (auth)
		memset(auth, 0, strlen(auth));
	free(auth);
	curl_easy_cleanup(e);
	return (int)status;
}

json_object *cli_get_json(const struct qopts *o, const char *path, int also_ok, int *rc, char **raw)
{
	json_object *root, *err;
	char *body;
	int st;

	if (raw)
		*raw = NULL;
	st = cli_get(o, path, &body);
	if (st < 0) {
		*rc = CLI_USAGE;
		return NULL;
	}
	root = json_tokener_parse(body);
	if (root)
		cli_json_printable(root);
	if (st == 200 || (also_ok && st == also_ok)) {
		if (!root)
			fprintf(stderr, "bpfmesh: %s from the agent at %s is not JSON\n", path,
				o->agent);
		if (raw && root)
			*raw = body;
		else
			free(body);
		*rc = root ? CLI_OK : CLI_AGENT_ERROR;
		return root;
	}
	err = root ? jobj(root, "error") : NULL;
	if (!err)
		cli_printable(body, body, strlen(body) + 1); /* never longer */
	fprintf(stderr, "bpfmesh: %s: the agent answered %d: %s\n", path, st,
		err ? json_object_get_string(err) : body);
	if (st == 401)
		fprintf(stderr, "bpfmesh: %s\n",
			o->token ? "the token in --token-file is not the agent's"
				 : "the agent wants a token: pass --token-file FILE or set "
				   "BPFMESH_TOKEN_FILE");
	else if (st == 403)
		fprintf(stderr, "bpfmesh: run this as root on the agent's host, or give the agent "
				"--api-token-file and this command --token-file FILE\n");
	else if (st == 421)
		fprintf(stderr,
			"bpfmesh: the agent does not answer to the name in --agent %s: use "
			"its --listen address, or add the name to its --api-allowed-hosts\n",
			o->agent);
	json_object_put(root);
	free(body);
	*rc = CLI_AGENT_ERROR;
	return NULL;
}

static const char *type_name(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	case json_type_int:
	case json_type_double:
		return "a number";
	case json_type_boolean:
		return "a boolean";
	default:
		return "null";
	}
}

static bool has_type(json_object *v, enum jtype t)
{
	switch (t) {
	case JT_OBJECT:
		return json_object_is_type(v, json_type_object);
	case JT_ARRAY:
		return json_object_is_type(v, json_type_array);
	case JT_STRING:
		return json_object_is_type(v, json_type_string);
	case JT_NUMBER:
		return json_object_is_type(v, json_type_int) ||
		       json_object_is_type(v, json_type_double);
	case JT_BOOL:
		return json_object_is_type(v, json_type_boolean);
	}
	return false;
}

static const char *const jtype_names[] = {
    [JT_OBJECT] = "an object", [JT_ARRAY] = "an array", [JT_STRING] = "a string",
    [JT_NUMBER] = "a number",  [JT_BOOL] = "a boolean",
};

struct jcheck {
	const struct qopts *o;
	const char *what;
	char name[512]; /* the field where we are, as jq writes it */
};

static bool jwrong(struct jcheck *jc, json_object *v, enum jtype want)
{
	fprintf(stderr, "bpfmesh: %s from the agent at %s: %s is %s, expected %s\n", jc->what,
		jc->o->agent, jc->name[0] ? jc->name : ".", type_name(v), jtype_names[want]);
	return false;
}

/* Walk path from v, which is the field jc->name; false after printing the
 * first field of a wrong type. */
static bool jwalk(struct jcheck *jc, json_object *v, const char *path, enum jtype want)
{
	size_t at = strlen(jc->name), klen;
	const char *slash, *key_end;
	char key[128];
	bool each_elem = false, each_member = false, ok = true;
	json_object *child;

	if (!v || json_object_is_type(v, json_type_null))
		return true;
	if (!*path)
		return has_type(v, want) || jwrong(jc, v, want);
	if (!json_object_is_type(v, json_type_object))
		return jwrong(jc, v, JT_OBJECT);
	slash = strchr(path, '/');
	key_end = slash ? slash : path + strlen(path);
	if (key_end - path >= 2 && !strncmp(key_end - 2, "[]", 2)) {
		each_elem = true;
		key_end -= 2;
	} else if (key_end - path >= 2 && !strncmp(key_end - 2, "{}", 2)) {
		each_member = true;
		key_end -= 2;
	}
	klen = (size_t)(key_end - path);
	snprintf(key, sizeof(key), "%.*s", (int)klen, path);
	path = slash ? slash + 1 : key_end + strlen(key_end);
	child = jobj(v, key);
	if (!child)
		return true;
	snprintf(jc->name + at, sizeof(jc->name) - at, ".%s", key);
	if (each_elem || each_member) {
		size_t at2 = strlen(jc->name);

		if (each_elem && !json_object_is_type(child, json_type_array))
			ok = jwrong(jc, child, JT_ARRAY);
		else if (each_member && !json_object_is_type(child, json_type_object))
			ok = jwrong(jc, child, JT_OBJECT);
		for (size_t i = 0; ok && each_elem && i < json_object_array_length(child); i++) {
			snprintf(jc->name + at2, sizeof(jc->name) - at2, "[%zu]", i);
			ok = jwalk(jc, json_object_array_get_idx(child, i), path, want);
		}
		if (ok && each_member) {
			json_object_object_foreach(child, k, mv)
			{
				snprintf(jc->name + at2, sizeof(jc->name) - at2, ".%s", k);
				ok = jwalk(jc, mv, path, want);
				if (!ok)
					break;
			}
		}
	} else {
		ok = jwalk(jc, child, path, want);
	}
	jc->name[at] = 0;
	return ok;
}

int cli_json_check(const struct qopts *o, const char *what, json_object *doc,
		   const struct jfield *fields, size_t n)
{
	struct jcheck jc = {.o = o, .what = what};

	for (size_t i = 0; i < n; i++)
		if (!jwalk(&jc, doc, fields[i].path, fields[i].type))
			return CLI_AGENT_ERROR;
	return CLI_OK;
}

/* The length of the UTF-8 character at s, and whether it prints: not a
 * control character (C0, DEL, C1). A byte that starts no valid sequence
 * is one character that does not. */
static size_t utf8_char(const unsigned char *s, bool *prints)
{
	unsigned c = s[0], n, cp;

	*prints = false;
	if (c < 0x80) {
		*prints = c >= 0x20 && c != 0x7f;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 1;
	for (unsigned i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, past U+10FFFF: no character */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp > 0x10ffff)
		return 1;
	*prints = cp > 0x9f; /* C1 controls: U+0080..U+009F */
	return n;
}

void cli_printable(const char *s, char *out, size_t out_len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	while (*p && o + 1 < out_len) {
		bool prints;
		size_t n = utf8_char(p, &prints);

		if (!prints) {
			out[o++] = '?';
			p += n;
			continue;
		}
		if (o + n >= out_len)
			break;
		memmove(out + o, p, n); /* out may be s (in place): never ahead of it */
		o += n;
		p += n;
	}
	out[o] = '\0';
}

static bool printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		bool prints;

		p += utf8_char(p, &prints);
		if (!prints)
			return false;
	}
	return true;
}

void cli_json_printable(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_string: {
		const char *s = json_object_get_string(v);
		size_t len = strlen(s) + 1;
		char *c;

		if (printable(s) || !(c = malloc(len)))
			return;
		cli_printable(s, c, len);
		json_object_set_string(v, c);
		free(c);
		return;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++)
			cli_json_printable(json_object_array_get_idx(v, i));
		return;
	case json_type_object: {
		json_object_object_foreach(v, key, val)
		{
			(void)key;
			cli_json_printable(val);
		}
		return;
	}
	default:
		return;
	}
}

char *cli_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0), *r = e ? strdup(e) : NULL;

	curl_free(e);
	return r;
}

json_object *jobj(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

const char *jstr(json_object *o, const char *k)
{
	json_object *v = jobj(o, k);

	return v ? json_object_get_string(v) : "";
}

int64_t jint(json_object *o, const char *k)
{
	json_object *v = jobj(o, k);

	return v ? json_object_get_int64(v) : 0;
}

double jdbl(json_object *o, const char *k)
{
	json_object *v = jobj(o, k);

	return v ? json_object_get_double(v) : NAN;
}

bool jbool(json_object *o, const char *k)
{
	json_object *v = jobj(o, k);

	return v && json_object_get_boolean(v);
}

int jlen(json_object *a)
{
	return json_object_is_type(a, json_type_array) ? (int)json_object_array_length(a) : 0;
}

json_object *jat(json_object *a, int i)
{
	return i >= 0 && i < jlen(a) ? json_object_array_get_idx(a, i) : NULL;
}

void fmt_ms(char *buf, size_t len, double ms)
{
	if (isnan(ms) || ms < 0)
		snprintf(buf, len, "-");
	else if (ms < 10)
		snprintf(buf, len, "%.2fms", ms);
	else if (ms < 1000)
		snprintf(buf, len, "%.1fms", ms);
	else
		snprintf(buf, len, "%.2fs", ms / 1000);
}

static double figs_value(const struct svc_figs *f, const char *key)
{
	if (!strcmp(key, "rps"))
		return f->rps;
	if (!strcmp(key, "errors"))
		return f->err;
	return !strcmp(key, "p50") ? f->p50 : f->p99;
}

int svc_figs_cmp(const void *pa, const void *pb, void *key)
{
	const struct svc_figs *a = pa, *b = pb;

	if (strcmp(key, "name")) {
		double va = figs_value(a, key), vb = figs_value(b, key);

		if (isnan(va) != isnan(vb))
			return isnan(va) ? 1 : -1;
		if (!isnan(va) && va != vb)
			return va > vb ? -1 : 1;
	}
	return strcmp(a->name, b->name);
}

void svc_figs_cells(const struct svc_figs *f, char rps[16], char err[16], char p50[16],
		    char p99[16])
{
	snprintf(rps, 16, "-");
	snprintf(err, 16, "-");
	if (!isnan(f->rps))
		snprintf(rps, 16, f->rps < 10 ? "%.2f" : "%.1f", f->rps);
	if (!isnan(f->err))
		snprintf(err, 16, "%.1f%%", 100 * f->err);
	fmt_ms(p50, 16, f->p50);
	fmt_ms(p99, 16, f->p99);
}
