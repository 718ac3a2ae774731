/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_conf.c: the exporters' log into the agent's (otlp_conf.h). */
#include "exporters/exp_log.h"
#include "lib/log.h"
#include "trace/otlp_conf.h"

static void to_agent_log(enum exp_log_level level, const char *msg)
{
	static const enum log_level agent_level[] = {
	    [EXP_LOG_ERROR] = LOG_ERROR,
	    [EXP_LOG_WARN] = LOG_WARN,
	    [EXP_LOG_INFO] = LOG_INFO,
	    [EXP_LOG_DEBUG] = LOG_DEBUG,
	};

	log_msg(level <= EXP_LOG_DEBUG ? agent_level[level] : LOG_DEBUG, "%s", msg);
}

void otlp_conf_log_to_agent(void) { exp_log_set(to_agent_log); }
