/* SPDX-License-Identifier: Apache-2.0 */
/* cli_local.c: commands that work without an agent: validate and detach. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "lib/cgroup.h"
#include "cli/cli.h"
#include "config/config.h"
#include "lb/loader.h"

int cli_validate(int argc, char **argv)
{
	struct mesh_config *cfg = NULL;
	struct cfg_errors errs = {};
	int rc, i;

	if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(
		    argc == 2 ? stdout : stderr,
		    "Usage: bpfmesh validate DIR|FILE\n\n"
		    "Check a configuration offline with the agent's own rules. Prints every\n"
		    "error as FILE:LINE:COLUMN: FIELD: message and exits 1 when there is one.\n");
		return argc == 2 ? 0 : 2;
	}
	rc = config_load(argv[1], &cfg, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	if (!rc)
		printf("%s: valid: %d services, %d traffic policies, %d workloads, %d access "
		       "policies, %d telemetry\n",
		       argv[1], cfg->n_services, cfg->n_policies, cfg->n_workloads, cfg->n_access,
		       cfg->telemetry ? 1 : 0);
	config_free(cfg);
	cfg_errors_free(&errs);
	return rc ? 1 : 0;
}

int cli_detach(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"bpffs", required_argument, 0, 'b'},
	    {"cgroup", required_argument, 0, 'g'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	const char *bpffs = "/sys/fs/bpf/bpfmesh", *cg = NULL;
	char cgpath[512];
	int opt, n;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			bpffs = optarg;
			break;
		case 'g':
			cg = optarg;
			break;
		case 'h':
			printf("Usage: bpfmesh detach [--bpffs PATH] [--cgroup PATH]\n\n"
			       "Remove every bpfmesh attachment and pin under PATH (default\n"
			       "/sys/fs/bpf/bpfmesh). With --cgroup, also detach bpfmesh programs\n"
			       "from that cgroup whose pins were lost. Stop the agent first.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (cg && cgroup_resolve(cg, cgpath, sizeof(cgpath)) == 0)
		cg = cgpath;
	n = loader_detach(bpffs, cg);
	if (n < 0) {
		fprintf(stderr, "bpfmesh detach: %s\n", strerror(-n));
		return 1;
	}
	printf("detached %d programs, removed pins under %s\n", n, bpffs);
	return 0;
}
