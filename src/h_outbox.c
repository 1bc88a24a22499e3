/*
 * h_outbox.c: the queued forms of POST /send ("async": true, and batches
 * with "openIds"), GET /messages/<id> and GET /batches/<id>. What they
 * queue, outbox.c keeps and worker.c sends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "jsonio.h"
#include "jsonw.h"
#include "log.h"
#include "outbox.h"
#include "validate.h"
#include "wechat.h"

#define JSON_CT	"application/json; charset=utf-8"

enum wx_err
h_send_async(struct app *a, struct wx_message *m, bool longterm,
    struct response *resp, struct wxe *e)
{
	struct outbox_item it = { .openid = m->openid };
	struct jsonw *w;
	size_t len;
	enum wx_err err;

	if ((it.payload = wechat_message_text(m, &len)) == NULL)
		return WX_INTERNAL;
	err = outbox_enqueue(a->st, &a->cfg, m->template_id, longterm, NULL,
	    &it, 1);
	free(it.payload);
	if (err != WX_OK)
		return err;
	if (!it.refused && (err = store_wait(a->st)) != WX_OK)
		return wxe_set(e, err, "queued, but fewer than "
		    "redis.waitReplicas replicas have it");
	if (it.refused)
		return wxe_set(e, WX_NOT_SUBSCRIBED, "no subscription is "
		    "recorded for %s and this user", m->template_id);
	log_info("queued %s, template %s", it.id, m->template_id);
	w = resp_ok(resp);
	resp->status = 202;
	jw_str(w, "id", it.id);
	jw_str(w, "status", "queued");
	return WX_OK;
}

/*
 * openIds as sent: 1..outbox.maxBatch WeChat openIds (a bad one is a 400
 * naming its index), duplicates dropped. *out (malloc'd) points into
 * body.
 */
static enum wx_err
batch_ids(const struct config *c, json_object *body, const char ***out,
    size_t *n, char *msg, size_t msglen)
{
	json_object *arr, *e;
	const char **ids;
	size_t count, i, j;

	*out = NULL;
	*n = 0;
	if (jsonio_array(body, "openIds", &arr) != 1 ||
	    (count = json_object_array_length(arr)) == 0 ||
	    count > (size_t)c->outbox_max_batch) {
		snprintf(msg, msglen, "openIds: an array of 1 to %ld openIds",
		    c->outbox_max_batch);
		return WX_BAD_REQUEST;
	}
	if ((ids = calloc(count, sizeof(*ids))) == NULL)
		return WX_INTERNAL;
	for (i = 0; i < count; i++) {
		const char *s;
		e = json_object_array_get_idx(arr, i);
		if (e == NULL || !json_object_is_type(e, json_type_string) ||
		    !val_openid(s = json_object_get_string(e))) {
			snprintf(msg, msglen, "openIds[%zu]: a WeChat openId (28 "
			    "characters of A-Z a-z 0-9 _ -) is required", i);
			free(ids);
			return WX_BAD_REQUEST;
		}
		/* At most maxBatch (10,000) of 28 bytes: a scan is cheap. */
		for (j = 0; j < *n && strcmp(ids[j], s) != 0; j++)
			;
		if (j == *n)
			ids[(*n)++] = s;
	}
	*out = ids;
	return WX_OK;
}

/* The batch's answer, too big for the response's own buffer. */
static enum wx_err
batch_answer(struct response *resp, const char *batch,
    const struct outbox_item *items, size_t n, size_t queued)
{
	size_t cap = 256 + n * (JW_STRING_MAX(LIM_OPENID) +
	    JW_STRING_MAX(OUTBOX_ID_LEN) + JW_STRING_MAX(16) + 8), len, i;
	struct jsonw w;
	char *text;

	if ((text = malloc(cap)) == NULL)
		return WX_INTERNAL;
	jw_init(&w, text, cap);
	jw_bool(&w, "ok", true);
	jw_str(&w, "batch", batch);
	jw_uint(&w, "queued", queued);
	jw_open(&w, "messages");
	for (i = 0; i < n; i++)
		if (!items[i].refused)
			jw_str(&w, items[i].openid, items[i].id);
	jw_close(&w);
	jw_open(&w, "refused");
	for (i = 0; i < n; i++)
		if (items[i].refused)
			jw_str(&w, items[i].openid, "not_subscribed");
	jw_close(&w);
	if (jw_finish(&w, &len) == NULL) {
		free(text);
		return WX_INTERNAL;
	}
	resp_text(resp, JSON_CT, text, len);
	resp->status = 202;
	return WX_OK;
}

