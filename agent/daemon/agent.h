/* SPDX-License-Identifier: Apache-2.0 */
/* agent.h: the node agent's state, shared by the main loop (agent/cmd_agent.c)
 * and the API thread (agent/api/), which read it under the lock. */
#ifndef BPFMESH_AGENT_H
#define BPFMESH_AGENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "lb/access.h"
#include "config/config.h"
#include "daemon/exports.h"
#include "daemon/kubesync.h"
#include "lb/health.h"
#include "lb/healthcheck.h"
#include "lb/inject.h"
#include "lb/lbmaps.h"
#include "lb/loader.h"
#include "lb/tcguard.h"
#include "lb/terminate.h"
#include "lib/strmap.h"
#include "trace/tracing.h"

struct agent_opts {
	const char *config;
	const char *cgroup; /* NULL: root of the cgroup v2 mount */
	const char *bpffs;
	const char *listen;
	uint32_t max_endpoints, max_services, max_sockets;
	const char *api_token_file;    /* NULL: the API is open */
	bool metrics_auth;	       /* /metrics needs the token too */
	bool api_open_sensitive;       /* no token: traces and config for anyone */
	const char *api_allowed_hosts; /* --api-allowed-hosts, as given */
	const char *kubeconfig;	       /* --kubeconfig; NULL: in-cluster or none */
	const char *node_name;	       /* --node-name; NULL: $NODE_NAME, else the hostname */
};

struct agent {
	pthread_mutex_t lock;
	struct agent_opts opts;
	char cgroup[512];
	char cgmount[512]; /* the cgroup v2 mount */
	struct loader ld;
	struct lbmaps lm;
	struct health health;
	struct tcguard tcg;
	struct access access;
	struct healthcheck hc;
	struct terminator term;
	struct injector inj; /* traceparent injection, loaded on first need */
	struct tracing tracing;
	struct exports exp;	 /* where spans go: metrics, store, OTLP */
	struct mesh_config *cfg; /* the configuration in force, or NULL */
	bool loaded;		 /* the loader holds the programs and maps */
	bool attached;		 /* every subsystem started */
	bool applied;		 /* cfg is what the maps hold */
	bool apply_pending;	 /* the last config read was not (wholly) written to the maps */
	uint64_t reloads;	 /* successful applies */
	uint64_t reload_errors;	 /* rejected configurations */
	char last_error[2048];
	/* the configuration's warnings at the last load: a new one is logged
	 * once, at warn level (log_new_warnings) */
	struct strmap warned;
	uint64_t started_ns;
	uint64_t missing_retried_ns; /* last retry of absent interfaces */
	/* Kubernetes: NULL in file-only mode. Nothing is applied before every
	 * resource was listed once (an adopted data path keeps what the last
	 * agent wrote meanwhile); kube_waiting says which ones /readyz waits for. */
	struct kubesync *kube;
	char kube_waiting[512];
	uint64_t kube_gen; /* the snapshot generation of the config in force */
	size_t kube_objects;
	int pods_unresolved; /* pod workloads of cfg whose cgroup is not there yet */
	uint64_t pods_rescanned_ns;
};

/* Load and attach (or adopt) the programs and maps under opts.bpffs, start
 * every subsystem. 0, or a negative errno after logging why; either way
 * agent_stop() releases what was started. */
int agent_start(struct agent *a);

/* Load the config (the files, and with Kubernetes the newest objects) and
 * apply it; on any error the configuration in force stays. Takes the lock.
 * Returns 0 or a negative errno (-EAGAIN: the Kubernetes resources are not
 * all listed yet, nothing was applied). */
int agent_reload(struct agent *a);

/* The rings to poll: the health controller's events and the capture's. */
int agent_health_fd(struct agent *a);
int agent_trace_fd(struct agent *a);
/* The cgroups AccessPolicies name: poll the descriptor, then on every loop
 * agent_follow_cgroups() re-applies the policies when one came, went or was
 * made again (takes the lock). */
int agent_cgroups_fd(struct agent *a);
void agent_follow_cgroups(struct agent *a, uint64_t now_mono_ns);
/* Read what the rings hold (health events only when health_events). Takes
 * the lock. */
void agent_consume(struct agent *a, bool health_events);
/* Housekeeping, every 50 ms: endpoint GC, ejection timers, span builder
 * ticks, metrics export, retries of interfaces that were missing. Takes the
 * lock. True when the configuration on disk was not applied for want of
 * room in the maps and the GC just made some: call agent_reload() again. */
bool agent_tick(struct agent *a, uint64_t now_mono_ns);
/* Stop every subsystem; the programs stay attached and pinned. */
void agent_stop(struct agent *a);

#endif
