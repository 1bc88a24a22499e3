/*
 * store_read.c: the reply readers of store.[ch], pure functions of a
 * hiredis reply (declared in store.h, under "Reply readers"): store.c
 * sends, these read, and tests/unit/test_store.c feeds them replies
 * parsed by hiredis' reader with no server.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "store.h"

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
store_read_token(const redisReply *r, char *tok, size_t toklen,
    long long *ttl)
{
	tok[0] = '\0';
	*ttl = -2;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		return WX_INTERNAL;
	if (r->element[1]->type == REDIS_REPLY_INTEGER)
		*ttl = r->element[1]->integer;
	if (r->element[0]->type == REDIS_REPLY_STRING) {
		if (r->element[0]->len >= toklen) {
			log_error("cached token is longer than %zu bytes", toklen);
			return WX_INTERNAL;
		}
		memcpy(tok, r->element[0]->str, r->element[0]->len);
		tok[r->element[0]->len] = '\0';
	}
	return WX_OK;
}

bool
store_read_set_nx(const redisReply *r)
{
	return r->type == REDIS_REPLY_STATUS;
}

void
store_read_string(const redisReply *r, char *out, size_t outlen)
{
	copy_bulk(r, out, outlen);
}

long long
store_read_integer(const redisReply *r)
{
	return r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}

/* An array of n replies, each read by one into out. */
static enum wx_err
read_each(const redisReply *r, size_t n, long long *out,
    long long (*one)(const redisReply *))
{
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
		return WX_INTERNAL;
	for (i = 0; i < n; i++)
		out[i] = one(r->element[i]);
	return WX_OK;
}

enum wx_err
store_read_counts(const redisReply *r, size_t n, long long *counts)
{
	return read_each(r, n, counts, as_count);
}

enum wx_err
store_read_credit_script(const redisReply *r, size_t n, long long *counts)
{
	return read_each(r, n, counts, store_read_integer);
}

bool
store_read_credit_step(const redisReply *r, bool marker, long long *count)
{
	if (marker && r->type == REDIS_REPLY_STATUS)
		*count = 1;
	else if (!marker && r->type == REDIS_REPLY_INTEGER)
		*count = r->integer;
	else
		return false;
	return true;
}

/* SCRIPT_SEND_BEGIN's answers other than a taken credit's pttl (>= -1) */
#define BEGIN_BUSY	(-2)
#define BEGIN_NONE	(-3)

enum wx_err
store_read_send_begin(const redisReply *r, const redisReply *token,
    const redisReply *ttl, struct send_claim *c)
{
	c->state = SEND_BUSY;
	c->pttl = c->token_ttl = -1;
	c->token[0] = '\0';
	if (r->type != REDIS_REPLY_INTEGER || r->integer < BEGIN_NONE)
		return WX_INTERNAL;
	if (r->integer == BEGIN_BUSY)
		return WX_OK;
	if (r->integer == BEGIN_NONE) {
		c->state = SEND_NONE;
		return WX_OK;
	}
	if (token == NULL || ttl == NULL)
		return WX_INTERNAL;
	/* Taken: whatever the token key holds, the claim stands (a value
	 * that is not a string reads as no token). */
	c->state = SEND_TAKEN;
	c->pttl = r->integer;
	copy_bulk(token, c->token, sizeof(c->token));
	if (ttl->type == REDIS_REPLY_INTEGER)
		c->token_ttl = ttl->integer;
	return WX_OK;
}

void
store_read_session(const redisReply *r, char *hash, size_t hashlen,
    char *openid, size_t oplen)
{
	hash[0] = openid[0] = '\0';
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
		copy_bulk(r->element[0], hash, hashlen);
		copy_bulk(r->element[1], openid, oplen);
	}
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
store_read_hash(const redisReply *r, char ***fields, long long **values,
    size_t *n)
{
	size_t i, m;

	*fields = NULL;
	*values = NULL;
	*n = 0;
	if (r->type != REDIS_REPLY_ARRAY)
		return WX_INTERNAL;
	m = r->elements / 2;
	*fields = calloc(m + 1, sizeof(**fields));
	*values = calloc(m + 1, sizeof(**values));
	if (*fields == NULL || *values == NULL) {
		store_hash_free(*fields, *values, 0);
		*fields = NULL;
		*values = NULL;
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
	return WX_OK;
}
