/* SPDX-License-Identifier: Apache-2.0 */
/* spanbuild_attrs.c: a span's HTTP attributes and name from its request, as
 * the stable OpenTelemetry HTTP semantic conventions say them: the method
 * (unknown ones as "_OTHER"), url.* (the query redacted as configured),
 * server.* as the application addressed the server (its Host header),
 * network.*, user_agent.original; and the error.type of a failed one.
 * Calls no other builder file (it sits beside spanbuild_tables.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/spanbuild_int.h"

/* OpenTelemetry: methods outside this set are reported as "_OTHER" (the one
 * sent in http.request.method_original), and the span is named "HTTP"
 * instead, so a scanner's random verbs cannot multiply span names. */
bool sb_method_known(const char *m)
{
	static const char *const known[] = {"GET",     "POST",	"PUT",	   "DELETE", "HEAD",
					    "OPTIONS", "PATCH", "CONNECT", "TRACE",  "QUERY"};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(m, known[i]))
			return true;
	return false;
}

_Static_assert(SB_ADDR_TXT == INET6_ADDRSTRLEN && SB_ADDR_TXT <= SPAN_NAME_MAX,
	       "a socket's address text fits a span's");

void sb_ipv4_text(const uint8_t *a, char *txt)
{
	size_t o = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (i)
			txt[o++] = '.';
		if (v >= 100)
			txt[o++] = (char)('0' + v / 100);
		if (v >= 10)
			txt[o++] = (char)('0' + v / 10 % 10);
		txt[o++] = (char)('0' + v % 10);
	}
	txt[o] = '\0';
}

/* An address of a socket (one of its own, never changing) as a span
 * endpoint; its text is made once per socket, in txt. IPv4 by hand:
 * inet_ntop goes through sprintf, and in close mode every request has new
 * sockets (vfprintf was 2% of the agent there). */
static void endpoint(const struct obs_addr *a, char *txt, struct span_endpoint *e)
{
	if (!txt[0] && a->family == AF_INET)
		sb_ipv4_text(a->addr, txt);
	else if (!txt[0] && !inet_ntop(a->family, a->addr, txt, SB_ADDR_TXT))
		txt[0] = '\0';
	memcpy(e->address, txt, strlen(txt) + 1);
	e->port = a->port;
}

/* "METHOD route", or the method alone when there is no route; a route
 * that does not fit is cut, the name is only a label. */
static void span_name(char *dst, size_t size, const char *verb, const char *route)
{
	size_t o = 0;

	for (; *verb && o + 1 < size; verb++)
		dst[o++] = *verb;
	if (*route && o + 1 < size)
		dst[o++] = ' ';
	for (; *route && o + 1 < size; route++)
		dst[o++] = *route;
	dst[o] = '\0';
}

/* server.address/port from a Host value: "name", "name:port", "[v6]" or
 * "[v6]:port"; an absent port is the scheme's (http: 80). false when the
 * value is not one of those. */
bool sb_host_endpoint(const char *host, struct span_endpoint *e)
{
	const char *colon, *end;
	size_t len;
	long port = 80;

	if (!host[0])
		return false;
	if (host[0] == '[') {
		end = strchr(host, ']');
		if (!end)
			return false;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (!colon && end[1])
			return false;
		host++;
	} else {
		colon = strchr(host, ':');
		end = colon ? colon : host + strlen(host);
	}
	if (colon) {
		char *stop;

		port = strtol(colon + 1, &stop, 10);
		if (!colon[1] || *stop || port < 1 || port > 65535)
			return false;
	}
	len = (size_t)(end - host);
	if (!len || len >= sizeof(e->address))
		return false;
	memcpy(e->address, host, len);
	e->address[len] = '\0';
	e->port = (uint16_t)port;
	return true;
}

/* Keys whose values the semantic conventions redact by default: signed
 * URLs' credentials. */
static bool sensitive_key(const char *k, size_t len)
{
	static const char *const keys[] = {"AWSAccessKeyId", "Signature", "sig",
					   "X-Goog-Signature"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i]) == len && !memcmp(k, keys[i], len))
			return true;
	return false;
}

/* The query with the values of sensitive keys (all of them when all) made
 * "REDACTED", keys kept; cut to fit dst. */
void sb_redact_query(char *dst, size_t size, const char *q, bool all)
{
	size_t o = 0;

	if (!size)
		return;
	while (*q) {
		const char *amp = strchr(q, '&'), *eq;
		size_t plen = amp ? (size_t)(amp - q) : strlen(q), keep = plen;
		const char *val = NULL;

		eq = memchr(q, '=', plen);
		if (eq && (all || sensitive_key(q, (size_t)(eq - q)))) {
			keep = (size_t)(eq - q) + 1;
			val = "REDACTED";
		}
		o += (size_t)snprintf(dst + o, size - o, "%.*s%s%s", (int)keep, q, val ? val : "",
				      amp ? "&" : "");
		if (o >= size) {
			dst[size - 1] = '\0';
			return;
		}
		q += plen + (amp ? 1 : 0);
	}
	dst[o] = '\0';
}

