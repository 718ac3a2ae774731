/* SPDX-License-Identifier: Apache-2.0 */
/* spanbuild_int.h: the span builder's state, shared by its files, which
 * call each other one way only, each using only the ones listed before it:
 * 1. spanbuild_tables.c: sockets, processes, services and their route
 *    tables, ids, lists (calls no other builder file); beside it
 *    spanbuild_attrs.c: a span's HTTP attributes (neither calls the other);
 * 2. spanbuild_link.c: traces: same-node pairs, in-process nesting;
 * 3. spanbuild_emit.c: ending, sampling and emitting spans, freeing them;
 * 4. spanbuild.c: observations in, the per-socket request FIFO, socket
 *    eviction, ticks, configuration (the public API, spanbuild.h). */
#ifndef BPFMESH_SPANBUILD_INT_H
#define BPFMESH_SPANBUILD_INT_H

#include <stddef.h>
#include <string.h>

#include "trace/route.h"
#include "trace/sampling.h"
#include "trace/spanbuild.h"
#include "trace/tracectx.h"
#include "lib/strmap.h"

/* Intrusive doubly linked list. */
struct sb_node {
	struct sb_node *prev, *next;
};

struct sb_dlist {
	struct sb_node *head, *tail;
};

#define sb_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

void dl_push(struct sb_dlist *l, struct sb_node *n);
void dl_del(struct sb_dlist *l, struct sb_node *n);
/* n right after at (at NULL: first) */
void dl_insert_after(struct sb_dlist *l, struct sb_node *at, struct sb_node *n);

/* The spans of one trace on this node, as far as links are known. Links are
 * found late (the other side of a call may be observed after this one), so
 * groups merge; a merged group points to the one it joined (union-find) and
 * is freed when nothing refers to it any more. */
struct sb_group {
	uint8_t trace_id[16];
	struct sb_group *merged_into;
	unsigned refs;	    /* spans in it + groups merged into it */
	int n_open;	    /* spans not finished yet (meaningful at the root) */
	int remote_sampled; /* incoming traceparent's sampled flag; -1: none */
	bool forced;	    /* an error or slow span: keep the whole trace */
};

enum sb_state {
	SB_OPEN = 0,	  /* request seen, no response yet */
	SB_RESPONDED = 1, /* response started, its end not known yet */
	SB_DONE = 2,	  /* finished: held until it can be emitted */
};

struct sb_sock;
struct sb_proc;

/* A span's working record, 3 KB, while its request is open (spare ones
 * linked by next). */
struct sb_work {
	struct span sp; /* first: a span's record is found from it */
	struct sb_work *next;
};

/* What a finished span keeps packed (span_pack.h) inside its record; a
 * longer one (long pod names, tracestate) is packed into memory of its
 * own. 256 bytes hold the spans of a plain HTTP service (178 for the
 * benchmark's) and keep the record at 10 cache lines. */
#define SB_HELD_INLINE 256

/* One request: a span being built, then held. While it is open its span
 * is a working record (sp). Once finished (SB_DONE) it is held packed
 * (held, sp NULL) and the 3 KB record goes back to the spares, hot for the
 * next request: 8,192 held records of 3.5 KB were 28 MB, far past the
 * caches, and each early emit worked on a cold one. What pairing,
 * nesting, the end and the emit still read or write once it is held lives
 * in this record, not in the span: its ids, kind, path's hash, error. */
