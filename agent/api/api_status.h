/* SPDX-License-Identifier: Apache-2.0 */
/* api_status.h: GET /api/v1/status: the agent, the kernel features it relies
 * on, what is attached and pinned, and how full the maps are. */
#ifndef BPFMESH_API_STATUS_H
#define BPFMESH_API_STATUS_H

#include "daemon/agent.h"
#include "lib/jsonw.h"
#include "lib/version.h"

/* Called with a->lock held. Walks hash maps key by key (bounded), so it
 * costs a few ms per 10k entries: fine for an operator's query. */
void api_write_status(struct agent *a, struct jsonw *w);

#endif
