/*
 * store.h: everything wxsub keeps in Redis, behind typed calls.
 *
 * Each call builds its command (or runs one of the Lua scripts, which
 * all live in scripts.c beside their KEYS/ARGV contracts),
 * sends it over the process's one connection (redis.[ch]: lazy,
 * self-healing, pipelined), and hands the reply to a reader below that
 * does no I/O. Every call returns WX_OK or WX_REDIS_UNAVAILABLE
 * (WX_INTERNAL for a reply of an unexpected shape).
 *
 * Key layout (the seed's, so both can share one Redis):
 *   redis.tokenKey                      the access token, plain string
 *   redis.lockKey                       the refresh lock (random value)
 *   SUBSCRIBE:<templateId>:<openId>     one-time credits (an integer;
 *                                       the seed's "1" reads as one)
 *   WXSUB:sendlock:<openId>             serializes sends to one user
 *   WXSUB:token:force                   fleet-wide force_refresh throttle
 *   WXSUB:token:ahead                   fleet-wide refresh-ahead throttle
 *   WXSUB:token:failed                  why the last fetch failed, for a
 *                                       short back-off
 *   WXSUB:metrics                       fleet-wide counters (metrics.h)
 *   WXSUB:session:<first half of sha256(token)>
 *                                       hash h (the whole sha256), openid o,
 *                                       session_key k, unionid u
 */
#ifndef WX_STORE_H
#define WX_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "redis.h"
#include "wxerr.h"

struct store;
struct redisReply;

struct store	*store_new(const struct config *);	/* no I/O yet */
/*
 * A store for cfg's keys over other's connection: several apps on one
 * Redis (conf_same_redis) share one connection per process. other must
 * outlive it; store_free leaves the connection to other.
 */
struct store	*store_new_sharing(const struct config *, struct store *other);
void		 store_free(struct store *);

/* Build a key; -1 if it does not fit (never truncated). Pure. */
int		 store_key_sub(const struct config *, const char *tpl,
		    const char *openid, char *out, size_t outlen);
int		 store_key(const struct config *, const char *what,
		    const char *id, char *out, size_t outlen);

enum wx_err	 store_ping(struct store *);

/*
 * redis.waitReplicas > 0: WAIT until that many replicas have every write
 * this connection made so far, for at most redis.waitMs. WX_OK when they
 * have (or when waitReplicas is 0), WX_REDIS_UNAVAILABLE when fewer did
 * in time: the write may then be lost in a fail-over, so it must not be
 * acknowledged as safe. Call it after a write that must not be lost
 * (store_credit_add does, in the same round trip).
 */
enum wx_err	 store_wait(struct store *);

/* Which Redis this store talks to (redis_where). */
int		 store_where(struct store *, char *out, size_t outlen);

/* The cached token and its TTL in one round trip; tok "" if none. */
enum wx_err	 store_token_get(struct store *, char *tok, size_t toklen,
		    long long *ttl);
enum wx_err	 store_token_set(struct store *, const char *tok, long ttl);
/*
 * The token key's GET and TTL as two plain commands, which a claim (the
 * send's, the worker's) sends after its script in the same write:
 * cmd is what redis_eval_then takes. Filled by store_token_cmds.
 */
struct token_cmds {
	const char		*get[2], *ttl[2];
	struct redis_cmd	 cmd[2];
};
void		 store_token_cmds(struct token_cmds *, const struct config *);
/* Drop the cached token only if it is still tok (compare-and-delete). */
enum wx_err	 store_token_drop(struct store *, const char *tok);

/* SET key val NX PX ms. */
enum wx_err	 store_lock(struct store *, const char *key, const char *val,
		    long ms, bool *got);
/* SET key val PX ms, and GET key into out ("" when absent). */
enum wx_err	 store_note_set(struct store *, const char *key, const char *val,
		    long ms);
enum wx_err	 store_note_get(struct store *, const char *key, char *out,
		    size_t outlen);
/* Delete key only if it still holds val. */
enum wx_err	 store_unlock(struct store *, const char *key, const char *val);
enum wx_err	 store_exists(struct store *, const char *key, bool *yes);
/*
 * A text kept without expiry (the template list, templates.h): SET, and
 * GET into *out (malloc'd, NUL-terminated; NULL when absent), refused
 * (WX_INTERNAL) when longer than max.
 */
enum wx_err	 store_blob_set(struct store *, const char *key, const char *val);
enum wx_err	 store_blob_get(struct store *, const char *key, char **out,
		    size_t *len, size_t max);

/*
 * Record accepts: for each keys[i], add one credit (marker[i] false) or
 * set the long-term marker "1" (marker[i] true); renew the TTL (ttl > 0)
 * or make the key persistent (ttl == 0). Atomic. counts[i] gets the
 * new value.
 */
enum wx_err	 store_credit_add(struct store *, const char *const *keys,
		    const bool *marker, size_t n, long ttl, long long *counts);
/*
 * The start of a send, in one round trip: take the user's send lock
 * (SET NX PX), spend one credit atomically (for a long-term template:
 * check its marker), and read the cached token. When there is no credit
 * the lock is released at once.
 */
