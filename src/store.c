/*
 * store.c: the Redis side of wxsub over hiredis (0.14 API).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "clock.h"
#include "join.h"
#include "log.h"
#include "metrics.h"
#include "num.h"
#include "sentinel.h"
#include "store.h"

/* Short limits: a Redis that does not answer must cost well under 1 s. */
#define CONNECT_MS	300
#define COMMAND_MS	400
#define LIM_RESP	4096	/* a command formatted on the stack */

static const char LUA_SESSION_PUT[] =
    "redis.call('del', KEYS[1]) "
    "redis.call('hset', KEYS[1], 'h', ARGV[1], 'o', ARGV[2], 'k', ARGV[3], "
    "'u', ARGV[4]) "
    "redis.call('expire', KEYS[1], tonumber(ARGV[5])) return 1";

static const char LUA_HASH_ADD[] =
    "for i = 1, #ARGV, 2 do "
    "redis.call('hincrby', KEYS[1], ARGV[i], ARGV[i + 1]) end return 1";

/*
 * Lua scripts run by EVALSHA: the body crosses the wire only when Redis
 * does not know it yet (first use, or after a restart: NOSCRIPT).
 */
enum script {
	SCRIPT_CAD, SCRIPT_TOKEN_GET, SCRIPT_CREDIT_ADD, SCRIPT_SEND_BEGIN,
	SCRIPT_SEND_END, SCRIPT_SESSION_PUT, SCRIPT__MAX
};

struct store {
	const struct config	*cfg;
	redisContext		*ctx;
	char			 sha[SCRIPT__MAX][41];	/* "" until loaded */
	bool			 fresh;	/* connected during this call */
	bool			 down_logged;
	int			 unread;	/* replies owed (store_send_end) */
	size_t			 sentinel_next;	/* the one to ask first */
	struct sentinel_found	 master;	/* port 0 until one was found */
};

