/* SPDX-License-Identifier: Apache-2.0 */
/* token.h: reading a bearer token file (the API's --api-token-file, the
 * CLI's --token-file). */
#ifndef BPFMESH_TOKEN_H
#define BPFMESH_TOKEN_H

#include <stddef.h>

/* A token file's content without its trailing newline: malloc'd, or NULL
 * with a message in err (unreadable, empty, larger than 4 KiB, or not a
 * single token of visible ASCII). The caller clears and frees it. */
char *token_file_read(const char *path, char *err, size_t err_len);

#endif
