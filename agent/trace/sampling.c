/* SPDX-License-Identifier: Apache-2.0 */
/* sampling.c: consistent ratio sampling on the trace id (see sampling.h). */
#include "trace/sampling.h"

uint64_t sampling_threshold(double ratio)
{
	double keep;

	if (!(ratio > 0)) /* also NaN */
		return SAMPLING_MAX_THRESHOLD;
	if (ratio >= 1)
		return 0;
	/* ratio * 2^56 is exact enough in a double (53-bit mantissa): the error is
	 * below 2^-53 relative, far under any ratio a person configures. */
	keep = ratio * (double)SAMPLING_MAX_THRESHOLD + 0.5;
	if (keep < 1)
		return SAMPLING_MAX_THRESHOLD;
	return SAMPLING_MAX_THRESHOLD - (uint64_t)keep;
}

void sampler_init(struct sampler *s, double ratio, bool keep_errors, uint64_t slower_than_ms)
{
	s->threshold = sampling_threshold(ratio);
	s->keep_errors = keep_errors;
	s->slower_than_ns = slower_than_ms * 1000000ULL;
}

uint64_t sampling_randomness(const uint8_t trace_id[16])
{
	uint64_t r = 0;

	for (int i = 9; i < 16; i++)
		r = r << 8 | trace_id[i];
	return r;
}

bool sampling_ratio_keep(const struct sampler *s, const uint8_t trace_id[16])
{
	return sampling_randomness(trace_id) >= s->threshold;
}

bool sampling_trace_keep(const struct sampler *s, const uint8_t trace_id[16], int remote_sampled,
			 bool forced)
{
	/* W3C Trace Context: the caller decided for the whole trace; a span
	 * exported under an unsampled parent would hang under one nobody has */
	if (remote_sampled >= 0)
		return remote_sampled > 0;
	return forced || sampling_ratio_keep(s, trace_id);
}

bool sampling_span_forced(const struct sampler *s, bool error, uint64_t duration_ns)
{
	if (error && s->keep_errors)
		return true;
	return s->slower_than_ns && duration_ns > s->slower_than_ns;
}