/* Compare-and-delete: the seed's release script. */
static const char LUA_CAD[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end";

static const char LUA_TOKEN_GET[] =
    "return {redis.call('get', KEYS[1]), redis.call('ttl', KEYS[1])}";

/* ARGV[1] = ttl, ARGV[1 + i] = 'm' (marker) or 'c' (count) per key. */
static const char LUA_CREDIT_ADD[] =
    "local ttl = tonumber(ARGV[1]) local out = {} "
    "for i, k in ipairs(KEYS) do "
    "  local v "
    "  if ARGV[i + 1] == 'm' then redis.call('set', k, '1') v = 1 "
    "  else "
    "    local cur = redis.call('get', k) "
    "    if cur and not tonumber(cur) then redis.call('del', k) end "
    "    v = redis.call('incrby', k, 1) "
    "  end "
    "  if ttl > 0 then redis.call('expire', k, ttl) "
    "  else redis.call('persist', k) end "
    "  out[i] = v "
    "end return out";

/*
 * KEYS: send lock, credit, token. ARGV: lock value, lock ms, long-term.
 * {0} busy; {2} no credit (lock released); {1, credit pttl before,
 * token or nil, token ttl}. A credit never goes below zero and its key
 * disappears at zero; the pttl lets a credit given back keep its life.
 */
static const char LUA_SEND_BEGIN[] =
    "if not redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then "
    "  return {0} end "
    "local taken, pttl = 0, -1 "
    "if ARGV[3] == '1' then taken = redis.call('exists', KEYS[2]) "
    "else "
    "  local v = tonumber(redis.call('get', KEYS[2]) or '0') "
    "  if v ~= nil and v >= 1 then "
    "    pttl = redis.call('pttl', KEYS[2]) "
    "    if v <= 1 then redis.call('del', KEYS[2]) "
    "    else redis.call('decr', KEYS[2]) end "
    "    taken = 1 "
    "  end "
    "end "
    "if taken == 0 then redis.call('del', KEYS[1]) return {2} end "
    "return {1, pttl, redis.call('get', KEYS[3]), redis.call('ttl', KEYS[3])}";

/*
 * KEYS: send lock, credit. ARGV: lock value, 'k'eep / 'r'eturn /
 * 'c'lear, subscribe.ttl (s), the credit's life before (ms, or -1).
 */
static const char LUA_SEND_END[] =
    "if ARGV[2] == 'r' then "
    "  redis.call('incrby', KEYS[2], 1) "
    "  if redis.call('pttl', KEYS[2]) < 0 then "
    "    local ttl, had = tonumber(ARGV[3]), tonumber(ARGV[4]) "
    "    if ttl > 0 then redis.call('expire', KEYS[2], ttl) "
    "    elseif had > 0 then redis.call('pexpire', KEYS[2], had) end "
    "  end "
    "elseif ARGV[2] == 'c' then redis.call('del', KEYS[2]) end "
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "  redis.call('del', KEYS[1]) end "
    "return 1";

struct store *
store_new(const struct config *cfg)
{
	struct store *s = calloc(1, sizeof(*s));

	if (s != NULL)
		s->cfg = cfg;
	return s;
}

static void
drop(struct store *s)
{
	if (s->ctx != NULL)
		redisFree(s->ctx);
	s->ctx = NULL;
	s->unread = 0;
}

/*
 * Read the replies owed for commands that were not waited for (replies
 * come in order, so before the next command's own); redisGetReply sends
 * first whatever is still in the buffer. -1 when the connection failed:
 * the caller drops it; a lock whose release went unconfirmed still runs
 * out with its life.
 */
static int
owed(struct store *s)
{
	redisReply *r;
	void *reply;

	while (s->unread > 0) {
		if (redisGetReply(s->ctx, &reply) != REDIS_OK) {
			log_warn("redis: a send lock's release went unconfirmed: %s",
			    s->ctx->errstr);
			s->unread = 0;
			return -1;
		}
		r = reply;
		if (r->type == REDIS_REPLY_ERROR)
			log_warn("redis refused a send lock's release: %.200s", r->str);
		freeReplyObject(r);
		s->unread--;
	}
	return 0;
}

void
store_free(struct store *s)
{
	if (s == NULL)
		return;
	store_flush(s);		/* a held release must not wait for its life */
	drop(s);
	free(s);
}

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

static void
note_down(struct store *s, const char *why)
{
	/* One line per outage, not one per request. */
	if (!s->down_logged)
		log_error("redis unavailable: %s", why);
	s->down_logged = true;
	drop(s);
}

/*
 * A connection to host:port (the unix socket when host is NULL) with the
 * configured AUTH and SELECT: redis.url's address, or a master a
 * sentinel named. NULL with a reason in why (never the password).
 */
static redisContext *
open_redis(void *arg, const char *host, int port, char *why, size_t whylen)
{
	struct timeval ct = { 0, CONNECT_MS * 1000 };
	struct timeval rt = { 0, COMMAND_MS * 1000 };
	const struct config *c = arg;
	redisContext *ctx;
	redisReply *r = NULL;

	if (host == NULL)
		ctx = redisConnectUnixWithTimeout(c->redis_unix, ct);
	else
		ctx = redisConnectWithTimeout(host, port, ct);
	if (ctx == NULL || ctx->err) {
		snprintf(why, whylen, "%s", ctx ? ctx->errstr : "out of memory");
		goto fail;
	}
	redisSetTimeout(ctx, rt);
	if (c->redis_password[0] != '\0') {
		if (c->redis_user[0] != '\0')
			r = redisCommand(ctx, "AUTH %s %s", c->redis_user,
			    c->redis_password);
		else
			r = redisCommand(ctx, "AUTH %s", c->redis_password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			/* Never the password itself. */
			snprintf(why, whylen, "%s", r ? "AUTH refused" : ctx->errstr);
			goto fail;
		}
		freeReplyObject(r);
		r = NULL;
	}
	if (c->redis_db != 0) {
		r = redisCommand(ctx, "SELECT %d", c->redis_db);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			snprintf(why, whylen, "%.200s", r ? r->str : ctx->errstr);
			goto fail;
		}
		freeReplyObject(r);
	}
	return ctx;
fail:
	if (r != NULL)
		freeReplyObject(r);
	if (ctx != NULL)
		redisFree(ctx);
	return NULL;
}

/*
 * A sentinel named a master: a different one than before means a
 * fail-over, and the new master knows none of our scripts yet (they are
 * loaded again at their next use).
 */
