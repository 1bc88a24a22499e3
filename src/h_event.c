/*
 * h_event.c: /event, WeChat's message push (pushmsg.h).
 *
 *   GET  URL verification: echostr back when the signature is right.
 *   POST a push: pushmsg.c checks and reads it (no I/O); here it is
 *        applied once and answered "success" within WeChat's 5 s.
 *
 * A push is applied once: WeChat sends it again when it got no answer in
 * time (three tries), so its identity (pushmsg.h, push_dedup_id) is
 * taken with SET NX for PUSH_DEDUP_S before anything is changed, and
 * handed back when applying it failed, so that WeChat's next try can
 * still apply it.
 *
 *   subscribe_msg_popup_event   accept: one credit, as /record, when
 *                               subscribe.source = events; else counted
 *   subscribe_msg_change_event  reject: that template's credits cleared
 *   subscribe_msg_sent_event    settles the outbox's message
 *                               (outbox_settle), counted and
 *                               logged
 *   anything else               "success", logged at debug level
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "pushmsg.h"
#include "templates.h"

#define PUSH_DEDUP_S	3600	/* WeChat's tries span seconds; be generous */

static const char *const kind_names[] = {
	[PUSH_OTHER] = "other", [PUSH_POPUP] = "popup",
	[PUSH_CHANGE] = "change", [PUSH_SENT] = "sent",
};

static void
push_conf_of(const struct config *c, struct push_conf *pc)
{
	pc->token = c->push_token;
	pc->aes_key = c->push_aes_key;
	pc->appid = c->appid;
	pc->max_skew = c->push_max_skew;
}

/* "success" as text/plain: what WeChat wants to read. */
static enum wx_err
answer_success(struct request *r, struct response *resp)
{
	char *t = strdup("success");

	if (t == NULL)
		return wxe_set(&r->e, WX_INTERNAL, NULL);
	resp_text(resp, "text/plain; charset=utf-8", t, strlen(t));
	return WX_OK;
}

/* Without push.token there is no /event at all. */
static enum wx_err
enabled(struct app *a, struct request *r)
{
	if (a->cfg.push_token[0] != '\0')
		return WX_OK;
	return wxe_set(&r->e, WX_NOT_FOUND,
	    "no route /event (push.token is not set)");
}

enum wx_err
h_event_verify(struct app *a, struct request *r, struct response *resp)
{
	struct push_conf pc;
	char *echo = NULL;
	enum wx_err err;

	if ((err = enabled(a, r)) != WX_OK)
		return err;
	push_conf_of(&a->cfg, &pc);
	err = push_verify(&pc, r->query, (long long)time(NULL), &echo, &r->e);
	if (err != WX_OK) {
		log_info("push URL verification refused: %s", r->e.msg);
		return err;
	}
	log_info("push URL verified");
	resp_text(resp, "text/plain; charset=utf-8", echo, strlen(echo));
	return WX_OK;
}

/*
 * A popup's accepts become credits (subscribe.source = events only),
 * for templates /record would accept; a change's rejects clear them.
 */
static enum wx_err
apply_subscriptions(struct app *a, const struct push_msg *m)
{
	const struct config *c = &a->cfg;
	char keys[PUSH_MAX_ITEMS][LIM_KEY];
	const char *kp[PUSH_MAX_ITEMS];
	bool marker[PUSH_MAX_ITEMS];
	long long counts[PUSH_MAX_ITEMS], deleted;
	size_t i, n = 0;

	for (i = 0; i < m->n; i++) {
		const struct push_item *it = &m->items[i];
		bool accept = strncmp(it->status, "accept", 6) == 0;
		const char *result = accept ? "accept" :
		    strcmp(it->status, "reject") == 0 ? "reject" : "other";

		metrics_push(kind_names[m->kind], result);
		if (m->kind == PUSH_POPUP && (!accept || !c->source_events))
			continue;
		if (m->kind == PUSH_CHANGE && strcmp(it->status, "reject") != 0)
			continue;
		if (m->kind == PUSH_POPUP && !tpl_known(a, it->template_id)) {
			log_info("push: an accept of template %s, which "
			    "wechat.templateIds does not list: not recorded",
			    it->template_id);
			continue;
		}
		if (store_key_sub(c, it->template_id, m->from, keys[n],
		    LIM_KEY) != 0)
			return WX_BAD_REQUEST;
		kp[n] = keys[n];
		marker[n] = tpl_longterm(a, it->template_id);
		n++;
	}
	if (n == 0)
		return WX_OK;
	if (m->kind == PUSH_POPUP) {
		log_info("push: %zu accept(s) recorded for one user", n);
		return store_credit_add(a->st, kp, marker, n, c->subscribe_ttl,
		    counts);
	}
	log_info("push: %zu template(s) switched off by one user: credits "
	    "cleared", n);
	return store_del(a->st, kp, n, &deleted);
}

/* MsgID as a number; 0 (none) when it is past 2^64 - 1. */
static uint64_t
msgid_of(const char *s)
{
	uint64_t v = 0;

	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	return v;
}

