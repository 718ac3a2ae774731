/* SPDX-License-Identifier: Apache-2.0 */
/* test_pindir.c: the pin directory's trust rule, finding a lock's holder in
 * /proc/locks, the walk's refusals that need no bpffs (relative paths, '..',
 * symlinks, a directory that is not on a bpffs) and where the agent mounts
 * bpffs. The checks on a real bpffs are in tests/e2e/test_pindir.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "lb/pindir.h"
#include "lib/bpffs.h"
#include "lib/log.h"

struct trust_case {
	uid_t owner;
	mode_t mode;
	bool pin_dir;
	uid_t euid;
	enum pd_trust want;
};

static void test_trust(void **state)
{
	static const struct trust_case cases[] = {
	    {0, S_IFDIR | 0700, true, 0, PD_TRUSTED},
	    {0, S_IFDIR | 0755, true, 0, PD_TRUSTED},
	    {0, S_IFDIR | 0770, true, 0, PD_WRITABLE},
	    {0, S_IFDIR | 0757, true, 0, PD_WRITABLE},
	    {0, S_IFDIR | 01777, true, 0, PD_WRITABLE}, /* sticky: not for the pin dir */
	    {0, S_IFDIR | 01777, false, 0, PD_TRUSTED}, /* /sys/fs/bpf itself */
	    {0, S_IFDIR | 0777, false, 0, PD_WRITABLE},
	    {0, S_IFDIR | 0775, false, 0, PD_WRITABLE},
	    {65534, S_IFDIR | 0700, true, 0, PD_OWNER},
	    {65534, S_IFDIR | 01777, false, 0, PD_OWNER},
	    {1000, S_IFDIR | 0700, true, 1000, PD_TRUSTED}, /* the agent's own user */
	    {1001, S_IFDIR | 0700, true, 1000, PD_OWNER},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct trust_case *c = &cases[i];
		enum pd_trust got = pindir_trust(c->owner, c->mode, c->pin_dir, c->euid);

		if (got != c->want)
			fail_msg("owner %u mode %04o pin_dir %d euid %u: expected %d, got %d",
				 (unsigned)c->owner, (unsigned)(c->mode & 07777), c->pin_dir,
				 (unsigned)c->euid, c->want, got);
	}
}

static void test_lock_holder(void **state)
{
	static char locks[] = "1: POSIX  ADVISORY  WRITE 600 00:2a:77 0 EOF\n"
			      "2: OFDLCK ADVISORY  WRITE -1 00:2a:77 0 EOF\n"
			      "3: FLOCK  ADVISORY  WRITE 4242 00:2a:76 0 EOF\n"
			      "3: -> FLOCK  ADVISORY  WRITE 999 00:2a:77 0 EOF\n"
			      "4: FLOCK  ADVISORY  WRITE 1234 00:2a:77 0 EOF\n"
			      "5: FLOCK  ADVISORY  WRITE 77 fd:01:77 0 EOF\n";
	FILE *f;

	(void)state;
	f = fmemopen(locks, strlen(locks), "r");
	assert_non_null(f);
	assert_int_equal(pindir_lock_holder(f, makedev(0, 0x2a), 77), 1234);
	rewind(f);
	assert_int_equal(pindir_lock_holder(f, makedev(0xfd, 1), 77), 77);
	rewind(f);
	assert_int_equal(pindir_lock_holder(f, makedev(0, 0x2a), 78), 0);
	fclose(f);
}

/* A scratch directory outside any bpffs. */
static char scratch[64];

static int make_scratch(void **state)
{
	(void)state;
	snprintf(scratch, sizeof(scratch), "/tmp/bpfmesh-pindir.XXXXXX");
	return mkdtemp(scratch) ? 0 : -1;
}

static int remove_scratch(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	return system(cmd) ? -1 : 0;
}

static int open_err(const char *path, unsigned flags)
{
	struct pindir pd;
	int err = pindir_open(&pd, path, flags);

	pindir_close(&pd);
	return err;
}

static void test_walk_refusals(void **state)
{
	char path[256], dir[128];

	(void)state;
	assert_int_equal(open_err("relative/pins", PINDIR_CREATE), -EINVAL);
	snprintf(path, sizeof(path), "%s/../pins", scratch);
	assert_int_equal(open_err(path, PINDIR_CREATE), -EINVAL);
	/* nothing there, and not on a bpffs: nothing is created either */
	snprintf(path, sizeof(path), "%s/missing/pins", scratch);
	assert_int_equal(open_err(path, 0), -ENOENT);
	assert_int_equal(open_err(path, PINDIR_CREATE), -ENOENT);
	snprintf(dir, sizeof(dir), "%s/missing", scratch);
	assert_int_equal(access(dir, F_OK), -1);
	/* an existing directory that is not on a bpffs */
	assert_int_equal(open_err(scratch, PINDIR_CREATE), -ENOTSUP);
	/* a symlink on the way, or as the pin directory */
	snprintf(dir, sizeof(dir), "%s/link", scratch);
	assert_int_equal(symlink(scratch, dir), 0);
	assert_int_equal(open_err(dir, 0), -ELOOP);
	snprintf(path, sizeof(path), "%s/link/pins", scratch);
	assert_int_equal(open_err(path, PINDIR_CREATE), -ELOOP);
	/* a file where a directory should be */
	snprintf(path, sizeof(path), "%s/file", scratch);
	fclose(fopen(path, "w"));
	assert_int_equal(open_err(path, 0), -ENOTDIR);
}

static void test_std_root(void **state)
{
	(void)state;
	assert_string_equal(bpffs_std_root("/sys/fs/bpf/bpfmesh"), BPFFS_ROOT);
	assert_string_equal(bpffs_std_root("/sys/fs/bpf"), BPFFS_ROOT);
	assert_null(bpffs_std_root("/sys/fs/bpfmesh"));
	assert_null(bpffs_std_root("/run/bpffs/bpfmesh"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trust),
	    cmocka_unit_test(test_lock_holder),
	    cmocka_unit_test_setup_teardown(test_walk_refusals, make_scratch, remove_scratch),
	    cmocka_unit_test(test_std_root),
	};

	log_verbosity = LOG_ERROR - 1; /* the refusals are expected */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