enum wx_err
h_send_batch(struct app *a, json_object *body, struct wx_message *m,
    bool longterm, struct response *resp, struct wxe *e)
{
	struct outbox_item *items = NULL;
	const char **ids = NULL;
	char batch[OUTBOX_ID_LEN + 1];
	size_t n = 0, i, queued = 0, len;
	enum wx_err err;

	if ((err = batch_ids(&a->cfg, body, &ids, &n, e->msg,
	    sizeof(e->msg))) != WX_OK)
		return wxe_msg(e, err, 0, e->msg);
	err = WX_INTERNAL;
	if ((items = calloc(n, sizeof(*items))) == NULL ||
	    outbox_new_id('b', batch, sizeof(batch)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		m->openid = items[i].openid = ids[i];
		if ((items[i].payload = wechat_message_text(m, &len)) == NULL)
			goto out;
	}
	m->openid = NULL;
	if ((err = outbox_enqueue(a->st, &a->cfg, m->template_id, longterm,
	    batch, items, n)) != WX_OK)
		goto out;
	for (i = 0; i < n; i++)
		queued += !items[i].refused;
	if (queued > 0 && (err = store_wait(a->st)) != WX_OK) {
		(void)wxe_set(e, err, "queued, but fewer than "
		    "redis.waitReplicas replicas have it");
		goto out;
	}
	log_info("queued batch %s: %zu of %zu, template %s", batch, queued, n,
	    m->template_id);
	err = batch_answer(resp, batch, items, n, queued);
out:
	for (i = 0; items != NULL && i < n; i++)
		free(items[i].payload);
	free(items);
	free(ids);
	return err;
}

/* The id after the route's prefix, if it is one of ours of that kind. */
static const char *
id_of(const struct request *r, const char *prefix, char kind)
{
	const char *id = r->route + strlen(prefix);

	return outbox_id_ok(id) && id[0] == kind ? id : NULL;
}

enum wx_err
h_message_get(struct app *a, struct request *r, struct response *resp)
{
	const char *id = id_of(r, "/messages/", 'm');
	struct outbox_msg m;
	struct jsonw *w;
	enum wx_err err;

	if (id == NULL)
		return wxe_set(&r->e, WX_NOT_FOUND, "no such message");
	if ((err = outbox_get(a->st, &a->cfg, id, &m)) != WX_OK)
		return wxe_set(&r->e, err, NULL);
	if (!m.found)
		return wxe_set(&r->e, WX_NOT_FOUND, "no such message");
	w = resp_ok(resp);
	jw_str(w, "id", id);
	jw_str(w, "status", outbox_status_name(m.status));
	jw_str(w, "openId", m.openid);
	jw_str(w, "templateId", m.template_id);
	jw_int(w, "attempts", m.attempts);
	if (m.msgid[0] != '\0')
		jw_uint(w, "msgid", strtoull(m.msgid, NULL, 10));
	if (m.error[0] != '\0')
		jw_str(w, "error", m.error);
	if (m.has_errcode)
		jw_int(w, "errcode", m.errcode);
	if (m.batch[0] != '\0')
		jw_str(w, "batch", m.batch);
	jw_int(w, "createdAt", m.created);
	jw_int(w, "updatedAt", m.updated);
	return WX_OK;
}

enum wx_err
h_batch_get(struct app *a, struct request *r, struct response *resp)
{
	const char *id = id_of(r, "/batches/", 'b');
	long long counts[OB__MAX];
	struct jsonw *w;
	bool found;
	enum wx_err err;
	int i;

	if (id == NULL)
		return wxe_set(&r->e, WX_NOT_FOUND, "no such batch");
	if ((err = outbox_batch(a->st, &a->cfg, id, &found, counts)) != WX_OK)
		return wxe_set(&r->e, err, NULL);
	if (!found)
		return wxe_set(&r->e, WX_NOT_FOUND, "no such batch");
	w = resp_ok(resp);
	jw_str(w, "batch", id);
	jw_open(w, "counts");
	for (i = 0; i < OB__MAX; i++)
		jw_int(w, outbox_status_name((enum outbox_status)i), counts[i]);
	jw_close(w);
	return WX_OK;
}
