/* SPDX-License-Identifier: Apache-2.0 */
/* loader.c: the kernel side's lifecycle.
 *
 * Pins: <bpffs>/maps/<map> (the maps declared pin-by-name) and
 * <bpffs>/links/<prog>, all through the checked and locked pin directory of
 * pindir.c: libbpf's own pinning would follow a symlink at the pin's name,
 * so the loader reuses and pins those maps itself. A restarted agent reuses
 * the pinned maps, so connection state and counters survive, and swaps its
 * freshly loaded programs into the pinned links with BPF_LINK_UPDATE, which
 * is atomic: no connect() ever runs unbalanced.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/lb.h"
#include "lb/loader.h"
#include "lib/bpffs.h"
#include "lib/cgroup.h"
#include "lib/log.h"
#include "skel/lb.skel.h"
#include "skel/http.skel.h"
#include "skel/term.skel.h"

#define PROG_PREFIX "bm_"

/* Take over libbpf's pin-by-name: reuse the maps pinned by an earlier agent
 * (their sizes too), refusing pins whose key or value layout differs from
 * ours with a message that says what to do; the others are pinned after the
 * load (pin_new_maps). */
static int adopt_pinned_maps(struct loader *l, struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj)
	{
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd, err;

		if (!bpf_map__pin_path(map))
			continue;
		if (l->n_pins == LOADER_MAX_PINS) {
			log_error("more than %d pinned maps", LOADER_MAX_PINS);
			return -E2BIG;
		}
		bpf_map__set_pin_path(map, NULL);
		l->pins[l->n_pins].map = map;
		l->pins[l->n_pins].obj = obj;
		l->pins[l->n_pins++].reused = false;
		fd = pindir_get(&l->pd, PIN_MAPS, bpf_map__name(map));
		if (fd == -ENOENT)
			continue;
		if (fd < 0)
			return fd;
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			err = -errno;
			log_error("pinned map %s/maps/%s: %s", l->bpffs, bpf_map__name(map),
				  strerror(-err));
			close(fd);
			return err;
		}
		if (info.key_size != bpf_map__key_size(map) ||
		    info.value_size != bpf_map__value_size(map) ||
		    info.type != bpf_map__type(map) || info.map_flags != bpf_map__map_flags(map)) {
			log_error(
			    "pinned map %s/maps/%s has another layout (key %u, value %u bytes, "
			    "flags %#x; this agent expects %u, %u, %#x): it was made by an "
			    "incompatible bpfmesh; run `bpfmesh detach --bpffs %s` first",
			    l->bpffs, bpf_map__name(map), info.key_size, info.value_size,
			    info.map_flags, bpf_map__key_size(map), bpf_map__value_size(map),
			    bpf_map__map_flags(map), l->bpffs);
			close(fd);
			return -EEXIST;
		}
		if (info.max_entries && info.max_entries != bpf_map__max_entries(map))
			log_info("map %s: keeping the pinned size %u (asked for %u)",
				 bpf_map__name(map), info.max_entries, bpf_map__max_entries(map));
		err = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (err) {
			log_error("reusing pinned map %s/maps/%s: %s", l->bpffs, bpf_map__name(map),
				  strerror(-err));
			return err;
		}
		l->pins[l->n_pins - 1].reused = true;
	}
	return 0;
}

/* Pin the maps of obj that no earlier agent had pinned; then every pinned
 * map's pin path says where it is (for the status API). */
static int pin_new_maps(struct loader *l, struct bpf_object *obj)
{
	char path[600];
	int i, err;

	for (i = 0; i < l->n_pins; i++) {
		struct bpf_map *map = l->pins[i].map;

		if (l->pins[i].obj != obj)
			continue;
		if (!l->pins[i].reused) {
			err = pindir_pin(&l->pd, PIN_MAPS, bpf_map__name(map), bpf_map__fd(map));
			if (err)
				return err;
		}
		snprintf(path, sizeof(path), "%s/maps/%s", l->bpffs, bpf_map__name(map));
		bpf_map__set_pin_path(map, path);
	}
	return 0;
}

static int check_meta(struct loader *l)
{
	struct lb_meta meta = {};
	__u32 zero = 0;
	int fd = bpf_map__fd(l->skel->maps.lb_meta);

	if (bpf_map_lookup_elem(fd, &zero, &meta))
		return -errno;
	if (meta.magic == 0) {
		meta.magic = LB_ABI_MAGIC;
		meta.abi_version = LB_ABI_VERSION;
		return bpf_map_update_elem(fd, &zero, &meta, BPF_ANY) ? -errno : 0;
	}
	if (meta.magic != LB_ABI_MAGIC || meta.abi_version != LB_ABI_VERSION) {
		log_error("pinned maps under %s have layout version %u, this agent speaks %u; run "
			  "`bpfmesh detach --bpffs %s` first",
			  l->bpffs, meta.abi_version, LB_ABI_VERSION, l->bpffs);
		return -EEXIST;
	}
	return 0;
}

