/* SPDX-License-Identifier: Apache-2.0 */
/* api_host.c: Host header values against the listen address and the
 * allow-list (api_host.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/api_host.h"

#define HOST_MAX 256

/* "name", "name:port", "1.2.3.4:port", "[v6]:port" -> lowercase host without
 * the port and without one trailing dot ("localhost." is "localhost");
 * IPv6 keeps its brackets. false when it is not host[:port] at all. */
static bool split_host(const char *in, char *out, size_t len)
{
	const char *end, *colon;
	size_t n;

	while (*in == ' ' || *in == '\t')
		in++;
	end = in + strlen(in);
	while (end > in && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (*in == '[') {
		const char *rb = memchr(in, ']', end - in);

		if (!rb)
			return false;
		colon = rb + 1 < end ? rb + 1 : NULL;
		if (colon && *colon != ':')
			return false;
		n = rb + 1 - in;
	} else {
		colon = memchr(in, ':', end - in);
		n = colon ? (size_t)(colon - in) : (size_t)(end - in);
	}
	if (colon) {
		/* one port, digits only */
		if (colon + 1 == end || end - colon > 6)
			return false;
		for (const char *p = colon + 1; p < end; p++)
			if (!isdigit((unsigned char)*p))
				return false;
	}
	if (n && in[n - 1] == '.')
		n--;
	if (!n || n >= len)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[n] = 0;
	return true;
}

/* The characters of a host name or address: RFC 1123 names (with '_',
 * which some DNS names carry), dotted IPv4, bracketed IPv6. */
static bool host_chars(const char *h)
{
	if (*h == '[') {
		struct in6_addr a;
		char in[INET6_ADDRSTRLEN + 1];
		size_t n = strlen(h);

		if (n < 3 || h[n - 1] != ']' || n - 2 >= sizeof(in))
			return false;
		snprintf(in, sizeof(in), "%.*s", (int)(n - 2), h + 1);
		return inet_pton(AF_INET6, in, &a) == 1;
	}
	for (; *h; h++)
		if (!isalnum((unsigned char)*h) && *h != '-' && *h != '.' && *h != '_')
			return false;
	return true;
}

int api_hosts_parse(struct api_hosts *h, const char *list, char *err, size_t err_len)
{
	const char *p = list, *comma;
	char host[HOST_MAX], entry[HOST_MAX];

	memset(h, 0, sizeof(*h));
	if (!list || !*list) {
		snprintf(err, err_len, "an empty list (use '*' to allow any Host)");
		return -1;
	}
	for (;;) {
		size_t n;

		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (n >= sizeof(entry)) {
			snprintf(err, err_len, "'%.40s...': too long", p);
			goto bad;
		}
		snprintf(entry, sizeof(entry), "%.*s", (int)n, p);
		if (!strcmp(entry, "*")) {
			h->any = true;
		} else if (!split_host(entry, host, sizeof(host)) || !host_chars(host)) {
			snprintf(err, err_len, "'%s': expected a host name or address", entry);
			goto bad;
		} else {
			char **nn = realloc(h->names, (h->n + 1) * sizeof(*nn));

			if (!nn || !(nn[h->n] = strdup(host))) {
				if (nn)
					h->names = nn;
				snprintf(err, err_len, "out of memory");
				goto bad;
			}
			h->names = nn;
			h->n++;
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
bad:
	api_hosts_free(h);
	return -1;
}

void api_hosts_free(struct api_hosts *h)
{
	for (int i = 0; i < h->n; i++)
		free(h->names[i]);
	free(h->names);
	memset(h, 0, sizeof(*h));
}

/* An address literal as the Host header writes it: 1.2.3.4 or [v6]. */
static int parse_ip(const char *host, struct in6_addr *a6, struct in_addr *a4)
{
	char in[INET6_ADDRSTRLEN + 1];
	size_t n = strlen(host);

	if (inet_pton(AF_INET, host, a4) == 1)
		return AF_INET;
	if (n < 3 || host[0] != '[' || host[n - 1] != ']' || n - 2 >= sizeof(in))
		return 0;
	snprintf(in, sizeof(in), "%.*s", (int)(n - 2), host + 1);
	return inet_pton(AF_INET6, in, a6) == 1 ? AF_INET6 : 0;
}

bool api_host_allowed(const struct api_hosts *h, const struct sockaddr_storage *listen,
		      const char *host)
{
	const struct sockaddr_in *l4 = (const struct sockaddr_in *)listen;
	const struct sockaddr_in6 *l6 = (const struct sockaddr_in6 *)listen;
	bool any_addr, loopback;
	char name[HOST_MAX];
	struct in6_addr a6;
	struct in_addr a4;
	int fam;

	if (h && h->any)
		return true;
	/* no Host: a browser always sends one, so no rebinding (the caller
	 * wants one from HTTP/1.1 clients) */
	if (!host || !*host)
		return true;
	if (!split_host(host, name, sizeof(name)))
		return false;
	if (listen->ss_family == AF_INET) {
		any_addr = l4->sin_addr.s_addr == htonl(INADDR_ANY);
		loopback = (ntohl(l4->sin_addr.s_addr) >> 24) == 127;
	} else {
		any_addr = IN6_IS_ADDR_UNSPECIFIED(&l6->sin6_addr);
		loopback = IN6_IS_ADDR_LOOPBACK(&l6->sin6_addr);
	}
	fam = parse_ip(name, &a6, &a4);
	if (fam && any_addr)
		return true;
	if (fam == AF_INET && listen->ss_family == AF_INET && a4.s_addr == l4->sin_addr.s_addr)
		return true;
	if (fam == AF_INET6 && listen->ss_family == AF_INET6 &&
	    !memcmp(&a6, &l6->sin6_addr, sizeof(a6)))
		return true;
	if ((loopback || any_addr) && !strcmp(name, "localhost"))
		return true;
	for (int i = 0; h && i < h->n; i++) {
		struct in6_addr e6;
		struct in_addr e4;
		int efam = parse_ip(h->names[i], &e6, &e4);

		/* addresses compare as addresses ("[::1]" and "[0::1]" alike) */
		if (efam && efam == fam &&
		    (efam == AF_INET ? e4.s_addr == a4.s_addr : !memcmp(&e6, &a6, sizeof(e6))))
			return true;
		if (!efam && !strcmp(h->names[i], name))
			return true;
	}
	return false;
}
