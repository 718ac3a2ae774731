/* SPDX-License-Identifier: Apache-2.0 */
/* cli_cluster_discover.c: the agents of a cluster, from the Kubernetes API:
 * one LIST of the pods labelled as the DaemonSet's (deploy/kubernetes), with
 * agent/kube's client (the kubeconfig or in-cluster credentials the agent
 * itself uses), then each running pod's address. The DaemonSet's pods use
 * the host network, so the pod address is the node's. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_cluster.h"
#include "kube/client.h"

#define AGENT_SELECTOR "app.kubernetes.io/name=bpfmesh,app.kubernetes.io/component=agent"
#define DISCOVER_TIMEOUT_MS 10000

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static const char *path_str(json_object *o, const char *a, const char *b)
{
	json_object *x = NULL, *y = NULL;

	if (!json_object_object_get_ex(o, a, &x) || !json_object_object_get_ex(x, b, &y) ||
	    !json_object_is_type(y, json_type_string))
		return NULL;
	return json_object_get_string(y);
}

/* Waits until the client has listed the pods once; the snapshot or NULL. */
static struct kube_snapshot *listed(struct kube *k, char *err, size_t err_len)
{
	struct timespec t0;
	struct kube_resource_status st;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {.fd = kube_fd(k), .events = POLLIN};
		struct kube_snapshot *s;
		long left = DISCOVER_TIMEOUT_MS - ms_since(&t0);

		if (left <= 0)
			break;
		poll(&p, 1, left < 200 ? (int)left : 200);
		s = kube_snapshot(k);
		if (s && s->synced)
			return s;
		kube_snapshot_put(s);
	}
	kube_status(k, &st, 1);
	snprintf(err, err_len, "no list of pods from the API server in %d s%s%s",
		 DISCOVER_TIMEOUT_MS / 1000, st.last_error[0] ? ": " : "", st.last_error);
	return NULL;
}

int cli_cluster_discover(const struct qopts *o, char ***addrs, size_t *n)
{
	static const struct kube_resource pods = {
	    .group_version = "v1",
	    .resource = "pods",
	    .kind = "Pod",
	    .namespaced = true,
	    .label_selector = AGENT_SELECTOR,
	};
	struct kube_settings ks = {};
	struct kube_options ko = {.user_agent = "bpfmesh-cli"};
	struct kube_snapshot *s = NULL;
	struct kube *k = NULL;
	const char *port = strrchr(o->agent, ':') + 1; /* cli_parse checked it */
	char err[512] = "", **list = NULL;
	size_t cnt = 0;
	int rc = CLI_USAGE;

	*addrs = NULL;
	*n = 0;
	if (o->kubeconfig) {
		if (kube_settings_kubeconfig(&ks, o->kubeconfig, NULL, err, sizeof(err)))
			goto out;
	} else if (getenv("KUBERNETES_SERVICE_HOST")) {
		if (kube_settings_in_cluster(&ks, NULL, err, sizeof(err)))
			goto out;
	} else {
		snprintf(err, sizeof(err),
			 "--cluster needs --agents LIST, --kubeconfig PATH, or to run in a pod");
		goto out;
	}
	k = kube_start(&ks, &pods, 1, &ko, err, sizeof(err));
	if (!k || !(s = listed(k, err, sizeof(err))))
		goto out;
	rc = CLI_OK;
	for (size_t i = 0; i < s->n; i++) {
		json_object *pod = json_tokener_parse(s->objects[i]->json);
		const char *ip = path_str(pod, "status", "podIP");
		const char *phase = path_str(pod, "status", "phase");
		char **p;

		if (ip && phase && !strcmp(phase, "Running") &&
		    (p = realloc(list, (cnt + 1) * sizeof(*list)))) {
			list = p;
			if (asprintf(&list[cnt], strchr(ip, ':') ? "[%s]:%s" : "%s:%s", ip, port) >
			    0)
				cnt++;
		}
		json_object_put(pod);
	}
	if (!cnt) {
		snprintf(err, sizeof(err), "no running pod labelled %s", AGENT_SELECTOR);
		rc = CLI_AGENT_ERROR;
	}
out:
	if (err[0] && rc != CLI_OK)
		fprintf(stderr, "bpfmesh: cannot find the cluster's agents: %s\n", err);
	kube_snapshot_put(s);
	kube_stop(k);
	kube_settings_clear(&ks);
	if (rc != CLI_OK) {
		cli_cluster_agents_free(list, cnt);
		return rc;
	}
	*addrs = list;
	*n = cnt;
	return CLI_OK;
}
