/*
 * scripts.h: every Lua script wxsub runs in Redis, in one place
 * (scripts.c, each beside its KEYS/ARGV contract and what it returns),
 * named by the module that runs it. A module passes one to redis_eval
 * (redis.h), which runs it by EVALSHA and loads it when Redis does not
 * know it. The rules several scripts share (spending a credit, taking a
 * user's send lock, giving a credit back) are written once, in
 * scripts.c, so the responder's sends and the worker's agree.
 */
#ifndef WX_SCRIPTS_H
#define WX_SCRIPTS_H

struct redis_script;

/* store.c */
extern const struct redis_script SCRIPT_CAD;		/* compare-and-delete */
extern const struct redis_script SCRIPT_TOKEN_GET;	/* token and its TTL */
extern const struct redis_script SCRIPT_CREDIT_ADD;	/* /record's slow path */
extern const struct redis_script SCRIPT_SEND_BEGIN;	/* lock, claim, token */
extern const struct redis_script SCRIPT_SEND_END;	/* give back, unlock */
extern const struct redis_script SCRIPT_SESSION_PUT;
extern const struct redis_script SCRIPT_HASH_ADD;	/* metrics' counters */

/* guard.c */
extern const struct redis_script SCRIPT_GUARD_ENTER;	/* login rate, leases */

/* idem.c */
extern const struct redis_script SCRIPT_IDEM_BEGIN;	/* check and mark */

/* outbox.c */
extern const struct redis_script SCRIPT_OUTBOX_ENQUEUE;	/* + the key's record */
extern const struct redis_script SCRIPT_OUTBOX_BEGIN;	/* an attempt starts */
extern const struct redis_script SCRIPT_OUTBOX_FINISH;	/* and ends */
extern const struct redis_script SCRIPT_OUTBOX_DEFER;
extern const struct redis_script SCRIPT_OUTBOX_LEAVE;	/* drop a consumer */
extern const struct redis_script SCRIPT_OUTBOX_PROMOTE;	/* due retries */
extern const struct redis_script SCRIPT_OUTBOX_SETTLE;	/* a sent event */
extern const struct redis_script SCRIPT_OUTBOX_BATCH;	/* a batch's counts */
extern const struct redis_script SCRIPT_OUTBOX_COUNTS;
extern const struct redis_script SCRIPT_OUTBOX_RETRY;	/* outbox retry <id> */

#endif
