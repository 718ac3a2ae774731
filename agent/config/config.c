/* SPDX-License-Identifier: Apache-2.0 */
/* config.c: config_load() and config_load_sources(): the sources, the passes
 * over them, and handing out a complete set or nothing.
 *
 * A pass reads every source that is not left out, turns the core Kubernetes
 * objects into configuration and checks the references. An error in a file
 * ends it: the set is refused. An error of an in-memory object leaves that
 * object out of the next pass; its errors become warnings. The passes stop
 * when one has no error, which a bounded number of them reaches (an object
 * can only fail for the lack of an object it names, CFGP_MAX_PASSES).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config_internal.h"
#include "config/config_k8s.h"

static int add_src(struct cfgp_run *run, const char *name, const char *text, size_t len,
		   bool memory)
{
	struct cfgp_src *srcs;
	char *copy = strdup(name);

	srcs = realloc(run->srcs, (size_t)(run->n_srcs + 1) * sizeof(*srcs));
	if (!copy || !srcs) {
		free(copy);
		if (srcs)
			run->srcs = srcs;
		return -ENOMEM;
	}
	run->srcs = srcs;
	srcs[run->n_srcs++] =
	    (struct cfgp_src){.name = copy, .text = (char *)text, .len = len, .memory = memory};
	return 0;
}

void cfgp_add_file(struct cfgp_loader *ld, const char *path)
{
	if (add_src(ld->run, path, NULL, 0, false))
		ld->oom = true;
	else
		ld->run->n_files++;
}

static void list_files(struct cfgp_loader *ld, const char *path)
{
	struct stat st;

	if (stat(path, &st)) {
		int err = errno;

		cfgp_err_raw(ld, -1, "%s: cannot open: %s", path, strerror(err));
		ld->io_err = -err;
	} else if (S_ISDIR(st.st_mode)) {
		cfgp_list_dir(ld, path);
	} else if (strlen(path) >= CFG_PATH_MAX) {
		cfgp_err_raw(ld, -1, "%s: cannot open: %s", path, strerror(ENAMETOOLONG));
		ld->io_err = -ENAMETOOLONG;
	} else {
		cfgp_add_file(ld, path);
	}
}

/* cfg->files: the file sources, in order. */
static void copy_file_names(struct cfgp_loader *ld)
{
	struct mesh_config *cfg = ld->cfg;
	int i, n = ld->run->n_files;

	if (!n)
		return;
	cfg->files = calloc((size_t)n, sizeof(*cfg->files));
	if (!cfg->files) {
		ld->oom = true;
		return;
	}
	for (i = 0; i < n; i++) {
		if (!(cfg->files[i] = strdup(ld->run->srcs[i].name))) {
			ld->oom = true;
			return;
		}
		cfg->n_files++;
	}
}

static void loader_free(struct cfgp_loader *ld)
{
	int i;

	for (i = 0; i < ld->n_errs; i++)
		free(ld->errs[i].msg);
	free(ld->errs);
	for (i = 0; i < ld->n_warns; i++)
		free(ld->warns[i].msg);
	free(ld->warns);
	free(ld->refs);
	free(ld->uses);
	free(ld->objs);
	free(ld->file_errs);
	free(ld->file_dropped);
	free(ld->src_bad);
	cfgp_k8s_free(ld->k8s);
	strmap_free(&ld->names);
	config_free(ld->cfg);
	memset(ld, 0, sizeof(*ld));
}

static bool left_out(const struct cfgp_run *run, int src, int doc, int item)
{
	char key[64];

	snprintf(key, sizeof(key), "%d/%d/%d", src, doc, item);
	return strmap_get(&run->left_out, key, NULL);
}

bool cfgp_left_out(const struct cfgp_loader *ld, int src, int doc, int item)
{
	return left_out(ld->run, src, doc, item);
}

static bool from_file(const struct cfgp_run *run, const struct cfgp_error *e)
{
	return e->at.file < run->n_files;
}

/* The first error of each bad in-memory object (or source) names why it is
 * left out in cfg->skipped; all of them become warnings. */
