/* SPDX-License-Identifier: Apache-2.0 */
/* tcload.c: the programs that go on interfaces (the tc guard, tc capture)
 * load when a configuration first names an interface, not at start: most
 * nodes never need them, and each costs the verifier's time.
 *
 * libbpf loads an object's programs all at once, so they come from a second
 * instance of the same object in which only they are loaded, every map of
 * it the first instance's (by fd): the programs read and write the same
 * state. Internal maps (.rodata, .kconfig, .bss) are the instance's own;
 * the tc programs keep no state there.
 */
#include <errno.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "lb/loader.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "skel/http.skel.h"
#include "skel/lb.skel.h"

/* Programs of a second instance that load: those of loader_tc_progs. */
static void only_tc(struct bpf_object *obj)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj)
	{
		bpf_program__set_autoload(p, loader_is_tc_prog(bpf_program__name(p)));
	}
}

int loader_share_maps(struct bpf_object *second, const struct bpf_object *first)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, second)
	{
		const struct bpf_map *orig;
		int err;

		if (bpf_map__is_internal(m))
			continue;
		bpf_map__set_pin_path(m, NULL);
		orig = bpf_object__find_map_by_name(first, bpf_map__name(m));
		if (!orig)
			return -ENOENT;
		err = bpf_map__reuse_fd(m, bpf_map__fd(orig));
		if (err)
			return err;
	}
	return 0;
}

bool loader_is_tc_prog(const char *name)
{
	return !strcmp(name, "bm_tc_guard") || !strcmp(name, "bm_http_tc_in") ||
	       !strcmp(name, "bm_http_tc_out");
}

int loader_load_tc(struct loader *l)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	uint64_t t0 = mono_ns();
	int err;

	if (l->tc_state != LOADER_TC_UNLOADED)
		return l->tc_state == LOADER_TC_LOADED ? 0 : l->tc_err;
	oo.kconfig = l->kconfig;
	l->tc_lb = lb_bpf__open_opts(&oo);
	if (!l->tc_lb) {
		err = -errno;
		goto fail;
	}
	only_tc(l->tc_lb->obj);
	err = loader_share_maps(l->tc_lb->obj, l->skel->obj);
	if (!err)
		err = lb_bpf__load(l->tc_lb);
	if (err)
		goto fail;
	/* tc capture goes with HTTP capture: not where the kernel refused it */
	if (l->http) {
		l->tc_http = http_bpf__open_opts(&oo);
		if (!l->tc_http) {
			err = -errno;
			goto fail;
		}
		only_tc(l->tc_http->obj);
		err = loader_share_maps(l->tc_http->obj, l->http->obj);
		if (!err)
			err = http_bpf__load(l->tc_http);
		if (err)
			goto fail;
	}
	l->tc_state = LOADER_TC_LOADED;
	log_info("loaded the interface programs (tc guard%s) in %.0f ms: a Workload names an "
		 "interface",
		 l->tc_http ? ", tc capture" : "", (double)(mono_ns() - t0) / 1e6);
	return 0;
fail:
	log_error("loading the interface programs (tc guard, tc capture): %s; libbpf's lines "
		  "above say why; Workload interfaces stay unguarded",
		  strerror(-err));
	loader_close_tc(l);
	l->tc_state = LOADER_TC_FAILED;
	l->tc_err = err;
	return err;
}

void loader_close_tc(struct loader *l)
{
	if (l->tc_lb)
		lb_bpf__destroy(l->tc_lb);
	l->tc_lb = NULL;
	if (l->tc_http)
		http_bpf__destroy(l->tc_http);
	l->tc_http = NULL;
}
