/* SPDX-License-Identifier: Apache-2.0 */
/* healthcheck.h: active health checks (TrafficPolicy.healthCheck). A thread
 * of its own probes every endpoint with a non-blocking TCP connect or HTTP
 * GET, so a slow endpoint never holds up the agent; unhealthyThreshold
 * failures eject the endpoint in the kernel, healthyThreshold successes
 * bring it back. */
#ifndef BPFMESH_HEALTHCHECK_H
#define BPFMESH_HEALTHCHECK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "lb/lbmaps.h"

struct hc_target {
	int family;
	uint8_t addr[16];
	uint16_t port;
	uint32_t ep_id;
	char name[96]; /* "ADDR:PORT of ns/svc" for the log */
	bool http;
	char path[1024];
	uint64_t interval_ns, timeout_ns;
	uint32_t healthy_threshold, unhealthy_threshold;
	/* probe state */
	uint32_t ok_run, fail_run;
	bool down; /* ejected by this checker */
	uint64_t due, deadline;
	int fd;
	int phase; /* 0 idle, 1 connecting, 2 waiting for the status line */
	char buf[64];
	size_t got;
	uint64_t probes, failures;
};

struct healthcheck {
	pthread_t thread;
	pthread_mutex_t lock;
	bool running;
	volatile bool stop;
	int health_fd; /* lb_ep_health */
	struct hc_target *t;
	int n;
};

int healthcheck_start(struct healthcheck *hc, int health_fd);
void healthcheck_stop(struct healthcheck *hc);
/* Replace the targets from the configuration in force (keeps the state of
 * targets that stay). Call with the ids in lm current. */
void healthcheck_update(struct healthcheck *hc, const struct mesh_config *cfg,
			const struct lbmaps *lm);

/* Parse an HTTP status line's code ("HTTP/1.1 204 No Content" -> 204), or -1. */
int hc_status_code(const char *line, size_t len);

#endif
