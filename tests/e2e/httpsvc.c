/* SPDX-License-Identifier: Apache-2.0 */
/* httpsvc: a small HTTP/1.1 service for the demo shop and the e2e tests.
 *
 *   httpsvc --name NAME --listen ADDR:PORT [--upstream HOST:PORT[/path]]...
 *           [--delay-ms N] [--timeout-ms N] [--timing] [--no-propagate]
 *
 * GET (or HEAD) of any path answers 200 with
 *   {"service":"NAME","path":"/p","upstreams":[...]}
 * after --delay-ms. With --upstream, every request makes one GET to each
 * upstream, in order, each on a new connection (so a load balancer at
 * connect() chooses per call); the path is the upstream's /path, or the
 * request's own path when none was given. Each upstream's answer appears as
 *   {"upstream":"HOST:PORT","path":"/p","status":200,"service":"...","upstreams":[...]}
 * (its "service" and nested "upstreams" copied from its reply). An upstream
 * that cannot be reached, times out or answers 5xx makes the reply a 502.
 * An incoming traceparent/tracestate is passed on to the upstreams, as an
 * instrumented application would; with --no-propagate it is not, as an
 * application without an SDK would not.
 *
 * GET /healthz answers 200 {"status":"ok","service":"NAME","connections":N,
 * "requests":M} at once, without delay or upstream calls.
 *
 * Broken answers, for tracing tests: GET /_status/NNN answers NNN (its body
 * as above); GET /_cut/MS sends a head that announces 100 body bytes and 5
 * of them, 5 more MS ms later, waits 5 MS ms more and closes the connection
 * (FIN); /_reset/MS does the same and resets it (SO_LINGER 0).
 *
 * With --timing, every answered request prints a line on stdout:
 *   request METHOD TARGET STATUS WIRE_US APP_US
 * its service time, measured two ways from the read that brought the
 * request's first byte to the write of its response's last byte:
 * WIRE_US between the socket's own timestamps of the two (software
 * timestamps: the segment's arrival at the socket, the last byte's hand-over
 * to the device), what a tracer on the wire should see; -1 when a timestamp
 * did not come. APP_US between CLOCK_MONOTONIC reads after the read and
 * after the write returned, which adds the thread's wake-up and scheduling
 * delays.
 *
 * HTTP/1.1 framing: keep-alive by default (HTTP/1.0: only when asked),
 * "Connection: close" honoured, request bodies framed by Content-Length and
 * discarded, pipelined requests answered in order. One thread per connection.
 * Prints "ready" on stdout once listening; SIGTERM/SIGINT close the listener
 * and the open connections and exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define MAX_UPSTREAMS 16
#define BUF_SIZE 65536	    /* per-connection read buffer */
#define MAX_HEAD 16384	    /* request line + headers */
#define MAX_TARGET 2048	    /* request-target */
#define MAX_UP_REPLY 262144 /* an upstream's whole reply */
#define IDLE_MS 60000	    /* keep-alive idle timeout */
#define LINGER_MS 500	    /* draining the client after our last response */
#define SHUTDOWN_WAIT_MS 2000
#define THREAD_STACK (256 * 1024)

struct upstream {
	char host[256];
	char port[8];
	char hostport[272];    /* as written, for Host: and the reply */
	char path[MAX_TARGET]; /* empty: forward the request's path */
};

static struct {
	const char *name;
	struct upstream up[MAX_UPSTREAMS];
	int n_up;
	int delay_ms;
	int timeout_ms;
	bool timing;
	bool no_propagate;
} opt = {.timeout_ms = 3000};

/* Set by the signal handler, read by every thread: atomic accesses, so that
 * the connection threads see it (a plain sig_atomic_t is only for one). */
static volatile sig_atomic_t stop;

/* The open connections, so that SIGTERM can shut them down. */
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static int conns[MAX_CONNS];
static int n_conns;
static unsigned long total_conns, total_reqs;

static void on_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
}

static bool stopping(void) { return __atomic_load_n(&stop, __ATOMIC_RELAXED); }

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void) { return now_ns() / 1000000; }

/* ---- growable string ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void __attribute__((format(printf, 2, 3))) sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[256], *big;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		sb_add(b, tmp, (size_t)n);
		return;
	}
	big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb_add(b, big, (size_t)n);
	free(big);
}

/* s as a JSON string, quotes included. */
static void sb_json(struct sbuf *b, const char *s)
{
	const unsigned char *c;

	sb_add(b, "\"", 1);
	for (c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\') {
			char e[2] = {'\\', (char)*c};

			sb_add(b, e, 2);
		} else if (*c < 0x20 || *c == 0x7f) {
			sb_printf(b, "\\u%04x", *c);
		} else {
			sb_add(b, (const char *)c, 1);
		}
	}
	sb_add(b, "\"", 1);
}

