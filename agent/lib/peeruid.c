/* SPDX-License-Identifier: Apache-2.0 */
/* peeruid.c: the owner of a local TCP peer through NETLINK_SOCK_DIAG. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "lib/peeruid.h"

/* An IPv4 address in an IPv6 socket (::ffff:a.b.c.d) lives in the IPv4
 * tables: look it up there. */
static bool unmap(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in in4 = {.sin_family = AF_INET};

	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		return false;
	in4.sin_port = in6->sin6_port;
	memcpy(&in4.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &in4, sizeof(in4));
	return true;
}

static void put_addr(const struct sockaddr_storage *ss, __be16 *port, __be32 *addr)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;

		*port = in4->sin_port;
		memcpy(addr, &in4->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		*port = in6->sin6_port;
		memcpy(addr, &in6->sin6_addr, 16);
	}
}

/* States of a connected socket: not a listener, not a request, not
 * TIME_WAIT. */
static bool owned_state(unsigned st)
{
	switch (st) {
	case TCP_ESTABLISHED:
	case TCP_SYN_SENT:
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
	case TCP_CLOSE_WAIT:
	case TCP_LAST_ACK:
	case TCP_CLOSING:
		return true;
	}
	return false;
}

/* Whether the diag answer is the socket asked for. A dual-stack socket
 * connected over IPv4 answers as IPv6 with mapped addresses. */
static bool same_socket(const struct inet_diag_msg *m, const struct inet_diag_req_v2 *r)
{
	__be32 src[4], dst[4];

	memcpy(src, r->id.idiag_src, sizeof(src));
	memcpy(dst, r->id.idiag_dst, sizeof(dst));
	if (m->idiag_family == AF_INET6 && r->sdiag_family == AF_INET) {
		src[3] = src[0];
		dst[3] = dst[0];
		src[0] = src[1] = dst[0] = dst[1] = 0;
		src[2] = dst[2] = htonl(0xffff);
	}
	return m->id.idiag_sport == r->id.idiag_sport && m->id.idiag_dport == r->id.idiag_dport &&
	       !memcmp(m->id.idiag_src, src, sizeof(src)) &&
	       !memcmp(m->id.idiag_dst, dst, sizeof(dst));
}

int peer_uid(int fd, uid_t *uid)
{
	struct sockaddr_storage self = {}, peer = {};
	socklen_t len = sizeof(self);
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {};
	union {
		struct nlmsghdr nlh;
		char buf[1024];
	} resp;
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	struct inet_diag_msg *m;
	struct nlmsghdr *h;
	ssize_t n;
	int nfd, err;

	if (getsockname(fd, (struct sockaddr *)&self, &len))
		return -errno;
	len = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &len))
		return -errno;
	unmap(&self);
	unmap(&peer);
	if (self.ss_family != peer.ss_family ||
	    (peer.ss_family != AF_INET && peer.ss_family != AF_INET6))
		return -ENOENT;
	/* the peer's socket: its source is our peer, its destination us */
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = peer.ss_family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	put_addr(&peer, &req.r.id.idiag_sport, req.r.id.idiag_src);
	put_addr(&self, &req.r.id.idiag_dport, req.r.id.idiag_dst);

	nfd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nfd < 0)
		return -errno;
	if (sendto(nfd, &req, sizeof(req), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0) {
		err = -errno;
		close(nfd);
		return err;
	}
	do
		n = recv(nfd, &resp, sizeof(resp), 0);
	while (n < 0 && errno == EINTR);
	err = n < 0 ? -errno : 0;
	close(nfd);
	if (err)
		return err;
	h = &resp.nlh;
	if (!NLMSG_OK(h, (size_t)n))
		return -EIO;
	if (h->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(h);

		return e->error ? e->error : -ENOENT;
	}
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EIO;
	m = NLMSG_DATA(h);
	/* exactly the socket asked for (a listener on the peer's port would
	 * match the lookup too when the peer socket is gone), still held by a
	 * process: an orphan, closed by its process, has no inode, and one in
	 * TIME_WAIT (or FIN_WAIT2 after close) reports uid 0 whoever it was */
	if (!owned_state(m->idiag_state) || !m->idiag_inode || !same_socket(m, &req.r))
		return -ENOENT;
	*uid = m->idiag_uid;
	return 0;
}
