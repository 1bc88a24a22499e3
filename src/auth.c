/*
 * auth.c: api keys and the session hook.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "auth.h"
#include "netmask.h"
#include "secure.h"
#include "session.h"

const char *
auth_bearer(const char *h)
{
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h != '\0' ? h : NULL;
}

bool
auth_address_ok(const struct config *c, const char *addr)
{
	struct net n;

	for (size_t i = 0; i < c->n_metrics_allow; i++)
		if (net_parse(c->metrics_allow[i], &n) == 0 && net_contains(&n, addr))
			return true;
	return false;
}

bool
auth_apikey_ok(const struct config *c, const char *key)
{
	bool ok = false;

	for (size_t i = 0; i < c->n_api_keys; i++)
		ok |= sec_equal(key, c->api_keys[i]);
	return ok;
}

/*
 * /metrics covers the install: in a directory install, any app's
 * http.metricsAllow and api keys open it.
 */
static bool
metrics_address_ok(const struct app *a, const char *addr)
{
	const struct app *root = a->root != NULL ? a->root : a;

	if (root->n_apps == 0)
		return auth_address_ok(&a->cfg, addr);
	for (size_t i = 0; i < root->n_apps; i++)
		if (root->apps[i].cfg_ok &&
		    auth_address_ok(&root->apps[i].cfg, addr))
			return true;
	return false;
}

static bool
metrics_apikey_ok(const struct app *a, const char *key)
{
	const struct app *root = a->root != NULL ? a->root : a;
	bool ok = false;

	if (root->n_apps == 0)
		return auth_apikey_ok(&a->cfg, key);
	for (size_t i = 0; i < root->n_apps; i++)
		if (root->apps[i].cfg_ok)
			ok |= auth_apikey_ok(&root->apps[i].cfg, key);
	return ok;
}

enum wx_err
auth_check(struct app *a, enum auth_kind kind, struct request *r)
{
	const char *cred;
	enum wx_err err;

	r->who = WHO_NONE;
	if (kind == AUTH_NONE)
		return WX_OK;
	if (kind == AUTH_METRICS && metrics_address_ok(a, r->remote))
		return WX_OK;
	if ((cred = auth_bearer(r->auth)) == NULL) {
		return wxe_set(&r->e, WX_UNAUTHORIZED,
		    "send Authorization: Bearer <%s>",
		    kind == AUTH_APIKEY || kind == AUTH_METRICS ? "api key" :
		    kind == AUTH_SESSION ?
		    "session" : "session or api key");
	}
	if (kind != AUTH_SESSION && (kind == AUTH_METRICS ?
	    metrics_apikey_ok(a, cred) : auth_apikey_ok(&a->cfg, cred))) {
		r->who = WHO_APIKEY;
		return WX_OK;
	}
	if ((kind == AUTH_USER || kind == AUTH_SESSION) &&
	    session_token_shape(cred)) {
		err = session_check(a->st, &a->cfg, cred, r->openid,
		    sizeof(r->openid), r->session_hash, sizeof(r->session_hash));
		if (err == WX_OK) {
			r->who = WHO_SESSION;
			return WX_OK;
		}
		if (err != WX_UNAUTHORIZED)
			return wxe_set(&r->e, err, NULL);
		return wxe_set(&r->e, WX_UNAUTHORIZED,
		    "the session is unknown or expired: log in again");
	}
	return wxe_set(&r->e, WX_UNAUTHORIZED, "%s",
	    a->cfg.n_api_keys == 0 && kind == AUTH_APIKEY ?
	    "no api keys are configured (auth.apiKeys)" :
	    "the credential is not valid");
}
