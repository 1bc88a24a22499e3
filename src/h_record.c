/*
 * h_record.c: POST /record. One credit per accepted template.
 *
 * The openId comes from the session when a mini-program user calls, and
 * from the body only when a back end calls with an api key (or when the
 * record.trustClientOpenId compatibility switch says the seed's clients
 * may post it). The body is any one of:
 *   {"templateId":"T"}    {"templateIds":["T1","T2"]}
 *   {"T1":"accept","T2":"reject","errMsg":"requestSubscribeMessage:ok"}
 * Everything is checked before anything is written.
 */
#include <string.h>

#include "handlers.h"
#include "jsonio.h"
#include "log.h"
#include "templates.h"
#include "validate.h"

struct pick {
	const char	*id;
	const char	*status;	/* "accept", "reject", "ban", "filter" */
};

struct picks {
	struct pick	 p[LIM_TEMPLATES];
	size_t		 n;
};

/*
 * What the popup may say per template. acceptWithAudio and acceptWithAlert
 * are accepts with a notification preference: they are recorded as accept.
 */
static const struct {
	const char	*word;
	const char	*status;
} statuses[] = {
	{ "accept", "accept" }, { "acceptWithAudio", "accept" },
	{ "acceptWithAlert", "accept" }, { "reject", "reject" },
	{ "ban", "ban" }, { "filter", "filter" },
};

/* The status a popup word stands for, or NULL when it is not one. */
static const char *
popup_status(const char *word)
{
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (strcmp(word, statuses[i].word) == 0)
			return statuses[i].status;
	return NULL;
}

/* Add one template, ignoring repeats (WeChat filters them too). */
static enum wx_err
add_pick(struct picks *ps, const char *id, const char *status, size_t cap,
    struct wxe *e)
{
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->p[i].id, id) == 0)
			return WX_OK;
	if (!val_template_id(id))
		return wxe_set(e, WX_BAD_REQUEST,
		    "templateId: not a template id");
	if (ps->n >= cap)
		return wxe_set(e, WX_BAD_REQUEST,
		    "templateIds: at most %zu templates per request", cap);
	ps->p[ps->n].id = id;
	ps->p[ps->n].status = status;
	ps->n++;
	return WX_OK;
}

/* The result object of wx.requestSubscribeMessage, as the front end got it. */
static enum wx_err
parse_result(json_object *body, struct picks *ps, struct wxe *e)
{
	const char *em;
	enum wx_err err;
	int t;

	if ((t = jsonio_string(body, "errMsg", &em, NULL)) < 0 ||
	    (t == 1 && strcmp(em, "requestSubscribeMessage:ok") != 0))
		return wxe_set(e, WX_BAD_REQUEST,
		    "errMsg: the subscription popup did not succeed");
	json_object_object_foreach(body, key, val) {
		const char *status;

		if (strcmp(key, "errMsg") == 0 || strcmp(key, "openId") == 0)
			continue;
		if (!json_object_is_type(val, json_type_string) ||
		    (status = popup_status(json_object_get_string(val))) == NULL)
			return wxe_set(e, WX_BAD_REQUEST, "%.128s: expected "
			    "\"accept\", \"reject\", \"ban\" or \"filter\"",
			    val_template_id(key) ? key : "a key");
		if ((err = add_pick(ps, key, status, LIM_PER_RECORD,
		    e)) != WX_OK)
			return err;
	}
	if (ps->n == 0)
		return wxe_set(e, WX_BAD_REQUEST, "templateId: give "
		    "templateId, templateIds or the result of "
		    "wx.requestSubscribeMessage");
	return WX_OK;
}

/*
 * The explicit forms, templateId or templateIds, or when neither is there
 * (JSON null counts as absent) the popup's result object.
 */
static enum wx_err
parse_picks(json_object *body, struct picks *ps, struct wxe *e)
{
	json_object *arr;
	const char *id;
	enum wx_err err;
	int t, ta;
	size_t i, n;

	t = jsonio_string(body, "templateId", &id, NULL);
	ta = jsonio_array(body, "templateIds", &arr);
	if (t == 0 && ta == 0)
		return parse_result(body, ps, e);
	if (t < 0 || ta < 0 || (t == 1 && ta == 1))
		return wxe_set(e, WX_BAD_REQUEST, t < 0 ?
		    "templateId: must be a string" :
		    ta < 0 ? "templateIds: must be an array of strings" :
		    "give templateId or templateIds, not both");
	if (t == 1)
		return add_pick(ps, id, "accept", LIM_PER_RECORD, e);
	n = json_object_array_length(arr);
	if (n == 0 || n > LIM_PER_RECORD)
		return wxe_set(e, WX_BAD_REQUEST,
		    "templateIds: 1 to %d templates", LIM_PER_RECORD);
	for (i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(v, json_type_string))
			return wxe_set(e, WX_BAD_REQUEST,
			    "templateIds: must be an array of strings");
		if ((err = add_pick(ps, json_object_get_string(v), "accept",
		    LIM_PER_RECORD, e)) != WX_OK)
			return err;
	}
	return WX_OK;
}

