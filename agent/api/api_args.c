/* SPDX-License-Identifier: Apache-2.0 */
/* api_args.c: request parameter checks for the API. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "api/api_args.h"

int api_arg_long(const char *s, long min, long max, long *out)
{
	long v = 0;

	/* strtol would take " 5", "+5" and "5abc"; a client that sends
	 * those has a bug we should tell it about */
	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		int d = *s - '0';

		if (d < 0 || d > 9 || v > max / 10 || v * 10 > max - d)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (v < min)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* The same rules as config_document.c applies to metadata: an RFC 1123
 * label, and names as dot-separated labels. */
static bool is_label(const char *s, size_t len)
{
	if (!len || len > 63 || !lower_alnum(s[0]) || !lower_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool is_name(const char *s, size_t len)
{
	const char *end = s + len, *dot;

	if (!len || len > 253)
		return false;
	for (;;) {
		dot = memchr(s, '.', end - s);
		if (!is_label(s, dot ? (size_t)(dot - s) : (size_t)(end - s)))
			return false;
		if (!dot)
			return true;
		s = dot + 1;
	}
}

int api_arg_service(const char *s, char *ns, size_t ns_len, char *name, size_t name_len,
		    const char **why)
{
	const char *slash = strchr(s, '/');
	const char *n = slash ? slash + 1 : s;
	size_t nslen = slash ? (size_t)(slash - s) : 0;

	*why = NULL;
	if (slash && !is_label(s, nslen)) {
		*why = nslen ? "malformed namespace (expected an RFC 1123 label)"
			     : "empty namespace before '/'";
		return -EINVAL;
	}
	if (!is_name(n, strlen(n))) {
		*why = !*n		? "empty service name"
		       : strchr(n, '/') ? "too many '/' in the service name (expected NAME or "
					  "NAMESPACE/NAME)"
					: "malformed service name (expected an RFC 1123 name)";
		return -EINVAL;
	}
	if (nslen >= ns_len || strlen(n) >= name_len) {
		*why = "service name too long";
		return -EINVAL;
	}
	snprintf(ns, ns_len, "%.*s", (int)(slash ? nslen : strlen("default")),
		 slash ? s : "default");
	snprintf(name, name_len, "%s", n);
	return 0;
}

int api_arg_service_path(const char *s, struct api_svc_path *p, const char **why)
{
	static const char suffix[] = "/latency";
	size_t n = strlen(s), k = sizeof(suffix) - 1;
	char ref[2 * CFG_NAME_MAX], lns[CFG_NAME_MAX], lname[CFG_NAME_MAX];
	const char *why_plain, *why_lat = NULL;
	bool plain, lat = false;

	memset(p, 0, sizeof(*p));
	plain = !api_arg_service(s, p->ns, sizeof(p->ns), p->name, sizeof(p->name), &why_plain);
	/* NAME/latency or NS/NAME/latency: the reference before the suffix */
	if (n > k && !strcmp(s + n - k, suffix) && n - k < sizeof(ref)) {
		snprintf(ref, sizeof(ref), "%.*s", (int)(n - k), s);
		lat = !api_arg_service(ref, lns, sizeof(lns), lname, sizeof(lname), &why_lat);
	}
	*why = NULL;
	if (plain && lat) {
		p->alt = true;
		snprintf(p->alt_name, sizeof(p->alt_name), "%s", lname);
		return 0;
	}
	if (lat) {
		snprintf(p->ns, sizeof(p->ns), "%s", lns);
		snprintf(p->name, sizeof(p->name), "%s", lname);
		p->latency = true;
		return 0;
	}
	if (plain)
		return 0;
	*why = why_lat ? why_lat : why_plain;
	return -EINVAL;
}

int api_arg_text(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++)
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f)
			return -EINVAL;
	return n <= max ? 0 : -EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t api_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *w = s;
	const char *r = s;

	(void)cls;
	(void)c;
	while (*r) {
		int hi = r[0] == '%' ? hexval(r[1]) : -1, lo = hi >= 0 ? hexval(r[2]) : -1;

		if (lo < 0) {
			*w++ = *r++;
			continue;
		}
		*w++ = hi * 16 + lo < 0x20 || hi * 16 + lo == 0x7f ? 0x7f : (char)(hi * 16 + lo);
		r += 3;
	}
	*w = 0;
	return w - s;
}
