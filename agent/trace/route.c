/* SPDX-License-Identifier: Apache-2.0 */
/* route.c: http.route templates, the folding heuristic and the per-service
 * cap on distinct routes (see route.h). */
#include <stdlib.h>
#include <string.h>

#include "trace/route.h"
#include "lib/strmap.h"

struct route_table {
	char **templates;
	int n_templates;
	size_t cap;
	struct strmap seen; /* heuristic routes handed out so far */
	uint64_t overflows;
};

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_uuid(const char *s, size_t len)
{
	if (len != 36)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return false;
	}
	return true;
}

bool route_segment_is_id(const char *s, size_t len)
{
	bool digit = false, all_digit = true, all_hex = true, token = true;

	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

		digit |= is_digit(c);
		all_digit &= is_digit(c);
		all_hex &= is_hex(c);
		token &= alnum || c == '-' || c == '_' || c == '.' || c == '~';
	}
	if (all_digit || is_uuid(s, len))
		return true;
	if (all_hex && digit && len >= 8)
		return true;
	return token && digit && len >= 16;
}

/* "{name}": a placeholder for one segment. */
static bool is_placeholder(const char *s, size_t len)
{
	return len >= 2 && s[0] == '{' && s[len - 1] == '}' && !memchr(s + 1, '{', len - 2) &&
	       !memchr(s + 1, '}', len - 2);
}

bool route_template_match(const char *t, const char *p)
{
	size_t te = strlen(t), pe = strcspn(p, "?#"), ti = 0, pi = 0;

	if (t[0] != '/' || p[0] != '/')
		return false;
	/* both cursors stand on a '/' at the top of each round */
	for (;;) {
		size_t ts = ++ti, ps = ++pi;

		while (ti < te && t[ti] != '/')
			ti++;
		while (pi < pe && p[pi] != '/')
			pi++;
		if (is_placeholder(t + ts, ti - ts)) {
			if (pi == ps)
				return false;
		} else if (ti - ts != pi - ps || memcmp(t + ts, p + ps, ti - ts)) {
			return false;
		}
		if (ti == te || pi == pe)
			return ti == te && pi == pe;
	}
}

static void append(char *out, size_t outsz, size_t *o, const char *s, size_t n)
{
	if (*o + 1 >= outsz)
		return;
	if (n > outsz - 1 - *o)
		n = outsz - 1 - *o;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
}

void route_fold(const char *path, bool truncated, char *out, size_t outsz)
{
	size_t pe = strcspn(path, "?#"), i = 0, o = 0;

	if (!outsz)
		return;
	out[0] = '\0';
	if (path[0] != '/')
		return;
	/* a cut path: only the segments before its last '/' are whole */
	if (truncated)
		while (pe > 0 && path[pe - 1] != '/')
			pe--;
	while (i < pe) {
		size_t s = ++i; /* path[i - 1] is '/' */

		while (i < pe && path[i] != '/')
			i++;
		append(out, outsz, &o, "/", 1);
		if (route_segment_is_id(path + s, i - s))
			append(out, outsz, &o, "*", 1);
		else
			append(out, outsz, &o, path + s, i - s);
	}
	if (truncated)
		append(out, outsz, &o, "*", 1); /* after the trailing '/' kept above */
}

struct route_table *route_table_new(const char *const *templates, int n_templates, int cap)
{
	struct route_table *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return NULL;
	rt->cap = cap > 0 ? (size_t)cap : ROUTE_CAP_DEFAULT;
	if (n_templates > 0) {
		rt->templates = calloc((size_t)n_templates, sizeof(*rt->templates));
		if (!rt->templates)
			goto fail;
		for (rt->n_templates = 0; rt->n_templates < n_templates; rt->n_templates++) {
			rt->templates[rt->n_templates] = strdup(templates[rt->n_templates]);
			if (!rt->templates[rt->n_templates])
				goto fail;
		}
	}
	return rt;
fail:
	route_table_free(rt);
	return NULL;
}

void route_table_free(struct route_table *rt)
{
	if (!rt)
		return;
	for (int i = 0; i < rt->n_templates; i++)
		free(rt->templates[i]);
	free(rt->templates);
	strmap_free(&rt->seen);
	free(rt);
}

static void set(char *out, size_t outsz, const char *s)
{
	size_t o = 0;

	if (outsz) {
		out[0] = '\0';
		append(out, outsz, &o, s, strlen(s));
	}
}

enum route_source route_of(struct route_table *rt, const char *path, bool truncated, char *out,
			   size_t outsz)
{
	if (path[0] != '/') {
		set(out, outsz, "");
		return ROUTE_NONE;
	}
	for (int i = 0; !truncated && i < rt->n_templates; i++) {
		if (route_template_match(rt->templates[i], path)) {
			set(out, outsz, rt->templates[i]);
			return ROUTE_TEMPLATE;
		}
	}
	route_fold(path, truncated, out, outsz);
	if (strmap_get(&rt->seen, out, NULL))
		return ROUTE_HEURISTIC;
	/* Past the cap, or when the set cannot grow, a new route would be an
	 * unbounded label value: it becomes the catch-all instead. */
	if (rt->seen.len >= rt->cap || strmap_put(&rt->seen, out, 0)) {
		rt->overflows++;
		set(out, outsz, ROUTE_OVERFLOW);
		return ROUTE_OVERFLOW_CAP;
	}
	return ROUTE_HEURISTIC;
}

size_t route_table_len(const struct route_table *rt) { return rt->seen.len; }

uint64_t route_table_overflows(const struct route_table *rt) { return rt->overflows; }