static void
master_found(struct store *s, const struct sentinel_found *f)
{
	const struct hostport *via = &s->cfg->sentinels[f->via];
	bool moved = s->master.port != 0 && (s->master.port != f->port ||
	    strcmp(s->master.host, f->host) != 0);

	if (s->master.port == 0 || moved) {
		memset(s->sha, 0, sizeof(s->sha));
		log_msg(moved ? LOG_INFO : LOG_DEBUG, "redis: master %s is at "
		    "%s:%d (sentinel %s:%d)", s->cfg->master_name, f->host,
		    f->port, via->host, via->port);
	}
	s->master = *f;
}

static int
connect_now(struct store *s)
{
	const struct config *c = s->cfg;
	struct sentinel_found f;
	char why[LIM_ERRMSG];

	if (c->n_sentinels > 0) {
		s->ctx = sentinel_connect(c, &s->sentinel_next, open_redis,
		    (void *)c, &f, why, sizeof(why));
		if (s->ctx != NULL)
			master_found(s, &f);
	} else
		s->ctx = open_redis((void *)c, c->redis_unix[0] != '\0' ? NULL :
		    c->redis_host, c->redis_port, why, sizeof(why));
	if (s->ctx == NULL) {
		note_down(s, why);
		return -1;
	}
	if (s->down_logged)
		log_info("redis reachable again");
	s->down_logged = false;
	s->fresh = true;
	return 0;
}

/*
 * A reply that says this server is a replica now (READONLY: a fail-over
 * demoted it, or a sentinel's answer is stale): the connection is
 * dropped, so the next attempt asks the sentinels again. Such a write
 * did not run, so it may be sent once more to the new master.
 */
static bool
demoted(struct store *s, redisReply *const *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (r[i]->type == REDIS_REPLY_ERROR &&
		    strncmp(r[i]->str, "READONLY", 8) == 0) {
			log_warn("redis: %s answers READONLY: asking again "
			    "for the master", s->master.port != 0 ?
			    s->master.host : "the server");
			drop(s);
			return true;
		}
	return false;
}

/* "*3\r\n" or "$5\r\n" at buf + *o; -1 when it does not fit. */
static int
put_header(char *buf, size_t buflen, size_t *o, char kind, size_t n)
{
	char digits[NUM_DEC_MAX];
	size_t d = num_u64(digits, n);

	if (d + 3 > buflen - *o)
		return -1;
	buf[(*o)++] = kind;
	memcpy(buf + *o, digits, d);
	*o += d;
	buf[(*o)++] = '\r';
	buf[(*o)++] = '\n';
	return 0;
}

/*
 * The command in Redis' wire format, appended at buf + *o: hiredis would
 * build the same bytes with several allocations. -1 when it does not fit
 * (*o is then left as it was).
 */
static int
resp_append(char *buf, size_t buflen, size_t *o, size_t argc,
    const char *const *argv)
{
	size_t at = *o, i, n;

	if (put_header(buf, buflen, &at, '*', argc) != 0)
		return -1;
	for (i = 0; i < argc; i++) {
		n = strlen(argv[i]);
		if (put_header(buf, buflen, &at, '$', n) != 0 || n + 2 > buflen - at)
			return -1;
		memcpy(buf + at, argv[i], n);
		at += n;
		buf[at++] = '\r';
		buf[at++] = '\n';
	}
	*o = at;
	return 0;
}

/*
 * After a failed exchange: drop the connection, and say whether to send
 * once more. Only a reused connection found dead before any reply came
 * is worth it (Redis restarted): the command never reached the old
 * server, so sending it again cannot run it twice.
 */
static bool
worth_again(struct store *s, bool got_reply)
{
	bool stale = !got_reply && !s->fresh && (s->ctx->err == REDIS_ERR_EOF ||
	    (s->ctx->err == REDIS_ERR_IO &&
	    (errno == EPIPE || errno == ECONNRESET)));

	note_down(s, s->ctx->errstr);
	if (stale)
		s->down_logged = false;	/* a restart is not an outage yet */
	return stale;
}

