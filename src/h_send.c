/*
 * h_send.c: POST /send. One subscribe message to one user.
 *
 *   check the body -> check every data value (422 before WeChat)
 *   -> take the user's send lock, spend a credit atomically and read the
 *   cached token (one Redis round trip) -> subscribeMessage.send
 *   (renewing a refused token once, retrying 43108 after pauses)
 *   -> keep, return or clear the credit and release the lock (one more;
 *   after a send that went through, a DEL sent once the answer is out
 *   and not waited for).
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "handlers.h"
#include "idem.h"
#include "jsonio.h"
#include "log.h"
#include "metrics.h"
#include "templates.h"
#include "validate.h"
#include "wechat.h"
#include "secure.h"
#include "utf8.h"

/*
 * 43108: a send to the same user overlapped ours. Ours take turns, so
 * this comes from another sender (the seed's service during a migration):
 * pause and retry, 300 ms then 600 ms then 900 ms.
 */
#define BUSY_RETRIES	3
#define BUSY_PAUSE_MS	300

static const char *const mp_states[] = { "formal", "trial", "developer", NULL };
static const char *const langs[] = { "zh_CN", "en_US", "zh_HK", "zh_TW", NULL };

static bool
one_of(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

/* An optional string field limited to a set of values. */
static enum wx_err
enum_field(json_object *body, const char *key, const char *const *set,
    const char *dflt, const char **out, struct wxe *e)
{
	int t = jsonio_string(body, key, out, NULL);

	if (t == 0) {
		*out = dflt;
		return WX_OK;
	}
	if (t < 0 || !one_of(*out, set))
		return wxe_set(e, WX_BAD_REQUEST,
		    "%s: not one of the values WeChat accepts", key);
	return WX_OK;
}

/*
 * Take the caller's data ({"k":"v"} or {"k":{"value":"v"}}) as items
 * (*out, malloc'd, pointing into in), checking each key and value.
 * WX_INVALID_DATA names the key.
 */
static enum wx_err
build_data(json_object *in, struct wx_item **out, size_t *n, struct wxe *e)
{
	/* the longest rule (date's, 146 bytes) whole, beside a key < 64 */
	char why[LIM_ERRMSG - 72];
	size_t count = (size_t)json_object_object_length(in);
	struct wx_item *d;

	*n = 0;
	if (count == 0) {
		*out = NULL;
		return wxe_set(e, WX_BAD_REQUEST,
		    "data: at least one value is required");
	}
	if ((*out = d = calloc(count, sizeof(*d))) == NULL)
		return WX_INTERNAL;
	json_object_object_foreach(in, key, val) {
		const char *s;
		size_t len;

		if (!val_data_key(key)) {
			size_t klen = strlen(key);
			bool shown = utf8_valid(key, klen) && !val_has_control(key, klen);
			return wxe_set(e, WX_BAD_REQUEST, "data: key %.*s%s is "
			    "not a template keyword such as thing1",
			    shown ? (int)utf8_cut(key, klen, 64) : 0, key,
			    shown ? (klen > 64 ? "..." : "") : "(unprintable)");
		}
		if (json_object_is_type(val, json_type_object)) {
			if (jsonio_string(val, "value", &s, &len) != 1 ||
			    json_object_object_length(val) != 1)
				return wxe_set(e, WX_BAD_REQUEST, "data.%s: "
				    "expected a string or {\"value\":\"...\"}",
				    key);
		} else if (json_object_is_type(val, json_type_string)) {
			s = json_object_get_string(val);
			len = (size_t)json_object_get_string_len(val);
		} else
			return wxe_set(e, WX_BAD_REQUEST, "data.%s: expected a "
			    "string or {\"value\":\"...\"}", key);
		if (!val_data_value(key, s, len, why, sizeof(why)))
			return wxe_set(e, WX_INVALID_DATA, "data.%s: %s", key,
			    why);
		if (*n == count)	/* json-c's count was wrong: never */
			return WX_INTERNAL;
		d[*n].key = key;
		d[*n].value = s;
		d[*n].len = len;
		(*n)++;
	}
	return WX_OK;
}

/*
 * Everything from the body, checked; e says what is wrong. A batch
 * (openIds) has no openId of its own: m->openid stays NULL.
 */
static enum wx_err
parse_send(struct app *a, json_object *body, bool batch, struct wx_message *m,
    struct wx_item **data, struct wxe *e)
{
	const struct config *c = &a->cfg;
	json_object *din, *x;
	size_t len;
	int t;

	if (batch) {
		if (json_object_object_get_ex(body, "openId", &x))
			return wxe_set(e, WX_BAD_REQUEST,
			    "openId: not with openIds");
	} else if (jsonio_string(body, "openId", &m->openid, NULL) != 1 ||
	    !val_openid(m->openid))
		return wxe_set(e, WX_BAD_REQUEST, "openId: a WeChat openId "
		    "(28 characters of A-Z a-z 0-9 _ -) is required");
	if ((t = jsonio_string(body, "templateId", &m->template_id, NULL)) < 0 ||
	    (t == 1 && !val_template_id(m->template_id)))
		return wxe_set(e, WX_BAD_REQUEST,
		    "templateId: not a template id");
	if (t == 0) {
		if (c->template_id[0] == '\0')
			return wxe_set(e, WX_BAD_REQUEST, "templateId: "
			    "required (no wechat.templateId is configured)");
		m->template_id = c->template_id;
	}
	if (!tpl_known(a, m->template_id))
		return wxe_set(e, WX_UNKNOWN_TEMPLATE,
		    "templateId: %s is not in wechat.templateIds",
		    m->template_id);
	m->page = NULL;
	if ((t = jsonio_string(body, "page", &m->page, &len)) < 0 ||
	    (t == 1 && (len >= LIM_PAGE || val_has_control(m->page, len))))
		return wxe_set(e, WX_BAD_REQUEST,
		    "page: must be a path of the mini program");
	if (enum_field(body, "miniprogramState", mp_states, c->mp_state,
	    &m->mp_state, e) != WX_OK ||
	    enum_field(body, "lang", langs, c->lang, &m->lang, e) != WX_OK)
		return WX_BAD_REQUEST;
	if ((t = jsonio_object(body, "data", &din)) != 1)
		return wxe_set(e, WX_BAD_REQUEST, "data: an object such as "
		    "{\"thing1\":\"...\"} is required");
	return build_data(din, data, &m->ndata, e);
}

/*
 * Claim the user's send lock and one credit (and read the cached token)
 * in one round trip. WeChat refuses concurrent sends to one user
 * (43108), so ours take turns: while another send to this user runs,
 * wait, bounded by that send's own limits. The first pauses are short:
 * a send that went through releases its lock just after its answer.
 */
static enum wx_err
claim(struct app *a, const struct wx_message *m, const char *credit,
    bool longterm, char *lkey, size_t lkeylen, char *lval, size_t lvallen,
    struct send_claim *c)
{
	long life = a->cfg.timeout_ms * 2 + 1000, waited = 0, pause = 1;
	enum wx_err err;

	if (store_key(&a->cfg, "sendlock", m->openid, lkey, lkeylen) != 0)
		return WX_INTERNAL;
	sec_new_id(lval, lvallen);
	for (;;) {
		if ((err = store_send_begin(a->st, lkey, lval, life, credit,
		    longterm, c)) != WX_OK || c->state != SEND_BUSY)
			return err;
		if (waited >= life)
			return WX_UPSTREAM;
		clock_sleep_ms(pause);
		waited += pause;
		pause = pause < 10 ? pause * 2 : 20;	/* 1, 2, 4, 8, 16, 20... */
	}
}

/*
 * Call WeChat until the outcome is final: one renewal of a refused
 * token, a few pauses for 43108.
 */
static enum wx_err
deliver(struct app *a, const struct wx_message *m, struct send_claim *c,
    uint64_t *msgid, struct wxe *ans, struct wxe *e)
{
	char *tok = c->token;
	const size_t toklen = sizeof(c->token);
	enum wx_err err;
	int renewed = 0, busy = 0;

	if (tok[0] != '\0')
		token_seen(&a->tok, c->token_ttl);
	else if ((err = token_get(&a->tok, tok, toklen, e)) != WX_OK)
		return err;
	for (;;) {
		err = wechat_send(a->up, &a->cfg, tok, m, msgid, ans);
		if (err == WX_OK || ans->errcode == 0)
			return err;
		if (wechat_token_rejected(ans->errcode) && !renewed) {
			renewed = 1;
			if ((err = token_renew(&a->tok, tok, tok, toklen,
			    e)) != WX_OK)
				return err;
			continue;
		}
		if (ans->errcode == 43108 && busy < BUSY_RETRIES) {
			clock_sleep_ms(BUSY_PAUSE_MS * ++busy);
			continue;
		}
		return err;
	}
}

/*
 * Now, queued ("async": true) or a batch ("openIds": [...], always
 * queued).
 */
static enum wx_err
send_mode(json_object *body, enum send_mode *mode, struct wxe *e)
{
	json_object *v;

	*mode = SEND_NOW;
	if (json_object_object_get_ex(body, "async", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_boolean))
			return wxe_set(e, WX_BAD_REQUEST,
			    "async: true or false");
		if (json_object_get_boolean(v))
			*mode = SEND_ASYNC;
	}
	if (json_object_object_get_ex(body, "openIds", &v) && v != NULL)
		*mode = SEND_BATCH;
	return WX_OK;
}

