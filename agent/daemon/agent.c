/* SPDX-License-Identifier: Apache-2.0 */
/* agent.c: the node agent's state and its life: attach the programs and
 * open every subsystem, apply a configuration, read the kernel's rings,
 * housekeeping on a beat, and the orderly stop. The command around it
 * (options, the API, the config watch, the main loop) is agent/cmd_agent.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "bpf/lb.h"
#include "daemon/agent.h"
#include "daemon/metrics_export.h"
#include "daemon/podcg.h"
#include "lib/cgroup.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "trace/otlp_conf.h"
#include "trace/sampling.h"

/* libbpf's messages one log line per line: a verifier log arrives as one
 * message of many kilobytes. Its own "libbpf: " prefix is kept once. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level lv = level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG;
	char *buf = NULL, *line, *save = NULL;

	if (level == LIBBPF_DEBUG && log_verbosity < LOG_DEBUG)
		return 0;
	if (vasprintf(&buf, fmt, ap) < 0)
		return 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_msg(lv, "libbpf: %s", strncmp(line, "libbpf: ", 8) ? line : line + 8);
	free(buf);
	return 0;
}

/* terminateConnections also covers endpoints taken out of the config. */
static void terminate_removed_endpoints(struct agent *a, const struct mesh_config *cfg)
{
	struct lb_be_key *keys = NULL;
	int n = terminate_removed(a->cfg, cfg, &keys), netns, done;

	if (n > 0) {
		done = terminator_run(&a->term, keys, n, &netns);
		log_info("terminated %d connection(s) to %d removed endpoint(s) in %d network "
			 "namespace(s)",
			 done, n, netns);
	}
	free(keys);
}

/* How many of a rejected configuration's errors go to the log; all of them
 * are in `bpfmesh validate`, the first ones in /api/v1/config. */
#define RELOAD_LOG_ERRORS 20

/* Logged after the lock is given back: a configuration with thousands of
 * errors must not hold up the API or the event loop while it is written. */
static void log_rejected(const struct cfg_errors *errs, int rc)
{
	for (int i = 0; i < errs->n && i < RELOAD_LOG_ERRORS; i++)
		log_error("config rejected, previous configuration stays in force: %s",
			  errs->msgs[i]);
	if (errs->n > RELOAD_LOG_ERRORS)
		log_error(
		    "config rejected: %d more errors not logged (bpfmesh validate lists them)",
		    errs->n - RELOAD_LOG_ERRORS);
	if (!errs->n)
		log_error("config rejected: %s", strerror(-rc));
}

/* The files alone, or the files and the newest Kubernetes objects; with
 * Kubernetes, nothing until every resource was listed once. */
static int load_config(struct agent *a, struct mesh_config **cfg, struct cfg_errors *errs,
		       struct cfg_errors *warns, uint64_t *gen, size_t *n_objects)
{
	char waiting[sizeof(a->kube_waiting)];

	*gen = 0;
	*n_objects = 0;
	if (!a->kube)
		return config_load(a->opts.config, cfg, errs);
	if (!kubesync_synced(a->kube)) {
		kubesync_waiting(a->kube, waiting, sizeof(waiting));
		pthread_mutex_lock(&a->lock);
		snprintf(a->kube_waiting, sizeof(a->kube_waiting), "%s", waiting);
		pthread_mutex_unlock(&a->lock);
		log_info("waiting for the first list of Kubernetes %s before applying anything",
			 waiting);
		return -EAGAIN;
	}
	return kubesync_load(a->kube, a->opts.config, cfg, errs, warns, gen, n_objects);
}

/* Pods are workloads without a cgroup: find theirs (before access policy
 * and identity read them). Those not made yet are looked for again on the
 * beat (agent_tick). */
static void fill_pod_cgroups(struct agent *a, struct mesh_config *cfg)
{
	struct podcg_result r;

	podcg_fill(cfg, a->cgmount, a->cgroup, &r);
	if (r.truncated)
		log_warn("pod cgroups: the search stopped at %d directories or %d levels; %d pods "
			 "without a cgroup",
			 PODCG_MAX_DIRS, PODCG_MAX_DEPTH, r.unresolved);
	a->pods_unresolved = r.unresolved;
}

/* The interface programs load when a Workload first names an interface
 * (loader.h); a kernel that refuses them is not asked again. */
