/* SPDX-License-Identifier: Apache-2.0 */
/* events.h: reads the kernel's HTTP capture events (bpf/http.h) and turns
 * them into http_obs observations for the span builder. A request's thread
 * is only known when the application reads it (server) or right after it
 * sent it (client), so requests wait here briefly for that. */
#ifndef BPFMESH_EVENTS_H
#define BPFMESH_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "trace/httpobs.h"

struct ring_buffer;
struct http_event;

typedef void (*events_obs_fn)(const struct http_obs *obs, void *ctx);

struct ev_pending;

struct events {
	struct ring_buffer *rb;
	int drops_fd; /* http_drops */
	events_obs_fn deliver;
	void *ctx;
	struct ev_pending *pending; /* requests waiting for their thread */
	int n_pending, cap_pending;
	uint64_t wait_ns; /* how long a request waits for its thread */
	uint64_t events, requests, responses, closes, threads, late_threads;
};

int events_init(struct events *ev, int ring_fd, int drops_fd, events_obs_fn deliver, void *ctx);
void events_free(struct events *ev);
int events_fd(struct events *ev);			   /* to poll */
void events_consume(struct events *ev);			   /* read what is there */
void events_tick(struct events *ev, uint64_t now_mono_ns); /* release requests that waited enough */

/* Where the requests of one captured segment start (pipelining): offsets
 * into head, the first being 0; returns how many (at most max). Exposed for
 * tests. */
int events_split_requests(const char *head, int len, int *starts, int max);

/* Where the responses of one captured segment start (answers to pipelined
 * requests), following Content-Length; ends[k] says that response k ends
 * within the segment (seg_len: the segment's payload bytes). Exposed for
 * tests. */
int events_split_responses(const char *head, int len, int seg_len, int *starts, bool *ends,
			   int max);

/* One kernel event (exposed for tests). */
void events_handle(struct events *ev, const struct http_event *e);

#endif
