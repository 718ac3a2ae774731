/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_conf.h: where the agent meets the exporters, which know nothing of it:
 * their settings made from the Telemetry document, and their log sent to the
 * agent's. The trace and metrics exporters take the same settings. */
#ifndef BPFMESH_OTLP_CONF_H
#define BPFMESH_OTLP_CONF_H

#include "config/config.h"
#include "exporters/otlp_settings.h"

/* The settings for tel's otlp section, for otlp_start(), otlp_reconfigure()
 * and their metrics twins. One allocation, the headers after the struct:
 * free() it. Nothing is cut: every field of the config fits the exporters'
 * sizes. Returns NULL with errno set: EINVAL (tel NULL or without an otlp
 * section), ENOMEM; the exporters refuse a NULL with -EINVAL. */
struct otlp_settings *otlp_conf_from_telemetry(const struct cfg_telemetry *tel);

/* Installs the exporters' log hook (exporters/exp_log.h): each line goes to
 * log_msg() at its level, so the agent's time stamps and verbosity apply.
 * Once, at start. */
void otlp_conf_log_to_agent(void);

#endif
