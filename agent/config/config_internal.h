/* SPDX-License-Identifier: Apache-2.0 */
/* config_internal.h: what the config loader's files share: the loader state,
 * error collection and the table-driven schema walker. Only agent/config*.c
 * include it; the rest of the agent sees config.h alone.
 */
#ifndef BPFMESH_CONFIG_INTERNAL_H
#define BPFMESH_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "config/config.h"
#include "lib/strmap.h"

#define CFGP_PATH_LEN 512  /* a field path such as spec.endpoints[3].port */
#define CFGP_QUOTE_LEN 160 /* a user value quoted for a message */
#define CFGP_MAX_ADDRS 16  /* the limits protect the kernel's per-service maps */
#define CFGP_MAX_PORTS 16
/* A Service's endpoints list holds both families; each family is then held
 * to CFG_MAX_ENDPOINTS. */
#define CFGP_MAX_ENDPOINTS (2 * CFG_MAX_ENDPOINTS)
/* Bounds on what one document may make the loader do, so that a small file
 * cannot cost much memory or time (YAML aliases multiply a walk). */
#define CFGP_MAX_ROUTES 1024	 /* Telemetry.routes */
#define CFGP_MAX_HEADERS 64	 /* Telemetry.otlp.headers */
#define CFGP_MAX_FROM 1024	 /* AccessPolicy.from */
#define CFGP_MAX_WL_PORTS 64	 /* Workload.ports */
#define CFGP_MAX_WL_IFACES 64	 /* Workload.interfaces */
#define CFGP_MAX_EXPANDED 100000 /* nodes aliases may add to a document's walk */
#define CFGP_ERRS_PER_FILE 20	 /* errors reported per source; the rest are counted */
/* Kubernetes objects: the API server's own limits where it has them. */
#define CFGP_MAX_ITEMS 65536	      /* items of a kind: List */
#define CFGP_MAX_LABELS 256	      /* labels of an object, keys of a selector */
#define CFGP_MAX_OWNERS 64	      /* metadata.ownerReferences */
#define CFGP_MAX_SLICE_ENDPOINTS 1000 /* EndpointSlice.endpoints (API server: 1000) */
#define CFGP_MAX_SLICE_PORTS 100      /* EndpointSlice.ports (API server: 100) */
#define CFGP_MAX_SLICE_ADDRS 100      /* EndpointSlice.endpoints[].addresses (100) */
#define CFGP_MAX_CONTAINERS 64	      /* Pod.status.containerStatuses */
/* Passes over the sources while in-memory objects are left out (config.c):
 * references go at most Workload -> Service and AccessPolicy -> Workload ->
 * Service deep, so four passes reach the fixed point. */
#define CFGP_MAX_PASSES 8

/* A position in a source; file indexes the loader's sources (the files
 * first, then the in-memory ones), obj the pass's objects (-1: none), line
 * and column are 1-based. Line 0 means the message carries its own location. */
struct cfgp_mark {
	int file;
	int obj;
	int line;
	int column;
};

struct cfgp_error {
	struct cfgp_mark at;
	int seq; /* keeps errors at the same position in the order found */
	char *msg;
	int what; /* offset in msg of the text after "SOURCE:LINE:COL: " */
};

/* A name one document refers to, resolved once every file has been read
 * because the target may be defined later. */
enum cfgp_ref_kind {
	CFGP_REF_POLICY_SERVICE,
	CFGP_REF_WORKLOAD_SERVICE,
	CFGP_REF_ACCESS_SERVICE,
	CFGP_REF_ACCESS_FROM, /* item: index in entries[] */
};

struct cfgp_ref {
	enum cfgp_ref_kind kind;
	int obj;  /* index in the kind's array */
	int item; /* CFGP_REF_ACCESS_FROM: index in from[] */
	struct cfgp_mark at;
};

/* Where a service address was written, for the cross-service conflict check. */
struct cfgp_addr_use {
	int svc;
	int addr;
	struct cfgp_mark at;
};

