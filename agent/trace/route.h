/* SPDX-License-Identifier: Apache-2.0 */
/* route.h: http.route for a request path, per service. Telemetry.routes
 * templates are tried first; otherwise a heuristic folds identifier-looking
 * segments into "*". The distinct heuristic routes of one service are capped,
 * because every route is a label value of the latency histograms and an
 * unbounded set (one route per file name, per e-mail address, ...) would grow
 * the metrics without limit. */
#ifndef BPFMESH_ROUTE_H
#define BPFMESH_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTE_CAP_DEFAULT 100
#define ROUTE_OVERFLOW "/*" /* the route of every new path past the cap */

enum route_source {
	ROUTE_NONE = 0,		/* no path to route ("*", CONNECT): out is "" */
	ROUTE_TEMPLATE = 1,	/* a Telemetry.routes template matched */
	ROUTE_HEURISTIC = 2,	/* folded by the heuristic */
	ROUTE_OVERFLOW_CAP = 3, /* the service has cap distinct routes already */
};

struct route_table;

/* A table for one service. templates (copied) are tried in order, the first
 * match wins; "{name}" in a template stands for exactly one non-empty path
 * segment, every other segment must be equal. cap: distinct heuristic routes
 * kept before new ones become ROUTE_OVERFLOW (0 = ROUTE_CAP_DEFAULT); template
 * routes do not count, the configuration bounds them. NULL on ENOMEM. */
struct route_table *route_table_new(const char *const *templates, int n_templates, int cap);
void route_table_free(struct route_table *rt);

/* http.route of a request path (no query; a '?' or '#' ends it anyway) into
 * out. truncated: path is a prefix of the real one (the capture cut it), so
 * its last segment may be partial: it becomes "*" and no template is tried. */
enum route_source route_of(struct route_table *rt, const char *path, bool truncated, char *out,
			   size_t outsz);

size_t route_table_len(const struct route_table *rt);	      /* distinct heuristic routes */
uint64_t route_table_overflows(const struct route_table *rt); /* paths sent to ROUTE_OVERFLOW */

/* The pieces, pure, for tests and for callers without a table. */
bool route_template_match(const char *tmpl, const char *path);
void route_fold(const char *path, bool truncated, char *out, size_t outsz);

/* A segment that names an instance rather than a kind of resource: all
 * digits; a UUID (8-4-4-4-12 hex); 8 or more hex characters with at least one
 * digit (hashes, object ids; the digit keeps all-letter words such as
 * "deadbeef" literal, and random ids without one are rare); or 16 or more
 * characters of [A-Za-z0-9_.~-] with at least one digit (random tokens,
 * ULIDs, base64url ids, dated slugs). Short mixed words such as "v1" or
 * "oauth2" stay. */
bool route_segment_is_id(const char *seg, size_t len);

#endif
