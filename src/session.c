/*
 * session.c: session tokens, hashed before they touch Redis.
 */
#include <stdio.h>
#include <string.h>

#include "session.h"
#include "crypto.h"
#include "secure.h"
#include "validate.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
session_token_shape(const char *s)
{
	size_t n = sizeof(SESSION_PREFIX) - 1;

	/* base64url's alphabet is VC_ID's. */
	return s != NULL && strlen(s) == SESSION_TOKEN_LEN &&
	    strncmp(s, SESSION_PREFIX, n) == 0 &&
	    val_span(s + n, SESSION_TOKEN_LEN - n, VC_ID);
}

/* base64url without padding of 32 bytes: 43 characters. */
static void
encode(const unsigned char *in, size_t len, char *out)
{
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (len - i == 2) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
	} else if (len - i == 1) {
		v = (unsigned)in[i] << 16;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
	}
	out[o] = '\0';
}

/* Hash the token and name its Redis key after the hash's first half. */
static int
locate(const struct config *c, const char *token, char hash[65], char *key,
    size_t keylen)
{
	char id[33];

	if (crypto_sha256_hex(token, strlen(token), hash) != 0)
		return -1;
	memcpy(id, hash, 32);
	id[32] = '\0';
	return store_key(c, "session", id, key, keylen);
}

enum wx_err
session_create(struct store *st, const struct config *c,
    const struct session_user *u, char *token, size_t toklen)
{
	unsigned char raw[32];
	char hash[65], key[LIM_KEY];
	enum wx_err err;

	if (toklen < SESSION_TOKEN_LEN + 1 || sec_random(raw, sizeof(raw)) != 0)
		return WX_INTERNAL;
	memcpy(token, SESSION_PREFIX, sizeof(SESSION_PREFIX) - 1);
	encode(raw, sizeof(raw), token + sizeof(SESSION_PREFIX) - 1);
	if (locate(c, token, hash, key, sizeof(key)) != 0)
		return WX_INTERNAL;
	err = store_session_put(st, key, hash, u->openid, u->session_key,
	    u->unionid, c->session_ttl);
	memset(raw, 0, sizeof(raw));
	return err;
}

enum wx_err
session_check(struct store *st, const struct config *c, const char *token,
    char *openid, size_t oplen, char *tag, size_t taglen)
{
	char hash[65], key[LIM_KEY], stored[72];
	enum wx_err err;

	openid[0] = '\0';
	if (taglen > 0)
		tag[0] = '\0';
	if (!session_token_shape(token))
		return WX_UNAUTHORIZED;
	if (locate(c, token, hash, key, sizeof(key)) != 0)
		return WX_INTERNAL;
	snprintf(tag, taglen, "%.*s", SESSION_TAG_LEN, hash);
	if ((err = store_session_get(st, key, stored, sizeof(stored), openid,
	    oplen)) != WX_OK)
		return err;
	/* The key names half the hash; the whole must match, in constant time. */
	if (stored[0] == '\0' || !sec_equal(hash, stored) || openid[0] == '\0') {
		openid[0] = '\0';
		return WX_UNAUTHORIZED;
	}
	return WX_OK;
}

enum wx_err
session_drop(struct store *st, const struct config *c, const char *token)
{
	char hash[65], key[LIM_KEY];
	const char *keys[1] = { key };
	long long n;

	if (!session_token_shape(token))
		return WX_UNAUTHORIZED;
	if (locate(c, token, hash, key, sizeof(key)) != 0)
		return WX_INTERNAL;
	return store_del(st, keys, 1, &n);
}
