// SPDX-License-Identifier: Apache-2.0
/* burn.c: a process that only uses CPU, as much as it is told, in bursts.
 *
 *   burn BUSY_US PERIOD_US
 *
 * Spins for BUSY_US microseconds of CPU time in every PERIOD_US of wall
 * time, until it is killed.
 * bench/capture.sh runs it, with capture off, at the CPU share the agent
 * used in its last run: on a machine whose CPUs the benchmark keeps busy,
 * what does any process that needs that much CPU cost it? That separates
 * the cost of sharing the CPUs with one more busy process (the scheduler's
 * placement of the load generator and the server included) from what
 * capture itself adds. The agent reads its ring every 20 ms, hence the
 * bursts rather than an even trickle. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long clock_us(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return t.tv_sec * 1000000LL + t.tv_nsec / 1000;
}

static long arg(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s && !*end && v >= 0 && v <= 10000000 ? v : -1;
}

int main(int argc, char **argv)
{
	long busy = argc == 3 ? arg(argv[1]) : -1, period = argc == 3 ? arg(argv[2]) : -1;
	volatile unsigned long spin = 0;
	long long next;

	if (busy < 0 || period <= 0 || busy > period) {
		fprintf(stderr, "usage: burn BUSY_US PERIOD_US (0 <= BUSY_US <= PERIOD_US)\n");
		return 2;
	}
	next = clock_us(CLOCK_MONOTONIC);
	for (;;) {
		/* CPU time, not wall time: a burst that is preempted goes on
		 * until it has had its share */
		long long start = clock_us(CLOCK_PROCESS_CPUTIME_ID), left;

		while (clock_us(CLOCK_PROCESS_CPUTIME_ID) - start < busy)
			spin++;
		/* on a fixed beat, and at once when a burst took longer */
		next += period;
		left = next - clock_us(CLOCK_MONOTONIC);
		if (left > 0) {
			struct timespec t = {left / 1000000, left % 1000000 * 1000};

			nanosleep(&t, NULL);
		} else {
			next = clock_us(CLOCK_MONOTONIC);
		}
	}
}
