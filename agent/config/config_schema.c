/* SPDX-License-Identifier: Apache-2.0 */
/* config_schema.c: the table-driven walker that checks YAML nodes against a
 * kind's field tables (config_internal.h) and stores the typed values.
 *
 * Scalars are typed the way Kubernetes reads its objects: a quoted "80" is a
 * string, not an integer, and "yes" is not a boolean. Being strict here keeps a
 * value from meaning one thing to `bpfmesh validate` and another to a reader.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

yaml_node_t *cfgp_node(const struct cfgp_doc *d, int id)
{
	return yaml_document_get_node(d->doc, id);
}

yaml_node_t *cfgp_get(const struct cfgp_doc *d, const yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;
	yaml_node_t *k;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		k = cfgp_node(d, p->key);
		if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
			return cfgp_node(d, p->value);
	}
	return NULL;
}

bool cfgp_is_null(const yaml_node_t *n)
{
	const char *v;

	if (!n)
		return true;
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

void cfgp_join(char dst[CFGP_PATH_LEN], const char *path, const char *key)
{
	if (snprintf(dst, CFGP_PATH_LEN, "%s%s%s", path, *path ? "." : "", key) >= CFGP_PATH_LEN)
		memcpy(dst + CFGP_PATH_LEN - 4, "...", 4);
}

void cfgp_index(char dst[CFGP_PATH_LEN], const char *path, int i)
{
	if (snprintf(dst, CFGP_PATH_LEN, "%s[%d]", path, i) >= CFGP_PATH_LEN)
		memcpy(dst + CFGP_PATH_LEN - 4, "...", 4);
}

static const char *type_name(const struct cfgp_field *f)
{
	switch (f->type) {
	case CFGP_INT:
		return "an integer";
	case CFGP_NUM:
		return "a number";
	case CFGP_BOOL:
		return "a boolean";
	case CFGP_MAP:
		return "a mapping";
	case CFGP_LIST:
		return "a sequence";
	default:
		return "a string";
	}
}

/* "expected an integer, got "http"" for a scalar, "expected a mapping" otherwise. */
static void type_err(struct cfgp_doc *d, yaml_node_t *n, const char *path,
		     const struct cfgp_field *f)
{
	char q[CFGP_QUOTE_LEN];

	if (n->type == YAML_SCALAR_NODE && f->type != CFGP_MAP && f->type != CFGP_LIST &&
	    f->type != CFGP_STR)
		cfgp_err(d, n, path, "expected %s, got %s", type_name(f),
			 cfgp_quote(q, (char *)n->data.scalar.value));
	else
		cfgp_err(d, n, path, "expected %s", type_name(f));
}

const char *cfgp_check_ref(const char *s) { return *s ? NULL : "is empty: name a document"; }

void cfgp_ignore(struct cfgp_doc *d, yaml_node_t *n, const char *path, void *base)
{
	(void)d, (void)n, (void)path, (void)base;
}

