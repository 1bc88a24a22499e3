/*
 * token.c: the shared access token, refreshed by exactly one process.
 */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "token.h"
#include "wechat.h"
#include "secure.h"

#define POLL_MS		20

long
token_lock_ms(const struct config *c)
{
	/* The fetch is cut at timeout_ms; the lock outlives it by 2 s. */
	return c->timeout_ms + 2000;
}

long
token_cache_ttl(long expires_in)
{
	if (expires_in > TOKEN_MARGIN_S + 60)
		return expires_in - TOKEN_MARGIN_S;
	return expires_in / 2 > 0 ? expires_in / 2 : 1;
}

bool
token_usable(const char *tok, const char *failed)
{
	return tok[0] != '\0' && (failed == NULL || strcmp(tok, failed) != 0);
}

/*
 * Fetch and cache a token; the caller holds the lock. With failed set,
 * a stable fetch that returns failed again is forced (throttled).
 */
static enum wx_err
fetch_store(struct tokensrc *ts, const char *failed, char *out, size_t outlen,
    struct wxe *e)
{
	const struct config *c = ts->cfg;
	struct wx_token t;
	struct wxe ans;
	char key[LIM_KEY];
	enum wx_err err;
	bool got;

	if (wechat_token(ts->up, c, false, &t, &ans) != WX_OK) {
		metrics_count("token_fetch_failed");
		log_error("token fetch failed: %s", ans.msg);
		return wxe_set(e, WX_TOKEN_UNAVAILABLE,
		    "WeChat gave no access token (%s)", ans.msg);
	}
	if (failed != NULL && strcmp(t.token, failed) == 0) {
		if (c->token_api != TOKEN_API_STABLE)
			return wxe_set(e, WX_TOKEN_UNAVAILABLE,
			    "WeChat handed back the token it refused");
		if (store_key(c, "token:force", NULL, key, sizeof(key)) != 0)
			return WX_INTERNAL;
		if ((err = store_lock(ts->st, key, "1", TOKEN_FORCE_S * 1000L,
		    &got)) != WX_OK)
			return err;
		if (!got)
			return wxe_set(e, WX_TOKEN_UNAVAILABLE, "the token was "
			    "revoked and a forced refresh ran less than %d s ago",
			    TOKEN_FORCE_S);
		log_warn("stable_token still hands out a token WeChat refuses "
		    "(revoked by another force_refresh): forcing a refresh");
		metrics_count("token_force");
		if (wechat_token(ts->up, c, true, &t, &ans) != WX_OK) {
			log_error("forced token fetch failed: %s", ans.msg);
			return wxe_set(e, WX_TOKEN_UNAVAILABLE,
			    "WeChat gave no access token (%s)", ans.msg);
		}
	}
	metrics_count("token_fetch_ok");
	if (strlen(t.token) >= outlen)
		return WX_INTERNAL;
	if ((err = store_token_set(ts->st, t.token, token_cache_ttl(t.expires_in))) != WX_OK)
		return err;
	log_info("access token fetched (%s API), expires in %ld s",
	    c->token_api == TOKEN_API_STABLE ? "stable" : "classic", t.expires_in);
	memcpy(out, t.token, strlen(t.token) + 1);
	return WX_OK;
}

/*
 * Wait, bounded, for the lock holder to cache a token other than failed.
 * Never takes the lock itself: if the holder failed, so does this wait.
 */
static enum wx_err
wait_for(struct tokensrc *ts, const char *failed, char *out, size_t outlen,
    struct wxe *e)
{
	long long deadline = clock_ms() + token_lock_ms(ts->cfg) + 500;
	long long ttl;
	enum wx_err err;
	bool held;

	while (clock_ms() < deadline) {
		clock_sleep_ms(POLL_MS);
		if ((err = store_token_get(ts->st, out, outlen, &ttl)) != WX_OK)
			return err;
		if (token_usable(out, failed))
			return WX_OK;
		if ((err = store_exists(ts->st, ts->cfg->lock_key, &held)) != WX_OK)
			return err;
		if (held)
			continue;
		/* Released: it may have stored the token just before. */
		if ((err = store_token_get(ts->st, out, outlen, &ttl)) != WX_OK)
			return err;
		if (token_usable(out, failed))
			return WX_OK;
		return wxe_set(e, WX_TOKEN_UNAVAILABLE,
		    "another process failed to fetch the token");
	}
	(void)wxe_set(e, WX_TOKEN_UNAVAILABLE, "waited %ld ms for another "
	    "process to fetch the token", token_lock_ms(ts->cfg) + 500);
	log_warn("%s", e->msg);
	return WX_TOKEN_UNAVAILABLE;
}