static void need_tc(struct agent *a, const struct mesh_config *cfg)
{
	bool named = false;

	for (int i = 0; i < cfg->n_workloads && !named; i++)
		named = cfg->workloads[i].n_interfaces > 0;
	if (!named || a->ld.tc_state != LOADER_TC_UNLOADED || loader_load_tc(&a->ld))
		return;
	tcguard_set_progs(&a->tcg, loader_prog_fd(&a->ld, "bm_tc_guard"),
			  loader_prog_fd(&a->ld, "bm_http_tc_in"),
			  loader_prog_fd(&a->ld, "bm_http_tc_out"));
}

/* Injection follows the configuration in force; the builder learns its
 * key before the first injected request can reach the ring. */
static void apply_injection(struct agent *a)
{
	const struct cfg_telemetry *tel = a->cfg->telemetry;

	injector_apply(&a->inj, a->cfg, a->ld.cgroup_fd,
		       sampling_threshold(tel ? tel->sampling_ratio : 1.0));
	tracing_set_inject_key(&a->tracing, a->inj.key);
}

/* The processes the span builder found SDK-instrumented get no header:
 * on every beat, so a process is left alone from its first traced call's
 * next beat on (trace/ and lb/ are siblings: the daemon carries the list). */
static void sync_injection_skip(struct agent *a, uint64_t now)
{
	struct sb_sdk_id *ids;
	struct inject_sdk_proc *want;
	size_t n;

	if (!a->inj.skel)
		return;
	ids = calloc(INJECT_MAX_SKIP, sizeof(*ids));
	want = calloc(INJECT_MAX_SKIP, sizeof(*want));
	if (ids && want) {
		n = tracing_sdk_procs(&a->tracing, ids, INJECT_MAX_SKIP);
		for (size_t i = 0; i < n; i++)
			want[i] = (struct inject_sdk_proc){ids[i].tgid, ids[i].cgroup_id};
		injector_skip_sync(&a->inj, want, n, now);
	}
	free(ids);
	free(want);
}

/* At most this many new warnings are logged per load; the rest are
 * counted in one line (all of them are at debug level). */
#define NEW_WARNINGS_LOGGED 10

/* The configuration's warnings (a name defined twice, an object left out of
 * a Kubernetes set) come back on every reload while their cause stays: a
 * new one is logged at warn level, once; the others only at debug level. */
static void log_new_warnings(struct agent *a, const struct cfg_errors *warns)
{
	struct strmap now = {0};
	int fresh = 0, i;

	for (i = 0; i < warns->n; i++) {
		const char *w = warns->msgs[i];

		log_debug("config: %s", w);
		if (strmap_get(&now, w, NULL))
			continue;
		/* ENOMEM: not remembered, logged again at the next load */
		(void)strmap_put(&now, w, 0);
		if (!strmap_get(&a->warned, w, NULL) && fresh++ < NEW_WARNINGS_LOGGED)
			log_warn("config: %s", w);
	}
	if (fresh > NEW_WARNINGS_LOGGED)
		log_warn("config: %d more new warnings (-v logs every warning)",
			 fresh - NEW_WARNINGS_LOGGED);
	strmap_free(&a->warned);
	a->warned = now;
}