const char *cfgp_string(struct cfgp_doc *d, yaml_node_t *n, const char *path)
{
	if (n->type != YAML_SCALAR_NODE) {
		cfgp_err(d, n, path, "expected a string");
		return NULL;
	}
	/* A "\0" escape would silently cut the value short in a C string. */
	if (strlen((char *)n->data.scalar.value) != n->data.scalar.length) {
		cfgp_err(d, n, path, "contains a NUL character");
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

/* The text of a plain scalar (numbers and booleans are never quoted), else NULL. */
static const char *plain(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

/* -?[0-9]+; values beyond long long saturate, which every range refuses. */
static bool parse_int(const char *s, long long *v)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (!*p)
		return false;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	errno = 0;
	*v = strtoll(s, NULL, 10);
	return true;
}

/* Decimal notation only: strtod alone would also take "inf", "nan" and hex. */
static bool parse_num(const char *s, double *v)
{
	char *end;

	if (!*s || strspn(s, "0123456789.eE+-") != strlen(s))
		return false;
	*v = strtod(s, &end);
	return *end == '\0' && isfinite(*v);
}

static void store_uint(void *dst, size_t size, unsigned long long v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;
	uint64_t u64 = v;

	switch (size) {
	case 1:
		memcpy(dst, &u8, 1);
		break;
	case 2:
		memcpy(dst, &u16, 2);
		break;
	case 4:
		memcpy(dst, &u32, 4);
		break;
	default:
		memcpy(dst, &u64, 8);
		break;
	}
}

static void value_str(struct cfgp_doc *d, yaml_node_t *n, const char *path,
		      const struct cfgp_field *f, char *dst)
{
	char q[CFGP_QUOTE_LEN];
	const char *s = cfgp_string(d, n, path), *why;

	if (!s)
		return;
	if (strlen(s) >= f->size) {
		cfgp_err(d, n, path, "longer than %zu characters", f->size - 1);
		return;
	}
	if (f->check && (why = f->check(s))) {
		cfgp_err(d, n, path, "%s %s", cfgp_quote(q, s), why);
		return;
	}
	strcpy(dst, s);
}

static void value_int(struct cfgp_doc *d, yaml_node_t *n, const char *path,
		      const struct cfgp_field *f, void *dst)
{
	const char *s = plain(n), *digits;
	long long v;

	/* YAML 1.1 (what kubectl and most tools read) takes 0100 for octal 64
	 * and +80 for 80: say so rather than read either differently */
	digits = s && s[0] == '-' ? s + 1 : s;
	if (s && s[0] == '+') {
		cfgp_err(d, n, path, "%s: write the number without '+'", s);
		return;
	}
	if (digits && digits[0] == '0' && digits[1] >= '0' && digits[1] <= '9') {
		cfgp_err(d, n, path,
			 "%s has a leading zero, which YAML 1.1 reads as an octal number; write "
			 "it without the zero",
			 s);
		return;
	}
	if (!s || !parse_int(s, &v)) {
		type_err(d, n, path, f);
		return;
	}
	if (v < f->min || v > f->max) {
		cfgp_err(d, n, path, "%s is out of range %lld-%lld", s, f->min, f->max);
		return;
	}
	store_uint(dst, f->size, (unsigned long long)v);
}

static void value_num(struct cfgp_doc *d, yaml_node_t *n, const char *path,
		      const struct cfgp_field *f, double *dst)
{
	const char *s = plain(n);
	double v;

	if (!s || !parse_num(s, &v)) {
		type_err(d, n, path, f);
		return;
	}
	if (v < f->dmin || v > f->dmax) {
		cfgp_err(d, n, path, "%s is out of range %g-%g", s, f->dmin, f->dmax);
		return;
	}
	*dst = v;
}

static void value_bool(struct cfgp_doc *d, yaml_node_t *n, const char *path,
		       const struct cfgp_field *f, bool *dst)
{
	const char *s = plain(n);

	if (s && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")))
		*dst = true;
	else if (s && (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")))
		*dst = false;
	else
		type_err(d, n, path, f);
}

static void value_dur(struct cfgp_doc *d, yaml_node_t *n, const char *path,
		      const struct cfgp_field *f, uint64_t *dst)
{
	char q[CFGP_QUOTE_LEN];
	const char *s = cfgp_string(d, n, path);
	uint64_t ms;

	if (!s)
		return;
	if (parse_duration_ms(s, &ms)) {
		cfgp_err(d, n, path, "%s is not a duration (e.g. 500ms, 5s, 1m)", cfgp_quote(q, s));
		return;
	}
	if ((long long)ms < f->min) {
		cfgp_err(d, n, path, "must be greater than 0");
		return;
	}
	*dst = ms;
}

static void value_enum(struct cfgp_doc *d, yaml_node_t *n, const char *path,
		       const struct cfgp_field *f, void *dst)
{
	char q[CFGP_QUOTE_LEN], list[256] = "";
	const char *s = cfgp_string(d, n, path);
	const struct cfgp_enum *e;

	if (!s)
		return;
	for (e = f->names; e->name; e++) {
		if (!strcmp(e->name, s)) {
			store_uint(dst, f->size, (unsigned long long)e->value);
			return;
		}
	}
	for (e = f->names; e->name; e++) {
		if (e != f->names)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		strncat(list, e->name, sizeof(list) - strlen(list) - 1);
	}
	cfgp_err(d, n, path, "%s is not one of %s", cfgp_quote(q, s), list);
}

static void value_addr(struct cfgp_doc *d, yaml_node_t *n, const char *path, struct cfg_addr *dst)
{
	char q[CFGP_QUOTE_LEN];
	const char *s = cfgp_string(d, n, path);

	if (!s)
		return;
	memset(dst, 0, sizeof(*dst));
	if (inet_pton(AF_INET, s, dst->addr) == 1)
		dst->family = AF_INET;
	else if (inet_pton(AF_INET6, s, dst->addr) == 1)
		dst->family = AF_INET6;
	else
		cfgp_err(d, n, path, "%s is not an IPv4 or IPv6 address", cfgp_quote(q, s));
}

static void value_list(struct cfgp_doc *d, yaml_node_t *n, const char *path,
		       const struct cfgp_field *f, char *base)
{
	const struct cfgp_list *l = f->list;
	char sub[CFGP_PATH_LEN];
	yaml_node_t *item;
	char *arr;
	int i, cnt;

	if (n->type != YAML_SEQUENCE_NODE) {
		type_err(d, n, path, f);
		return;
	}
	cnt = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (cnt < l->min) {
		cfgp_err(d, n, path, "must not be empty");
		return;
	}
	if (l->max && cnt > l->max) {
		cfgp_err(d, n, path, "%d %s exceed the limit of %d%s", cnt, l->noun, l->max,
			 l->scope ? l->scope : "");
		return;
	}
	if (!cnt)
		return;
	arr = calloc((size_t)cnt, l->elem);
	if (!arr) {
		d->ld->oom = true;
		return;
	}
	/* Stored before the items are parsed so that the owner frees it on any path. */
	memcpy(base + f->off, &arr, sizeof(arr));
	memcpy(base + f->count_off, &cnt, sizeof(cnt));
	for (i = 0; i < cnt; i++) {
		item = cfgp_node(d, n->data.sequence.items.start[i]);
		cfgp_index(sub, path, i);
		if (cfgp_is_null(item))
			cfgp_err(d, item, sub, "expected %s", type_name(l->item));
		else
			cfgp_value(d, item, sub, l->item, arr + (size_t)i * l->elem);
	}
}

void cfgp_value(struct cfgp_doc *d, yaml_node_t *n, const char *path, const struct cfgp_field *f,
		void *base)
{
	char *b = base;
	bool set = true;

	switch (f->type) {
	case CFGP_STR:
		value_str(d, n, path, f, b + f->off);
		break;
	case CFGP_INT:
		value_int(d, n, path, f, b + f->off);
		break;
	case CFGP_NUM:
		value_num(d, n, path, f, (double *)(b + f->off));
		break;
	case CFGP_BOOL:
		value_bool(d, n, path, f, (bool *)(b + f->off));
		break;
	case CFGP_DUR:
		value_dur(d, n, path, f, (uint64_t *)(b + f->off));
		break;
	case CFGP_ENUM:
		value_enum(d, n, path, f, b + f->off);
		break;
	case CFGP_ADDR:
		value_addr(d, n, path, (struct cfg_addr *)(b + f->off));
		break;
	case CFGP_MAP:
		if (n->type != YAML_MAPPING_NODE) {
			type_err(d, n, path, f);
			break;
		}
		if (f->set_off >= 0)
			memcpy(b + f->set_off, &set, sizeof(set));
		cfgp_walk(d, n, path, f->sub, b + f->off);
		break;
	case CFGP_LIST:
		value_list(d, n, path, f, b);
		break;
	case CFGP_FUNC:
		f->fn(d, n, path, base);
		break;
	}
}

void cfgp_walk(struct cfgp_doc *d, yaml_node_t *map, const char *path,
	       const struct cfgp_field *fields, void *base)
{
	uint64_t present = 0, seen = 0, bit;
	char sub[CFGP_PATH_LEN];
	yaml_node_pair_t *p;
	yaml_node_t *k, *v;
	const char *key;
	int i;

	if (!map)
		return;
	if (map->type != YAML_MAPPING_NODE) {
		cfgp_err(d, map, path, "expected a mapping");
		return;
	}
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		k = cfgp_node(d, p->key);
		v = cfgp_node(d, p->value);
		if (k->type != YAML_SCALAR_NODE) {
			cfgp_err(d, k, path, "mapping keys must be strings");
			continue;
		}
		key = (const char *)k->data.scalar.value;
		cfgp_join(sub, path, key);
		for (i = 0; fields[i].key && strcmp(fields[i].key, key); i++)
			;
		if (!fields[i].key) {
			for (i = 0; fields[i].key && strcmp(fields[i].key, "*"); i++)
				;
			if (!fields[i].key)
				cfgp_err(d, k, sub, "unknown field");
			continue;
		}
		bit = 1ULL << i;
		if (present & bit) {
			cfgp_err(d, k, sub, "duplicate field");
			continue;
		}
		present |= bit;
		if (cfgp_is_null(v) && !fields[i].null_ok)
			continue;
		seen |= bit;
		cfgp_value(d, v, sub, &fields[i], base);
	}
	for (i = 0; fields[i].key; i++) {
		if (fields[i].required && !(seen & (1ULL << i))) {
			cfgp_join(sub, path, fields[i].key);
			cfgp_err(d, map, sub, "required field is missing");
		}
	}
}