/* Take the lock and fetch, or wait for whoever holds it. */
static enum wx_err
obtain(struct tokensrc *ts, const char *failed, char *out, size_t outlen,
    struct wxe *e)
{
	char val[24], fkey[LIM_KEY], why[LIM_ERRMSG];
	long long ttl;
	enum wx_err err;
	bool got;

	if (store_key(ts->cfg, "token:failed", NULL, fkey, sizeof(fkey)) != 0)
		return WX_INTERNAL;
	if ((err = store_note_get(ts->st, fkey, why, sizeof(why))) != WX_OK)
		return err;
	if (why[0] != '\0') {
		return wxe_set(e, WX_TOKEN_UNAVAILABLE, "%s (not retried for %d ms)", why,
		    TOKEN_BACKOFF_MS);
	}
	sec_new_id(val, sizeof(val));
	if ((err = store_lock(ts->st, ts->cfg->lock_key, val,
	    token_lock_ms(ts->cfg), &got)) != WX_OK)
		return err;
	if (!got) {
		metrics_count("token_wait");
		return wait_for(ts, failed, out, outlen, e);
	}

	/* Someone may have finished between our look and our lock. */
	err = store_token_get(ts->st, out, outlen, &ttl);
	if (err == WX_OK && !token_usable(out, failed)) {
		err = fetch_store(ts, failed, out, outlen, e);
		/* Remember the failure before the lock goes, so nobody races in. */
		if (err == WX_TOKEN_UNAVAILABLE)
			(void)store_note_set(ts->st, fkey, e->msg, TOKEN_BACKOFF_MS);
	}
	if (store_unlock(ts->st, ts->cfg->lock_key, val) != WX_OK)
		log_warn("could not release the token lock; it expires by itself");
	return err;
}

bool
token_due(long long ttl)
{
	return ttl >= 0 && ttl < TOKEN_AHEAD_S;
}

void
token_seen(struct tokensrc *ts, long long ttl)
{
	if (token_due(ttl))
		ts->refresh_due = true;
}

enum wx_err
token_get(struct tokensrc *ts, char *out, size_t outlen, struct wxe *e)
{
	long long ttl;
	enum wx_err err;

	if ((err = store_token_get(ts->st, out, outlen, &ttl)) != WX_OK)
		return err;
	if (out[0] != '\0') {
		token_seen(ts, ttl);
		return WX_OK;
	}
	return obtain(ts, NULL, out, outlen, e);
}

enum wx_err
token_renew(struct tokensrc *ts, const char *refused, char *out, size_t outlen,
    struct wxe *e)
{
	char failed[LIM_TOKEN];
	long long ttl;
	enum wx_err err;

	/* Callers may pass the same buffer for refused and out. */
	if (snprintf(failed, sizeof(failed), "%s", refused) >= (int)sizeof(failed))
		return WX_INTERNAL;
	log_warn("WeChat refused the cached access token; renewing it");
	if ((err = store_token_drop(ts->st, failed)) != WX_OK)
		return err;
	if ((err = store_token_get(ts->st, out, outlen, &ttl)) != WX_OK)
		return err;
	if (token_usable(out, failed))
		return WX_OK;
	return obtain(ts, failed, out, outlen, e);
}

void
token_refresh_ahead(struct tokensrc *ts)
{
	char key[LIM_KEY], val[24], tok[LIM_TOKEN];
	struct wxe e;
	long long ttl;
	bool got;

	if (!ts->refresh_due)
		return;
	ts->refresh_due = false;
	/* At most one attempt per 10 s for the fleet, then the usual lock. */
	if (store_key(ts->cfg, "token:ahead", NULL, key, sizeof(key)) != 0 ||
	    store_lock(ts->st, key, "1", 10000, &got) != WX_OK || !got)
		return;
	sec_new_id(val, sizeof(val));
	if (store_lock(ts->st, ts->cfg->lock_key, val, token_lock_ms(ts->cfg),
	    &got) != WX_OK || !got)
		return;
	if (store_token_get(ts->st, tok, sizeof(tok), &ttl) == WX_OK &&
	    (tok[0] == '\0' || ttl < TOKEN_AHEAD_S)) {
		log_info("refreshing the access token ahead of expiry (%lld s left)",
		    ttl);
		metrics_count("token_ahead");
		(void)fetch_store(ts, NULL, tok, sizeof(tok), &e);
	}
	(void)store_unlock(ts->st, ts->cfg->lock_key, val);
}