int agent_reload(struct agent *a)
{
	struct cfg_errors errs = {}, warns = {};
	struct mesh_config *cfg = NULL;
	char err[1024];
	uint64_t t0 = mono_ns(), gen;
	size_t n_objects;
	bool touched = false, rejected = false;
	int rc, i;

	rc = load_config(a, &cfg, &errs, &warns, &gen, &n_objects);
	if (rc == -EAGAIN)
		return rc;
	log_new_warnings(a, &warns);
	if (!rc)
		fill_pod_cgroups(a, cfg);
	pthread_mutex_lock(&a->lock);
	a->kube_waiting[0] = 0;
	if (rc) {
		size_t off = 0;

		a->reload_errors++;
		a->last_error[0] = 0;
		for (i = 0; i < errs.n && off < sizeof(a->last_error); i++)
			off += snprintf(a->last_error + off, sizeof(a->last_error) - off, "%s%s",
					i ? "; " : "", errs.msgs[i]);
		if (!errs.n)
			snprintf(a->last_error, sizeof(a->last_error), "%s: %s", a->opts.config,
				 strerror(-rc));
		rejected = true;
		goto out;
	}
	/* what this kernel cannot serve is refused like an invalid document */
	rc = kplan_check_config(&a->ld.plan, cfg, err, sizeof(err));
	if (rc) {
		a->reload_errors++;
		snprintf(a->last_error, sizeof(a->last_error), "%s", err);
		goto out;
	}
	rc = lbmaps_apply(&a->lm, cfg, err, sizeof(err), &touched);
	/* refused for room the grace of removed endpoints still holds, or
	 * partly written: tried again when endpoints are freed */
	a->apply_pending = rc != 0;
	if (rc) {
		a->reload_errors++;
		snprintf(a->last_error, sizeof(a->last_error), "%s", err);
		/* the maps may hold part of the new set: the next apply diffs
		 * against what was written, so it converges */
		if (touched)
			a->applied = false;
		goto out;
	}
	health_apply(&a->health, cfg);
	need_tc(a, cfg);
	tcguard_apply(&a->tcg, cfg);
	loader_set_tc_capture(&a->ld, a->tcg.n_attached > 0);
	access_apply(&a->access, cfg, &a->lm);
	terminate_removed_endpoints(a, cfg);
	healthcheck_update(&a->hc, cfg, &a->lm);
	config_free(a->cfg);
	a->cfg = cfg;
	cfg = NULL;
	tracing_apply(&a->tracing, a->cfg);
	apply_injection(a);
	exports_apply(&a->exp, a->cfg);
	metrics_export_apply(a);
	a->applied = true;
	a->reloads++;
	a->last_error[0] = 0;
	a->kube_gen = gen;
	a->kube_objects = n_objects;
	if (a->kube)
		snprintf(
		    err, sizeof(err),
		    "%d services, %d traffic policies, %d workloads (%d pods without a cgroup "
		    "yet), %d access policies from %s and %zu Kubernetes objects (%d warnings)",
		    a->cfg->n_services, a->cfg->n_policies, a->cfg->n_workloads, a->pods_unresolved,
		    a->cfg->n_access, a->opts.config, n_objects, warns.n);
	else
		snprintf(
		    err, sizeof(err),
		    "%d services, %d traffic policies, %d workloads, %d access policies from %s",
		    a->cfg->n_services, a->cfg->n_policies, a->cfg->n_workloads, a->cfg->n_access,
		    a->opts.config);
out:
	pthread_mutex_unlock(&a->lock);
	if (rejected)
		log_rejected(&errs, rc);
	else if (rc && touched)
		log_error("config partly applied, retrying at the next change: %s", err);
	else if (rc)
		log_error("config not applied, previous configuration stays in force: %s", err);
	else
		log_info("config applied: %s in %.1f ms", err, (mono_ns() - t0) / 1e6);
	config_free(cfg);
	cfg_errors_free(&errs);
	cfg_errors_free(&warns);
	return rc;
}

int agent_start(struct agent *a)
{
	struct loader_opts lo = {};
	struct lbm_fds fds;

	libbpf_set_print(libbpf_log);
	otlp_conf_log_to_agent();
	a->started_ns = mono_ns();
	if (cgroup_resolve(a->opts.cgroup, a->cgroup, sizeof(a->cgroup))) {
		log_error("no cgroup v2 mount found in /proc/mounts; pass --cgroup PATH");
		return -ENOENT;
	}
	/* pods' cgroups are searched for under it (none: pods match nothing) */
	cgroup2_mount(a->cgmount, sizeof(a->cgmount));
	lo.bpffs = a->opts.bpffs;
	lo.cgroup = a->cgroup;
	lo.max_endpoints = a->opts.max_endpoints;
	lo.max_services = a->opts.max_services;
	lo.max_sockets = a->opts.max_sockets;
	if (loader_start(&a->ld, &lo))
		return -EIO;
	a->loaded = true;
	loader_map_fds(&a->ld, &fds);
	if (lbmaps_init(&a->lm, &fds)) {
		log_error("reading pinned maps failed");
		return -EIO;
	}
	if (health_init(&a->health, &a->lm, loader_map_fd(&a->ld, "lb_events"),
			loader_map_fd(&a->ld, "lb_drops"), loader_map_fd(&a->ld, "lb_ev_lost")))
		return -EIO;
	access_init(&a->access, loader_map_fd(&a->ld, "lb_access"));
	tcguard_init(&a->tcg, &a->ld.pd, loader_prog_fd(&a->ld, "bm_tc_guard"),
		     loader_prog_fd(&a->ld, "bm_http_tc_in"),
		     loader_prog_fd(&a->ld, "bm_http_tc_out"), a->ld.plan.tc_classic);
	terminator_init(&a->term, loader_prog(&a->ld, "bm_iter_tcp"),
			loader_prog(&a->ld, "bm_iter_udp"), loader_map_fd(&a->ld, "lb_term"),
			a->cgroup);
	a->health.term = &a->term;
	if (tracing_init(&a->tracing, loader_map_fd(&a->ld, "http_events"),
			 loader_map_fd(&a->ld, "http_drops"))) {
		log_error("starting the tracing pipeline failed");
		return -EIO;
	}
	/* injection leaves the processes capture saw serving alone */
	a->inj.serving_fd = loader_map_fd(&a->ld, "http_serving");
	tracing_set_node_name(&a->tracing, a->opts.node_name);
	tracing_set_lb_conns(&a->tracing, loader_map_fd(&a->ld, "lb_conns"));
	tracing_set_h2_lb(&a->tracing, loader_map_fd(&a->ld, "h2_lb"));
	tracing_set_http_conns(&a->tracing, loader_map_fd(&a->ld, "http_conns3"));
	tracing_set_h2_outcome(&a->tracing, loader_prog_fd(&a->ld, "bm_h2_outcome"));
	a->tracing.ev.no_threads = !a->ld.plan.thread_tps;
	if (exports_init(&a->exp, &a->tracing)) {
		log_error("starting the span sinks: out of memory");
		return -ENOMEM;
	}
	tracing_apply(&a->tracing, NULL);
	if (healthcheck_start(&a->hc, a->lm.fd.ep_health)) {
		log_error("starting the health checker: %s", strerror(errno));
		return -EIO;
	}
	a->attached = true;
	return 0;
}

