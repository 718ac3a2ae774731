/* SPDX-License-Identifier: Apache-2.0 */
/* kubesync.h: the agent's side of the Kubernetes API: which resources it
 * watches (Services, EndpointSlices, this node's Pods, Namespaces,
 * ReplicaSets and the bpfmesh.io kinds), when a change is applied (a quiet
 * period after the last one, a bounded delay under a steady stream, never
 * before every resource was listed once), and the objects handed to the
 * configuration as in-memory sources. */
#ifndef BPFMESH_KUBESYNC_H
#define BPFMESH_KUBESYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "kube/client.h"

#define KUBESYNC_QUIET_MS 100	   /* apply this long after the last change */
#define KUBESYNC_MAX_DELAY_MS 1000 /* ... but at most this long after the first */
#define KUBESYNC_MAX_RES 16

struct kubesync {
	struct kube *k;
	char node[CFG_NAME_MAX];
	char origin[2 * KUBE_URL_MAX + 8]; /* where the API server is, for messages */
	struct kube_snapshot *snap;	   /* the newest objects; NULL before the first */
	uint64_t loaded_gen;		   /* the generation last handed to the config */
	uint64_t first_ns, last_ns;	   /* the first and last change not handed over yet */
	bool pending;
	/* the sources of the last kubesync_sources() */
	struct cfg_source *src;
	/* what the config read from them, for the next load (config.h) */
	struct cfg_cache *cache;
	char **names;
	size_t n_src;
};

/* Where the API server is: --kubeconfig PATH when given, else in-cluster
 * when KUBERNETES_SERVICE_HOST and _PORT are set; 1 when neither (file-only
 * mode), 0 with settings filled, -1 with the reason in err. */
int kubesync_settings(struct kube_settings *set, const char *kubeconfig, char *err, size_t err_len);

/* The node name: name when given, else $NODE_NAME, else the hostname. */
void kubesync_node_name(char *buf, size_t len, const char *name);

/* Starts watching; NULL with the reason in err. The settings are copied. */
struct kubesync *kubesync_start(const struct kube_settings *set, const char *node, char *err,
				size_t err_len);
void kubesync_stop(struct kubesync *ks);

/* Poll for POLLIN; then kubesync_read(). */
int kubesync_fd(const struct kubesync *ks);
void kubesync_read(struct kubesync *ks, uint64_t now_ns);

/* Every resource was listed (or found absent) at least once. */
bool kubesync_synced(const struct kubesync *ks);
/* The resources not listed yet, comma-separated ("" when synced). */
void kubesync_waiting(struct kubesync *ks, char *buf, size_t len);

/* Changes wait to be applied and their quiet period (or the longest delay)
 * has passed, and every resource was listed. */
bool kubesync_due(const struct kubesync *ks, uint64_t now_ns);

/* The newest objects as config sources (valid until the next call or the
 * stop); counts them as handed over. 0, or -ENOMEM. */
int kubesync_sources(struct kubesync *ks, const struct cfg_source **src, size_t *n,
		     uint64_t *generation);

/* config_load_cached() of the files at path and the newest objects,
 * through the cache of what the earlier loads read: objects that did not
 * change are not parsed again. The generation and count of the objects
 * handed over as kubesync_sources(). */
int kubesync_load(struct kubesync *ks, const char *path, struct mesh_config **cfg,
		  struct cfg_errors *errs, struct cfg_errors *warns, uint64_t *generation,
		  size_t *n_objects);

/* The resources' state, in the order watched; returns how many. */
size_t kubesync_status(struct kubesync *ks, struct kube_resource_status *out, size_t n);

#endif
