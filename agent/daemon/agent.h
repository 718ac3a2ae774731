/* SPDX-License-Identifier: Apache-2.0 */
/* agent.h: the daemon's shared state, read by the API thread under lock. */
#ifndef BPFMESH_AGENT_H
#define BPFMESH_AGENT_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api_auth.h"
#include "lb/access.h"
#include "config/config.h"
#include "lb/health.h"
#include "lb/healthcheck.h"
#include "lb/lbmaps.h"
#include "lb/loader.h"
#include "lb/tcguard.h"
#include "lb/terminate.h"
#include "trace/tracing.h"

struct agent_opts {
	const char *config;
	const char *cgroup; /* NULL: root of the cgroup v2 mount */
	const char *bpffs;
	const char *listen;
	uint32_t max_endpoints, max_services;
	const char *api_token_file; /* NULL: the API is open */
	bool metrics_auth;	    /* /metrics needs the token too */
};

struct agent {
	pthread_mutex_t lock;
	struct agent_opts opts;
	char cgroup[512];
	struct loader ld;
	struct lbmaps lm;
	struct health health;
	struct tcguard tcg;
	struct access access;
	struct healthcheck hc;
	struct terminator term;
	struct tracing tracing;
	struct mesh_config *cfg; /* the configuration in force, or NULL */
	bool attached;
	bool applied;		/* cfg is what the maps hold */
	uint64_t reloads;	/* successful applies */
	uint64_t reload_errors; /* rejected configurations */
	char last_error[2048];
	uint64_t started_ns;
	struct api_auth auth; /* set before the API starts, then read-only */
};

extern volatile sig_atomic_t agent_exiting;

int agent_main(int argc, char **argv);

/* Load the config and apply it; on any error the configuration in force
 * stays. Takes the lock. Returns 0 or a negative errno. */
int agent_reload(struct agent *a);

#endif
