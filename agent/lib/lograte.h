/* SPDX-License-Identifier: Apache-2.0 */
/* lograte.h: at most one log line per kind of message per interval, and a
 * count of the lines left out, for messages that a client can cause at will
 * (the HTTP server's complaints about connections): a flood of connections
 * must not become a flood of log lines. Thread-safe. */
#ifndef BPFMESH_LOGRATE_H
#define BPFMESH_LOGRATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define LOGRATE_KINDS 16
#define LOGRATE_TEXT 160

struct lograte_kind {
	const void *key;	 /* NULL: a free slot */
	uint64_t last_ns;	 /* when a line of this kind was last written */
	uint64_t suppressed;	 /* left out since then */
	char text[LOGRATE_TEXT]; /* the last line written, for the summary */
};

struct lograte {
	pthread_mutex_t lock;
	uint64_t interval_ns;
	struct lograte_kind kinds[LOGRATE_KINDS];
};

void lograte_init(struct lograte *lr, uint64_t interval_ns);
void lograte_destroy(struct lograte *lr);

/* Whether a message of kind key (any pointer that stays the same for the
 * kind, e.g. its format string), reading text, may be written at now_ns.
 * When it may, *suppressed gets how many of its kind were left out since
 * the last one written. Past LOGRATE_KINDS kinds the newcomers share the
 * last slot. */
bool lograte_allow(struct lograte *lr, const void *key, const char *text, uint64_t now_ns,
		   uint64_t *suppressed);

/* For each kind with lines left out whose interval has passed: report(text,
 * count, ctx), and a new interval starts. Call it on a beat, so a flood that
 * stopped is still summed up. Returns how many kinds were reported. */
int lograte_flush(struct lograte *lr, uint64_t now_ns,
		  void (*report)(const char *text, uint64_t count, void *ctx), void *ctx);

#endif