/* url.full's authority without a Host: the server's address and port; one
 * that does not fit is left out (url.full is then not sent). */
static void authority_of(char *dst, size_t size, const struct span_endpoint *e, bool v6)
{
	int n = snprintf(dst, size, v6 ? "[%s]:%u" : "%s:%u", e->address, e->port);

	if (n < 0 || (size_t)n >= size)
		dst[0] = '\0';
}

/* The service address a CLIENT socket connected to: as capture reported it
 * with the socket's first request, else asked once. */
static const struct obs_addr *service_of(struct spanbuild *sb, struct sb_sock *s,
					 const struct obs *o)
{
	if (!s->svc_addr_asked && o->lb_known) {
		s->svc_addr_asked = true;
		if (o->svc.family)
			obs_addr_fold(&o->svc, &s->svc_addr);
	} else if (!s->svc_addr_asked && sb->cfg.service_addr) {
		struct obs_addr a;

		s->svc_addr_asked = true;
		if (!sb->cfg.service_addr(o->cookie, &a, sb->cfg.service_addr_ctx))
			obs_addr_fold(&a, &s->svc_addr);
	}
	return s->svc_addr.family ? &s->svc_addr : NULL;
}

void sb_http_attrs(struct spanbuild *sb, struct sb_sock *s, struct sb_pend *p, const struct obs *o)
{
	const struct obs_addr *svc;
	struct span *sp = p->sp;
	bool known = sb_method_known(o->method);

	sb_copy_str(sp->method, sizeof(sp->method), known ? o->method : "_OTHER");
	if (!known)
		sb_copy_str(sp->method_original, sizeof(sp->method_original), o->method);
	/* OpenTelemetry: http.route is what a server matched, so only a SERVER
	 * span is named after it; a CLIENT span is named "{method}", and keeps
	 * the route only for the latency histograms (not exported). */
	if (!sp->rpc_grpc) /* named package.Service/Method already */
		span_name(sp->name, sizeof(sp->name), known ? o->method : "HTTP",
			  sp->kind == SPAN_KIND_SERVER ? sp->route : "");
	sp->http_version = o->version;
	sb_copy_str(sp->user_agent, sizeof(sp->user_agent), o->user_agent);
	sb_redact_query(sp->query, sizeof(sp->query), o->query, sb->cfg.redact_query);
	/* server.* is the server as the application addressed it: on a CLIENT
	 * span the service address it connected to (the load balancer's
	 * original destination), else the Host header (the URL's authority),
	 * else the socket's serving end. network.peer.* is the other end of
	 * the socket (CLIENT: the endpoint the load balancer chose); client.*
	 * only on SERVER spans. */
	endpoint(&s->remote, s->remote_txt, &sp->peer);
	svc = sp->kind == SPAN_KIND_CLIENT ? service_of(sb, s, o) : NULL;
	if (svc)
		endpoint(svc, s->svc_txt, &sp->server);
	else if (!sb_host_endpoint(o->host, &sp->server)) {
		if (sp->kind == SPAN_KIND_CLIENT)
			endpoint(&s->remote, s->remote_txt, &sp->server);
		else
			endpoint(&s->local, s->local_txt, &sp->server);
	}
	if (sp->kind == SPAN_KIND_CLIENT) {
		if (o->host[0])
			sb_copy_str(sp->authority, sizeof(sp->authority), o->host);
		else
			authority_of(sp->authority, sizeof(sp->authority), &sp->server,
				     (svc ? svc : &s->remote)->family == AF_INET6);
	} else {
		endpoint(&s->remote, s->remote_txt, &sp->client);
	}
	sp->pid = o->tgid;
	sb_copy_str(sp->exe_name, sizeof(sp->exe_name), o->comm);
}

/* error.type of a connection error: low-cardinality names in the style of
 * the conventions' examples ("timeout"), one per errno the kernel reports. */
const char *sb_conn_error_type(int err)
{
	switch (err) {
	case 0:
		return "response_incomplete"; /* closed inside the response */
	case ECONNRESET:
		return "connection_reset";
	case ETIMEDOUT:
		return "timeout";
	case ECONNABORTED:
		return "connection_aborted";
	case ECONNREFUSED:
		return "connection_refused";
	case EPIPE:
		return "connection_broken";
	case EHOSTUNREACH:
		return "host_unreachable";
	case ENETUNREACH:
		return "network_unreachable";
	default:
		return "_OTHER";
	}
}
