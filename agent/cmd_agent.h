/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_agent.h: the `bpfmesh agent` command. */
#ifndef BPFMESH_CMD_AGENT_H
#define BPFMESH_CMD_AGENT_H

int cmd_agent(int argc, char **argv);

#endif
