/*
 * store.c: wxsub's typed calls on Redis (see store.h). The connection is
 * redis.[ch]; each call here builds its command, sends it there, and
 * hands the reply to a pure reader (store_read_*, in store_read.c).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "join.h"
#include "log.h"
#include "num.h"
#include "redis.h"
#include "scripts.h"
#include "store.h"

/* ---- keys ---------------------------------------------------------- */

int
store_key_sub(const struct config *c, const char *tpl, const char *openid,
    char *out, size_t outlen)
{
	const char *parts[] = { c->sub_prefix, tpl, ":", openid };

	return join(out, outlen, parts, 4);
}

int
store_key(const struct config *c, const char *what, const char *id,
    char *out, size_t outlen)
{
	const char *parts[] = { c->prefix, what, ":", id };

	return join(out, outlen, parts, id != NULL ? 4 : 2);
}

/* ---- the calls ----------------------------------------------------- */

struct store {
	const struct config	*cfg;
	struct redis		*rd;
	bool			 shared;	/* rd is another store's */
	/* a send lock still to release (store_send_end), "" none */
	char			 rel_lock[LIM_KEY];
	char			 rel_val[32];	/* its value: sec_new_id, 23 */
	double			 rel_asked;
	long			 rel_ms;
	double			 rel_noted;	/* when store_send_end noted it */
};

