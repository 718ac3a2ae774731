/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_node.c: the machine's resource attributes (see otlp_node.h). */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "otlp_node.h"

const char *otlp_node_arch(const char *machine)
{
	static const char *const arch[][2] = {
	    {"x86_64", "amd64"}, {"aarch64", "arm64"}, {"arm64", "arm64"},   {"i386", "x86"},
	    {"i686", "x86"},	 {"ppc64", "ppc64"},   {"ppc64le", "ppc64"}, {"s390x", "s390x"},
	    {"armv7l", "arm32"}, {"ppc", "ppc32"},
	};

	for (size_t i = 0; i < sizeof(arch) / sizeof(arch[0]); i++)
		if (!strcmp(machine, arch[i][0]))
			return arch[i][1];
	return NULL;
}

/* /etc/machine-id: 32 hex digits and a newline (systemd's machine-id(5)). */
static void read_machine_id(char *dst, size_t size)
{
	FILE *f = fopen("/etc/machine-id", "re");

	dst[0] = '\0';
	if (!f)
		return;
	if (!fgets(dst, (int)size, f))
		dst[0] = '\0';
	fclose(f);
	dst[strcspn(dst, "\r\n \t")] = '\0';
}

void otlp_node_detect(struct otlp_node *n)
{
	struct utsname u;
	const char *arch = NULL;

	memset(n, 0, sizeof(*n));
	read_machine_id(n->host_id, sizeof(n->host_id));
	if (!uname(&u))
		arch = otlp_node_arch(u.machine);
	snprintf(n->host_arch, sizeof(n->host_arch), "%s", arch ? arch : "");
	snprintf(n->os_type, sizeof(n->os_type), "linux");
}