/* ---- sockets ---- */

/* "127.0.0.1:80", "[::1]:80", "localhost:80"; the rest after the port (a
 * path) is returned in *rest. */
static int split_hostport(const char *s, char *host, size_t hlen, char *port, size_t plen,
			  const char **rest)
{
	const char *h = s, *he, *p, *pe;

	if (*s == '[') {
		h = s + 1;
		he = strchr(h, ']');
		if (!he || he[1] != ':')
			return -1;
		p = he + 2;
	} else {
		he = strchr(s, ':');
		if (!he)
			return -1;
		p = he + 1;
	}
	for (pe = p; *pe >= '0' && *pe <= '9'; pe++)
		;
	if (he == h || pe == p || (size_t)(he - h) >= hlen || (size_t)(pe - p) >= plen ||
	    atoi(p) < 1 || atoi(p) > 65535)
		return -1;
	snprintf(host, hlen, "%.*s", (int)(he - h), h);
	snprintf(port, plen, "%.*s", (int)(pe - p), p);
	*rest = pe;
	return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- upstream calls ---- */

struct up_result {
	int status;	     /* 0: no HTTP answer */
	char err[160];	     /* why not */
	struct sbuf service; /* raw JSON string token from the reply, or empty */
	struct sbuf nested;  /* raw JSON array from the reply's "upstreams", or empty */
};

/* Waits for fd until deadline; 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = ev};
		uint64_t now = now_ms();
		int r;

		if (now >= deadline)
			return 0;
		r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r > 0;
	}
}

static int dial(const struct upstream *u, uint64_t deadline, char *err, size_t elen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai, *a;
	int fd = -1, rc, soerr = 0;
	socklen_t sl = sizeof(soerr);

	rc = getaddrinfo(u->host, u->port, &hints, &ai);
	if (rc) {
		snprintf(err, elen, "resolve %s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(err, elen, "socket: %s", strerror(errno));
			continue;
		}
		if (!connect(fd, a->ai_addr, a->ai_addrlen))
			break;
		if (errno == EINPROGRESS) {
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc > 0 && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) && !soerr)
				break;
			snprintf(err, elen, "connect: %s",
				 rc == 0 ? "timed out" : strerror(soerr ? soerr : errno));
		} else {
			snprintf(err, elen, "connect: %s", strerror(errno));
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd >= 0)
		set_nodelay(fd);
	return fd;
}

static const char *skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* p at the opening quote; returns past the closing one, or NULL. */
static const char *skip_string(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

static const char *skip_value(const char *p, const char *e)
{
	int depth = 0;

	if (p >= e)
		return NULL;
	if (*p == '"')
		return skip_string(p, e);
	if (*p != '{' && *p != '[') {
		while (p < e && !strchr(",}] \t\r\n", *p))
			p++;
		return p;
	}
	for (; p < e; p++) {
		if (*p == '"') {
			p = skip_string(p, e);
			if (!p)
				return NULL;
			p--;
		} else if (*p == '{' || *p == '[') {
			depth++;
		} else if ((*p == '}' || *p == ']') && --depth == 0) {
			return p + 1;
		}
	}
	return NULL;
}

/* Copies the top-level "service" (a string) and "upstreams" (an array) of a
 * JSON object, as raw tokens: they came from valid JSON, so they stay valid. */
static void scan_reply(const char *p, const char *e, struct up_result *res)
{
	p = skip_ws(p, e);
	if (p >= e || *p != '{')
		return;
	p++;
	for (;;) {
		const char *k, *ke, *v, *ve;

		p = skip_ws(p, e);
		if (p >= e || *p != '"')
			return;
		k = p + 1;
		ke = skip_string(p, e);
		if (!ke)
			return;
		p = skip_ws(ke, e);
		if (p >= e || *p != ':')
			return;
		v = skip_ws(p + 1, e);
		ve = skip_value(v, e);
		if (!ve)
			return;
		if (ke - k - 1 == 7 && !memcmp(k, "service", 7) && *v == '"')
			sb_add(&res->service, v, ve - v);
		else if (ke - k - 1 == 9 && !memcmp(k, "upstreams", 9) && *v == '[')
			sb_add(&res->nested, v, ve - v);
		p = skip_ws(ve, e);
		if (p >= e || *p != ',')
			return;
		p++;
	}
}

/* Content-Length of a response head, -1 when absent. */
static long long head_content_length(const char *head, size_t len)
{
	const char *p = head, *e = head + len;

	while (p < e) {
		const char *nl = memchr(p, '\n', e - p);

		if (!nl)
			break;
		if (nl - p > 15 && !strncasecmp(p, "Content-Length:", 15))
			return strtoll(p + 15, NULL, 10);
		p = nl + 1;
	}
	return -1;
}

struct trace_ctx {
	char traceparent[128];
	char tracestate[512];
};

static void call_upstream(const struct upstream *u, const char *path, const struct trace_ctx *tc,
			  struct up_result *res)
{
	uint64_t deadline = now_ms() + (uint64_t)opt.timeout_ms;
	struct sbuf req = {0}, rep = {0};
	const char *hend = NULL, *body_end;
	long long clen = -1;
	int fd;

	fd = dial(u, deadline, res->err, sizeof(res->err));
	if (fd < 0)
		return;
	sb_printf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, u->hostport);
	sb_printf(&req, "User-Agent: httpsvc/%s\r\nAccept: application/json\r\n", opt.name);
	if (tc->traceparent[0] && !opt.no_propagate)
		sb_printf(&req, "traceparent: %s\r\n", tc->traceparent);
	if (tc->tracestate[0] && !opt.no_propagate)
		sb_printf(&req, "tracestate: %s\r\n", tc->tracestate);
	sb_str(&req, "Connection: close\r\n\r\n");
	if (req.oom || send_all(fd, req.p, req.len)) {
		snprintf(res->err, sizeof(res->err), "send: %s",
			 req.oom ? "out of memory" : strerror(errno));
		goto out;
	}
	for (;;) {
		char buf[8192];
		ssize_t r;
		int w;

		if (hend && clen >= 0 && rep.len >= (size_t)(hend - rep.p) + (size_t)clen)
			break;
		w = wait_fd(fd, POLLIN, deadline);
		if (w <= 0) {
			snprintf(res->err, sizeof(res->err), "read: %s",
				 w == 0 ? "timed out" : strerror(errno));
			goto out;
		}
		r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(res->err, sizeof(res->err), "read: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		if (rep.len + (size_t)r > MAX_UP_REPLY) {
			snprintf(res->err, sizeof(res->err), "reply larger than %d bytes",
				 MAX_UP_REPLY);
			goto out;
		}
		sb_add(&rep, buf, (size_t)r);
		if (!hend && rep.p) {
			const char *m = strstr(rep.p, "\r\n\r\n");

			if (m) {
				hend = m + 4;
				clen = head_content_length(rep.p, hend - rep.p);
			}
		}
	}
	if (!hend || rep.len < 12 || strncmp(rep.p, "HTTP/1.", 7) || rep.p[8] != ' ') {
		snprintf(res->err, sizeof(res->err), "no HTTP response (%zu bytes)", rep.len);
		goto out;
	}
	res->status = atoi(rep.p + 9);
	body_end = rep.p + rep.len;
	if (clen >= 0 && (size_t)clen < (size_t)(body_end - hend))
		body_end = hend + clen;
	scan_reply(hend, body_end, res);
out:
	free(req.p);
	free(rep.p);
	close(fd);
}

/* ---- requests ---- */

struct request {
	char method[16];
	char target[MAX_TARGET];
	int minor; /* HTTP/1.minor */
	bool keep_alive;
	long long content_length;
	struct trace_ctx tc;
};

/* Length of the head (request line, headers, empty line) at the start of
 * buf, 0 when it is not complete. Lines may end in CRLF or a bare LF. */
static size_t find_head_end(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static bool has_token(const char *v, const char *tok)
{
	size_t n = strlen(tok);

	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (!strncasecmp(v, tok, n) &&
		    (!v[n] || v[n] == ',' || v[n] == ' ' || v[n] == '\t'))
			return true;
		while (*v && *v != ',')
			v++;
	}
	return false;
}

/* Parses a head (NUL-terminated, CRLF or LF lines). Returns 0, or the status
 * code to answer with before closing. */
static int parse_head(char *head, struct request *rq)
{
	char *line, *next, *sp1, *sp2, *ver;
	bool conn_close = false, conn_keep = false, have_len = false;

	memset(rq, 0, sizeof(*rq));
	/* RFC 9112 2.2: empty lines before the request line are ignored */
	while (*head == '\r' || *head == '\n')
		head++;
	for (line = head; line && *line; line = next) {
		char *colon, *v, *end;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		end = line + strlen(line);
		if (end > line && end[-1] == '\r')
			*--end = 0;
		if (line == head) {
			sp1 = strchr(line, ' ');
			sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
			if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1)
				return 400;
			*sp1 = *sp2 = 0;
			ver = sp2 + 1;
			if (strlen(line) >= sizeof(rq->method))
				return 501;
			if (strlen(sp1 + 1) >= sizeof(rq->target))
				return 414;
			if (strncmp(ver, "HTTP/", 5))
				return 400;
			if (strncmp(ver, "HTTP/1.", 7) || ver[7] < '0' || ver[7] > '9' || ver[8])
				return 505;
			strcpy(rq->method, line);
			strcpy(rq->target, sp1 + 1);
			rq->minor = ver[7] - '0';
			continue;
		}
		if (!*line)
			break;
		/* obsolete line folding and space before the colon are refused (RFC 9112 5) */
		colon = strchr(line, ':');
		if (*line == ' ' || *line == '\t' || !colon || colon == line || colon[-1] == ' ' ||
		    colon[-1] == '\t')
			return 400;
		*colon = 0;
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = 0;
		if (!strcasecmp(line, "Connection")) {
			conn_close |= has_token(v, "close");
			conn_keep |= has_token(v, "keep-alive");
		} else if (!strcasecmp(line, "Content-Length")) {
			char *e;
			long long n;

			if (*v < '0' || *v > '9')
				return 400;
			errno = 0;
			n = strtoll(v, &e, 10);
			if (*e || errno || (have_len && n != rq->content_length))
				return 400;
			rq->content_length = n;
			have_len = true;
		} else if (!strcasecmp(line, "Transfer-Encoding")) {
			/* no way to frame the body without decoding chunks */
			return 501;
		} else if (!strcasecmp(line, "traceparent")) {
			snprintf(rq->tc.traceparent, sizeof(rq->tc.traceparent), "%s", v);
		} else if (!strcasecmp(line, "tracestate")) {
			snprintf(rq->tc.tracestate, sizeof(rq->tc.tracestate), "%s", v);
		}
	}
	if (!rq->method[0])
		return 400;
	rq->keep_alive = rq->minor >= 1 ? !conn_close : conn_keep && !conn_close;
	return 0;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 405:
		return "Method Not Allowed";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

/* Sends a response; *tx_bytes counts what the connection sent. */
static int respond(int fd, int status, const struct request *rq, bool keep, struct sbuf *body,
		   uint64_t *tx_bytes)
{
	struct sbuf out = {0};
	bool head_only = rq && !strcmp(rq->method, "HEAD");
	int rc;

	sb_add(body, "\n", 1);
	sb_printf(&out, "HTTP/1.1 %d %s\r\n", status, reason(status));
	sb_printf(&out, "Server: httpsvc\r\nContent-Type: application/json\r\n");
	sb_printf(&out, "Content-Length: %zu\r\n", body->len);
	if (status == 405)
		sb_str(&out, "Allow: GET, HEAD\r\n");
	if (!keep)
		sb_str(&out, "Connection: close\r\n");
	else if (rq && rq->minor == 0)
		sb_str(&out, "Connection: keep-alive\r\n");
	sb_str(&out, "\r\n");
	if (!head_only)
		sb_add(&out, body->p, body->len);
	rc = out.oom || body->oom ? -1 : send_all(fd, out.p, out.len);
	if (!rc)
		*tx_bytes += out.len;
	free(out.p);
	return rc;
}

static void error_body(struct sbuf *b, const char *msg)
{
	sb_str(b, "{\"service\":");
	sb_json(b, opt.name);
	sb_str(b, ",\"error\":");
	sb_json(b, msg);
	sb_str(b, "}");
}

/* At least ms milliseconds (in ns: a deadline in whole ms could end up to a
 * millisecond early), waking every 100 ms to notice a stop. */
static void pause_ms(int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000;

	while (!stopping() && now_ns() < end) {
		uint64_t left = end - now_ns();
		struct timespec ts = {.tv_sec = 0,
				      .tv_nsec = (long)(left > 100000000 ? 100000000 : left)};

		nanosleep(&ts, NULL);
	}
}

/* The answer to one parsed request; returns the status. */
static int serve(const struct request *rq, struct sbuf *body)
{
	char path[MAX_TARGET], *query;
	const char *t = rq->target;
	int status = 200, i;

	if (strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD")) {
		error_body(body, "only GET and HEAD are served");
		return 405;
	}
	/* absolute-form (a proxy's request) carries scheme and authority */
	if (!strncasecmp(t, "http://", 7)) {
		t = strchr(t + 7, '/');
		if (!t)
			t = "/";
	}
	snprintf(path, sizeof(path), "%s", t);
	query = strchr(path, '?');
	if (query)
		*query++ = 0;

	if (!strcmp(path, "/healthz")) {
		sb_str(body, "{\"status\":\"ok\",\"service\":");
		sb_json(body, opt.name);
		sb_printf(body, ",\"connections\":%lu,\"requests\":%lu}",
			  __atomic_load_n(&total_conns, __ATOMIC_RELAXED),
			  __atomic_load_n(&total_reqs, __ATOMIC_RELAXED));
		return 200;
	}
	if (opt.delay_ms)
		pause_ms(opt.delay_ms);
	if (!strncmp(path, "/_status/", 9)) {
		status = atoi(path + 9);
		if (status < 100 || status > 599)
			status = 200;
	}

	sb_str(body, "{\"service\":");
	sb_json(body, opt.name);
	sb_str(body, ",\"path\":");
	sb_json(body, path);
	if (query && *query) {
		sb_str(body, ",\"query\":");
		sb_json(body, query);
	}
	sb_str(body, ",\"upstreams\":[");
	for (i = 0; i < opt.n_up; i++) {
		const struct upstream *u = &opt.up[i];
		/* without a path of its own, the upstream gets the request's, query included */
		const char *upath = u->path[0] ? u->path : t;
		struct up_result res = {0};

		call_upstream(u, upath, &rq->tc, &res);
		if (i)
			sb_str(body, ",");
		sb_str(body, "{\"upstream\":");
		sb_json(body, u->hostport);
		sb_str(body, ",\"path\":");
		sb_json(body, upath);
		sb_printf(body, ",\"status\":%d", res.status);
		if (res.status) {
			sb_str(body, ",\"service\":");
			if (res.service.len)
				sb_add(body, res.service.p, res.service.len);
			else
				sb_str(body, "null");
			if (res.nested.len) {
				sb_str(body, ",\"upstreams\":");
				sb_add(body, res.nested.p, res.nested.len);
			}
		} else {
			sb_str(body, ",\"error\":");
			sb_json(body, res.err);
		}
		sb_str(body, "}");
		if (!res.status || res.status >= 500)
			status = 502;
		free(res.service.p);
		free(res.nested.p);
	}
	sb_str(body, "]}");
	return status;
}

/* ---- --timing ---- */

/* Software timestamps, reported in CLOCK_REALTIME: RX when a segment
 * reached the socket layer, TX when the last byte of a write went to the
 * device; a TX timestamp comes on the error queue, keyed by the index of
 * that byte in the connection's output (OPT_ID). */
#define TS_RX (SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE)
#define TS_TX (SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY)
#define TX_STAMP_WAIT_MS 100

union cmsg_buf {
	char b[CMSG_SPACE(sizeof(struct scm_timestamping)) +
	       CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6))];
	struct cmsghdr align;
};

