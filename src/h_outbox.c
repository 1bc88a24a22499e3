/*
 * h_outbox.c: the queued forms of POST /send ("async": true, and batches
 * with "openIds"), GET /messages/<id> and GET /batches/<id>. What they
 * queue, outbox.c keeps and worker.c sends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "idem.h"
#include "jsonio.h"
#include "jsonw.h"
#include "log.h"
#include "num.h"
#include "outbox.h"
#include "validate.h"
#include "wechat.h"

#define JSON_CT	"application/json; charset=utf-8"

/* Answer with what the enqueue joined (or found kept under the key). */
static enum wx_err
kept_answer(struct idem *id, struct outbox_answer *ans, int status,
    enum wx_err err, struct response *resp, struct wxe *e)
{
	if (ans->seen != NULL)
		return idem_seen(id, ans->seen, ans->seen_len, resp, e);
	resp_text(resp, JSON_CT, ans->text, ans->len);
	ans->text = NULL;
	resp->status = status;
	resp->err = err;
	return WX_OK;
}

/* A JSON text of resp's answer, malloc'd; NULL when out of memory. */
static char *
answer_text(struct response *resp)
{
	const char *t;
	char *copy;
	size_t len;

	if ((t = jw_finish(&resp->body, &len)) == NULL ||
	    (copy = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(copy, t, len + 1);
	return copy;
}

enum wx_err
h_send_async(struct app *a, struct wx_message *m, bool longterm,
    struct idem *id, struct response *resp, struct wxe *e)
{
	struct outbox_item it = { .openid = m->openid };
	struct outbox_answer ans = { .keep_s = IDEM_KEEP_S };
	struct wxe no = { 0 };
	char status[NUM_DEC_MAX], errb[NUM_DEC_MAX], *texts[2] = { 0 };
	struct jsonw *w;
	size_t len;
	enum wx_err err = WX_INTERNAL;

	if ((it.payload = wechat_message_text(m, &len)) == NULL ||
	    outbox_new_id('m', it.id, sizeof(it.id)) != 0)
		goto out;
	(void)wxe_set(&no, WX_NOT_SUBSCRIBED, "no subscription is recorded "
	    "for %s and this user", m->template_id);
	if (id->keyed) {
		/* Both answers, for the script to keep the one it gives. */
		resp_fail(resp, &no);
		texts[1] = answer_text(resp);
		num_i64(status, resp->status);
		num_i64(errb, resp->err);
	}
	w = resp_ok(resp);
	resp->status = 202;
	jw_str(w, "id", it.id);
	jw_str(w, "status", "queued");
	if (id->keyed) {
		if ((texts[0] = answer_text(resp)) == NULL || texts[1] == NULL)
			goto out;
		ans.key = id->rkey;
		ans.hash = id->body_hash;
		ans.piece[0] = texts[0];
		ans.piece[1] = texts[1];
		ans.piece[2] = status;
		ans.piece[3] = errb;
		id->settled = true;
	}
	if ((err = outbox_enqueue(a->st, &a->cfg, m->template_id, longterm,
	    NULL, &it, 1, &ans)) != WX_OK)
		goto out;
	if (ans.seen == NULL && !it.refused && (err = store_wait(a->st)) != WX_OK) {
		(void)wxe_set(e, err, "queued, but fewer than "
		    "redis.waitReplicas replicas have it");
		goto out;
	}
	if (ans.seen == NULL && !it.refused)
		log_info("queued %s, template %s", it.id, m->template_id);
	if (id->keyed)
		err = kept_answer(id, &ans, it.refused ? 409 : 202,
		    it.refused ? WX_NOT_SUBSCRIBED : WX_OK, resp, e);
	else if (it.refused)
		err = wxe_msg(e, no.err, 0, no.msg);
out:
	free(texts[0]);
	free(texts[1]);
	free(it.payload);
	outbox_answer_free(&ans);
	return err;
}

enum wx_err
h_batch_ids(json_object *body, long max, const char ***out, size_t *n,
    struct wxe *e)
{
	json_object *arr, *v;
	const char **ids;
	size_t count, i, j;

	*out = NULL;
	*n = 0;
	if (jsonio_array(body, "openIds", &arr) != 1 ||
	    (count = json_object_array_length(arr)) == 0 || max < 1 ||
	    count > (size_t)max)
		return wxe_set(e, WX_BAD_REQUEST, "openIds: an array of 1 to %ld "
		    "openIds", max);
	if ((ids = calloc(count, sizeof(*ids))) == NULL)
		return wxe_set(e, WX_INTERNAL, NULL);
	for (i = 0; i < count; i++) {
		const char *s;
		v = json_object_array_get_idx(arr, i);
		if (v == NULL || !json_object_is_type(v, json_type_string) ||
		    !val_openid(s = json_object_get_string(v))) {
			free(ids);
			*n = 0;
			return wxe_set(e, WX_BAD_REQUEST, "openIds[%zu]: a WeChat "
			    "openId (28 characters of A-Z a-z 0-9 _ -) is "
			    "required", i);
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

/*
 * What the batch's answer says of each recipient, queued and refused:
 * the members of its "messages" and "refused" objects.
 */
static int
batch_says(struct outbox_item *it)
{
	char buf[JW_STRING_MAX(LIM_OPENID) + JW_STRING_MAX(OUTBOX_ID_LEN) + 8];
	const char *val[2] = { it->id, "not_subscribed" };
	struct jsonw w;
	const char *t;
	size_t len;

	for (int k = 0; k < 2; k++) {
		/* "{...}" with the one member; the member is what is kept */
		jw_init(&w, buf, sizeof(buf));
		jw_str(&w, it->openid, val[k]);
		if ((t = jw_finish(&w, &len)) == NULL || len < 2 ||
		    (it->says[k] = strndup(t + 1, len - 2)) == NULL)
			return -1;
	}
	return 0;
}

enum wx_err
h_send_batch(struct app *a, json_object *body, struct wx_message *m,
    bool longterm, struct idem *id, struct response *resp, struct wxe *e)
{
	struct outbox_answer ans = { .batch = true, .keep_s = IDEM_KEEP_S };
	struct outbox_item *items = NULL;
	const char **ids = NULL;
	char batch[OUTBOX_ID_LEN + 1], head[64];
	size_t n = 0, i, queued = 0, len;
	enum wx_err err;

	if ((err = h_batch_ids(body, a->cfg.outbox_max_batch, &ids, &n,
	    e)) != WX_OK)
		return err;
	err = WX_INTERNAL;
	if ((items = calloc(n, sizeof(*items))) == NULL ||
	    outbox_new_id('b', batch, sizeof(batch)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		m->openid = items[i].openid = ids[i];
		if ((items[i].payload = wechat_message_text(m, &len)) == NULL ||
		    outbox_new_id('m', items[i].id, sizeof(items[i].id)) != 0 ||
		    batch_says(&items[i]) != 0)
			goto out;
	}
	m->openid = NULL;
	/* ids are [a-z0-9_]: nothing in these pieces needs escaping */
	snprintf(head, sizeof(head), "{\"ok\":true,\"batch\":\"%s\",\"queued\":",
	    batch);
	ans.piece[0] = head;
	ans.piece[1] = ",\"messages\":{";
	ans.piece[2] = "},\"refused\":{";
	ans.piece[3] = "}}";
	if (id->keyed) {
		ans.key = id->rkey;
		ans.hash = id->body_hash;
		id->settled = true;
	}
	if ((err = outbox_enqueue(a->st, &a->cfg, m->template_id, longterm,
	    batch, items, n, &ans)) != WX_OK)
		goto out;
	if (ans.seen == NULL) {
		for (i = 0; i < n; i++)
			queued += !items[i].refused;
		if (queued > 0 && (err = store_wait(a->st)) != WX_OK) {
			(void)wxe_set(e, err, "queued, but fewer than "
			    "redis.waitReplicas replicas have it");
			goto out;
		}
		log_info("queued batch %s: %zu of %zu, template %s", batch,
		    queued, n, m->template_id);
	}
	err = kept_answer(id, &ans, 202, WX_OK, resp, e);
out:
	for (i = 0; items != NULL && i < n; i++) {
		free(items[i].payload);
		free(items[i].says[0]);
		free(items[i].says[1]);
	}
	free(items);
	free(ids);
	outbox_answer_free(&ans);
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
