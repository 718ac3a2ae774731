/* SPDX-License-Identifier: Apache-2.0 */
/* api.c: HTTP routing for the agent API, and the server's settings. Handlers
 * run on libmicrohttpd's thread and take the agent lock only while they
 * format a response. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "daemon/agent.h"
#include "api/api.h"
#include "api/api_args.h"
#include "api/api_auth.h"
#include "api/api_latency.h"
#include "api/api_services.h"
#include "api/api_sketch.h"
#include "api/api_status.h"
#include "exporters/prometheus.h"
#include "lib/clock.h"
#include "lib/jsonw.h"
#include "lib/log.h"
#include "lib/lograte.h"
#include "daemon/metrics_export.h"

#if MHD_VERSION < 0x00097002
typedef int mhd_result;
#else
typedef enum MHD_Result mhd_result;
#endif

struct api {
	struct MHD_Daemon *d;
	struct agent *a;
	const struct api_auth *auth;
	bool metrics_only; /* Telemetry.prometheus.listen: /metrics and /healthz */
	struct sockaddr_storage listen;
	const char *name;  /* in the log: "API" or "metrics listener" */
	struct lograte lr; /* libmicrohttpd's complaints, per kind */
};

int api_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *len)
{
	char host[256];
	const char *colon;
	char *end;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			return -EINVAL;
		snprintf(host, sizeof(host), "%.*s", (int)(rb - s - 1), s + 1);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
	}
	port = strtoul(colon + 1, &end, 10);
	if (*end || colon[1] == 0 || port > 65535)
		return -EINVAL;
	if (!host[0])
		snprintf(host, sizeof(host), "0.0.0.0");
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

static mhd_result reply(struct MHD_Connection *c, unsigned status, const char *body,
			const char *ctype)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	mhd_result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", ctype);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static mhd_result reply_json(struct MHD_Connection *c, unsigned status, struct jsonw *w)
{
	mhd_result ret;

	if (w->failed)
		return reply(c, 500, "{\"error\":\"out of memory\"}", "application/json");
	jw_raw(w, "\n");
	ret = reply(c, status, w->buf ? w->buf : "{}", "application/json");
	jw_free(w);
	return ret;
}

static mhd_result reply_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	struct jsonw w = {};

	jw_obj_open(&w);
	jw_kstr(&w, "error", msg);
	jw_obj_close(&w);
	return reply_json(c, status, &w);
}

/* GET /metrics: the Prometheus text exposition. */
static mhd_result reply_metrics(struct MHD_Connection *c, struct agent *a)
{
	struct MHD_Response *r;
	char *text = NULL;
	size_t len = 0;
	mhd_result ret;
	int err;

	err = metrics_prom_text(a, &text, &len); /* takes the lock itself */
	if (err)
		return reply_error(c, 500, "out of memory writing the metrics");
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", PROM_CONTENT_TYPE);
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static mhd_result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			 const char *version, const char *upload, size_t *upload_len, void **ctx)
{
	struct api *api = cls;
	struct agent *a = api->a;
	const char *win, *why;
	/* first, so a client that may not ask learns nothing, not even which
	 * paths exist */
	unsigned denied = api_access_check(api->auth, &api->listen, c, url, version, &why);
	struct jsonw w = {};
	unsigned status = 200;
	uint32_t window_s = API_WINDOW_DEFAULT_S;

	(void)upload;
	(void)upload_len;
	(void)ctx;
	if (denied)
		return (mhd_result)api_access_reply(c, denied, why);
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return (mhd_result)api_reply_error_hdr(c, 405, "method not allowed", "Allow",
						       "GET, HEAD");

	if (!strcmp(url, "/healthz"))
		return reply(c, 200, "{\"status\":\"ok\"}\n", "application/json");

	if (!strcmp(url, "/metrics"))
		return reply_metrics(c, a);
	if (api->metrics_only)
		return reply_error(c, 404, "not found (this listener serves /metrics)");
	win = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "window");
	if (win && api_arg_window(win, &window_s, &why))
		return reply_error(c, 400, why);

	pthread_mutex_lock(&a->lock);
	if (!strcmp(url, "/readyz")) {
		bool ready = a->attached && a->applied;

		jw_obj_open(&w);
		jw_kbool(&w, "ready", ready);
		jw_kbool(&w, "attached", a->attached);
		jw_kbool(&w, "configApplied", a->applied);
		/* ready means the data path works; whether it runs what is on
		 * disk is said apart, so a probe does not restart a healthy
		 * agent over a bad config */
		jw_kbool(&w, "configCurrent", a->applied && !a->last_error[0]);
		if (a->last_error[0])
			jw_kstr(&w, "configError", a->last_error);
		if (!ready && a->attached && !a->last_error[0] && a->kube_waiting[0]) {
			char why[sizeof(a->kube_waiting) + 64];

			snprintf(why, sizeof(why), "waiting for the first list of Kubernetes %s",
				 a->kube_waiting);
			jw_kstr(&w, "reason", why);
		} else if (!ready)
			jw_kstr(&w, "reason",
				!a->attached	   ? "programs not attached"
				: a->last_error[0] ? a->last_error
						   : "no configuration applied yet");
		jw_obj_close(&w);
		status = ready ? 200 : 503;
	} else if (!strcmp(url, "/api/v1/services")) {
		api_write_services(a, &w, NULL, NULL, window_s);
	} else if (!strncmp(url, "/api/v1/services/", 17)) {
		struct api_svc_path p;
		int err;

		if (api_arg_service_path(url + 17, &p, &why)) {
			pthread_mutex_unlock(&a->lock);
			return reply_error(c, 400, why);
		}
		/* "A/latency": the service latency of namespace A if there is
		 * one, else the latency of A */
		if (p.alt && config_find_service(a->cfg, p.ns, p.name) < 0) {
			snprintf(p.ns, sizeof(p.ns), "default");
			snprintf(p.name, sizeof(p.name), "%s", p.alt_name);
			p.latency = true;
		}
		err = p.latency ? api_write_latency(a, &w, p.ns, p.name, window_s)
				: api_write_services(a, &w, p.ns, p.name, window_s);
		if (err) {
			pthread_mutex_unlock(&a->lock);
			jw_free(&w);
			return reply_error(c, 404, "unknown service");
		}
	} else if (!strcmp(url, "/api/v1/sketches")) {
		api_write_sketches(a, &w, window_s);
	} else if (!strcmp(url, "/api/v1/config")) {
		api_write_config(a, &w);
	} else if (!strcmp(url, "/api/v1/status")) {
		api_write_status(a, &w);
	} else if (!strcmp(url, "/api/v1/traces")) {
		const char *svc = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "service");
		const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
		long limit = 100;

		if (lim && api_arg_long(lim, 1, 1000, &limit)) {
			pthread_mutex_unlock(&a->lock);
			return reply_error(c, 400, "limit must be a number from 1 to 1000");
		}
		if (svc && api_arg_text(svc, CFG_NAME_MAX - 1)) {
			pthread_mutex_unlock(&a->lock);
			return reply_error(c, 400, "malformed service parameter");
		}
		jw_obj_open(&w);
		jw_key(&w, "spans");
		spanstore_write_json(&a->exp.store, &w, svc, (int)limit);
		jw_obj_close(&w);
	} else {
		pthread_mutex_unlock(&a->lock);
		return reply_error(c, 404, "not found");
	}
	pthread_mutex_unlock(&a->lock);
	return reply_json(c, status, &w);
}

