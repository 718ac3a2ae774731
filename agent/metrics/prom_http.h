/* SPDX-License-Identifier: Apache-2.0 */
/* prom_http.h: the registry's request histograms in the Prometheus
 * exposition: http_server_request_duration_seconds and
 * http_client_request_duration_seconds, labels service_name,
 * http_request_method, http_response_status_code, http_route. The generic
 * text writer is exporters/prometheus.h; this is what knows the registry. */
#ifndef BPFMESH_PROM_HTTP_H
#define BPFMESH_PROM_HTTP_H

#include "exporters/prometheus.h"
#include "metrics/metrics.h"

/* Both families from the registry, written also when empty. 0 or -ENOMEM. */
int prom_write_http_histograms(struct prom_writer *w, const struct metrics *m);

/* The same in two steps, for series copied out of the registry: both
 * families (written also when empty), then one series. 0 or a negative
 * errno (-EINVAL: a rejected or duplicate series, counted). */
int prom_http_families(struct prom_writer *w);
int prom_http_histogram(struct prom_writer *w, const struct metrics_hist *h);

#endif
