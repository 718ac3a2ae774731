/* SPDX-License-Identifier: Apache-2.0 */
/* jsonw.h: a growing buffer that writes JSON with correct string escaping. */
#ifndef BPFMESH_JSONW_H
#define BPFMESH_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonw {
	char *buf;
	size_t len, cap;
	bool need_comma;
	bool failed; /* an allocation failed; the output is unusable */
};

void jw_raw(struct jsonw *w, const char *s);
void jw_obj_open(struct jsonw *w);
void jw_obj_close(struct jsonw *w);
void jw_arr_open(struct jsonw *w);
void jw_arr_close(struct jsonw *w);
void jw_key(struct jsonw *w, const char *k);
void jw_str(struct jsonw *w, const char *s);
void jw_u64(struct jsonw *w, uint64_t v);
void jw_i64(struct jsonw *w, int64_t v);
void jw_dbl(struct jsonw *w, double v);
void jw_bool(struct jsonw *w, bool v);
void jw_null(struct jsonw *w);
/* key + value shorthands */
void jw_kstr(struct jsonw *w, const char *k, const char *v);
void jw_ku64(struct jsonw *w, const char *k, uint64_t v);
void jw_ki64(struct jsonw *w, const char *k, int64_t v);
void jw_kbool(struct jsonw *w, const char *k, bool v);
void jw_free(struct jsonw *w);

#endif
