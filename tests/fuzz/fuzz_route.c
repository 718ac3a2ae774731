/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_route.c: http.route templates and the folding heuristic
 * (trace/route.c). The input is lines: Telemetry.routes templates up to the
 * first empty line, then request paths. Paths come from the wire, templates
 * from a validated configuration, but both are walked by the same code. The
 * first byte picks the output buffer size and the cap, so short buffers and
 * the overflow route are reached too. */
#include <string.h>

#include "trace/route.h"
#include "fuzz.h"

#define MAX_LINES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *templates[MAX_LINES];
	char *buf, *line, *next, out[600];
	size_t outsz;
	int n_templates = 0, cap;
	bool in_templates = true;
	struct route_table *rt;

	if (!size)
		return 0;
	outsz = data[0] % 80 ? data[0] % 80 : sizeof(out); /* 1..79 bytes, or roomy */
	cap = data[0] >> 5;				   /* 0 (default) to 7 */
	buf = fuzz_cstr(data + 1, size - 1);

	/* templates first: the table copies them */
	for (line = buf; line && in_templates; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!*line)
			in_templates = false;
		else if (n_templates < MAX_LINES)
			templates[n_templates++] = line;
	}
	rt = route_table_new(templates, n_templates, cap);
	if (!rt)
		abort();
	for (int i = 0; i < n_templates; i++)
		if (templates[i][0] == '/' && !strpbrk(templates[i], "?#"))
			FUZZ_CHECK(route_template_match(templates[i], templates[i]));
	for (; line; line = next) {
		static char fold[8200], again[8200]; /* a fold is at most one byte longer */
		enum route_source src;
		bool truncated;
		size_t slashes = 0;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		truncated = line[0] && line[strlen(line) - 1] == '~'; /* "cut here" */
		memset(out, 0xa5, sizeof(out));
		src = route_of(rt, line, truncated, out, outsz);
		FUZZ_CHECK(strnlen(out, outsz) < outsz);
		FUZZ_CHECK(src >= ROUTE_NONE && src <= ROUTE_OVERFLOW_CAP);
		if (src == ROUTE_NONE)
			FUZZ_CHECK(!out[0] && line[0] != '/');
		else
			FUZZ_CHECK(out[0] == '/' || outsz == 1);
		if (src == ROUTE_TEMPLATE)
			FUZZ_CHECK(!truncated);

		/* the heuristic keeps the segments (one '/' each) and is
		 * idempotent: a folded route folds to itself */
		route_fold(line, truncated, fold, sizeof(fold));
		FUZZ_CHECK(strnlen(fold, sizeof(fold)) < sizeof(fold));
		if (line[0] == '/' && !truncated) {
			for (size_t i = 0; i < strcspn(line, "?#"); i++)
				slashes += line[i] == '/';
			for (size_t i = 0; fold[i]; i++)
				slashes -= fold[i] == '/';
			FUZZ_CHECK(slashes == 0);
			route_fold(fold, false, again, sizeof(again));
			FUZZ_CHECK(!strcmp(fold, again));
		}
		for (int i = 0; i < n_templates; i++)
			(void)route_template_match(templates[i], line);
		(void)route_segment_is_id(line, strlen(line));
	}
	FUZZ_CHECK(route_table_len(rt) <= (size_t)(cap ? cap : ROUTE_CAP_DEFAULT));
	route_table_free(rt);
	free(buf);
	return 0;
}