/* libmicrohttpd's error log: a client can make it complain once per
 * connection (over the limits, reset, timed out), so each kind of message
 * reaches the agent's log at most once per API_LOG_INTERVAL_S, and
 * api_tick() says how many were left out. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct api *api = cls;
	char msg[LOGRATE_TEXT];
	uint64_t left_out;
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (n = strlen(msg); n && (msg[n - 1] == '\n' || msg[n - 1] == ' ' || msg[n - 1] == '.');)
		msg[--n] = 0;
	if (!lograte_allow(&api->lr, fmt, msg, mono_ns(), &left_out))
		return;
	if (left_out)
		log_warn("%s: %s (%" PRIu64 " more like it were left out before this one)",
			 api->name, msg, left_out);
	else
		log_warn("%s: %s", api->name, msg);
}

static void report_left_out(const char *text, uint64_t count, void *ctx)
{
	struct api *api = ctx;

	log_warn("%s: %" PRIu64 " more \"%s\" suppressed in the last %us", api->name, count, text,
		 API_LOG_INTERVAL_S);
}

void api_tick(struct api *api)
{
	if (api)
		lograte_flush(&api->lr, mono_ns(), report_left_out, api);
}

static struct api *start(struct agent *a, const struct api_auth *auth, const char *listen,
			 bool metrics_only)
{
	struct api *api;
	unsigned len;
	/* epoll: no FD_SETSIZE ceiling (select() failed every connection
	 * past descriptor 1023); poll() where epoll is missing */
	unsigned flags = (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES
			      ? MHD_USE_EPOLL_INTERNAL_THREAD
			      : MHD_USE_POLL_INTERNAL_THREAD) |
			 MHD_USE_ERROR_LOG;

	api = calloc(1, sizeof(*api));
	if (!api)
		return NULL;
	if (api_parse_listen(listen, &api->listen, &len)) {
		log_error("--listen %s: expected HOST:PORT or [V6]:PORT", listen);
		free(api);
		return NULL;
	}
	api->a = a;
	api->auth = auth;
	api->metrics_only = metrics_only;
	api->name = metrics_only ? "metrics listener" : "API";
	lograte_init(&api->lr, API_LOG_INTERVAL_S * 1000000000ULL);
	if (api->listen.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_OptionItem opts[] = {
	    {MHD_OPTION_SOCK_ADDR, 0, &api->listen},
	    {MHD_OPTION_CONNECTION_LIMIT, API_MAX_CONNECTIONS, NULL},
	    {MHD_OPTION_PER_IP_CONNECTION_LIMIT, API_MAX_CONNECTIONS_PER_IP, NULL},
	    {MHD_OPTION_CONNECTION_TIMEOUT, API_IDLE_TIMEOUT_S, NULL},
	    {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)api_unescape, NULL},
	    {MHD_OPTION_END, 0, NULL},
	};

	/* the logger first, so that complaints about the options reach it */
	api->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, api, MHD_OPTION_EXTERNAL_LOGGER,
				  mhd_log, api, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!api->d) {
		log_error("%s: cannot listen on %s: %s", api->name, listen, strerror(errno));
		lograte_destroy(&api->lr);
		free(api);
		return NULL;
	}
	return api;
}

struct api *api_start(struct agent *a, const struct api_auth *auth, const char *listen)
{
	return start(a, auth, listen, false);
}

struct api *api_start_metrics(struct agent *a, const struct api_auth *auth, const char *listen)
{
	return start(a, auth, listen, true);
}

void api_stop(struct api *api)
{
	if (!api)
		return;
	MHD_stop_daemon(api->d);
	api_tick(api);
	lograte_destroy(&api->lr);
	free(api);
}
