/* SPDX-License-Identifier: Apache-2.0 */
/* kube_converge_probe.c: for bench/kube_converge.sh. Posts changes to
 * fake_kube's control port, then watches the pinned load-balancing maps
 * until a service's endpoint set shows the change, and prints how long that
 * took. It reads the maps the connect() hook reads (bpf/lb.h): lb_frontends
 * (service address -> svc_id), lb_services (the active generation and its
 * endpoint count), the generation's endpoint list in lb_slots, and
 * lb_backends (ep_id -> address); so "converged" means what the next
 * connect() would see.
 *
 *   kube_converge_probe --pin DIR --vip A.B.C.D --port N
 *       [--until present|absent --addr A.B.C.D] [--timeout-ms N]
 *       [--ctl HOST:PORT --post PATH[=FILE]]...
 *
 * Without --post it prints the service's endpoint set once. With it: the
 * condition must not hold yet (exit 2); the clock starts right before the
 * first POST is sent; the POSTs go out in order (a body from FILE, else
 * "{}"); then the maps are read every millisecond (the two lookups of
 * lb_frontends and lb_services; the endpoint list only when lb_services
 * changed: the agent flips a generation with one update of it). Prints
 * "ms X post_ms Y polls N n_eps E" once the condition holds; exit 1 on
 * timeout or error. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpf/lb.h"

#define MAX_POSTS 8

struct maps {
	int fe, svc, slots, be;
};

struct view {
	bool have_svc;
	uint32_t svc_id;
	struct lb_svc sv;
	uint32_t n_eps;
	bool found; /* --addr is in the endpoint set */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int open_map(const char *pin, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/%s", pin, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "probe: %s: %s\n", path, strerror(errno));
	return fd;
}

/* The frontend and service value only; false when the service is not in
 * the maps. */
static bool read_svc(const struct maps *m, const struct lb_fe_key *fk, uint32_t *id,
		     struct lb_svc *sv)
{
	struct lb_fe fe;

	if (bpf_map_lookup_elem(m->fe, fk, &fe))
		return false;
	*id = fe.svc_id;
	return !bpf_map_lookup_elem(m->svc, id, sv);
}

/* The active generation's endpoint list; with print, one address a line. */
static void read_eps(const struct maps *m, struct view *v, struct in_addr addr, bool print)
{
	uint32_t gb = v->sv.gen ? LB_SLOT_GEN_BIT : 0;

	v->n_eps = 0;
	v->found = false;
	for (uint32_t i = 0; i < v->sv.n_eps; i++) {
		struct lb_slot_key k = {.svc_id = v->svc_id, .slot = gb | LB_SLOT_LIST_BIT | i};
		struct lb_slot s;
		struct lb_backend be;
		char buf[INET_ADDRSTRLEN];

		if (bpf_map_lookup_elem(m->slots, &k, &s) ||
		    bpf_map_lookup_elem(m->be, &s.ep_id, &be) || be.family != AF_INET)
			continue;
		v->n_eps++;
		if (!memcmp(be.addr, &addr, 4))
			v->found = true;
		if (print)
			printf("%s:%u\n", inet_ntop(AF_INET, be.addr, buf, sizeof(buf)),
			       ntohs(be.port));
	}
}

/* Reads the maps into v; the endpoint list only when the service's value
 * changed since prev (or always, when prev is NULL). */
static void observe(const struct maps *m, const struct lb_fe_key *fk, struct in_addr addr,
		    const struct view *prev, struct view *v)
{
	memset(v, 0, sizeof(*v));
	v->have_svc = read_svc(m, fk, &v->svc_id, &v->sv);
	if (!v->have_svc)
		return;
	if (prev && prev->have_svc && prev->svc_id == v->svc_id &&
	    !memcmp(&prev->sv, &v->sv, sizeof(v->sv))) {
		v->n_eps = prev->n_eps;
		v->found = prev->found;
		return;
	}
	read_eps(m, v, addr, false);
}

/* POST body to http://ctl/path; 0 on a 2xx answer. */
static int post(const struct sockaddr_in *ctl, const char *path, const char *body)
{
	char req[512], resp[512];
	size_t len = strlen(body), off = 0;
	int fd, n, code = 0;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)ctl, sizeof(*ctl))) {
		fprintf(stderr, "probe: connect to the control port: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	n = snprintf(req, sizeof(req),
		     "POST %s HTTP/1.1\r\nHost: fake\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		     path, len);
	if (write(fd, req, (size_t)n) != n)
		goto io;
	while (off < len) {
		ssize_t w = write(fd, body + off, len - off);

		if (w <= 0)
			goto io;
		off += (size_t)w;
	}
	/* the status line is enough; then drain until the server closes */
	n = (int)read(fd, resp, sizeof(resp) - 1);
	if (n <= 0)
		goto io;
	resp[n] = 0;
	if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1)
		code = 0;
	while (read(fd, resp, sizeof(resp)) > 0)
		;
	close(fd);
	if (code / 100 == 2)
		return 0;
	fprintf(stderr, "probe: POST %s: HTTP %d\n", path, code);
	return -1;
io:
	fprintf(stderr, "probe: POST %s: %s\n", path, strerror(errno));
	close(fd);
	return -1;
}