/*
 * What became of a message WeChat accepted: the outbox settles its
 * message (ErrorCode 0 -> delivered, else failed with that errcode; by
 * MsgID, else the oldest `unknown' one of this openId and template
 * within OUTBOX_SETTLE_S). A message sent by a synchronous /send is in
 * no outbox: the event is counted and logged only.
 */
static enum wx_err
settle_sent(struct app *a, const struct push_msg *m)
{
	char settled[OUTBOX_ID_LEN + 1];
	enum wx_err err;

	for (size_t i = 0; i < m->n; i++) {
		const struct push_item *it = &m->items[i];

		if ((err = outbox_settle(a->st, &a->cfg, msgid_of(it->msgid),
		    m->from, it->template_id, (long)it->errcode, settled,
		    sizeof(settled))) != WX_OK)
			return err;
		metrics_push("sent", it->errcode == 0 ? "delivered" : "failed");
		log_info("push: msgid %s of template %s %s (ErrorCode %lld%s%.60s)%s%s",
		    it->msgid, it->template_id, it->errcode == 0 ?
		    "delivered" : "not delivered", it->errcode,
		    it->error_status[0] ? ", " : "", it->error_status,
		    settled[0] ? ": outbox message " : "", settled);
	}
	return WX_OK;
}

/*
 * A plain push's signature covers the query only (token, timestamp,
 * nonce), not the body: whoever saw one signed URL could send another
 * body with it until the timestamp goes stale. So a signature carries
 * one message: the first body's identity is kept with it for twice
 * push.maxSkewSeconds, and another body under it is refused. WeChat's
 * own retries send the same body again and pass. Safe mode needs none of
 * this: msg_signature covers Encrypt.
 */
static enum wx_err
one_body_per_signature(struct app *a, const struct request *r,
    const char *ident, struct wxe *e)
{
	char sig[64], key[LIM_KEY], seen[72];
	bool got = false;
	enum wx_err err;

	if (req_query(r->query, "signature", sig, sizeof(sig)) != 1)
		return WX_INTERNAL;	/* push_read checked it: never */
	for (char *p = sig; *p != '\0'; p++)	/* hex in either case */
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (store_key(&a->cfg, "pushsig", sig, key, sizeof(key)) != 0)
		return WX_INTERNAL;
	if ((err = store_lock(a->st, key, ident, a->cfg.push_max_skew * 2000L,
	    &got)) != WX_OK || got)
		return err;
	if ((err = store_note_get(a->st, key, seen, sizeof(seen))) != WX_OK)
		return err;
	if (seen[0] != '\0' && strcmp(seen, ident) != 0) {
		return wxe_set(e, WX_BAD_SIGNATURE,
		    "this signature came with another message");
	}
	return WX_OK;
}

enum wx_err
h_event(struct app *a, struct request *r, struct response *resp)
{
	struct push_conf pc;
	struct push_msg *m;
	char id[2 * LIM_KEY], hash[65], key[LIM_KEY];
	bool fresh = false;
	enum wx_err err;

	if ((err = enabled(a, r)) != WX_OK)
		return err;
	if ((m = malloc(sizeof(*m))) == NULL)
		return wxe_set(&r->e, WX_INTERNAL, NULL);
	push_conf_of(&a->cfg, &pc);
	err = push_read(&pc, r->query, r->content_type, r->body, r->body_len,
	    (long long)time(NULL), m, &r->e);
	if (err != WX_OK) {
		log_info("push refused: %s", r->e.msg);
		metrics_push("refused", wxerr_code(err));
		goto fail;
	}
	if (m->kind == PUSH_OTHER) {
		log_debug("push: %.31s %.63s, nothing to do", m->msg_type, m->event);
		metrics_push("other", "ignored");
		goto done;
	}
	/* the identity, hashed: bounded, and no openId in a key name */
	if (push_dedup_id(m, id, sizeof(id)) != 0 ||
	    crypto_sha256_hex(id, strlen(id), hash) != 0 ||
	    store_key(&a->cfg, "push", hash, key, sizeof(key)) != 0) {
		err = WX_INTERNAL;
		goto fail;
	}
	if (!m->encrypted && (err = one_body_per_signature(a, r, hash,
	    &r->e)) != WX_OK)
		goto fail;
	if ((err = store_lock(a->st, key, r->reqid, PUSH_DEDUP_S * 1000L,
	    &fresh)) != WX_OK)
		goto fail;
	if (!fresh) {
		log_info("push: %s sent again, already applied", m->event);
		metrics_push(kind_names[m->kind], "duplicate");
		goto done;
	}
	err = m->kind == PUSH_SENT ? settle_sent(a, m) :
	    apply_subscriptions(a, m);
	if (err != WX_OK) {
		/* not applied: let WeChat's next try apply it */
		if (store_unlock(a->st, key, r->reqid) != WX_OK)
			log_error("push: could not forget a push that was not "
			    "applied; WeChat's retries will be skipped");
		goto fail;
	}
done:
	free(m);
	return answer_success(r, resp);
fail:
	free(m);
	return wxe_msg(&r->e, err, 0, r->e.msg);
}
