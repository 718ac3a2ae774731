/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_config.c: the configuration loader (config/), YAML bytes to a
 * validated set or a list of errors, through config_load() itself: the input
 * is written to a memfd once per run and loaded by its /proc/self/fd path,
 * so nothing touches a disk and the loader runs exactly as the agent and
 * `bpfmesh validate` run it (stat, open, read, libyaml, schema, references). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"
#include "fuzz.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fd = memfd_create("fuzz-config.yaml", MFD_CLOEXEC);
	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_errors errs;
	struct mesh_config *cfg = (struct mesh_config *)1;
	int rc, i;

	if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	rc = config_load(path, &cfg, &errs);
	/* a complete set or errors that say why, never both, never neither */
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (!rc) {
		FUZZ_CHECK(cfg && !errs.n);
		FUZZ_CHECK(cfg->n_files == 1);
		for (i = 0; i < cfg->n_services; i++)
			FUZZ_CHECK(cfg->services[i].meta.name[0] && cfg->services[i].meta.ns[0]);
		FUZZ_CHECK(!cfg->telemetry || cfg->telemetry->sampling_ratio >= 0);
	} else {
		FUZZ_CHECK(!cfg);
		FUZZ_CHECK(rc == -ENOMEM || errs.n > 0);
		for (i = 0; i < errs.n; i++)
			FUZZ_CHECK(errs.msgs[i] && !strncmp(errs.msgs[i], path, strlen(path)));
	}
	config_free(cfg);
	cfg_errors_free(&errs);
	return 0;
}
