/* SPDX-License-Identifier: Apache-2.0 */
/* inject_skip.c: the SDK-instrumented processes that traceparent injection
 * leaves alone (bpf/inject.h, inject_skip). The daemon hands over the span
 * builder's marks on every beat; this file keeps the kernel's map equal to
 * them, guarded against reused pids: the kernel compares the cgroup id, and
 * the agent the process's start time, once a second. A mark lasts
 * sdk_ttl_ns after the process's last own traceparent, so the entry goes
 * with it; a process that exits before is marked GONE until then. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lb/inject.h"
#include "lib/log.h"
#include "skel/inject.skel.h"

static int by_tgid(const void *a, const void *b)
{
	const struct inject_sdk_proc *x = a, *y = b;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	return x->cgroup_id < y->cgroup_id ? -1 : x->cgroup_id > y->cgroup_id;
}

static const struct inject_skip_ent *find(const struct inject_skip_ent *cur, size_t n,
					  uint32_t tgid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cur[mid].tgid == tgid)
			return &cur[mid];
		if (cur[mid].tgid < tgid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t inject_skip_plan(const struct inject_skip_ent *cur, size_t n_cur,
			struct inject_sdk_proc *want, size_t n_want, bool recheck,
			inject_start_fn start, void *ctx, struct inject_skip_ent *out, size_t max)
{
	size_t n = 0;

	qsort(want, n_want, sizeof(*want), by_tgid);
	for (size_t i = 0, j; i < n_want && n < max; i = j) {
		const struct inject_skip_ent *e = find(cur, n_cur, want[i].tgid);
		const struct inject_sdk_proc *w = &want[i];
		struct inject_skip_ent o = {.tgid = want[i].tgid};
		uint64_t st;

		/* one entry per pid: the one it has if still wanted (a pid marked
		 * in two cgroups moved, or was reused), else the first */
		for (j = i; j < n_want && want[j].tgid == want[i].tgid; j++)
			if (e && want[j].cgroup_id == e->v.cgroup_id)
				w = &want[j];
		if (!w->tgid)
			continue;
		if (e && e->v.cgroup_id == w->cgroup_id) {
			o.v = e->v;
			if (recheck && !(o.v.flags & INJECT_SKIP_GONE) &&
			    (start(w->tgid, &st, ctx) || st != o.v.start_ticks))
				o.v.flags |= INJECT_SKIP_GONE;
		} else {
			/* a process that exited already needs no entry */
			if (start(w->tgid, &st, ctx))
				continue;
			o.v.cgroup_id = w->cgroup_id;
			o.v.start_ticks = st;
		}
		out[n++] = o;
	}
	return n;
}

/* /proc/PID/stat's 22nd field, after the command's closing parenthesis
 * (a command may hold spaces and parentheses). */
static int proc_start(uint32_t tgid, uint64_t *start_ticks, void *ctx)
{
	char path[32], buf[1024], *p;
	unsigned long long v;
	size_t len;
	FILE *f;

	(void)ctx;
	snprintf(path, sizeof(path), "/proc/%u/stat", tgid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = 0;
	p = strrchr(buf, ')');
	/* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime priority nice num_threads
	 * itrealvalue starttime: the 20th after ")" */
	if (!p || sscanf(p + 1,
			 " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			 "%*d %*d %*d %llu",
			 &v) != 1)
		return -1;
	*start_ticks = v;
	return 0;
}

static int ent_cmp(const struct inject_skip_ent *a, const struct inject_skip_ent *b)
{
	return a->tgid < b->tgid ? -1 : a->tgid > b->tgid;
}

void injector_skip_sync(struct injector *in, const struct inject_sdk_proc *want, size_t n_want,
			uint64_t now_ns)
{
	struct inject_skip_ent *next, *done;
	struct inject_sdk_proc *w;
	size_t n, i = 0, k = 0, m = 0;
	bool recheck = now_ns - in->skip_checked_ns >= 1000000000ULL;
	int fd;

	if (!in->skel)
		return;
	if (recheck)
		in->skip_checked_ns = now_ns;
	next = calloc(INJECT_MAX_SKIP, sizeof(*next));
	done = calloc(INJECT_MAX_SKIP, sizeof(*done));
	w = calloc(n_want ? n_want : 1, sizeof(*w));
	if (!next || !done || !w)
		goto out;
	memcpy(w, want, n_want * sizeof(*w));
	n = inject_skip_plan(in->skip, in->n_skip, w, n_want, recheck, proc_start, NULL, next,
			     INJECT_MAX_SKIP);
	fd = bpf_map__fd(in->skel->maps.inject_skip);
	/* both sorted by tgid: one walk finds what goes, what changes, what
	 * comes; done holds what the map holds after */
	while (i < in->n_skip || k < n) {
		const struct inject_skip_ent *c = i < in->n_skip ? &in->skip[i] : NULL;
		const struct inject_skip_ent *x = k < n ? &next[k] : NULL;
		int d = !c ? 1 : !x ? -1 : ent_cmp(c, x);

		if (d < 0) {
			if (bpf_map_delete_elem(fd, &c->tgid) && errno != ENOENT)
				done[m++] = *c; /* still there: tried again */
			i++;
			continue;
		}
		if (d == 0 && !memcmp(&c->v, &x->v, sizeof(c->v))) {
			done[m++] = *x;
		} else if (bpf_map_update_elem(fd, &x->tgid, &x->v, BPF_ANY)) {
			log_debug("traceparent injection: excluding pid %u: %s", x->tgid,
				  strerror(errno));
			if (d == 0)
				done[m++] = *c;
		} else {
			if (!(x->v.flags & INJECT_SKIP_GONE) &&
			    (d != 0 || c->v.flags & INJECT_SKIP_GONE))
				log_debug("traceparent injection: pid %u excluded (an "
					  "OpenTelemetry SDK exports its spans)",
					  x->tgid);
			done[m++] = *x;
		}
		i += d == 0;
		k++;
	}
	free(in->skip);
	in->skip = done;
	in->n_skip = m;
	done = NULL;
out:
	free(next);
	free(done);
	free(w);
}

size_t injector_skipped(const struct injector *in)
{
	size_t n = 0;

	for (size_t i = 0; i < in->n_skip; i++)
		n += !(in->skip[i].v.flags & INJECT_SKIP_GONE);
	return n;
}