static int leave_out(struct cfgp_loader *ld)
{
	struct cfgp_run *run = ld->run;
	struct cfg_skipped *sk;
	char key[64];
	int i;

	for (i = 0; i < ld->n_errs; i++) {
		struct cfgp_error *e = &ld->errs[i];
		const struct cfgp_obj *o = e->at.obj >= 0 ? &ld->objs[e->at.obj] : NULL;
		const struct cfgp_src *src = &run->srcs[e->at.file];

		if (o && !o->skipped) {
			snprintf(key, sizeof(key), "%d/%d/%d", o->src, o->doc, o->item);
			ld->objs[e->at.obj].skipped = true;
		} else if (!o && ld->src_bad[e->at.file]) {
			snprintf(key, sizeof(key), "%d/-1/-1", e->at.file);
			ld->src_bad[e->at.file] = false; /* one entry */
		} else {
			continue;
		}
		if (strmap_put(&run->left_out, key, 1))
			return -ENOMEM;
		sk = cfgp_grow(ld, run->skipped, run->n_skipped, &run->cap_skipped, sizeof(*sk));
		if (!sk)
			return -ENOMEM;
		run->skipped = sk;
		sk = &sk[run->n_skipped++];
		memset(sk, 0, sizeof(*sk));
		if (o) {
			snprintf(sk->kind, sizeof(sk->kind), "%s", o->kind);
			snprintf(sk->ns, sizeof(sk->ns), "%s", o->ns);
			snprintf(sk->name, sizeof(sk->name), "%s", o->name);
		}
		snprintf(sk->origin.file, sizeof(sk->origin.file), "%s", src->name);
		sk->origin.line = o ? o->at.line : e->at.line;
		sk->origin.column = o ? o->at.column : e->at.column;
		sk->origin.memory = true;
		snprintf(sk->reason, sizeof(sk->reason), "invalid: %s", e->msg + e->what);
	}
	/* whole sources: their documents are not tried again */
	for (i = 0; i < run->n_srcs; i++) {
		if (!ld->src_bad[i] || !run->srcs[i].memory)
			continue;
		snprintf(key, sizeof(key), "%d/-1/-1", i);
		if (strmap_put(&run->left_out, key, 1))
			return -ENOMEM;
	}
	for (i = 0; i < ld->n_errs; i++) {
		struct cfgp_error *k =
		    cfgp_grow(ld, run->kept, run->n_kept, &run->cap_kept, sizeof(*k));

		if (!k)
			return -ENOMEM;
		run->kept = k;
		k[run->n_kept++] = ld->errs[i];
	}
	ld->n_errs = 0;
	return 0;
}

/* The errors of files (and of the path) to errs, the rest to warnings. */
static void split_errors(struct cfgp_loader *ld, struct cfg_errors *errs)
{
	struct cfgp_run *run = ld->run;
	struct cfgp_error *f = calloc((size_t)ld->n_errs + 1, sizeof(*f));
	int i, nf = 0;

	if (!f) {
		ld->oom = true;
		return;
	}
	for (i = 0; i < ld->n_errs; i++) {
		if (from_file(run, &ld->errs[i])) {
			f[nf++] = ld->errs[i];
		} else {
			struct cfgp_error *k =
			    cfgp_grow(ld, run->kept, run->n_kept, &run->cap_kept, sizeof(*k));

			if (!k) {
				free(ld->errs[i].msg);
				continue;
			}
			run->kept = k;
			k[run->n_kept++] = ld->errs[i];
		}
	}
	ld->n_errs = 0;
	cfgp_errors_give(f, nf, errs);
}

/* Warnings: the left-out objects' errors of every pass and the last pass's
 * own warnings, by position. */
static void give_warnings(struct cfgp_loader *ld, struct cfg_errors *warnings)
{
	struct cfgp_run *run = ld->run;
	int i;

	for (i = 0; i < ld->n_warns; i++) {
		struct cfgp_error *k =
		    cfgp_grow(ld, run->kept, run->n_kept, &run->cap_kept, sizeof(*k));

		if (!k) {
			free(ld->warns[i].msg);
			continue;
		}
		run->kept = k;
		k[run->n_kept++] = ld->warns[i];
	}
	free(ld->warns);
	ld->warns = NULL;
	ld->n_warns = ld->cap_warns = 0;
	if (run->n_kept)
		qsort(run->kept, (size_t)run->n_kept, sizeof(*run->kept), cfgp_cmp_errors);
	cfgp_errors_give(run->kept, run->n_kept, warnings);
	run->kept = NULL;
	run->n_kept = run->cap_kept = 0;
}

/* The left-out objects join the last pass's own skipped ones. */
static int add_skipped(struct cfgp_loader *ld)
{
	struct mesh_config *cfg = ld->cfg;
	struct cfgp_run *run = ld->run;
	struct cfg_skipped *s;

	if (!run->n_skipped)
		return 0;
	s = cfgp_reserve(ld, cfg->skipped, cfg->n_skipped + run->n_skipped, &ld->cap_skipped,
			 sizeof(*s));
	if (!s)
		return -ENOMEM;
	memcpy(s + cfg->n_skipped, run->skipped, (size_t)run->n_skipped * sizeof(*s));
	cfg->skipped = s;
	cfg->n_skipped += run->n_skipped;
	return 0;
}