/* A source: a file (read in the first pass, kept for the next ones) or an
 * in-memory document set. */
struct cfgp_src {
	char *name;
	char *text; /* the file's bytes (owned), or the caller's */
	size_t len;
	bool memory;
	bool read; /* text holds the file */
};

/* What the passes over the sources share (config.c). An object is left out
 * by its place: source, YAML document and item of a kind: List. */
struct cfgp_run {
	struct cfg_cache *cache; /* NULL: every source is read */
	struct cfgp_src *srcs;
	int n_srcs, n_files;
	struct strmap left_out;	 /* "src/doc/item" -> 1 */
	struct cfgp_error *kept; /* errors of left-out objects: warnings */
	int n_kept, cap_kept;
	struct cfg_skipped *skipped; /* the left-out objects */
	int n_skipped, cap_skipped;
};

/* An object of a pass: a YAML document or an item of a kind: List. */
struct cfgp_obj {
	int src, doc, item; /* item -1: the document itself */
	struct cfgp_mark at;
	char kind[64];
	char ns[CFG_NAME_MAX], name[CFG_NAME_MAX];
	bool bad;     /* has an error */
	bool skipped; /* already in cfg->skipped */
};

struct cfgp_k8s; /* config_k8s.h */

struct cfgp_loader {
	struct cfgp_run *run;
	struct mesh_config *cfg;
	struct cfgp_error *errs;
	int n_errs, cap_errs;
	struct cfgp_error *warns;
	int n_warns, cap_warns;
	int *file_errs;	     /* errors per source */
	int *file_dropped;   /* errors past CFGP_ERRS_PER_FILE, per source */
	bool *src_bad;	     /* an error not tied to one object (invalid YAML) */
	struct strmap names; /* "Kind/ns/name" -> index, for duplicates and references */
	struct cfgp_ref *refs;
	int n_refs, cap_refs;
	struct cfgp_addr_use *uses;
	int n_uses, cap_uses;
	/* capacities of mesh_config's object arrays: they grow by doubling,
	 * not by one per document, which copied the whole array (objects of
	 * 9 KB) once per document: quadratic in a file of many documents */
	int cap_services, cap_policies, cap_workloads, cap_access;
	struct cfgp_obj *objs;
	int n_objs, cap_objs;
	struct cfgp_k8s *k8s; /* core Kubernetes objects, turned into config at the end */
	int cap_skipped;
	int io_err; /* first I/O error, negative errno */
	bool oom;
};

/* One YAML document (or item of a List) being checked. */
struct cfgp_doc {
	struct cfgp_loader *ld;
	yaml_document_t *doc;
	int file; /* index of the source */
	int obj;  /* index in ld->objs, -1 before the object is known */
};

/* The source's name: a file's path or an in-memory source's name. */
const char *cfgp_src_name(const struct cfgp_loader *ld, int file);
/* Precedence of an origin: 0 a file's document, 1 a custom resource, 2 an
 * object discovered from a file, 3 one discovered from the API. */
int cfgp_rank(const struct cfg_origin *o);
/* "file", "custom resource" or "discovered", for the conflict warnings. */
const char *cfgp_rank_name(const struct cfg_origin *o);
enum cfgp_claim { CFGP_CLAIMED, CFGP_DUPLICATE, CFGP_OVERRIDDEN };
/* Registers "Kind/ns/name" -> idx (the index the object will have in its
 * kind's array). When the name is held: a duplicate of the same rank is an
 * error at (at, path); an object of a lower rank than the holder's is
 * overridden, with a warning naming both origins (objects come in rank
 * order, so the holder never has the lower rank). */
enum cfgp_claim cfgp_claim(struct cfgp_loader *ld, const char *kind, const struct cfg_meta *meta,
			   int idx, struct cfgp_mark at, const char *path);