/*
 * Send buf[0..len), already in Redis' wire format and holding n commands,
 * in one write, and read their n replies into out (caller frees, error
 * replies included): one round trip however many commands. Connects first
 * when needed. A reused connection that turns out to be dead (Redis
 * restarted) before any reply came is reopened and the commands sent once
 * more: they never reached the old server. 0, or -1 when Redis is
 * unavailable (out then holds nothing).
 */
static int
exec_raw(struct store *s, const char *buf, size_t len, size_t n,
    redisReply **out)
{
	size_t got = 0;
	void *reply;
	double t0;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		s->fresh = false;
		if (s->ctx == NULL && connect_now(s) != 0)
			return -1;
		t0 = clock_s();
		/* What is held goes out in the same write, its reply first. */
		if (redisAppendFormattedCommand(s->ctx, buf, len) == REDIS_OK &&
		    owed(s) == 0)
			while (got < n && redisGetReply(s->ctx, &reply) == REDIS_OK)
				out[got++] = reply;
		metrics_observe(HIST_REDIS, clock_s() - t0);
		if (got == n && !demoted(s, out, n))
			return 0;
		bool again = got == n || worth_again(s, got > 0);
		while (got > 0)
			freeReplyObject(out[--got]);
		if (!again)
			return -1;
	}
	return -1;
}

/*
 * Run one command given as an argument vector (exec_raw's rules). Returns
 * the reply (caller frees, error replies included) or NULL when Redis is
 * unavailable.
 */
static redisReply *
exec_argv(struct store *s, size_t argc, const char **argv)
{
	char buf[LIM_RESP];
	redisReply *r = NULL;
	size_t len = 0;
	double t0;
	int attempt;

	if (resp_append(buf, sizeof(buf), &len, argc, argv) == 0)
		return exec_raw(s, buf, len, 1, &r) == 0 ? r : NULL;
	/* Too big for the stack: hiredis formats it. */
	for (attempt = 0; attempt < 2; attempt++) {
		s->fresh = false;
		if (s->ctx != NULL && owed(s) != 0)
			drop(s);
		if (s->ctx == NULL && connect_now(s) != 0)
			return NULL;
		t0 = clock_s();
		r = redisCommandArgv(s->ctx, (int)argc, argv, NULL);
		metrics_observe(HIST_REDIS, clock_s() - t0);
		if (r != NULL && !demoted(s, &r, 1))
			return r;
		if (r != NULL)
			freeReplyObject(r);
		else if (!worth_again(s, false))
			return NULL;
	}
	return NULL;
}

/* exec_argv, with an error reply logged and turned into NULL. */
static redisReply *
cmdv(struct store *s, size_t argc, const char **argv)
{
	redisReply *r = exec_argv(s, argc, argv);

	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		log_error("redis error: %.200s", r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* cmdv over a NULL-terminated list of strings. */
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
	return cmdv(s, argc, argv);
}

static const char *const script_src[SCRIPT__MAX] = {
	[SCRIPT_CAD] = LUA_CAD,
	[SCRIPT_TOKEN_GET] = LUA_TOKEN_GET,
	[SCRIPT_CREDIT_ADD] = LUA_CREDIT_ADD,
	[SCRIPT_SEND_BEGIN] = LUA_SEND_BEGIN,
	[SCRIPT_SEND_END] = LUA_SEND_END,
	[SCRIPT_SESSION_PUT] = LUA_SESSION_PUT,
};

/* SCRIPT LOAD a script and remember its SHA-1; -1 when Redis is away. */
static int
load_script(struct store *s, enum script sc)
{
	const char *argv[3] = { "SCRIPT", "LOAD", script_src[sc] };
	redisReply *r = cmdv(s, 3, argv);

	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING && r->len == 40)
		memcpy(s->sha[sc], r->str, 41);
	freeReplyObject(r);
	return s->sha[sc][0] != '\0' ? 0 : -1;
}

/*
 * EVALSHA a script over keys[0..n) then args[0..nargs); loads it first
 * when Redis does not know it. Reply as cmdv's.
 */
