/* SPDX-License-Identifier: Apache-2.0 */
/* progload: the guest's program matrix for `make test-kernels`. Loads every
 * program of each BPF object on its own (the others' autoload off) and says,
 * one line each, whether this kernel takes it and why not:
 *
 *   PROG kernel=R object=lb prog=bm_connect4 type=cgroup_sock_addr ms=40 ok
 *   PROG kernel=R object=http prog=bm_http_send type=tracing ms=9 fail errno=ESRCH reason=...
 *
 * ms: the load's time (all of the object's maps made, BTF read, the
 * program verified). An object the kernel takes whole is loaded once:
 *   OBJECT kernel=R object=lb programs=13 ms=900 ok
 * and its programs' lines say ms=-1.
 *
 * The agent loads an object all or nothing, so its start shows only the
 * first failure; this shows them all, for the kernel-support work.
 *
 * libbpf needs the kernel config only for the __kconfig externs (CONFIG_HZ),
 * which it reads from /boot or /proc/config.gz, neither there in a
 * container. progload gives it CONFIG_HZ from the kernel itself instead:
 * CLOCK_MONOTONIC_COARSE advances once a tick, so its resolution is
 * TICK_NSEC = 1e9 / HZ (-K: give nothing, let libbpf look for the file).
 *
 * Maps are never pinned, and hash maps are made small: each load creates
 * every map of the object. libbpf's warnings (the verifier's log among them)
 * go to stderr, its debug output too with -v.
 *   progload [-K] [-v] OBJ.bpf.o...
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include <bpf/libbpf.h>

/* libbpf's warnings during one load: the reason is read from them */
static char warn_buf[1 << 16];
static size_t warn_len;
static bool verbose;

static int on_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	va_list copy;
	int n;

	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	va_copy(copy, ap);
	vfprintf(stderr, fmt, ap);
	if (level == LIBBPF_WARN && warn_len < sizeof(warn_buf) - 1) {
		n = vsnprintf(warn_buf + warn_len, sizeof(warn_buf) - warn_len, fmt, copy);
		if (n > 0)
			warn_len += (size_t)n < sizeof(warn_buf) - warn_len
					? (size_t)n
					: sizeof(warn_buf) - warn_len - 1;
	}
	va_end(copy);
	return 0;
}

#define SMALL_HASH 256

static bool is_hash(enum bpf_map_type t)
{
	return t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_SOCKHASH;
}

static int hz_of_kernel(void)
{
	struct timespec res;

	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) || res.tv_sec || !res.tv_nsec)
		return -1;
	/* TICK_NSEC rounds 1e9 / HZ: round back */
	return (int)((1000000000L + res.tv_nsec / 2) / res.tv_nsec);
}

/* The verifier's verdict is the last line of its log before libbpf's
 * "-- END PROG LOAD LOG --"; without a log, libbpf's first warning for
 * the program says it (a missing attach target or kfunc). */
static void reason_of(char *out, size_t len)
{
	const char *end = strstr(warn_buf, "-- END PROG LOAD LOG --");
	const char *s, *e;
	char *p;

	out[0] = 0;
	if (end) {
		e = end;
		while (e > warn_buf && (e[-1] == '\n' || e[-1] == ' '))
			e--;
		s = e;
		while (s > warn_buf && s[-1] != '\n')
			s--;
		/* "processed N insns ..." closes a log whose verdict is above */
		if (!strncmp(s, "processed ", 10) && s > warn_buf) {
			e = s - 1;
			s = e;
			while (s > warn_buf && s[-1] != '\n')
				s--;
		}
		snprintf(out, len, "%.*s", (int)(e - s), s);
	} else {
		s = strstr(warn_buf, "libbpf: ") ? strstr(warn_buf, "libbpf: ") + 8 : warn_buf;
		e = strchr(s, '\n');
		snprintf(out, len, "%.*s", e ? (int)(e - s) : (int)strlen(s), s);
	}
	for (p = out; *p; p++)
		if (*p == '\t' || *p == '\n')
			*p = ' ';
}

