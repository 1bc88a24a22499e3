/*
 * redis.c: the self-healing hiredis connection (see redis.h).
 *
 * Commands are written in Redis' wire format here (redis_format) and
 * handed to hiredis whole (redisAppendFormattedCommand); replies are
 * hiredis'. hiredis' own formatting (redisAppendCommandArgv, sds) cost
 * about 8,500 instructions of a /send's 202,000 (its EVALSHA of nine
 * arguments and the held DEL), this encoder about 1,000
 * (bench/callgrind.py, 2026-12-04). A microbenchmark of /record's two
 * short commands had found hiredis only 0.2-0.4 us slower, in a hot
 * loop; the per-request count is what the server pays.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "num.h"
#include "redis.h"
#include "sentinel.h"

struct redis {
	const struct config	*cfg;
	redisContext		*ctx;
	bool			 fresh;	/* connected during this call */
	bool			 down_logged;
	int			 unread;	/* replies owed for held commands */
	size_t			 sentinel_next;	/* the one to ask first */
	struct sentinel_found	 master;	/* port 0 until one was found */
	/* EVALSHA cache: a script (by address) and its SHA-1, "" unknown. */
	const struct redis_script *scripts[REDIS_SCRIPTS_MAX];
	char			 sha[REDIS_SCRIPTS_MAX][41];
};

struct redis *
redis_new(const struct config *cfg)
{
	struct redis *r = calloc(1, sizeof(*r));

	if (r != NULL)
		r->cfg = cfg;
	return r;
}

static void
drop(struct redis *r)
{
	if (r->ctx != NULL)
		redisFree(r->ctx);
	r->ctx = NULL;
	r->unread = 0;
}

/*
 * Read the replies owed for held commands (replies come in order, so
 * before the next command's own); redisGetReply sends first whatever is
 * still in the buffer. -1 when the connection failed: the caller drops
 * it; a lock whose release went unconfirmed still runs out with its life.
 */
static int
owed(struct redis *r)
{
	redisReply *rep;
	void *reply;

	while (r->unread > 0) {
		if (redisGetReply(r->ctx, &reply) != REDIS_OK) {
			log_warn("redis: a send lock's release went unconfirmed: %s",
			    r->ctx->errstr);
			r->unread = 0;
			return -1;
		}
		rep = reply;
		if (rep->type == REDIS_REPLY_ERROR)
			log_warn("redis refused a send lock's release: %.200s",
			    rep->str);
		freeReplyObject(rep);
		r->unread--;
	}
	return 0;
}

void
redis_free(struct redis *r)
{
	if (r == NULL)
		return;
	redis_flush(r);
	drop(r);
	free(r);
}

static void
note_down(struct redis *r, const char *why)
{
	/* One line per outage, not one per request. */
	if (!r->down_logged)
		log_error("redis unavailable: %s", why);
	r->down_logged = true;
	drop(r);
}

/*
 * A connection to host:port (the unix socket when host is NULL) with the
 * configured AUTH and SELECT: redis.url's address, or a master a
 * sentinel named. NULL with a reason in why (never the password).
 */
static redisContext *
open_redis(void *arg, const char *host, int port, char *why, size_t whylen)
{
	struct timeval ct = { 0, REDIS_CONNECT_MS * 1000 };
	const struct config *c = arg;
	long rms = c->redis_timeout_ms > 0 ? c->redis_timeout_ms :
	    REDIS_COMMAND_MS;
	struct timeval rt = { rms / 1000, (rms % 1000) * 1000 };
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
master_found(struct redis *r, const struct sentinel_found *f)
{
	const struct hostport *via = &r->cfg->sentinels[f->via];
	bool moved = r->master.port != 0 && (r->master.port != f->port ||
	    strcmp(r->master.host, f->host) != 0);

	if (r->master.port == 0 || moved) {
		memset(r->sha, 0, sizeof(r->sha));
		log_msg(moved ? LOG_INFO : LOG_DEBUG, "redis: master %s is at "
		    "%s:%d (sentinel %s:%d)", r->cfg->master_name, f->host,
		    f->port, via->host, via->port);
	}
	r->master = *f;
}

static int
connect_now(struct redis *r)
{
	const struct config *c = r->cfg;
	struct sentinel_found f;
	char why[LIM_ERRMSG];

	if (c->n_sentinels > 0) {
		r->ctx = sentinel_connect(c, &r->sentinel_next, open_redis,
		    (void *)c, &f, why, sizeof(why));
		if (r->ctx != NULL)
			master_found(r, &f);
	} else
		r->ctx = open_redis((void *)c, c->redis_unix[0] != '\0' ? NULL :
		    c->redis_host, c->redis_port, why, sizeof(why));
	if (r->ctx == NULL) {
		note_down(r, why);
		return -1;
	}
	if (r->down_logged)
		log_info("redis reachable again");
	r->down_logged = false;
	r->fresh = true;
	return 0;
}

int
redis_where(struct redis *r, char *out, size_t outlen)
{
	const struct config *c = r->cfg;
	const struct hostport *via;
	int n;

	if (r->ctx == NULL && connect_now(r) != 0)
		return -1;
	if (c->n_sentinels > 0) {
		via = &c->sentinels[r->master.via];
		n = snprintf(out, outlen, "master %s at %s:%d, found through "
		    "sentinel %s:%d", c->master_name, r->master.host,
		    r->master.port, via->host, via->port);
	} else if (c->redis_unix[0] != '\0')
		n = snprintf(out, outlen, "%s", c->redis_unix);
	else
		n = snprintf(out, outlen, "%s:%d", c->redis_host, c->redis_port);
	return n >= 0 && (size_t)n < outlen ? 0 : -1;
}

/*
 * A reply that says this server is a replica now (READONLY: a fail-over
 * demoted it, or a sentinel's answer is stale): the connection is
 * dropped, so the next attempt asks the sentinels again. Such a write
 * did not run, so it may be sent once more to the new master.
 */
static bool
demoted(struct redis *r, redisReply *const *rep, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rep[i]->type == REDIS_REPLY_ERROR &&
		    strncmp(rep[i]->str, "READONLY", 8) == 0) {
			log_warn("redis: %s answers READONLY: asking again "
			    "for the master", r->master.port != 0 ?
			    r->master.host : "the server");
			drop(r);
			return true;
		}
	return false;
}