/* One pass; returns the loader with its results (the caller frees it). */
static void pass(struct cfgp_loader *ld, struct cfgp_run *run, const char *path,
		 const struct cfg_source *mem, int n_mem, bool first)
{
	int i;

	ld->run = run;
	ld->cfg = calloc(1, sizeof(*ld->cfg));
	ld->k8s = calloc(1, sizeof(*ld->k8s));
	if (!ld->cfg || !ld->k8s) {
		ld->oom = true;
		return;
	}
	if (first) {
		if (path)
			list_files(ld, path);
		for (i = 0; i < n_mem && !ld->oom; i++)
			if (add_src(run, mem[i].name ? mem[i].name : "", mem[i].text, mem[i].len,
				    true))
				ld->oom = true;
	}
	ld->src_bad = calloc((size_t)run->n_srcs + 1, sizeof(*ld->src_bad));
	if (!ld->src_bad)
		ld->oom = true;
	copy_file_names(ld);
	for (i = 0; i < run->n_srcs && !ld->oom; i++)
		if (!left_out(run, i, -1, -1))
			cfgp_read_source(ld, i);
	if (!ld->oom)
		cfgp_discover(ld);
	cfgp_resolve(ld);
	cfgp_errors_sort(ld);
}

static void run_free(struct cfgp_run *run)
{
	int i;

	for (i = 0; i < run->n_srcs; i++) {
		free(run->srcs[i].name);
		if (!run->srcs[i].memory)
			free(run->srcs[i].text);
	}
	free(run->srcs);
	strmap_free(&run->left_out);
	for (i = 0; i < run->n_kept; i++)
		free(run->kept[i].msg);
	free(run->kept);
	free(run->skipped);
}

int config_load_sources(const char *path, const struct cfg_source *mem, int n_mem,
			struct mesh_config **out, struct cfg_errors *errs,
			struct cfg_errors *warnings)
{
	return config_load_cached(path, mem, n_mem, NULL, out, errs, warnings);
}

int config_load_cached(const char *path, const struct cfg_source *mem, int n_mem,
		       struct cfg_cache *cache, struct mesh_config **out, struct cfg_errors *errs,
		       struct cfg_errors *warnings)
{
	struct cfgp_run run = {.cache = cache};
	struct cfgp_loader ld = {0};
	int n, i, ret = 0;

	*out = NULL;
	if (cache)
		cfgp_cache_begin(cache);
	if (errs)
		*errs = (struct cfg_errors){0};
	if (warnings)
		*warnings = (struct cfg_errors){0};

	for (n = 0;; n++) {
		bool file_err = false, mem_err = false;

		pass(&ld, &run, path, mem, n_mem, n == 0);
		for (i = 0; i < ld.n_errs; i++) {
			if (from_file(&run, &ld.errs[i]))
				file_err = true;
			else
				mem_err = true;
		}
		if (ld.oom) {
			ret = -ENOMEM;
			break;
		}
		if (file_err || ld.io_err) {
			ret = ld.io_err ? ld.io_err : -EINVAL;
			split_errors(&ld, errs);
			break;
		}
		if (mem_err && n + 1 == CFGP_MAX_PASSES) {
			/* cannot happen with today's kinds; refuse rather than apply
			 * a set that still has errors */
			ret = -EINVAL;
			cfgp_errors_give(ld.errs, ld.n_errs, errs);
			ld.errs = NULL;
			ld.n_errs = 0;
			break;
		}
		if (!mem_err) {
			if (add_skipped(&ld)) {
				ret = -ENOMEM;
				break;
			}
			*out = ld.cfg;
			ld.cfg = NULL;
			break;
		}
		if (leave_out(&ld)) {
			ret = -ENOMEM;
			break;
		}
		loader_free(&ld);
	}
	give_warnings(&ld, warnings);
	loader_free(&ld);
	run_free(&run);
	if (cache)
		cfgp_cache_end(cache);
	return ret;
}

int config_load(const char *path, struct mesh_config **out, struct cfg_errors *errs)
{
	return config_load_sources(path, NULL, 0, out, errs, NULL);
}

static void free_workload(struct cfg_workload *w)
{
	free(w->ports);
	free(w->interfaces);
	free(w->containers);
	free(w->k8s_services);
	free(w->addrs);
}

void config_free(struct mesh_config *cfg)
{
	int i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_services; i++) {
		free(cfg->services[i].addrs);
		free(cfg->services[i].ports);
		free(cfg->services[i].endpoints);
	}
	free(cfg->services);
	free(cfg->policies);
	for (i = 0; i < cfg->n_workloads; i++)
		free_workload(&cfg->workloads[i]);
	free(cfg->workloads);
	for (i = 0; i < cfg->n_access; i++) {
		free(cfg->access[i].entries);
		free(cfg->access[i].from);
		free(cfg->access[i].from_idx);
	}
	free(cfg->access);
	cfgp_telemetry_free(cfg->telemetry);
	for (i = 0; i < cfg->n_files; i++)
		free(cfg->files[i]);
	free(cfg->files);
	free(cfg->namespaces);
	free(cfg->skipped);
	free(cfg);
}
