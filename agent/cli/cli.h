/* SPDX-License-Identifier: Apache-2.0 */
/* cli.h: the operator commands that are not the agent itself. */
#ifndef BPFMESH_CLI_H
#define BPFMESH_CLI_H

int cli_validate(int argc, char **argv);
int cli_detach(int argc, char **argv);
int cli_services(int argc, char **argv);
int cli_top(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_traces(int argc, char **argv);
int cli_manifests(int argc, char **argv);

#endif
