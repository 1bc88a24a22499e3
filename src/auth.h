/*
 * auth.h: what a request proves. An api key (server to server) or a
 * mini-program session (which alone proves an openId). Keys are compared
 * in constant time (secure.h); sessions are checked by session.c.
 */
#ifndef WX_AUTH_H
#define WX_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "route.h"
#include "wxerr.h"

struct app;

/* The credential of an "Authorization: Bearer X" header, or NULL. */
const char	*auth_bearer(const char *header);

/* Is key one of auth.apiKeys? Constant time in the key's content. */
bool		 auth_apikey_ok(const struct config *, const char *key);

/* Is addr (REMOTE_ADDR) inside http.metricsAllow? */
bool		 auth_address_ok(const struct config *, const char *addr);

/*
 * Authenticate r for a route of the given kind: sets r->who (and
 * r->openid for a session). WX_OK, or WX_UNAUTHORIZED or
 * WX_REDIS_UNAVAILABLE carried in r->e.
 */
enum wx_err	 auth_check(struct app *, enum auth_kind, struct request *r);

#endif
