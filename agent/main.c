/* SPDX-License-Identifier: Apache-2.0 */
/* main.c: `bpfmesh COMMAND`: dispatch to the agent or an operator command. */
#include <stdio.h>
#include <string.h>

#include "cmd_agent.h"
#include "cli/cli.h"
#include "lib/version.h"

static void usage(FILE *f)
{
	fputs("Usage: bpfmesh COMMAND [options]\n"
	      "\n"
	      "A sidecar-less service mesh: kernel load balancing at connect(), run by\n"
	      "one agent per node.\n"
	      "\n"
	      "Commands:\n"
	      "  agent      run the node agent (--config DIR)\n"
	      "  validate   check a configuration directory or file offline\n"
	      "  services   services of a running agent: rate, errors, latency, endpoints\n"
	      "  top        the services table, refreshing in place\n"
	      "  status     the agent, its kernel features, attachments and maps\n"
	      "  traces     the newest spans, of one service or all\n"
	      "  detach     remove every attachment and pin\n"
	      "  manifests  the Kubernetes manifests (CRDs, RBAC, DaemonSet), as YAML\n"
	      "\n"
	      "`bpfmesh COMMAND --help` describes each command; `bpfmesh --version`\n"
	      "prints the version.\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("bpfmesh %s\n", BPFMESH_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "agent"))
		return cmd_agent(argc - 1, argv + 1);
	if (!strcmp(argv[1], "validate"))
		return cli_validate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "detach"))
		return cli_detach(argc - 1, argv + 1);
	if (!strcmp(argv[1], "services"))
		return cli_services(argc - 1, argv + 1);
	if (!strcmp(argv[1], "top"))
		return cli_top(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return cli_status(argc - 1, argv + 1);
	if (!strcmp(argv[1], "traces"))
		return cli_traces(argc - 1, argv + 1);
	if (!strcmp(argv[1], "manifests"))
		return cli_manifests(argc - 1, argv + 1);
	fprintf(stderr, "bpfmesh: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
