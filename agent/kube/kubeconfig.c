/* SPDX-License-Identifier: Apache-2.0 */
/* kubeconfig.c: the connection settings from the service account of a pod or
 * from a kubeconfig file (libyaml's document API), and the bearer token that
 * follows its file as the kubelet rotates it. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "kube/kubeconfig.h"
#include "lib/clock.h"
#include "lib/token.h"

#define KUBECONFIG_MAX (4u << 20) /* a kubeconfig is a few KiB; 4 MiB is not one */
#define TOKEN_MAX_AGE_NS (60ULL * 1000000000ULL)

/* ---- base64 ---------------------------------------------------------- */

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int kube_base64_decode(const char *in, size_t in_len, struct kube_blob *out)
{
	unsigned char *buf = malloc(in_len / 4 * 3 + 4);
	uint32_t acc = 0;
	size_t n = 0, bits = 0, pad = 0;

	out->data = NULL;
	out->len = 0;
	if (!buf)
		return -1;
	for (size_t i = 0; i < in_len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (isspace(c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = b64_value(c);
		/* nothing but padding may follow padding */
		if (v < 0 || pad) {
			free(buf);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
		}
	}
	/* a lone sixth of a byte cannot be the end of a valid encoding */
	if (bits >= 6 || pad > 2) {
		free(buf);
		return -1;
	}
	out->data = buf;
	out->len = n;
	return 0;
}

/* ---- settings lifetime ------------------------------------------------ */

static void blob_clear(struct kube_blob *b)
{
	if (b->data) {
		explicit_bzero(b->data, b->len);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
}

static void token_clear(struct kube_settings *s)
{
	if (s->token) {
		explicit_bzero(s->token, strlen(s->token));
		free(s->token);
	}
	s->token = NULL;
}

void kube_settings_clear(struct kube_settings *s)
{
	blob_clear(&s->ca_data);
	blob_clear(&s->cert_data);
	blob_clear(&s->key_data);
	token_clear(s);
	memset(s, 0, sizeof(*s));
}

static int blob_copy(struct kube_blob *dst, const struct kube_blob *src)
{
	dst->data = NULL;
	dst->len = 0;
	if (!src->data)
		return 0;
	dst->data = malloc(src->len ? src->len : 1);
	if (!dst->data)
		return -ENOMEM;
	memcpy(dst->data, src->data, src->len);
	dst->len = src->len;
	return 0;
}

int kube_settings_copy(struct kube_settings *dst, const struct kube_settings *src)
{
	*dst = *src;
	dst->ca_data = dst->cert_data = dst->key_data = (struct kube_blob){0};
	dst->token = NULL;
	if (blob_copy(&dst->ca_data, &src->ca_data) ||
	    blob_copy(&dst->cert_data, &src->cert_data) ||
	    blob_copy(&dst->key_data, &src->key_data) ||
	    (src->token && !(dst->token = strdup(src->token)))) {
		kube_settings_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

/* ---- shared checks ----------------------------------------------------- */

static void fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* server: an http(s) URL with a host; the trailing '/' goes, so request
 * paths can be appended (a path prefix, as behind Rancher, stays) */
static int set_server(struct kube_settings *s, const char *url, char *why, size_t why_len)
{
	size_t len = strlen(url);
	const char *host;

	if (!strncmp(url, "https://", 8))
		host = url + 8;
	else if (!strncmp(url, "http://", 7))
		host = url + 7;
	else {
		snprintf(why, why_len, "server \"%s\" is not an http:// or https:// URL", url);
		return -1;
	}
	if (!*host || *host == '/' || *host == ':') {
		snprintf(why, why_len, "server \"%s\" has no host", url);
		return -1;
	}
	if (strpbrk(url, " \t\r\n?#")) {
		snprintf(why, why_len, "server \"%s\" has a space, a query or a fragment", url);
		return -1;
	}
	while (len > 0 && url[len - 1] == '/')
		len--;
	if (len >= sizeof(s->server)) {
		snprintf(why, why_len, "server URL longer than %zu bytes", sizeof(s->server) - 1);
		return -1;
	}
	memcpy(s->server, url, len);
	s->server[len] = 0;
	return 0;
}

static int check_readable(const char *path, char *why, size_t why_len)
{
	if (access(path, R_OK)) {
		snprintf(why, why_len, "%.*s: %s", (int)(why_len > 128 ? why_len - 100 : 20), path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- in-cluster -------------------------------------------------------- */

int kube_settings_in_cluster(struct kube_settings *s, const char *sa_dir, char *err, size_t err_len)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char url[KUBE_URL_MAX], why[512];
	char *end;
	long p;

	memset(s, 0, sizeof(*s));
	if (!sa_dir)
		sa_dir = KUBE_SA_DIR;
	if (!host || !*host || !port || !*port) {
		fail(err, err_len,
		     "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both "
		     "set (not in a pod?); give --kubeconfig PATH");
		return -1;
	}
	errno = 0;
	p = strtol(port, &end, 10);
	if (errno || *end || p < 1 || p > 65535) {
		fail(err, err_len, "in-cluster: KUBERNETES_SERVICE_PORT \"%s\" is not a port",
		     port);
		return -1;
	}
	if (strpbrk(host, "/[] \t?#@")) {
		fail(err, err_len, "in-cluster: KUBERNETES_SERVICE_HOST \"%s\" is not a host",
		     host);
		return -1;
	}
	/* an IPv6 address is bracketed in a URL */
	snprintf(url, sizeof(url), strchr(host, ':') ? "https://[%s]:%ld" : "https://%s:%ld", host,
		 p);
	if (set_server(s, url, why, sizeof(why))) {
		fail(err, err_len, "in-cluster: %s", why);
		return -1;
	}
	snprintf(s->origin, sizeof(s->origin), "in-cluster (%.900s)", s->server);
	if ((size_t)snprintf(s->token_file, sizeof(s->token_file), "%s/token", sa_dir) >=
		sizeof(s->token_file) ||
	    (size_t)snprintf(s->ca_file, sizeof(s->ca_file), "%s/ca.crt", sa_dir) >=
		sizeof(s->ca_file)) {
		fail(err, err_len, "in-cluster: service account directory path too long");
		kube_settings_clear(s);
		return -1;
	}
	if (check_readable(s->ca_file, why, sizeof(why))) {
		fail(err, err_len, "in-cluster: the service account's CA certificate %s", why);
		kube_settings_clear(s);
		return -1;
	}
	kube_settings_token(s, true, mono_ns(), why, sizeof(why));
	if (!s->token) {
		fail(err, err_len, "in-cluster: the service account token: %s", why);
		kube_settings_clear(s);
		return -1;
	}
	return 0;
}

/* ---- kubeconfig ---------------------------------------------------------- */

struct kc {
	yaml_document_t doc;
	const char *path;
	char dir[KUBE_PATH_MAX];
	char *err;
	size_t err_len;
};

static yaml_node_t *kc_node(struct kc *k, int id) { return yaml_document_get_node(&k->doc, id); }

static const char *kc_scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *kc_get(struct kc *k, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *name = kc_scalar(kc_node(k, p->key));

		if (name && !strcmp(name, key))
			return kc_node(k, p->value);
	}
	return NULL;
}

/* A string field: NULL when absent or null; -1 (in *bad) when present but
 * not a string, which the caller reports. */
static const char *kc_string(struct kc *k, yaml_node_t *map, const char *key, const char *where,
			     int *bad)
{
	yaml_node_t *n = kc_get(k, map, key);
	const char *v = kc_scalar(n);

	if (!n)
		return NULL;
	if (!v) {
		fail(k->err, k->err_len, "kubeconfig %s: %s: %s is not a string", k->path, where,
		     key);
		*bad = -1;
		return NULL;
	}
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (!strcmp(v, "null") || !strcmp(v, "~") || !*v))
		return NULL;
	return v;
}

/* the entry named `name` of a list such as clusters: [{name, cluster: {...}}] */
static yaml_node_t *kc_named(struct kc *k, yaml_node_t *root, const char *list, const char *name,
			     const char *inner)
{
	yaml_node_t *seq = kc_get(k, root, list);

	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
	     i++) {
		yaml_node_t *e = kc_node(k, *i);
		const char *n = kc_scalar(kc_get(k, e, "name"));

		if (n && !strcmp(n, name)) {
			yaml_node_t *in = kc_get(k, e, inner);

			/* `user: {}` and `user:` (null) both mean an entry with nothing set */
			return in ? in : e;
		}
	}
	return NULL;
}

/* the names of a list's entries, for an error that says what exists */
static void kc_names(struct kc *k, yaml_node_t *root, const char *list, char *out, size_t len)
{
	yaml_node_t *seq = kc_get(k, root, list);
	size_t used = 0;

	out[0] = 0;
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return;
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
	     i++) {
		const char *n = kc_scalar(kc_get(k, kc_node(k, *i), "name"));
		int w;

		if (!n)
			continue;
		w = snprintf(out + used, len - used, "%s\"%s\"", used ? ", " : "", n);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

static int kc_bool(struct kc *k, yaml_node_t *map, const char *key, const char *where, bool *out)
{
	int bad = 0;
	const char *v = kc_string(k, map, key, where, &bad);

	if (bad)
		return -1;
	if (!v)
		return 0;
	if (!strcasecmp(v, "true"))
		*out = true;
	else if (!strcasecmp(v, "false"))
		*out = false;
	else {
		fail(k->err, k->err_len, "kubeconfig %s: %s: %s is \"%s\", not true or false",
		     k->path, where, key, v);
		return -1;
	}
	return 0;
}

/* a path as the kubeconfig means it: relative to the kubeconfig's folder */
static int kc_path(struct kc *k, const char *rel, char *out, const char *where, const char *key)
{
	int n = rel[0] == '/' ? snprintf(out, KUBE_PATH_MAX, "%s", rel)
			      : snprintf(out, KUBE_PATH_MAX, "%s/%s", k->dir, rel);
	char why[KUBE_PATH_MAX + 128];

	if (n < 0 || n >= KUBE_PATH_MAX) {
		fail(k->err, k->err_len, "kubeconfig %s: %s: %s: path too long", k->path, where,
		     key);
		return -1;
	}
	if (check_readable(out, why, sizeof(why))) {
		fail(k->err, k->err_len, "kubeconfig %s: %s: %s %s", k->path, where, key, why);
		return -1;
	}
	return 0;
}

/* `key` (a file) or `key-data` (base64 of the same PEM): the data wins, as
 * it does for kubectl */
static int kc_file_or_data(struct kc *k, yaml_node_t *map, const char *key, const char *where,
			   char *path, struct kube_blob *blob)
{
	char data_key[64];
	int bad = 0;
	const char *file = kc_string(k, map, key, where, &bad);
	const char *data;

	snprintf(data_key, sizeof(data_key), "%s-data", key);
	data = kc_string(k, map, data_key, where, &bad);
	if (bad)
		return -1;
	if (data) {
		if (kube_base64_decode(data, strlen(data), blob) || !blob->len) {
			blob_clear(blob);
			fail(k->err, k->err_len, "kubeconfig %s: %s: %s is not valid base64",
			     k->path, where, data_key);
			return -1;
		}
		return 0;
	}
	if (file)
		return kc_path(k, file, path, where, key);
	return 0;
}

static int kc_cluster(struct kc *k, struct kube_settings *s, yaml_node_t *root, const char *name)
{
	yaml_node_t *c = kc_named(k, root, "clusters", name, "cluster");
	char where[256], names[512], why[512];
	const char *server, *proxy;
	int bad = 0;

	snprintf(where, sizeof(where), "cluster \"%s\"", name);
	if (!c) {
		kc_names(k, root, "clusters", names, sizeof(names));
		fail(k->err, k->err_len, "kubeconfig %s: cluster \"%s\" not found (clusters: %s)",
		     k->path, name, names[0] ? names : "none");
		return -1;
	}
	server = kc_string(k, c, "server", where, &bad);
	if (bad)
		return -1;
	if (!server) {
		fail(k->err, k->err_len, "kubeconfig %s: %s has no server", k->path, where);
		return -1;
	}
	if (set_server(s, server, why, sizeof(why))) {
		fail(k->err, k->err_len, "kubeconfig %s: %s: %s", k->path, where, why);
		return -1;
	}
	if (kc_string(k, c, "tls-server-name", where, &bad) || bad) {
		if (bad)
			return -1;
		fail(k->err, k->err_len,
		     "kubeconfig %s: %s: tls-server-name is not supported; use a server URL whose "
		     "host the certificate names",
		     k->path, where);
		return -1;
	}
	if (kc_file_or_data(k, c, "certificate-authority", where, s->ca_file, &s->ca_data) ||
	    kc_bool(k, c, "insecure-skip-tls-verify", where, &s->insecure_skip_tls_verify))
		return -1;
	proxy = kc_string(k, c, "proxy-url", where, &bad);
	if (bad)
		return -1;
	if (proxy && (size_t)snprintf(s->proxy_url, sizeof(s->proxy_url), "%s", proxy) >=
			 sizeof(s->proxy_url)) {
		fail(k->err, k->err_len, "kubeconfig %s: %s: proxy-url too long", k->path, where);
		return -1;
	}
	return 0;
}

static int kc_user(struct kc *k, struct kube_settings *s, yaml_node_t *root, const char *name)
{
	yaml_node_t *u = kc_named(k, root, "users", name, "user");
	static const char *const unsupported[] = {"exec", "auth-provider", "username", "password",
						  NULL};
	char where[256], names[512], why[KUBE_PATH_MAX + 128];
	const char *token, *token_file;
	bool has_cert, has_key;
	int bad = 0;

	snprintf(where, sizeof(where), "user \"%s\"", name);
	if (!u) {
		kc_names(k, root, "users", names, sizeof(names));
		fail(k->err, k->err_len, "kubeconfig %s: user \"%s\" not found (users: %s)",
		     k->path, name, names[0] ? names : "none");
		return -1;
	}
	for (int i = 0; unsupported[i]; i++) {
		if (kc_get(k, u, unsupported[i])) {
			fail(k->err, k->err_len,
			     "kubeconfig %s: %s: %s credentials are not supported; use token, "
			     "tokenFile or client-certificate and client-key",
			     k->path, where, unsupported[i]);
			return -1;
		}
	}
	if (kc_file_or_data(k, u, "client-certificate", where, s->cert_file, &s->cert_data) ||
	    kc_file_or_data(k, u, "client-key", where, s->key_file, &s->key_data))
		return -1;
	has_cert = s->cert_file[0] || s->cert_data.data;
	has_key = s->key_file[0] || s->key_data.data;
	if (has_cert != has_key) {
		fail(k->err, k->err_len, "kubeconfig %s: %s: %s without %s", k->path, where,
		     has_cert ? "client-certificate" : "client-key",
		     has_cert ? "client-key" : "client-certificate");
		return -1;
	}
	token = kc_string(k, u, "token", where, &bad);
	token_file = kc_string(k, u, "tokenFile", where, &bad);
	if (bad)
		return -1;
	if (token) {
		for (const char *c = token; *c; c++) {
			if (*c < 0x21 || *c > 0x7e) {
				fail(k->err, k->err_len,
				     "kubeconfig %s: %s: the token has a space, a line break or a "
				     "non-ASCII character",
				     k->path, where);
				return -1;
			}
		}
		if (!(s->token = strdup(token))) {
			fail(k->err, k->err_len, "kubeconfig %s: out of memory", k->path);
			return -1;
		}
	}
	/* a token file wins over a static token when both are set, as in
	 * client-go: the file is what rotates */
	if (token_file) {
		if (kc_path(k, token_file, s->token_file, where, "tokenFile"))
			return -1;
		kube_settings_token(s, true, mono_ns(), why, sizeof(why));
		if (why[0]) {
			fail(k->err, k->err_len, "kubeconfig %s: %s: tokenFile: %s", k->path, where,
			     why);
			return -1;
		}
	}
	return 0;
}

static int kc_load(struct kc *k, const char *path, char *buf, size_t *len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		fail(k->err, k->err_len, "kubeconfig %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, KUBECONFIG_MAX + 1, f);
	if (ferror(f)) {
		fail(k->err, k->err_len, "kubeconfig %s: %s", path, strerror(errno));
		fclose(f);
		return -1;
	}
	fclose(f);
	if (n > KUBECONFIG_MAX) {
		fail(k->err, k->err_len, "kubeconfig %s: larger than %u bytes", path,
		     KUBECONFIG_MAX);
		return -1;
	}
	*len = n;
	return 0;
}

static int kc_parse(struct kc *k, struct kube_settings *s, const char *context)
{
	yaml_node_t *root = yaml_document_get_root_node(&k->doc), *ctx;
	const char *cluster, *user;
	char where[256], names[512];
	int bad = 0;

	if (!root || root->type != YAML_MAPPING_NODE) {
		fail(k->err, k->err_len, "kubeconfig %s: not a kubeconfig (no mapping at the top)",
		     k->path);
		return -1;
	}
	if (!context) {
		context = kc_string(k, root, "current-context", "the file", &bad);
		if (bad)
			return -1;
		if (!context) {
			fail(k->err, k->err_len,
			     "kubeconfig %s: current-context is not set; set it (kubectl config "
			     "use-context NAME)",
			     k->path);
			return -1;
		}
	}
	ctx = kc_named(k, root, "contexts", context, "context");
	if (!ctx) {
		kc_names(k, root, "contexts", names, sizeof(names));
		fail(k->err, k->err_len, "kubeconfig %s: context \"%s\" not found (contexts: %s)",
		     k->path, context, names[0] ? names : "none");
		return -1;
	}
	snprintf(where, sizeof(where), "context \"%s\"", context);
	cluster = kc_string(k, ctx, "cluster", where, &bad);
	user = kc_string(k, ctx, "user", where, &bad);
	if (bad)
		return -1;
	if (!cluster) {
		fail(k->err, k->err_len, "kubeconfig %s: %s names no cluster", k->path, where);
		return -1;
	}
	if (kc_cluster(k, s, root, cluster))
		return -1;
	/* a context without a user is anonymous: fine for an http:// test server */
	if (user && kc_user(k, s, root, user))
		return -1;
	snprintf(s->origin, sizeof(s->origin), "kubeconfig %s, context %s", k->path, context);
	return 0;
}

int kube_settings_kubeconfig(struct kube_settings *s, const char *path, const char *context,
			     char *err, size_t err_len)
{
	struct kc k = {.path = path, .err = err, .err_len = err_len};
	yaml_parser_t parser;
	char *buf, *slash;
	size_t len = 0;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	err[0] = 0;
	snprintf(k.dir, sizeof(k.dir), "%s", path);
	slash = strrchr(k.dir, '/');
	if (!slash)
		snprintf(k.dir, sizeof(k.dir), ".");
	else if (slash == k.dir)
		k.dir[1] = 0;
	else
		*slash = 0;
	buf = malloc(KUBECONFIG_MAX + 1);
	if (!buf) {
		fail(err, err_len, "kubeconfig %s: out of memory", path);
		return -1;
	}
	if (kc_load(&k, path, buf, &len))
		goto out_buf;
	if (!yaml_parser_initialize(&parser)) {
		fail(err, err_len, "kubeconfig %s: out of memory", path);
		goto out_buf;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &k.doc)) {
		fail(err, err_len, "kubeconfig %s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
		     parser.problem_mark.column + 1, parser.problem ? parser.problem : "not YAML");
		goto out_parser;
	}
	rc = kc_parse(&k, s, context);
	yaml_document_delete(&k.doc);
out_parser:
	yaml_parser_delete(&parser);
out_buf:
	explicit_bzero(buf, len);
	free(buf);
	if (rc)
		kube_settings_clear(s);
	return rc;
}

/* ---- the bearer token ---------------------------------------------------- */

static bool token_file_changed(const struct kube_settings *s, const struct stat *st)
{
	return !s->token_seen.valid || st->st_dev != s->token_seen.dev ||
	       st->st_ino != s->token_seen.ino || st->st_size != s->token_seen.size ||
	       st->st_mtim.tv_sec != s->token_seen.mtime.tv_sec ||
	       st->st_mtim.tv_nsec != s->token_seen.mtime.tv_nsec ||
	       st->st_ctim.tv_sec != s->token_seen.ctime.tv_sec ||
	       st->st_ctim.tv_nsec != s->token_seen.ctime.tv_nsec;
}

const char *kube_settings_token(struct kube_settings *s, bool force, uint64_t now_ns, char *err,
				size_t err_len)
{
	struct stat st;
	bool have_st, reread;
	char *tok;

	err[0] = 0;
	if (!s->token_file[0])
		return s->token;
	/* stat follows the kubelet's ..data symlink swap to the new file */
	have_st = stat(s->token_file, &st) == 0;
	reread = force || !have_st || token_file_changed(s, &st) ||
		 now_ns - s->token_seen.read_ns >= TOKEN_MAX_AGE_NS;
	if (!reread)
		return s->token;
	tok = token_file_read(s->token_file, err, err_len);
	if (!tok)
		return s->token; /* the last token may still be valid: keep it */
	token_clear(s);
	s->token = tok;
	s->token_seen.valid = have_st;
	if (have_st) {
		s->token_seen.dev = st.st_dev;
		s->token_seen.ino = st.st_ino;
		s->token_seen.size = st.st_size;
		s->token_seen.mtime = st.st_mtim;
		s->token_seen.ctime = st.st_ctim;
	}
	s->token_seen.read_ns = now_ns;
	return s->token;
}
