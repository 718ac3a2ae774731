/* SPDX-License-Identifier: Apache-2.0 */
/* watch.c: the watch stream's framing (newline-delimited JSON, as the API
 * server's encoder writes it: a newline never occurs inside an event) and
 * its events. A line is kept whole before it is parsed, and bounded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/list.h"
#include "kube/watch.h"

void kwatch_init(struct kwatch *w, struct kstore *st, const struct kobj_type *t, size_t max_line)
{
	memset(w, 0, sizeof(*w));
	w->st = st;
	w->type = *t;
	w->max_line = max_line;
}

/* a buffer grown for one huge event is not kept for the next stream */
#define LINE_KEEP (1u << 20)

void kwatch_restart(struct kwatch *w, const char *rv)
{
	if (w->cap > LINE_KEEP)
		kwatch_free(w);
	w->len = 0;
	w->events = 0;
	w->err[0] = 0;
	if (rv != w->rv)
		snprintf(w->rv, sizeof(w->rv), "%s", rv ? rv : "");
}

void kwatch_free(struct kwatch *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

static const char *str_field(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static void take_rv(struct kwatch *w, struct json_object *obj)
{
	struct json_object *meta;
	const char *rv;

	if (json_object_object_get_ex(obj, "metadata", &meta) &&
	    (rv = str_field(meta, "resourceVersion")) && *rv)
		snprintf(w->rv, sizeof(w->rv), "%s", rv);
}

/* ERROR carries a Status: 410 (reason Expired, or Gone before 1.18) means
 * the resourceVersion is older than the server keeps: list again */
static enum kw_result on_error(struct kwatch *w, struct json_object *status)
{
	struct json_object *c;
	const char *reason = str_field(status, "reason"), *msg = str_field(status, "message");
	int code = json_object_object_get_ex(status, "code", &c) ? json_object_get_int(c) : 0;

	snprintf(w->err, sizeof(w->err), "watch ERROR %d %s: %s", code, reason ? reason : "",
		 msg ? msg : "(no message)");
	if (code == 410 || (reason && (!strcmp(reason, "Expired") || !strcmp(reason, "Gone"))))
		return KW_RELIST;
	return KW_ERROR;
}

static void refuse(struct kwatch *w, const char *why)
{
	w->refused++;
	snprintf(w->refusal, sizeof(w->refusal), "%s", why);
}

static void on_put(struct kwatch *w, struct json_object *obj)
{
	char why[256];
	bool too_big;
	struct kobj *k = kobj_from_json(obj, &w->type, w->max_line, &too_big, why, sizeof(why));

	if (!k) {
		refuse(w, why);
		return;
	}
	if (kstore_put(w->st, k) == -ENOSPC) {
		snprintf(why, sizeof(why), "%s: over the bound of objects or bytes", w->type.kind);
		refuse(w, why);
	}
}

static void on_delete(struct kwatch *w, struct json_object *obj)
{
	struct json_object *meta;
	const char *name, *ns;
	char key[512];

	if (!json_object_object_get_ex(obj, "metadata", &meta))
		return;
	name = str_field(meta, "name");
	ns = str_field(meta, "namespace");
	if (name && !kobj_key(key, sizeof(key), w->type.namespaced, ns ? ns : "", name))
		kstore_delete(w->st, w->type.resource, key);
}

enum kw_result kwatch_event(struct kwatch *w, const char *line, size_t len)
{
	struct json_object *ev, *obj;
	const char *type;
	enum kw_result rc = KW_OK;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (!len)
		return KW_OK; /* a keep-alive blank line */
	ev = kjson_parse(line, len);
	if (!ev || !(type = str_field(ev, "type")) ||
	    !json_object_object_get_ex(ev, "object", &obj) ||
	    !json_object_is_type(obj, json_type_object)) {
		snprintf(w->err, sizeof(w->err), "%s watch: an event that is not {type, object}",
			 w->type.kind);
		json_object_put(ev);
		return KW_ERROR;
	}
	if (!strcmp(type, "ERROR")) {
		rc = on_error(w, obj);
		json_object_put(ev);
		return rc;
	}
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")) {
		/* the rv first: kobj_from_json takes the metadata apart */
		take_rv(w, obj);
		on_put(w, obj);
	} else if (!strcmp(type, "DELETED")) {
		take_rv(w, obj);
		on_delete(w, obj);
	} else if (!strcmp(type, "BOOKMARK")) {
		take_rv(w, obj);
	}
	/* an unknown type is skipped, as client-go does: a newer server may
	 * send kinds of events this client does not know */
	w->events++;
	json_object_put(ev);
	return rc;
}

static int buf_append(struct kwatch *w, const char *data, size_t len)
{
	if (w->len + len > w->max_line) {
		snprintf(w->err, sizeof(w->err),
			 "%s watch: an event longer than %zu bytes; the stream is dropped",
			 w->type.kind, w->max_line);
		return -1;
	}
	if (w->len + len > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		char *p;

		while (cap < w->len + len)
			cap *= 2;
		if (cap > w->max_line)
			cap = w->max_line;
		p = realloc(w->buf, cap);
		if (!p) {
			snprintf(w->err, sizeof(w->err), "%s watch: out of memory", w->type.kind);
			return -1;
		}
		w->buf = p;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, data, len);
	w->len += len;
	return 0;
}

enum kw_result kwatch_feed(struct kwatch *w, const char *data, size_t len)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t piece = nl ? (size_t)(nl - data) : len;
		enum kw_result rc;

		if (!nl)
			return buf_append(w, data, piece) ? KW_ERROR : KW_OK;
		if (w->len) {
			/* the end of a line that began in an earlier read */
			if (buf_append(w, data, piece))
				return KW_ERROR;
			rc = kwatch_event(w, w->buf, w->len);
			w->len = 0;
		} else {
			if (piece > w->max_line) {
				buf_append(w, data, piece); /* says why */
				return KW_ERROR;
			}
			rc = kwatch_event(w, data, piece);
		}
		if (rc != KW_OK)
			return rc;
		data += piece + 1;
		len -= piece + 1;
	}
	return KW_OK;
}
