/* SPDX-License-Identifier: Apache-2.0 */
/* events.h: the capture reader: reads the kernel's capture records
 * (bpf/http.h) and turns them into observations (obs.h), the bytes of each
 * read by the parser of its protocol (proto.h). A request's thread is only
 * known when the application reads it (server) or right after it sent it
 * (client), so requests wait here briefly for that. */
#ifndef BPFMESH_EVENTS_H
#define BPFMESH_EVENTS_H

#include <stdint.h>

#include "trace/evthreads.h"
#include "trace/h2_conn.h"
#include "trace/h2_outlier.h"
#include "trace/obs.h"

struct ring_buffer;
struct http_event;

/* Each observation, in order per socket; the callee may complete it (the
 * pipeline adds the service) before it feeds it on. */
typedef void (*events_obs_fn)(struct obs *obs, void *ctx);

struct ev_pending;

struct events {
	struct ring_buffer *rb;
	int drops_fd; /* http_drops */
	events_obs_fn deliver;
	void *ctx;
	/* requests waiting for their thread, in arrival order; pointers, so
	 * that taking one out moves 8 bytes per request behind it, not an
	 * observation (2 KB) */
	struct ev_pending **pending;
	int n_pending, cap_pending;
	struct ev_pending *spare; /* delivered ones, for the next to wait */
	uint64_t wait_ns;	  /* how long a request waits for its thread */
	bool no_threads;	  /* the kernel sends no thread events: nothing waits */
	struct evthreads by_sock; /* each socket's last sending and reading thread */
	struct h2_conns h2;	  /* HTTP/2 connections (HTTP_EV_H2 records) */
	struct h2_outlier h2_out; /* their responses' outcomes, to outlier detection */
	uint64_t events, requests, responses, closes, threads, late_threads;
	uint64_t bytes; /* of the records read, as reserved (bpf/http.h's classes) */
	int chunk_left; /* records until events_consume yields the CPU */
	/* the ring's consumer and producer positions, mapped read-only: how
	 * far behind the reader is (events_backlog) */
	const volatile unsigned long *cons_pos, *prod_pos;
	size_t page_size;
	uint64_t yield_backlog; /* events_consume yields only below this */
	uint64_t yields;	/* times it did */
	struct obs note;	/* RESPONSE_AT and RESPONSE_END, zero but for their fields */
};

int events_init(struct events *ev, int ring_fd, int drops_fd, events_obs_fn deliver, void *ctx);
void events_free(struct events *ev);
int events_fd(struct events *ev);			   /* to poll */
void events_consume(struct events *ev);			   /* read what is there */
uint64_t events_backlog(const struct events *ev);	   /* bytes written, not yet read */
void events_tick(struct events *ev, uint64_t now_mono_ns); /* release requests that waited enough */

/* One kernel event (exposed for tests). */
void events_handle(struct events *ev, const struct http_event *e);

#endif
