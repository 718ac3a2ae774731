/* SPDX-License-Identifier: Apache-2.0 */
/* tracectx.c: W3C Trace Context values (see tracectx.h). Strict: a wrong
 * guess would put a span in someone else's trace. */
#include <errno.h>
#include <stdbool.h>

#include "trace/tracectx.h"

static int hexval_lc(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* n lowercase hex digit pairs into out; false when one is not. */
static bool hex_bytes(const char *s, uint8_t *out, size_t nbytes)
{
	for (size_t i = 0; i < nbytes; i++) {
		int hi = hexval_lc(s[2 * i]), lo = hexval_lc(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

int tracectx_parse_traceparent(const char *v, size_t n, struct trace_parent *out)
{
	uint8_t version;

	/* version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2 = 55 */
	if (n < 55 || !hex_bytes(v, &version, 1) || version == 0xff)
		return -EINVAL;
	/* Version 00 has exactly this shape; a later version may append fields
	 * after a '-', and its first 55 characters are read as version 00. */
	if ((version == 0 && n != 55) || (n > 55 && v[55] != '-'))
		return -EINVAL;
	if (v[2] != '-' || v[35] != '-' || v[52] != '-')
		return -EINVAL;
	if (!hex_bytes(v + 3, out->trace_id, 16) || !hex_bytes(v + 36, out->span_id, 8) ||
	    !hex_bytes(v + 53, &out->flags, 1))
		return -EINVAL;
	if (all_zero(out->trace_id, 16) || all_zero(out->span_id, 8))
		return -EINVAL;
	return 0;
}