/* Whose subscriptions these are. */
static enum wx_err
record_openid(struct app *a, struct request *r, const char **openid,
    struct wxe *e)
{
	const char *posted = NULL;
	int t = jsonio_string(r->json, "openId", &posted, NULL);

	if (t < 0)
		return wxe_set(e, WX_BAD_REQUEST, "openId: must be a string");
	if (r->who == WHO_SESSION && !a->cfg.trust_client_openid) {
		*openid = r->openid;	/* a posted openId is ignored */
		return WX_OK;
	}
	if (r->who == WHO_SESSION && a->cfg.trust_client_openid && !a->warned_trust) {
		log_warn("record.trustClientOpenId is on: /record believes the "
		    "openId a client posts");
		a->warned_trust = true;
	}
	if (t == 0 && r->who == WHO_SESSION) {
		*openid = r->openid;
		return WX_OK;
	}
	if (t == 0 || !val_openid(posted))
		return wxe_set(e, WX_BAD_REQUEST, "openId: a WeChat openId "
		    "(28 characters of A-Z a-z 0-9 _ -) is required");
	*openid = posted;
	return WX_OK;
}

enum wx_err
h_record(struct app *a, struct request *r, struct response *resp)
{
	const struct config *c = &a->cfg;
	struct picks ps = { .n = 0 };
	char keys[LIM_TEMPLATES][LIM_KEY];
	const char *openid = NULL, *kp[LIM_TEMPLATES], *ids[LIM_TEMPLATES];
	bool marker[LIM_TEMPLATES];
	long long counts[LIM_TEMPLATES];
	struct jsonw *o;
	enum wx_err err;
	size_t i, n = 0;

	if ((err = record_openid(a, r, &openid, &r->e)) != WX_OK ||
	    (err = parse_picks(r->json, &ps, &r->e)) != WX_OK)
		return err;
	for (i = 0; i < ps.n; i++) {
		if (!tpl_known(a, ps.p[i].id))
			return wxe_set(&r->e, WX_UNKNOWN_TEMPLATE,
			    "templateId: %s is not in wechat.templateIds",
			    ps.p[i].id);
		if (strcmp(ps.p[i].status, "accept") != 0)
			continue;
		if (store_key_sub(c, ps.p[i].id, openid, keys[n], LIM_KEY) != 0)
			return wxe_set(&r->e, WX_BAD_REQUEST, "templateId: too long");
		kp[n] = keys[n];
		ids[n] = ps.p[i].id;
		marker[n] = tpl_longterm(a, ps.p[i].id);
		n++;
	}
	/*
	 * subscribe.source = events: WeChat's popup event adds the credits
	 * (h_event.c); a session's /record only reads them, so one accept
	 * never counts twice. A back end's api-key /record still adds.
	 */
	if (n > 0 && c->source_events && r->who == WHO_SESSION)
		err = store_credit_get(a->st, kp, n, counts);
	else if (n > 0)
		err = store_credit_add(a->st, kp, marker, n, c->subscribe_ttl,
		    counts);
	if (n > 0 && err != WX_OK)
		return wxe_set(&r->e, err, NULL);
	o = resp_ok(resp);
	jw_str(o, "openId", openid);
	jw_open(o, "credits");
	for (i = 0; i < n; i++)
		jw_int(o, ids[i], counts[i]);
	jw_close(o);
	if (n < ps.n) {		/* ps holds no repeats (add_pick) */
		jw_open(o, "skipped");
		for (i = 0; i < ps.n; i++)
			if (strcmp(ps.p[i].status, "accept") != 0)
				jw_str(o, ps.p[i].id, ps.p[i].status);
		jw_close(o);
	}
	log_debug("recorded %zu accept(s) for template(s) of one user", n);
	return WX_OK;
}
