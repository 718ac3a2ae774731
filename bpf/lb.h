/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* lb.h: the ABI of the load-balancing component, shared by bpf/lb.bpf.c and the
 * agent (agent/lb/: lbplan.c plans the contents, lbmaps.c writes them).
 * Pinned maps outlive binaries: never reuse a field, mark retired ones
 * reserved, and bump LB_ABI_VERSION (and rename the map) when a layout
 * changes, so an agent refuses pins it cannot read.
 */
#ifndef BPFMESH_LB_H
#define BPFMESH_LB_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define LB_ABI_MAGIC 0x62706d6c /* "bpml" */
#define LB_ABI_VERSION 1

/* Default map sizes; the agent may resize them before load (--max-*). */
#define LB_MAX_FRONTENDS 16384	/* VIP x port x protocol */
#define LB_MAX_SERVICES 16384	/* service port x address family */
#define LB_MAX_ENDPOINTS 131072 /* distinct endpoint address:port */
#define LB_MAX_SLOTS 1048576	/* weighted slots + endpoint lists, both generations */
#define LB_MAX_MAGLEV 1024	/* services using maglev */
/* maglev table size: prime, >= 100 x endpoints per service (as Katran) */
#define LB_MAGLEV_M 65537
#define LB_MAX_REVNAT 65536	 /* unconnected UDP socket x endpoint -> service address */
#define LB_MAX_CONNS 65536	 /* open connect()ed sockets sent to an endpoint */
#define LB_UDP_PAIRS_MAX 16	 /* (service, endpoint) pairs of one unconnected UDP socket */
#define LB_WEIGHT_TABLE_MAX 4096 /* weighted slot table cap per service */
#define LB_MAX_EPS_PER_SVC 4096	 /* endpoint list per service: the fallback scan's bound */
#define LB_LC_WINDOW 256	 /* list entries least connections compares, from a random start */

enum lb_policy {
	LB_POLICY_RANDOM = 0,
	LB_POLICY_ROUND_ROBIN = 1,
	LB_POLICY_LEAST_CONN = 2,
	LB_POLICY_MAGLEV = 3,
};

/* Slot keys: bit 31 selects the generation, bit 30 the list. The weighted table
 * (random, roundRobin) repeats endpoints by weight; the endpoint list
 * (leastConnections) holds each endpoint once with its weight. */
#define LB_SLOT_GEN_BIT (1u << 31)
#define LB_SLOT_LIST_BIT (1u << 30)
#define LB_SLOT_IDX_MASK (LB_SLOT_LIST_BIT - 1)

#define LB_EP_NONE 0 /* endpoint ids start at 1 */

/* lb_frontends key: a service address as the application sees it. */
struct lb_fe_key {
	__u8 addr[16]; /* v4: first 4 bytes, rest zero */
	__u16 port;    /* network byte order */
	__u8 proto;    /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 family;   /* AF_INET / AF_INET6 */
};
_Static_assert(sizeof(struct lb_fe_key) == 20, "lb_fe_key ABI");

struct lb_fe {
	__u32 svc_id;
	__u32 reserved;
};
_Static_assert(sizeof(struct lb_fe) == 8, "lb_fe ABI");

/* lb_services value, keyed by svc_id (one per service port and family).
 * Replaced whole by the agent: hash map updates are atomic for readers, so a
 * connect() sees either the old or the new generation, never a mix. */
struct lb_svc {
	__u32 n_slots;	   /* weighted slots in the active generation */
	__u16 n_eps;	   /* endpoints in the active generation */
	__u8 policy;	   /* enum lb_policy */
	__u8 gen;	   /* active generation, 0 or 1 */
	__u32 stale_slots; /* slots left in the inactive generation (agent bookkeeping) */
	__u16 stale_eps;   /* endpoint list entries left in the inactive generation */
	__u8 family;
	__u8 flags; /* LB_SVC_F_* */
};
_Static_assert(sizeof(struct lb_svc) == 16, "lb_svc ABI");

#define LB_SVC_F_POLICY 0x1 /* lb_svc_policy has an entry: saves a lookup when not */
#define LB_SVC_F_ACCESS 0x2 /* lb_access has entries: an AccessPolicy names the service */

struct lb_slot_key {
	__u32 svc_id;
	__u32 slot; /* LB_SLOT_* bits | index */
};
_Static_assert(sizeof(struct lb_slot_key) == 8, "lb_slot_key ABI");

