/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_conf.c: Telemetry.otlp -> struct otlp_settings, and the exporters'
 * log into the agent's (otlp_conf.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/exp_log.h"
#include "lib/log.h"
#include "trace/otlp_conf.h"

#define FIELD_SIZE(type, f) sizeof(((type *)0)->f)

/* The config's limits are the ones users see; the exporters must take every
 * value the config accepts, whole. */
_Static_assert(FIELD_SIZE(struct cfg_telemetry, otlp_endpoint) <= OTLP_ENDPOINT_MAX,
	       "OTLP_ENDPOINT_MAX is below the config's endpoint size");
_Static_assert(FIELD_SIZE(struct cfg_header, name) <= OTLP_HEADER_NAME_MAX &&
		   FIELD_SIZE(struct cfg_header, value) <= OTLP_HEADER_VALUE_MAX,
	       "an OTLP header size is below the config's");
_Static_assert(FIELD_SIZE(struct cfg_telemetry, tls_ca_file) <= OTLP_FILE_MAX &&
		   FIELD_SIZE(struct cfg_telemetry, tls_cert_file) <= OTLP_FILE_MAX &&
		   FIELD_SIZE(struct cfg_telemetry, tls_key_file) <= OTLP_FILE_MAX,
	       "OTLP_FILE_MAX is below the config's path size");

struct otlp_settings *otlp_conf_from_telemetry(const struct cfg_telemetry *tel)
{
	struct otlp_settings *set;
	struct otlp_header *hdr;
	size_t n;

	if (!tel || !tel->otlp_set) {
		errno = EINVAL;
		return NULL;
	}
	n = tel->n_headers > 0 ? (size_t)tel->n_headers : 0;
	set = calloc(1, sizeof(*set) + n * sizeof(*hdr));
	if (!set) {
		errno = ENOMEM;
		return NULL;
	}
	hdr = (struct otlp_header *)(set + 1);
	snprintf(set->endpoint, sizeof(set->endpoint), "%s", tel->otlp_endpoint);
	for (size_t i = 0; i < n; i++) {
		snprintf(hdr[i].name, sizeof(hdr[i].name), "%s", tel->headers[i].name);
		snprintf(hdr[i].value, sizeof(hdr[i].value), "%s", tel->headers[i].value);
	}
	set->headers = n ? hdr : NULL;
	set->n_headers = n;
	set->gzip = tel->otlp_gzip;
	set->timeout_ms = tel->otlp_timeout_ms;
	snprintf(set->ca_file, sizeof(set->ca_file), "%s", tel->tls_ca_file);
	snprintf(set->cert_file, sizeof(set->cert_file), "%s", tel->tls_cert_file);
	snprintf(set->key_file, sizeof(set->key_file), "%s", tel->tls_key_file);
	set->insecure_skip_verify = tel->tls_insecure_skip_verify;
	return set;
}

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
