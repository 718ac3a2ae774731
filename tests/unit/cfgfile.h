/* SPDX-License-Identifier: Apache-2.0 */
/* cfgfile.h: for tests that need a configuration, not the loader's details:
 * text written as the one file of a directory and loaded from it.
 * Header-only: each test binary is one translation unit. */
#ifndef BPFMESH_TEST_CFGFILE_H
#define BPFMESH_TEST_CFGFILE_H

#include <stdio.h>

#include "config/config.h"

/* file := text, then *cfg := config_load(dir) (the previous one freed); the
 * text must be valid: the loader's errors are printed and fail the test. */
static const struct mesh_config *cfgfile_load(const char *dir, const char *file,
					      struct mesh_config **cfg, const char *text)
{
	struct cfg_errors errs = {0};
	FILE *fp = fopen(file, "w");
	int rc;

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	config_free(*cfg);
	*cfg = NULL;
	rc = config_load(dir, cfg, &errs);
	for (int i = 0; i < errs.n; i++)
		print_error("config: %s\n", errs.msgs[i]);
	cfg_errors_free(&errs);
	assert_int_equal(rc, 0);
	return *cfg;
}

#endif
