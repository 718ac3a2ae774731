/* SPDX-License-Identifier: Apache-2.0 */
/* peeruid.h: who owns the other end of a TCP connection, when that end is
 * on this host: the kernel's socket diagnostics (sock_diag, as ss(8) reads
 * them) looked up by the connection's four addresses. SO_PEERCRED answers
 * this for Unix sockets only. */
#ifndef BPFMESH_PEERUID_H
#define BPFMESH_PEERUID_H

#include <sys/types.h>

/* The uid of the socket at the other end of the connected TCP socket fd,
 * as seen in this network namespace. 0 with *uid set; -ENOENT when no
 * socket of this host is that end (a remote client, or one that has gone:
 * a socket in TIME_WAIT has no owner any more); another -errno on error. */
int peer_uid(int fd, uid_t *uid);

#endif
