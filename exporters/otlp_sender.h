/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_sender.h: what the OTLP trace and metrics exporters share: the thread
 * that delivers encoded payloads to one signal's path (/v1/traces,
 * /v1/metrics) over otlp_http, retrying as otlp_retry decides (backoff,
 * Retry-After, a time budget per payload), the partial-success answer, drop
 * counters by reason with their rate-limited log, settings swapped while
 * running, and a stop that delivers within a grace period.
 *
 * The exporter keeps its own queue under the sender's lock (so one wait
 * covers new work, new settings and a stop) and hands work over through
 * struct otlp_sender_ops: the sender asks for it, the exporter moves it out.
 *
 *   s = otlp_sender_new(&conf, settings);    then set up the queue
 *   otlp_sender_run(s);                      the thread starts
 *   producer: otlp_sender_lock(s); queue; otlp_sender_wake(s); otlp_sender_unlock(s);
 *   otlp_sender_stop(s);                     joins; count what is left over
 *   otlp_sender_free(s);                     last drop report, frees */
#ifndef BPFMESH_OTLP_SENDER_H
#define BPFMESH_OTLP_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otlp_drop.h"
#include "otlp_encode.h"
#include "otlp_retry.h"
#include "otlp_settings.h"

/* One request body: raw protobuf, and its gzip once needed. */
struct otlp_payload {
	struct otlp_buf raw, gz;
	size_t n_items; /* spans or data points: what a drop or a rejection counts */
};

/* NULL-safe. */
void otlp_payload_free(struct otlp_payload *p);

struct otlp_sender_ops {
	/* Lock held. Moves the work that is due out of the queue into the
	 * exporter's own hands and returns true; stopping: whatever is queued is
	 * due. Otherwise returns false with *due_ns (preset to 0, "when woken")
	 * set to when work will be due. */
	bool (*take)(void *arg, uint64_t now_ns, bool stopping, uint64_t *due_ns);
	/* Lock not held. The payload for what take() moved out, or NULL when it
	 * cannot be made (the exporter has counted the drop). */
	struct otlp_payload *(*encode)(void *arg);
};

/* What tells one signal from the other; a static const in each exporter. */
struct otlp_signal {
	const char *path;	   /* OTLP_TRACES_PATH, OTLP_METRICS_PATH */
	const char *name;	   /* "traces": "otlp: exporting traces to URL" */
	const char *log_prefix;	   /* "otlp", "otlp metrics" */
	const char *items;	   /* "spans", "data points" */
	const char *response_name; /* "ExportTraceServiceResponse", for a debug line */
	/* The 2xx answer: otlp_decode_response() or otlp_metrics_decode_response(). */
	int (*decode_response)(const uint8_t *body, size_t len, int64_t *rejected, char *msg,
			       size_t msg_size);
	/* Cumulative payloads (metrics): before each retry a newer payload, if
	 * take() has one, replaces the one being retried and gets its own retry
	 * time; the backoff reached so far stays (the collector is no less busy). */
	bool newer_replaces;
};

struct otlp_sender_conf {
	const struct otlp_signal *signal;
	/* the exporter's tunables; a zero field takes the default of otlp_opts */
	struct otlp_backoff backoff;
	uint64_t drop_log_interval_ms;
	uint64_t stop_grace_ms;
	const char *scope_version; /* NULL: "dev"; copied */
	struct otlp_sender_ops ops;
	void *arg; /* the ops' first argument */
};

/* Each payload the thread took ends in exactly one of delivered, replaced or
 * given_up (by the drop reason of its items). */
struct otlp_sender_stats {
	uint64_t delivered; /* answered 2xx */
	uint64_t replaced;  /* superseded while waiting for a retry (newer_replaces) */
	uint64_t given_up[OTLP_DROP__MAX];
	uint64_t exported; /* items delivered, less those a partial success rejected */
	uint64_t dropped[OTLP_DROP__MAX];
	uint64_t requests_failed; /* attempts without a 2xx, retried or not */
	uint64_t retries;	  /* attempts after a payload's first */
};

struct otlp_sender;

/* A sender for set (see otlp_settings.h); the thread does not run yet.
 * Returns NULL with errno set (EINVAL: no or bad endpoint, logged; ENOMEM).
 * c->signal must outlive the sender. */
struct otlp_sender *otlp_sender_new(const struct otlp_sender_conf *c,
				    const struct otlp_settings *set);
/* InstrumentationScope.version and bpfmesh/VERSION in User-Agent. */
const char *otlp_sender_version(const struct otlp_sender *s);

/* Starts the thread. Returns 0 or -errno (the sender is then still to be freed). */
int otlp_sender_run(struct otlp_sender *s);

/* The lock over the exporter's queue; wake (lock held) makes the thread ask
 * take() again. */
void otlp_sender_lock(struct otlp_sender *s);
void otlp_sender_unlock(struct otlp_sender *s);
void otlp_sender_wake(struct otlp_sender *s);

/* New settings as a whole, used from the next request on; see
 * otlp_reconfigure(). Returns 0, -EINVAL (the old set stays) or -ENOMEM. */
int otlp_sender_reconfigure(struct otlp_sender *s, const struct otlp_settings *set);

/* Any thread: n items dropped for why. */
void otlp_sender_drop(struct otlp_sender *s, enum otlp_drop why, uint64_t n);
/* A payload's n items given up for why (after otlp_sender_stop(): what the
 * exporter still held). */
void otlp_sender_give_up(struct otlp_sender *s, enum otlp_drop why, uint64_t n);

/* Delivers what take() still has within stop_grace_ms, one try each, then
 * aborts the request in flight and joins the thread. Returns within about
 * stop_grace_ms whatever the collector does. */
void otlp_sender_stop(struct otlp_sender *s);
/* Reports the drops not yet logged and frees. s may be NULL. */
void otlp_sender_free(struct otlp_sender *s);

void otlp_sender_get_stats(struct otlp_sender *s, struct otlp_sender_stats *st);

#endif
