/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* health_maps.bpf.h: endpoint health, service policies and their runtime
 * state, the transition ring buffer and the address index for the tc guard. */
#ifndef BPFMESH_HEALTH_MAPS_BPF_H
#define BPFMESH_HEALTH_MAPS_BPF_H

#include "lb.h"
#include "health.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct lb_ep_health);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_ep_health SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct lb_svc_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_svc_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct lb_svc_rt);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_svc_rt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_ENDPOINTS);
	__type(key, struct lb_be_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_be_addr SEC(".maps");

/* Endpoints whose connections the agent is terminating right now
 * (outlierDetection.terminateConnections), read by the socket iterators. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct lb_be_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_term SEC(".maps");

/* Transitions that could not be reported because lb_events was full. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_ev_lost SEC(".maps");

#endif
