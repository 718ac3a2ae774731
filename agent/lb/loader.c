/* SPDX-License-Identifier: Apache-2.0 */
/* loader.c: the kernel side's lifecycle.
 *
 * Pins: <bpffs>/maps/<map> (libbpf pin-by-name) and <bpffs>/links/<prog>.
 * A restarted agent reuses the pinned maps, so connection state and counters
 * survive, and swaps its freshly loaded programs into the pinned links with
 * BPF_LINK_UPDATE, which is atomic: no connect() ever runs unbalanced.
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
#include "lib/cgroup.h"
#include "lb/loader.h"
#include "lib/log.h"
#include "skel/lb.skel.h"
#include "skel/http.skel.h"

#define PROG_PREFIX "bm_"

static int mkdir_p(const char *path)
{
	char tmp[512], *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Take the sizes of maps pinned by an earlier agent, and refuse pins whose
 * key or value layout differs from ours with a message that says what to do. */
static int adopt_map_sizes(struct loader *l, struct bpf_object *obj)
{
	struct bpf_map *map;
	char path[600];

	bpf_object__for_each_map(map, obj)
	{
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd;

		snprintf(path, sizeof(path), "%s/maps/%s", l->bpffs, bpf_map__name(map));
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			close(fd);
			continue;
		}
		close(fd);
		if (info.key_size != bpf_map__key_size(map) ||
		    info.value_size != bpf_map__value_size(map) ||
		    info.type != bpf_map__type(map)) {
			log_error("pinned map %s has another layout (key %u, value %u bytes; this "
				  "agent expects %u, %u): it was made by an incompatible bpfmesh; "
				  "run `bpfmesh detach --bpffs %s` first",
				  path, info.key_size, info.value_size, bpf_map__key_size(map),
				  bpf_map__value_size(map), l->bpffs);
			return -EEXIST;
		}
		if (info.max_entries && info.max_entries != bpf_map__max_entries(map)) {
			log_info("map %s: keeping the pinned size %u (asked for %u)",
				 bpf_map__name(map), info.max_entries, bpf_map__max_entries(map));
			bpf_map__set_max_entries(map, info.max_entries);
		}
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
    "lb_revnat",  /* LRU: evicted live sockets' entries; now lb_udp_rev */
    "lb_udp_aff", /* LRU; now lb_udp_aff2 */
};

static void remove_retired_pins(const struct loader *l)
{
	char path[600];

	for (size_t i = 0; i < sizeof(retired_maps) / sizeof(retired_maps[0]); i++) {
		snprintf(path, sizeof(path), "%s/maps/%s", l->bpffs, retired_maps[i]);
		if (!unlink(path))
			log_info("removed %s, a map of an earlier bpfmesh", path);
		else if (errno != ENOENT)
			log_warn("removing %s: %s", path, strerror(errno));
	}
}

/* Attach one program: take over a pinned link on the same cgroup, or make a
 * new link and pin it. */
static int attach_prog(struct loader *l, struct bpf_program *prog)
{
	const char *name = bpf_program__name(prog);
	uint64_t cg_id = cgroup_id_of(l->cgroup);
	struct bpf_link *link;
	char path[600];
	int fd, err;

	snprintf(path, sizeof(path), "%s/links/%s", l->bpffs, name);
	fd = bpf_obj_get(path);
	if (bpf_program__type(prog) == BPF_PROG_TYPE_TRACING) {
		/* tp_btf links cannot be updated in place: the new program
		 * replaces the pinned one (it reads the same pinned maps) */
		if (fd >= 0) {
			bpf_link_detach(fd);
			close(fd);
			unlink(path);
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
				log_error("%s: updating pinned link %s: %s", name, path,
					  strerror(errno));
				return -errno;
			}
			l->n_adopted++;
			l->n_attached++;
			return 0;
		}
		/* pinned on another cgroup: the new --cgroup wins */
		log_info("%s: pinned link is on another cgroup, moving it to %s", name, l->cgroup);
		bpf_link_detach(fd);
		close(fd);
		unlink(path);
	}
	link = bpf_program__attach_cgroup(prog, l->cgroup_fd);
pin:
	if (!link) {
		err = -errno;
		log_error("%s: attaching (cgroup %s): %s", name, l->cgroup, strerror(-err));
		return err;
	}
	err = bpf_link__pin(link, path);
	if (err) {
		log_error("%s: pinning link at %s: %s", name, path, strerror(-err));
		bpf_link__destroy(link);
		return err;
	}
	/* the pin holds the attachment; our handle can go */
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
	l->n_attached++;
	return 0;
}

