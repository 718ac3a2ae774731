/* SPDX-License-Identifier: Apache-2.0 */
/* terminate.c: socket iterators see the sockets of the namespace of whoever
 * creates them, so each namespace is entered by a short-lived thread
 * (setns() changes only the calling thread) that creates and drains the
 * tcp and udp iterators there. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/log.h"
#include "lb/terminate.h"

#define MAX_NETNS 1024

int terminator_init(struct terminator *t, struct bpf_program *tcp, struct bpf_program *udp,
		    int term_fd, const char *cgroup)
{
	memset(t, 0, sizeof(*t));
	t->term_fd = term_fd;
	snprintf(t->cgroup, sizeof(t->cgroup), "%s", cgroup);
	/* not loaded on this kernel: the loader said so once */
	if (!tcp || !udp || bpf_program__fd(tcp) < 0 || bpf_program__fd(udp) < 0)
		return -EOPNOTSUPP;
	t->tcp = bpf_program__attach_iter(tcp, NULL);
	t->udp = bpf_program__attach_iter(udp, NULL);
	if (!t->tcp || !t->udp) {
		log_warn("socket iterators unavailable (%s): terminateConnections will not work",
			 strerror(errno));
		return -errno;
	}
	return 0;
}

void terminator_free(struct terminator *t)
{
	bpf_link__destroy(t->tcp);
	bpf_link__destroy(t->udp);
	t->tcp = t->udp = NULL;
}

struct ns_set {
	int fd[MAX_NETNS];
	ino_t ino[MAX_NETNS];
	int n;
};

static void add_pid_netns(struct ns_set *s, const char *pid)
{
	char path[64];
	struct stat st;
	int fd, i;

	if (s->n == MAX_NETNS)
		return;
	snprintf(path, sizeof(path), "/proc/%s/ns/net", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st)) {
		close(fd);
		return;
	}
	for (i = 0; i < s->n; i++) {
		if (s->ino[i] == st.st_ino) {
			close(fd);
			return;
		}
	}
	s->fd[s->n] = fd;
	s->ino[s->n++] = st.st_ino;
}

/* Every process in the cgroup and its descendants. */
static void walk_cgroup(struct ns_set *s, const char *dir, int depth)
{
	char path[1024], line[32];
	struct dirent *de;
	FILE *f;
	DIR *d;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = 0;
			add_pid_netns(s, line);
		}
		fclose(f);
	}
	if (depth > 32 || !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		walk_cgroup(s, path, depth + 1);
	}
	closedir(d);
}

struct ns_job {
	struct terminator *t;
	int netns_fd;
	int destroyed;
	int err;
};

static int drain_iter(struct bpf_link *link)
{
	char buf[4096];
	int fd = bpf_iter_create(bpf_link__fd(link)), n = 0;
	ssize_t r;

	if (fd < 0)
		return -errno;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		n += r;
	close(fd);
	return r < 0 ? -errno : n;
}

static void *ns_thread(void *arg)
{
	struct ns_job *j = arg;
	int a, b;

	if (j->netns_fd >= 0 && setns(j->netns_fd, CLONE_NEWNET)) {
		j->err = -errno;
		return NULL;
	}
	a = drain_iter(j->t->tcp);
	b = drain_iter(j->t->udp);
	j->destroyed = (a > 0 ? a : 0) + (b > 0 ? b : 0);
	j->err = a < 0 ? a : b < 0 ? b : 0;
	return NULL;
}

int terminator_run(struct terminator *t, const struct lb_be_key *keys, int n, int *netns)
{
	static struct ns_set s;
	__u32 one = 1;
	int i, total = 0;

	*netns = 0;
	if (!t->tcp || !t->udp || n <= 0)
		return 0;
	for (i = 0; i < n; i++)
		bpf_map_update_elem(t->term_fd, &keys[i], &one, BPF_ANY);
	s.n = 0;
	add_pid_netns(&s, "self");
	walk_cgroup(&s, t->cgroup, 0);
	for (i = 0; i < s.n; i++) {
		struct ns_job j = {.t = t, .netns_fd = s.fd[i]};
		pthread_t th;

		if (pthread_create(&th, NULL, ns_thread, &j) == 0) {
			pthread_join(th, NULL);
			if (j.err)
				log_warn("terminating connections in a namespace: %s",
					 strerror(-j.err));
			total += j.destroyed;
		}
		close(s.fd[i]);
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(t->term_fd, &keys[i]);
	*netns = s.n;
	t->destroyed += total;
	return total;
}

static void key_of(const struct cfg_endpoint *e, uint16_t port, struct lb_be_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, e->addr.addr, e->addr.family == AF_INET ? 4 : 16);
	k->port = htons(port);
	k->family = e->addr.family;
}

static bool service_has(const struct cfg_service *s, const struct lb_be_key *k)
{
	for (int pi = 0; pi < s->n_ports; pi++) {
		for (int ei = 0; ei < s->n_endpoints; ei++) {
			const struct cfg_endpoint *e = &s->endpoints[ei];
			struct lb_be_key x;

			key_of(e, e->port ? e->port : s->ports[pi].target_port, &x);
			if (!memcmp(&x, k, sizeof(x)))
				return true;
		}
	}
	return false;
}

int terminate_removed(const struct mesh_config *old, const struct mesh_config *cur,
		      struct lb_be_key **out)
{
	int n = 0, cap = 0;

	*out = NULL;
	for (int i = 0; old && i < old->n_policies; i++) {
		const struct cfg_traffic_policy *tp = &old->policies[i];
		const struct cfg_service *s;
		int si;

		if (!tp->outlier_set || !tp->terminate_connections || tp->service_idx < 0)
			continue;
		s = &old->services[tp->service_idx];
		si = cur ? config_find_service(cur, s->meta.ns, s->meta.name) : -1;
		for (int pi = 0; pi < s->n_ports; pi++) {
			for (int ei = 0; ei < s->n_endpoints; ei++) {
				const struct cfg_endpoint *e = &s->endpoints[ei];
				struct lb_be_key k;

				key_of(e, e->port ? e->port : s->ports[pi].target_port, &k);
				if (si >= 0 && service_has(&cur->services[si], &k))
					continue;
				if (n == cap) {
					void *nk =
					    realloc(*out, (cap = cap ? 2 * cap : 8) * sizeof(k));

					if (!nk)
						return n;
					*out = nk;
				}
				(*out)[n++] = k;
			}
		}
	}
	return n;
}
