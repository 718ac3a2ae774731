/* SPDX-License-Identifier: Apache-2.0 */
/* inject_ids.c: the agent's side of the span-id tag (inject_ids.h). */
#include <arpa/inet.h>

#include "bpf/inject.h"
#include "trace/inject_ids.h"

/* An address as inject.h hashes it: 16 bytes, IPv4 as IPv4-mapped IPv6, as
 * four words in memory order. */
static void words(const struct obs_addr *in, __u32 w[4])
{
	struct obs_addr a;

	obs_addr_fold(in, &a);
	if (a.family == AF_INET) {
		w[0] = w[1] = 0;
		w[2] = htonl(0xffff);
		memcpy(&w[3], a.addr, 4);
	} else {
		memcpy(w, a.addr, 16);
	}
}

bool inject_ids_ours(const struct obs *o, const struct trace_parent *tp, uint64_t key)
{
	__u32 l[4], r[4], hi, lo;

	if (!key || o->role != OBS_ROLE_CLIENT)
		return false;
	words(&o->local, l);
	words(&o->remote, r);
	hi = (__u32)tp->span_id[0] << 24 | (__u32)tp->span_id[1] << 16 |
	     (__u32)tp->span_id[2] << 8 | tp->span_id[3];
	lo = (__u32)tp->span_id[4] << 24 | (__u32)tp->span_id[5] << 16 |
	     (__u32)tp->span_id[6] << 8 | tp->span_id[7];
	return lo == inject_tag(hi, inject_conn(l, r, o->local.port, o->remote.port), key);
}
