/* SPDX-License-Identifier: Apache-2.0 */
/* cli_manifests.c: `bpfmesh manifests`: the CRDs and deploy/kubernetes as
 * one multi-document YAML stream, with the image and namespace chosen on the
 * command line, for `kubectl apply -f -` without Helm. The text is the
 * repository's files, embedded at build time (manifests_data.h); only two
 * things are replaced: the namespace name and the value of `image:` lines. */
#include <ctype.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/manifests_data.h"

/* What the files say; the replacements are made for these. */
#define FILE_NAMESPACE "bpfmesh-system"

static void manifests_usage(FILE *f)
{
	fprintf(f,
		"Usage: bpfmesh manifests [--image IMG] [--namespace NS]\n"
		"\n"
		"Print what a cluster needs to run bpfmesh, as one multi-document YAML\n"
		"stream in the order kubectl must apply it: the bpfmesh.io CRDs\n"
		"(deploy/crds), the namespace, ServiceAccount, ClusterRole and binding,\n"
		"the ConfigMap, the DaemonSet and a PodMonitor for the Prometheus\n"
		"Operator (deploy/kubernetes). These are the repository's files as built\n"
		"into this binary; without options they are printed unchanged.\n"
		"\n"
		"  bpfmesh manifests --image registry.example/bpfmesh:0.1.0 | kubectl apply -f -\n"
		"\n"
		"Options:\n"
		"  --image IMG      the agent's image (default: the files' bpfmesh:latest,\n"
		"                   which `make image` builds into the local podman store)\n"
		"  --namespace NS   namespace of the agent's objects (default " FILE_NAMESPACE ")\n"
		"  -h, --help       this text\n");
}

/* A namespace is a DNS label (RFC 1123): it is written unquoted into names
 * and namespace fields, so nothing else may pass. */
static bool valid_namespace(const char *ns)
{
	size_t n = strlen(ns), i;

	if (n == 0 || n > 63 || ns[0] == '-' || ns[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)ns[i]) || isdigit((unsigned char)ns[i]) ||
		      ns[i] == '-'))
			return false;
	return true;
}

/* An image reference (registry/path:tag@digest): written as a plain YAML
 * scalar, so only its own characters, starting with a letter or digit. */
static bool valid_image(const char *img)
{
	size_t n = strlen(img), i;

	if (n == 0 || n > 512 || !isalnum((unsigned char)img[0]))
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)img[i]) && !strchr("._-/:@", img[i]))
			return false;
	return true;
}

/* The `image:` key of a line, as in "  image: x" or "  - image: x": the
 * offset of its value, or -1 when the line has none. */
static long image_value_at(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && line[i] == ' ')
		i++;
	if (i + 1 < len && line[i] == '-' && line[i + 1] == ' ')
		for (i += 2; i < len && line[i] == ' ';)
			i++;
	if (len - i < 7 || memcmp(line + i, "image: ", 7))
		return -1;
	return (long)(i + 7);
}

/* Writes one line (without its newline) with the namespace replaced. */
static void put_line(const char *line, size_t len, const char *ns)
{
	size_t flen = strlen(FILE_NAMESPACE);
	const char *p = line, *end = line + len, *hit;

	while (p < end && (hit = memmem(p, (size_t)(end - p), FILE_NAMESPACE, flen))) {
		fwrite(p, 1, (size_t)(hit - p), stdout);
		fputs(ns, stdout);
		p = hit + flen;
	}
	fwrite(p, 1, (size_t)(end - p), stdout);
}

static void put_file(const struct manifest_file *m, const char *image, const char *ns)
{
	const char *p = m->text, *end = m->text + m->len;

	printf("---\n# Source: %s\n", m->path);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		long at = image ? image_value_at(p, len) : -1;

		if (at >= 0) {
			fwrite(p, 1, (size_t)at, stdout);
			fputs(image, stdout);
		} else {
			put_line(p, len, ns);
		}
		putchar('\n');
		p += len + (nl ? 1 : 0);
	}
}

int cli_manifests(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"image", required_argument, 0, 'i'},
	    {"namespace", required_argument, 0, 'n'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	const char *image = NULL, *ns = FILE_NAMESPACE;
	size_t i;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			image = optarg;
			break;
		case 'n':
			ns = optarg;
			break;
		case 'h':
			manifests_usage(stdout);
			return 0;
		default:
			manifests_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bpfmesh manifests: unexpected argument '%s'\n\n", argv[optind]);
		manifests_usage(stderr);
		return 2;
	}
	if (image && !valid_image(image)) {
		fprintf(stderr,
			"bpfmesh manifests: --image '%s': not an image reference (letters, "
			"digits and ._-/:@, starting with a letter or digit)\n",
			image);
		return 2;
	}
	if (!valid_namespace(ns)) {
		fprintf(stderr,
			"bpfmesh manifests: --namespace '%s': not a DNS label (at most 63 "
			"lowercase letters, digits and '-', not at either end)\n",
			ns);
		return 2;
	}
	for (i = 0; i < manifest_files_n; i++)
		put_file(&manifest_files[i], image, ns);
	if (fflush(stdout) || ferror(stdout)) {
		perror("bpfmesh manifests: stdout");
		return 1;
	}
	return 0;
}