/* A skipped object and why, for cfg->skipped. */
void cfgp_skip(struct cfgp_loader *ld, const char *kind, const char *ns, const char *name,
	       struct cfgp_mark at, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The index of the object of a kind ("Service", "Workload", ...) named ns/name,
 * -1 when none (config_document.c keeps the names as documents come). */
int cfgp_find(const struct cfgp_loader *ld, const char *kind, const char *ns, const char *name);

/* ---- errors (config_errors.c) ---- */

void cfgp_err(struct cfgp_doc *d, const yaml_node_t *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cfgp_err_at(struct cfgp_loader *ld, struct cfgp_mark at, const char *path, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));
/* A message that already names its file (I/O errors). */
void cfgp_err_raw(struct cfgp_loader *ld, int file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A warning: reported, but the set still applies. */
void cfgp_warn_at(struct cfgp_loader *ld, struct cfgp_mark at, const char *path, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));
struct cfgp_mark cfgp_mark_of(const struct cfgp_doc *d, const yaml_node_t *n);
/* Adds the "N more errors not shown" lines and sorts errors and warnings by
 * position. */
void cfgp_errors_sort(struct cfgp_loader *ld);
/* Hands out (or frees) the messages of errs[0..n-1] in order and frees the array. */
void cfgp_errors_give(struct cfgp_error *errs, int n, struct cfg_errors *out);
int cfgp_cmp_errors(const void *a, const void *b);
/* s in double quotes, control characters escaped, long values cut; returns buf. */
const char *cfgp_quote(char buf[CFGP_QUOTE_LEN], const char *s);
/* Room for one more element of size bytes; NULL (and ld->oom) on failure. */
void *cfgp_grow(struct cfgp_loader *ld, void *arr, int n, int *cap, size_t size);
/* Room for want elements in all: an array cfgp_grow also grows must be
 * enlarged through this, so that *cap stays its true capacity. */
void *cfgp_reserve(struct cfgp_loader *ld, void *arr, int want, int *cap, size_t size);

/* ---- schema walker (config_schema.c) ---- */

enum cfgp_type {
	CFGP_STR,  /* char[size]; check() may refuse the value */
	CFGP_INT,  /* unsigned integer of size bytes in [min, max] */
	CFGP_NUM,  /* double in [dmin, dmax] */
	CFGP_BOOL, /* bool */
	CFGP_DUR,  /* uint64_t milliseconds; min 1 refuses 0 */
	CFGP_ENUM, /* one of names[], stored as an integer of size bytes */
	CFGP_ADDR, /* struct cfg_addr */
	CFGP_MAP,  /* a mapping walked with sub at base + off */
	CFGP_LIST, /* a sequence of list->item into an array at off, count at count_off */
	CFGP_FUNC, /* fn does it all */
};

struct cfgp_enum {
	const char *name;
	int value;
};

struct cfgp_field;

/* The items of a sequence and how many are allowed. */
struct cfgp_list {
	const struct cfgp_field *item; /* off 0: applied to each element */
	size_t elem;
	int min;	   /* 1: must not be empty */
	int max;	   /* 0: no limit */
	const char *noun;  /* "endpoints" in "300 endpoints exceed the limit of 256 per service" */
	const char *scope; /* " per service" in the same; NULL: nothing */
};

typedef void (*cfgp_fn)(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base);
/* NULL when s is acceptable, otherwise what is wrong ("is not a valid name"). */
typedef const char *(*cfgp_check)(const char *s);
/* A reference to another document by name: present but empty is an error,
 * not a reference to nothing. */
const char *cfgp_check_ref(const char *s);
/* Kubernetes' rules: an object name is an RFC 1123 subdomain, a namespace an
 * RFC 1123 label (config_meta.c). */
const char *cfgp_check_name(const char *s);
const char *cfgp_check_namespace(const char *s);

struct cfgp_field {
	const char *key;
	enum cfgp_type type;
	size_t off;
	size_t size;
	long long min, max;
	double dmin, dmax;
	bool required;
	bool null_ok; /* CFGP_FUNC: also called for a null value (e.g. `tcp:`) */
	long set_off; /* CFGP_MAP: offset of a bool set when the mapping is present, -1: none */
	size_t count_off;
	const struct cfgp_enum *names; /* terminated by a NULL name */
	const struct cfgp_field *sub;  /* terminated by a NULL key */
	const struct cfgp_list *list;
	cfgp_fn fn;
	cfgp_check check;
};

#define CFGP_SIZEOF(T, m) sizeof(((T *)0)->m)
#define F_STR(k, T, m, ...)                                                                        \
	{                                                                                          \
		.key = k, .type = CFGP_STR, .off = offsetof(T, m), .size = CFGP_SIZEOF(T, m),      \
		__VA_ARGS__                                                                        \
	}
#define F_INT(k, T, m, lo, hi, ...)                                                                \
	{                                                                                          \
		.key = k, .type = CFGP_INT, .off = offsetof(T, m), .size = CFGP_SIZEOF(T, m),      \
		.min = lo, .max = hi, __VA_ARGS__                                                  \
	}
#define F_NUM(k, T, m, lo, hi, ...)                                                                \
	{                                                                                          \
		.key = k, .type = CFGP_NUM, .off = offsetof(T, m), .dmin = lo, .dmax = hi,         \
		__VA_ARGS__                                                                        \
	}
#define F_BOOL(k, T, m, ...)                                                                       \
	{                                                                                          \
		.key = k, .type = CFGP_BOOL, .off = offsetof(T, m), __VA_ARGS__                    \
	}
#define F_DUR(k, T, m, lo, ...)                                                                    \
	{                                                                                          \
		.key = k, .type = CFGP_DUR, .off = offsetof(T, m), .min = lo, __VA_ARGS__          \
	}
#define F_ENUM(k, T, m, tbl, ...)                                                                  \
	{                                                                                          \
		.key = k, .type = CFGP_ENUM, .off = offsetof(T, m), .size = CFGP_SIZEOF(T, m),     \
		.names = tbl, __VA_ARGS__                                                          \
	}
/* A nested mapping whose fields live in the same struct (TrafficPolicy sections). */
#define F_SECTION(k, tbl, T, flag, ...)                                                            \
	{                                                                                          \
		.key = k, .type = CFGP_MAP, .sub = tbl, .set_off = offsetof(T, flag), __VA_ARGS__  \
	}
#define F_GROUP(k, tbl, ...)                                                                       \
	{                                                                                          \
		.key = k, .type = CFGP_MAP, .sub = tbl, .set_off = -1, __VA_ARGS__                 \
	}
#define F_LIST(k, T, arr, cnt, desc, ...)                                                          \
	{                                                                                          \
		.key = k, .type = CFGP_LIST, .off = offsetof(T, arr),                              \
		.count_off = offsetof(T, cnt), .list = desc, __VA_ARGS__                           \
	}
#define F_FUNC(k, f, ...)                                                                          \
	{                                                                                          \
		.key = k, .type = CFGP_FUNC, .fn = f, __VA_ARGS__                                  \
	}

#define F_ANY                                                                                      \
	{                                                                                          \
		.key = "*", .type = CFGP_FUNC, .fn = cfgp_ignore, .null_ok = true                  \
	}
/* Accepts any value, unread. */
void cfgp_ignore(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base);

yaml_node_t *cfgp_node(const struct cfgp_doc *d, int id);
/* The value of key in map, NULL when map is not a mapping or has no such key. */
yaml_node_t *cfgp_get(const struct cfgp_doc *d, const yaml_node_t *map, const char *key);
/* A plain "", "~" or "null": YAML's way of writing "not set". */
bool cfgp_is_null(const yaml_node_t *n);
void cfgp_join(char dst[CFGP_PATH_LEN], const char *path, const char *key);
void cfgp_index(char dst[CFGP_PATH_LEN], const char *path, int i);

/* Checks map against fields and stores what it finds at base. Reports unknown,
 * duplicate and missing required fields; nulls count as absent. A NULL map is
 * ignored (its absence was reported by the caller). A table with an F_ANY
 * entry takes other keys too, unread (Kubernetes objects have many fields
 * bpfmesh does not use). */
void cfgp_walk(struct cfgp_doc *d, yaml_node_t *map, const char *path,
	       const struct cfgp_field *fields, void *base);
/* Applies one field's type to a node. */
void cfgp_value(struct cfgp_doc *d, yaml_node_t *n, const char *path, const struct cfgp_field *f,
		void *base);
/* A scalar's text, or NULL with "expected a string" reported. */
const char *cfgp_string(struct cfgp_doc *d, yaml_node_t *n, const char *path);

/* ---- kinds ---- */

/* A YAML document of the source d->file, the doc-th of it. */
void cfgp_document(struct cfgp_doc *d, yaml_node_t *root, int doc);
/* Reads the sources into ld (config_read.c). */
void cfgp_list_dir(struct cfgp_loader *ld, const char *dir);
void cfgp_read_source(struct cfgp_loader *ld, int src);
/* A file source (config.c). */
void cfgp_add_file(struct cfgp_loader *ld, const char *path);
/* Whether an earlier pass left out the object (item -1: a document; doc -1:
 * the whole source). */
bool cfgp_left_out(const struct cfgp_loader *ld, int src, int doc, int item);
/* The core Kubernetes objects read into ld->k8s become services and
 * workloads (config_discover.c, config_discover_pod.c). */
void cfgp_discover(struct cfgp_loader *ld);
void cfgp_service(struct cfgp_doc *d, yaml_node_t *spec, const struct cfg_meta *meta);
/* loadBalancer.policy's names (config_service.c). */
extern const struct cfgp_enum cfgp_lb_policies[];
void cfgp_traffic_policy(struct cfgp_doc *d, yaml_node_t *spec, const struct cfg_meta *meta);
void cfgp_workload(struct cfgp_doc *d, yaml_node_t *spec, const struct cfg_meta *meta);
void cfgp_access_policy(struct cfgp_doc *d, yaml_node_t *spec, const struct cfg_meta *meta);
/* Returns a parsed Telemetry (possibly with errors reported), NULL when out of memory. */
struct cfg_telemetry *cfgp_telemetry(struct cfgp_doc *d, yaml_node_t *spec,
				     const struct cfg_meta *meta);
void cfgp_telemetry_free(struct cfg_telemetry *t);

/* A Service's endpoints of each family within CFG_MAX_ENDPOINTS; else an
 * error at (at, path), naming what comes from where. */
void cfgp_check_endpoint_limit(struct cfgp_loader *ld, const struct cfg_service *s,
			       struct cfgp_mark at, const char *path, const char *whence);
/* Addresses of service svc, for the cross-service conflict check. */
void cfgp_add_addr_use(struct cfgp_loader *ld, int svc, int addr, struct cfgp_mark at);

/* ---- the cache of in-memory objects (config_cache.c) ---- */

/* The loader's counts before a source is read. */
struct cfgp_cache_mark {
	int errs, warns, objs, svcs, slices, pods, rss, refs, uses, cfg;
	size_t names;
};
void cfgp_cache_begin(struct cfg_cache *c);
void cfgp_cache_end(struct cfg_cache *c);
/* The source's object from the cache when its text is the cached one:
 * true when it was replayed (or the replay ran out of memory, ld->oom). */
bool cfgp_cache_replay(struct cfgp_loader *ld, int file);
void cfgp_cache_mark(const struct cfgp_loader *ld, struct cfgp_cache_mark *m);
/* Keeps what reading the source added since before, when it is one clean
 * Service or EndpointSlice. */
void cfgp_cache_store(struct cfgp_loader *ld, int file, const struct cfgp_cache_mark *before);

/* Records a reference for cfgp_resolve(). */
void cfgp_add_ref(struct cfgp_doc *d, const yaml_node_t *n, enum cfgp_ref_kind kind, int obj,
		  int item);
/* Cross-document checks: references and addresses shared between services;
 * the AccessPolicy entries made workload lists. */
void cfgp_resolve(struct cfgp_loader *ld);

#endif
