/* SPDX-License-Identifier: Apache-2.0 */
/* kubesync.c: the resources the agent watches and when their changes are
 * applied (kubesync.h). The client (agent/kube) lists and watches on its own
 * thread; here the main loop takes its snapshots and turns them into the
 * config's in-memory sources. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/kubesync.h"
#include "lib/log.h"

#define MS 1000000ULL

int kubesync_settings(struct kube_settings *set, const char *kubeconfig, char *err, size_t err_len)
{
	memset(set, 0, sizeof(*set));
	if (kubeconfig)
		return kube_settings_kubeconfig(set, kubeconfig, NULL, err, err_len) ? -1 : 0;
	if (!getenv("KUBERNETES_SERVICE_HOST") || !getenv("KUBERNETES_SERVICE_PORT"))
		return 1;
	return kube_settings_in_cluster(set, NULL, err, err_len) ? -1 : 0;
}

void kubesync_node_name(char *buf, size_t len, const char *name)
{
	const char *env = getenv("NODE_NAME");

	if (name && name[0])
		snprintf(buf, len, "%s", name);
	else if (env && env[0])
		snprintf(buf, len, "%s", env);
	else if (gethostname(buf, len))
		snprintf(buf, len, "localhost");
	buf[len - 1] = 0;
}

struct kubesync *kubesync_start(const struct kube_settings *set, const char *node, char *err,
				size_t err_len)
{
	struct kubesync *ks = calloc(1, sizeof(*ks));
	char pods[CFG_NAME_MAX + 16];

	if (!ks) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	snprintf(ks->node, sizeof(ks->node), "%s", node);
	snprintf(ks->origin, sizeof(ks->origin), "%s (%s)", set->server, set->origin);
	snprintf(pods, sizeof(pods), "spec.nodeName=%s", node);
	/* what config_load_sources reads; the RBAC of deploy/kubernetes grants
	 * get/list/watch on exactly these */
	const struct kube_resource res[] = {
	    {"v1", "services", "Service", true, NULL, NULL},
	    {"discovery.k8s.io/v1", "endpointslices", "EndpointSlice", true, NULL, NULL},
	    {"v1", "pods", "Pod", true, pods, NULL},
	    {"v1", "namespaces", "Namespace", false, NULL, NULL},
	    {"apps/v1", "replicasets", "ReplicaSet", true, NULL, NULL},
	    {"bpfmesh.io/v1alpha1", "services", "Service", true, NULL, NULL},
	    {"bpfmesh.io/v1alpha1", "trafficpolicies", "TrafficPolicy", true, NULL, NULL},
	    {"bpfmesh.io/v1alpha1", "accesspolicies", "AccessPolicy", true, NULL, NULL},
	    {"bpfmesh.io/v1alpha1", "telemetries", "Telemetry", true, NULL, NULL},
	    {"bpfmesh.io/v1alpha1", "workloads", "Workload", true, NULL, NULL},
	};
	ks->loaded_gen = UINT64_MAX;
	ks->cache = cfg_cache_new();
	if (!ks->cache) {
		snprintf(err, err_len, "out of memory");
		free(ks);
		return NULL;
	}
	ks->k = kube_start(set, res, sizeof(res) / sizeof(res[0]), NULL, err, err_len);
	if (!ks->k) {
		cfg_cache_free(ks->cache);
		free(ks);
		return NULL;
	}
	return ks;
}

static void free_sources(struct kubesync *ks)
{
	for (size_t i = 0; i < ks->n_src; i++)
		free(ks->names[i]);
	free(ks->names);
	free(ks->src);
	ks->names = NULL;
	ks->src = NULL;
	ks->n_src = 0;
}

void kubesync_stop(struct kubesync *ks)
{
	if (!ks)
		return;
	kube_stop(ks->k);
	kube_snapshot_put(ks->snap);
	free_sources(ks);
	cfg_cache_free(ks->cache);
	free(ks);
}

int kubesync_fd(const struct kubesync *ks) { return ks ? kube_fd(ks->k) : -1; }

void kubesync_read(struct kubesync *ks, uint64_t now)
{
	struct kube_snapshot *s = kube_snapshot(ks->k);

	if (!s)
		return; /* out of memory: the fd wakes us again at the next change */
	kube_snapshot_put(ks->snap);
	ks->snap = s;
	if (s->generation == ks->loaded_gen)
		return;
	if (!ks->pending)
		ks->first_ns = now;
	ks->pending = true;
	ks->last_ns = now;
}

bool kubesync_synced(const struct kubesync *ks) { return ks->snap && ks->snap->synced; }

void kubesync_waiting(struct kubesync *ks, char *buf, size_t len)
{
	struct kube_resource_status st[KUBESYNC_MAX_RES];
	size_t n = kube_status(ks->k, st, KUBESYNC_MAX_RES), off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n && i < KUBESYNC_MAX_RES && off < len; i++)
		if (!st[i].synced)
			off += snprintf(buf + off, len - off, "%s%s", off ? ", " : "", st[i].name);
}

bool kubesync_due(const struct kubesync *ks, uint64_t now)
{
	if (!ks->pending || !kubesync_synced(ks))
		return false;
	return now - ks->last_ns >= KUBESYNC_QUIET_MS * MS ||
	       now - ks->first_ns >= KUBESYNC_MAX_DELAY_MS * MS;
}

int kubesync_sources(struct kubesync *ks, const struct cfg_source **src, size_t *n,
		     uint64_t *generation)
{
	const struct kube_snapshot *s = ks->snap;

	free_sources(ks);
	*src = NULL;
	*n = 0;
	*generation = s ? s->generation : 0;
	if (!s)
		return 0;
	ks->src = calloc(s->n + 1, sizeof(*ks->src));
	ks->names = calloc(s->n + 1, sizeof(*ks->names));
	if (!ks->src || !ks->names) {
		free_sources(ks);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct kube_object *o = s->objects[i];

		/* stands for a file name in the config's messages */
		if (asprintf(&ks->names[i], "k8s:%s/%s%s%s", o->kind, o->ns, o->ns[0] ? "/" : "",
			     o->name) < 0) {
			ks->names[i] = NULL;
			ks->n_src = i;
			free_sources(ks);
			return -ENOMEM;
		}
		ks->src[i] =
		    (struct cfg_source){.name = ks->names[i], .text = o->json, .len = o->json_len};
		ks->n_src = i + 1;
	}
	ks->pending = false;
	ks->loaded_gen = s->generation;
	*src = ks->src;
	*n = ks->n_src;
	return 0;
}

int kubesync_load(struct kubesync *ks, const char *path, struct mesh_config **cfg,
		  struct cfg_errors *errs, struct cfg_errors *warns, uint64_t *generation,
		  size_t *n_objects)
{
	const struct cfg_source *src;
	int rc = kubesync_sources(ks, &src, n_objects, generation);

	if (rc)
		return rc;
	return config_load_cached(path, src, (int)*n_objects, ks->cache, cfg, errs, warns);
}

size_t kubesync_status(struct kubesync *ks, struct kube_resource_status *out, size_t n)
{
	return ks ? kube_status(ks->k, out, n) : 0;
}
