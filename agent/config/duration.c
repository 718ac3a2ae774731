/* SPDX-License-Identifier: Apache-2.0 */
/* duration.c: Go-syntax durations ("1m30s", "1.5h", "500ms") to milliseconds.
 *
 * The syntax and the limits follow Go's time.ParseDuration, the vocabulary of
 * the Istio and Kubernetes documents our config imitates, so a value copied
 * from one of them means the same here. Negative durations make no sense for
 * timeouts and intervals and are refused.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"

/* Go's limit: a duration is an int64 count of nanoseconds (about 292 years). */
#define DUR_MAX_NS ((uint64_t)INT64_MAX)

static const struct {
	const char *name;
	uint64_t ns;
} units[] = {
    {"ns", 1ULL},	    {"us", 1000ULL},	  {"\xc2\xb5s", 1000ULL}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000ULL},						  /* U+03BC Greek mu */
    {"ms", 1000000ULL},	    {"s", 1000000000ULL}, {"m", 60000000000ULL},  {"h", 3600000000000ULL},
};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int unit_ns(const char *s, size_t len, uint64_t *ns)
{
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strlen(units[i].name) == len && !memcmp(units[i].name, s, len)) {
			*ns = units[i].ns;
			return 0;
		}
	}
	return -EINVAL;
}

/* One "<number><unit>" term, advancing *sp past it. */
static int parse_term(const char **sp, uint64_t *out_ns)
{
	const char *s = *sp;
	uint64_t v = 0, frac = 0, unit;
	double scale = 1;
	bool pre = false, post = false;
	size_t len;

	for (; is_digit(*s); s++) {
		if (v > (DUR_MAX_NS - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
		pre = true;
	}
	if (*s == '.') {
		/* Digits beyond what 63 bits hold cannot change the result; Go drops them too. */
		for (s++; is_digit(*s); s++) {
			post = true;
			if (frac > (DUR_MAX_NS - 9) / 10)
				continue;
			frac = frac * 10 + (uint64_t)(*s - '0');
			scale *= 10;
		}
	}
	if (!pre && !post)
		return -EINVAL;

	for (len = 0; s[len] && s[len] != '.' && !is_digit(s[len]); len++)
		;
	if (!len || unit_ns(s, len, &unit))
		return -EINVAL;
	s += len;

	if (v > DUR_MAX_NS / unit)
		return -EINVAL;
	v *= unit;
	if (frac) {
		v += (uint64_t)((double)frac * ((double)unit / scale));
		if (v > DUR_MAX_NS)
			return -EINVAL;
	}
	*sp = s;
	*out_ns = v;
	return 0;
}

int parse_duration_ms(const char *s, uint64_t *out_ms)
{
	uint64_t total = 0, term;
	int err;

	if (!s)
		return -EINVAL;
	if (*s == '+')
		s++;
	if (!strcmp(s, "0")) {
		*out_ms = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;

	while (*s) {
		err = parse_term(&s, &term);
		if (err)
			return err;
		if (term > DUR_MAX_NS - total)
			return -EINVAL;
		total += term;
	}

	*out_ms = total / 1000000;
	/* A positive timeout below the resolution must not turn into "no timeout". */
	if (!*out_ms && total)
		*out_ms = 1;
	return 0;
}
