/* SPDX-License-Identifier: Apache-2.0 */
/* watch.h: one WATCH stream of one resource: the bytes as they arrive (one
 * JSON event per line, lines split anywhere by the transport) -> the store.
 * No I/O here: the client feeds what libcurl read, the tests feed strings. */
#ifndef BPFMESH_KUBE_WATCH_H
#define BPFMESH_KUBE_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "kube/object.h"
#include "kube/store.h"

enum kw_result {
	KW_OK = 0,     /* go on reading */
	KW_RELIST = 1, /* ERROR 410 (Expired/Gone): the resourceVersion is too old */
	KW_ERROR = -1, /* the stream cannot go on: err says why */
};

struct kwatch {
	struct kstore *st;
	struct kobj_type type;
	size_t max_line; /* a longer line ends the stream */
	char *buf;	 /* the line read so far */
	size_t len, cap;
	char rv[128];	   /* the last resourceVersion seen: a new watch resumes there */
	uint64_t events;   /* events of this stream, bookmarks included */
	uint64_t refused;  /* objects a bound refused (count of the stream) */
	char refusal[256]; /* why the last one was refused */
	char err[512];	   /* why KW_ERROR or KW_RELIST */
};

void kwatch_init(struct kwatch *w, struct kstore *st, const struct kobj_type *t, size_t max_line);

/* A new stream from resourceVersion rv: forgets any partial line. */
void kwatch_restart(struct kwatch *w, const char *rv);

/* Bytes of the stream. After a result other than KW_OK the stream is over
 * (the rest of data is not looked at). */
enum kw_result kwatch_feed(struct kwatch *w, const char *data, size_t len);

/* One event line (the framing done): ADDED and MODIFIED put the object,
 * DELETED removes it, BOOKMARK only moves rv, ERROR ends the stream. */
enum kw_result kwatch_event(struct kwatch *w, const char *line, size_t len);

void kwatch_free(struct kwatch *w);

#endif
