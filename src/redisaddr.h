/*
 * redisaddr.h: where Redis is, from the configuration's words: redis.url
 * (redis://[[user]:password@]host[:port][/db] or
 * unix:///path/to/sock[?db=N]) and the seed's spring.redis.* /
 * spring.data.redis.* keys. Pure: no I/O, no allocation; a unit-test and
 * fuzz target (tests/fuzz/fuzz_redisaddr.c). config.c decides which of
 * the two applies (redis.url wins wherever it is) and copies the result
 * into struct config.
 *
 * A reason for refusing is a static text that never quotes the input:
 * a URL or a Spring password may hold a secret.
 */
#ifndef WX_REDISADDR_H
#define WX_REDISADDR_H

#include <stdbool.h>

#include "wxlimits.h"

#define RADDR_DEFAULT_PORT	6379
#define RADDR_MAX_DB		15

/* An address; host "" for a unix socket, unix_path "" for TCP. */
struct raddr {
	char	host[LIM_HOST];		/* a name, IPv4, or IPv6 without [] */
	char	unix_path[LIM_PATH];
	char	user[LIM_ID];		/* "" for none (AUTH password) */
	char	password[LIM_SECRET];	/* "" for none (no AUTH) */
	int	port;			/* 1..65535 */
	int	db;			/* 0..RADDR_MAX_DB */
};

/* Spring's settings, each with whether it was given (empty = not). */
struct raddr_spring {
	struct raddr	a;
	bool		has_host, has_user, has_password, has_port, has_db;
};

/*
 * A redis.url value into *a (all of it set: port RADDR_DEFAULT_PORT and
 * db 0 unless the URL says otherwise). url is cut up in place. NULL, or
 * why it is refused.
 */
const char	*raddr_parse_url(char *url, struct raddr *a);

/*
 * One spring.redis.<sub> (or spring.data.redis.<sub>) = val, val not
 * empty: host, port, database, username or password; other subs are
 * ignored. NULL, or why val is refused.
 */
const char	*raddr_spring_set(struct raddr_spring *, const char *sub,
		    const char *val);

/* A host name or IPv4 address: 1..LIM_HOST-1 of A-Z a-z 0-9 . _ - */
bool		 raddr_host_ok(const char *s);
/* The inside of [IPv6]: hex digits, ':' (at least one) and '.'. */
bool		 raddr_ipv6_ok(const char *s);

#endif
