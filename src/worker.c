/*
 * worker.c: the outbox's sender loop (worker.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "join.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "request.h"
#include "token.h"
#include "upstream.h"
#include "wechat.h"
#include "worker.h"
#include "secure.h"

#define PROMOTE_EVERY_MS	100	/* due retries go back this often */
#define PROMOTE_MAX		1000
#define IDLE_BLOCK_MS		200	/* XREADGROUP's wait when idle (< store's limit) */
#define POLL_MS			50	/* curl's wait when sends are in flight */
#define REDIS_PAUSE_MS		500	/* after Redis failed */
#define ONCE_HORIZON_MS		2000	/* --once waits for what is due this soon */
#define ONCE_REDIS_ROUNDS	10	/* --once gives up after so many failures */

struct slot {
	struct outbox_job	 job;
	char			 url[LIM_URL + LIM_TOKEN + 8];
	bool			 busy;
};

struct worker {
	struct app		*a;
	struct up_multi		*m;
	struct slot		*slots;
	size_t			 n;
	char			 consumer[160];
	char			 cursor[48];	/* XAUTOCLAIM's */
	struct worker_stats	*stats;
};

static uint64_t
rnd64(void)
{
	uint64_t v = 0;

	if (sec_random(&v, sizeof(v)) != 0)
		v = (uint64_t)clock_ms() * 6364136223846793005ULL;
	return v;
}

/*
 * Write what an attempt came to. Redis may be restarting: keep trying
 * for a while, since an attempt left 'sending' becomes 'unknown' when
 * another worker claims it.
 */
static void
finish(struct worker *w, struct slot *s, struct outbox_result *res)
{
	const struct config *c = &w->a->cfg;
	long long due = clock_wall_ms(), waited = 0;
	const char *what = "sent";

	switch (res->next) {
	case OBN_RETRY:
		due += outbox_backoff_ms(c->outbox_retry_base_ms,
		    s->job.attempts, rnd64());
		what = "retry";
		w->stats->retried++;
		metrics_count("outbox_retries");
		break;
	case OBN_RENEW:		/* a fresh token: again at once */
		what = "retry";
		w->stats->retried++;
		metrics_count("outbox_retries");
		break;
	case OBN_FAILED:
		what = "failed";
		w->stats->failed++;
		metrics_count("outbox_failed");
		break;
	case OBN_UNKNOWN:
		what = "unknown";
		w->stats->unknown++;
		metrics_count("outbox_unknown");
		break;
	case OBN_SENT:
		w->stats->sent++;
		metrics_send("sent", 0);
		metrics_count("outbox_sent");
		if (s->job.queued_ms > 0)
			metrics_observe(HIST_OUTBOX,
			    (double)(clock_wall_ms() - s->job.queued_ms) / 1000.0);
		break;
	}
	if (res->next == OBN_FAILED)
		metrics_send(wxerr_code(res->e.err), res->e.errcode);
	log_msg(res->next == OBN_SENT ? LOG_DEBUG : LOG_INFO,
	    "outbox %s attempt %lld: %s%s%s", s->job.id, s->job.attempts, what,
	    res->e.msg[0] ? ": " : "", res->e.msg);
	while (outbox_finish(w->a->st, c, &s->job, res, due) ==
	    WX_REDIS_UNAVAILABLE && waited < c->outbox_claim_after_ms / 2) {
		clock_sleep_ms(REDIS_PAUSE_MS);
		waited += REDIS_PAUSE_MS;
	}
	free(s->job.payload);
	s->job.payload = NULL;
	s->busy = false;
}

/* libcurl is done with one send. */
static void
done(void *arg, void *tag, const struct up_result *r, bool left)
{
	struct worker *w = arg;
	struct slot *s = tag;
	struct outbox_attempt at = { 0 };
	struct outbox_result res = { 0 };
	struct wxe e = { .err = WX_OK };

	at.transfer_ok = r->status != 0;
	at.request_sent = left;
	at.status = r->status;
	at.attempts = s->job.attempts;
	at.max_attempts = w->a->cfg.outbox_max_attempts;
	/* The attempt's error in the result's carrier; decide sets its err. */
	if (at.transfer_ok)
		(void)wechat_read_send(r->status, r->body, r->len, &at.msgid,
		    &res.e);
	else
		(void)wxe_set(&res.e, WX_UPSTREAM, "send: %.200s", r->e.msg);
	res.next = outbox_decide(&at, &res.e);
	res.msgid = at.msgid;
	if (res.next == OBN_RENEW && token_renew(&w->a->tok, s->job.token,
	    s->job.token, sizeof(s->job.token), &e) != WX_OK)
		res.next = at.attempts >= at.max_attempts ? OBN_FAILED :
		    OBN_RETRY;
	finish(w, s, &res);
}

