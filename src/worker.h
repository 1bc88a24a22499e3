/*
 * worker.h: `wxsub worker`, the outbox's sender.
 *
 * One loop: put due retries back on the stream, take over entries a
 * dead worker left (XAUTOCLAIM after outbox.claimAfterMs), read new
 * ones (XREADGROUP), and keep up to outbox.concurrency sends in flight
 * over libcurl's multi interface. Each send takes the user's send lock
 * and the fleet's rate slot first (outbox_begin), uses the shared token
 * (token.h) and reads WeChat's answer as /send does (wechat.h); what
 * it came to is decided by outbox_decide and written by outbox_finish.
 */
#ifndef WX_WORKER_H
#define WX_WORKER_H

#include <signal.h>
#include <stdbool.h>

#include "app.h"

struct worker_stats {
	long long	 sent, retried, failed, unknown, deferred;
};

/*
 * Run until *stop is set (SIGTERM), then finish what is in flight and
 * return 0. once: drain what is due now and return. -1 when the worker
 * could not start (out of memory).
 */
int	worker_run(struct app *, bool once, volatile sig_atomic_t *stop,
	    struct worker_stats *);

#endif
