/* SPDX-License-Identifier: Apache-2.0 */
/* client.h: the Kubernetes API client: LIST then WATCH each resource the
 * agent asks for, on a thread of its own, and keep the current objects. It
 * knows nothing of what the objects mean: the agent reads the snapshot's
 * JSON texts as documents.
 *
 * Use: k = kube_start(...); poll kube_fd(k) for POLLIN with the agent's other
 * fds; when readable, s = kube_snapshot(k) (which also clears the fd), use
 * s->objects, kube_snapshot_put(s); kube_stop(k) at exit. */
#ifndef BPFMESH_KUBE_CLIENT_H
#define BPFMESH_KUBE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "kube/kubeconfig.h"

/* One resource to watch. The strings are copied by kube_start. */
struct kube_resource {
	const char *group_version;  /* "v1", "discovery.k8s.io/v1", "bpfmesh.io/v1alpha1" */
	const char *resource;	    /* the plural: "services", "endpointslices" */
	const char *kind;	    /* "Service": set on list items, which come without it */
	bool namespaced;	    /* objects are keyed namespace/name, else name */
	const char *field_selector; /* NULL, or e.g. "spec.nodeName=node-1" */
	const char *label_selector; /* NULL, or e.g. "app=web,tier!=db" */
};

/* Bounds and timings; a zero field takes the default in brackets. */
struct kube_options {
	unsigned backoff_initial_ms; /* [500] first retry after an error, jittered */
	unsigned backoff_max_ms;     /* [30000] the doubling stops here */
	unsigned absent_recheck_ms;  /* [60000] a 404 resource (CRD not installed) is asked again */
	unsigned watch_timeout_s;    /* [300..600 at random] timeoutSeconds of a watch */
	unsigned page_limit;	     /* [500] `limit` of a list page */
	size_t max_objects;	     /* [100000] per resource */
	size_t max_object_bytes;     /* [16 MiB] one object; also the longest watch line */
	size_t max_total_bytes;	     /* [1 GiB] the JSON texts of all resources */
	const char *user_agent;	     /* ["bpfmesh"] */
};

/* One object: immutable, shared by the snapshots that hold it. */
struct kube_object {
	unsigned resource;	 /* index into the resources given to kube_start */
	const char *kind;	 /* the resource's kind, e.g. "EndpointSlice" */
	const char *api_version; /* e.g. "discovery.k8s.io/v1" */
	const char *ns;		 /* "" for a cluster-scoped object */
	const char *name;
	const char *resource_version; /* metadata.resourceVersion, opaque */
	const char *json;	      /* the object, with kind and apiVersion, without
				       * metadata.managedFields */
	size_t json_len;
};

/* Every object of every resource at one moment; read-only, refcounted. */
struct kube_snapshot {
	uint64_t generation; /* grows with every change; equal: the same content */
	bool synced;	     /* every resource was listed (or found absent) at least once */
	size_t n;
	const struct kube_object *const *objects; /* by resource index, namespace, name */
};

/* One resource's state for /api/v1/status and the metrics. */
struct kube_resource_status {
	char name[160];	       /* "services", "endpointslices.discovery.k8s.io" */
	bool synced;	       /* listed (or found absent) at least once */
	bool absent;	       /* the server has no such resource (404; a resource that
				* had objects needs a second 404 a recheck later): empty */
	bool watching;	       /* a watch stream is open now */
	bool failing;	       /* requests fail now (an outage): the last objects stay */
	time_t watching_since; /* wall clock, when the open watch started; 0: none */
	time_t last_error_at;  /* wall clock; 0: never */
	char last_error[256];  /* "" when none yet */
	uint64_t errors;       /* bpfmesh_kube_watch_errors_total{resource} */
	uint64_t lists;	       /* completed lists (the first and every relist) */
	uint64_t refused;      /* objects left out: over a bound */
	size_t objects;
	size_t bytes;
	char resource_version[128]; /* where the watch resumes */
};

struct kube;

/* Starts the client thread: it lists and watches each resource until
 * kube_stop, retrying on every error; the settings and resources are copied.
 * NULL with the reason in err when the arguments or the thread fail. */
struct kube *kube_start(const struct kube_settings *settings, const struct kube_resource *res,
			size_t n_res, const struct kube_options *opts, char *err, size_t err_len);

/* An eventfd that is readable when the objects changed since the last
 * kube_snapshot. */
int kube_fd(const struct kube *k);

/* The current generation, without building a snapshot. */
uint64_t kube_generation(struct kube *k);

/* The current objects; clears kube_fd first, so a change that races with it
 * wakes the caller again. Cheap when nothing changed (the same snapshot is
 * returned). NULL only when out of memory. Release with kube_snapshot_put. */
struct kube_snapshot *kube_snapshot(struct kube *k);
void kube_snapshot_put(struct kube_snapshot *s);

/* Copies the status of up to n resources (in kube_start's order) into out;
 * returns the number of resources. */
size_t kube_status(struct kube *k, struct kube_resource_status *out, size_t n);

/* Stops the thread (at once: open transfers are abandoned), frees
 * everything; snapshots still held stay valid until put. NULL is fine. */
void kube_stop(struct kube *k);

#endif
