/*
 * idem.c: Idempotency-Key (idem.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "idem.h"
#include "join.h"
#include "log.h"
#include "num.h"
#include "redis.h"
#include "scripts.h"
#include "store.h"

#define JSON_CT		"application/json; charset=utf-8"

bool
idem_key_ok(const char *k)
{
	size_t n = strlen(k), i;

	if (n == 0 || n > IDEM_KEY_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
		    c == ':'))
			return false;
	}
	return true;
}

/* A decimal field ending in '|' at *p; -1 when there is none. */
static long
field_num(const char **p, const char *end)
{
	long v = 0;
	const char *s = *p;

	if (s >= end || *s < '0' || *s > '9')
		return -1;
	for (; s < end && *s >= '0' && *s <= '9' && v < 100000; s++)
		v = v * 10 + (*s - '0');
	if (s >= end || *s != '|')
		return -1;
	*p = s + 1;
	return v;
}

enum idem_state
idem_decide(const char *v, size_t len, const char *hash, struct idem_answer *a)
{
	const char *end, *p;
	long status, err;

	memset(a, 0, sizeof(*a));
	if (v == NULL)
		return IDEM_NEW;
	end = v + len;
	if (len < 2 + IDEM_HASH_LEN || v[1] != '|' ||
	    (v[0] != 'p' && v[0] != 'd'))
		return IDEM_IN_FLIGHT;
	if (memcmp(v + 2, hash, IDEM_HASH_LEN) != 0)
		return IDEM_REUSED;
	if (v[0] == 'p')
		return IDEM_IN_FLIGHT;
	p = v + 2 + IDEM_HASH_LEN;
	if (p >= end || *p++ != '|' || (status = field_num(&p, end)) < 200 ||
	    status > 499 || (err = field_num(&p, end)) < 0 || err >= WX__MAX)
		return IDEM_IN_FLIGHT;
	a->status = (int)status;
	a->err = (enum wx_err)err;
	a->body = p;
	a->len = (size_t)(end - p);
	return IDEM_REPLAY;
}

/* The caller's identity: a hash of its api key, never the key. */
static int
caller_id(const struct request *r, char out[17])
{
	char hex[65];
	const char *k = r->auth;

	if (strncmp(k, "Bearer ", 7) == 0)
		k += 7;
	if (crypto_sha256_hex(k, strlen(k), hex) != 0)
		return -1;
	memcpy(out, hex, 16);
	out[16] = '\0';
	return 0;
}

enum wx_err
idem_prepare(struct app *a, const struct request *r, struct idem *i,
    struct wxe *e)
{
	char who[17];
	const char *parts[5];

	memset(i, 0, sizeof(*i));
	if (!r->has_idem)
		return WX_OK;
	if (!idem_key_ok(r->idem_key)) {
		return wxe_set(e, WX_BAD_REQUEST, "Idempotency-Key: 1 to %d of "
		    "A-Z a-z 0-9 _ - . :", IDEM_KEY_MAX);
	}
	if (caller_id(r, who) != 0 || crypto_sha256_hex(r->body != NULL ?
	    r->body : "", r->body_len, i->body_hash) != 0)
		return wxe_set(e, WX_INTERNAL, NULL);
	parts[0] = a->cfg.prefix;
	parts[1] = "idem:";
	parts[2] = who;
	parts[3] = ":";
	parts[4] = r->idem_key;
	if (join(i->rkey, sizeof(i->rkey), parts, 5) != 0)
		return wxe_set(e, WX_INTERNAL, NULL);
	i->keyed = true;
	return WX_OK;
}

enum wx_err
idem_seen(const struct idem *i, const char *v, size_t len,
    struct response *resp, struct wxe *e)
{
	struct idem_answer ans;
	char *copy;

