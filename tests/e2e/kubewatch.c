/* SPDX-License-Identifier: Apache-2.0 */
/* kubewatch.c: agent/kube on its own, for tests/e2e/test_kube_client.sh: it
 * lists and watches the resources named on the command line and writes, at
 * every change, the snapshot (one line per object) and each resource's
 * status to files the test reads. Linked with agent/kube and agent/lib only,
 * which also proves the client needs nothing above lib/.
 *
 * kubewatch (--kubeconfig PATH [--context C] | --in-cluster [--sa-dir DIR])
 *           --out FILE --status FILE [--backoff-ms N] [--backoff-max-ms N]
 *           [--absent-ms N] [--watch-timeout S] [--page-limit N]
 *           [--max-objects N] [-v] RESOURCE...
 * RESOURCE: GROUPVERSION|PLURAL|KIND|ns-or-cluster[|FIELDSELECTOR[|LABELSELECTOR]]
 * Output line: KIND NAMESPACE/NAME RESOURCEVERSION JSON ("-" for no namespace). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/client.h"
#include "lib/log.h"

#define MAX_RES 16

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int write_atomically(const char *path, void (*fill)(FILE *, void *), void *arg)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fill(f, arg);
	if (fclose(f))
		return -1;
	return rename(tmp, path);
}

static void fill_snapshot(FILE *f, void *arg)
{
	const struct kube_snapshot *s = arg;

	fprintf(f, "generation %llu synced %d objects %zu\n", (unsigned long long)s->generation,
		s->synced, s->n);
	for (size_t i = 0; i < s->n; i++) {
		const struct kube_object *o = s->objects[i];

		fprintf(f, "%s %s/%s %s %s\n", o->kind, o->ns[0] ? o->ns : "-", o->name,
			o->resource_version, o->json);
	}
}

struct status_arg {
	struct kube *k;
};

static void fill_status(FILE *f, void *arg)
{
	struct status_arg *a = arg;
	struct kube_resource_status st[MAX_RES];
	size_t n = kube_status(a->k, st, MAX_RES);

	for (size_t i = 0; i < n && i < MAX_RES; i++)
		fprintf(f,
			"%s synced=%d absent=%d watching=%d failing=%d errors=%llu lists=%llu "
			"refused=%llu objects=%zu rv=%s last_error=%s\n",
			st[i].name, st[i].synced, st[i].absent, st[i].watching, st[i].failing,
			(unsigned long long)st[i].errors, (unsigned long long)st[i].lists,
			(unsigned long long)st[i].refused, st[i].objects, st[i].resource_version,
			st[i].last_error);
}

/* GV|PLURAL|KIND|ns|FIELD|LABEL, split in place */
static int parse_resource(char *spec, struct kube_resource *r)
{
	char *f[6] = {0};
	int n = 0;

	for (char *p = spec; n < 6; n++) {
		f[n] = p;
		p = strchr(p, '|');
		if (!p) {
			n++;
			break;
		}
		*p++ = 0;
	}
	if (n < 4)
		return -1;
	*r = (struct kube_resource){.group_version = f[0],
				    .resource = f[1],
				    .kind = f[2],
				    .namespaced = !strcmp(f[3], "ns"),
				    .field_selector = n > 4 ? f[4] : NULL,
				    .label_selector = n > 5 ? f[5] : NULL};
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: kubewatch (--kubeconfig PATH [--context C] | --in-cluster "
			"[--sa-dir DIR]) --out FILE --status FILE [options] "
			"GV|PLURAL|KIND|ns-or-cluster[|FIELD[|LABEL]]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *kubeconfig = NULL, *context = NULL, *sa_dir = NULL, *out = NULL, *status = NULL;
	struct kube_resource res[MAX_RES];
	struct kube_options opt = {0};
	struct kube_settings set;
	struct status_arg sa;
	bool in_cluster = false;
	size_t n_res = 0;
	char err[1024];
	struct kube *k;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

#define OPT(name) (!strcmp(a, name) && v && ++i)
		if (OPT("--kubeconfig"))
			kubeconfig = v;
		else if (OPT("--context"))
			context = v;
		else if (!strcmp(a, "--in-cluster"))
			in_cluster = true;
		else if (OPT("--sa-dir"))
			sa_dir = v;
		else if (OPT("--out"))
			out = v;
		else if (OPT("--status"))
			status = v;
		else if (OPT("--backoff-ms"))
			opt.backoff_initial_ms = (unsigned)atoi(v);
		else if (OPT("--backoff-max-ms"))
			opt.backoff_max_ms = (unsigned)atoi(v);
		else if (OPT("--absent-ms"))
			opt.absent_recheck_ms = (unsigned)atoi(v);
		else if (OPT("--watch-timeout"))
			opt.watch_timeout_s = (unsigned)atoi(v);
		else if (OPT("--page-limit"))
			opt.page_limit = (unsigned)atoi(v);
		else if (OPT("--max-objects"))
			opt.max_objects = (size_t)atol(v);
		else if (!strcmp(a, "-v"))
			log_verbosity = LOG_DEBUG;
		else if (a[0] == '-')
			usage();
		else if (n_res < MAX_RES && !parse_resource(argv[i], &res[n_res]))
			n_res++;
		else
			usage();
#undef OPT
	}
	if (!out || !status || !n_res || in_cluster == (kubeconfig != NULL))
		usage();
	if ((in_cluster ? kube_settings_in_cluster(&set, sa_dir, err, sizeof(err))
			: kube_settings_kubeconfig(&set, kubeconfig, context, err, sizeof(err)))) {
		fprintf(stderr, "kubewatch: %s\n", err);
		return 1;
	}
	k = kube_start(&set, res, n_res, &opt, err, sizeof(err));
	kube_settings_clear(&set);
	if (!k) {
		fprintf(stderr, "kubewatch: %s\n", err);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	sa.k = k;
	fprintf(stderr, "kubewatch: ready\n");
	while (!stop) {
		struct pollfd p = {.fd = kube_fd(k), .events = POLLIN};
		int rc = poll(&p, 1, 200);

		if (rc < 0 && errno != EINTR)
			break;
		if (rc > 0) {
			struct kube_snapshot *s = kube_snapshot(k);

			if (s) {
				write_atomically(out, fill_snapshot, s);
				kube_snapshot_put(s);
			}
		}
		/* the status moves without changes to objects (errors, watches) */
		write_atomically(status, fill_status, &sa);
	}
	kube_stop(k);
	return 0;
}