struct lb_slot {
	__u32 ep_id;
	__u16 weight;
	__u16 reserved;
};
_Static_assert(sizeof(struct lb_slot) == 8, "lb_slot ABI");

/* lb_backends value, keyed by ep_id. */
struct lb_backend {
	__u8 addr[16];
	__u16 port; /* network byte order */
	__u8 family;
	__u8 flags; /* LB_BE_F_* */
	__u32 reserved;
};
_Static_assert(sizeof(struct lb_backend) == 24, "lb_backend ABI");

#define LB_BE_F_REMOVED 0x1 /* removed from config, kept until no slot can name it */

/* lb_ep_stats value (per-CPU array, index ep_id): kernel-maintained
 * counters, per CPU so the connect path never bounces a shared cache line;
 * the agent sums them. The live connection count every CPU must agree on
 * (leastConnections reads it) is lb_ep_active. */
struct lb_ep_stats {
	__u64 selected;	 /* connect()/sendmsg() sent to this endpoint */
	__u64 opened;	 /* TCP connections established */
	__u64 closed;	 /* TCP connections closed after establishing */
	__u64 refused;	 /* connect answered by RST */
	__u64 timed_out; /* SYN retries or connectTimeout exhausted */
	__u64 reset;	 /* reset while established */
	__u64 http_5xx;	 /* fed by request capture */
	__u64 reserved;
};
_Static_assert(sizeof(struct lb_ep_stats) == 64, "lb_ep_stats ABI");

/* lb_udp_rev: which service address an unconnected UDP socket meant, to
 * show it back in recvmsg(). A plain hash, not an LRU: an evicted entry would
 * show a live socket the endpoint. Entries go at sock_release (lb_udp_sk);
 * a full map refuses the sendmsg(). (It was lb_revnat, an LRU.) IPv4
 * addresses are kept as 4 bytes, also for a v6 socket that dialled ::ffff:VIP. */
struct lb_revnat_key {
	__u64 cookie;  /* socket cookie */
	__u8 addr[16]; /* endpoint address */
	__u16 port;    /* endpoint port, network byte order */
	__u8 family;
	__u8 reserved[5];
};
_Static_assert(sizeof(struct lb_revnat_key) == 32, "lb_revnat_key ABI");

struct lb_revnat {
	__u8 addr[16]; /* service address */
	__u16 port;    /* service port, network byte order */
	__u16 reserved;
	__u32 svc_id;
};
_Static_assert(sizeof(struct lb_revnat) == 24, "lb_revnat ABI");

/* lb_conns value, keyed by socket cookie: a connect()ed socket that was sent
 * to an endpoint. A hash entry made at connect() and deleted at
 * sock_release is several times cheaper on this path than sk_storage or an
 * LRU map (measured: bench/connect_cost.sh). A full map refuses the
 * connect(). IPv4 addresses are 4 bytes whatever the socket's family. */
struct lb_conn {
	__u8 addr[16];	  /* the service address the application asked for */
	__u8 ep_addr[16]; /* the endpoint it was sent to */
	__u16 port;	  /* service port, network byte order */
	__u16 ep_port;	  /* endpoint port, network byte order */
	__u32 ep_id;
	__u32 svc_id;
	__u8 family;
	__u8 counted;	   /* established and counted in lb_ep_stats.active */
	__u8 pool;	   /* holds a bulkhead slot of svc_id */
	__u8 user_timeout; /* TCP_USER_TIMEOUT set for connectTimeout */
	__u8 outcome;	   /* connect outcome already recorded */
	__u8 reserved[7];
};
_Static_assert(sizeof(struct lb_conn) == 56, "lb_conn ABI");

/* lb_udp_aff2 (UDP affinity): an unconnected UDP socket keeps its endpoint
 * per service. A plain hash freed at sock_release, as lb_udp_rev. (It was
 * lb_udp_aff, an LRU.) */
struct lb_aff_key {
	__u64 cookie;
	__u32 svc_id;
	__u32 reserved;
};
_Static_assert(sizeof(struct lb_aff_key) == 16, "lb_aff_key ABI");

