/* SPDX-License-Identifier: Apache-2.0 */
/* inject_ids.h: was a CLIENT request's traceparent added by bpfmesh's
 * injection (bpf/inject.bpf.c) on this very connection? The kernel tags
 * the span ids it makes (bpf/inject.h); an application's own header, or one
 * it forwards from another connection, has no valid tag. */
#ifndef BPFMESH_INJECT_IDS_H
#define BPFMESH_INJECT_IDS_H

#include <stdbool.h>
#include <stdint.h>

#include "trace/obs.h"
#include "trace/tracectx.h"

/* key: the injection's key (0: injection off, never ours). o: the request
 * as the sending socket saw it (local and remote addresses and ports). */
bool inject_ids_ours(const struct obs *o, const struct trace_parent *tp, uint64_t key);

#endif