/* The software timestamp among m's control messages, 0 when none; *key
 * gets the byte index of a TX timestamp (-1 when none). */
static uint64_t cmsg_stamp(struct msghdr *m, int64_t *key)
{
	uint64_t t = 0;

	*key = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING) {
			struct scm_timestamping ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			t = (uint64_t)ts.ts[0].tv_sec * 1000000000 + (uint64_t)ts.ts[0].tv_nsec;
		} else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
			   (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
			struct sock_extended_err ee;

			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			if (ee.ee_errno == ENOMSG && ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING)
				*key = ee.ee_data;
		}
	}
	return t;
}

/* recv() that also returns the RX timestamp of what it read (of the last
 * segment it read from), 0 when there is none. */
static ssize_t recv_stamped(int fd, char *p, size_t n, uint64_t *rx_ns)
{
	union cmsg_buf ctl;
	struct iovec iov = {.iov_base = p, .iov_len = n};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl.b,
			   .msg_controllen = sizeof(ctl.b)};
	ssize_t r = recvmsg(fd, &m, 0);
	int64_t key;

	*rx_ns = r > 0 ? cmsg_stamp(&m, &key) : 0;
	return r;
}

/* Takes what the error queue holds; returns the TX timestamp of byte index
 * `last` (or a later one), 0 when it is not there. */
