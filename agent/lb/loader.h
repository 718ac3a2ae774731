/* SPDX-License-Identifier: Apache-2.0 */
/* loader.h: loading, pinning, attaching and adopting the kernel programs,
 * sizing their maps (--max-*) and handing the map fds to lbmaps. */
#ifndef BPFMESH_LOADER_H
#define BPFMESH_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include <sys/types.h>

#include "lb/features.h"
#include "lb/lbmaps.h"
#include "lb/pindir.h"

struct lb_bpf;
struct http_bpf;
struct term_bpf;
struct bpf_map;
struct bpf_object;

struct loader_opts {
	const char *bpffs;	/* pin root, e.g. /sys/fs/bpf/bpfmesh */
	const char *cgroup;	/* cgroup v2 path to attach to */
	uint32_t max_endpoints; /* 0: default */
	uint32_t max_services;	/* 0: default */
	uint32_t max_sockets;	/* 0: default */
};

#define LOADER_MAX_PINS 64

/* The interface programs (tcload.c): loaded when first needed. */
enum loader_tc_state {
	LOADER_TC_UNLOADED = 0,
	LOADER_TC_LOADED,
	LOADER_TC_FAILED, /* the kernel refused them: not tried again */
};

struct loader {
	struct lb_bpf *skel;
	struct http_bpf *http;	  /* HTTP capture; NULL where the kernel refused it */
	struct term_bpf *term;	  /* terminateConnections; NULL where the kernel lacks it */
	struct lb_bpf *tc_lb;	  /* the tc guard's instance of lb_bpf (tcload.c) */
	struct http_bpf *tc_http; /* tc capture's instance of http_bpf */
	enum loader_tc_state tc_state;
	int tc_err;
	char kconfig[64];      /* the __kconfig values given to libbpf, for later loads */
	struct kfeatures feat; /* what the kernel has, probed at start */
	struct kplan plan;     /* what loads on it, and what is off */
	struct pindir pd;      /* checked, and locked while the agent runs */
	struct {
		struct bpf_map *map;
		struct bpf_object *obj;
		bool reused;	 /* pinned by an earlier agent */
	} pins[LOADER_MAX_PINS]; /* the maps pinned by name, of both objects */
	int n_pins;
	char bpffs[512];
	char cgroup[512];
	int cgroup_fd;
	int n_attached;
	int n_adopted; /* links taken over from an earlier agent */
};

/* mount bpffs if missing -> check and lock the pin directory -> probe the
 * kernel's features -> open -> size maps -> load (reusing pinned maps) -> pin
 * the new ones -> check the layout version -> attach or take over pinned
 * links. Only the load balancer's object is fatal; capture and the socket
 * iterators load where the kernel takes them, and what is off is logged
 * once and kept in l->plan. Afterwards a map's
 * bpf_map__pin_path() is where it is pinned (NULL: not pinned). */
int loader_start(struct loader *l, const struct loader_opts *o);
/* Close our fds and release the pin directory's lock; pins and links stay,
 * so the data path keeps working. */
void loader_close(struct loader *l);
void loader_map_fds(const struct loader *l, struct lbm_fds *fds);
/* A map's fd by name, or a negative errno. */
int loader_map_fd(const struct loader *l, const char *name);
struct bpf_program;
/* A program by name, or NULL. */
struct bpf_program *loader_prog(const struct loader *l, const char *name);
/* A program's fd by name, or a negative errno. */
int loader_prog_fd(const struct loader *l, const char *name);
/* The programs that go on interfaces (bm_tc_guard, bm_http_tc_in/out) are
 * not loaded at start: loader_load_tc() loads them, once, when a
 * configuration first names an interface (0, or the kernel's refusal, which
 * is logged once and kept). loader_prog() and loader_prog_fd() then find
 * them. */
bool loader_is_tc_prog(const char *name);
/* Before loading an object whose programs work on another's state: every
 * map of second that is not internal (.rodata, .bss, .kconfig) becomes
 * first's map of the same name, by fd; -ENOENT when first has none. */
int loader_share_maps(struct bpf_object *second, const struct bpf_object *first);
int loader_load_tc(struct loader *l);
void loader_close_tc(struct loader *l);
/* Tell the capture tracepoints whether tc capture is attached anywhere. */
void loader_set_tc_capture(struct loader *l, bool on);

/* Remove every attachment and pin of bpfmesh under the pin directory bpffs,
 * checked as the agent checks it, and the directory. Returns the number of
 * links detached; -ENOENT when there is no such directory; -EBUSY when a
 * running agent holds it (its pid in *holder, 0 if unknown) and force is not
 * set; another negative errno after logging. *left: entries that are not
 * bpfmesh's pins, left in place. */
int loader_detach_pins(const char *bpffs, bool force, pid_t *holder, int *left);
/* Links of bpfmesh programs on the cgroup whose pins were lost: detach them.
 * Returns how many. */
int loader_detach_unpinned(const char *cgroup);

#endif
