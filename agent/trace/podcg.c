/* SPDX-License-Identifier: Apache-2.0 */
/* podcg.c: a pod and its container from a cgroup path (podcg.h). */
#include <stdio.h>
#include <string.h>

#include "trace/podcg.h"

#define UID_MAX 64

/* Component c (len bytes) names the pod's cgroup: "pod<uid>" (cgroupfs) or
 * "kubepods[-<qos>]-pod<uid with '_'>.slice" (systemd). */
static bool is_pod_dir(const char *c, size_t len, const char *uid, const char *uid_)
{
	static const char slice[] = ".slice";
	size_t ul = strlen(uid), sl = sizeof(slice) - 1;

	if (len == 3 + ul && !strncmp(c, "pod", 3) && !strncmp(c + 3, uid, ul))
		return true;
	/* ...-pod<uid_>.slice */
	if (len < 4 + ul + sl || strncmp(c, "kubepods", 8) || strncmp(c + len - sl, slice, sl))
		return false;
	c += len - sl - ul - 4;
	return !strncmp(c, "-pod", 4) && !strncmp(c + 4, uid_, ul);
}

/* The container id in a component below the pod: "<id>",
 * "<runtime>-<id>" or "<runtime>-<id>.scope". "" for a conmon or pause
 * scope that is no container's, or when nothing hex-like is left. */
static void container_id(const char *c, size_t len, char *cid, size_t cid_len)
{
	const char *dash;
	size_t i;

	cid[0] = 0;
	if (len > 6 && !strncmp(c + len - 6, ".scope", 6))
		len -= 6;
	if (len >= 12 && memmem(c, len, "conmon", 6))
		return;
	dash = memrchr(c, '-', len);
	if (dash) {
		len -= (size_t)(dash + 1 - c);
		c = dash + 1;
	}
	if (!len || len >= cid_len)
		return;
	for (i = 0; i < len; i++)
		if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'a' && c[i] <= 'f')))
			return;
	memcpy(cid, c, len);
	cid[len] = 0;
}

bool podcg_match(const char *path, const char *uid, char *cid, size_t cid_len)
{
	char uid_[UID_MAX];
	const char *p = path, *end;
	size_t ul = strlen(uid), i;

	if (cid_len)
		cid[0] = 0;
	if (!ul || ul >= sizeof(uid_))
		return false;
	/* the systemd driver writes the UID's dashes as underscores */
	for (i = 0; i <= ul; i++)
		uid_[i] = uid[i] == '-' ? '_' : uid[i];
	while (*p) {
		while (*p == '/')
			p++;
		end = strchrnul(p, '/');
		if (end > p && is_pod_dir(p, (size_t)(end - p), uid, uid_)) {
			while (*end == '/')
				end++;
			if (*end && cid_len)
				container_id(end, strcspn(end, "/"), cid, cid_len);
			return true;
		}
		p = end;
	}
	return false;
}

bool podcg_same_container(const char *status_id, const char *cid)
{
	const char *sep = strstr(status_id, "://");

	return cid[0] && !strcmp(sep ? sep + 3 : status_id, cid);
}