static char *slurp(const char *file)
{
	FILE *f = fopen(file, "r");
	char *buf = NULL;
	long len;

	if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto out;
	buf = malloc((size_t)len + 1);
	if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[len] = 0;
out:
	if (f)
		fclose(f);
	if (!buf)
		fprintf(stderr, "probe: cannot read %s\n", file);
	return buf;
}

static void usage(void)
{
	fprintf(stderr, "usage: kube_converge_probe --pin DIR --vip ADDR --port N "
			"[--until present|absent --addr ADDR] [--timeout-ms N] "
			"[--ctl HOST:PORT --post PATH[=FILE]]...\n");
	exit(1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"pin", required_argument, 0, 'p'},
	    {"vip", required_argument, 0, 'v'},
	    {"port", required_argument, 0, 'P'},
	    {"until", required_argument, 0, 'u'},
	    {"addr", required_argument, 0, 'a'},
	    {"timeout-ms", required_argument, 0, 't'},
	    {"ctl", required_argument, 0, 'c'},
	    {"post", required_argument, 0, 'o'},
	    {0, 0, 0, 0},
	};
	const char *pin = NULL, *until = NULL, *posts[MAX_POSTS];
	struct in_addr vip = {}, addr = {};
	struct sockaddr_in ctl = {.sin_family = AF_INET};
	struct lb_fe_key fk = {};
	struct maps m;
	struct view prev, cur;
	long port = 0, timeout_ms = 30000;
	int n_posts = 0, c;
	bool want;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *colon;

		switch (c) {
		case 'p':
			pin = optarg;
			break;
		case 'v':
			if (inet_pton(AF_INET, optarg, &vip) != 1)
				usage();
			break;
		case 'P':
			port = strtol(optarg, NULL, 10);
			break;
		case 'u':
			until = optarg;
			break;
		case 'a':
			if (inet_pton(AF_INET, optarg, &addr) != 1)
				usage();
			break;
		case 't':
			timeout_ms = strtol(optarg, NULL, 10);
			break;
		case 'c':
			colon = strrchr(optarg, ':');
			if (!colon)
				usage();
			*colon = 0;
			if (inet_pton(AF_INET, optarg, &ctl.sin_addr) != 1)
				usage();
			ctl.sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10));
			break;
		case 'o':
			if (n_posts == MAX_POSTS)
				usage();
			posts[n_posts++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (!pin || port <= 0 || port > 65535 || (n_posts && (!until || !ctl.sin_port)))
		usage();
	if (until && strcmp(until, "present") && strcmp(until, "absent"))
		usage();
	want = until && !strcmp(until, "present");

	m.fe = open_map(pin, "lb_frontends");
	m.svc = open_map(pin, "lb_services");
	m.slots = open_map(pin, "lb_slots");
	m.be = open_map(pin, "lb_backends");
	if (m.fe < 0 || m.svc < 0 || m.slots < 0 || m.be < 0)
		return 1;
	memcpy(fk.addr, &vip, 4);
	fk.port = htons((uint16_t)port);
	fk.proto = IPPROTO_TCP;
	fk.family = AF_INET;

	if (!n_posts) {
		memset(&cur, 0, sizeof(cur));
		cur.have_svc = read_svc(&m, &fk, &cur.svc_id, &cur.sv);
		if (!cur.have_svc) {
			fprintf(stderr, "probe: no service at that address\n");
			return 1;
		}
		read_eps(&m, &cur, addr, true);
		printf("svc_id %u gen %u n_eps %u\n", cur.svc_id, cur.sv.gen, cur.n_eps);
		return 0;
	}

	observe(&m, &fk, addr, NULL, &prev);
	if (!prev.have_svc) {
		fprintf(stderr, "probe: no service at that address before the change\n");
		return 1;
	}
	if (prev.found == want) {
		fprintf(stderr, "probe: the address is already %s before the change\n", until);
		return 2;
	}

	uint64_t t0 = mono_ns(), t_post, deadline = t0 + (uint64_t)timeout_ms * 1000000ULL;
	unsigned long polls = 0;

	for (int i = 0; i < n_posts; i++) {
		char *path = strdup(posts[i]), *eq = strchr(path, '='), *body;
		int rc;

		if (eq)
			*eq = 0;
		body = eq ? slurp(eq + 1) : strdup("{}");
		rc = body ? post(&ctl, path, body) : -1;
		free(body);
		free(path);
		if (rc)
			return 1;
	}
	t_post = mono_ns();
	for (;;) {
		struct timespec ms = {0, 1000000};

		observe(&m, &fk, addr, &prev, &cur);
		polls++;
		if (cur.have_svc && cur.found == want)
			break;
		prev = cur;
		if (mono_ns() > deadline) {
			fprintf(stderr, "probe: not %s after %ld ms (%u endpoints)\n", until,
				timeout_ms, cur.n_eps);
			return 1;
		}
		nanosleep(&ms, NULL);
	}
	printf("ms %.3f post_ms %.3f polls %lu n_eps %u\n", (mono_ns() - t0) / 1e6,
	       (t_post - t0) / 1e6, polls, cur.n_eps);
	return 0;
}
