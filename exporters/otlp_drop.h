/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_drop.h: why an OTLP exporter dropped spans or data points: the
 * reasons both exporters and their shared sender count by, and their names
 * for metrics labels and the log. */
#ifndef BPFMESH_OTLP_DROP_H
#define BPFMESH_OTLP_DROP_H

enum otlp_drop {
	OTLP_DROP_QUEUE_FULL = 0, /* otlp_submit() found the queue full */
	OTLP_DROP_INVALID,	  /* all-zero trace or span id, or an invalid data point */
	OTLP_DROP_FAILED,	  /* final error from the collector, or retries ran out */
	OTLP_DROP_REJECTED,	  /* delivered, but refused by a partial success */
	OTLP_DROP_SHUTDOWN,	  /* still queued or in flight when the stop gave up */
	OTLP_DROP_ENCODE,	  /* out of memory while encoding */
	OTLP_DROP_UNCONFIRMED,	  /* a 2xx whose body is not the protocol's answer */
	OTLP_DROP__MAX,
};

/* "queue_full", "invalid", "export_failed", "rejected", "shutdown", "encode_error",
 * "unconfirmed":
 * the reason label for metrics and logs; "unknown" out of range. */
const char *otlp_drop_name(enum otlp_drop d);

#endif
