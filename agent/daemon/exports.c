/* SPDX-License-Identifier: Apache-2.0 */
/* exports.c: the span sinks the agent wires to the tracing pipeline. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/exports.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "trace/otlp_conf.h"

#define STORE_SPANS 4096

static void to_metrics(const struct span *sp, const struct span_packed *pk, void *ctx)
{
	(void)pk;
	metrics_record(ctx, sp, mono_ns());
}

static void to_store(const struct span *sp, const struct span_packed *pk, void *ctx)
{
	if (pk)
		spanstore_add_packed(ctx, pk->bytes, pk->len);
	else
		spanstore_add(ctx, sp);
}

static void to_otlp(const struct span *sp, const struct span_packed *pk, void *ctx)
{
	struct exports *x = ctx;

	/* the exporter comes and goes with Telemetry.otlp; the sink stays */
	if (x->otlp)
		otlp_submit_packed(x->otlp, sp, pk);
}

int exports_init(struct exports *x, struct tracing *t)
{
	memset(x, 0, sizeof(*x));
	if (spanstore_init(&x->store, STORE_SPANS))
		return -ENOMEM;
	x->metrics = metrics_new(&(struct metrics_config){0}, mono_ns());
	if (!x->metrics)
		return -ENOMEM;
	/* histograms count every request; traces only the sampled */
	if (tracing_add_sink(t, "metrics", to_metrics, x->metrics, false) ||
	    tracing_add_sink(t, "store", to_store, &x->store, true) ||
	    tracing_add_sink(t, "otlp", to_otlp, x, true))
		return -ENOSPC;
	return 0;
}

void exports_apply(struct exports *x, const struct mesh_config *cfg)
{
	const struct cfg_telemetry *tel = cfg ? cfg->telemetry : NULL;

	if (tel && tel->otlp_set) {
		struct otlp_settings *set = otlp_conf_from_telemetry(tel);

		if (!x->otlp) {
			x->otlp = otlp_start(set, NULL);
			if (!x->otlp)
				log_error("OTLP exporter to %s did not start", tel->otlp_endpoint);
		} else {
			otlp_reconfigure(x->otlp, set);
		}
		free(set);
	} else if (x->otlp) {
		otlp_stop(x->otlp);
		x->otlp = NULL;
	}
}

void exports_tick(struct exports *x, uint64_t now)
{
	if (x->metrics && now - x->metrics_ticked > 5000000000ULL) {
		metrics_tick(x->metrics, now);
		x->metrics_ticked = now;
	}
}

void exports_get_stats(struct exports *x, struct exports_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->otlp = x->otlp != NULL;
	if (x->otlp)
		otlp_get_stats(x->otlp, &st->traces);
	st->otlp_metrics = x->otlp_metrics != NULL;
	if (x->otlp_metrics)
		otlp_metrics_get_stats(x->otlp_metrics, &st->metrics_export);
	if (x->metrics)
		metrics_get_stats(x->metrics, &st->registry);
}

void exports_free(struct exports *x)
{
	if (x->otlp)
		otlp_stop(x->otlp);
	x->otlp = NULL;
	spanstore_free(&x->store);
	metrics_free(x->metrics);
	x->metrics = NULL;
}
