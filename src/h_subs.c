/*
 * h_subs.c: GET and DELETE /subscriptions?openId=...[&templateId=...]
 * for back ends: read or forget a user's credits. Only the configured
 * templates are looked at: nothing else can have been recorded.
 */
#include <string.h>

#include "handlers.h"
#include "templates.h"
#include "validate.h"

/* The query's openId and optional templateId, checked. */
static enum wx_err
subs_query(struct app *a, struct request *r, char *openid, size_t oplen,
    char *tpl, size_t tpllen, struct wxe *e)
{
	int have;

	if (req_query(r->query, "openId", openid, oplen) != 1 ||
	    !val_openid(openid)) {
		return wxe_set(e, WX_BAD_REQUEST,
		    "openId: a WeChat openId is required in the query");
	}
	if ((have = req_query(r->query, "templateId", tpl, tpllen)) < 0 ||
	    (have == 1 && !val_template_id(tpl))) {
		return wxe_set(e, WX_BAD_REQUEST,
		    "templateId: not a template id");
	}
	if (have == 0)
		tpl[0] = '\0';
	else if (!tpl_known(a, tpl))
		return wxe_set(e, WX_UNKNOWN_TEMPLATE,
		    "templateId: %s is not in wechat.templateIds", tpl);
	return WX_OK;
}

/* Add template id (borrowed) unless asked about another or seen. */
static void
subs_add(const struct config *c, const char *openid, const char *tpl,
    const char *id, char keys[][LIM_KEY], const char **ids, size_t *n)
{
	if (*n >= LIM_TEMPLATES || (tpl[0] != '\0' && strcmp(tpl, id) != 0))
		return;
	for (size_t i = 0; i < *n; i++)
		if (strcmp(ids[i], id) == 0)
			return;
	if (store_key_sub(c, id, openid, keys[*n], LIM_KEY) != 0)
		return;
	ids[(*n)++] = id;
}

/*
 * Keys of the templates asked about: one, or all configured (with
 * wechat.templateIds = *, those of WeChat's list too, up to
 * LIM_TEMPLATES).
 */
static size_t
subs_keys(struct app *a, const char *openid, const char *tpl,
    char keys[][LIM_KEY], const char **ids)
{
	const struct config *c = &a->cfg;
	json_object *list = c->template_ids_all ? tpl_list(a) : NULL, *id;
	size_t n = 0, i;

	for (i = 0; i < c->n_template_ids; i++)
		subs_add(c, openid, tpl, c->template_ids[i], keys, ids, &n);
	for (i = 0; list != NULL && i < json_object_array_length(list); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(list, i),
		    "id", &id))
			subs_add(c, openid, tpl, json_object_get_string(id), keys,
			    ids, &n);
	return n;
}

static enum wx_err
subs(struct app *a, struct request *r, struct response *resp, bool forget)
{
	char openid[LIM_OPENID + 1], tpl[LIM_ID];
	char keys[LIM_TEMPLATES][LIM_KEY];
	const char *ptrs[LIM_TEMPLATES], *ids[LIM_TEMPLATES];
	long long counts[LIM_TEMPLATES], deleted;
	struct jsonw *o;
	enum wx_err err;
	size_t n, i;

	if ((err = subs_query(a, r, openid, sizeof(openid), tpl, sizeof(tpl),
	    &r->e)) != WX_OK)
		return err;
	n = subs_keys(a, openid, tpl, keys, ids);
	for (i = 0; i < n; i++)
		ptrs[i] = keys[i];
	err = forget ? store_del(a->st, ptrs, n, &deleted) :
	    store_credit_get(a->st, ptrs, n, counts);
	if (err != WX_OK)
		return wxe_set(&r->e, err, NULL);
	o = resp_ok(resp);
	jw_str(o, "openId", openid);
	if (forget) {
		jw_int(o, "deleted", deleted);
		return WX_OK;
	}
	jw_open(o, "credits");
	for (i = 0; i < n; i++)
		jw_int(o, ids[i], counts[i]);
	jw_close(o);
	return WX_OK;
}

enum wx_err
h_subs_get(struct app *a, struct request *r, struct response *resp)
{
	return subs(a, r, resp, false);
}

enum wx_err
h_subs_delete(struct app *a, struct request *r, struct response *resp)
{
	return subs(a, r, resp, true);
}