enum send_state { SEND_BUSY, SEND_TAKEN, SEND_NONE };
struct send_claim {
	enum send_state	 state;
	long long	 pttl;		/* the credit's life before, ms (-1: none) */
	char		 token[LIM_TOKEN];	/* "" when none is cached */
	long long	 token_ttl;
	long		 lock_ms;	/* the lock's life */
	double		 asked;		/* when it was asked for (monotonic s) */
};
enum wx_err	 store_send_begin(struct store *, const char *lock,
		    const char *lockval, long lockms, const char *credit,
		    bool longterm, struct send_claim *);

/*
 * The end of a claimed send: keep the credit spent (sent), give it back
 * (a failure that did not consume it: a key gone at zero comes back with
 * ttl seconds when ttl > 0, else with the life it had, such as a seed
 * key's 30 days), or clear it (43101); then release the lock if it is
 * still ours.
 *
 * The common end, a credit kept, only notes the release: the next
 * claim on this store carries it (the claim script compares the lock's
 * value before deleting it, so however late it comes it deletes only
 * this send's lock), or store_release sends it (app.h says when). Every
 * other end is one script, waited for, that compares the lock's value
 * first.
 */
enum send_end { SEND_KEEP, SEND_RETURN, SEND_CLEAR };
enum wx_err	 store_send_end(struct store *, const char *lock,
		    const char *lockval, const struct send_claim *,
		    const char *credit, enum send_end, long ttl);
/* Send what is held (redis_hold), without waiting for a reply. */
void		 store_flush(struct store *);
/*
 * How long a send lock's release has been noted and not sent, ms (-1:
 * none). store_release sends it: a plain DEL, held and flushed without
 * waiting, while the lock is surely still ours (held for less than half
 * its life, timed from before it was asked for); past that a
 * compare-and-delete, waited for.
 */
double		 store_releasing_ms(const struct store *);
void		 store_release(struct store *);

/* Current counts of n keys (0 when absent or not a number). */
enum wx_err	 store_credit_get(struct store *, const char *const *keys,
		    size_t n, long long *counts);
/* Delete n keys; *deleted gets how many existed. */
enum wx_err	 store_del(struct store *, const char *const *keys, size_t n,
		    long long *deleted);

/* HINCRBY key fields[i] deltas[i] for each i, in one round trip. */
enum wx_err	 store_hash_add(struct store *, const char *key,
		    const char *const *fields, const long long *deltas, size_t n);
/*
 * HGETALL key into arrays the caller frees with store_hash_free; values
 * that are not integers read as 0.
 */
enum wx_err	 store_hash_all(struct store *, const char *key, char ***fields,
		    long long **values, size_t *n);
void		 store_hash_free(char **fields, long long *values, size_t n);

/* A session record (fields above), expiring after ttl seconds. */
enum wx_err	 store_session_put(struct store *, const char *key,
		    const char *hash, const char *openid, const char *session_key,
		    const char *unionid, long ttl);
/* Its hash and openId; both "" when there is no such session. */
enum wx_err	 store_session_get(struct store *, const char *key,
		    char *hash, size_t hashlen, char *openid, size_t oplen);

/*
 * Reply readers: pure functions of a reply (tests/unit/test_store.c
 * feeds them replies parsed by hiredis' reader, no server), used by the
 * calls above.
 */
/* {token or nil, ttl}: tok "" when nil; WX_INTERNAL if not that shape. */
enum wx_err	 store_read_token(const struct redisReply *, char *tok,
		    size_t toklen, long long *ttl);
/* SET ... NX: true when it was set (+OK), false when nil. */
bool		 store_read_set_nx(const struct redisReply *);
/* A bulk string into out; "" when nil, not a string, or too long. */
void		 store_read_string(const struct redisReply *, char *out,
		    size_t outlen);
/* An integer reply; 0 for anything else. */
long long	 store_read_integer(const struct redisReply *);
/* MGET of n credits: each an integer >= 0, else 0 (garbage reads none). */
enum wx_err	 store_read_counts(const struct redisReply *, size_t n,
		    long long *counts);
/* The credit script's n new values. */
enum wx_err	 store_read_credit_script(const struct redisReply *, size_t n,
		    long long *counts);
/*
 * The first reply for one key of store_credit_add's pipeline (SET for a
 * marker, INCRBY for a count): false when Redis refused it (a value that
 * is not a count), which the script then handles.
 */
bool		 store_read_credit_step(const struct redisReply *, bool marker,
		    long long *count);
/*
 * The send_begin script's answer, and the GET and TTL of the token key
 * sent after it, into state, pttl, token, token_ttl.
 */
enum wx_err	 store_read_send_begin(const struct redisReply *,
		    const struct redisReply *token,
		    const struct redisReply *ttl, struct send_claim *);
/* HMGET h o: both "" when absent. */
void		 store_read_session(const struct redisReply *, char *hash,
		    size_t hashlen, char *openid, size_t oplen);
/* HGETALL into arrays freed with store_hash_free. */
enum wx_err	 store_read_hash(const struct redisReply *, char ***fields,
		    long long **values, size_t *n);

/*
 * The connection itself, for modules that keep Redis logic of their own
 * with redis.h's calls (outbox.c).
 */
struct redis;
struct redis	*store_redis(struct store *);

#endif
