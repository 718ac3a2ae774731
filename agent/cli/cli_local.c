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

/* What was read and left out (a headless Service, an SCTP port, a stopped
 * pod, a kind bpfmesh does not read): the agent would leave it out too. */
static void print_skipped(const struct mesh_config *cfg)
{
	for (int i = 0; i < cfg->n_skipped; i++) {
		const struct cfg_skipped *k = &cfg->skipped[i];

		printf("%s:%d:%d: skipped %s %s%s%s: %s\n", k->origin.file, k->origin.line,
		       k->origin.column, k->kind, k->ns, k->ns[0] ? "/" : "", k->name, k->reason);
	}
}

int cli_validate(int argc, char **argv)
{
	struct mesh_config *cfg = NULL;
	struct cfg_errors errs = {}, warns = {};
	int rc, i;

	if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc == 2 ? stdout : stderr,
			"Usage: bpfmesh validate DIR|FILE\n\n"
			"Check a configuration offline with the agent's own rules. Prints every\n"
			"error as FILE:LINE:COLUMN: FIELD: message and exits 1 when there is one.\n"
			"Objects the agent would read and leave out (a headless or ExternalName\n"
			"Service, an SCTP port, a pod that stopped, a kind it does not read) are\n"
			"listed as FILE:LINE:COLUMN: skipped KIND NAMESPACE/NAME: reason, and\n"
			"warnings (a name defined twice) on stderr; neither fails the check.\n");
		return argc == 2 ? 0 : 2;
	}
	rc = config_load_sources(argv[1], NULL, 0, &cfg, &errs, &warns);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	for (i = 0; i < warns.n; i++)
		fprintf(stderr, "warning: %s\n", warns.msgs[i]);
	if (!rc) {
		print_skipped(cfg);
		printf("%s: valid: %d services, %d traffic policies, %d workloads, %d access "
		       "policies, %d telemetry%s",
		       argv[1], cfg->n_services, cfg->n_policies, cfg->n_workloads, cfg->n_access,
		       cfg->telemetry ? 1 : 0, cfg->n_skipped ? "" : "\n");
		if (cfg->n_skipped)
			printf("; %d objects skipped\n", cfg->n_skipped);
	}
	config_free(cfg);
	cfg_errors_free(&errs);
	cfg_errors_free(&warns);
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
