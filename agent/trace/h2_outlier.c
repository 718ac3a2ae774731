// SPDX-License-Identifier: Apache-2.0
/* h2_outlier.c: HTTP/2 outcomes to the kernel's outlier detection
 * (h2_outlier.h). */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "lib/log.h"
#include "trace/h2_outlier.h"

void h2_outlier_init(struct h2_outlier *o, int prog_fd)
{
	memset(o, 0, sizeof(*o));
	o->prog_fd = prog_fd;
}

uint16_t h2_grpc_http_status(uint8_t g)
{
	static const uint16_t http[17] = {200, 499, 500, 400, 504, 404, 409, 403, 429,
					  400, 409, 400, 501, 500, 503, 500, 401};

	return g < 17 ? http[g] : 500;
}

void h2_outlier_flush(struct h2_outlier *o)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	if (!o->n)
		return;
	opts.data_in = o->buf;
	opts.data_size_in = o->n * sizeof(o->buf[0]);
	o->runs++;
	if (bpf_prog_test_run_opts(o->prog_fd, &opts)) {
		if (!o->failed_runs++)
			log_warn("HTTP/2 outlier detection: running bm_h2_outcome: %s",
				 strerror(errno));
	} else {
		o->fed += o->n;
	}
	o->n = 0;
}

void h2_outlier_note(struct h2_outlier *o, const struct obs *ob)
{
	uint16_t status;

	if (o->prog_fd < 0 || ob->role != OBS_ROLE_CLIENT || !ob->stream_id)
		return;
	if (ob->rpc == OBS_RPC_GRPC) {
		if (ob->kind != OBS_RESPONSE_END || !ob->has_grpc_status)
			return;
		status = h2_grpc_http_status(ob->grpc_status);
	} else {
		if (ob->kind != OBS_RESPONSE || ob->status < 100 || ob->status >= 600)
			return;
		status = ob->status;
	}
	o->buf[o->n].cookie = ob->cookie;
	o->buf[o->n].status = status;
	o->buf[o->n].reserved = 0;
	if (++o->n == H2_OUTCOMES_MAX)
		h2_outlier_flush(o);
}
