/* SPDX-License-Identifier: Apache-2.0 */
/* lograte.c: per-kind log rate limiting (lograte.h). */
#include <stdio.h>
#include <string.h>

#include "lib/lograte.h"

void lograte_init(struct lograte *lr, uint64_t interval_ns)
{
	memset(lr, 0, sizeof(*lr));
	pthread_mutex_init(&lr->lock, NULL);
	lr->interval_ns = interval_ns;
}

void lograte_destroy(struct lograte *lr) { pthread_mutex_destroy(&lr->lock); }

static struct lograte_kind *kind_of(struct lograte *lr, const void *key)
{
	for (int i = 0; i < LOGRATE_KINDS; i++) {
		struct lograte_kind *k = &lr->kinds[i];

		if (k->key == key)
			return k;
		if (!k->key) {
			k->key = key;
			return k;
		}
	}
	return &lr->kinds[LOGRATE_KINDS - 1];
}

bool lograte_allow(struct lograte *lr, const void *key, const char *text, uint64_t now_ns,
		   uint64_t *suppressed)
{
	struct lograte_kind *k;
	bool allow;

	pthread_mutex_lock(&lr->lock);
	k = kind_of(lr, key);
	/* last_ns 0: never written (the clock starts at boot, not at 0) */
	allow = !k->last_ns || now_ns - k->last_ns >= lr->interval_ns;
	if (allow) {
		*suppressed = k->suppressed;
		k->suppressed = 0;
		k->last_ns = now_ns ? now_ns : 1;
		snprintf(k->text, sizeof(k->text), "%s", text);
	} else {
		k->suppressed++;
	}
	pthread_mutex_unlock(&lr->lock);
	return allow;
}

int lograte_flush(struct lograte *lr, uint64_t now_ns,
		  void (*report)(const char *text, uint64_t count, void *ctx), void *ctx)
{
	struct {
		char text[LOGRATE_TEXT];
		uint64_t count;
	} due[LOGRATE_KINDS];
	int n = 0;

	/* report outside the lock: the reporter logs, and logging may be slow */
	pthread_mutex_lock(&lr->lock);
	for (int i = 0; i < LOGRATE_KINDS; i++) {
		struct lograte_kind *k = &lr->kinds[i];

		if (!k->suppressed || now_ns - k->last_ns < lr->interval_ns)
			continue;
		memcpy(due[n].text, k->text, sizeof(k->text));
		due[n++].count = k->suppressed;
		k->suppressed = 0;
		k->last_ns = now_ns ? now_ns : 1;
	}
	pthread_mutex_unlock(&lr->lock);
	for (int i = 0; i < n; i++)
		report(due[i].text, due[i].count, ctx);
	return n;
}
