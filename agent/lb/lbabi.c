/* SPDX-License-Identifier: Apache-2.0 */
/* lbabi.c: config enums to kernel ABI values (see lbabi.h). */
#include <errno.h>
#include <stdint.h>

#include "bpf/lb.h"
#include "lb/lbabi.h"

/* The kernel values are read back from pinned maps that an earlier agent
 * wrote (adoption compares lb_services.policy; the kernel program reads
 * lb_access values): a renumbering would make one side misread the other. */
_Static_assert(LB_POLICY_RANDOM == 0 && LB_POLICY_ROUND_ROBIN == 1 && LB_POLICY_LEAST_CONN == 2 &&
		   LB_POLICY_MAGLEV == 3,
	       "enum lb_policy is a pinned-map ABI: add values, never renumber");
_Static_assert(LB_ACCESS_ALLOW == 1 && LB_ACCESS_DENY == 2 && LB_ACCESS_ALLOW_ONLY == 3,
	       "enum lb_access_action is a pinned-map ABI: add values, never renumber");
/* lb_svc.policy and the lb_access value are one byte */
_Static_assert(sizeof(((struct lb_svc *)0)->policy) == 1 && LB_POLICY_MAGLEV <= UINT8_MAX,
	       "lb_svc.policy holds every enum lb_policy value");
_Static_assert(LB_ACCESS_ALLOW_ONLY <= UINT8_MAX, "an lb_access value is one byte");

int lb_policy_of(enum cfg_lb_policy p)
{
	switch (p) {
	case CFG_LB_RANDOM:
		return LB_POLICY_RANDOM;
	case CFG_LB_ROUND_ROBIN:
		return LB_POLICY_ROUND_ROBIN;
	case CFG_LB_LEAST_CONN:
		return LB_POLICY_LEAST_CONN;
	case CFG_LB_MAGLEV:
		return LB_POLICY_MAGLEV;
	}
	return -EINVAL;
}

int lb_access_action_of(enum cfg_action a)
{
	switch (a) {
	case CFG_ALLOW:
		return LB_ACCESS_ALLOW;
	case CFG_DENY:
		return LB_ACCESS_DENY;
	}
	return -EINVAL;
}