/* HTTP capture (bpf/http.bpf.c): its own object, the same pin root. */
static int start_capture(struct loader *l, const struct bpf_object_open_opts *oo)
{
	struct bpf_program *prog;
	int err;

	l->http = http_bpf__open_opts(oo);
	if (!l->http) {
		err = -errno;
		log_error("opening the capture object: %s", strerror(-err));
		return err;
	}
	err = adopt_map_sizes(l, l->http->obj);
	if (err)
		return err;
	err = http_bpf__load(l->http);
	if (err) {
		log_error("loading the capture programs: %s", strerror(-err));
		return err;
	}
	bpf_object__for_each_program(prog, l->http->obj)
	{
		/* the tc programs go on interfaces (tcguard.c) */
		if (bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS)
			continue;
		err = attach_prog(l, prog);
		if (err)
			return err;
	}
	return 0;
}

int loader_start(struct loader *l, const struct loader_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct bpf_program *prog;
	char maps_dir[600], links_dir[600];
	int err;

	memset(l, 0, sizeof(*l));
	l->cgroup_fd = -1;
	snprintf(l->bpffs, sizeof(l->bpffs), "%s", o->bpffs);
	snprintf(l->cgroup, sizeof(l->cgroup), "%s", o->cgroup);
	snprintf(maps_dir, sizeof(maps_dir), "%s/maps", l->bpffs);
	snprintf(links_dir, sizeof(links_dir), "%s/links", l->bpffs);
	if ((err = mkdir_p(maps_dir)) || (err = mkdir_p(links_dir))) {
		log_error("creating %s: %s (is bpffs mounted?)", l->bpffs, strerror(-err));
		return err;
	}
	l->cgroup_fd = open(l->cgroup, O_RDONLY | O_DIRECTORY);
	if (l->cgroup_fd < 0) {
		err = -errno;
		log_error("opening cgroup %s: %s", l->cgroup, strerror(-err));
		return err;
	}

	oo.pin_root_path = maps_dir;
	l->skel = lb_bpf__open_opts(&oo);
	if (!l->skel) {
		err = -errno;
		log_error("opening BPF object: %s", strerror(-err));
		goto fail;
	}
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
	err = adopt_map_sizes(l, l->skel->obj);
	if (err)
		goto fail;
	err = lb_bpf__load(l->skel);
	if (err) {
		log_error("loading BPF programs: %s (pins under %s may be from an incompatible "
			  "bpfmesh: `bpfmesh detach --bpffs %s`)",
			  strerror(-err), l->bpffs, l->bpffs);
		goto fail;
	}
	err = check_meta(l);
	if (err)
		goto fail;
	bpf_object__for_each_program(prog, l->skel->obj)
	{
		/* the tc guard goes on interfaces and the socket iterators
		 * are run on demand, not attached to the cgroup */
		if (bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS ||
		    bpf_program__type(prog) == BPF_PROG_TYPE_TRACING)
			continue;
		err = attach_prog(l, prog);
		if (err)
			goto fail;
	}
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
	if (l->skel)
		lb_bpf__destroy(l->skel);
	l->skel = NULL;
	if (l->http)
		http_bpf__destroy(l->http);
	l->http = NULL;
	if (l->cgroup_fd >= 0)
		close(l->cgroup_fd);
	l->cgroup_fd = -1;
}

void loader_map_fds(const struct loader *l, struct lbm_fds *fds)
{
	fds->frontends = bpf_map__fd(l->skel->maps.lb_frontends);
	fds->services = bpf_map__fd(l->skel->maps.lb_services);
	fds->slots = bpf_map__fd(l->skel->maps.lb_slots);
	fds->maglev = bpf_map__fd(l->skel->maps.lb_maglev);
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
	struct bpf_program *p = bpf_object__find_program_by_name(l->skel->obj, name);

	return p || !l->http ? p : bpf_object__find_program_by_name(l->http->obj, name);
}

void loader_set_tc_capture(struct loader *l, bool on)
{
	if (l->http && l->http->bss)
		l->http->bss->tc_capture = on;
}

int loader_prog_fd(const struct loader *l, const char *name)
{
	struct bpf_program *p = loader_prog(l, name);

	return p ? bpf_program__fd(p) : -ENOENT;
}

static int remove_dir_pins(const char *dir, bool links)
{
	struct dirent *de;
	char path[1024];
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (links) {
			int fd = bpf_obj_get(path);

			if (fd >= 0) {
				if (!bpf_link_detach(fd))
					n++;
				close(fd);
			}
		}
		if (unlink(path))
			log_warn("removing %s: %s", path, strerror(errno));
	}
	closedir(d);
	rmdir(dir);
	return n;
}

/* Links whose pins are gone still hold their programs on the cgroup: find
 * bpfmesh's by walking every link in the system. */
static int detach_unpinned(const char *cgroup)
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

int loader_detach(const char *bpffs, const char *cgroup)
{
	char path[600];
	int n;

	snprintf(path, sizeof(path), "%s/links", bpffs);
	n = remove_dir_pins(path, true);
	snprintf(path, sizeof(path), "%s/maps", bpffs);
	remove_dir_pins(path, false);
	if (rmdir(bpffs) && errno != ENOENT)
		log_warn("removing %s: %s", bpffs, strerror(errno));
	if (cgroup)
		n += detach_unpinned(cgroup);
	return n;
}
