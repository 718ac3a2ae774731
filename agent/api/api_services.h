/* SPDX-License-Identifier: Apache-2.0 */
/* api_services.h: JSON views of the configuration in force and of the
 * kernel's per-endpoint counters. */
#ifndef BPFMESH_API_SERVICES_H
#define BPFMESH_API_SERVICES_H

#include <stdint.h>

#include "daemon/agent.h"
#include "lib/jsonw.h"

/* All services (name NULL), or the service name of namespace ns, with
 * their request latency over the last window_s seconds (one service: also
 * by route). Returns 0, or -ENOENT when the named service does not exist. */
int api_write_services(struct agent *a, struct jsonw *w, const char *ns, const char *name,
		       uint32_t window_s);
void api_write_config(struct agent *a, struct jsonw *w);
void api_write_refusals(struct agent *a, struct jsonw *w);
void api_write_tracing(struct agent *a, struct jsonw *w);

#endif