struct sb_pend {
	/* every span field but trace id, parent id, sampled and unix times
	 * (the record's own fields, written into the span at emit); NULL
	 * while held. Its strings are written as strings (sb_copy_str),
	 * never as whole arrays: past their NUL is whatever the record's last
	 * span left (span.h) */
	struct span *sp;
	uint8_t *held; /* packed, held_len bytes: held_in or its own memory */
	uint16_t held_len;
	uint8_t kind;		   /* enum span_kind, as sp->kind */
	bool held_error;	   /* held: its status is SPAN_STATUS_ERROR */
	uint8_t span_id[8];	   /* as sp->span_id */
	uint8_t parent_span_id[8]; /* the span's parent (sp's is written at emit) */
	uint64_t path_hash;	   /* of sp->path: pairs are sought without the span */
	struct sb_group *group;
	struct sb_sock *sock;	 /* NULL once the socket is forgotten */
	struct sb_proc *proc;	 /* NULL when the thread is unknown */
	struct sb_pend *partner; /* the other side of a same-node call */
	struct sb_node all, on_sock, on_proc;
	struct sb_node responding; /* on sb->responded while SB_RESPONDED */
	struct sb_node done;	   /* on sb->done while SB_DONE and not being emitted */
	uint64_t seq;		   /* its place in sb->all: emits keep that order */
	bool on_done;
	char method[OBS_METHOD_MAX]; /* as sent, for matching the two sides */
	bool path_truncated;
	bool bodiless_response; /* its response has no body (HEAD) */
	uint8_t state;		/* enum sb_state */
	bool resp_seen;
	bool end_exact;	      /* end from RESPONSE_END or a close that framed it */
	bool close_delimited; /* a response without length: the close ends it */
	bool length_declared; /* its length was declared: a close before its end cuts it */
	bool chunked;	      /* its body is chunked: its last bytes say it ended */
	uint32_t resp_seq0;   /* its head segment's first TCP sequence number (obs_resp_at) */
	uint64_t resp_need;   /* bytes from there to its last, 0 when not known */
	bool local_parent;    /* parent from pairing or nesting */
	bool app_parent;      /* CLIENT: parent from the traceparent the application sent */
	bool has_tp;	      /* the request carried a valid traceparent, tp */
	bool nested;	      /* CLIENT: parent from in-process nesting */
	bool tp_forwarded;    /* CLIENT: tp is one a request its process serves came with */
	uint8_t instr;	      /* enum obs_instr, from its Workload */
	uint32_t stream_id;   /* HTTP/2: paired by (socket, stream), not in the FIFO */
	uint64_t cgroup_id;   /* its process's: a pid reused in another cgroup is another process */
	bool injected;	      /* CLIENT: bpfmesh's kernel added its traceparent: its ids */
	struct trace_parent tp;
	uint32_t tgid, tid;
	uint64_t start_ns, resp_ns, end_ns;
	uint64_t done_ns; /* when it was known to be finished: the hold starts */
	/* last, not cleared for a new request: only held_len bytes are read */
	uint8_t held_in[SB_HELD_INLINE];
};

#define SB_ADDR_TXT 46 /* INET6_ADDRSTRLEN */

struct sb_sock {
	uint64_t cookie;
	struct sb_sock *hnext; /* by cookie */
	struct sb_sock *cnext; /* by connection */
	/* its conn_ht bucket, hashed once: FNV-1a over both ends' 36 bytes
	 * was 2% of the agent at 30k req/s, made again at every request */
	uint32_t conn_b;
	struct sb_node lru;
	struct sb_dlist pends; /* requests still held, in order */
	/* Kept so that per-event work does not grow with what is held (a busy
	 * keep-alive socket holds hundreds of finished spans): */
	struct sb_node *pair_from; /* pends before it all have a partner */
	/* open requests, oldest first; NULL stands for one that is not tracked
	 * (bad head, no room) so that responses still pair in order */
	struct sb_pend *fifo[SB_FIFO_MAX];
	uint8_t fifo_head, fifo_len;
	uint32_t skip; /* untracked requests queued after a full FIFO */
	uint8_t role;  /* enum obs_role */
	bool closed, upgraded, not_traced;
	struct obs_addr local, remote; /* IPv4-mapped IPv6 folded to IPv4 */
	struct obs_addr svc_addr;      /* CLIENT: what connect() named (family 0: unknown) */
	bool svc_addr_asked;	       /* capture said, or cfg.service_addr was asked */
	/* the three as text, made at the first span that needs one (inet_ntop
	 * per span was 5% of the agent at 30k req/s); "" until then */
	char local_txt[SB_ADDR_TXT], remote_txt[SB_ADDR_TXT], svc_txt[SB_ADDR_TXT];
	uint64_t last_ns;
	uint64_t last_resp_ns; /* start of the latest final response, tracked or not */
	uint32_t svc_gen;      /* sb->svc_gen when rt was looked up */
	struct route_table *rt;
	char service[SPAN_NAME_MAX], service_ns[SPAN_NAME_MAX]; /* of its latest request */
	struct span_k8s k8s;					/* its pod, ditto */
	uint64_t id_seq; /* obs.id_seq they came with (0: none) */
};

