/* SPDX-License-Identifier: Apache-2.0 */
/* list.c: a list page split into items without building its tree: a scanner
 * that only finds where each JSON value starts and ends (strings, escapes,
 * nesting), then json-c on each item. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/list.h"

/* deeper than any API object nests (a CRD's schema is the deepest seen) */
#define KJSON_DEPTH 128

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void kvec_push(struct kvec *v, struct kobj *o)
{
	if (v->n >= v->max_objects || v->bytes + o->size > v->max_bytes) {
		kobj_put(o);
		v->refused++;
		return;
	}
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct kobj **p = realloc(v->v, cap * sizeof(*p));

		if (!p) {
			kobj_put(o);
			v->refused++;
			return;
		}
		v->v = p;
		v->cap = cap;
	}
	v->v[v->n++] = o;
	v->bytes += o->size;
}

void kvec_clear(struct kvec *v)
{
	for (size_t i = 0; i < v->n; i++)
		kobj_put(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = v->cap = v->bytes = v->refused = 0;
}

void klist_page_clear(struct klist_page *p)
{
	free(p->continue_token);
	memset(p, 0, sizeof(*p));
}

struct json_object *kjson_parse(const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(KJSON_DEPTH);
	struct json_object *o;

	if (!tok || len > (size_t)INT32_MAX) {
		if (tok)
			json_tokener_free(tok);
		return NULL;
	}
	o = json_tokener_parse_ex(tok, text, (int)len);
	/* one value and nothing after it but white space */
	if (o && json_tokener_get_error(tok) == json_tokener_success) {
		size_t end = json_tokener_get_parse_end(tok);

		while (end < len && is_ws(text[end]))
			end++;
		if (end != len) {
			json_object_put(o);
			o = NULL;
		}
	} else if (o) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* ---- the scanner --------------------------------------------------------- */

struct scan {
	const char *s;
	size_t len, i;
};

static void skip_ws(struct scan *sc)
{
	while (sc->i < sc->len && is_ws(sc->s[sc->i]))
		sc->i++;
}

static int skip_string(struct scan *sc)
{
	for (sc->i++; sc->i < sc->len; sc->i++) {
		if (sc->s[sc->i] == '\\')
			sc->i++;
		else if (sc->s[sc->i] == '"') {
			sc->i++;
			return 0;
		}
	}
	return -1;
}

/* past one value: a string, a scalar, or a balanced object or array */
static int skip_value(struct scan *sc)
{
	size_t depth = 0;

	skip_ws(sc);
	if (sc->i >= sc->len)
		return -1;
	if (sc->s[sc->i] == '"')
		return skip_string(sc);
	if (sc->s[sc->i] != '{' && sc->s[sc->i] != '[') {
		size_t start = sc->i;

		while (sc->i < sc->len && !is_ws(sc->s[sc->i]) && !strchr(",}]", sc->s[sc->i]))
			sc->i++;
		return sc->i > start ? 0 : -1;
	}
	while (sc->i < sc->len) {
		char c = sc->s[sc->i];

		if (c == '"') {
			if (skip_string(sc))
				return -1;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']') {
			if (--depth == 0) {
				sc->i++;
				return 0;
			}
		}
		sc->i++;
	}
	return -1;
}

static bool expect(struct scan *sc, char c)
{
	skip_ws(sc);
	if (sc->i < sc->len && sc->s[sc->i] == c) {
		sc->i++;
		return true;
	}
	return false;
}

/* ---- a page ---------------------------------------------------------------- */

static int parse_items(struct scan *sc, const struct kobj_type *t, size_t max_object_bytes,
		       struct kvec *out, struct klist_page *page)
{
	skip_ws(sc);
	/* "items": null is how an empty list of some servers reads */
	if (sc->i + 4 <= sc->len && !strncmp(sc->s + sc->i, "null", 4)) {
		sc->i += 4;
		return 0;
	}
	if (!expect(sc, '['))
		return -1;
	if (expect(sc, ']'))
		return 0;
	for (;;) {
		size_t start;
		struct json_object *o;
		struct kobj *k = NULL;
		char why[256];
		bool too_big;

		skip_ws(sc);
		start = sc->i;
		if (skip_value(sc))
			return -1;
		page->items++;
		o = kjson_parse(sc->s + start, sc->i - start);
		if (!o)
			return -1;
		k = kobj_from_json(o, t, max_object_bytes, &too_big, why, sizeof(why));
		json_object_put(o);
		if (k) {
			size_t before = out->refused;

			kvec_push(out, k);
			if (out->refused != before && !page->first_refusal[0])
				snprintf(page->first_refusal, sizeof(page->first_refusal),
					 "%s: over the bound of %zu objects or %zu bytes", t->kind,
					 out->max_objects, out->max_bytes);
		} else {
			out->refused++;
			if (!page->first_refusal[0])
				snprintf(page->first_refusal, sizeof(page->first_refusal), "%s",
					 why);
		}
		if (expect(sc, ']'))
			return 0;
		if (!expect(sc, ','))
			return -1;
	}
}

static int parse_metadata(const char *text, size_t len, struct klist_page *page)
{
	struct json_object *m = kjson_parse(text, len), *v;
	int rc = -1;

	if (!m)
		return -1;
	if (json_object_object_get_ex(m, "resourceVersion", &v) &&
	    json_object_is_type(v, json_type_string)) {
		snprintf(page->resource_version, sizeof(page->resource_version), "%s",
			 json_object_get_string(v));
		rc = 0;
	}
	if (json_object_object_get_ex(m, "continue", &v) &&
	    json_object_is_type(v, json_type_string) && json_object_get_string_len(v)) {
		page->continue_token = strdup(json_object_get_string(v));
		if (!page->continue_token)
			rc = -1;
	}
	json_object_put(m);
	return rc;
}

int klist_parse(const char *body, size_t len, const struct kobj_type *t, size_t max_object_bytes,
		struct kvec *out, struct klist_page *page, char *err, size_t err_len)
{
	struct scan sc = {.s = body, .len = len};
	bool have_meta = false, have_items = false;
	char kind[128] = "";

	memset(page, 0, sizeof(*page));
	if (!expect(&sc, '{'))
		goto bad;
	if (expect(&sc, '}'))
		goto bad;
	for (;;) {
		size_t kstart, kend, vstart;

		skip_ws(&sc);
		kstart = sc.i;
		if (sc.i >= sc.len || sc.s[sc.i] != '"' || skip_string(&sc))
			goto bad;
		kend = sc.i;
		if (!expect(&sc, ':'))
			goto bad;
		skip_ws(&sc);
		vstart = sc.i;
#define KEY_IS(k) (kend - kstart == sizeof(k) + 1 && !strncmp(body + kstart + 1, k, sizeof(k) - 1))
		if (KEY_IS("items")) {
			if (parse_items(&sc, t, max_object_bytes, out, page))
				goto bad;
			have_items = true;
		} else {
			if (skip_value(&sc))
				goto bad;
			if (KEY_IS("metadata")) {
				if (parse_metadata(body + vstart, sc.i - vstart, page)) {
					snprintf(err, err_len,
						 "%s list: metadata without resourceVersion",
						 t->kind);
					return -1;
				}
				have_meta = true;
			} else if (KEY_IS("kind") && sc.i - vstart < sizeof(kind) + 2 &&
				   body[vstart] == '"') {
				snprintf(kind, sizeof(kind), "%.*s", (int)(sc.i - vstart - 2),
					 body + vstart + 1);
			}
		}
#undef KEY_IS
		if (expect(&sc, '}'))
			break;
		if (!expect(&sc, ','))
			goto bad;
	}
	skip_ws(&sc);
	if (sc.i != sc.len)
		goto bad;
	if (!strcmp(kind, "Status")) {
		snprintf(err, err_len, "%s list: the server answered a Status, not a list",
			 t->kind);
		return -1;
	}
	if (!have_meta || !have_items) {
		snprintf(err, err_len, "%s list: no %s", t->kind, have_meta ? "items" : "metadata");
		return -1;
	}
	return 0;
bad:
	snprintf(err, err_len, "%s list: not a JSON list (at byte %zu of %zu)", t->kind, sc.i, len);
	return -1;
}
