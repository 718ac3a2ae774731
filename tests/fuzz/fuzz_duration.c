/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_duration.c: parse_duration_ms() (config/duration.c), the Go duration
 * syntax of every timeout and interval of the configuration. */
#include <errno.h>
#include <inttypes.h>

#include "config/config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), again[32];
	uint64_t ms = UINT64_MAX, ms2 = UINT64_MAX;
	int rc;

	rc = parse_duration_ms(s, &ms);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (!rc) {
		/* Go's limit: an int64 count of nanoseconds */
		FUZZ_CHECK(ms <= (uint64_t)INT64_MAX / 1000000 + 1);
		/* the value written back in milliseconds reads as itself */
		snprintf(again, sizeof(again), "%" PRIu64 "ms", ms);
		FUZZ_CHECK(parse_duration_ms(again, &ms2) == 0 && ms2 == ms);
	}
	free(s);
	return 0;
}