/* Maps an earlier bpfmesh pinned under names this one no longer uses (their
 * layout changed, so they got new names). Once our programs hold the pinned
 * links, nothing reads them: unpinning frees them. */
static const char *const retired_maps[] = {
    "lb_revnat",   /* LRU: evicted live sockets' entries; now lb_udp_rev */
    "lb_udp_aff",  /* LRU; now lb_udp_aff2 */
    "http_conns",  /* 16-byte values; then http_conns2 (the threads last recorded) */
    "http_conns2", /* 32-byte values; now http_conns3 (how far a response got) */
    "lb_maglev",   /* tables written element by element; now lb_maglev2 (mmapable) */
};

static void remove_retired_pins(const struct loader *l)
{
	for (size_t i = 0; i < sizeof(retired_maps) / sizeof(retired_maps[0]); i++) {
		int err = pindir_unpin(&l->pd, PIN_MAPS, retired_maps[i]);

		if (!err)
			log_info("removed %s/maps/%s, a map of an earlier bpfmesh", l->bpffs,
				 retired_maps[i]);
		else if (err != -ENOENT)
			log_warn("removing %s/maps/%s: %s", l->bpffs, retired_maps[i],
				 strerror(-err));
	}
}

/* Attach one program: take over a pinned link on the same cgroup, or make a
 * new link and pin it. */
static int attach_prog(struct loader *l, struct bpf_program *prog)
{
	const char *name = bpf_program__name(prog);
	uint64_t cg_id = cgroup_id_of(l->cgroup);
	struct bpf_link *link;
	int fd, err;

	fd = pindir_get(&l->pd, PIN_LINKS, name);
	if (fd < 0 && fd != -ENOENT)
		return fd;
	if (bpf_program__type(prog) == BPF_PROG_TYPE_TRACING) {
		/* tp_btf links cannot be updated in place: the new program
		 * replaces the pinned one (it reads the same pinned maps) */
		if (fd >= 0) {
			bpf_link_detach(fd);
			close(fd);
			pindir_unpin(&l->pd, PIN_LINKS, name);
		}
		link = bpf_program__attach(prog);
		goto pin;
	}
	if (fd >= 0) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);

		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_LINK_TYPE_CGROUP &&
		    info.cgroup.cgroup_id == cg_id) {
			err = bpf_link_update(fd, bpf_program__fd(prog), NULL);
			close(fd);
			if (err) {
				err = -errno;
				log_error("%s: updating pinned link %s/links/%s: %s", name,
					  l->bpffs, name, strerror(-err));
				return err;
			}
			l->n_adopted++;
			l->n_attached++;
			return 0;
		}
		/* pinned on another cgroup: the new --cgroup wins */
		log_info("%s: pinned link is on another cgroup, moving it to %s", name, l->cgroup);
		bpf_link_detach(fd);
		close(fd);
		pindir_unpin(&l->pd, PIN_LINKS, name);
	}
	link = bpf_program__attach_cgroup(prog, l->cgroup_fd);
pin:
	if (!link) {
		err = -errno;
		log_error("%s: attaching (cgroup %s): %s", name, l->cgroup, strerror(-err));
		return err;
	}
	err = pindir_pin(&l->pd, PIN_LINKS, name, bpf_link__fd(link));
	if (err) {
		bpf_link__destroy(link);
		return err;
	}
	/* the pin holds the attachment; our handle can go */
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
	l->n_attached++;
	return 0;
}

/* Forget the pins of an object that is going away (its load failed). */
static void drop_pins_of(struct loader *l, const struct bpf_object *obj)
{
	int n = 0;

	for (int i = 0; i < l->n_pins; i++)
		if (l->pins[i].obj != obj)
			l->pins[n++] = l->pins[i];
	l->n_pins = n;
}

/* HTTP capture (bpf/http.bpf.c): its own object, the same pin root. Not
 * needed for the mesh: where the kernel refuses it, capture is off (one
 * line) and the agent goes on. The thread tracepoints load only where the
 * kernel has them. */