/* A process seen sending traceparents of its own (not ones it was sent):
 * an OpenTelemetry SDK exports its spans (spanbuild_link.c). */
struct sb_sdk_proc {
	uint32_t tgid; /* 0: free */
	uint64_t cgroup_id;
	uint64_t seen_ns; /* last own traceparent sent */
};

/* The same by service, for requests whose thread the capture could not
 * tell: direct-mapped by a hash of "namespace/name". */
struct sb_sdk_svc {
	uint64_t hash;
	uint64_t seen_ns;
};

#define SB_SDK_SLOTS 1024    /* processes remembered, 4-way sets by pid */
#define SB_SDK_SVC_SLOTS 256 /* services remembered */

/* A process, for in-process nesting: its SERVER and CLIENT spans held. */
struct sb_proc {
	uint32_t tgid;
	struct sb_proc *hnext;
	struct sb_dlist servers, clients;
};

struct spanbuild {
	struct sb_config cfg; /* routes and host_name not kept */
	char host_name[SPAN_NAME_MAX];
	struct sampler sampler;
	uint64_t inject_key; /* the kernel's span-id tag key (inject_ids.h); 0: off */

	struct sb_sock **sock_ht, **conn_ht;
	size_t sock_mask; /* both tables have sock_mask + 1 buckets */
	struct sb_proc **proc_ht;
	size_t proc_mask;
	struct sb_dlist lru; /* sockets, least recently used first */
	struct sb_dlist all; /* spans, oldest request first */
	/* spans in SB_RESPONDED, the only ones the tick's polls and
	 * deadlines look at: a walk of all of them (8,000 spans of 3.5 KB
	 * held at 30k req/s) was a cache miss or two per span per tick */
	struct sb_dlist responded;
	/* spans in SB_DONE by done_ns, so that the tick looks only at the
	 * ones past their pair window: a walk of all of them (8,192 cold
	 * records, 20 times a second) was 10% of the agent at 20k req/s */
	struct sb_dlist done;
	uint64_t seq; /* of the latest span made */
	uint32_t n_sockets, n_pending;
	/* freed span records kept for the next requests (at most
	 * SB_SPARE_MAX), linked by their partner pointer: a calloc and a free
	 * of 3.5 KB per request were 7% of the agent at 30k req/s; and their
	 * working records, given back when the span is held packed */
	struct sb_pend *spare;
	uint32_t n_spare;
	struct sb_work *work_spare;
	uint32_t n_work_spare;
	/* a held span unpacked, for the emit and what reads a held span's
	 * strings (pairing's paths, an SDK's service): the one of view_of */
	const struct sb_pend *view_of;
	struct span view;
	/* freed sockets kept the same way (at most SB_SPARE_MAX), linked by
	 * hnext: in close mode each request is a new socket on each side, and
	 * a calloc (past glibc's tcache size) and a free of 1.5 KB each were
	 * a tenth of the agent */
	struct sb_sock *sock_spare;
	uint32_t n_sock_spare;
	/* freed trace groups kept the same way, linked by merged_into */
	struct sb_group *group_spare;
	uint32_t n_group_spare;

