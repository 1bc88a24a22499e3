/*
 * outbox.h: delivery at scale. Messages queued for
 * the workers live in a Redis Stream with a consumer group; each one's
 * state lives in a hash beside it. Every change of state is one Lua
 * script, so a message is never in two states and never sent twice.
 *
 * Keys (P = redis.prefix):
 *   P outbox                 the stream: entries {"id": <message id>}
 *                            read by the group "wxsub"
 *   P msg:<id>               the state hash: s status, o openId,
 *                            t template, a attempts, m msgid, e error,
 *                            c errcode, q queued at (ms), ua updated
 *                            (s), b batch, p the payload for WeChat
 *                            (without token), k credit key, l long-term,
 *                            pt the credit's life before, w the holder
 *                            of the current attempt. A field at its
 *                            default is absent: a 0, ua q / 1000, b "",
 *                            l 0, pt -1; ca created (s) is written
 *                            only when a retry sets q again
 *   P batch:<id>             list of the batch's message ids
 *   P outbox:delayed         zset: ids waiting for a retry, by due (ms)
 *   P outbox:failed          zset: failed ids by time (wxsub outbox failed)
 *   P outbox:unknowns        zset: unknown ids by time
 *   P outbox:unknown:<tpl>:<openId>
 *                            zset: that user's unknown ids by time, for
 *                            a sent event to settle (600 s)
 *   P msgid:<msgid>          the message id WeChat's msgid belongs to
 *   P outbox:rate:<second>   the fleet's sends in that second
 *
 * The send lock (P sendlock:<openId>) and the credit claim are the ones
 * /send uses (store.h): a user never gets two sends at once, whoever
 * sends them.
 */
#ifndef WX_OUTBOX_H
#define WX_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"
#include "wxerr.h"

#define OUTBOX_GROUP		"wxsub"
#define OUTBOX_ID_LEN		20	/* "m" or "b" + 19 more: 2 + 18 hex */
#define OUTBOX_BACKOFF_CAP_MS	300000
#define OUTBOX_SETTLE_S		600	/* a sent event settles unknowns this old */

enum outbox_status {
	OB_QUEUED, OB_SENDING, OB_SENT, OB_DELIVERED, OB_FAILED, OB_UNKNOWN,
	OB__MAX
};
const char	*outbox_status_name(enum outbox_status);
/* -1 when s names no status. Pure. */
int		 outbox_status_of(const char *s);

/* A fresh random id: prefix 'm' (message) or 'b' (batch). */
int		 outbox_new_id(char kind, char *out, size_t outlen);
/* Is s an id this module could have made? Pure. */
bool		 outbox_id_ok(const char *s);

/* One message to queue: payload is WeChat's JSON without the token. */
struct outbox_item {
	const char	*openid;
	char		 id[OUTBOX_ID_LEN + 1];	/* "": made by outbox_enqueue */
	char		*payload;	/* owned by the caller */
	/* A batch's answer: what it says of this one, queued or refused. */
	char		*says[2];	/* owned by the caller */
	bool		 refused;	/* out: no credit (not queued) */
};

/*
 * The answer a queued send gives, joined in the enqueue's own script so
 * that an Idempotency-Key can keep it in the same round trip. Its text
 * is made of the caller's pieces, outbox.c knows nothing of JSON:
 *   single: piece[0] when queued, else piece[1] with status piece[2]
 *           and error piece[3] (decimal);
 *   batch:  piece[0], the count queued, piece[1], the queued items'
 *           says[0] joined by ',', piece[2], the refused items' says[1]
 *           joined by ',', piece[3]; status 202.
 * With key set, nothing is queued when the key already holds a record:
 * *seen gets it (malloc'd). Else the key is set to idem.h's final record
 * "d|<hash>|<status>|<error>|<text>" for keep_s.
 */
struct outbox_answer {
	bool		 batch;
	const char	*piece[4];
	const char	*key;		/* the Idempotency-Key's Redis key, or NULL */
	const char	*hash;		/* the body's hash */
	long		 keep_s;
	/* out */
	char		*text;		/* malloc'd (batch, or with key) */
	size_t		 len;
	char		*seen;		/* malloc'd: the key's record was there */
	size_t		 seen_len;
};
void		 outbox_answer_free(struct outbox_answer *);