static uint64_t drain_tx_stamps(int fd, uint32_t last)
{
	uint64_t found = 0;

	for (;;) {
		union cmsg_buf ctl;
		struct msghdr m = {.msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
		int64_t key;
		uint64_t t;

		if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno == EINTR)
				continue;
			return found;
		}
		t = cmsg_stamp(&m, &key);
		if (t && key >= 0 && (int32_t)((uint32_t)key - last) >= 0)
			found = t;
	}
}

/* The TX timestamp of the connection's last byte sent so far (tx_bytes in
 * all), waiting for it a little: 0 when it did not come. */
static uint64_t tx_stamp(int fd, uint64_t tx_bytes)
{
	uint64_t deadline = now_ms() + TX_STAMP_WAIT_MS;

	for (;;) {
		uint64_t t = drain_tx_stamps(fd, (uint32_t)(tx_bytes - 1));
		struct pollfd p = {.fd = fd};

		if (t)
			return t;
		if (now_ms() >= deadline)
			return 0;
		/* POLLERR: the error queue has something */
		poll(&p, 1, (int)(deadline - now_ms()));
	}
}

/* One --timing line; the lock keeps lines whole, the flush lets a test
 * read them while the service runs. */
static void log_timing(const struct request *rq, int status, uint64_t rx_wire, uint64_t tx_wire,
		       uint64_t rx_app, uint64_t tx_app)
{
	long long wire = rx_wire && tx_wire >= rx_wire ? (long long)(tx_wire - rx_wire) / 1000 : -1;

	flockfile(stdout);
	printf("request %s %s %d %lld %llu\n", rq->method, rq->target, status, wire,
	       (unsigned long long)((tx_app - rx_app) / 1000));
	fflush(stdout);
	funlockfile(stdout);
}

