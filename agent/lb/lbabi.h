/* SPDX-License-Identifier: Apache-2.0 */
/* lbabi.h: the configuration's enums as the kernel ABI (bpf/lb.h) spells
 * them. The two vocabularies are kept apart on purpose: config values may be
 * renumbered freely, the kernel's are stored in pinned maps and never change.
 * A config value added without a mapping here fails the build (-Wswitch). */
#ifndef BPFMESH_LBABI_H
#define BPFMESH_LBABI_H

#include "config/config.h"

/* The enum lb_policy value of a Service's loadBalancer.policy, or -EINVAL. */
int lb_policy_of(enum cfg_lb_policy p);

/* The enum lb_access_action value of an AccessPolicy's action, or -EINVAL. */
int lb_access_action_of(enum cfg_action a);

#endif