struct store *
store_new(const struct config *cfg)
{
	struct store *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cfg = cfg;
	if ((s->rd = redis_new(cfg)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void
store_free(struct store *s)
{
	if (s == NULL)
		return;
	if (!s->shared) {
		store_release(s);	/* a sharing one's: app_free, first */
		redis_free(s->rd);	/* sends what is held first */
	}
	free(s);
}

struct store *
store_new_sharing(const struct config *cfg, struct store *other)
{
	struct store *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cfg = cfg;
	s->rd = other->rd;
	s->shared = true;
	return s;
}

void
store_flush(struct store *s)
{
	if (s != NULL)
		redis_flush(s->rd);
}

double
store_releasing_ms(const struct store *s)
{
	if (s == NULL || s->rel_lock[0] == '\0')
		return -1;
	return (clock_s() - s->rel_noted) * 1000.0;
}

void
store_release(struct store *s)
{
	const char *del[2], *keys[1], *args[1];
	redisReply *r;

	if (s == NULL || s->rel_lock[0] == '\0')
		return;
	/*
	 * Half the life: Redis times the lock on its own clock, from when
	 * the SET reached it; this side timed it from before it was sent.
	 * Within it a plain DEL, held and sent without waiting, is safe;
	 * past it only a compare may delete it. A DEL with no connection to
	 * hold it on leaves the lock to run out.
	 */
	if ((clock_s() - s->rel_asked) * 1000.0 < (double)s->rel_ms / 2) {
		del[0] = "DEL";
		del[1] = s->rel_lock;
		if (redis_hold(s->rd, 2, del) == 0)
			redis_flush(s->rd);
	} else {
		keys[0] = s->rel_lock;
		args[0] = s->rel_val;
		if ((r = redis_eval(s->rd, &SCRIPT_CAD, 1, keys, 1, args)) != NULL)
			freeReplyObject(r);
	}
	s->rel_lock[0] = '\0';
}

/* redis_command over a NULL-terminated list of strings (at most 8). */
static redisReply *
command(struct store *s, const char *first, ...)
{
	const char *argv[8];
	size_t argc = 0;
	va_list ap;

	argv[argc++] = first;
	va_start(ap, first);
	while (argc < sizeof(argv) / sizeof(argv[0]) &&
	    (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	return redis_command(s->rd, argc, argv);
}

/* A keyed command over n keys: MGET, DEL. */
static redisReply *
keys_command(struct store *s, const char *name, const char *const *keys,
    size_t n)
{
	const char *argv[1 + LIM_TEMPLATES];

	if (n > LIM_TEMPLATES)
		return NULL;
	argv[0] = name;
	memcpy(argv + 1, keys, n * sizeof(*keys));
	return redis_command(s->rd, n + 1, argv);
}

/* The reply's fate for calls that only need it to exist. */
static enum wx_err
done(redisReply *r)
{
	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
store_ping(struct store *s)
{
	return done(command(s, "PING", NULL));
}

/* How many replicas a WAIT reply counted; -1 for anything else. */
static long long
replicas_of(const redisReply *r)
{
	return r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
}

/* The verdict on a WAIT: enough replicas, or why not in the log. */
static enum wx_err
wait_verdict(const struct store *s, long long got)
{
	if (got >= s->cfg->wait_replicas)
		return WX_OK;
	log_warn("redis: %lld of %ld replica(s) confirmed a write within %ld ms",
	    got < 0 ? 0 : got, s->cfg->wait_replicas, s->cfg->wait_ms);
	return WX_REDIS_UNAVAILABLE;
}

enum wx_err
store_wait(struct store *s)
{
	char n[NUM_DEC_MAX], ms[NUM_DEC_MAX];
	redisReply *r;
	enum wx_err err;

	if (s->cfg->wait_replicas == 0)
		return WX_OK;
	num_i64(n, s->cfg->wait_replicas);
	num_i64(ms, s->cfg->wait_ms);
	if ((r = command(s, "WAIT", n, ms, NULL)) == NULL)
		return WX_REDIS_UNAVAILABLE;
	err = wait_verdict(s, replicas_of(r));
	freeReplyObject(r);
	return err;
}

int
store_where(struct store *s, char *out, size_t outlen)
{
	return redis_where(s->rd, out, outlen);
}

enum wx_err
store_token_get(struct store *s, char *tok, size_t toklen, long long *ttl)
{
	const char *keys[1] = { s->cfg->token_key };
	redisReply *r = redis_eval(s->rd, &SCRIPT_TOKEN_GET, 1, keys, 0, NULL);
	enum wx_err err;

	tok[0] = '\0';
	*ttl = -2;
	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	err = store_read_token(r, tok, toklen, ttl);
	freeReplyObject(r);
	return err;
}

void
store_token_cmds(struct token_cmds *t, const struct config *cfg)
{
	t->get[0] = "GET";
	t->ttl[0] = "TTL";
	t->get[1] = t->ttl[1] = cfg->token_key;
	t->cmd[0] = (struct redis_cmd){ 2, t->get };
	t->cmd[1] = (struct redis_cmd){ 2, t->ttl };
}

enum wx_err
store_token_set(struct store *s, const char *tok, long ttl)
{
	char ex[NUM_DEC_MAX];

	num_i64(ex, ttl);
	return done(command(s, "SET", s->cfg->token_key, tok, "EX", ex, NULL));
}

enum wx_err
store_unlock(struct store *s, const char *key, const char *val)
{
	const char *keys[1] = { key }, *args[1] = { val };

	return done(redis_eval(s->rd, &SCRIPT_CAD, 1, keys, 1, args));
}

enum wx_err
store_token_drop(struct store *s, const char *tok)
{
	return store_unlock(s, s->cfg->token_key, tok);
}

enum wx_err
store_lock(struct store *s, const char *key, const char *val, long ms,
    bool *got)
{
	char px[NUM_DEC_MAX];
	redisReply *r;

	*got = false;
	num_i64(px, ms);
	if ((r = command(s, "SET", key, val, "NX", "PX", px, NULL)) == NULL)
		return WX_REDIS_UNAVAILABLE;
	*got = store_read_set_nx(r);
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
store_note_set(struct store *s, const char *key, const char *val, long ms)
{
	char px[NUM_DEC_MAX];

	num_i64(px, ms);
	return done(command(s, "SET", key, val, "PX", px, NULL));
}

enum wx_err
store_note_get(struct store *s, const char *key, char *out, size_t outlen)
{
	redisReply *r = command(s, "GET", key, NULL);

	out[0] = '\0';
	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	store_read_string(r, out, outlen);
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
store_blob_set(struct store *s, const char *key, const char *val)
{
	return done(command(s, "SET", key, val, NULL));
}

enum wx_err
store_blob_get(struct store *s, const char *key, char **out, size_t *len,
    size_t max)
{
	redisReply *r = command(s, "GET", key, NULL);
	enum wx_err err = WX_OK;

	*out = NULL;
	*len = 0;
	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	if (r->type == REDIS_REPLY_STRING) {
		if ((size_t)r->len > max || (*out = malloc((size_t)r->len + 1)) == NULL)
			err = WX_INTERNAL;
		else {
			memcpy(*out, r->str, (size_t)r->len);
			(*out)[r->len] = '\0';
			*len = (size_t)r->len;
		}
	} else if (r->type != REDIS_REPLY_NIL)
		err = WX_INTERNAL;
	freeReplyObject(r);
	return err;
}

enum wx_err
store_exists(struct store *s, const char *key, bool *yes)
{
	redisReply *r = command(s, "EXISTS", key, NULL);

	*yes = false;
	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	*yes = store_read_integer(r) > 0;
	freeReplyObject(r);
	return WX_OK;
}

/* The Lua form of store_credit_add: any number of keys, any old value. */
static enum wx_err
credit_add_script(struct store *s, const char *const *keys, const bool *marker,
    size_t n, long ttl, long long *counts)
{
	const char *args[1 + LIM_TEMPLATES];
	char ttlbuf[NUM_DEC_MAX];
	redisReply *r;
	enum wx_err err;
	size_t i;

	num_i64(ttlbuf, ttl);
	args[0] = ttlbuf;
	for (i = 0; i < n; i++)
		args[1 + i] = marker[i] ? "m" : "c";
	if ((r = redis_eval(s->rd, &SCRIPT_CREDIT_ADD, n, keys, n + 1, args)) ==
	    NULL)
		return WX_REDIS_UNAVAILABLE;
	err = store_read_credit_script(r, n, counts);
	freeReplyObject(r);
	return err;
}

/*
 * The common case without Lua, which costs Redis several times a plain
 * command: per key, INCRBY then EXPIRE (or PERSIST), or for a long-term
 * template SET with its life, all in one write and one round trip. Each
 * command is atomic on its own, and a send that takes the last credit in
 * between only makes the EXPIRE find no key. A key whose value is not a
 * count (INCRBY refuses it) goes through the script, which replaces such
 * a value.
 */
enum wx_err
store_credit_add(struct store *s, const char *const *keys, const bool *marker,
    size_t n, long ttl, long long *counts)
{
	const char *a[LIM_TEMPLATES][5], *b[LIM_TEMPLATES][3];
	char ttlbuf[NUM_DEC_MAX], waitn[NUM_DEC_MAX], waitms[NUM_DEC_MAX];
	const char *wait[] = { "WAIT", waitn, waitms };
	struct redis_cmd cmd[2 * LIM_TEMPLATES + 1];
	redisReply *rep[2 * LIM_TEMPLATES + 1];
	size_t i, nrep = 0, at;
	enum wx_err err = WX_OK;
	bool late = false;	/* a key went through the script after the WAIT */

	if (n == 0 || n > LIM_TEMPLATES)
		return WX_INTERNAL;
	num_i64(ttlbuf, ttl);
	for (i = 0; i < n; i++) {
		a[i][1] = b[i][1] = keys[i];
		a[i][4] = b[i][2] = ttlbuf;
		if (marker[i]) {	/* SET key 1 [EX ttl] */
			a[i][0] = "SET";
			a[i][2] = "1";
			a[i][3] = "EX";
			cmd[nrep++] = (struct redis_cmd){ ttl > 0 ? 5 : 3, a[i] };
			continue;
		}
		/* INCRBY key 1, then EXPIRE key ttl or PERSIST key */
		a[i][0] = "INCRBY";
		a[i][2] = "1";
		b[i][0] = ttl > 0 ? "EXPIRE" : "PERSIST";
		cmd[nrep++] = (struct redis_cmd){ 3, a[i] };
		cmd[nrep++] = (struct redis_cmd){ ttl > 0 ? 3 : 2, b[i] };
	}
	/* redis.waitReplicas: the WAIT goes in the same write. */
	if (s->cfg->wait_replicas > 0) {
		num_i64(waitn, s->cfg->wait_replicas);
		num_i64(waitms, s->cfg->wait_ms);
		cmd[nrep++] = (struct redis_cmd){ 3, wait };
	}
	if (redis_pipeline(s->rd, nrep, cmd, rep) != 0)
		return WX_REDIS_UNAVAILABLE;
	if (s->cfg->wait_replicas > 0)
		err = wait_verdict(s, replicas_of(rep[nrep - 1]));
	for (i = 0, at = 0; i < n && err == WX_OK; at += marker[i] ? 1 : 2, i++)
		if (!store_read_credit_step(rep[at], marker[i], &counts[i])) {
			/* refused (not a count): the script's way for this key */
			err = credit_add_script(s, &keys[i], &marker[i], 1, ttl,
			    &counts[i]);
			late = true;
		}
	for (i = 0; i < nrep; i++)
		freeReplyObject(rep[i]);
	return err == WX_OK && late ? store_wait(s) : err;
}

enum wx_err
store_send_begin(struct store *s, const char *lock, const char *lockval,
    long lockms, const char *credit, bool longterm, struct send_claim *c)
{
	char ms[NUM_DEC_MAX];
	const char *keys[3] = { lock, credit, NULL };
	const char *args[4] = { lockval, ms, longterm ? "1" : "0", NULL };
	struct token_cmds after;
	redisReply *r, *tok[2];
	enum wx_err err;

	memset(c, 0, sizeof(*c));
	c->state = SEND_BUSY;
	c->pttl = c->token_ttl = -1;
	c->lock_ms = lockms;
	c->asked = clock_s();
	num_i64(ms, lockms);
	store_token_cmds(&after, s->cfg);
	/* A release still to send rides with the claim (compared there). */
	if (s->rel_lock[0] != '\0') {
		keys[2] = s->rel_lock;
		args[3] = s->rel_val;
	}
	r = redis_eval_then(s->rd, &SCRIPT_SEND_BEGIN, s->rel_lock[0] ? 3 : 2,
	    keys, s->rel_lock[0] ? 4 : 3, args, 2, after.cmd, tok);
	s->rel_lock[0] = '\0';	/* sent, or left to run out with the link */
	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	err = store_read_send_begin(r, tok[0], tok[1], c);
	freeReplyObject(r);
	freeReplyObject(tok[0]);
	freeReplyObject(tok[1]);
	return err;
}

enum wx_err
store_send_end(struct store *s, const char *lock, const char *lockval,
    const struct send_claim *c, const char *credit, enum send_end how,
    long ttl)
{
	static const char *const modes[] = {
		[SEND_KEEP] = "k", [SEND_RETURN] = "r", [SEND_CLEAR] = "c",
	};
	char ttlbuf[NUM_DEC_MAX], pttlbuf[NUM_DEC_MAX];
	const char *keys[2] = { lock, credit };
	const char *args[4] = { lockval, modes[how], ttlbuf, pttlbuf };

	store_release(s);	/* one pending at a time */
	if (how == SEND_KEEP && strlen(lock) < sizeof(s->rel_lock) &&
	    strlen(lockval) < sizeof(s->rel_val)) {
		memcpy(s->rel_lock, lock, strlen(lock) + 1);
		memcpy(s->rel_val, lockval, strlen(lockval) + 1);
		s->rel_asked = c->asked;
		s->rel_ms = c->lock_ms;
		s->rel_noted = clock_s();
		return WX_OK;
	}
	num_i64(ttlbuf, ttl);
	num_i64(pttlbuf, c->pttl);
	return done(redis_eval(s->rd, &SCRIPT_SEND_END, 2, keys, 4, args));
}

enum wx_err
store_credit_get(struct store *s, const char *const *keys, size_t n,
    long long *counts)
{
	redisReply *r;
	enum wx_err err;

	if (n == 0)
		return WX_OK;
	if ((r = keys_command(s, "MGET", keys, n)) == NULL)
		return WX_REDIS_UNAVAILABLE;
	err = store_read_counts(r, n, counts);
	freeReplyObject(r);
	return err;
}

enum wx_err
store_del(struct store *s, const char *const *keys, size_t n,
    long long *deleted)
{
	redisReply *r;

	*deleted = 0;
	if (n == 0)
		return WX_OK;
	if ((r = keys_command(s, "DEL", keys, n)) == NULL)
		return WX_REDIS_UNAVAILABLE;
	*deleted = store_read_integer(r);
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
store_session_put(struct store *s, const char *key, const char *hash,
    const char *openid, const char *session_key, const char *unionid, long ttl)
{
	char ttlbuf[NUM_DEC_MAX];
	const char *keys[1] = { key };
	const char *args[5] = { hash, openid, session_key, unionid, ttlbuf };

	num_i64(ttlbuf, ttl);
	return done(redis_eval(s->rd, &SCRIPT_SESSION_PUT, 1, keys, 5, args));
}

enum wx_err
store_session_get(struct store *s, const char *key, char *hash, size_t hashlen,
    char *openid, size_t oplen)
{
	redisReply *r = command(s, "HMGET", key, "h", "o", NULL);

	hash[0] = openid[0] = '\0';
	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	store_read_session(r, hash, hashlen, openid, oplen);
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
store_hash_add(struct store *s, const char *key, const char *const *fields,
    const long long *deltas, size_t n)
{
	const char **argv;
	char (*nums)[NUM_DEC_MAX];
	enum wx_err err = WX_INTERNAL;
	size_t i, argc = 0;

	if (n == 0)
		return WX_OK;
	argv = calloc(2 * n + 4, sizeof(*argv));
	nums = calloc(n, sizeof(*nums));
	if (argv == NULL || nums == NULL)
		goto out;
	argv[argc++] = "EVAL";	/* not EVALSHA: see SCRIPT_HASH_ADD */
	argv[argc++] = SCRIPT_HASH_ADD.src;
	argv[argc++] = "1";
	argv[argc++] = key;
	for (i = 0; i < n; i++) {
		num_i64(nums[i], deltas[i]);
		argv[argc++] = fields[i];
		argv[argc++] = nums[i];
	}
	err = done(redis_command(s->rd, argc, argv));
out:
	free(argv);
	free(nums);
	return err;
}

enum wx_err
store_hash_all(struct store *s, const char *key, char ***fields,
    long long **values, size_t *n)
{
	redisReply *r = command(s, "HGETALL", key, NULL);
	enum wx_err err;

	*fields = NULL;
	*values = NULL;
	*n = 0;
	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	err = store_read_hash(r, fields, values, n);
	freeReplyObject(r);
	return err;
}

struct redis *
store_redis(struct store *s)
{
	return s->rd;
}