static redisReply *
eval_keys(struct store *s, enum script sc, const char *const *keys,
    size_t n, const char *const *args, size_t nargs)
{
	const char *argv[3 + 2 * LIM_TEMPLATES + 8];
	char nkeys[NUM_DEC_MAX];
	size_t argc = 0, i;
	redisReply *r;
	int attempt;

	if (n + nargs + 3 > sizeof(argv) / sizeof(argv[0]))
		return NULL;
	num_u64(nkeys, n);
	argv[argc++] = "EVALSHA";
	argv[argc++] = s->sha[sc];
	argv[argc++] = nkeys;
	for (i = 0; i < n; i++)
		argv[argc++] = keys[i];
	for (i = 0; i < nargs; i++)
		argv[argc++] = args[i];
	for (attempt = 0; attempt < 2; attempt++) {
		if (s->sha[sc][0] == '\0' && load_script(s, sc) != 0)
			return NULL;
		if ((r = exec_argv(s, argc, argv)) == NULL)
			return NULL;
		if (r->type == REDIS_REPLY_ERROR &&
		    strncmp(r->str, "NOSCRIPT", 8) == 0) {
			/* Redis restarted or flushed its scripts. */
			freeReplyObject(r);
			s->sha[sc][0] = '\0';
			continue;
		}
		break;
	}
	if (attempt == 2)
		return NULL;
	if (r->type == REDIS_REPLY_ERROR) {
		log_error("redis error: %.200s", r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
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
	return cmdv(s, n + 1, argv);
}

enum wx_err
store_ping(struct store *s)
{
	redisReply *r = command(s, "PING", NULL);

	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	freeReplyObject(r);
	return WX_OK;
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
	const struct config *c = s->cfg;
	const struct hostport *via;
	int n;

	if (s->ctx == NULL && connect_now(s) != 0)
		return -1;
	if (c->n_sentinels > 0) {
		via = &c->sentinels[s->master.via];
		n = snprintf(out, outlen, "master %s at %s:%d, found through "
		    "sentinel %s:%d", c->master_name, s->master.host,
		    s->master.port, via->host, via->port);
	} else if (c->redis_unix[0] != '\0')
		n = snprintf(out, outlen, "%s", c->redis_unix);
	else
		n = snprintf(out, outlen, "%s:%d", c->redis_host, c->redis_port);
	return n >= 0 && (size_t)n < outlen ? 0 : -1;
}

enum wx_err
store_token_get(struct store *s, char *tok, size_t toklen, long long *ttl)
{
	const char *keys[1] = { s->cfg->token_key };
	redisReply *r = eval_keys(s, SCRIPT_TOKEN_GET, keys, 1, NULL, 0);
	enum wx_err err = WX_INTERNAL;

	tok[0] = '\0';
	*ttl = -2;
	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		goto out;
	if (r->element[1]->type == REDIS_REPLY_INTEGER)
		*ttl = r->element[1]->integer;
	if (r->element[0]->type == REDIS_REPLY_STRING) {
		if (r->element[0]->len >= toklen) {
			log_error("cached token is longer than %zu bytes", toklen);
			goto out;
		}
		memcpy(tok, r->element[0]->str, r->element[0]->len);
		tok[r->element[0]->len] = '\0';
	}
	err = WX_OK;
out:
	freeReplyObject(r);
	return err;
}

enum wx_err
store_token_set(struct store *s, const char *tok, long ttl)
{
	char ex[NUM_DEC_MAX];
	redisReply *r;

	num_i64(ex, ttl);
	r = command(s, "SET", s->cfg->token_key, tok, "EX", ex, NULL);

	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
store_unlock(struct store *s, const char *key, const char *val)
{
	const char *keys[1] = { key }, *args[1] = { val };
	redisReply *r = eval_keys(s, SCRIPT_CAD, keys, 1, args, 1);

	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	freeReplyObject(r);
	return WX_OK;
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
	r = command(s, "SET", key, val, "NX", "PX", px, NULL);
	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	*got = r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	return WX_OK;
}

/* Copy a bulk reply into out, or "" when it is nil or does not fit. */
static void
copy_bulk(const redisReply *e, char *out, size_t outlen)
{
	out[0] = '\0';
	if (e->type == REDIS_REPLY_STRING && e->len < outlen) {
		memcpy(out, e->str, e->len);
		out[e->len] = '\0';
	}
}

enum wx_err
store_note_set(struct store *s, const char *key, const char *val, long ms)
{
	char px[NUM_DEC_MAX];
	redisReply *r;

	num_i64(px, ms);
	if ((r = command(s, "SET", key, val, "PX", px, NULL)) == NULL)
		return WX_REDIS_UNAVAILABLE;
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
store_note_get(struct store *s, const char *key, char *out, size_t outlen)
{
	redisReply *r = command(s, "GET", key, NULL);

	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	copy_bulk(r, out, outlen);
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
store_exists(struct store *s, const char *key, bool *yes)
{
	redisReply *r = command(s, "EXISTS", key, NULL);

	*yes = false;
	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	*yes = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
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
	size_t i;

	num_i64(ttlbuf, ttl);
	args[0] = ttlbuf;
	for (i = 0; i < n; i++)
		args[1 + i] = marker[i] ? "m" : "c";
	if ((r = eval_keys(s, SCRIPT_CREDIT_ADD, keys, n, args, n + 1)) == NULL)
		return WX_REDIS_UNAVAILABLE;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != n) {
		freeReplyObject(r);
		return WX_INTERNAL;
	}
	for (i = 0; i < n; i++)
		counts[i] = r->element[i]->type == REDIS_REPLY_INTEGER ?
		    r->element[i]->integer : 0;
	freeReplyObject(r);
	return WX_OK;
}

/*
 * The common case without Lua, which costs Redis several times a plain
 * command: per key, INCRBY then EXPIRE (or PERSIST), or for a long-term
 * template SET with its life, all in one write and one round trip. Each
 * command is atomic on its own, and a send that takes the last credit in
 * between only makes the EXPIRE find no key. A key whose value is not a
 * count (INCRBY refuses it), or a request too big for the stack buffer,
 * goes through the script, which replaces such a value.
 */
enum wx_err
store_credit_add(struct store *s, const char *const *keys, const bool *marker,
    size_t n, long ttl, long long *counts)
{
	char buf[LIM_RESP], ttlbuf[NUM_DEC_MAX];
	char waitn[NUM_DEC_MAX], waitms[NUM_DEC_MAX];
	const char *wait[] = { "WAIT", waitn, waitms };
	redisReply *rep[2 * LIM_TEMPLATES + 1];
	size_t i, o = 0, nrep = 0, at;
	enum wx_err err = WX_OK;
	int fit = 0;
	bool late = false;	/* a key went through the script after the WAIT */

	if (n == 0 || n > LIM_TEMPLATES)
		return WX_INTERNAL;
	num_i64(ttlbuf, ttl);
	for (i = 0; i < n && fit == 0; i++) {
		const char *set[] = { "SET", keys[i], "1", "EX", ttlbuf };
		const char *incr[] = { "INCRBY", keys[i], "1" };
		const char *life[] = { ttl > 0 ? "EXPIRE" : "PERSIST", keys[i],
		    ttlbuf };

		if (marker[i]) {
			fit = resp_append(buf, sizeof(buf), &o, ttl > 0 ? 5 : 3, set);
			nrep += 1;
		} else {
			fit = resp_append(buf, sizeof(buf), &o, 3, incr) |
			    resp_append(buf, sizeof(buf), &o, ttl > 0 ? 3 : 2, life);
			nrep += 2;
		}
	}
	/* redis.waitReplicas: the WAIT goes in the same write. */
	if (fit == 0 && s->cfg->wait_replicas > 0) {
		num_i64(waitn, s->cfg->wait_replicas);
		num_i64(waitms, s->cfg->wait_ms);
		fit = resp_append(buf, sizeof(buf), &o, 3, wait);
		nrep++;
	}
	if (fit != 0) {
		err = credit_add_script(s, keys, marker, n, ttl, counts);
		return err == WX_OK ? store_wait(s) : err;
	}
	if (exec_raw(s, buf, o, nrep, rep) != 0)
		return WX_REDIS_UNAVAILABLE;
	if (s->cfg->wait_replicas > 0)
		err = wait_verdict(s, replicas_of(rep[nrep - 1]));
	for (i = 0, at = 0; i < n && err == WX_OK; at += marker[i] ? 1 : 2, i++) {
		if (marker[i] && rep[at]->type == REDIS_REPLY_STATUS)
			counts[i] = 1;
		else if (!marker[i] && rep[at]->type == REDIS_REPLY_INTEGER)
			counts[i] = rep[at]->integer;
		else {	/* refused (not a count): the script's way for this key */
			err = credit_add_script(s, &keys[i], &marker[i], 1, ttl,
			    &counts[i]);
			late = true;
		}
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
	const char *keys[3] = { lock, credit, s->cfg->token_key };
	const char *args[3] = { lockval, ms, longterm ? "1" : "0" };
	const redisReply *e;
	redisReply *r;

	memset(c, 0, sizeof(*c));
	c->state = SEND_BUSY;
	c->pttl = c->token_ttl = -1;
	c->lock_ms = lockms;
	c->asked = clock_s();
	num_i64(ms, lockms);
	if ((r = eval_keys(s, SCRIPT_SEND_BEGIN, keys, 3, args, 3)) == NULL)
		return WX_REDIS_UNAVAILABLE;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		freeReplyObject(r);
		return WX_INTERNAL;
	}
	switch (r->element[0]->integer) {
	case 0:
		break;
	case 2:
		c->state = SEND_NONE;
		break;
	default:
		if (r->elements != 4) {
			freeReplyObject(r);
			return WX_INTERNAL;
		}
		c->state = SEND_TAKEN;
		if (r->element[1]->type == REDIS_REPLY_INTEGER)
			c->pttl = r->element[1]->integer;
		copy_bulk(r->element[2], c->token, sizeof(c->token));
		e = r->element[3];
		if (e->type == REDIS_REPLY_INTEGER)
			c->token_ttl = e->integer;
	}
	freeReplyObject(r);
	return WX_OK;
}

/*
 * DEL the lock, held in the connection's buffer until store_flush or the
 * next command; its reply is read with the next command's (owed()). -1
 * when there is no connection to hold it on (the lock then runs out with
 * its life).
 */
static int
release_held(struct store *s, const char *lock)
{
	const char *argv[2] = { "DEL", lock };
	char buf[LIM_RESP];
	size_t len = 0;

	if (s->ctx == NULL || resp_append(buf, sizeof(buf), &len, 2, argv) != 0 ||
	    redisAppendFormattedCommand(s->ctx, buf, len) != REDIS_OK)
		return -1;
	s->unread++;
	return 0;
}

void
store_flush(struct store *s)
{
	int done = 0;

	/*
	 * Every held command owes a reply; what was sent already is no longer
	 * in hiredis' buffer, and redisBufferWrite then writes nothing.
	 */
	if (s == NULL || s->unread == 0 || s->ctx == NULL)
		return;
	while (!done)
		if (redisBufferWrite(s->ctx, &done) != REDIS_OK) {
			note_down(s, s->ctx->errstr);
			return;
		}
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
	redisReply *r;

	/*
	 * Half the life: Redis times the lock on its own clock, from when
	 * the SET reached it; this side timed it from before it was sent.
	 * Past that, only the script's compare may delete it.
	 */
	if (how == SEND_KEEP &&
	    (clock_s() - c->asked) * 1000.0 < (double)c->lock_ms / 2)
		return release_held(s, lock) == 0 ? WX_OK :
		    WX_REDIS_UNAVAILABLE;
	num_i64(ttlbuf, ttl);
	num_i64(pttlbuf, c->pttl);
	if ((r = eval_keys(s, SCRIPT_SEND_END, keys, 2, args, 4)) == NULL)
		return WX_REDIS_UNAVAILABLE;
	freeReplyObject(r);
	return WX_OK;
}

/* A stored credit: an integer; anything else (garbage) counts as none. */
static long long
as_count(const redisReply *e)
{
	char *end;
	long long v;

	if (e->type != REDIS_REPLY_STRING || e->len == 0)
		return 0;
	errno = 0;
	v = strtoll(e->str, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return 0;
	return v;
}

enum wx_err
store_credit_get(struct store *s, const char *const *keys, size_t n,
    long long *counts)
{
	redisReply *r;
	size_t i;

	if (n == 0)
		return WX_OK;
	if ((r = keys_command(s, "MGET", keys, n)) == NULL)
		return WX_REDIS_UNAVAILABLE;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != n) {
		freeReplyObject(r);
		return WX_INTERNAL;
	}
	for (i = 0; i < n; i++)
		counts[i] = as_count(r->element[i]);
	freeReplyObject(r);
	return WX_OK;
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
	if (r->type == REDIS_REPLY_INTEGER)
		*deleted = r->integer;
	freeReplyObject(r);
	return WX_OK;
}


enum wx_err
store_session_put(struct store *s, const char *key, const char *hash,
    const char *openid, const char *session_key, const char *unionid, long ttl)
{
	char ttlbuf[NUM_DEC_MAX];
	redisReply *r;
	const char *keys[1] = { key };
	const char *args[5] = { hash, openid, session_key, unionid, ttlbuf };

	num_i64(ttlbuf, ttl);
	if ((r = eval_keys(s, SCRIPT_SESSION_PUT, keys, 1, args, 5)) == NULL)
		return WX_REDIS_UNAVAILABLE;
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
store_session_get(struct store *s, const char *key, char *hash, size_t hashlen,
    char *openid, size_t oplen)
{
	redisReply *r = command(s, "HMGET", key, "h", "o", NULL);

	hash[0] = openid[0] = '\0';
	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
		copy_bulk(r->element[0], hash, hashlen);
		copy_bulk(r->element[1], openid, oplen);
	}
	freeReplyObject(r);
	return WX_OK;
}


enum wx_err
store_hash_add(struct store *s, const char *key, const char *const *fields,
    const long long *deltas, size_t n)
{
	const char **argv;
	char (*nums)[NUM_DEC_MAX];
	const char *keys[1] = { key };
	redisReply *r = NULL;
	enum wx_err err = WX_INTERNAL;
	size_t i, argc = 0;

	if (n == 0)
		return WX_OK;
	argv = calloc(2 * n + 4, sizeof(*argv));
	nums = calloc(n, sizeof(*nums));
	if (argv == NULL || nums == NULL)
		goto out;
	/* Once a second at most, with a variable field count: plain EVAL. */
	argv[argc++] = "EVAL";
	argv[argc++] = LUA_HASH_ADD;
	argv[argc++] = "1";
	argv[argc++] = keys[0];
	for (i = 0; i < n; i++) {
		num_i64(nums[i], deltas[i]);
		argv[argc++] = fields[i];
		argv[argc++] = nums[i];
	}
	r = cmdv(s, argc, argv);
	err = r != NULL ? WX_OK : WX_REDIS_UNAVAILABLE;
out:
	if (r != NULL)
		freeReplyObject(r);
	free(argv);
	free(nums);
	return err;
}

void
store_hash_free(char **fields, long long *values, size_t n)
{
	for (size_t i = 0; fields != NULL && i < n; i++)
		free(fields[i]);
	free(fields);
	free(values);
}

enum wx_err
store_hash_all(struct store *s, const char *key, char ***fields,
    long long **values, size_t *n)
{
	redisReply *r = command(s, "HGETALL", key, NULL);
	size_t i, m;

	*fields = NULL;
	*values = NULL;
	*n = 0;
	if (r == NULL)
		return WX_REDIS_UNAVAILABLE;
	if (r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		return WX_INTERNAL;
	}
	m = r->elements / 2;
	*fields = calloc(m + 1, sizeof(**fields));
	*values = calloc(m + 1, sizeof(**values));
	if (*fields == NULL || *values == NULL) {
		store_hash_free(*fields, *values, 0);
		*fields = NULL;
		*values = NULL;
		freeReplyObject(r);
		return WX_INTERNAL;
	}
	for (i = 0; i < m; i++) {
		const redisReply *f = r->element[2 * i];
		if (f->type != REDIS_REPLY_STRING ||
		    ((*fields)[*n] = strndup(f->str, f->len)) == NULL)
			continue;
		(*values)[*n] = as_count(r->element[2 * i + 1]);
		(*n)++;
	}
	freeReplyObject(r);
	return WX_OK;
}
