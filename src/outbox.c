/*
 * outbox.c: the outbox's states in Redis (outbox.h), one Lua script
 * (scripts.c) per change, and the pure rules beside them (backoff, what
 * an attempt came to, reading replies).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "clock.h"
#include "join.h"
#include "log.h"
#include "num.h"
#include "outbox.h"
#include "redis.h"
#include "scripts.h"
#include "request.h"
#include "wechat.h"
#include "secure.h"

static const char *const status_names[OB__MAX] = {
	[OB_QUEUED] = "queued", [OB_SENDING] = "sending", [OB_SENT] = "sent",
	[OB_DELIVERED] = "delivered", [OB_FAILED] = "failed",
	[OB_UNKNOWN] = "unknown",
};

const char *
outbox_status_name(enum outbox_status s)
{
	return (int)s >= 0 && s < OB__MAX ? status_names[s] : "unknown";
}

int
outbox_status_of(const char *s)
{
	for (int i = 0; i < OB__MAX; i++)
		if (strcmp(s, status_names[i]) == 0)
			return i;
	return -1;
}

int
outbox_new_id(char kind, char *out, size_t outlen)
{
	unsigned char raw[9];
	size_t i;

	if (outlen < OUTBOX_ID_LEN + 1 || sec_random(raw, sizeof(raw)) != 0)
		return -1;
	out[0] = kind;
	out[1] = '_';
	for (i = 0; i < sizeof(raw); i++) {
		out[2 + 2 * i] = num_hex[raw[i] >> 4];
		out[3 + 2 * i] = num_hex[raw[i] & 15];
	}
	out[OUTBOX_ID_LEN] = '\0';
	return 0;
}

bool
outbox_id_ok(const char *s)
{
	size_t i;

	if (strlen(s) != OUTBOX_ID_LEN || (s[0] != 'm' && s[0] != 'b') ||
	    s[1] != '_')
		return false;
	for (i = 2; i < OUTBOX_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* ---- keys ---- */

static int
key(const struct config *c, const char *a, const char *b, char *out,
    size_t outlen)
{
	const char *parts[] = { c->prefix, a, b };

	return join(out, outlen, parts, b != NULL ? 3 : 2);
}

/* ---- helpers ---- */

static void
copy_str(const redisReply *e, char *out, size_t outlen)
{
	out[0] = '\0';
	if (e != NULL && e->type == REDIS_REPLY_STRING && e->len < outlen) {
		memcpy(out, e->str, e->len);
		out[e->len] = '\0';
	}
}

/* An integer reply, or a bulk string holding one; dflt otherwise. */
static long long
as_int(const redisReply *e, long long dflt)
{
	char buf[32], *end;
	long long v;

	if (e == NULL)
		return dflt;
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer;
	if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len >= sizeof(buf))
		return dflt;
	memcpy(buf, e->str, e->len);
	buf[e->len] = '\0';
	v = strtoll(buf, &end, 10);
	return *end == '\0' ? v : dflt;
}