/* lb_udp_sk (socket storage of an unconnected UDP socket): the lb_udp_rev
 * and lb_udp_aff2 keys it made, so sock_release can delete them; the keys
 * carry the socket's cookie, so a pair names an endpoint and a service.
 * When all are taken, a pair whose service moved to another endpoint is
 * reused; a socket whose LB_UDP_PAIRS_MAX pairs are all current is refused. */
struct lb_udp_pair {
	__u8 addr[16]; /* endpoint, as in lb_revnat_key */
	__u16 port;
	__u8 family;
	__u8 reserved;
	__u32 svc_id;
};
_Static_assert(sizeof(struct lb_udp_pair) == 24, "lb_udp_pair ABI");

struct lb_udp_sk {
	__u32 n; /* pairs in use */
	__u32 reserved;
	struct lb_udp_pair pairs[LB_UDP_PAIRS_MAX];
};
_Static_assert(sizeof(struct lb_udp_sk) == 392, "lb_udp_sk ABI");

/* lb_mptcp_sk (socket storage of an MPTCP socket): connect() runs the hook
 * on the first subflow, a kernel socket that never reaches sock_release and
 * whose cookie is its own; the socket the application holds keeps here the
 * subflow's lb_conns key (freed when the application closes it) and what
 * getpeername() shows. */
struct lb_mptcp_sk {
	__u64 sf_cookie;
	struct lb_conn conn;
};
_Static_assert(sizeof(struct lb_mptcp_sk) == 64, "lb_mptcp_sk ABI");

/* lb_meta[0]: identifies the layout of the pinned maps. */
struct lb_meta {
	__u32 magic;
	__u32 abi_version;
	__u64 reserved[3];
};
_Static_assert(sizeof(struct lb_meta) == 32, "lb_meta ABI");

/* lb_drops index: why a connect()/sendmsg() to a service failed. */
enum lb_drop_reason {
	LB_DROP_NO_ENDPOINT = 0,   /* service has no (usable) endpoint */
	LB_DROP_NO_BACKEND = 1,	   /* slot named an endpoint missing from lb_backends */
	LB_DROP_REVNAT_FULL = 2,   /* lb_udp_rev or lb_udp_aff2 full: UDP sendmsg() refused */
	LB_DROP_BREAKER_OPEN = 3,  /* circuit breaker OPEN, or HALF_OPEN permits used */
	LB_DROP_BULKHEAD = 4,	   /* connectionPool.tcp.maxConnections reached */
	LB_DROP_RATE_LIMIT = 5,	   /* rateLimit bucket empty */
	LB_DROP_ALL_EJECTED = 6,   /* every endpoint ejected */
	LB_DROP_TC_EJECTED = 7,	   /* tc guard dropped a SYN to an ejected endpoint */
	LB_DROP_ACCESS_DENIED = 8, /* AccessPolicy: the client's workload may not connect (EPERM) */
	LB_DROP_CONNS_FULL = 9,	   /* lb_conns (or MPTCP storage) full: connect() refused */
	LB_DROP_UDP_PAIRS = 10,	   /* a UDP socket's pairs all in use: sendmsg() refused */
	LB_DROP_MAX = 16,
};

/* lb_svc_names: agent bookkeeping, svc_id -> "ns/name:port/PROTO/v4", so a
 * restarted agent keeps the ids (and the round-robin cursors) it had. */
struct lb_svc_name {
	char key[248];
	__u64 reserved;
};
_Static_assert(sizeof(struct lb_svc_name) == 256, "lb_svc_name ABI");

/* lb_access: AccessPolicy, keyed by service and a workload's cgroup v2 id.
 * The client's cgroup and its ancestors (up to LB_CG_DEPTH_MAX levels) are
 * looked up, so a workload's cgroup covers its whole subtree. The entry with
 * cgroup_id 0 marks a service with ALLOW policies: only the workloads they
 * name may connect. DENY wins over ALLOW. */
#define LB_CG_DEPTH_MAX 16
#define LB_MAX_ACCESS 16384

struct lb_access_key {
	__u32 svc_id;
	__u32 reserved;
	__u64 cgroup_id;
};
_Static_assert(sizeof(struct lb_access_key) == 16, "lb_access_key ABI");

enum lb_access_action {
	LB_ACCESS_ALLOW = 1,
	LB_ACCESS_DENY = 2,
	LB_ACCESS_ALLOW_ONLY = 3, /* at cgroup_id 0 */
};

#endif