/* One send of any form: WX_OK with the answer in resp, or r->e. */
static enum wx_err
send_one(struct app *a, struct request *r, struct idem *id,
    struct response *resp)
{
	struct wx_message m = { 0 };
	struct wxe ans = { 0 };
	struct send_claim c;
	char key[LIM_KEY], lkey[LIM_KEY], lval[24];
	struct wx_item *data = NULL;
	enum send_end end = SEND_KEEP;
	enum send_mode mode = SEND_NOW;
	bool longterm, claimed = false;
	json_object *tl;
	uint64_t msgid = 0;
	enum wx_err err;

	/* Every step that fails fills the request's carrier. */
	wxe_clear(&r->e);
	c.pttl = -1;
	if ((err = send_mode(r->json, &mode, &r->e)) != WX_OK ||
	    (err = parse_send(a, r->json, mode == SEND_BATCH, &m, &data,
	    &r->e)) != WX_OK)
		goto fail;
	m.data = data;
	/* WeChat's own list, when there is one, says which keys and values */
	if ((tl = tpl_find(tpl_list(a), m.template_id)) != NULL &&
	    (err = tpl_check(tl, data, m.ndata, &r->e)) != WX_OK)
		goto fail;
	longterm = tpl_longterm(a, m.template_id);
	if (mode != SEND_NOW) {
		/* Checked like a send; queued instead of sent (h_outbox.c). */
		err = mode == SEND_BATCH ?
		    h_send_batch(a, r->json, &m, longterm, id, resp, &r->e) :
		    h_send_async(a, &m, longterm, id, resp, &r->e);
		if (err != WX_OK)
			goto fail;
		goto done;
	}
	if (store_key_sub(&a->cfg, m.template_id, m.openid, key, sizeof(key)) != 0) {
		err = WX_INTERNAL;
		goto fail;
	}
	if ((err = claim(a, &m, key, longterm, lkey, sizeof(lkey), lval,
	    sizeof(lval), &c)) != WX_OK) {
		if (err == WX_UPSTREAM)
			(void)wxe_set(&r->e, err, "another send to this user "
			    "did not finish in time");
		goto fail;
	}
	if (c.state == SEND_NONE) {
		err = wxe_set(&r->e, WX_NOT_SUBSCRIBED, "no subscription is "
		    "recorded for %s and this user", m.template_id);
		goto fail;
	}
	claimed = true;

