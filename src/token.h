/*
 * token.h: the one access token shared by every process on every host.
 *
 * Cached in Redis (redis.tokenKey) with a TTL of expires_in minus a
 * 200 s margin. A process that finds no token takes the lock (SET NX, a
 * random value, a life longer than the fetch's time limit), checks the
 * cache again, fetches, stores, and releases by compare-and-delete.
 * Others poll the cache for a bounded time and never recurse. A failed
 * fetch is remembered for TOKEN_BACKOFF_MS: requests queued behind it
 * answer 503 at once instead of each trying WeChat again. When the
 * cached token nears its end, the process that notices refreshes it
 * after it has answered, while everyone keeps using the old one (WeChat
 * honours both for five minutes), so after the first fetch no request
 * waits for a refresh.
 */
#ifndef WX_TOKEN_H
#define WX_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "store.h"
#include "upstream.h"
#include "wxerr.h"

#define TOKEN_MARGIN_S	200	/* cache TTL = expires_in - this */
#define TOKEN_AHEAD_S	100	/* refresh ahead below this TTL */
#define TOKEN_FORCE_S	30	/* fleet-wide gap between force_refresh calls */
#define TOKEN_BACKOFF_MS 2000	/* after a failed fetch, nobody fetches for this long */

struct tokensrc {
	struct store		*st;
	struct upstream		*up;
	const struct config	*cfg;
	bool			 refresh_due;	/* set by token_get */
};

/*
 * The decisions, pure (tests/unit/test_store.c checks them without a
 * server):
 * the cache TTL for a token WeChat gave for expires_in seconds
 * (expires_in - TOKEN_MARGIN_S, or half of a short life, at least 1);
 */
long		 token_cache_ttl(long expires_in);
/* whether a cached token may be used: present and not the refused one; */
bool		 token_usable(const char *tok, const char *failed);
/* whether a cached token with ttl seconds left is due a refresh ahead. */
bool		 token_due(long long ttl);

/* The lock's life: longer than a fetch may take. */
long		 token_lock_ms(const struct config *);

/*
 * A usable token into out. WX_OK, WX_REDIS_UNAVAILABLE, or
 * WX_TOKEN_UNAVAILABLE with its reason carried in e (wxerr.h).
 */
enum wx_err	 token_get(struct tokensrc *, char *out, size_t outlen,
		    struct wxe *e);

/*
 * A token read from the cache by other means (the send's one round
 * trip) with its TTL: notes when a refresh ahead is due.
 */
void		 token_seen(struct tokensrc *, long long ttl);

/*
 * WeChat refused failed (40001 and kin): drop it from the cache if it is
 * still there and get another. With the stable API, a fetch that hands
 * back the same refused token means someone force-refreshed it away:
 * then force_refresh once, at most once per TOKEN_FORCE_S for the fleet.
 * failed and out may be the same buffer.
 */
enum wx_err	 token_renew(struct tokensrc *, const char *failed,
		    char *out, size_t outlen, struct wxe *e);

/* After the answer: refresh ahead of expiry if token_get found it due. */
void		 token_refresh_ahead(struct tokensrc *);

#endif
