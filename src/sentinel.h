/*
 * sentinel.h: finding the Redis master through Redis Sentinel, the way
 * Redis' "Sentinel clients" guidelines ask:
 *
 *   1. ask the sentinels in turn, each with short time limits, starting
 *      with the one that answered last, for the master's address
 *      (SENTINEL get-master-addr-by-name <redis.masterName>);
 *   2. connect to that address (the caller's opener: AUTH, SELECT);
 *   3. ask it ROLE, and refuse it unless it says "master": a sentinel
 *      that has not heard of a fail-over yet still names the old master,
 *      which may be back as a replica. Then the next sentinel is asked;
 *      an address that failed is not tried again in the same call, so
 *      while every sentinel still names a dead or frozen master a request
 *      pays one time limit, not one per sentinel.
 *
 * The connection layer (store.c) calls sentinel_connect() whenever it has
 * no connection; it drops its connection when the master stops answering
 * or answers READONLY, so the next call asks again. Nothing here keeps a
 * connection to a sentinel.
 *
 * The readers of the two replies and of the sentinel list are pure: the
 * unit tests feed them hand-built replies.
 */
#ifndef WX_SENTINEL_H
#define WX_SENTINEL_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct redisReply;
struct redisContext;

/* Time limits of one sentinel: connect, then the one command. */
#define SENTINEL_CONNECT_MS	250
#define SENTINEL_COMMAND_MS	250

/*
 * redis.sentinels: "host:port,host:port,..." ([v6]:port for IPv6), 1 to
 * LIM_SENTINELS items, spaces around commas allowed. 0, or -1 with a
 * static description of what is wrong in *why (it quotes nothing).
 */
int	sentinel_parse_list(const char *val, struct hostport *out, size_t max,
	    size_t *n, const char **why);

/*
 * The reply to get-master-addr-by-name: an array of two strings, host and
 * port. 0 with host and port; 1 when the sentinel does not know the name
 * (nil); -1 for any other shape or an out-of-range port.
 */
int	sentinel_read_addr(const struct redisReply *, char *host,
	    size_t hostlen, int *port);

/* The reply to ROLE: true only for an array whose first element is "master". */
bool	sentinel_read_role(const struct redisReply *);

/*
 * Open a connection to host:port with the caller's settings (AUTH,
 * SELECT, time limits). NULL when it cannot; a short reason in why.
 */
typedef struct redisContext *(*sentinel_open_fn)(void *arg, const char *host,
	    int port, char *why, size_t whylen);

/* Where the master was found, for the log and `wxsub check-config`. */
struct sentinel_found {
	char	 host[LIM_HOST];	/* the master */
	int	 port;
	size_t	 via;			/* index into cfg->sentinels */
};

/*
 * Find the master and return a connection to it that ROLE confirmed,
 * made by open(arg, ...). *next is the sentinel to ask first (kept by the
 * caller between calls; updated to the one that answered). NULL when no
 * sentinel led to a master; why says what the last attempt met (never a
 * password).
 */
struct redisContext *sentinel_connect(const struct config *, size_t *next,
	    sentinel_open_fn open, void *arg, struct sentinel_found *,
	    char *why, size_t whylen);

#endif