	/* route tables per service ("ns/name" -> index), capped in number */
	char **routes;
	int n_routes, route_cap;
	struct strmap svc_idx;
	struct route_table **svc_rt;
	uint32_t n_svc;
	struct route_table *svc_overflow_rt;
	uint32_t svc_gen;

	uint64_t rng[4];
	struct sb_stats st;
	uint64_t now_ns; /* the latest time seen: observation or tick */
	struct sb_sdk_proc sdk[SB_SDK_SLOTS];
	struct sb_sdk_svc sdk_svc[SB_SDK_SVC_SLOTS];
};

_Static_assert(offsetof(struct sb_work, sp) == 0, "sb_work_alloc returns a new record as its span");
_Static_assert(offsetof(struct sb_pend, held_in) + SB_HELD_INLINE == sizeof(struct sb_pend),
	       "sb_pend_alloc clears what precedes held_in");
_Static_assert(sizeof(((struct obs *)0)->service) >= SPAN_NAME_MAX - 1 &&
		   sizeof(((struct obs *)0)->service_ns) >= SPAN_NAME_MAX - 1,
	       "sb_sock_service copies an observation's names as strings");

/* snprintf(dst, size, "%s", src) without the format engine, and without
 * writing past the NUL: a span's strings are copied with it. A byte loop:
 * they are short ("/", "nginx", "" mostly), and a strnlen and a memcpy
 * per field were two library calls a dozen times per span. */
static inline void sb_copy_str(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	while (n < size - 1 && src[n]) {
		dst[n] = src[n];
		n++;
	}
	dst[n] = '\0';
}

#define SB_MAX_SERVICES 1024
/* Spare span and socket records kept, each: a tick emits (and frees) what
 * came in over its 50 ms at once, 1,300 spans at 13k close req/s with both
 * ends captured, and 256 spares left most of the next requests to calloc
 * (3.5 KB zeroed each) again. At most 7 MB of spans and 3 MB of sockets,
 * memory malloc would keep in its bins after such a tick anyway. */
#define SB_SPARE_MAX 2048

/* 1. spanbuild_tables.c */
/* A LIFO of freed records of one kind: *headp its newest, *n how many,
 * linked through a pointer field of the record's own at offset link.
 * Given back, a record goes first (it is in the cache), and at
 * SB_SPARE_MAX the spare it goes before is freed; taken, the newest
 * comes out as it was left (NULL: none). */
void *sb_spare_take(void *headp, uint32_t *n, size_t link);
void sb_spare_give(void *headp, uint32_t *n, void *rec, size_t link);
void sb_spares_free(void *headp, uint32_t *n, size_t link);
struct sb_sock *sb_sock_find(struct spanbuild *sb, uint64_t cookie);
/* no room check; a spare socket record, cleared, else a new one */
struct sb_sock *sb_sock_new(struct spanbuild *sb, const struct obs *o);
void sb_sock_touch(struct spanbuild *sb, struct sb_sock *s, uint64_t ts);
/* holds no span; to the spares (the newest first, at most SB_SPARE_MAX) */
void sb_sock_free(struct spanbuild *sb, struct sb_sock *s);
void sb_sock_release(struct spanbuild *sb, struct sb_sock *s); /* frees it when closed and empty */
void sb_sock_service(struct spanbuild *sb, struct sb_sock *s,
		     const struct obs *o); /* the request's service */
struct sb_sock *sb_conn_bucket(struct spanbuild *sb, const struct sb_sock *s);
bool sb_sock_peers(const struct sb_sock *a,
		   const struct sb_sock *b); /* two sides of one connection */