static int start_capture(struct loader *l, const struct bpf_object_open_opts *oo)
{
	struct bpf_program *prog;
	char line[KPLAN_LINE];
	int err;

	l->http = http_bpf__open_opts(oo);
	if (!l->http) {
		err = -errno;
		log_error("opening the capture object: %s", strerror(-err));
		return err;
	}
	/* tc capture loads when an interface is first named (tcload.c) */
	bpf_program__set_autoload(l->http->progs.bm_http_tc_in, false);
	bpf_program__set_autoload(l->http->progs.bm_http_tc_out, false);
	bpf_program__set_autoload(l->http->progs.bm_http_send, l->plan.thread_tps);
	bpf_program__set_autoload(l->http->progs.bm_http_recv, l->plan.thread_tps);
	err = adopt_pinned_maps(l, l->http->obj);
	if (err)
		return err;
	err = http_bpf__load(l->http);
	if (err) {
		snprintf(line, sizeof(line),
			 "HTTP capture off: this kernel refused its programs (%s; libbpf's "
			 "lines above say why)",
			 strerror(-err));
		log_warn("%s", line);
		kplan_off(&l->plan, line);
		drop_pins_of(l, l->http->obj);
		http_bpf__destroy(l->http);
		l->http = NULL;
		return 0;
	}
	err = pin_new_maps(l, l->http->obj);
	if (err)
		return err;
	bpf_object__for_each_program(prog, l->http->obj)
	{
		/* the tc programs go on interfaces (tcguard.c) */
		if (bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS ||
		    !bpf_program__autoload(prog))
			continue;
		err = attach_prog(l, prog);
		if (err)
			return err;
	}
	return 0;
}

/* terminateConnections' socket iterators (bpf/term.bpf.c), where the
 * kernel has bpf_sock_destroy and the iterators: every map of the object
 * is the load balancer's, given by fd. Not fatal either. */
static void start_term(struct loader *l, const struct bpf_object_open_opts *oo)
{
	char line[KPLAN_LINE];
	int err = 0;

	if (!l->plan.terminate)
		return;
	l->term = term_bpf__open_opts(oo);
	if (!l->term) {
		err = -errno;
		goto off;
	}
	err = loader_share_maps(l->term->obj, l->skel->obj);
	if (!err)
		err = term_bpf__load(l->term);
	if (!err)
		return;
off:
	snprintf(line, sizeof(line),
		 "terminateConnections off: this kernel refused the socket iterators (%s)",
		 strerror(-err));
	log_warn("%s", line);
	kplan_off(&l->plan, line);
	l->plan.terminate = false;
	if (l->term)
		term_bpf__destroy(l->term);
	l->term = NULL;
}

/* What the kernel has, the plan made of it, and what is off said once. */
static void probe_kernel(struct loader *l)
{
	kfeatures_probe(&l->feat);
	kplan_make(&l->feat, &l->plan);
	for (int i = 0; i < l->plan.n_off; i++)
		log_warn("%s", l->plan.off[i]);
}

/* The pin directory, checked and locked: one agent per pin directory. */
static int open_pindir(struct loader *l, const char *bpffs)
{
	int err = bpffs_mount_if_missing(bpffs);

	if (err)
		return err;
	err = pindir_open(&l->pd, bpffs, PINDIR_CREATE);
	if (err == -EBUSY) {
		if (l->pd.holder)
			log_error("pin directory %s is held by pid %d (another bpfmesh agent): one "
				  "agent per pin directory; stop it, or pick another --bpffs",
				  l->pd.path, (int)l->pd.holder);
		else
			log_error("pin directory %s is held by another process (another bpfmesh "
				  "agent?): one agent per pin directory",
				  l->pd.path);
	}
	if (!err)
		err = pindir_check_entries(&l->pd);
	if (!err)
		snprintf(l->bpffs, sizeof(l->bpffs), "%s", l->pd.path);
	return err;
}

