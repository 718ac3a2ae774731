/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_node.h: the resource attributes that belong to the machine, not to a
 * process: host.id, host.arch and os.type (OpenTelemetry semantic
 * conventions), read once when an exporter starts. */
#ifndef BPFMESH_OTLP_NODE_H
#define BPFMESH_OTLP_NODE_H

struct otlp_node {
	char host_id[64];   /* host.id: /etc/machine-id; "" when unreadable */
	char host_arch[16]; /* host.arch: amd64, arm64, ...; "" when not one named */
	char os_type[16];   /* os.type: "linux" */
};

/* Fills n from this machine; a value it cannot read stays "". */
void otlp_node_detect(struct otlp_node *n);

/* host.arch for a uname machine name ("x86_64": "amd64"), NULL when the
 * conventions name none for it. */
const char *otlp_node_arch(const char *machine);

#endif