/* ---- connections ---- */

/* Waits for input: 1 ready, 0 idle timeout or shutting down, -1 error. */
static int wait_input(int fd, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (!stopping() && now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, 200);

		if (r < 0 && errno != EINTR)
			return -1;
		/* an error queue with nothing but late --timing stamps is no input */
		if (r > 0 && opt.timing && p.revents == POLLERR) {
			drain_tx_stamps(fd, 0);
			continue;
		}
		if (r > 0)
			return 1;
	}
	return 0;
}

/* After the last response: stop sending, then read what the client may still
 * send (pipelined requests we will not answer) until it closes, so that our
 * close does not turn into a reset that would destroy the response. */
static void linger_close(int fd)
{
	uint64_t end = now_ms() + LINGER_MS;
	char buf[4096];

	shutdown(fd, SHUT_WR);
	while (now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, 50) < 0 && errno != EINTR)
			break;
		if (p.revents && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
	}
}

/* /_cut/MS and /_reset/MS: a response cut after 10 of its 100 bytes.
 * true when rq was one (the connection is then done). */
static bool cut_response(int fd, const struct request *rq)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nServer: httpsvc\r\n"
				   "Content-Length: 100\r\n\r\n01234";
	bool reset = !strncmp(rq->target, "/_reset/", 8);
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	int ms;

	if (!reset && strncmp(rq->target, "/_cut/", 6))
		return false;
	/* the last byte at MS, the close at 6 MS: a span that ends at the
	 * close is told from one that ends at the last byte */
	ms = atoi(rq->target + (reset ? 8 : 6));
	if (send_all(fd, head, sizeof(head) - 1) == 0) {
		pause_ms(ms);
		if (send_all(fd, "56789", 5) == 0)
			pause_ms(5 * ms);
	}
	/* the close that follows (conn_main's) sends RST instead of FIN */
	if (reset)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	return true;
}

