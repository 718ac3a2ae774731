/* SPDX-License-Identifier: Apache-2.0 */
/* manifests_data.h: the files of deploy/crds and deploy/kubernetes, embedded
 * at build time (the Makefile generates $(BUILD)/gen/manifests.c from them
 * with deploy/embed-manifests.sh), so `bpfmesh manifests` prints what the
 * repository holds and nothing that could drift from it. */
#ifndef BPFMESH_CLI_MANIFESTS_DATA_H
#define BPFMESH_CLI_MANIFESTS_DATA_H

#include <stddef.h>

struct manifest_file {
	const char *path; /* e.g. "deploy/kubernetes/30-daemonset.yaml" */
	const char *text; /* the file's bytes, NUL-terminated */
	size_t len;
};

/* CRDs first, then deploy/kubernetes in file-name order: the order in
 * which `kubectl apply -f -` must see them. */
extern const struct manifest_file manifest_files[];
extern const size_t manifest_files_n;

#endif