struct sb_proc *sb_proc_get(struct spanbuild *sb, uint32_t tgid);
void sb_proc_release(struct spanbuild *sb, struct sb_proc *p); /* frees it when empty */
void sb_tables_free(struct spanbuild *sb);
int sb_tables_init(struct spanbuild *sb);
void sb_services_reset(struct spanbuild *sb);
/* random, never all zero; n: a multiple of 8 (trace and span ids) */
void sb_rand_id(struct spanbuild *sb, uint8_t *id, size_t n);
void sb_rand_seed(struct spanbuild *sb, uint64_t seed);
/* A zeroed span record with a working record whose span reads as a
 * zeroed one: spare ones, else new ones (NULL: no memory). */
struct sb_pend *sb_pend_alloc(struct spanbuild *sb);
/* Back to the spares, the first to be taken again, with its working
 * record or its packed span's memory; when SB_SPARE_MAX wait already, the
 * one that was first is freed. */
void sb_pend_release(struct spanbuild *sb, struct sb_pend *p);
/* A working record, its span reading as a zeroed one (NULL: no memory);
 * and back to the spares, as sb_pend_release. */
struct span *sb_work_alloc(struct spanbuild *sb);
void sb_work_release(struct spanbuild *sb, struct span *sp);
/* p finished: its span packed into the record, its working record given
 * back (kept when no memory for a long span). */
void sb_pend_hold(struct spanbuild *sb, struct sb_pend *p);
/* p's span: its working record, else its packed span unpacked into
 * sb->view (valid until the next call for another span). Read only, but
 * for the emit's ids and times. */
struct span *sb_pend_view(struct spanbuild *sb, const struct sb_pend *p);
/* p's span to change: a held one gets a working record again, which it
 * keeps until emitted (NULL: no memory, nothing to change). */
struct span *sb_pend_edit(struct spanbuild *sb, struct sb_pend *p);
uint64_t sb_path_hash(const char *path);

/* 1b. spanbuild_attrs.c (calls no other builder file) */
bool sb_method_known(const char *m);
void sb_ipv4_text(const uint8_t *a, char *txt); /* inet_ntop's text, at least 16 bytes */
bool sb_host_endpoint(const char *host, struct span_endpoint *e); /* from a Host value */
void sb_http_attrs(struct spanbuild *sb, struct sb_sock *s, struct sb_pend *p, const struct obs *o);
const char *sb_conn_error_type(int err); /* error.type of a connection error */

/* 2. spanbuild_link.c */
struct sb_group *sb_group_new(struct spanbuild *sb, const uint8_t *trace_id, int remote_sampled);
struct sb_group *sb_group_root(struct spanbuild *sb, struct sb_pend *p);
void sb_group_unref(struct spanbuild *sb, struct sb_group *g);
void sb_group_spares_free(struct spanbuild *sb);
void sb_link_new_request(struct spanbuild *sb, struct sb_pend *p);
/* Before p is emitted (it may move to a trace of its own): false when an
 * SDK exports p's span. */
bool sb_link_emit_prepare(struct spanbuild *sb, struct sb_pend *p);
uint32_t sb_sdk_count(const struct spanbuild *sb, uint64_t now); /* SDK'd processes now */

/* 3. spanbuild_emit.c */
void sb_set_http_status(struct sb_pend *p, uint16_t code);
void sb_set_error(struct sb_pend *p, int err); /* a connection error ended it */
void sb_finish(struct spanbuild *sb, struct sb_pend *p, uint64_t end_ns, bool exact, uint64_t now);
void sb_set_end(struct spanbuild *sb, struct sb_pend *p,
		uint64_t end_ns); /* a better end, once done */
bool sb_due(struct spanbuild *sb, struct sb_pend *p, uint64_t now);
void sb_emit(struct spanbuild *sb, struct sb_pend *p);
/* Every span due at now, in the order of sb->all. */
void sb_emit_due(struct spanbuild *sb, uint64_t now);
void sb_drop(struct spanbuild *sb, struct sb_pend *p, enum sb_drop why);
bool sb_make_room(struct spanbuild *sb);

#endif