/*
 * After a failed exchange: drop the connection, and say whether to send
 * once more. Only a reused connection found dead before any reply came
 * is worth it (Redis restarted): the command never reached the old
 * server, so sending it again cannot run it twice.
 */
static bool
worth_again(struct redis *r, bool got_reply)
{
	bool stale = !got_reply && !r->fresh && (r->ctx->err == REDIS_ERR_EOF ||
	    (r->ctx->err == REDIS_ERR_IO &&
	    (errno == EPIPE || errno == ECONNRESET)));

	note_down(r, r->ctx->errstr);
	if (stale)
		r->down_logged = false;	/* a restart is not an outage yet */
	return stale;
}

/* Bytes s[0..n) at out[*pos] if they fit; *pos moves on regardless. */
static void
put(char *out, size_t outlen, size_t *pos, const char *s, size_t n)
{
	if (*pos <= outlen && outlen - *pos >= n)
		memcpy(out + *pos, s, n);
	*pos += n;
}

/* "<c><decimal>\r\n", as put. */
static void
put_head(char *out, size_t outlen, size_t *pos, char c, size_t v)
{
	char num[NUM_DEC_MAX + 3];
	size_t n;

	num[0] = c;
	n = 1 + num_u64(num + 1, v);
	num[n++] = '\r';
	num[n++] = '\n';
	put(out, outlen, pos, num, n);
}

size_t
redis_format(char *out, size_t outlen, size_t argc, const char *const *argv)
{
	size_t i, len, pos = 0;

	put_head(out, outlen, &pos, '*', argc);
	for (i = 0; i < argc; i++) {
		len = strlen(argv[i]);
		put_head(out, outlen, &pos, '$', len);
		put(out, outlen, &pos, argv[i], len);
		put(out, outlen, &pos, "\r\n", 2);
	}
	return pos;
}

/* Append one command to the connection's output buffer. */
static int
append_one(struct redis *r, size_t argc, const char *const *argv)
{
	char small[1024], *buf = small;
	size_t len = redis_format(small, sizeof(small), argc, argv);
	int rc;

	/* A script's SCRIPT LOAD, a batch's thousands of arguments. */
	if (len > sizeof(small)) {
		if ((buf = malloc(len)) == NULL)
			return -1;
		(void)redis_format(buf, len, argc, argv);
	}
	rc = redisAppendFormattedCommand(r->ctx, buf, len);
	if (buf != small)
		free(buf);
	return rc == REDIS_OK ? 0 : -1;
}

/* Append n commands to the connection's output buffer. */
static int
append(struct redis *r, size_t n, const struct redis_cmd *cmds)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (append_one(r, cmds[i].argc, cmds[i].argv) != 0)
			return -1;
	return 0;
}

int
redis_pipeline(struct redis *r, size_t n, const struct redis_cmd *cmds,
    redisReply **out)
{
	size_t got = 0;
	void *reply;
	double t0;
	int attempt;

	if (n == 0 || n > REDIS_PIPELINE_MAX)
		return -1;
	for (attempt = 0; attempt < 2; attempt++) {
		r->fresh = false;
		if (r->ctx == NULL && connect_now(r) != 0)
			return -1;
		t0 = clock_s();
		/* What is held goes out in the same write, its reply first. */
		if (append(r, n, cmds) == 0 && owed(r) == 0)
			while (got < n && redisGetReply(r->ctx, &reply) == REDIS_OK)
				out[got++] = reply;
		metrics_observe(HIST_REDIS, clock_s() - t0);
		if (got == n && !demoted(r, out, n))
			return 0;
		bool again = got == n || worth_again(r, got > 0);
		while (got > 0)
			freeReplyObject(out[--got]);
		if (!again)
			return -1;
	}
	return -1;
}