static void conn_serve(int fd)
{
	char *buf = malloc(BUF_SIZE + 1);
	size_t len = 0;
	long long skip = 0; /* request body bytes still to discard */
	uint64_t tx_bytes = 0;
	/* --timing: when the first byte in buf came and the latest read, by
	 * the socket's timestamps (wire) and by the clock after the read (app) */
	uint64_t first_wire = 0, last_wire = 0, first_app = 0, last_app = 0;
	bool cut = false;

	if (!buf)
		return;
	while (!stopping()) {
		struct request rq;
		struct sbuf body = {0};
		size_t head;
		int status;
		bool keep;

		if (skip && len) {
			size_t n = (unsigned long long)skip < len ? (size_t)skip : len;

			memmove(buf, buf + n, len - n);
			len -= n;
			skip -= (long long)n;
			/* what follows the body came by the latest read */
			first_wire = last_wire;
			first_app = last_app;
		}
		head = skip ? 0 : find_head_end(buf, len);
		if (!head) {
			ssize_t r;

			if (!skip && len >= MAX_HEAD) {
				error_body(&body, "request head too large");
				respond(fd, 431, NULL, false, &body, &tx_bytes);
				free(body.p);
				break;
			}
			if (wait_input(fd, IDLE_MS) <= 0)
				break;
			r = recv_stamped(fd, buf + len, BUF_SIZE - len, &last_wire);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			last_app = now_ns();
			if (!len) {
				first_wire = last_wire;
				first_app = last_app;
			}
			len += (size_t)r;
			continue;
		}

		char save = buf[head];

		buf[head] = 0;
		status = parse_head(buf, &rq);
		buf[head] = save;
		__atomic_add_fetch(&total_reqs, 1, __ATOMIC_RELAXED);
		if (status) {
			error_body(&body, "malformed or unsupported request");
			respond(fd, status, NULL, false, &body, &tx_bytes);
			free(body.p);
			break;
		}
		uint64_t rx_wire = first_wire, rx_app = first_app;

		memmove(buf, buf + head, len - head);
		len -= head;
		skip = rq.content_length;
		first_wire = last_wire;
		first_app = last_app;

		if (cut_response(fd, &rq)) {
			cut = true; /* no linger: the close (or reset) must come now */
			break;
		}
		status = serve(&rq, &body);
		keep = rq.keep_alive && !stopping();
		if (body.oom) {
			free(body.p);
			break;
		}
		if (respond(fd, status, &rq, keep, &body, &tx_bytes)) {
			free(body.p);
			free(buf);
			return;
		}
		if (opt.timing) {
			uint64_t tx_app = now_ns();

			log_timing(&rq, status, rx_wire, tx_stamp(fd, tx_bytes), rx_app, tx_app);
		}
		free(body.p);
		if (!keep)
			break;
	}
	if (!cut)
		linger_close(fd);
	free(buf);
}