/*
 * Queue items[0..n) for template tpl in one round trip (one script):
 * with ans->key, the key's record is looked up first; per item, a credit
 * is claimed as /send does, and when there is one its state is written
 * and it is XADDed; batch (NULL: none) lists them; the answer is joined
 * (and kept under the key). WX_OK (each item's refused says how it went)
 * or WX_REDIS_UNAVAILABLE.
 */
enum wx_err	 outbox_enqueue(struct store *, const struct config *,
		    const char *tpl, bool longterm, const char *batch,
		    struct outbox_item *items, size_t n, struct outbox_answer *);

/* What GET /messages/<id> shows. */
struct outbox_msg {
	bool		 found;
	enum outbox_status status;
	char		 openid[LIM_OPENID + 1];
	char		 template_id[LIM_ID];
	long long	 attempts;
	char		 msgid[24];	/* "" when none */
	char		 error[64];	/* "" when none */
	long long	 errcode;
	bool		 has_errcode;
	long long	 created, updated;
	char		 batch[OUTBOX_ID_LEN + 1];
};
enum wx_err	 outbox_get(struct store *, const struct config *,
		    const char *id, struct outbox_msg *);

/* GET /batches/<id>: counts per status; *found false when unknown. */
enum wx_err	 outbox_batch(struct store *, const struct config *,
		    const char *id, bool *found, long long counts[OB__MAX]);

/*
 * A sent event (push): msgid (0: none) and openId/template; errcode 0
 * means delivered. Settles the message with that msgid (sent or
 * unknown), else the oldest unknown one of that user and template
 * within OUTBOX_SETTLE_S. *settled (may be NULL) gets the message id or
 * "". A sent event with errcode != 0 marks it failed with that errcode
 * and leaves the credit as it is.
 */
enum wx_err	 outbox_settle(struct store *, const struct config *,
		    uint64_t msgid, const char *openid, const char *tpl,
		    long errcode, char *settled, size_t settledlen);

/* `wxsub outbox`: what is where. */
struct outbox_counts {
	long long	 stream;	/* entries in the stream */
	long long	 pending;	/* read by a worker, not yet acknowledged */
	long long	 delayed;	/* waiting for a retry */
	long long	 failed;
	long long	 unknown;
};
enum wx_err	 outbox_counts(struct store *, const struct config *,
		    struct outbox_counts *);
/* Up to max failed ids, newest first, into ids (each OUTBOX_ID_LEN+1). */
enum wx_err	 outbox_failed(struct store *, const struct config *,
		    char (*ids)[OUTBOX_ID_LEN + 1], size_t max, size_t *n);
/*
 * `wxsub outbox retry <id>`: a failed message is queued again with its
 * attempts reset, after taking a credit again (its own was given back).
 * *how: "queued", or why not ("not_failed", "not_found",
 * "not_subscribed").
 */
enum wx_err	 outbox_retry(struct store *, const struct config *,
		    const char *id, const char **how);

/*
 * Durability: does the Redis reached keep an append-only file? 1 yes,
 * 0 no, -1 cannot tell (INFO refused, or Redis away). outbox_read_aof
 * reads INFO persistence's text the same way. Pure.
 */
int		 outbox_aof(struct store *);
int		 outbox_read_aof(const char *info, size_t len);

/* ---- the worker's steps (worker.c) ---- */

/* Make the group (and the stream) if missing. */
enum wx_err	 outbox_group(struct store *, const struct config *);

/*
 * A worker that stops forgets its consumer in the group, when nothing is
 * pending for it (cron's `worker --once` would otherwise leave one a run).
 */
enum wx_err	 outbox_leave_group(struct store *, const struct config *,
		    const char *consumer);

/* One stream entry handed to this worker. */
struct outbox_entry {
	char		 entry[48];	/* the stream entry id */
	char		 id[OUTBOX_ID_LEN + 1];	/* "" when unreadable */
	bool		 claimed;	/* taken over from another worker */
};
/*
 * New entries for consumer (XREADGROUP ... >), at most max, waiting up
 * to block_ms (0: not at all) when there are none.
 */
enum wx_err	 outbox_read(struct store *, const struct config *,
		    const char *consumer, long block_ms,
		    struct outbox_entry *out, size_t max, size_t *n);