/* A script's reply: NULL (unavailable) or an error reply logged. */
static redisReply *
checked(redisReply *r, const char *what)
{
	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		log_error("redis refused the outbox's %s: %.200s", what, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* ---- enqueue and look ---- */

void
outbox_answer_free(struct outbox_answer *a)
{
	free(a->text);
	free(a->seen);
	a->text = a->seen = NULL;
}

/* A reply string's copy (malloc'd), or NULL. */
static char *
dup_str(const redisReply *r, size_t *len)
{
	char *s;

	if (r->type != REDIS_REPLY_STRING || (s = malloc(r->len + 1)) == NULL)
		return NULL;
	memcpy(s, r->str, r->len);
	s[r->len] = '\0';
	*len = r->len;
	return s;
}

#define ENQ_ARGS	8	/* ARGV before the items' */
#define ENQ_TAIL	6	/* and after them */

enum wx_err
outbox_enqueue(struct store *st, const struct config *c, const char *tpl,
    bool longterm, const char *batch, struct outbox_item *items, size_t n,
    struct outbox_answer *ans)
{
	char stream[LIM_KEY], msb[NUM_DEC_MAX];
	char keepb[NUM_DEC_MAX], nb[NUM_DEC_MAX], lifeb[NUM_DEC_MAX];
	char (*credit)[LIM_KEY] = NULL;
	const char **args = NULL, *keys[2] = { stream, "" };
	const char *form = ans->batch ? "b" : ans->key != NULL ? "1" : "-";
	redisReply *r = NULL;
	enum wx_err err = WX_INTERNAL;
	size_t i, a = 0;

	ans->text = ans->seen = NULL;
	ans->len = ans->seen_len = 0;
	if (n == 0 || key(c, "outbox", NULL, stream, sizeof(stream)) != 0)
		return WX_INTERNAL;
	credit = calloc(n, sizeof(*credit));
	args = calloc(ENQ_ARGS + 6 * n + ENQ_TAIL, sizeof(*args));
	if (credit == NULL || args == NULL)
		goto out;
	num_i64(msb, clock_wall_ms());
	num_i64(keepb, c->outbox_keep_s);
	num_u64(nb, n);
	num_i64(lifeb, ans->keep_s);
	if (ans->key != NULL)
		keys[1] = ans->key;
	args[a++] = c->prefix;
	args[a++] = msb;
	args[a++] = keepb;
	args[a++] = tpl;
	args[a++] = longterm ? "1" : "0";
	args[a++] = batch != NULL ? batch : "";
	args[a++] = nb;
	args[a++] = form;
	for (i = 0; i < n; i++) {
		if (store_key_sub(c, tpl, items[i].openid, credit[i],
		    sizeof(credit[i])) != 0 || (items[i].id[0] == '\0' &&
		    outbox_new_id('m', items[i].id, sizeof(items[i].id)) != 0))
			goto out;
		items[i].refused = false;
		args[a++] = items[i].id;
		args[a++] = items[i].openid;
		args[a++] = credit[i];
		args[a++] = items[i].payload;
		if (ans->batch) {
			args[a++] = items[i].says[0] != NULL ? items[i].says[0] : "";
			args[a++] = items[i].says[1] != NULL ? items[i].says[1] : "";
		}
	}
	if (*form != '-') {
		args[a++] = ans->key != NULL ? ans->hash : "";
		args[a++] = lifeb;
		for (i = 0; i < 4; i++)
			args[a++] = ans->piece[i] != NULL ? ans->piece[i] : "";
	}
	if ((r = checked(redis_eval(store_redis(st), &SCRIPT_OUTBOX_ENQUEUE,
	    ans->key != NULL ? 2 : 1, keys, a,
	    args), "enqueue")) == NULL) {
		err = WX_REDIS_UNAVAILABLE;
		goto out;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2)
		goto out;
	if (as_int(r->element[0], -1) == 1) {
		if ((ans->seen = dup_str(r->element[1], &ans->seen_len)) != NULL)
			err = WX_OK;
		goto out;
	}
	if ((ans->batch || ans->key != NULL) &&
	    (ans->text = dup_str(r->element[1], &ans->len)) == NULL)
		goto out;
	for (i = 2; i < r->elements; i++) {
		long long at = as_int(r->element[i], -1);
		if (at >= 0 && (size_t)at < n)
			items[at].refused = true;
	}
	err = WX_OK;
out:
	freeReplyObject(r);
	free(credit);
	free(args);
	return err;
}

int
outbox_read_msg(const redisReply *r, struct outbox_msg *m)
{
	static const char *const f[] = { "s", "o", "t", "a", "m", "e", "c",
	    "q", "ua", "b", "ca" };
	const redisReply *v[sizeof(f) / sizeof(f[0])] = { 0 };
	size_t i, j;
	int s;

	memset(m, 0, sizeof(*m));
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
		return -1;
	if (r->elements == 0)
		return 0;		/* no such message */
	for (i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *k = r->element[i];
		if (k->type != REDIS_REPLY_STRING)
			return -1;
		for (j = 0; j < sizeof(f) / sizeof(f[0]); j++)
			if (k->len == strlen(f[j]) && memcmp(k->str, f[j], k->len) == 0)
				v[j] = r->element[i + 1];
	}
	char sbuf[16];
	copy_str(v[0], sbuf, sizeof(sbuf));
	if ((s = outbox_status_of(sbuf)) < 0)
		return -1;
	m->found = true;
	m->status = (enum outbox_status)s;
	copy_str(v[1], m->openid, sizeof(m->openid));
	copy_str(v[2], m->template_id, sizeof(m->template_id));
	m->attempts = as_int(v[3], 0);
	copy_str(v[4], m->msgid, sizeof(m->msgid));
	copy_str(v[5], m->error, sizeof(m->error));
	if (v[6] != NULL && v[6]->type == REDIS_REPLY_STRING && v[6]->len > 0) {
		m->has_errcode = true;
		m->errcode = as_int(v[6], 0);
	}
	m->created = as_int(v[10], as_int(v[7], 0) / 1000);
	m->updated = as_int(v[8], m->created);
	copy_str(v[9], m->batch, sizeof(m->batch));
	return 0;
}

enum wx_err
outbox_get(struct store *st, const struct config *c, const char *id,
    struct outbox_msg *m)
{
	char k[LIM_KEY];
	const char *argv[2] = { "HGETALL", k };
	redisReply *r;
	int rc;

	memset(m, 0, sizeof(*m));
	if (key(c, "msg:", id, k, sizeof(k)) != 0)
		return WX_INTERNAL;
	if ((r = checked(redis_argv(store_redis(st), 2, argv), "read")) == NULL)
		return WX_REDIS_UNAVAILABLE;
	rc = outbox_read_msg(r, m);
	freeReplyObject(r);
	return rc == 0 ? WX_OK : WX_INTERNAL;
}

enum wx_err
outbox_batch(struct store *st, const struct config *c, const char *id,
    bool *found, long long counts[OB__MAX])
{
	char k[LIM_KEY], s[16];
	const char *keys[1] = { k }, *args[1] = { c->prefix };
	redisReply *r;
	size_t i;
	int at;

	*found = false;
	memset(counts, 0, OB__MAX * sizeof(counts[0]));
	if (key(c, "batch:", id, k, sizeof(k)) != 0)
		return WX_INTERNAL;
	if ((r = checked(redis_eval(store_redis(st), &SCRIPT_OUTBOX_BATCH, 1, keys, 1, args),
	    "batch count")) == NULL)
		return WX_REDIS_UNAVAILABLE;
	if (r->type == REDIS_REPLY_ARRAY) {
		*found = true;
		for (i = 0; i + 1 < r->elements; i += 2) {
			copy_str(r->element[i], s, sizeof(s));
			if ((at = outbox_status_of(s)) >= 0)
				counts[at] = as_int(r->element[i + 1], 0);
		}
	}
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
outbox_settle(struct store *st, const struct config *c, uint64_t msgid,
    const char *openid, const char *tpl, long errcode, char *settled,
    size_t settledlen)
{
	char mb[NUM_DEC_MAX], eb[NUM_DEC_MAX], nowb[NUM_DEC_MAX], kb[NUM_DEC_MAX];
	const char *args[7] = { c->prefix, mb, openid, tpl, eb, nowb, kb };
	redisReply *r;

	if (settled != NULL && settledlen > 0)
		settled[0] = '\0';
	mb[0] = '\0';
	if (msgid != 0)
		num_u64(mb, msgid);
	num_i64(eb, errcode);
	num_i64(nowb, clock_wall_ms() / 1000);
	num_i64(kb, c->outbox_keep_s);
	if ((r = checked(redis_eval(store_redis(st), &SCRIPT_OUTBOX_SETTLE, 0, NULL, 7, args),
	    "settle")) == NULL)
		return WX_REDIS_UNAVAILABLE;
	if (settled != NULL)
		copy_str(r, settled, settledlen);
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
outbox_counts(struct store *st, const struct config *c,
    struct outbox_counts *o)
{
	char k[4][LIM_KEY];
	const char *keys[4] = { k[0], k[1], k[2], k[3] };
	const char *args[1] = { OUTBOX_GROUP };
	redisReply *r;

	memset(o, 0, sizeof(*o));
	if (key(c, "outbox", NULL, k[0], sizeof(k[0])) != 0 ||
	    key(c, "outbox:delayed", NULL, k[1], sizeof(k[1])) != 0 ||
	    key(c, "outbox:failed", NULL, k[2], sizeof(k[2])) != 0 ||
	    key(c, "outbox:unknowns", NULL, k[3], sizeof(k[3])) != 0)
		return WX_INTERNAL;
	if ((r = checked(redis_eval(store_redis(st), &SCRIPT_OUTBOX_COUNTS, 4, keys, 1, args),
	    "counts")) == NULL)
		return WX_REDIS_UNAVAILABLE;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 5) {
		o->stream = as_int(r->element[0], 0);
		o->pending = as_int(r->element[1], 0);
		o->delayed = as_int(r->element[2], 0);
		o->failed = as_int(r->element[3], 0);
		o->unknown = as_int(r->element[4], 0);
	}
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
outbox_failed(struct store *st, const struct config *c,
    char (*ids)[OUTBOX_ID_LEN + 1], size_t max, size_t *n)
{
	char k[LIM_KEY], stop[NUM_DEC_MAX];
	const char *argv[4] = { "ZREVRANGE", k, "0", stop };
	redisReply *r;
	size_t i;

	*n = 0;
	if (max == 0 || key(c, "outbox:failed", NULL, k, sizeof(k)) != 0)
		return WX_INTERNAL;
	num_u64(stop, max - 1);
	if ((r = checked(redis_argv(store_redis(st), 4, argv), "list")) == NULL)
		return WX_REDIS_UNAVAILABLE;
	for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements &&
	    *n < max; i++) {
		copy_str(r->element[i], ids[*n], sizeof(ids[*n]));
		if (ids[*n][0] != '\0')
			(*n)++;
	}
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
outbox_retry(struct store *st, const struct config *c, const char *id,
    const char **how)
{
	char k[3][LIM_KEY], nowb[NUM_DEC_MAX], msb[NUM_DEC_MAX], out[32];
	const char *keys[3] = { k[0], k[1], k[2] };
	const char *args[3] = { nowb, msb, id };
	static const char *const hows[] = { "queued", "not_failed",
	    "not_found", "not_subscribed" };
	long long ms = clock_wall_ms();
	redisReply *r;
	size_t i;

	*how = "not_found";
	if (!outbox_id_ok(id) || id[0] != 'm')
		return WX_OK;
	if (key(c, "msg:", id, k[0], sizeof(k[0])) != 0 ||
	    key(c, "outbox", NULL, k[1], sizeof(k[1])) != 0 ||
	    key(c, "outbox:failed", NULL, k[2], sizeof(k[2])) != 0)
		return WX_INTERNAL;
	num_i64(nowb, ms / 1000);
	num_i64(msb, ms);
	if ((r = checked(redis_eval(store_redis(st), &SCRIPT_OUTBOX_RETRY, 3, keys, 3, args),
	    "retry")) == NULL)
		return WX_REDIS_UNAVAILABLE;
	copy_str(r, out, sizeof(out));
	freeReplyObject(r);
	for (i = 0; i < sizeof(hows) / sizeof(hows[0]); i++)
		if (strcmp(out, hows[i]) == 0)
			*how = hows[i];
	return WX_OK;
}

int
outbox_read_aof(const char *info, size_t len)
{
	static const char k[] = "aof_enabled:";
	size_t i;

	for (i = 0; i + sizeof(k) <= len; i++)
		if ((i == 0 || info[i - 1] == '\n') &&
		    memcmp(info + i, k, sizeof(k) - 1) == 0)
			return info[i + sizeof(k) - 1] == '1' ? 1 :
			    info[i + sizeof(k) - 1] == '0' ? 0 : -1;
	return -1;
}

int
outbox_aof(struct store *st)
{
	const char *argv[2] = { "INFO", "persistence" };
	redisReply *r = redis_argv(store_redis(st), 2, argv);
	int on = -1;

	if (r != NULL && (r->type == REDIS_REPLY_STRING ||
	    r->type == REDIS_REPLY_STATUS))
		on = outbox_read_aof(r->str, r->len);
	if (r != NULL)
		freeReplyObject(r);
	return on;
}

/* ---- the worker's steps ---- */

enum wx_err
outbox_group(struct store *st, const struct config *c)
{
	char k[LIM_KEY];
	const char *argv[6] = { "XGROUP", "CREATE", k, OUTBOX_GROUP, "0",
	    "MKSTREAM" };
	redisReply *r;
	enum wx_err err = WX_OK;

	if (key(c, "outbox", NULL, k, sizeof(k)) != 0)
		return WX_INTERNAL;
	if ((r = redis_argv(store_redis(st), 6, argv)) == NULL)
		return WX_REDIS_UNAVAILABLE;
	if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0) {
		log_error("redis refused the outbox's group: %.200s", r->str);
		err = WX_INTERNAL;
	}
	freeReplyObject(r);
	return err;
}

enum wx_err
outbox_leave_group(struct store *st, const struct config *c,
    const char *consumer)
{
	char k[LIM_KEY];
	const char *keys[1] = { k }, *args[2] = { OUTBOX_GROUP, consumer };
	redisReply *r;

	if (key(c, "outbox", NULL, k, sizeof(k)) != 0)
		return WX_INTERNAL;
	if ((r = checked(redis_eval(store_redis(st), &SCRIPT_OUTBOX_LEAVE, 1, keys, 2,
	    args), "leave")) == NULL)
		return WX_REDIS_UNAVAILABLE;
	freeReplyObject(r);
	return WX_OK;
}

/* One entry: [entry id, [field, value, ...]] (value nil when deleted). */
static void
read_entry(const redisReply *e, struct outbox_entry *o, bool claimed)
{
	const redisReply *f;
	size_t j;

	memset(o, 0, sizeof(*o));
	o->claimed = claimed;
	if (e->type != REDIS_REPLY_ARRAY || e->elements < 1)
		return;
	copy_str(e->element[0], o->entry, sizeof(o->entry));
	if (e->elements < 2 || (f = e->element[1])->type != REDIS_REPLY_ARRAY)
		return;
	for (j = 0; j + 1 < f->elements; j += 2)
		if (f->element[j]->type == REDIS_REPLY_STRING &&
		    f->element[j]->len == 2 && memcmp(f->element[j]->str, "id", 2) == 0)
			copy_str(f->element[j + 1], o->id, sizeof(o->id));
	if (!outbox_id_ok(o->id))
		o->id[0] = '\0';
}

int
outbox_read_entries(const redisReply *r, struct outbox_entry *out, size_t max,
    size_t *n, bool claimed)
{
	size_t i;

	*n = 0;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return r != NULL && r->type == REDIS_REPLY_NIL ? 0 : -1;
	for (i = 0; i < r->elements && *n < max; i++) {
		read_entry(r->element[i], &out[*n], claimed);
		if (out[*n].entry[0] != '\0')
			(*n)++;
	}
	return 0;
}

enum wx_err
outbox_read(struct store *st, const struct config *c, const char *consumer,
    long block_ms, struct outbox_entry *out, size_t max, size_t *n)
{
	char k[LIM_KEY], cnt[NUM_DEC_MAX], blk[NUM_DEC_MAX];
	const char *argv[11] = { "XREADGROUP", "GROUP", OUTBOX_GROUP, consumer,
	    "COUNT", cnt, "BLOCK", blk, "STREAMS", k, ">" };
	const char *noblock[9] = { "XREADGROUP", "GROUP", OUTBOX_GROUP, consumer,
	    "COUNT", cnt, "STREAMS", k, ">" };
	redisReply *r;
	int rc = 0;

	*n = 0;
	if (key(c, "outbox", NULL, k, sizeof(k)) != 0)
		return WX_INTERNAL;
	num_u64(cnt, max);
	num_i64(blk, block_ms);
	if ((r = block_ms > 0 ? redis_argv(store_redis(st), 11, argv) :
	    redis_argv(store_redis(st), 9, noblock)) == NULL)
		return WX_REDIS_UNAVAILABLE;
	if (r->type == REDIS_REPLY_ERROR) {
		/* Redis came back without the group (no AOF): make it again. */
		bool nogroup = strncmp(r->str, "NOGROUP", 7) == 0;
		if (!nogroup)
			log_error("redis refused XREADGROUP: %.200s", r->str);
		freeReplyObject(r);
		return nogroup ? outbox_group(st, c) : WX_INTERNAL;
	}
	/* [[stream, [entries]]] or nil */
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->elements == 2)
		rc = outbox_read_entries(r->element[0]->element[1], out, max, n,
		    false);
	else if (r->type != REDIS_REPLY_NIL)
		rc = -1;
	freeReplyObject(r);
	return rc == 0 ? WX_OK : WX_INTERNAL;
}

enum wx_err
outbox_claim(struct store *st, const struct config *c, const char *consumer,
    char *cursor, size_t cursorlen, struct outbox_entry *out, size_t max,
    size_t *n)
{
	char k[LIM_KEY], idle[NUM_DEC_MAX], cnt[NUM_DEC_MAX];
	const char *argv[8] = { "XAUTOCLAIM", k, OUTBOX_GROUP, consumer, idle,
	    cursor, "COUNT", cnt };
	redisReply *r;
	int rc = -1;

	*n = 0;
	if (key(c, "outbox", NULL, k, sizeof(k)) != 0)
		return WX_INTERNAL;
	num_i64(idle, c->outbox_claim_after_ms);
	num_u64(cnt, max);
	if ((r = redis_argv(store_redis(st), 8, argv)) == NULL)
		return WX_REDIS_UNAVAILABLE;
	if (r->type == REDIS_REPLY_ERROR) {
		bool nogroup = strncmp(r->str, "NOGROUP", 7) == 0;
		freeReplyObject(r);
		return nogroup ? outbox_group(st, c) : WX_INTERNAL;
	}
	/* [next cursor, [entries], [deleted ids]] */
	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
		copy_str(r->element[0], cursor, cursorlen);
		if (cursor[0] == '\0')
			snprintf(cursor, cursorlen, "0-0");
		rc = outbox_read_entries(r->element[1], out, max, n, true);
	}
	freeReplyObject(r);
	return rc == 0 ? WX_OK : WX_INTERNAL;
}

enum wx_err
outbox_promote(struct store *st, const struct config *c, size_t max,
    size_t *n)
{
	char k[2][LIM_KEY], nowb[NUM_DEC_MAX], mb[NUM_DEC_MAX];
	const char *keys[2] = { k[0], k[1] }, *args[2] = { nowb, mb };
	redisReply *r;

	*n = 0;
	if (key(c, "outbox:delayed", NULL, k[0], sizeof(k[0])) != 0 ||
	    key(c, "outbox", NULL, k[1], sizeof(k[1])) != 0)
		return WX_INTERNAL;
	num_i64(nowb, clock_wall_ms());
	num_u64(mb, max);
	if ((r = checked(redis_eval(store_redis(st), &SCRIPT_OUTBOX_PROMOTE, 2, keys, 2, args),
	    "promote")) == NULL)
		return WX_REDIS_UNAVAILABLE;
	*n = (size_t)as_int(r, 0);
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
outbox_due_soon(struct store *st, const struct config *c, long ms, bool *yes)
{
	char k[LIM_KEY], upto[NUM_DEC_MAX];
	const char *argv[7] = { "ZRANGEBYSCORE", k, "-inf", upto, "LIMIT", "0",
	    "1" };
	redisReply *r;

	*yes = false;
	if (key(c, "outbox:delayed", NULL, k, sizeof(k)) != 0)
		return WX_INTERNAL;
	num_i64(upto, clock_wall_ms() + ms);
	if ((r = checked(redis_argv(store_redis(st), 7, argv), "due")) == NULL)
		return WX_REDIS_UNAVAILABLE;
	*yes = r->type == REDIS_REPLY_ARRAY && r->elements > 0;
	freeReplyObject(r);
	return WX_OK;
}

/* The three keys every per-entry script takes: msg, stream, delayed. */
static int
entry_keys(const struct config *c, const char *id, char k[3][LIM_KEY])
{
	return key(c, "msg:", id, k[0], LIM_KEY) |
	    key(c, "outbox", NULL, k[1], LIM_KEY) |
	    key(c, "outbox:delayed", NULL, k[2], LIM_KEY);
}

enum wx_err
outbox_begin(struct store *st, const struct config *c,
    const struct outbox_entry *e, long lock_ms, struct outbox_job *j,
    enum outbox_begin *how)
{
	char k[3][LIM_KEY], lms[NUM_DEC_MAX], nowb[NUM_DEC_MAX];
	char rate[NUM_DEC_MAX], sec[NUM_DEC_MAX], busy[NUM_DEC_MAX];
	char keep[NUM_DEC_MAX], next[NUM_DEC_MAX];
	const char *keys[3] = { k[0], k[1], k[2] };
	struct token_cmds after;
	redisReply *tok[2] = { NULL, NULL };
	const char *args[12] = { c->prefix, e->entry, OUTBOX_GROUP, j->lockval,
	    lms, nowb, rate, sec, busy, e->id, keep, next };
	long long ms = clock_wall_ms();
	redisReply *r;
	enum wx_err err = WX_INTERNAL;

	memset(j, 0, sizeof(*j));
	*how = OBB_DONE;
	if (entry_keys(c, e->id, k) != 0)
		return WX_INTERNAL;
	snprintf(j->id, sizeof(j->id), "%s", e->id);
	snprintf(j->entry, sizeof(j->entry), "%s", e->entry);
	sec_new_id(j->lockval, sizeof(j->lockval));
	j->lock_ms = lock_ms;
	num_i64(lms, lock_ms);
	num_i64(nowb, ms / 1000);
	num_i64(rate, c->outbox_rate);
	num_i64(sec, ms / 1000);
	/* Busy: the user's other send ends soon; rate: the next second. */
	num_i64(busy, ms + 50);
	num_i64(next, (ms / 1000 + 1) * 1000 + (long long)(ms % 97));
	num_i64(keep, c->outbox_keep_s);
	j->asked = (double)ms / 1000.0;
	store_token_cmds(&after, c);
	if ((r = checked(redis_eval_then(store_redis(st), &SCRIPT_OUTBOX_BEGIN,
	    3, keys, 12, args, 2, after.cmd, tok), "begin")) == NULL)
		return WX_REDIS_UNAVAILABLE;	/* tok: nothing (redis.h) */
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1)
		goto out;
	switch (as_int(r->element[0], -1)) {
	case 0:
		if (r->elements != 5 || r->element[1]->type != REDIS_REPLY_STRING)
			goto out;
		if ((j->payload = strndup(r->element[1]->str,
		    r->element[1]->len)) == NULL)
			goto out;
		j->attempts = as_int(r->element[2], 1);
		copy_str(tok[0], j->token, sizeof(j->token));
		j->token_ttl = as_int(tok[1], -1);
		j->queued_ms = as_int(r->element[3], 0);
		copy_str(r->element[4], j->openid, sizeof(j->openid));
		if (store_key(c, "sendlock", j->openid, j->lockkey,
		    sizeof(j->lockkey)) != 0)
			goto out;
		*how = OBB_GO;
		break;
	case 1:
		*how = OBB_DEFERRED;
		break;
	case 2:
		*how = OBB_UNKNOWN;
		break;
	case 3:
		*how = OBB_DONE;
		break;
	default:
		goto out;
	}
	err = WX_OK;
out:
	freeReplyObject(r);
	freeReplyObject(tok[0]);
	freeReplyObject(tok[1]);
	return err;
}

enum wx_err
outbox_finish(struct store *st, const struct config *c,
    const struct outbox_job *j, const struct outbox_result *res,
    long long due_ms)
{
	static const char *const nexts[] = {
		[OBN_SENT] = "sent", [OBN_RETRY] = "retry",
		[OBN_FAILED] = "failed", [OBN_UNKNOWN] = "unknown",
		[OBN_RENEW] = "retry",
	};
	char k[3][LIM_KEY], nowb[NUM_DEC_MAX], dueb[NUM_DEC_MAX];
	char mb[NUM_DEC_MAX], cb[NUM_DEC_MAX], keep[NUM_DEC_MAX], ttl[NUM_DEC_MAX];
	const char *keys[3] = { k[0], k[1], k[2] };
	const char *how = res->e.err == WX_USER_REFUSED ? "c" : "r";
	const char *args[14] = { c->prefix, j->entry, OUTBOX_GROUP, j->lockval,
	    nexts[res->next], nowb, dueb, mb, wxerr_code(res->e.err), cb, keep,
	    j->id, how, ttl };
	redisReply *r;

	if (entry_keys(c, j->id, k) != 0)
		return WX_INTERNAL;
	num_i64(nowb, clock_wall_ms() / 1000);
	num_i64(dueb, due_ms);
	num_u64(mb, res->msgid);
	cb[0] = '\0';
	if (res->e.errcode != 0)
		num_i64(cb, res->e.errcode);
	num_i64(keep, c->outbox_keep_s);
	num_i64(ttl, c->subscribe_ttl);
	if (res->next == OBN_UNKNOWN)
		args[8] = "answer_lost";
	if ((r = checked(redis_eval(store_redis(st), &SCRIPT_OUTBOX_FINISH, 3, keys, 14, args),
	    "finish")) == NULL)
		return WX_REDIS_UNAVAILABLE;
	freeReplyObject(r);
	return WX_OK;
}

enum wx_err
outbox_defer(struct store *st, const struct config *c,
    const struct outbox_entry *e, long long due_ms)
{
	char k[3][LIM_KEY], dueb[NUM_DEC_MAX];
	const char *keys[3] = { k[0], k[1], k[2] };
	const char *args[5] = { "", e->entry, OUTBOX_GROUP, dueb, e->id };
	redisReply *r;

	if (entry_keys(c, e->id, k) != 0)
		return WX_INTERNAL;
	num_i64(dueb, due_ms);
	if ((r = checked(redis_eval(store_redis(st), &SCRIPT_OUTBOX_DEFER, 3, keys, 5, args),
	    "defer")) == NULL)
		return WX_REDIS_UNAVAILABLE;
	freeReplyObject(r);
	return WX_OK;
}

/* ---- pure rules ---- */

long
outbox_backoff_ms(long base_ms, long long attempts, uint64_t rnd)
{
	long long ceil = base_ms > 0 ? base_ms : 1;
	long long i;

	for (i = 1; i < attempts && ceil < OUTBOX_BACKOFF_CAP_MS; i++)
		ceil *= 2;
	if (ceil > OUTBOX_BACKOFF_CAP_MS)
		ceil = OUTBOX_BACKOFF_CAP_MS;
	return (long)(rnd % (uint64_t)(ceil + 1));
}

enum outbox_next
outbox_decide(const struct outbox_attempt *a, struct wxe *e)
{
	bool out_of_tries = a->attempts >= a->max_attempts;
	enum outbox_next retry = out_of_tries ? OBN_FAILED : OBN_RETRY;
	enum wx_err read = e->err;	/* wechat_read_send's, when transfer_ok */

	e->err = WX_UPSTREAM;
	if (!a->transfer_ok)
		/* Sent and no answer: it may have been delivered. */
		return a->request_sent ? OBN_UNKNOWN : retry;
	if (a->status >= 500)
		return retry;
	if (a->status != 200)
		return OBN_FAILED;	/* an HTTP 4xx (or odd status) is final */
	if (read == WX_OK) {
		if (a->msgid != 0) {
			e->err = WX_OK;
			return OBN_SENT;
		}
		return OBN_UNKNOWN;	/* accepted without a msgid: can't tell */
	}
	if (e->errcode == 0)
		return OBN_UNKNOWN;	/* a 200 we cannot read */
	if (e->errcode == -1 || e->errcode == 43108)
		return retry;
	if (wechat_token_rejected(e->errcode)) {
		e->err = WX_TOKEN_UNAVAILABLE;
		return a->renewed || out_of_tries ? retry : OBN_RENEW;
	}
	e->err = read;
	return OBN_FAILED;
}
