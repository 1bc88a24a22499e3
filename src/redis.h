/*
 * redis.h: the process's one connection to Redis, over hiredis (0.14 API).
 *
 * Opened lazily with short time limits (connect 300 ms, each reply
 * 400 ms: a Redis that does not answer costs well under a second), then
 * AUTH and SELECT as configured. With redis.sentinels the address is the
 * master the sentinels name (sentinel.h), asked again whenever the
 * connection is reopened; a READONLY answer drops the connection and the
 * commands go once more to the master found then, whose scripts are
 * loaded again. After any failure the connection is
 * dropped and the next call opens a new one, so a Redis restart heals
 * without restarting the web server; one line is logged per outage, not
 * per request. A reused connection found dead before any reply came
 * (Redis restarted) is reopened and the commands sent once more: they
 * never reached the old server, so they cannot run twice.
 *
 * Commands go as argument vectors, written in the wire format here
 * (redis_format) and sent by hiredis. Several
 * commands go out in one write and their replies come back in one round
 * trip (redis_pipeline). A command may also be held (redis_hold): it
 * leaves with the next write or redis_flush, and its reply is read, and
 * only logged, before the next command's own. Lua scripts run by EVALSHA
 * (redis_eval): the body crosses the wire only when Redis does not know
 * it yet (first use, or NOSCRIPT after a restart or SCRIPT FLUSH).
 *
 * Replies belong to the caller (freeReplyObject). NULL or -1 means Redis
 * is unavailable: the caller answers WX_REDIS_UNAVAILABLE. This module
 * knows nothing of wxsub's keys: that is store.[ch].
 */
#ifndef WX_REDIS_H
#define WX_REDIS_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "config.h"

#define REDIS_CONNECT_MS	300
#define REDIS_COMMAND_MS	LIM_REDIS_COMMAND	/* redis.timeoutMs default */
#define REDIS_PIPELINE_MAX	(2 * LIM_TEMPLATES + 1)	/* store_credit_add + WAIT */
#define REDIS_SCRIPTS_MAX	32	/* distinct scripts whose SHA-1 is kept */

struct redis;

/* One command: argc strings (NUL-terminated; no binary values here). */
struct redis_cmd {
	size_t			 argc;
	const char *const	*argv;
};

/* A Lua script and the name its log lines use. */
struct redis_script {
	const char	*name;
	const char	*src;
};

struct redis	*redis_new(const struct config *);	/* no I/O yet */
/* Sends what is held first: a held release must not wait for its life. */
void		 redis_free(struct redis *);

/*
 * One command. The reply, error replies included, or NULL when Redis is
 * unavailable.
 */
redisReply	*redis_argv(struct redis *, size_t argc, const char *const *argv);

/* redis_argv with an error reply logged and turned into NULL. */
redisReply	*redis_command(struct redis *, size_t argc,
		    const char *const *argv);

/*
 * n commands (at most REDIS_PIPELINE_MAX) in one write; their n replies,
 * error replies included, into out. 0, or -1 when Redis is unavailable
 * (out then holds nothing).
 */
int		 redis_pipeline(struct redis *, size_t n,
		    const struct redis_cmd *, redisReply **out);

/*
 * EVALSHA script over keys[0..nkeys) then args[0..nargs), loading it
 * when Redis does not know it. As redis_command: an error reply is logged
 * and NULL.
 */
redisReply	*redis_eval(struct redis *, const struct redis_script *,
		    size_t nkeys, const char *const *keys, size_t nargs,
		    const char *const *args);

/*
 * redis_eval followed, in the same write, by nafter plain commands
 * (fewer than REDIS_PIPELINE_MAX) whose replies, error replies included,
 * go to after_out. They run right after the script, and a plain command
 * costs Redis a fraction of a redis.call inside one. NULL (nothing in
 * after_out) when the script's own reply is NULL for redis_eval.
 */
redisReply	*redis_eval_then(struct redis *, const struct redis_script *,
		    size_t nkeys, const char *const *keys, size_t nargs,
		    const char *const *args, size_t nafter,
		    const struct redis_cmd *after, redisReply **after_out);

/*
 * Hold a command: not sent, not waited for (above). -1 when there is no
 * open connection to hold it on.
 */
int		 redis_hold(struct redis *, size_t argc, const char *const *argv);
/* Send what is held, without waiting for its reply. */
void		 redis_flush(struct redis *);

/*
 * The wire format (RESP) of one command of argc NUL-terminated strings
 * into out[0..outlen), as hiredis' redisFormatCommandArgv writes it; its
 * whole length, which is more than outlen when it did not fit (out then
 * holds a part). Pure.
 */
size_t		 redis_format(char *out, size_t outlen, size_t argc,
		    const char *const *argv);

/*
 * Which Redis this is, connecting first if needed: "host:port", the
 * socket path, or with redis.sentinels "master NAME at host:port, found
 * through sentinel host:port". -1 when Redis is unavailable.
 */
int		 redis_where(struct redis *, char *out, size_t outlen);

#endif