/* Entries idle longer than outbox.claimAfterMs (XAUTOCLAIM). */
enum wx_err	 outbox_claim(struct store *, const struct config *,
		    const char *consumer, char *cursor, size_t cursorlen,
		    struct outbox_entry *out, size_t max, size_t *n);
/* Is a retry (or a deferred entry) due within ms from now? */
enum wx_err	 outbox_due_soon(struct store *, const struct config *,
		    long ms, bool *yes);
/* Put due retries back on the stream; *n gets how many. */
enum wx_err	 outbox_promote(struct store *, const struct config *,
		    size_t max, size_t *n);

enum outbox_begin {
	OBB_GO,		/* send it: payload and token are filled */
	OBB_DEFERRED,	/* user busy or fleet rate reached: put back for later */
	OBB_UNKNOWN,	/* it was being sent by a worker that died: unknown */
	OBB_DONE,	/* nothing to do (already final, or gone) */
};
struct outbox_job {
	char		 id[OUTBOX_ID_LEN + 1];
	char		 entry[48];
	char		 openid[LIM_OPENID + 1];
	char		 lockkey[LIM_KEY];
	char		 lockval[24];	/* also marks this attempt as ours */
	long		 lock_ms;
	double		 asked;		/* when the lock was asked for */
	char		*payload;	/* malloc'd */
	long long	 attempts;	/* including this one */
	char		 token[LIM_TOKEN];	/* "" when none is cached */
	long long	 token_ttl;
	long long	 queued_ms;	/* for the latency histogram */
};
/*
 * Take one entry: the user's send lock, a slot of the fleet's rate, and
 * the state 'sending' with one more attempt, in one script.
 */
enum wx_err	 outbox_begin(struct store *, const struct config *,
		    const struct outbox_entry *, long lock_ms,
		    struct outbox_job *, enum outbox_begin *);

/* What became of one attempt, as outbox_decide says. */
enum outbox_next {
	OBN_SENT, OBN_RETRY, OBN_FAILED, OBN_UNKNOWN, OBN_RENEW,
};
struct outbox_result {
	enum outbox_next next;
	struct wxe	 e;	/* what a failure is reported as (wxerr.h) */
	uint64_t	 msgid;
};
/*
 * The end of an attempt, in one script (only while the attempt is still
 * ours): the new state (a retry goes to the delayed set, due at due_ms
 * wall-clock), the credit given back on a final failure (cleared on
 * 43101; kept for long-term templates), the lock released, the entry
 * acknowledged and deleted.
 */
enum wx_err	 outbox_finish(struct store *, const struct config *,
		    const struct outbox_job *, const struct outbox_result *,
		    long long due_ms);
/* Put an entry back for later (deferred) without an attempt. */
enum wx_err	 outbox_defer(struct store *, const struct config *,
		    const struct outbox_entry *, long long due_ms);

/* ---- pure parts (unit-tested) ---- */

/*
 * Full-jitter backoff before attempt number `attempts + 1`: uniform in
 * [0, min(cap, base * 2^(attempts-1))], rnd a random 64-bit value.
 */
long		 outbox_backoff_ms(long base_ms, long long attempts,
		    uint64_t rnd);

/*
 * The outcome of one attempt. transfer_ok: an HTTP answer came, with
 * status and msgid as wechat_read_send read it (its error and errcode
 * are in the carrier outbox_decide gets); else request_sent says whether
 * the request may have reached WeChat. renewed: the token was renewed
 * once already for this attempt.
 */
struct outbox_attempt {
	bool		 transfer_ok;
	bool		 request_sent;
	long		 status;
	uint64_t	 msgid;
	long long	 attempts;	/* calls made so far, this one included */
	long		 max_attempts;
	bool		 renewed;
};
/*
 * What comes next. e holds the attempt's error as it came (WeChat's
 * answer as wechat_read_send read it, or the failed transfer); its err
 * becomes what the attempt came to (WX_OK: sent), its errcode and
 * message stay.
 */
enum outbox_next outbox_decide(const struct outbox_attempt *, struct wxe *e);

/*
 * Reply readers: hiredis replies to the struct they mean, no I/O. -1
 * when the reply has another shape.
 */
struct redisReply;
int		 outbox_read_msg(const struct redisReply *, struct outbox_msg *);
int		 outbox_read_entries(const struct redisReply *,
		    struct outbox_entry *, size_t max, size_t *n, bool claimed);

#endif
