/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_api_args.c: what an API client controls (api/api_args.c): the input
 * is a request target "path?query". As libmicrohttpd does, the path and each
 * key and value of the query go through the unescape callback; then the path
 * after /api/v1/services/ is checked as a service reference, and every value
 * as a number (limit=) and as free text (service=). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "api/api_args.h"
#include "fuzz.h"

#define NAME_MAX_LEN 254 /* CFG_NAME_MAX */

static bool rfc1123_chars(const char *s)
{
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") == strlen(s);
}

static void check_service(const char *ref)
{
	char ns[NAME_MAX_LEN], name[NAME_MAX_LEN];
	const char *why = (const char *)1;
	int rc;

	rc = api_arg_service(ref, ns, sizeof(ns), name, sizeof(name), &why);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (rc) {
		FUZZ_CHECK(why && *why);
		return;
	}
	FUZZ_CHECK(!why);
	FUZZ_CHECK(rfc1123_chars(ns) && !strchr(ns, '.'));
	FUZZ_CHECK(rfc1123_chars(name));
	FUZZ_CHECK(strlen(ns) < sizeof(ns) && strlen(name) < sizeof(name));
}

/* what api.c does with the path under /api/v1/services/ */
static void check_service_path(const char *s)
{
	struct api_svc_path p;
	const char *why = NULL;
	int rc;

	memset(&p, 0xa5, sizeof(p));
	rc = api_arg_service_path(s, &p, &why);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (rc) {
		FUZZ_CHECK(why && *why);
		return;
	}
	FUZZ_CHECK(rfc1123_chars(p.ns) && !strchr(p.ns, '.'));
	FUZZ_CHECK(rfc1123_chars(p.name));
	FUZZ_CHECK(strnlen(p.ns, sizeof(p.ns)) < sizeof(p.ns));
	FUZZ_CHECK(strnlen(p.name, sizeof(p.name)) < sizeof(p.name));
	if (p.alt)
		FUZZ_CHECK(rfc1123_chars(p.alt_name) && p.latency == false);
}

static void check_value(char *v)
{
	size_t len = strlen(v), n;
	long num = -1;
	int rc;

	n = api_unescape(NULL, NULL, v);
	FUZZ_CHECK(n == strlen(v) && n <= len);

	rc = api_arg_long(v, 1, 1000, &num);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (!rc)
		FUZZ_CHECK(num >= 1 && num <= 1000 && num == strtol(v, NULL, 10));
	rc = api_arg_long(v, 0, 0x7fffffffffffffffL, &num); /* the overflow edge */
	if (!rc)
		FUZZ_CHECK(num >= 0 && num == strtol(v, NULL, 10));

	rc = api_arg_text(v, NAME_MAX_LEN - 1);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (!rc)
		for (const char *c = v; *c; c++)
			FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
	check_service(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = fuzz_cstr(data, size), *query, *ref, *arg, *next, *eq;
	size_t len;

	query = strchr(url, '?');
	if (query)
		*query++ = '\0';
	api_unescape(NULL, NULL, url);
	/* as api.c reads /api/v1/services/REF and /api/v1/services/REF/latency */
	ref = strncmp(url, "/api/v1/services/", 17) ? url : url + 17;
	check_service_path(ref);
	len = strlen(ref);
	if (len >= 8 && !strcmp(ref + len - 8, "/latency"))
		ref[len - 8] = '\0';
	check_service(ref);

	for (arg = query; arg; arg = next) {
		next = strchr(arg, '&');
		if (next)
			*next++ = '\0';
		eq = strchr(arg, '=');
		if (eq)
			*eq++ = '\0';
		FUZZ_CHECK(api_unescape(NULL, NULL, arg) == strlen(arg));
		if (eq)
			check_value(eq);
	}
	free(url);
	return 0;
}
