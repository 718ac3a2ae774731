/* SPDX-License-Identifier: Apache-2.0 */
/* cli_cluster.h: the cluster view of `bpfmesh services` and `bpfmesh top`:
 * every agent's latency sketches (GET /api/v1/sketches) merged exactly into
 * one table. The agents: --agents HOST:PORT,..., else the DaemonSet's pods
 * read from the Kubernetes API (--kubeconfig, or in a pod the service
 * account). An agent that does not answer is named in a warning on stderr
 * and the view is partial: exit status CLI_PARTIAL. */
#ifndef BPFMESH_CLI_CLUSTER_H
#define BPFMESH_CLI_CLUSTER_H

#include <stdio.h>

#include "cli/cli_query.h"

/* The option lines of --cluster, --agents and --kubeconfig. */
#define CLI_CLUSTER_HELP                                                                           \
	"  --cluster            every agent of the cluster, sketches merged exactly\n"             \
	"                       (the merged p99 is the p99 of all their requests);\n"              \
	"                       the agents are the DaemonSet's pods (label\n"                      \
	"                       app.kubernetes.io/name=bpfmesh), read from the API\n"              \
	"                       with --kubeconfig or, in a pod, its service account,\n"            \
	"                       and asked on their pod address and --agent's port\n"               \
	"  --agents LIST        the agents to merge instead: HOST:PORT,HOST:PORT,...\n"            \
	"  --kubeconfig PATH    the cluster of --cluster (implies it)\n"

/* The agents' addresses (malloc'd array of malloc'd strings, *n of them),
 * from --agents or the API. CLI_OK, or the exit status after printing why. */
int cli_cluster_agents(const struct qopts *o, char ***addrs, size_t *n);
void cli_cluster_agents_free(char **addrs, size_t n);

/* The DaemonSet's running pods from the API (cli_cluster_discover.c), each
 * as POD_IP:PORT with the port of --agent. */
int cli_cluster_discover(const struct qopts *o, char ***addrs, size_t *n);

/* Asks every agent, merges, and prints the table (or with --json the
 * merged JSON) to out. Returns CLI_OK, CLI_PARTIAL when an agent did not
 * answer, or the failure status when none did. */
int cli_cluster_print(const struct qopts *o, char **addrs, size_t n, FILE *out, const char *sort);

#endif
