/* SPDX-License-Identifier: Apache-2.0 */
/* test_lbplan.c: the load-balancing planner without BPF: the kernel services,
 * endpoint ids, weights, tables and frontends a configuration asks for, what
 * a change keeps, adds and removes, capacity refusals, the maglev/weighted
 * choice, and the config-to-kernel enum mapping.
 *
 * Configurations are loaded from YAML (config_load) so the tests see what the
 * agent sees; the mirror is advanced with lbplan_commit(), i.e. as if every
 * write of a plan succeeded. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfgfile.h"

#include "bpf/lb.h"
#include "config/config.h"
#include "lb/lbabi.h"
#include "lb/lbmirror.h"
#include "lb/lbplan.h"

#define HDR "apiVersion: bpfmesh.io/v1alpha1\n"
#define NOW 1000000000ULL

/* ---- fixture: a temporary config file and a mirror of small maps ---- */

struct fx {
	char dir[64];
	char file[96];
	struct lbmirror m;
	struct mesh_config *cfg;
	struct lbplan p;
};

static const struct lbm_limits small = {
    .max_fe = 64, .max_svc = 32, .max_be = 64, .max_slots = 4096, .max_maglev = 4};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/bpfmesh-test-lbplan-XXXXXX");
	if (!mkdtemp(f->dir) || lbmirror_init(&f->m, &small)) {
		free(f);
		return -1;
	}
	snprintf(f->file, sizeof(f->file), "%s/c.yaml", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	lbplan_free(&f->p);
	config_free(f->cfg);
	lbmirror_free(&f->m);
	unlink(f->file);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Load text as the whole configuration (it must be valid). */
static const struct mesh_config *load(struct fx *f, const char *text)
{
	return cfgfile_load(f->dir, f->file, &f->cfg, text);
}

/* Plan text against the mirror; the plan must be accepted. */
static const struct lbplan *plan(struct fx *f, const char *text)
{
	char err[512];
	int rc;

	lbplan_free(&f->p);
	rc = lbplan_build(&f->m, load(f, text), &f->p, err, sizeof(err));
	if (rc)
		fail_msg("lbplan_build: expected 0, got %d (%s)", rc, err);
	assert_string_equal(err, "");
	return &f->p;
}

/* Plan text, then record it as written. */
static const struct lbplan *plan_and_commit(struct fx *f, const char *text)
{
	const struct lbplan *p = plan(f, text);

	assert_int_equal(lbplan_commit(&f->m, p, NOW), 0);
	return p;
}

/* Plan the loaded configuration, which must be refused with -ENOSPC and
 * exactly the message want; nothing of the plan is left. */
static void expect_refused(struct fx *f, const char *want)
{
	char err[512];

	lbplan_free(&f->p);
	assert_int_equal(lbplan_build(&f->m, f->cfg, &f->p, err, sizeof(err)), -ENOSPC);
	assert_string_equal(err, want);
	assert_int_equal(f->p.n_svcs + f->p.n_bes + f->p.n_fes, 0);
	assert_null(f->p.svcs);
}

static const struct lbplan_svc *svc(const struct lbplan *p, const char *key)
{
	for (int i = 0; i < p->n_svcs; i++)
		if (!strcmp(p->svcs[i].key, key))
			return &p->svcs[i];
	fail_msg("no kernel service %s in the plan (%d services)", key, p->n_svcs);
	return NULL;
}

static const struct lbplan_be *be(const struct lbplan *p, uint32_t id)
{
	for (int i = 0; i < p->n_bes; i++)
		if (p->bes[i].id == id)
			return &p->bes[i];
	fail_msg("endpoint %u is not written by the plan (%d written)", id, p->n_bes);
	return NULL;
}

static void assert_be(const struct lbplan_be *b, bool is_new, int family, const char *addr,
		      uint16_t port)
{
	char text[INET6_ADDRSTRLEN];

	assert_int_equal(b->is_new, is_new);
	assert_int_equal(b->family, family);
	assert_non_null(inet_ntop(family, b->addr, text, sizeof(text)));
	assert_string_equal(text, addr);
	assert_int_equal(b->port, port);
}

/* The endpoint a mirror id stands for, as "addr:port". */
static void assert_mirror_be(const struct lbmirror *m, uint32_t id, const char *want)
{
	char text[64];

	assert_true(id > 0 && id < m->max_be && m->bes[id].used);
	lbm_backend_str(&m->bes[id], text, sizeof(text));
	assert_string_equal(text, want);
}

static void assert_eps(const struct lbplan_svc *s, int n, const uint32_t *ids, const uint32_t *w)
{
	assert_int_equal(s->n_eps, n);
	assert_int_equal(s->val.n_eps, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(s->eps[i], ids[i]);
		assert_int_equal(s->weights[i], w[i]);
	}
}

/* How often ep id appears in the weighted table. */
static int slots_of(const struct lbplan_svc *s, uint32_t id)
{
	int n = 0;

	for (uint32_t i = 0; i < s->n_slots; i++)
		n += s->slots[i] == id;
	return n;
}

static const struct lbplan_fe *fe(const struct lbplan *p, int family, const char *addr,
				  uint16_t port, uint8_t proto)
{
	struct lb_fe_key k = {.port = htons(port), .proto = proto, .family = family};

	assert_int_equal(inet_pton(family, addr, k.addr), 1);
	for (int i = 0; i < p->n_fes; i++)
		if (!memcmp(&p->fes[i].key, &k, sizeof(k)))
			return &p->fes[i];
	fail_msg("no frontend %s:%u in the plan (%d frontends)", addr, port, p->n_fes);
	return NULL;
}

/* ---- tests ---- */

static const char user_svc[] = HDR "kind: Service\n"
				   "metadata: {name: user}\n"
				   "spec:\n"
				   "  addresses: [\"127.100.0.10\"]\n"
				   "  ports: [{name: http, port: 80, targetPort: 8080}]\n"
				   "  loadBalancer: {policy: roundRobin}\n"
				   "  endpoints:\n"
				   "  - {address: \"127.0.0.1\", port: 18081}\n"
				   "  - {address: \"127.0.0.1\", port: 18082, weight: 2}\n";

static void test_small_config(void **state)
{
	struct fx *f = *state;
	const struct lbplan *p = plan(f, user_svc);
	const struct lbplan_svc *s;
	const struct lbplan_fe *e;

	assert_int_equal(p->n_svcs, 1);
	s = svc(p, "default/user:80/TCP/v4");
	assert_int_equal(s->id, 1);
	assert_true(s->is_new);
	assert_true(s->changed);
	assert_int_equal(s->proto, IPPROTO_TCP);
	assert_int_equal(s->port, 80);
	assert_int_equal(s->val.policy, LB_POLICY_ROUND_ROBIN);
	assert_int_equal(s->val.family, AF_INET);
	assert_int_equal(s->val.gen, 0); /* a new service's first generation */
	assert_int_equal(s->val.flags, 0);
	assert_int_equal(s->val.stale_slots, 0);
	assert_int_equal(s->val.stale_eps, 0);
	/* endpoints in config order, ids from 1 */
	assert_eps(s, 2, (const uint32_t[]){1, 2}, (const uint32_t[]){1, 2});
	assert_int_equal(p->n_bes, 2);
	assert_be(be(p, 1), true, AF_INET, "127.0.0.1", 18081);
	assert_be(be(p, 2), true, AF_INET, "127.0.0.1", 18082);
	/* weights 1:2 make a table of three slots */
	assert_int_equal(s->n_slots, 3);
	assert_int_equal(s->val.n_slots, 3);
	assert_int_equal(slots_of(s, 1), 1);
	assert_int_equal(slots_of(s, 2), 2);
	assert_false(s->maglev);
	/* one frontend: the service address and port */
	assert_int_equal(p->n_fes, 1);
	assert_int_equal(p->n_fes_wanted, 1);
	e = fe(p, AF_INET, "127.100.0.10", 80, IPPROTO_TCP);
	assert_int_equal(e->svc_id, 1);
	assert_int_equal(p->n_fes_del + p->n_svcs_del + p->n_bes_gone, 0);
}

static void test_policy_and_access_flags(void **state)
{
	struct fx *f = *state;
	char text[2048];
	const struct lbplan *p;

	snprintf(text, sizeof(text),
		 "%s---\n" HDR "kind: TrafficPolicy\n"
		 "metadata: {name: user}\n"
		 "spec: {service: user, outlierDetection: {consecutiveConnectFailures: 3}}\n"
		 "---\n" HDR "kind: Workload\n"
		 "metadata: {name: gw}\n"
		 "spec: {service: user, cgroup: /gw}\n"
		 "---\n" HDR "kind: AccessPolicy\n"
		 "metadata: {name: only-gw}\n"
		 "spec: {service: user, action: ALLOW, from: [gw]}\n",
		 user_svc);
	p = plan(f, text);
	assert_int_equal(svc(p, "default/user:80/TCP/v4")->val.flags,
			 LB_SVC_F_POLICY | LB_SVC_F_ACCESS);
}

static void test_dual_stack(void **state)
{
	struct fx *f = *state;
	const struct lbplan *p = plan(f, HDR "kind: Service\n"
					     "metadata: {name: api, namespace: shop}\n"
					     "spec:\n"
					     "  addresses: [\"127.100.0.20\", \"fd00::20\"]\n"
					     "  ports: [{name: http, port: 80, targetPort: 8080}]\n"
					     "  endpoints:\n"
					     "  - {address: \"127.0.0.1\"}\n"
					     "  - {address: \"::1\", weight: 3}\n"
					     "  - {address: \"127.0.0.2\"}\n"
					     "---\n" HDR "kind: Service\n"
					     "metadata: {name: v4only, namespace: shop}\n"
					     "spec:\n"
					     "  addresses: [\"127.100.0.21\"]\n"
					     "  ports: [{name: http, port: 80}]\n"
					     "  endpoints:\n"
					     "  - {address: \"127.0.0.3\"}\n"
					     "  - {address: \"fd00::3\"}\n");
	const struct lbplan_svc *v4, *v6, *only;

	/* one kernel service per family that has a service address */
	assert_int_equal(p->n_svcs, 3);
	v4 = svc(p, "shop/api:80/TCP/v4");
	v6 = svc(p, "shop/api:80/TCP/v6");
	only = svc(p, "shop/v4only:80/TCP/v4");
	assert_int_equal(v4->val.family, AF_INET);
	assert_int_equal(v6->val.family, AF_INET6);
	assert_int_equal(v4->val.policy, LB_POLICY_RANDOM); /* the default */
	/* each holds the endpoints of its family only; endpoint ids are taken
	 * before service ids, in config order */
	assert_eps(v4, 2, (const uint32_t[]){1, 2}, (const uint32_t[]){1, 1});
	assert_eps(v6, 1, (const uint32_t[]){3}, (const uint32_t[]){3});
	assert_eps(only, 1, (const uint32_t[]){4}, (const uint32_t[]){1});
	assert_be(be(p, 1), true, AF_INET, "127.0.0.1", 8080);
	assert_be(be(p, 2), true, AF_INET, "127.0.0.2", 8080);
	assert_be(be(p, 3), true, AF_INET6, "::1", 8080);
	assert_be(be(p, 4), true, AF_INET, "127.0.0.3", 80);
	/* a v6 endpoint of a service without a v6 address goes nowhere */
	assert_int_equal(p->n_bes, 4);
	assert_int_equal(v6->n_slots, 1); /* a lone weight of 3 is one slot (gcd) */
	assert_int_not_equal(v4->id, v6->id);
	assert_int_equal(fe(p, AF_INET, "127.100.0.20", 80, IPPROTO_TCP)->svc_id, v4->id);
	assert_int_equal(fe(p, AF_INET6, "fd00::20", 80, IPPROTO_TCP)->svc_id, v6->id);
	assert_int_equal(fe(p, AF_INET, "127.100.0.21", 80, IPPROTO_TCP)->svc_id, only->id);
	assert_int_equal(p->n_fes, 3);
}

static void test_ports_and_overrides(void **state)
{
	struct fx *f = *state;
	const struct lbplan *p =
	    plan(f, HDR "kind: Service\n"
			"metadata: {name: dns}\n"
			"spec:\n"
			"  addresses: [\"127.100.0.53\"]\n"
			"  ports:\n"
			"  - {name: dns, port: 53, targetPort: 5353, protocol: UDP}\n"
			"  - {name: dns-tcp, port: 53, targetPort: 5354, protocol: TCP}\n"
			"  - {name: metrics, port: 9090}\n"
			"  endpoints:\n"
			"  - {address: \"127.0.0.1\"}\n"
			"  - {address: \"127.0.0.2\", weight: 4}\n"
			"---\n" HDR "kind: Service\n"
			"metadata: {name: web}\n"
			"spec:\n"
			"  addresses: [\"127.100.0.80\"]\n"
			"  ports: [{name: http, port: 80, targetPort: 8080}]\n"
			"  endpoints:\n"
			"  - {address: \"127.0.0.1\", port: 18081}\n"
			"  - {address: \"127.0.0.1\"}\n"
			"  - {address: \"127.0.0.2\", port: 5353}\n");
	const struct lbplan_svc *udp, *tcp, *met, *web;

	assert_int_equal(p->n_svcs, 4);
	udp = svc(p, "default/dns:53/UDP/v4");
	tcp = svc(p, "default/dns:53/TCP/v4");
	met = svc(p, "default/dns:9090/TCP/v4");
	web = svc(p, "default/web:80/TCP/v4");
	assert_int_equal(udp->proto, IPPROTO_UDP);
	assert_int_equal(tcp->proto, IPPROTO_TCP);
	/* every port has the same endpoints at its own targetPort */
	assert_eps(udp, 2, (const uint32_t[]){1, 2}, (const uint32_t[]){1, 4});
	assert_eps(tcp, 2, (const uint32_t[]){3, 4}, (const uint32_t[]){1, 4});
	assert_eps(met, 2, (const uint32_t[]){5, 6}, (const uint32_t[]){1, 4});
	assert_be(be(p, 1), true, AF_INET, "127.0.0.1", 5353);
	assert_be(be(p, 4), true, AF_INET, "127.0.0.2", 5354);
	assert_be(be(p, 5), true, AF_INET, "127.0.0.1", 9090);
	/* an endpoint port replaces the targetPort; 127.0.0.2:5353 is dns's
	 * endpoint again: one id, written once */
	assert_eps(web, 3, (const uint32_t[]){7, 8, 2}, (const uint32_t[]){1, 1, 1});
	assert_be(be(p, 7), true, AF_INET, "127.0.0.1", 18081);
	assert_be(be(p, 8), true, AF_INET, "127.0.0.1", 8080);
	assert_int_equal(p->n_bes, 8);
	assert_int_equal(udp->n_slots, 5);
	assert_int_equal(slots_of(udp, 2), 4);
	/* UDP and TCP on port 53 are two frontends */
	assert_int_equal(fe(p, AF_INET, "127.100.0.53", 53, IPPROTO_UDP)->svc_id, udp->id);
	assert_int_equal(fe(p, AF_INET, "127.100.0.53", 53, IPPROTO_TCP)->svc_id, tcp->id);
	assert_int_equal(fe(p, AF_INET, "127.100.0.53", 9090, IPPROTO_TCP)->svc_id, met->id);
	assert_int_equal(p->n_fes, 4);
}

static const char two_svcs[] = HDR "kind: Service\n"
				   "metadata: {name: a}\n"
				   "spec:\n"
				   "  addresses: [\"127.100.0.1\"]\n"
				   "  ports: [{name: http, port: 80}]\n"
				   "  endpoints:\n"
				   "  - {address: \"127.0.0.1\", port: 18001}\n"
				   "  - {address: \"127.0.0.1\", port: 18002}\n"
				   "---\n" HDR "kind: Service\n"
				   "metadata: {name: b}\n"
				   "spec:\n"
				   "  addresses: [\"127.100.0.2\"]\n"
				   "  ports: [{name: http, port: 80}]\n"
				   "  endpoints:\n"
				   "  - {address: \"127.0.0.1\", port: 18009}\n";

static void test_change_keeps_adds_removes(void **state)
{
	struct fx *f = *state;
	const struct lbplan *p;
	const struct lbplan_svc *a;

	plan_and_commit(f, two_svcs);
	assert_int_equal(f->m.svcs[1].gen, 0);
	/* a: 18002 goes, 18003 comes, 18001 stays; b goes */
	p = plan(f, HDR "kind: Service\n"
			"metadata: {name: a}\n"
			"spec:\n"
			"  addresses: [\"127.100.0.1\"]\n"
			"  ports: [{name: http, port: 80}]\n"
			"  endpoints:\n"
			"  - {address: \"127.0.0.1\", port: 18001}\n"
			"  - {address: \"127.0.0.1\", port: 18003}\n");
	a = svc(p, "default/a:80/TCP/v4");
	assert_int_equal(a->id, 1);
	assert_false(a->is_new);
	assert_true(a->changed);
	/* kept: 18001's id; added: a new id after the last one taken */
	assert_eps(a, 2, (const uint32_t[]){1, 4}, (const uint32_t[]){1, 1});
	assert_int_equal(p->n_bes, 1);
	assert_be(be(p, 4), true, AF_INET, "127.0.0.1", 18003);
	/* the tables go to the inactive generation; the active one becomes stale */
	assert_int_equal(a->val.gen, 1);
	assert_int_equal(a->val.stale_slots, 2);
	assert_int_equal(a->val.stale_eps, 2);
	assert_int_equal(a->clear_slots, 0);
	assert_int_equal(a->clear_eps, 0);
	/* removed: b's service and frontend, the endpoints nobody names */
	assert_int_equal(p->n_svcs_del, 1);
	assert_int_equal(p->svcs_del[0], 2);
	assert_int_equal(p->n_fes, 0); /* a's frontend already points at it */
	assert_int_equal(p->n_fes_del, 1);
	assert_int_equal(p->fes_del[0].port, htons(80));
	assert_int_equal(p->n_bes_gone, 2);
	assert_int_equal(p->bes_gone[0], 2);
	assert_int_equal(p->bes_gone[1], 3);

	assert_int_equal(lbplan_commit(&f->m, p, NOW), 0);
	assert_true(f->m.bes[2].removed && f->m.bes[3].removed && f->m.gc_pending);
	assert_false(f->m.svcs[2].used);
	assert_mirror_be(&f->m, 4, "127.0.0.1:18003");

	/* the same configuration again: nothing to write */
	p = plan(f, HDR "kind: Service\n"
			"metadata: {name: a}\n"
			"spec:\n"
			"  addresses: [\"127.100.0.1\"]\n"
			"  ports: [{name: http, port: 80}]\n"
			"  endpoints:\n"
			"  - {address: \"127.0.0.1\", port: 18001}\n"
			"  - {address: \"127.0.0.1\", port: 18003}\n");
	a = svc(p, "default/a:80/TCP/v4");
	assert_false(a->changed);
	assert_int_equal(a->val.gen, 1);
	assert_int_equal(p->n_bes + p->n_fes + p->n_fes_del + p->n_svcs_del + p->n_bes_gone, 0);

	/* 18002 back before it was collected: its id, revived, not a new one;
	 * generation 0 is written again, clearing what it held beyond */
	p = plan(f, HDR "kind: Service\n"
			"metadata: {name: a}\n"
			"spec:\n"
			"  addresses: [\"127.100.0.1\"]\n"
			"  ports: [{name: http, port: 80}]\n"
			"  endpoints:\n"
			"  - {address: \"127.0.0.1\", port: 18002}\n");
	a = svc(p, "default/a:80/TCP/v4");
	assert_eps(a, 1, (const uint32_t[]){2}, (const uint32_t[]){1});
	assert_int_equal(p->n_bes, 1);
	assert_be(be(p, 2), false, AF_INET, "127.0.0.1", 18002);
	assert_int_equal(a->val.gen, 0);
	assert_int_equal(a->clear_slots, 2);
	assert_int_equal(a->clear_eps, 2);
	assert_int_equal(p->n_bes_gone, 2);
	assert_int_equal(p->bes_gone[0], 1);
	assert_int_equal(p->bes_gone[1], 4);
}

/* One service of two changes: only that one is planned anew. The other's
 * table is the mirror's, not a rebuilt one: a table the mirror holds in
 * another order (as no build would give) comes back as it is, unchanged. */
static void test_unchanged_not_replanned(void **state)
{
	static const char b_weighted[] =
	    HDR "kind: Service\n"
		"metadata: {name: a}\n"
		"spec:\n"
		"  addresses: [\"127.100.0.1\"]\n"
		"  ports: [{name: http, port: 80}]\n"
		"  endpoints:\n"
		"  - {address: \"127.0.0.1\", port: 18001}\n"
		"  - {address: \"127.0.0.1\", port: 18002}\n"
		"---\n" HDR "kind: Service\n"
		"metadata: {name: b}\n"
		"spec:\n"
		"  addresses: [\"127.100.0.2\"]\n"
		"  ports: [{name: http, port: 80}]\n"
		"  endpoints:\n"
		"  - {address: \"127.0.0.1\", port: 18009, weight: 2}\n"
		"  - {address: \"127.0.0.1\", port: 18001}\n";
	struct fx *f = *state;
	const struct lbplan *p;
	const struct lbplan_svc *a, *b;
	uint32_t *ms;

	plan_and_commit(f, two_svcs);
	ms = f->m.svcs[1].slots;
	assert_int_equal(f->m.svcs[1].n_slots, 2);
	assert_int_equal(ms[0], 1);
	ms[0] = 2;
	ms[1] = 1;

	/* b gains 18001 (a's, id 1) and a weight; a is as it was */
	p = plan(f, b_weighted);
	a = svc(p, "default/a:80/TCP/v4");
	assert_false(a->changed);
	assert_int_equal(a->val.gen, 0);
	assert_int_equal(a->n_slots, 2);
	assert_int_equal(a->slots[0], 2);
	assert_int_equal(a->slots[1], 1);
	b = svc(p, "default/b:80/TCP/v4");
	assert_true(b->changed);
	assert_int_equal(b->val.gen, 1); /* flipped */
	assert_int_equal(b->val.stale_slots, 1);
	assert_eps(b, 2, (const uint32_t[]){3, 1}, (const uint32_t[]){2, 1});
	assert_int_equal(b->n_slots, 3);
	assert_int_equal(slots_of(b, 3), 2);
	assert_int_equal(slots_of(b, 1), 1);
	assert_int_equal(p->n_bes + p->n_bes_gone + p->n_fes + p->n_fes_del, 0);
	assert_int_equal(lbplan_commit(&f->m, p, NOW), 0);

	/* the same again: nothing changes, b's generation stays */
	p = plan(f, b_weighted);
	assert_false(svc(p, "default/a:80/TCP/v4")->changed);
	b = svc(p, "default/b:80/TCP/v4");
	assert_false(b->changed);
	assert_int_equal(b->val.gen, 1);

	/* back to one endpoint per service: b flips back, clearing its
	 * generation 0 beyond the new table; 18001 stays a's, so no id goes */
	p = plan(f, two_svcs);
	assert_false(svc(p, "default/a:80/TCP/v4")->changed);
	b = svc(p, "default/b:80/TCP/v4");
	assert_true(b->changed);
	assert_int_equal(b->val.gen, 0);
	assert_int_equal(b->clear_slots, 1);
	assert_eps(b, 1, (const uint32_t[]){3}, (const uint32_t[]){1});
	assert_int_equal(p->n_bes_gone, 0);
}

/* An endpoint's id follows it, not its place: replaced by a new address it
 * goes (collected later) and the newcomer takes a fresh id; an id freed by
 * the collector is taken again only once the cursor comes round. */
static void test_changed_endpoint_ids(void **state)
{
	static const char a_moved[] = HDR "kind: Service\n"
					  "metadata: {name: a}\n"
					  "spec:\n"
					  "  addresses: [\"127.100.0.1\"]\n"
					  "  ports: [{name: http, port: 80}]\n"
					  "  endpoints:\n"
					  "  - {address: \"127.0.0.1\", port: 18001}\n"
					  "  - {address: \"127.0.0.2\", port: 18002}\n"
					  "---\n" HDR "kind: Service\n"
					  "metadata: {name: b}\n"
					  "spec:\n"
					  "  addresses: [\"127.100.0.2\"]\n"
					  "  ports: [{name: http, port: 80}]\n"
					  "  endpoints:\n"
					  "  - {address: \"127.0.0.1\", port: 18009}\n";
	struct fx *f = *state;
	const struct lbplan *p;
	const struct lbplan_svc *a;

	plan_and_commit(f, two_svcs);
	p = plan_and_commit(f, a_moved);
	a = svc(p, "default/a:80/TCP/v4");
	assert_true(a->changed);
	assert_eps(a, 2, (const uint32_t[]){1, 4}, (const uint32_t[]){1, 1});
	assert_be(be(p, 4), true, AF_INET, "127.0.0.2", 18002);
	assert_false(svc(p, "default/b:80/TCP/v4")->changed);
	assert_int_equal(p->n_bes_gone, 1);
	assert_int_equal(p->bes_gone[0], 2);
	/* collected: 127.0.0.1:18002 has no id any more */
	lbmirror_forget_backend(&f->m, 2);
	assert_false(lbmirror_backend_id(&f->m, AF_INET, f->m.bes[1].addr, 18002, NULL));
	assert_true(lbmirror_backend_id(&f->m, AF_INET, f->m.bes[1].addr, 18001, NULL));
	/* it comes back: a new id after the cursor, not the freed 2 */
	p = plan(f, two_svcs);
	a = svc(p, "default/a:80/TCP/v4");
	assert_eps(a, 2, (const uint32_t[]){1, 5}, (const uint32_t[]){1, 1});
	assert_be(be(p, 5), true, AF_INET, "127.0.0.1", 18002);
	assert_int_equal(p->n_bes_gone, 1);
	assert_int_equal(p->bes_gone[0], 4);
}

/* Pinned maps that held one endpoint under two ids: the last one adopted is
 * registered, and collecting the other leaves that registration alone. */
static void test_adopted_twice(void **state)
{
	struct fx *f = *state;
	struct lb_backend kb = {.family = AF_INET, .port = htons(18001)};
	uint32_t id = 0;

	assert_int_equal(inet_pton(AF_INET, "127.0.0.1", kb.addr), 1);
	lbmirror_adopt_backend(&f->m, 1, &kb, NOW);
	lbmirror_adopt_backend(&f->m, 2, &kb, NOW);
	assert_true(lbmirror_backend_id(&f->m, AF_INET, kb.addr, 18001, &id));
	assert_int_equal(id, 2);
	lbmirror_forget_backend(&f->m, 1);
	assert_true(lbmirror_backend_id(&f->m, AF_INET, kb.addr, 18001, &id));
	assert_int_equal(id, 2);
	assert_int_equal(f->m.be_ids.len, 1);
	lbmirror_forget_backend(&f->m, 2);
	assert_false(lbmirror_backend_id(&f->m, AF_INET, kb.addr, 18001, NULL));
	assert_int_equal(f->m.be_ids.len, 0);
}

static void test_ids_reused_late(void **state)
{
	struct fx *f = *state;
	const struct lbplan *p;

	plan_and_commit(f, two_svcs);
	/* b's service goes and comes back: the id cursor moved on */
	plan_and_commit(f, HDR "kind: Service\n"
			       "metadata: {name: a}\n"
			       "spec:\n"
			       "  addresses: [\"127.100.0.1\"]\n"
			       "  ports: [{name: http, port: 80}]\n"
			       "  endpoints: [{address: \"127.0.0.1\", port: 18001}]\n");
	p = plan(f, two_svcs);
	assert_int_equal(svc(p, "default/b:80/TCP/v4")->id, 3);
	assert_true(svc(p, "default/b:80/TCP/v4")->is_new);
	assert_int_equal(fe(p, AF_INET, "127.100.0.2", 80, IPPROTO_TCP)->svc_id, 3);
}

static void test_capacity_refused(void **state)
{
	struct fx *f = *state;
	struct lbm_limits lim = small;

	/* the limit is max_entries - 1: id 0 is never used */
	lbmirror_free(&f->m);
	lim.max_be = 3;
	assert_int_equal(lbmirror_init(&f->m, &lim), 0);
	load(f, HDR "kind: Service\n"
		    "metadata: {name: a}\n"
		    "spec:\n"
		    "  addresses: [\"127.100.0.1\"]\n"
		    "  ports: [{name: http, port: 80}]\n"
		    "  endpoints:\n"
		    "  - {address: \"127.0.0.1\"}\n"
		    "  - {address: \"127.0.0.2\"}\n"
		    "  - {address: \"127.0.0.3\"}\n");
	expect_refused(f, "map lb_backends is full: 3 endpoints needed, the limit is 2; "
			  "raise it with --max-endpoints");

	/* endpoints waiting for collection still hold their ids */
	plan_and_commit(f,
			HDR "kind: Service\n"
			    "metadata: {name: a}\n"
			    "spec:\n"
			    "  addresses: [\"127.100.0.1\"]\n"
			    "  ports: [{name: http, port: 80}]\n"
			    "  endpoints: [{address: \"127.0.0.1\"}, {address: \"127.0.0.2\"}]\n");
	load(f, HDR "kind: Service\n"
		    "metadata: {name: a}\n"
		    "spec:\n"
		    "  addresses: [\"127.100.0.1\"]\n"
		    "  ports: [{name: http, port: 80}]\n"
		    "  endpoints: [{address: \"127.0.0.3\"}]\n");
	expect_refused(f, "map lb_backends is full: 3 endpoints needed, the limit is 2; "
			  "raise it with --max-endpoints");

	lbmirror_free(&f->m);
	lim = small;
	lim.max_svc = 2;
	assert_int_equal(lbmirror_init(&f->m, &lim), 0);
	load(f, two_svcs);
	expect_refused(f, "map lb_services is full: 2 service ports needed, the limit is 1; "
			  "raise it with --max-services");
	/* nothing was taken */
	assert_int_equal(f->m.svc_ids.len + f->m.be_ids.len, 0);

	lbmirror_free(&f->m);
	lim = small;
	lim.max_fe = 1;
	assert_int_equal(lbmirror_init(&f->m, &lim), 0);
	expect_refused(f, "map lb_frontends is full: 2 service addresses x ports needed, "
			  "the limit is 1; raise it with --max-services");

	/* slots: 2 x (table + list) per service, both generations */
	lbmirror_free(&f->m);
	lim = small;
	lim.max_slots = 11;
	assert_int_equal(lbmirror_init(&f->m, &lim), 0);
	expect_refused(f, "map lb_slots is full: 12 slots needed, the limit is 11; raise it "
			  "with --max-endpoints");
}

static const char maglev_svc[] = HDR "kind: Service\n"
				     "metadata: {name: cache}\n"
				     "spec:\n"
				     "  addresses: [\"127.100.0.7\"]\n"
				     "  ports: [{name: redis, port: 6379}]\n"
				     "  loadBalancer: {policy: maglev}\n"
				     "  endpoints:\n"
				     "  - {address: \"127.0.0.1\"}\n"
				     "  - {address: \"127.0.0.2\", weight: 3}\n";

static void test_maglev_or_weighted(void **state)
{
	struct fx *f = *state;
	uint32_t *table = calloc(LB_MAGLEV_M, sizeof(*table));
	const struct lbplan_svc *s;
	const struct lbplan *p;
	uint32_t n1 = 0, n2 = 0;

	assert_non_null(table);
	p = plan_and_commit(f, maglev_svc);
	s = svc(p, "default/cache:6379/TCP/v4");
	assert_int_equal(s->val.policy, LB_POLICY_MAGLEV);
	assert_true(s->maglev);
	assert_false(s->maglev_drop);
	/* the table holds ep ids, about in proportion to the weights (1:3) */
	assert_int_equal(lbplan_maglev_table(s, table), 0);
	for (uint32_t i = 0; i < LB_MAGLEV_M; i++) {
		n1 += table[i] == 1;
		n2 += table[i] == 2;
	}
	assert_int_equal(n1 + n2, LB_MAGLEV_M);
	assert_true(n1 > LB_MAGLEV_M / 5 && n1 < LB_MAGLEV_M * 3 / 10);
	assert_true(f->m.svcs[s->id].maglev);

	/* the same service under roundRobin: a weighted table, the maglev entry goes */
	p = plan(f, HDR "kind: Service\n"
			"metadata: {name: cache}\n"
			"spec:\n"
			"  addresses: [\"127.100.0.7\"]\n"
			"  ports: [{name: redis, port: 6379}]\n"
			"  loadBalancer: {policy: roundRobin}\n"
			"  endpoints:\n"
			"  - {address: \"127.0.0.1\"}\n"
			"  - {address: \"127.0.0.2\", weight: 3}\n");
	s = svc(p, "default/cache:6379/TCP/v4");
	assert_true(s->changed); /* the policy alone changed */
	assert_int_equal(s->val.policy, LB_POLICY_ROUND_ROBIN);
	assert_false(s->maglev);
	assert_true(s->maglev_drop);
	assert_int_equal(s->n_slots, 4);
	assert_int_equal(slots_of(s, 2), 3);

	/* leastConnections reads the endpoint list: no maglev table either */
	lbplan_free(&f->p);
	p = plan(f, HDR "kind: Service\n"
			"metadata: {name: cache}\n"
			"spec:\n"
			"  addresses: [\"127.100.0.7\"]\n"
			"  ports: [{name: redis, port: 6379}]\n"
			"  loadBalancer: {policy: leastConnections}\n"
			"  endpoints: [{address: \"127.0.0.1\"}]\n");
	s = svc(p, "default/cache:6379/TCP/v4");
	assert_int_equal(s->val.policy, LB_POLICY_LEAST_CONN);
	assert_false(s->maglev);
	assert_true(s->maglev_drop);

	/* maglev without endpoints has no table to write */
	p = plan(f, HDR "kind: Service\n"
			"metadata: {name: cache}\n"
			"spec:\n"
			"  addresses: [\"127.100.0.7\"]\n"
			"  ports: [{name: redis, port: 6379}]\n"
			"  loadBalancer: {policy: maglev}\n");
	s = svc(p, "default/cache:6379/TCP/v4");
	assert_int_equal(s->n_eps, 0);
	assert_false(s->maglev);
	assert_true(s->maglev_drop);

	/* lb_maglev2 holds max_maglev services */
	lbplan_free(&f->p);
	lbmirror_free(&f->m);
	struct lbm_limits lim = small;

	lim.max_maglev = 0;
	assert_int_equal(lbmirror_init(&f->m, &lim), 0);
	load(f, maglev_svc);
	expect_refused(f, "map lb_maglev2 is full: 1 maglev services, the limit is 0");
	free(table);
}

static void test_enum_mapping(void **state)
{
	(void)state;
	assert_int_equal(lb_policy_of(CFG_LB_RANDOM), LB_POLICY_RANDOM);
	assert_int_equal(lb_policy_of(CFG_LB_ROUND_ROBIN), LB_POLICY_ROUND_ROBIN);
	assert_int_equal(lb_policy_of(CFG_LB_LEAST_CONN), LB_POLICY_LEAST_CONN);
	assert_int_equal(lb_policy_of(CFG_LB_MAGLEV), LB_POLICY_MAGLEV);
	assert_int_equal(lb_policy_of((enum cfg_lb_policy)99), -EINVAL);
	assert_int_equal(lb_access_action_of(CFG_ALLOW), LB_ACCESS_ALLOW);
	assert_int_equal(lb_access_action_of(CFG_DENY), LB_ACCESS_DENY);
	assert_int_equal(lb_access_action_of((enum cfg_action)7), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_small_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_policy_and_access_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dual_stack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ports_and_overrides, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_change_keeps_adds_removes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ids_reused_late, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unchanged_not_replanned, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changed_endpoint_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_adopted_twice, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_capacity_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maglev_or_weighted, setup, teardown),
	    cmocka_unit_test(test_enum_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