int loader_start(struct loader *l, const struct loader_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct bpf_program *prog;
	int err;

	memset(l, 0, sizeof(*l));
	l->cgroup_fd = -1;
	pindir_init(&l->pd);
	snprintf(l->bpffs, sizeof(l->bpffs), "%s", o->bpffs);
	snprintf(l->cgroup, sizeof(l->cgroup), "%s", o->cgroup);
	err = open_pindir(l, o->bpffs);
	if (err)
		goto fail;
	l->cgroup_fd = open(l->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->cgroup_fd < 0) {
		err = -errno;
		log_error("opening cgroup %s: %s", l->cgroup, strerror(-err));
		goto fail;
	}
	probe_kernel(l);
	/* the __kconfig externs from the running kernel: libbpf would read
	 * /boot/config-* or /proc/config.gz, which containers lack */
	snprintf(l->kconfig, sizeof(l->kconfig), "CONFIG_HZ=%d\n", l->feat.hz);
	oo.kconfig = l->kconfig;

	l->skel = lb_bpf__open_opts(&oo);
	if (!l->skel) {
		err = -errno;
		log_error("opening BPF object: %s", strerror(-err));
		goto fail;
	}
	/* the tc guard loads when an interface is first named (tcload.c) */
	bpf_program__set_autoload(l->skel->progs.bm_tc_guard, false);
	if (o->max_endpoints) {
		bpf_map__set_max_entries(l->skel->maps.lb_backends, o->max_endpoints + 1);
		bpf_map__set_max_entries(l->skel->maps.lb_ep_stats, o->max_endpoints + 1);
		bpf_map__set_max_entries(l->skel->maps.lb_ep_active, o->max_endpoints + 1);
		bpf_map__set_max_entries(l->skel->maps.lb_slots, (o->max_endpoints + 1) * 8);
		bpf_map__set_max_entries(l->skel->maps.lb_ep_health, o->max_endpoints + 1);
		bpf_map__set_max_entries(l->skel->maps.lb_be_addr, o->max_endpoints + 1);
	}
	if (o->max_services) {
		bpf_map__set_max_entries(l->skel->maps.lb_services, o->max_services + 1);
		bpf_map__set_max_entries(l->skel->maps.lb_svc_names, o->max_services + 1);
		bpf_map__set_max_entries(l->skel->maps.lb_rr, o->max_services + 1);
		bpf_map__set_max_entries(l->skel->maps.lb_frontends, o->max_services + 1);
		bpf_map__set_max_entries(l->skel->maps.lb_svc_rt, o->max_services + 1);
		bpf_map__set_max_entries(l->skel->maps.lb_svc_policy, o->max_services + 1);
	}
	if (o->max_sockets) {
		bpf_map__set_max_entries(l->skel->maps.lb_conns, o->max_sockets);
		bpf_map__set_max_entries(l->skel->maps.lb_udp_rev, o->max_sockets);
		bpf_map__set_max_entries(l->skel->maps.lb_udp_aff2, o->max_sockets);
	}
	err = adopt_pinned_maps(l, l->skel->obj);
	if (err)
		goto fail;
	err = lb_bpf__load(l->skel);
	if (err) {
		/* pinned maps of another layout were refused above, by name */
		log_error("loading the load balancer's programs (bpf/lb.bpf.c): %s; libbpf's "
			  "lines above say why (-v adds the verifier's log)",
			  strerror(-err));
		goto fail;
	}
	err = pin_new_maps(l, l->skel->obj);
	if (err)
		goto fail;
	err = check_meta(l);
	if (err)
		goto fail;
	bpf_object__for_each_program(prog, l->skel->obj)
	{
		/* the tc guard goes on interfaces */
		if (bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS ||
		    !bpf_program__autoload(prog))
			continue;
		err = attach_prog(l, prog);
		if (err)
			goto fail;
	}
	l->feat.has[KF_CGROUP_LINKS] = l->n_attached > 0;
	l->feat.known[KF_CGROUP_LINKS] = true;
	start_term(l, &oo);
	err = start_capture(l, &oo);
	if (err)
		goto fail;
	remove_retired_pins(l);
	log_info("attached %d programs to %s (%d taken over from pinned links), pinned under %s",
		 l->n_attached, l->cgroup, l->n_adopted, l->bpffs);
	return 0;
fail:
	loader_close(l);
	return err;
}

void loader_close(struct loader *l)
{
	loader_close_tc(l);
	if (l->skel)
		lb_bpf__destroy(l->skel);
	l->skel = NULL;
	if (l->http)
		http_bpf__destroy(l->http);
	l->http = NULL;
	if (l->term)
		term_bpf__destroy(l->term);
	l->term = NULL;
	if (l->cgroup_fd >= 0)
		close(l->cgroup_fd);
	l->cgroup_fd = -1;
	/* the lock goes with it */
	pindir_close(&l->pd);
}

void loader_map_fds(const struct loader *l, struct lbm_fds *fds)
{
	fds->frontends = bpf_map__fd(l->skel->maps.lb_frontends);
	fds->services = bpf_map__fd(l->skel->maps.lb_services);
	fds->slots = bpf_map__fd(l->skel->maps.lb_slots);
	fds->maglev = bpf_map__fd(l->skel->maps.lb_maglev2);
	fds->backends = bpf_map__fd(l->skel->maps.lb_backends);
	fds->ep_stats = bpf_map__fd(l->skel->maps.lb_ep_stats);
	fds->rr = bpf_map__fd(l->skel->maps.lb_rr);
	fds->svc_names = bpf_map__fd(l->skel->maps.lb_svc_names);
	fds->ep_health = bpf_map__fd(l->skel->maps.lb_ep_health);
	fds->svc_rt = bpf_map__fd(l->skel->maps.lb_svc_rt);
	fds->svc_policy = bpf_map__fd(l->skel->maps.lb_svc_policy);
	fds->be_addr = bpf_map__fd(l->skel->maps.lb_be_addr);
	fds->ep_active = bpf_map__fd(l->skel->maps.lb_ep_active);
}

