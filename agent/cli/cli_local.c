/* SPDX-License-Identifier: Apache-2.0 */
/* cli_local.c: commands that work without an agent: validate and detach. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "lb/loader.h"
#include "lib/bpffs.h"
#include "lib/cgroup.h"

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

static void detach_usage(FILE *f)
{
	fprintf(f, "Usage: bpfmesh detach [--bpffs PATH] [--cgroup PATH] [--force]\n"
		   "\n"
		   "Remove every bpfmesh attachment and pin under PATH (default\n"
		   "/sys/fs/bpf/bpfmesh), and the directory. With --cgroup, also detach\n"
		   "bpfmesh programs from that cgroup whose pins were lost.\n"
		   "\n"
		   "PATH is checked as the agent checks it: every directory of it on the\n"
		   "bpffs owned by root and writable by nobody else, no symlink on the way\n"
		   "or in it (symlinks are left in place, and the exit status is then 1).\n"
		   "Where no bpffs is mounted there is nothing to detach (exit status 0).\n"
		   "\n"
		   "Options:\n"
		   "  --bpffs PATH   pin directory (default /sys/fs/bpf/bpfmesh)\n"
		   "  --cgroup PATH  cgroup v2 to clear of unpinned bpfmesh programs\n"
		   "  --force        detach even while an agent holds the pin directory\n"
		   "                 (without it, detach refuses and names the agent's pid;\n"
		   "                 stop the agent first: it would keep running with\n"
		   "                 nothing attached)\n"
		   "  -h, --help     this text\n");
}

int cli_detach(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"bpffs", required_argument, 0, 'b'},
	    {"cgroup", required_argument, 0, 'g'},
	    {"force", no_argument, 0, 'f'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	const char *bpffs = "/sys/fs/bpf/bpfmesh", *cg = NULL, *root;
	bool force = false;
	char cgpath[512];
	int opt, n, left;
	pid_t holder;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			bpffs = optarg;
			break;
		case 'g':
			cg = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			detach_usage(stdout);
			return 0;
		default:
			detach_usage(stderr);
			return 2;
		}
	}
	if (cg && cgroup_resolve(cg, cgpath, sizeof(cgpath)) == 0)
		cg = cgpath;
	n = loader_detach_pins(bpffs, force, &holder, &left);
	if (n == -EBUSY) {
		if (holder)
			fprintf(stderr,
				"bpfmesh detach: pin directory %s is held by pid %d (a running "
				"agent): stop it first, or pass --force to detach under it\n",
				bpffs, (int)holder);
		else
			fprintf(stderr,
				"bpfmesh detach: pin directory %s is held by another process (a "
				"running agent?): stop it first, or pass --force to detach under "
				"it\n",
				bpffs);
		return 1;
	}
	if (n == -ENOENT) {
		root = bpffs_std_root(bpffs);
		if (root && !bpffs_is_at(root))
			printf("bpffs is not mounted at %s: nothing to detach under %s\n", root,
			       bpffs);
		else
			printf("nothing pinned at %s\n", bpffs);
		n = 0;
	} else if (n < 0) {
		/* the reason is logged */
		return 1;
	} else {
		printf("detached %d programs, removed pins under %s\n", n, bpffs);
	}
	if (cg) {
		n = loader_detach_unpinned(cg);
		if (n)
			printf("detached %d unpinned programs from %s\n", n, cg);
	}
	if (left) {
		fprintf(stderr, "bpfmesh detach: left %d entries under %s that are not bpfmesh's\n",
			left, bpffs);
		return 1;
	}
	return 0;
}
