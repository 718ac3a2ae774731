/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_conf.h: where the agent meets the exporters, which know nothing of it:
 * their log sent to the agent's. */
#ifndef BPFMESH_OTLP_CONF_H
#define BPFMESH_OTLP_CONF_H

/* Installs the exporters' log hook (exporters/exp_log.h): each line goes to
 * log_msg() at its level, so the agent's time stamps and verbosity apply.
 * Once, at start. */
void otlp_conf_log_to_agent(void);

#endif
