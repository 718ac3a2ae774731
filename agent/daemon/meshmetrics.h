/* SPDX-License-Identifier: Apache-2.0 */
/* meshmetrics.h: the mesh's own metrics (bpfmesh.*): connections, load
 * balancer selections, endpoint health and ejections, breaker state,
 * refusals, capture events and drops, span and export counters, config
 * reloads, collected from the agent into a neutral list (metrics/meshset.h)
 * that /metrics and the OTLP metrics export both write out. */
#ifndef BPFMESH_MESHMETRICS_H
#define BPFMESH_MESHMETRICS_H

#include "metrics/meshset.h"

struct agent;

/* Reads the agent (lock held). 0 or -ENOMEM (what was collected stays). */
int meshmetrics_collect(struct agent *a, struct mm_set *set);

#endif