int agent_health_fd(struct agent *a) { return health_events_fd(&a->health); }

int agent_trace_fd(struct agent *a) { return tracing_fd(&a->tracing); }

int agent_cgroups_fd(struct agent *a) { return access_fd(&a->access); }

void agent_follow_cgroups(struct agent *a, uint64_t now)
{
	pthread_mutex_lock(&a->lock);
	if (a->cfg && a->cfg->n_access && access_changed(&a->access, now))
		access_follow(&a->access, a->cfg, &a->lm);
	pthread_mutex_unlock(&a->lock);
}

void agent_consume(struct agent *a, bool health_events)
{
	if (health_events) {
		pthread_mutex_lock(&a->lock);
		health_consume(&a->health);
		pthread_mutex_unlock(&a->lock);
	}
	pthread_mutex_lock(&a->lock);
	tracing_consume(&a->tracing);
	pthread_mutex_unlock(&a->lock);
}

bool agent_tick(struct agent *a, uint64_t now)
{
	bool retry;

	pthread_mutex_lock(&a->lock);
	retry = lbmaps_gc(&a->lm, false) > 0 && a->apply_pending;
	health_tick(&a->health, now);
	tracing_tick(&a->tracing, now);
	sync_injection_skip(a, now);
	exports_tick(&a->exp, now);
	metrics_export_tick(a, now);
	/* interfaces named in the config that did not exist yet (workload
	 * cgroups are followed: agent_follow_cgroups) */
	if (a->tcg.missing && a->cfg && now - a->missing_retried_ns > 2000000000ULL) {
		a->missing_retried_ns = now;
		tcguard_apply(&a->tcg, a->cfg);
		loader_set_tc_capture(&a->ld, a->tcg.n_attached > 0);
	}
	/* pods whose cgroup the kubelet had not made yet */
	if (a->pods_unresolved > 0 && a->cfg && now - a->pods_rescanned_ns > 1000000000ULL) {
		struct podcg_result r;

		a->pods_rescanned_ns = now;
		podcg_fill(a->cfg, a->cgmount, a->cgroup, &r);
		a->pods_unresolved = r.unresolved;
		if (r.found) {
			log_info("pod cgroups: %d found, %d pods without one yet", r.found,
				 r.unresolved);
			access_follow(&a->access, a->cfg, &a->lm);
			tracing_apply(&a->tracing, a->cfg); /* identity resolves again */
			apply_injection(a);		    /* their tracing.inject, by cgroup id */
		}
	}
	pthread_mutex_unlock(&a->lock);
	return retry;
}

void agent_stop(struct agent *a)
{
	if (a->attached)
		log_info("agent stopping; programs stay attached (pinned under %s)", a->opts.bpffs);
	healthcheck_stop(&a->hc);
	/* no header may name a span nobody will export */
	injector_close(&a->inj);
	metrics_export_stop(a);
	tracing_free(&a->tracing); /* flushes held spans into the sinks */
	exports_free(&a->exp);
	terminator_free(&a->term);
	health_free(&a->health);
	tcguard_free(&a->tcg);
	access_free(&a->access);
	lbmaps_free(&a->lm);
	if (a->loaded)
		loader_close(&a->ld);
	config_free(a->cfg);
	a->cfg = NULL;
	strmap_free(&a->warned);
}