redisReply *
redis_argv(struct redis *r, size_t argc, const char *const *argv)
{
	struct redis_cmd cmd = { argc, argv };
	redisReply *rep;

	return redis_pipeline(r, 1, &cmd, &rep) == 0 ? rep : NULL;
}

redisReply *
redis_command(struct redis *r, size_t argc, const char *const *argv)
{
	redisReply *rep = redis_argv(r, argc, argv);

	if (rep != NULL && rep->type == REDIS_REPLY_ERROR) {
		log_error("redis error: %.200s", rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

/* The cache slot of a script, taken on first use; -1 when full. */
static int
slot(struct redis *r, const struct redis_script *sc)
{
	int i;

	for (i = 0; i < REDIS_SCRIPTS_MAX; i++) {
		if (r->scripts[i] == sc)
			return i;
		if (r->scripts[i] == NULL) {
			r->scripts[i] = sc;
			return i;
		}
	}
	return -1;
}

/* SCRIPT LOAD a script and remember its SHA-1; -1 when Redis is away. */
static int
load(struct redis *r, const struct redis_script *sc, char *sha)
{
	const char *argv[3] = { "SCRIPT", "LOAD", sc->src };
	redisReply *rep = redis_command(r, 3, argv);

	if (rep == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_STRING && rep->len == 40)
		memcpy(sha, rep->str, 41);
	freeReplyObject(rep);
	return sha[0] != '\0' ? 0 : -1;
}

redisReply *
redis_eval(struct redis *r, const struct redis_script *sc, size_t nkeys,
    const char *const *keys, size_t nargs, const char *const *args)
{
	return redis_eval_then(r, sc, nkeys, keys, nargs, args, 0, NULL, NULL);
}

redisReply *
redis_eval_then(struct redis *r, const struct redis_script *sc,
    size_t nkeys, const char *const *keys, size_t nargs,
    const char *const *args, size_t nafter, const struct redis_cmd *after,
    redisReply **after_out)
{
	const char *small[3 + 2 * LIM_TEMPLATES + 8], **argv = small;
	struct redis_cmd cmds[REDIS_PIPELINE_MAX];
	redisReply *out[REDIS_PIPELINE_MAX], *rep = NULL;
	char num[NUM_DEC_MAX], *sha;
	size_t argc = 0, i;
	int attempt, at;

	if (nafter >= REDIS_PIPELINE_MAX)
		return NULL;
	if ((at = slot(r, sc)) < 0) {
		log_error("redis: script %s: too many scripts", sc->name);
		return NULL;
	}
	/* A batch of the outbox passes thousands of arguments: on the heap. */
	if (nkeys + nargs + 3 > sizeof(small) / sizeof(small[0]) &&
	    (argv = calloc(nkeys + nargs + 3, sizeof(*argv))) == NULL)
		return NULL;
	sha = r->sha[at];
	num_u64(num, nkeys);
	argv[argc++] = "EVALSHA";
	argv[argc++] = sha;
	argv[argc++] = num;
	for (i = 0; i < nkeys; i++)
		argv[argc++] = keys[i];
	for (i = 0; i < nargs; i++)
		argv[argc++] = args[i];
	cmds[0] = (struct redis_cmd){ argc, (const char *const *)argv };
	for (i = 0; i < nafter; i++)
		cmds[1 + i] = after[i];
	for (attempt = 0; attempt < 2; attempt++) {
		if (sha[0] == '\0' && load(r, sc, sha) != 0)
			break;
		if (redis_pipeline(r, 1 + nafter, cmds, out) != 0)
			break;
		rep = out[0];
		if (rep->type == REDIS_REPLY_ERROR &&
		    strncmp(rep->str, "NOSCRIPT", 8) == 0) {
			/* Redis restarted or flushed its scripts. */
			for (i = 0; i <= nafter; i++)
				freeReplyObject(out[i]);
			rep = NULL;
			sha[0] = '\0';
			continue;
		}
		break;
	}
	if (argv != small)
		free(argv);
	if (rep == NULL)
		return NULL;
	if (rep->type == REDIS_REPLY_ERROR) {
		log_error("redis error: %.200s", rep->str);
		for (i = 0; i <= nafter; i++)
			freeReplyObject(out[i]);
		return NULL;
	}
	for (i = 0; i < nafter; i++)
		after_out[i] = out[1 + i];
	return rep;
}

int
redis_hold(struct redis *r, size_t argc, const char *const *argv)
{
	if (r->ctx == NULL || append_one(r, argc, argv) != 0)
		return -1;
	r->unread++;
	return 0;
}

void
redis_flush(struct redis *r)
{
	int done = 0;

	/*
	 * Every held command owes a reply; what was sent already is no longer
	 * in hiredis' buffer, and redisBufferWrite then writes nothing.
	 */
	if (r == NULL || r->unread == 0 || r->ctx == NULL)
		return;
	while (!done)
		if (redisBufferWrite(r->ctx, &done) != REDIS_OK) {
			note_down(r, r->ctx->errstr);
			return;
		}
}
