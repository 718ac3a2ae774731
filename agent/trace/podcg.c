/* SPDX-License-Identifier: Apache-2.0 */
/* podcg.c: a pod and its container from a cgroup path (podcg.h), read with
 * the kubelet's names (lib/podcg_name.h) one path component at a time. */
#include <stdio.h>
#include <string.h>

#include "lib/podcg_name.h"
#include "trace/podcg.h"

#define COMPONENT_MAX 256 /* NAME_MAX + 1 */

/* the path component at p (up to '/'), into buf; false when too long */
static bool component(const char *p, size_t n, char buf[COMPONENT_MAX])
{
	if (n >= COMPONENT_MAX)
		return false;
	memcpy(buf, p, n);
	buf[n] = 0;
	return true;
}

bool podcg_match(const char *path, const char *uid, char *cid, size_t cid_len)
{
	char name[COMPONENT_MAX], puid[PODCG_UID_LEN + 1];
	enum podcg_runtime rt;
	enum podcg_qos qos;
	enum podcg_driver drv;
	const char *p = path, *end;

	if (cid_len)
		cid[0] = 0;
	if (!uid[0])
		return false;
	while (*p) {
		while (*p == '/')
			p++;
		end = strchrnul(p, '/');
		if (end > p && component(p, (size_t)(end - p), name) &&
		    podcg_parse_pod(name, puid, &qos, &drv) && !strcmp(puid, uid)) {
			while (*end == '/')
				end++;
			if (*end && cid_len && component(end, strcspn(end, "/"), name) &&
			    !podcg_parse_container(name, &rt, cid, cid_len))
				cid[0] = 0;
			return true;
		}
		p = end;
	}
	return false;
}

bool podcg_same_container(const char *status_id, const char *cid)
{
	enum podcg_runtime rt;
	const char *id = status_id;

	if (!cid[0])
		return false;
	(void)podcg_parse_container_id(status_id, &rt, &id);
	return !strcmp(id, cid);
}
