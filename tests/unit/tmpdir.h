/* SPDX-License-Identifier: Apache-2.0 */
/* tmpdir.h: the config tests' fixture, one temporary directory per test
 * (cmocka setup/teardown; *state is its path), and a file written into it.
 * Header-only: each test binary is one translation unit. */
#ifndef BPFMESH_TEST_TMPDIR_H
#define BPFMESH_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int setup(void **state)
{
	char *dir = strdup("/tmp/bpfmesh-test-config-XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

/* rm -r without following symlinks (lstat) */
static void remove_tree(const char *path)
{
	char sub[4096];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (lstat(path, &st))
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			remove_tree(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static int teardown(void **state)
{
	remove_tree(*state);
	free(*state);
	return 0;
}

/* dir/name := text */
static void put(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

#endif