static void print_prog(const char *kernel, struct bpf_object *obj, struct bpf_program *p, int err,
		       long ms)
{
	const char *tname = libbpf_bpf_prog_type_str(bpf_program__type(p));
	char reason[512];

	printf("PROG kernel=%s object=%s prog=%s type=%s ms=%ld ", kernel, bpf_object__name(obj),
	       bpf_program__name(p), tname ? tname : "?", ms);
	if (!err) {
		printf("ok\n");
	} else {
		reason_of(reason, sizeof(reason));
		printf("fail errno=%s reason=%s\n",
		       strerrorname_np(-err) ? strerrorname_np(-err) : "?", reason);
	}
	fflush(stdout);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Loads program idx of the object alone, or all of them when idx is -1 (and
 * then says nothing unless they all loaded). 1: no program idx. */
static int load(const char *path, const char *kconfig, int idx, const char *kernel)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .kconfig = kconfig);
	struct bpf_program *p, *want = NULL;
	struct bpf_object *obj;
	struct bpf_map *m;
	struct timespec t0;
	int i = 0, err;

	obj = bpf_object__open_file(path, &oo);
	if (!obj)
		return -errno;
	bpf_object__for_each_program(p, obj)
	{
		bpf_program__set_autoload(p, idx < 0 || i == idx);
		if (i++ == idx)
			want = p;
	}
	if (idx >= 0 && !want) {
		bpf_object__close(obj);
		return 1;
	}
	bpf_object__for_each_map(m, obj)
	{
		bpf_map__set_pin_path(m, NULL);
		/* hash maps are preallocated at full size for every load, and
		 * their size never matters to the verifier (an array's does) */
		if (is_hash(bpf_map__type(m)) && bpf_map__max_entries(m) > SMALL_HASH)
			bpf_map__set_max_entries(m, SMALL_HASH);
	}
	warn_len = 0;
	warn_buf[0] = 0;
	fprintf(stderr, "=== %s %s\n", bpf_object__name(obj),
		want ? bpf_program__name(want) : "(all programs)");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = bpf_object__load(obj);
	if (want) {
		print_prog(kernel, obj, want, err, ms_since(&t0));
	} else if (!err) {
		printf("OBJECT kernel=%s object=%s programs=%d ms=%ld ok\n", kernel,
		       bpf_object__name(obj), i, ms_since(&t0));
		bpf_object__for_each_program(p, obj) print_prog(kernel, obj, p, 0, -1);
	}
	bpf_object__close(obj);
	return want ? 0 : err;
}

int main(int argc, char **argv)
{
	char kconfig[64], *kc = kconfig;
	struct utsname u;
	int hz, opt;

	while ((opt = getopt(argc, argv, "Kv")) != -1) {
		if (opt == 'K') {
			kc = NULL;
		} else if (opt == 'v') {
			verbose = true;
		} else {
			fprintf(stderr, "usage: progload [-K] [-v] OBJ.bpf.o...\n");
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "usage: progload [-K] [-v] OBJ.bpf.o...\n");
		return 2;
	}
	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "?");
	libbpf_set_print(on_libbpf);
	hz = hz_of_kernel();
	if (hz <= 0)
		kc = NULL;
	snprintf(kconfig, sizeof(kconfig), "CONFIG_HZ=%d\n", hz);
	printf("KCONFIG kernel=%s hz=%d source=%s\n", u.release, hz,
	       kc ? "clock_getres(CLOCK_MONOTONIC_COARSE)" : "libbpf (boot config)");
	for (int a = optind; a < argc; a++) {
		/* one load when the kernel takes the whole object (ms=-1 then):
		 * each load parses the kernel's BTF, seconds under emulation */
		if (!load(argv[a], kc, -1, u.release))
			continue;
		for (int i = 0;; i++) {
			int r = load(argv[a], kc, i, u.release);

			if (r < 0) {
				printf("OBJECT kernel=%s path=%s fail open: %s\n", u.release,
				       argv[a], strerror(-r));
				break;
			}
			if (r > 0)
				break;
		}
	}
	return 0;
}
