/* SPDX-License-Identifier: Apache-2.0 */
/* kubeconfig.h: where the API server is and how the agent proves who it is:
 * the in-cluster service account, or one context of a kubeconfig file. */
#ifndef BPFMESH_KUBE_KUBECONFIG_H
#define BPFMESH_KUBE_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define KUBE_PATH_MAX 4096
#define KUBE_URL_MAX 1024
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* decoded bytes of a kubeconfig "-data" field (PEM text), handed to libcurl
 * as a blob: no key material is written to a temporary file */
struct kube_blob {
	unsigned char *data;
	size_t len;
};

struct kube_settings {
	char server[KUBE_URL_MAX]; /* http(s)://host[:port][/prefix], no trailing '/' */
	char origin[KUBE_URL_MAX]; /* "in-cluster" or "kubeconfig PATH, context C": for messages */
	char ca_file[KUBE_PATH_MAX]; /* "": no file (ca_data, or the system's roots) */
	struct kube_blob ca_data;
	char cert_file[KUBE_PATH_MAX]; /* client certificate and key: files or blobs */
	char key_file[KUBE_PATH_MAX];
	struct kube_blob cert_data, key_data;
	bool insecure_skip_tls_verify;
	char proxy_url[KUBE_URL_MAX]; /* "": libcurl's default (the *_proxy variables) */
	/* bearer token: token_file is read again when it changes (a projected
	 * service-account token rotates about hourly); token is the last value
	 * read, or the kubeconfig's static token */
	char token_file[KUBE_PATH_MAX];
	char *token;
	/* what token_file looked like when it was last read */
	struct {
		bool valid;
		dev_t dev;
		ino_t ino;
		off_t size;
		struct timespec mtime, ctime;
		uint64_t read_ns;
	} token_seen;
};

/* In a pod: KUBERNETES_SERVICE_HOST/PORT (an IPv6 host is bracketed), the
 * service account's token and ca.crt under sa_dir (NULL: KUBE_SA_DIR).
 * 0, or -1 with the missing piece named in err. */
int kube_settings_in_cluster(struct kube_settings *s, const char *sa_dir, char *err,
			     size_t err_len);

/* A kubeconfig file: context (NULL: current-context) -> cluster (server,
 * certificate-authority[-data], insecure-skip-tls-verify, proxy-url) and
 * user (token, tokenFile, client-certificate[-data] and client-key[-data]).
 * Relative file paths are relative to the kubeconfig's directory; every
 * file is checked to be readable now. 0, or -1 with the reason in err. */
int kube_settings_kubeconfig(struct kube_settings *s, const char *path, const char *context,
			     char *err, size_t err_len);

/* A deep copy (blobs and token duplicated); 0 or -ENOMEM. */
int kube_settings_copy(struct kube_settings *dst, const struct kube_settings *src);

/* Frees and scrubs what the settings hold; they are then all zero. */
void kube_settings_clear(struct kube_settings *s);

/* The bearer token for the next request, or NULL when the settings have
 * none. token_file is read again when its inode, size, mtime or ctime
 * changed, when the last read is older than a minute (never cached for
 * ever), or when force is set (the server answered 401). A failed read keeps
 * the last token and says why in err (err[0] is 0 otherwise). The pointer is
 * valid until the next call. */
const char *kube_settings_token(struct kube_settings *s, bool force, uint64_t now_ns, char *err,
				size_t err_len);

/* Standard base64 (RFC 4648, padding optional, white space ignored):
 * malloc'd bytes in out, or -1 on a character outside the alphabet. */
int kube_base64_decode(const char *in, size_t in_len, struct kube_blob *out);

#endif
