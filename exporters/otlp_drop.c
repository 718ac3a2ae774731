/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_drop.c: the names of the drop reasons (otlp_drop.h). */
#include "otlp_drop.h"

static const char *const drop_names[OTLP_DROP__MAX] = {
    [OTLP_DROP_QUEUE_FULL] = "queue_full",   [OTLP_DROP_INVALID] = "invalid",
    [OTLP_DROP_FAILED] = "export_failed",    [OTLP_DROP_REJECTED] = "rejected",
    [OTLP_DROP_SHUTDOWN] = "shutdown",	     [OTLP_DROP_ENCODE] = "encode_error",
    [OTLP_DROP_UNCONFIRMED] = "unconfirmed",
};

const char *otlp_drop_name(enum otlp_drop d)
{
	return d < OTLP_DROP__MAX ? drop_names[d] : "unknown";
}
