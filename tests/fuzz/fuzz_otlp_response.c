/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_otlp_response.c: what an OTLP collector answers, read by the
 * exporters: the 2xx bodies (ExportTraceServiceResponse and
 * ExportMetricsServiceResponse, partial success) and the error body
 * (google.rpc.Status, walked by hand). A collector, or whatever answers on
 * its port, controls every byte. The first byte picks the size of the
 * message buffer, so the short ones are reached too. */
#include <errno.h>
#include <string.h>

#include "exporters/otlp_encode.h"
#include "exporters/otlp_metrics_encode.h"
#include "fuzz.h"

static void check_msg(const char *msg, size_t msg_size)
{
	size_t len;

	if (!msg_size)
		return;
	len = strnlen(msg, msg_size);
	FUZZ_CHECK(len < msg_size);
	/* it goes to the log: one printable line */
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK(msg[i] >= 0x20 && msg[i] < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[300];
	size_t msg_size;
	int64_t rejected;
	int rc;

	if (!size)
		return 0;
	msg_size = data[0] % 8 ? data[0] % 8 - 1 : sizeof(msg); /* 0..6 bytes, or roomy */
	data++, size--;

	memset(msg, 0xa5, sizeof(msg));
	rejected = -7;
	rc = otlp_decode_response(data, size, &rejected, msg, msg_size);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (!rc) {
		FUZZ_CHECK(rejected >= 0);
		check_msg(msg, msg_size);
	}

	memset(msg, 0xa5, sizeof(msg));
	rejected = -7;
	rc = otlp_metrics_decode_response(data, size, &rejected, msg, msg_size);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (!rc) {
		FUZZ_CHECK(rejected >= 0);
		check_msg(msg, msg_size);
	}

	memset(msg, 0xa5, sizeof(msg));
	rc = otlp_status_message(data, size, msg, msg_size);
	FUZZ_CHECK(rc == 0 || rc == -ENOENT);
	if (!rc)
		check_msg(msg, msg_size);
	return 0;
}
