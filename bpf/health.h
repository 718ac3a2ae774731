/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* health.h: the ABI of endpoint health and service protection (outlier
 * ejection, circuit breaker, bulkhead, rate limit), shared by the kernel
 * (bpf/lib/health.bpf.h, used from lb.bpf.c) and the agent (agent/lb/health.c).
 * The kernel decides on its own (no agent round trip); the agent writes the
 * policy, runs active checks and reports what the kernel decided.
 */
#ifndef BPFMESH_HEALTH_H
#define BPFMESH_HEALTH_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#include <linux/bpf.h>
#include <stdbool.h>
#endif

#define LB_BREAKER_WINDOW_MAX 1024 /* bits in lb_svc_rt.window */

enum lb_ep_state {
	LB_EP_HEALTHY = 0,
	LB_EP_EJECTED = 1,   /* never chosen until ejected_until */
	LB_EP_HALF_OPEN = 2, /* half_open_left trial connections allowed */
};

enum lb_reason {
	LB_REASON_NONE = 0,
	LB_REASON_CONNECT_FAILURES = 1, /* consecutiveConnectFailures */
	LB_REASON_5XX = 2,		/* consecutive5xxErrors */
	LB_REASON_GATEWAY = 3,		/* consecutiveGatewayErrors */
	LB_REASON_ACTIVE_CHECK = 4,	/* healthCheck.unhealthyThreshold */
	LB_REASON_TRIAL_FAILED = 5,	/* a half-open trial failed */
	LB_REASON_TRIAL_OK = 6,		/* a half-open trial succeeded */
	LB_REASON_TIMER = 7,		/* ejection or open time passed */
	LB_REASON_FAILURE_RATE = 8,	/* circuitBreaker.failureRateThreshold */
	LB_REASON_ACTIVE_OK = 9,	/* healthCheck.healthyThreshold */
	LB_REASON_MAX,
};

/* lb_ep_health value (array, index ep_id). */
struct lb_ep_health {
	struct bpf_spin_lock lock;
	__u8 state;  /* enum lb_ep_state */
	__u8 reason; /* why it is in this state */
	__u16 half_open_left;
	__u32 consec_connect_fail;
	__u32 consec_5xx;
	__u32 consec_gateway;
	__u32 ejections; /* ejection multiplier, decays while healthy */
	__u32 svc_id;	 /* service whose policy ejected it */
	__u32 reserved;
	__u64 ejected_until; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u64 changed_at;
};
_Static_assert(sizeof(struct lb_ep_health) == 48, "lb_ep_health ABI");

#define LB_POL_OUTLIER 0x1
#define LB_POL_BREAKER 0x2
#define LB_POL_POOL 0x4
#define LB_POL_RATE 0x8
#define LB_POL_TERMINATE 0x10
#define LB_POL_ACTIVE_CHECK 0x20

/* lb_svc_policy value (hash, key svc_id): a TrafficPolicy, in kernel units. */
struct lb_svc_policy {
	__u32 flags;		       /* LB_POL_* */
	__u32 consec_connect_failures; /* 0: not counted */
	__u32 consec_5xx;
	__u32 consec_gateway;
	__u32 max_ejection_pct;
	__u32 half_open_permits; /* endpoint trials after an ejection */
	__u64 base_ejection_ns;
	__u64 max_ejection_ns;
	__u32 connect_timeout_ms; /* 0: kernel default */
	__u32 failure_rate_x100;  /* 50% = 5000 */
	__u32 window_size;	  /* <= LB_BREAKER_WINDOW_MAX */
	__u32 min_calls;
	__u64 wait_open_ns;
	__u32 breaker_permits; /* calls allowed in HALF_OPEN */
	__u32 max_connections; /* bulkhead */
	__u32 rate_per_sec;
	__u32 burst;
};
_Static_assert(sizeof(struct lb_svc_policy) == 80, "lb_svc_policy ABI");

enum lb_breaker_state {
	LB_BREAKER_CLOSED = 0,
	LB_BREAKER_OPEN = 1,
	LB_BREAKER_HALF_OPEN = 2,
};

/* lb_svc_rt value (array, index svc_id): runtime state of a service's
 * protections. The window is a ring of call outcomes (bit set = failure). */
struct lb_svc_rt {
	struct bpf_spin_lock lock;
	__u8 breaker; /* enum lb_breaker_state */
	__u8 reserved0[3];
	__u32 win_pos;
	__u32 win_count;
	__u32 win_failures;
	__u32 half_open_left;
	__u32 half_open_done;
	__u32 half_open_failed;
	__u64 open_until;
	__u64 tokens_milli; /* rate limit bucket, thousandths of a connection */
	__u64 refill_at;
	__u64 changed_at;
	__s64 active;  /* sockets holding a bulkhead slot (atomic, outside the lock) */
	__s64 ejected; /* endpoints ejected by this service's policy (atomic) */
	__u64 window[LB_BREAKER_WINDOW_MAX / 64];
};
_Static_assert(sizeof(struct lb_svc_rt) == 208, "lb_svc_rt ABI");

enum lb_event_kind {
	LB_EV_EP_EJECTED = 1,
	LB_EV_EP_HALF_OPEN = 2,
	LB_EV_EP_RESTORED = 3,
	LB_EV_BREAKER_OPEN = 4,
	LB_EV_BREAKER_HALF_OPEN = 5,
	LB_EV_BREAKER_CLOSED = 6,
};

/* lb_events ring buffer record: one per state transition, for the log. */
struct lb_health_event {
	__u64 ts;
	__u64 until; /* ejected_until / open_until */
	__u32 ep_id;
	__u32 svc_id;
	__u32 count; /* ejections, or failure rate x100 for the breaker */
	__u8 kind;   /* enum lb_event_kind */
	__u8 reason; /* enum lb_reason */
	__u16 reserved;
};
_Static_assert(sizeof(struct lb_health_event) == 32, "lb_health_event ABI");

/* lb_be_addr key: endpoint address -> ep_id, for the tc guard. */
struct lb_be_key {
	__u8 addr[16];
	__u16 port; /* network byte order */
	__u8 family;
	__u8 reserved;
};
_Static_assert(sizeof(struct lb_be_key) == 20, "lb_be_key ABI");

#endif
