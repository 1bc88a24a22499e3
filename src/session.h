/*
 * session.h: mini-program sessions. A session is a long random token
 * (32 bytes from the system CSPRNG, base64url) handed to the front end
 * once by /login. Redis keeps only its SHA-256, with the openId and
 * WeChat's session_key, for session.ttl; a session proves an openId and
 * nothing else. The full hash is compared in constant time; logs get its
 * first 8 hex digits at most.
 */
#ifndef WX_SESSION_H
#define WX_SESSION_H

#include <stddef.h>

#include "config.h"
#include "store.h"
#include "wxerr.h"

#define SESSION_PREFIX		"wxs_"
#define SESSION_TOKEN_LEN	(4 + 43)	/* prefix + base64url(32 bytes) */
#define SESSION_TAG_LEN		8		/* hash prefix shown in logs */

struct session_user {
	const char	*openid;
	const char	*session_key;
	const char	*unionid;	/* "" when WeChat gave none */
};

/* A new session for u; token gets SESSION_TOKEN_LEN + 1 bytes. */
enum wx_err	session_create(struct store *, const struct config *,
		    const struct session_user *u, char *token, size_t toklen);

/*
 * The openId a session proves. WX_UNAUTHORIZED for a malformed,
 * unknown, expired or deleted session. tag gets the hash prefix.
 */
enum wx_err	session_check(struct store *, const struct config *,
		    const char *token, char *openid, size_t oplen,
		    char *tag, size_t taglen);

/* Forget a session (logout). */
enum wx_err	session_drop(struct store *, const struct config *,
		    const char *token);

/* Is s shaped like a session token? Pure. */
int		session_token_shape(const char *s);

#endif
