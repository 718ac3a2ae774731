/* SPDX-License-Identifier: Apache-2.0 */
/* podcg_name.c: the kubelet's pod and container cgroup names (the forms are
 * in podcg_name.h; kubelet's cm/cgroup_manager_linux.go and the runtimes'
 * systemd scope names). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "lib/podcg_name.h"

static const char *const qos_names[] = {"guaranteed", "burstable", "besteffort"};

const char *podcg_qos_name(enum podcg_qos qos)
{
	return (unsigned)qos < 3 ? qos_names[qos] : "unknown";
}

/* s[0..PODCG_UID_LEN) is a UID written with sep ('-' or '_') between its
 * groups: copied to uid with dashes. */
static bool take_uid(const char *s, char sep, char *uid)
{
	for (int i = 0; i < PODCG_UID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != sep : !isxdigit((unsigned char)s[i]))
			return false;
		uid[i] = dash ? '-' : s[i];
	}
	uid[PODCG_UID_LEN] = 0;
	return true;
}

/* "pod<uid>" + suffix, exactly */
static bool take_pod(const char *s, char sep, const char *suffix, char *uid)
{
	return !strncmp(s, "pod", 3) && strlen(s) == 3 + PODCG_UID_LEN + strlen(suffix) &&
	       take_uid(s + 3, sep, uid) && !strcmp(s + 3 + PODCG_UID_LEN, suffix);
}

bool podcg_parse_pod(const char *name, char *uid, enum podcg_qos *qos, enum podcg_driver *drv)
{
	const char *k = strstr(name, "kubepods-");

	/* "kubepods-..." or "<root>-kubepods-..." */
	if (k && (k == name || k[-1] == '-')) {
		const char *s = k + 9;

		*qos = PODCG_GUARANTEED;
		for (int q = PODCG_BURSTABLE; q <= PODCG_BESTEFFORT; q++) {
			size_t n = strlen(qos_names[q]);

			if (!strncmp(s, qos_names[q], n) && s[n] == '-') {
				*qos = q;
				s += n + 1;
				break;
			}
		}
		*drv = PODCG_SYSTEMD;
		return take_pod(s, '_', ".slice", uid);
	}
	*drv = PODCG_CGROUPFS;
	/* the QoS class of a cgroupfs pod is its parent's name: the caller's */
	*qos = PODCG_GUARANTEED;
	return take_pod(name, '-', "", uid);
}

bool podcg_is_kubepods_dir(const char *name)
{
	static const char *const names[] = {
	    "kubepods",	  "kubepods.slice",	      "burstable",
	    "besteffort", "kubepods-burstable.slice", "kubepods-besteffort.slice",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

static bool valid_uid(const char *uid)
{
	char tmp[PODCG_UID_LEN + 1];

	return strlen(uid) == PODCG_UID_LEN && take_uid(uid, '-', tmp);
}

static int fits(int n, size_t len) { return n < 0 || (size_t)n >= len ? -1 : n; }

int podcg_pod_path(char *buf, size_t len, enum podcg_driver drv, enum podcg_qos qos,
		   const char *uid)
{
	char u[PODCG_UID_LEN + 1];
	const char *q = podcg_qos_name(qos);

	if (!valid_uid(uid) || (unsigned)qos > PODCG_BESTEFFORT)
		return -1;
	if (drv == PODCG_CGROUPFS)
		return fits(qos == PODCG_GUARANTEED
				? snprintf(buf, len, "kubepods/pod%s", uid)
				: snprintf(buf, len, "kubepods/%s/pod%s", q, uid),
			    len);
	for (int i = 0; i <= PODCG_UID_LEN; i++)
		u[i] = uid[i] == '-' ? '_' : uid[i];
	return fits(qos == PODCG_GUARANTEED
			? snprintf(buf, len, "kubepods.slice/kubepods-pod%s.slice", u)
			: snprintf(buf, len,
				   "kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice", q, q,
				   u),
		    len);
}

static const char *const scope_prefix[] = {"", "cri-containerd-", "crio-", "docker-"};

int podcg_container_name(char *buf, size_t len, enum podcg_driver drv, enum podcg_runtime rt,
			 const char *id)
{
	if (!id[0] || strchr(id, '/') || (unsigned)rt > PODCG_RT_DOCKER)
		return -1;
	if (drv == PODCG_CGROUPFS || rt == PODCG_RT_UNKNOWN)
		return fits(snprintf(buf, len, "%s", id), len);
	return fits(snprintf(buf, len, "%s%s.scope", scope_prefix[rt], id), len);
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return n > 0;
}

bool podcg_parse_container(const char *name, enum podcg_runtime *rt, char *id, size_t idlen)
{
	size_t n = strlen(name);

	for (int r = PODCG_RT_CONTAINERD; r <= PODCG_RT_DOCKER; r++) {
		size_t p = strlen(scope_prefix[r]);

		/* "<runtime>-<id>.scope" (systemd), "<runtime>-<id>" (cgroupfs
		 * under some runtimes) */
		size_t k = n > 6 && !strcmp(name + n - 6, ".scope") ? n - 6 : n;

		if (k > p && !strncmp(name, scope_prefix[r], p) && all_hex(name + p, k - p) &&
		    k - p < idlen) {
			*rt = r;
			snprintf(id, idlen, "%.*s", (int)(k - p), name + p);
			return true;
		}
	}
	/* cgroupfs: the bare id (64 hex digits for the three runtimes) */
	if (n == 64 && all_hex(name, n) && n < idlen) {
		*rt = PODCG_RT_UNKNOWN;
		snprintf(id, idlen, "%s", name);
		return true;
	}
	return false;
}

bool podcg_parse_container_id(const char *cid, enum podcg_runtime *rt, const char **id)
{
	static const struct {
		const char *scheme;
		enum podcg_runtime rt;
	} schemes[] = {
	    {"containerd://", PODCG_RT_CONTAINERD},
	    {"cri-o://", PODCG_RT_CRIO},
	    {"docker://", PODCG_RT_DOCKER},
	};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].scheme);

		if (!strncmp(cid, schemes[i].scheme, n) && cid[n]) {
			*rt = schemes[i].rt;
			*id = cid + n;
			return true;
		}
	}
	return false;
}