static void *conn_main(void *arg)
{
	int slot = (int)(intptr_t)arg, fd;

	pthread_mutex_lock(&conns_lock);
	fd = conns[slot];
	pthread_mutex_unlock(&conns_lock);

	conn_serve(fd);

	pthread_mutex_lock(&conns_lock);
	conns[slot] = -1;
	n_conns--;
	pthread_mutex_unlock(&conns_lock);
	close(fd);
	return NULL;
}

static int conn_register(int fd)
{
	int i;

	pthread_mutex_lock(&conns_lock);
	for (i = 0; i < MAX_CONNS; i++) {
		if (conns[i] < 0) {
			conns[i] = fd;
			n_conns++;
			break;
		}
	}
	pthread_mutex_unlock(&conns_lock);
	return i < MAX_CONNS ? i : -1;
}

static void conns_shutdown(void)
{
	uint64_t end = now_ms() + SHUTDOWN_WAIT_MS;
	int i, left;

	pthread_mutex_lock(&conns_lock);
	for (i = 0; i < MAX_CONNS; i++)
		if (conns[i] >= 0)
			shutdown(conns[i], SHUT_RDWR);
	pthread_mutex_unlock(&conns_lock);
	do {
		struct timespec ts = {.tv_nsec = 20000000};

		pthread_mutex_lock(&conns_lock);
		left = n_conns;
		pthread_mutex_unlock(&conns_lock);
		if (left)
			nanosleep(&ts, NULL);
	} while (left && now_ms() < end);
}

/* ---- main ---- */

static void set_timestamping(int fd, int flags)
{
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags)))
		fprintf(stderr, "httpsvc %s: SO_TIMESTAMPING: %s\n", opt.name, strerror(errno));
}