/* Begin one entry and put its send on the wire. */
static void
start(struct worker *w, const struct outbox_entry *e)
{
	const struct config *c = &w->a->cfg;
	struct outbox_result res = { 0 };
	enum outbox_begin how;
	struct slot *s = NULL;
	struct wxe why = { .err = WX_OK };
	const char *parts[2];
	size_t i;

	for (i = 0; i < w->n && s == NULL; i++)
		if (!w->slots[i].busy)
			s = &w->slots[i];
	if (s == NULL)
		return;		/* never: reads ask for free slots only */
	if (outbox_begin(w->a->st, c, e, c->timeout_ms * 2 + 1000, &s->job,
	    &how) != WX_OK)
		return;		/* still pending: claimed again later */
	if (how == OBB_UNKNOWN) {
		w->stats->unknown++;
		metrics_count("outbox_unknown");
		log_warn("outbox %s: its worker died while sending: unknown",
		    e->id);
	}
	if (how == OBB_DEFERRED)
		w->stats->deferred++;
	if (how != OBB_GO)
		return;
	s->busy = true;
	if (s->job.token[0] != '\0')
		token_seen(&w->a->tok, s->job.token_ttl);
	else if (token_get(&w->a->tok, s->job.token, sizeof(s->job.token),
	    &why) != WX_OK) {
		/* Nothing left: a retry later, as for any failure before sending. */
		(void)wxe_msg(&res.e, WX_TOKEN_UNAVAILABLE, 0, why.msg);
		res.next = s->job.attempts >= c->outbox_max_attempts ?
		    OBN_FAILED : OBN_RETRY;
		finish(w, s, &res);
		return;
	}
	parts[0] = c->send_url;
	parts[1] = s->job.token;
	if (join(s->url, sizeof(s->url), parts, 2) != 0 ||
	    up_multi_add(w->m, s->url, s->job.payload, c->timeout_ms, s) != 0) {
		(void)wxe_set(&res.e, WX_INTERNAL, "could not start the send");
		res.next = OBN_RETRY;
		finish(w, s, &res);
	}
}

static size_t
free_slots(const struct worker *w)
{
	return w->n - up_multi_running(w->m);
}

/* Read (or claim) up to the free slots and start each. -1: Redis failed. */
static int
fill(struct worker *w, bool claim, long block_ms, size_t *got)
{
	struct outbox_entry e[256];
	size_t n = 0, i, want = free_slots(w);
	enum wx_err err;

	*got = 0;
	if (want > sizeof(e) / sizeof(e[0]))
		want = sizeof(e) / sizeof(e[0]);
	if (want == 0)
		return 0;
	err = claim ? outbox_claim(w->a->st, &w->a->cfg, w->consumer, w->cursor,
	    sizeof(w->cursor), e, want, &n) :
	    outbox_read(w->a->st, &w->a->cfg, w->consumer, block_ms, e, want, &n);
	if (err != WX_OK)
		return -1;
	for (i = 0; i < n; i++)
		start(w, &e[i]);
	*got = n;
	return 0;
}

int
worker_run(struct app *a, bool once, volatile sig_atomic_t *stop,
    struct worker_stats *stats)
{
	struct worker w = { 0 };
	char host[64];
	long long last_promote = 0, last_claim = 0, now;
	long claim_every;
	size_t got, promoted;
	int rc = -1, down_rounds = 0;

	memset(stats, 0, sizeof(*stats));
	w.a = a;
	w.stats = stats;
	w.n = (size_t)a->cfg.outbox_concurrency;
	snprintf(w.cursor, sizeof(w.cursor), "0-0");
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	snprintf(w.consumer, sizeof(w.consumer), "%s:%ld", host, (long)getpid());
	if ((w.slots = calloc(w.n, sizeof(*w.slots))) == NULL ||
	    (w.m = up_multi_new(w.n)) == NULL)
		goto out;
	claim_every = a->cfg.outbox_claim_after_ms / 4;
	if (claim_every < 100)
		claim_every = 100;
	while (outbox_group(a->st, &a->cfg) == WX_REDIS_UNAVAILABLE && !once &&
	    !*stop)
		clock_sleep_ms(REDIS_PAUSE_MS);
	log_info("worker %s: %zu in flight at most%s", w.consumer, w.n,
	    once ? ", once" : "");
	while (!*stop) {
		bool idle = true, redis_down = false;

		now = clock_ms();
		if (now - last_promote >= PROMOTE_EVERY_MS) {
			last_promote = now;
			if (outbox_promote(a->st, &a->cfg, PROMOTE_MAX,
			    &promoted) != WX_OK)
				redis_down = true;
			else if (promoted > 0)
				idle = false;
		}
		if (!redis_down && (once || now - last_claim >= claim_every)) {
			last_claim = now;
			if (fill(&w, true, 0, &got) != 0)
				redis_down = true;
			else if (got > 0)
				idle = false;
		}
		if (!redis_down) {
			long block = up_multi_running(w.m) == 0 && !once ?
			    IDLE_BLOCK_MS : 0;
			if (fill(&w, false, block, &got) != 0)
				redis_down = true;
			else if (got > 0)
				idle = false;
		}
		if (up_multi_running(w.m) > 0) {
			idle = false;
			if (up_multi_run(w.m, POLL_MS, done, &w) != 0)
				log_error("worker: libcurl failed");
		}
		app_after(a, false);
		if (redis_down) {
			if (once && ++down_rounds >= ONCE_REDIS_ROUNDS)
				break;
			clock_sleep_ms(REDIS_PAUSE_MS);
			continue;
		}
		down_rounds = 0;
		if (once && idle) {
			/* A retry or a turn due in a moment is part of "now". */
			bool soon;
			if (outbox_due_soon(a->st, &a->cfg, ONCE_HORIZON_MS,
			    &soon) != WX_OK || !soon)
				break;
			clock_sleep_ms(POLL_MS);
		}
	}
	/* SIGTERM: what is in flight finishes (each within its time limit). */
	while (up_multi_running(w.m) > 0)
		up_multi_run(w.m, POLL_MS, done, &w);
	(void)outbox_leave_group(a->st, &a->cfg, w.consumer);
	app_after(a, false);
	log_info("worker %s: stopping (%lld sent, %lld retried, %lld failed, "
	    "%lld unknown)", w.consumer, stats->sent, stats->retried,
	    stats->failed, stats->unknown);
	rc = down_rounds >= ONCE_REDIS_ROUNDS ? -1 : 0;
out:
	up_multi_free(w.m);
	free(w.slots);
	return rc;
}
