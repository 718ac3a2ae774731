/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* lb_maps.bpf.h: the load balancer's maps. Pinned by name under the agent's
 * bpffs directory so the data path survives agent restarts. */
#ifndef BPFMESH_LB_MAPS_BPF_H
#define BPFMESH_LB_MAPS_BPF_H

#include "lb.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_FRONTENDS);
	__type(key, struct lb_fe_key);
	__type(value, struct lb_fe);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_frontends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct lb_svc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_SLOTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lb_slot_key);
	__type(value, struct lb_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_slots SEC(".maps");

/* One maglev lookup table per service, swapped whole by the agent. The
 * agent writes a new table through mmap: a batch update copies its 65,537
 * entries one by one, most of the apply time of 1,000 services
 * (bench/README.md, scale.sh). An inner map must have the template's
 * flags, so the outer map of non-mmapable tables retired with its name
 * (lb_maglev). */
struct lb_maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAGLEV_M);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, LB_MAX_MAGLEV);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct lb_maglev_inner);
} lb_maglev2 SEC(".maps");

/* An array, so the lookup is inlined by the JIT: a slot is written only
 * while no table names its id (and REMOVED is one byte), so readers never
 * see a torn endpoint; family 0 marks a free slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct lb_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct lb_ep_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_ep_stats SEC(".maps");

/* Open TCP connections per endpoint (atomic, shared by all CPUs). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, __s64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_ep_active SEC(".maps");

/* Round-robin cursor per svc_id. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_rr SEC(".maps");

/* Per-socket state: plain hashes freed on every close path (sock_release,
 * lb_udp_sk, lb_mptcp_sk), so a full map means that many live sockets and
 * refuses new ones instead of evicting a live one. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_REVNAT);
	__type(key, struct lb_revnat_key);
	__type(value, struct lb_revnat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_udp_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_REVNAT);
	__type(key, struct lb_aff_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_udp_aff2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct lb_udp_sk);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_udp_sk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct lb_mptcp_sk);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_mptcp_sk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_CONNS);
	__type(key, __u64);
	__type(value, struct lb_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct lb_svc_name);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_svc_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_ACCESS);
	__type(key, struct lb_access_key);
	__type(value, __u8); /* enum lb_access_action */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_access SEC(".maps");

#endif
