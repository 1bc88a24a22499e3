/*
 * h_login.c: POST /login (a wx.login code for a session) and
 * POST /logout (forget the session that calls it).
 * The session_key WeChat returns stays in Redis; the caller never sees it.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "guard.h"
#include "handlers.h"
#include "jsonio.h"
#include "log.h"
#include "session.h"
#include "validate.h"
#include "wechat.h"

enum wx_err
h_login(struct app *a, struct request *r, struct response *resp)
{
	struct wx_login l;
	struct wxe ans;
	struct session_user u;
	char token[SESSION_TOKEN_LEN + 1];
	const char *code;
	size_t len;
	struct jsonw *o;
	struct guard_pass pass;
	long retry;
	enum wx_err err;

	if (jsonio_string(r->json, "code", &code, &len) != 1 ||
	    !val_shape(VS_LOGIN_CODE, code, len))
		return wxe_set(&r->e, WX_BAD_REQUEST,
		    "code: the code from wx.login is required");
	/* Anyone may call: a slow WeChat must not let them hold the pool. */
	if ((err = guard_enter(a->st, &a->cfg, r->remote, &pass, &retry,
	    &r->e)) != WX_OK) {
		resp->retry_after = retry;
		return wxe_msg(&r->e, err, 0, retry > 0 ? r->e.msg : NULL);
	}
	err = wechat_login(a->up, &a->cfg, code, &l, &ans);
	guard_leave(a->st, &a->cfg, &pass);
	if (err != WX_OK) {
		log_warn("login failed: %s", ans.msg);
		return wxe_msg(&r->e, err, ans.errcode, NULL);
	}
	if (!val_openid(l.openid)) {
		log_error("code2Session returned an openId of an unexpected shape");
		return wxe_set(&r->e, WX_UPSTREAM,
		    "WeChat returned an unexpected openId");
	}
	u.openid = l.openid;
	u.session_key = l.session_key;
	u.unionid = l.unionid;
	err = session_create(a->st, &a->cfg, &u, token, sizeof(token));
	memset(l.session_key, 0, sizeof(l.session_key));
	if (err != WX_OK)
		return wxe_set(&r->e, err, NULL);
	o = resp_ok(resp);
	jw_str(o, "openId", l.openid);
	if (l.unionid[0] != '\0')
		jw_str(o, "unionId", l.unionid);
	jw_str(o, "session", token);
	jw_int(o, "expiresIn", a->cfg.session_ttl);
	memset(token, 0, sizeof(token));
	log_info("login: new session");
	return WX_OK;
}

enum wx_err
h_logout(struct app *a, struct request *r, struct response *resp)
{
	enum wx_err err;

	if ((err = session_drop(a->st, &a->cfg, auth_bearer(r->auth))) != WX_OK)
		return wxe_set(&r->e, err, NULL);
	log_info("logout: session %s dropped", r->session_hash);
	(void)resp_ok(resp);
	return WX_OK;
}