static void usage(FILE *f)
{
	fputs("usage: httpsvc --name NAME --listen ADDR:PORT [--upstream HOST:PORT[/path]]...\n"
	      "               [--delay-ms N] [--timeout-ms N] [--timing] [--no-propagate]\n"
	      "  --name NAME         the \"service\" field of every answer\n"
	      "  --listen ADDR:PORT  127.0.0.1:18080, [::1]:18080\n"
	      "  --upstream H:P[/p]  GET http://H:P/p (default: the request's path) for every\n"
	      "                      request, on a new connection; repeatable (at most 16)\n"
	      "  --delay-ms N        wait N ms before answering (not /healthz)\n"
	      "  --timeout-ms N      connect + reply timeout per upstream call (default 3000)\n"
	      "  --timing            print \"request METHOD TARGET STATUS WIRE_US APP_US\" per\n"
	      "                      answered request: first byte read to last byte written\n"
	      "  --no-propagate      do not pass an incoming traceparent/tracestate on to the\n"
	      "                      upstreams (an application without an SDK)\n",
	      f);
}

static int parse_upstream(const char *s, struct upstream *u)
{
	const char *rest;

	if (split_hostport(s, u->host, sizeof(u->host), u->port, sizeof(u->port), &rest))
		return -1;
	if (*rest && *rest != '/')
		return -1;
	if (strlen(rest) >= sizeof(u->path))
		return -1;
	snprintf(u->path, sizeof(u->path), "%s", rest);
	snprintf(u->hostport, sizeof(u->hostport), "%.*s", (int)(rest - s), s);
	return 0;
}

static int open_listener(const char *spec)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
	struct addrinfo *ai;
	char host[256], port[8];
	const char *rest;
	int fd, one = 1, rc;

	if (split_hostport(spec, host, sizeof(host), port, sizeof(port), &rest) || *rest) {
		fprintf(stderr, "httpsvc: bad --listen address %s\n", spec);
		return -1;
	}
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		fprintf(stderr, "httpsvc: --listen %s: %s\n", spec, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 1024)) {
		fprintf(stderr, "httpsvc %s: listening on %s: %s\n", opt.name, spec,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"name", required_argument, 0, 'n'},
	    {"listen", required_argument, 0, 'l'},
	    {"upstream", required_argument, 0, 'u'},
	    {"delay-ms", required_argument, 0, 'd'},
	    {"timeout-ms", required_argument, 0, 't'},
	    {"timing", no_argument, 0, 'T'},
	    {"no-propagate", no_argument, 0, 'P'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	struct sigaction sa = {.sa_handler = on_signal};
	const char *listen_at = NULL;
	pthread_attr_t attr;
	int o, lfd, i;

	while ((o = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (o) {
		case 'n':
			opt.name = optarg;
			break;
		case 'l':
			listen_at = optarg;
			break;
		case 'u':
			if (opt.n_up == MAX_UPSTREAMS ||
			    parse_upstream(optarg, &opt.up[opt.n_up])) {
				fprintf(stderr, "httpsvc: bad or too many --upstream: %s\n",
					optarg);
				return 2;
			}
			opt.n_up++;
			break;
		case 'd':
			opt.delay_ms = atoi(optarg);
			break;
		case 't':
			opt.timeout_ms = atoi(optarg);
			break;
		case 'T':
			opt.timing = true;
			break;
		case 'P':
			opt.no_propagate = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!opt.name || !listen_at || optind != argc || opt.delay_ms < 0 || opt.timeout_ms <= 0) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < MAX_CONNS; i++)
		conns[i] = -1;
	lfd = open_listener(listen_at);
	if (lfd < 0)
		return 1;
	/* on the listener too: a request that comes before accept() is stamped */
	if (opt.timing)
		set_timestamping(lfd, TS_RX);

	/* no SA_RESTART: poll() returns at once on SIGTERM */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	printf("ready\n");
	fflush(stdout);

	while (!stopping()) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		pthread_t th;
		int c, slot;

		if (poll(&p, 1, 200) <= 0)
			continue;
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		set_nodelay(c);
		if (opt.timing)
			set_timestamping(c, TS_RX | TS_TX);
		slot = conn_register(c);
		if (slot < 0) {
			close(c);
			continue;
		}
		__atomic_add_fetch(&total_conns, 1, __ATOMIC_RELAXED);
		if (pthread_create(&th, &attr, conn_main, (void *)(intptr_t)slot)) {
			pthread_mutex_lock(&conns_lock);
			conns[slot] = -1;
			n_conns--;
			pthread_mutex_unlock(&conns_lock);
			close(c);
		}
	}
	close(lfd);
	conns_shutdown();
	fprintf(stderr, "httpsvc %s: %lu connections, %lu requests\n", opt.name,
		__atomic_load_n(&total_conns, __ATOMIC_RELAXED),
		__atomic_load_n(&total_reqs, __ATOMIC_RELAXED));
	return 0;
}
