/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_settings.h: what an OTLP exporter is told about its collector: the
 * endpoint, extra headers, compression, the timeout and TLS. The program that
 * uses the exporters fills it (the agent from its Telemetry document); the
 * exporters know no config format. Sizes are the exporters' own: a caller
 * with longer strings must refuse them, not cut them. */
#ifndef BPFMESH_OTLP_SETTINGS_H
#define BPFMESH_OTLP_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OTLP_ENDPOINT_MAX 1024	   /* a base URL with its NUL */
#define OTLP_HEADER_NAME_MAX 256   /* with its NUL */
#define OTLP_HEADER_VALUE_MAX 1024 /* with its NUL */
#define OTLP_FILE_MAX 4096	   /* a CA, certificate or key file name with its NUL */
#define OTLP_TIMEOUT_DEFAULT_MS 10000

/* One extra request header. An empty value is sent as an empty header. */
struct otlp_header {
	char name[OTLP_HEADER_NAME_MAX];
	char value[OTLP_HEADER_VALUE_MAX];
};

/* Read only during the call that takes it (otlp_start(), otlp_reconfigure(),
 * otlp_metrics_start(), otlp_metrics_reconfigure()); the exporter keeps a
 * copy of what it needs. */
struct otlp_settings {
	/* http:// or https:// base URL, as OTEL_EXPORTER_OTLP_ENDPOINT: the
	 * signal's path (/v1/traces, /v1/metrics) is appended after any
	 * trailing slash. Anything else (also "") is refused with -EINVAL. */
	char endpoint[OTLP_ENDPOINT_MAX];
	const struct otlp_header *headers; /* n_headers of them, may be NULL when 0 */
	size_t n_headers;
	bool gzip;	     /* Content-Encoding: gzip */
	uint64_t timeout_ms; /* per request; 0: OTLP_TIMEOUT_DEFAULT_MS */
	/* https: "" leaves libcurl's default (the system's CA store, no client
	 * certificate) */
	char ca_file[OTLP_FILE_MAX];
	char cert_file[OTLP_FILE_MAX];
	char key_file[OTLP_FILE_MAX];
	bool insecure_skip_verify; /* no peer and host name checks */
};

#endif