	switch (idem_decide(v, len, i->body_hash, &ans)) {
	case IDEM_NEW:		/* never: a value was found */
	case IDEM_IN_FLIGHT:
		return wxe_set(e, WX_IDEM_IN_FLIGHT, "the first request with "
		    "this Idempotency-Key is still being answered");
	case IDEM_REUSED:
		return wxe_set(e, WX_IDEM_REUSED, "this Idempotency-Key was "
		    "used with another body");
	case IDEM_REPLAY:
		break;
	}
	if ((copy = malloc(ans.len + 1)) == NULL)
		return wxe_set(e, WX_INTERNAL, NULL);
	memcpy(copy, ans.body, ans.len);
	copy[ans.len] = '\0';
	resp_text(resp, JSON_CT, copy, ans.len);
	resp->status = ans.status;
	resp->err = ans.err;
	log_info("Idempotency-Key seen: the first answer again");
	return WX_OK;
}

enum wx_err
idem_begin(struct app *a, const struct request *r, struct idem *i,
    struct response *resp, bool *answered, struct wxe *e)
{
	char pval[2 + IDEM_HASH_LEN + 1], life[NUM_DEC_MAX];
	const char *keys[1], *args[2];
	redisReply *rep;
	enum wx_err err;

	*answered = false;
	if ((err = idem_prepare(a, r, i, e)) != WX_OK || !i->keyed)
		return err;
	snprintf(pval, sizeof(pval), "p|%s", i->body_hash);
	/* Longer than any send may take: claim wait, token wait, the call. */
	num_i64(life, 4 * a->cfg.timeout_ms + 10000);
	keys[0] = i->rkey;
	args[0] = pval;
	args[1] = life;
	if ((rep = redis_eval(store_redis(a->st), &SCRIPT_IDEM_BEGIN, 1, keys, 2,
	    args)) == NULL)
		return wxe_set(e, WX_REDIS_UNAVAILABLE, NULL);
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1)
		err = wxe_set(e, WX_INTERNAL, NULL);
	else if (rep->element[0]->type == REDIS_REPLY_INTEGER &&
	    rep->element[0]->integer == 0)
		i->active = true;
	else if (rep->elements == 2 &&
	    rep->element[1]->type == REDIS_REPLY_STRING) {
		err = idem_seen(i, rep->element[1]->str, rep->element[1]->len,
		    resp, e);
		*answered = err == WX_OK;
	} else
		err = wxe_set(e, WX_IDEM_IN_FLIGHT, "the first request with "
		    "this Idempotency-Key is still being answered");
	freeReplyObject(rep);
	return err;
}

void
idem_end(struct app *a, struct idem *i, struct response *resp)
{
	char head[2 + IDEM_HASH_LEN + 2 * NUM_DEC_MAX + 8], st[NUM_DEC_MAX];
	char er[NUM_DEC_MAX], ex[NUM_DEC_MAX], pval[2 + IDEM_HASH_LEN + 1];
	const char *body, *parts[7], *argv[5];
	char *value = NULL;
	size_t blen, hlen, n = 0;
	redisReply *rep;

	if (!i->active)
		return;
	i->active = false;
	if (resp->status >= 500 || resp->status < 200) {
		/* Not final: the caller may try again with the same key. */
		snprintf(pval, sizeof(pval), "p|%s", i->body_hash);
		(void)store_unlock(a->st, i->rkey, pval);
		return;
	}
	body = resp->text != NULL ? resp->text : resp->has_body ?
	    jw_finish(&resp->body, &blen) : NULL;
	if (resp->text != NULL)
		blen = resp->text_len;
	num_i64(st, resp->status);
	num_i64(er, resp->err);
	parts[n++] = "d|";
	parts[n++] = i->body_hash;
	parts[n++] = "|";
	parts[n++] = st;
	parts[n++] = "|";
	parts[n++] = er;
	parts[n++] = "|";
	if (body == NULL || join(head, sizeof(head), parts, n) != 0 ||
	    (value = malloc((hlen = strlen(head)) + blen + 1)) == NULL) {
		log_error("Idempotency-Key: the answer could not be kept");
		return;
	}
	memcpy(value, head, hlen);
	memcpy(value + hlen, body, blen);
	value[hlen + blen] = '\0';
	num_i64(ex, IDEM_KEEP_S);
	argv[0] = "SET";
	argv[1] = i->rkey;
	argv[2] = value;
	argv[3] = "EX";
	argv[4] = ex;
	if ((rep = redis_command(store_redis(a->st), 5, argv)) == NULL)
		log_error("Idempotency-Key: the answer could not be kept");
	else
		freeReplyObject(rep);
	free(value);
}
