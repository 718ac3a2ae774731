/* SPDX-License-Identifier: Apache-2.0 */
/* version.h: the bpfmesh version, for --version, /api/v1/status and the
 * User-Agent of exports. The build may set it from git
 * (-DBPFMESH_VERSION=...). */
#ifndef BPFMESH_VERSION_H
#define BPFMESH_VERSION_H

#ifndef BPFMESH_VERSION
#define BPFMESH_VERSION "0.1.0-dev"
#endif

#endif