int loader_map_fd(const struct loader *l, const char *name)
{
	int fd = bpf_object__find_map_fd_by_name(l->skel->obj, name);

	return fd >= 0 || !l->http ? fd : bpf_object__find_map_fd_by_name(l->http->obj, name);
}

struct bpf_program *loader_prog(const struct loader *l, const char *name)
{
	struct bpf_program *p = NULL;

	/* the interface programs, once loaded, are those of their instances */
	if (l->tc_lb && loader_is_tc_prog(name))
		p = bpf_object__find_program_by_name(l->tc_lb->obj, name);
	if (p && bpf_program__fd(p) >= 0)
		return p;
	if (l->tc_http && loader_is_tc_prog(name))
		p = bpf_object__find_program_by_name(l->tc_http->obj, name);
	if (p && bpf_program__fd(p) >= 0)
		return p;
	p = bpf_object__find_program_by_name(l->skel->obj, name);

	if (!p && l->http)
		p = bpf_object__find_program_by_name(l->http->obj, name);
	if (!p && l->term)
		p = bpf_object__find_program_by_name(l->term->obj, name);
	return p;
}

void loader_set_tc_capture(struct loader *l, bool on)
{
	if (l->http && l->http->bss)
		l->http->bss->tc_capture = on;
}

int loader_prog_fd(const struct loader *l, const char *name)
{
	struct bpf_program *p = loader_prog(l, name);

	/* a program of a loaded object left out on this kernel has fd -1 */
	return p && bpf_program__fd(p) >= 0 ? bpf_program__fd(p) : -ENOENT;
}

/* Detach the links pinned in links/ and remove every pin; what is not a pin
 * stays (pindir logs it) and is counted in *left. */
static int remove_pins(const struct pindir *pd, enum pin_sub sub, int *left)
{
	struct dirent *de;
	int n = 0, fd, err;
	DIR *d = pindir_opendir(pd, sub);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (sub == PIN_LINKS) {
			fd = pindir_get(pd, sub, de->d_name);
			if (fd >= 0) {
				if (!bpf_link_detach(fd))
					n++;
				close(fd);
			}
		}
		err = pindir_unpin(pd, sub, de->d_name);
		if (err && err != -ENOENT)
			(*left)++;
	}
	closedir(d);
	return n;
}

/* Links whose pins are gone still hold their programs on the cgroup: find
 * bpfmesh's by walking every link in the system. */
int loader_detach_unpinned(const char *cgroup)
{
	uint64_t cg_id = cgroup_id_of(cgroup);
	__u32 id = 0;
	int n = 0;

	if (!cg_id)
		return 0;
	while (!bpf_link_get_next_id(id, &id)) {
		struct bpf_link_info li = {};
		struct bpf_prog_info pi = {};
		__u32 len = sizeof(li);
		int lfd = bpf_link_get_fd_by_id(id), pfd;

		if (lfd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(lfd, &li, &len) || li.type != BPF_LINK_TYPE_CGROUP ||
		    li.cgroup.cgroup_id != cg_id) {
			close(lfd);
			continue;
		}
		pfd = bpf_prog_get_fd_by_id(li.prog_id);
		len = sizeof(pi);
		if (pfd >= 0 && !bpf_obj_get_info_by_fd(pfd, &pi, &len) &&
		    !strncmp(pi.name, PROG_PREFIX, strlen(PROG_PREFIX)) && !bpf_link_detach(lfd))
			n++;
		if (pfd >= 0)
			close(pfd);
		close(lfd);
	}
	return n;
}

int loader_detach_pins(const char *bpffs, bool force, pid_t *holder, int *left)
{
	struct pindir pd;
	int n, err;

	*holder = 0;
	*left = 0;
	err = pindir_open(&pd, bpffs, force ? PINDIR_NOLOCK : 0);
	if (err) {
		*holder = pd.holder;
		pindir_close(&pd);
		return err;
	}
	n = remove_pins(&pd, PIN_LINKS, left);
	remove_pins(&pd, PIN_MAPS, left);
	*left += pindir_remove(&pd);
	pindir_close(&pd);
	return n;
}
