/* SPDX-License-Identifier: Apache-2.0 */
/* config_lookup.c: lookups in a loaded set and names of its values, used by
 * the reference resolution (config_refs.c) and by the agent. Calls nothing
 * else of the parser, so the parser's files call each other one way. */
#include <string.h>

#include "config/config.h"

int config_find_service(const struct mesh_config *cfg, const char *ns, const char *name)
{
	int i;

	if (!cfg || !name)
		return -1;
	if (!ns)
		ns = "default";
	for (i = 0; i < cfg->n_services; i++)
		if (!strcmp(cfg->services[i].meta.name, name) &&
		    !strcmp(cfg->services[i].meta.ns, ns))
			return i;
	return -1;
}

const char *cfg_lb_policy_name(enum cfg_lb_policy p)
{
	switch (p) {
	case CFG_LB_RANDOM:
		return "random";
	case CFG_LB_ROUND_ROBIN:
		return "roundRobin";
	case CFG_LB_LEAST_CONN:
		return "leastConnections";
	case CFG_LB_MAGLEV:
		return "maglev";
	}
	return NULL;
}
