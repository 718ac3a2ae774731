/* SPDX-License-Identifier: Apache-2.0 */
/* test_watch.c: config/watch.c on a real directory tree: the events of the
 * renames, deletes and writes that editors, `kubectl` and the kubelet make,
 * with the clock passed in so the quiet period and the write wait are
 * exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/watch.h"

#define MS 1000000ULL

struct fx {
	char root[64];	    /* a temporary directory */
	char cfg[128];	    /* root/cfg: the watched path */
	struct cfg_watch w; /* opened on cfg */
	uint64_t now;
};

static void path(char *buf, size_t len, const struct fx *f, const char *rel)
{
	snprintf(buf, len, "%s/%s", f->root, rel);
}

static void write_file(const struct fx *f, const char *rel, const char *text)
{
	char p[256];
	FILE *fp;

	path(p, sizeof(p), f, rel);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/bpfmesh-watch.XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->cfg, sizeof(f->cfg), "%s/cfg", f->root);
	assert_int_equal(mkdir(f->cfg, 0755), 0);
	write_file(f, "cfg/a.yaml", "a: 1\n");
	assert_int_equal(cfgw_open(&f->w, f->cfg), 0);
	f->now = 1000 * MS;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	cfgw_close(&f->w);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Events are read at f->now; then the clock moves by dt and cfgw_due says. */
static bool due_after(struct fx *f, uint64_t dt)
{
	cfgw_read(&f->w, f->now);
	cfgw_check(&f->w, f->now);
	f->now += dt;
	return cfgw_due(&f->w, f->now);
}

static void test_nothing_happened(void **state)
{
	struct fx *f = *state;

	assert_false(due_after(f, 10000 * MS));
}

static void test_write_waits_for_quiet(void **state)
{
	struct fx *f = *state;

	write_file(f, "cfg/b.yaml", "b: 1\n");
	cfgw_read(&f->w, f->now);
	assert_false(cfgw_due(&f->w, f->now + 100 * MS));
	assert_true(cfgw_due(&f->w, f->now + 151 * MS));
	/* once said, not again */
	assert_false(cfgw_due(&f->w, f->now + 300 * MS));
}

static void test_open_file_is_waited_for(void **state)
{
	struct fx *f = *state;
	char p[256];
	FILE *fp;

	path(p, sizeof(p), f, "cfg/slow.yaml");
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("apiVersion: bpfmesh.io/v1alpha1\n", fp);
	fflush(fp);
	/* half a file, still open: not due, however quiet */
	assert_false(due_after(f, 1000 * MS));
	assert_false(due_after(f, 1000 * MS));
	fputs("kind: Service\n", fp);
	assert_int_equal(fclose(fp), 0);
	/* closed: due after the quiet period */
	assert_false(due_after(f, 100 * MS));
	assert_true(due_after(f, 100 * MS));
}

static void test_open_file_read_after_cap(void **state)
{
	struct fx *f = *state;
	char p[256];
	FILE *fp;

	path(p, sizeof(p), f, "cfg/held.yaml");
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("x: 1\n", fp);
	fflush(fp);
	assert_false(due_after(f, CFGW_WRITE_WAIT_NS - 1 * MS));
	assert_true(due_after(f, 2 * MS));
	fclose(fp);
}

static void test_moved_away_and_recreated(void **state)
{
	struct fx *f = *state;
	char old[256];

	/* mv cfg cfg.old; mkdir cfg: the new cfg is what counts */
	path(old, sizeof(old), f, "cfg.old");
	assert_int_equal(rename(f->cfg, old), 0);
	assert_int_equal(mkdir(f->cfg, 0755), 0);
	assert_true(due_after(f, 200 * MS));
	/* an edit in the old one is not a change of the configuration */
	write_file(f, "cfg.old/a.yaml", "a: 2\n");
	assert_false(due_after(f, 200 * MS));
	/* an edit in the new one is */
	write_file(f, "cfg/n.yaml", "n: 1\n");
	assert_true(due_after(f, 200 * MS));
	assert_true(f->w.rewatches >= 1);
}

static void test_deleted_and_recreated(void **state)
{
	struct fx *f = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->cfg);
	assert_int_equal(system(cmd), 0);
	assert_true(due_after(f, 200 * MS));
	assert_int_equal(f->w.wd_dir, -1);
	assert_int_equal(mkdir(f->cfg, 0755), 0);
	assert_true(due_after(f, 200 * MS));
	assert_true(f->w.wd_dir >= 0);
	write_file(f, "cfg/b.yaml", "b: 1\n");
	assert_true(due_after(f, 200 * MS));
}

/* What the kubelet does to a ConfigMap volume on every update: a new
 * timestamped directory, a "..data_tmp" symlink to it renamed over
 * "..data"; the files are symlinks "x.yaml -> ..data/x.yaml". */
static void test_configmap_data_swap(void **state)
{
	struct fx *f = *state;
	char a[256], b[256];

	path(a, sizeof(a), f, "cfg/..2026_01");
	assert_int_equal(mkdir(a, 0755), 0);
	write_file(f, "cfg/..2026_01/s.yaml", "v: 1\n");
	path(a, sizeof(a), f, "cfg/..data");
	assert_int_equal(symlink("..2026_01", a), 0);
	path(a, sizeof(a), f, "cfg/s.yaml");
	assert_int_equal(symlink("..data/s.yaml", a), 0);
	/* the symlink is whole at once: no write wait */
	assert_true(due_after(f, 200 * MS));

	/* an update */
	path(a, sizeof(a), f, "cfg/..2026_02");
	assert_int_equal(mkdir(a, 0755), 0);
	write_file(f, "cfg/..2026_02/s.yaml", "v: 2\n");
	assert_false(due_after(f, 200 * MS)); /* inside the data dir: not yet */
	path(a, sizeof(a), f, "cfg/..data_tmp");
	assert_int_equal(symlink("..2026_02", a), 0);
	path(b, sizeof(b), f, "cfg/..data");
	assert_int_equal(rename(a, b), 0);
	assert_true(due_after(f, 200 * MS));
}

static void test_single_file(void **state)
{
	struct fx *f = *state;
	struct cfg_watch w;
	char p[256];

	path(p, sizeof(p), f, "cfg/a.yaml");
	assert_int_equal(cfgw_open(&w, p), 0);
	write_file(f, "cfg/other.yaml", "o: 1\n");
	cfgw_read(&w, f->now);
	assert_false(cfgw_due(&w, f->now + 200 * MS));
	write_file(f, "cfg/a.yaml", "a: 3\n");
	cfgw_read(&w, f->now);
	assert_true(cfgw_due(&w, f->now + 200 * MS));
	cfgw_close(&w);
}

static void test_poke(void **state)
{
	struct fx *f = *state;

	cfgw_poke(&f->w, f->now);
	assert_true(cfgw_due(&f->w, f->now));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_nothing_happened, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_waits_for_quiet, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_file_is_waited_for, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_file_read_after_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_moved_away_and_recreated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deleted_and_recreated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_configmap_data_swap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_single_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_poke, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