	err = deliver(a, &m, &c, &msgid, &ans, &r->e);
	if (err == WX_OK) {
		log_info("sent template %s, msgid %llu", m.template_id,
		    (unsigned long long)msgid);
		metrics_send("sent", 0);
		jw_uint(resp_ok(resp), "msgid", msgid);
		goto done;
	}
	/* 43101: WeChat has none left, what we counted is wrong: forget it. */
	end = err == WX_USER_REFUSED ? SEND_CLEAR : longterm ? SEND_KEEP :
	    SEND_RETURN;
	if (ans.errcode != 0 || ans.msg[0] != '\0') {
		log_warn("send failed: %s", ans.msg);
		if (r->e.msg[0] == '\0')
			(void)wxe_set(&r->e, err, "%.80s (WeChat: %.160s)",
			    wxerr_text(err), ans.msg);
	}
fail:
	metrics_send(wxerr_code(err), ans.errcode);
	(void)wxe_msg(&r->e, err, ans.errcode, r->e.msg);
done:
	if (claimed && store_send_end(a->st, lkey, lval, &c, key, end,
	    a->cfg.subscribe_ttl) != WX_OK && end != SEND_KEEP)
		log_error("could not %s the credit after a failed send",
		    end == SEND_CLEAR ? "clear" : "give back");
	free(data);
	return r->e.err;
}

/* Any form of /send, under its Idempotency-Key when it has one. */
enum wx_err
h_send(struct app *a, struct request *r, struct response *resp)
{
	struct idem id;
	struct wxe failed = { 0 };
	enum send_mode mode = SEND_NOW;
	bool answered;
	enum wx_err err;

	if ((err = idem_prepare(a, r, &id, &r->e)) != WX_OK)
		return err;
	/*
	 * The answer is made here, failure included, not by the dispatcher:
	 * the Idempotency-Key keeps the whole answer for a retry. A queued
	 * send keeps it in the enqueue's own round trip (h_outbox.c); one
	 * that stops before (a bad body) is kept as any other answer.
	 */
	if (id.keyed && send_mode(r->json, &mode, &r->e) == WX_OK &&
	    mode != SEND_NOW) {
		if ((err = send_one(a, r, &id, resp)) != WX_OK)
			resp_fail(resp, &r->e);
		if (id.settled)
			return WX_OK;
		failed = r->e;
	}
	if ((err = idem_begin(a, r, &id, resp, &answered, &r->e)) != WX_OK)
		return err;
	if (answered)
		return WX_OK;
	if (!id.keyed || mode == SEND_NOW) {
		if (send_one(a, r, &id, resp) != WX_OK)
			resp_fail(resp, &r->e);
	} else {
		r->e = failed;
		resp_fail(resp, &r->e);
	}
	idem_end(a, &id, resp);
	return WX_OK;
}
