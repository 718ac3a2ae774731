/* SPDX-License-Identifier: Apache-2.0 */
/* list.h: one page of a LIST answer ({"kind": "...List", "metadata":
 * {"resourceVersion", "continue"}, "items": [...]}) -> objects. The page is
 * split into items by a scanner and each item is parsed on its own, so a
 * large list never becomes one large json-c tree. */
#ifndef BPFMESH_KUBE_LIST_H
#define BPFMESH_KUBE_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "kube/object.h"

/* the objects of the pages read so far, bounded */
struct kvec {
	struct kobj **v;
	size_t n, cap;
	size_t bytes;
	size_t max_objects, max_bytes;
	size_t refused; /* over a bound, or an item that is not an object */
};

/* takes o's reference; refused (and counted) over the bounds */
void kvec_push(struct kvec *v, struct kobj *o);
/* puts every object and empties the vector (the bounds stay) */
void kvec_clear(struct kvec *v);

struct klist_page {
	char resource_version[128]; /* metadata.resourceVersion */
	char *continue_token;	    /* malloc'd; NULL or "" on the last page */
	size_t items;		    /* items on this page */
	char first_refusal[256];    /* why the first refused item was refused */
};

/* Parses body[0..len) (a List of objects of type t) and appends its objects
 * to out. 0, or -1 with the reason in err (not JSON, not a List, no
 * resourceVersion). Items that cannot be kept (no name, over
 * max_object_bytes) are counted in out->refused, not fatal. */
int klist_parse(const char *body, size_t len, const struct kobj_type *t, size_t max_object_bytes,
		struct kvec *out, struct klist_page *page, char *err, size_t err_len);

void klist_page_clear(struct klist_page *p);

/* json-c with a nesting bound fit for API objects, on text[0..len) that need
 * not end in NUL; NULL when it is not exactly one JSON value. */
struct json_object *kjson_parse(const char *text, size_t len);

#endif
