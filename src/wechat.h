/*
 * wechat.h: the WeChat API as wxsub uses it: fetch a token (stable or
 * classic), send one subscribe message, and what each errcode means.
 * Requests are built and answers parsed here; transport is upstream.c.
 */
#ifndef WX_WECHAT_H
#define WX_WECHAT_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "config.h"
#include "wxlimits.h"
#include "upstream.h"
#include "wxerr.h"

/*
 * What one WeChat call came to travels in the one error carrier
 * (wxerr.h), struct wxe *ans below: the call's error, WeChat's errcode
 * when it gave one (0: none) and the reason, for logs and messages (no
 * secrets). A call that succeeds leaves it empty.
 */

struct wx_token {
	char		 token[LIM_TOKEN];
	long		 expires_in;
};

/*
 * Fetch an access token with the configured API (force: stable_token's
 * force_refresh). WX_OK, or WX_TOKEN_UNAVAILABLE with ans filled.
 */
enum wx_err	 wechat_token(struct upstream *, const struct config *,
		    bool force, struct wx_token *, struct wxe *ans);

/* One data value: "key":{"value":"..."} in the message WeChat gets. */
struct wx_item {
	const char	*key;
	const char	*value;		/* value[0..len), checked UTF-8 */
	size_t		 len;
};

struct wx_message {
	const char	*openid;
	const char	*template_id;
	const char	*page;		/* NULL: none */
	const char	*mp_state;
	const char	*lang;
	const struct wx_item *data;	/* data[0..ndata), borrowed */
	size_t		 ndata;
};

/*
 * The JSON text subscribeMessage.send gets for m (malloc'd, the caller
 * frees; NUL-terminated, *len bytes), or NULL when out of memory. Pure.
 */
char		*wechat_message_text(const struct wx_message *m, size_t *len);

/*
 * Send one message with token. WX_OK with *msgid, or the mapped error
 * with ans filled (ans->errcode tells token rejection and 43108 apart).
 */
enum wx_err	 wechat_send(struct upstream *, const struct config *,
		    const char *token, const struct wx_message *,
		    uint64_t *msgid, struct wxe *ans);

struct wx_login {
	char		 openid[LIM_OPENID + 1];
	char		 session_key[LIM_SECRET];
	char		 unionid[LIM_ID];	/* "" when not bound */
};

/*
 * code2Session: exchange a wx.login code. WX_OK, or WX_INVALID_CODE
 * (40029, 40163), WX_RATE_LIMITED (45011), WX_FORBIDDEN (40226),
 * WX_UPSTREAM (anything else) with ans filled.
 */
enum wx_err	 wechat_login(struct upstream *, const struct config *,
		    const char *code, struct wx_login *, struct wxe *ans);
enum wx_err	 wechat_map_login(long errcode);

/* The /send table: WeChat errcode to our error. */
enum wx_err	 wechat_map_send(long errcode);
/* 40001, 40014, 41001, 42001: the token was refused. */
bool		 wechat_token_rejected(long errcode);

/*
 * WeChat's answer to each call, its HTTP status and body as they came
 * (body[0..len), need not end in NUL): what wechat_token, wechat_send and
 * wechat_login do once the transfer is over, with the same results. No
 * I/O; the fuzzer and the unit tests call them directly.
 */
enum wx_err	 wechat_read_token(long status, const char *body, size_t len,
		    struct wx_token *, struct wxe *ans);
enum wx_err	 wechat_read_send(long status, const char *body, size_t len,
		    uint64_t *msgid, struct wxe *ans);
enum wx_err	 wechat_read_login(long status, const char *body, size_t len,
		    struct wx_login *, struct wxe *ans);

/*
 * Parse a WeChat JSON answer: WX_OK when it is an object whose errcode is
 * absent, 0 or "ok"-like; *out holds the object (caller puts it) and ans
 * is left empty. Else WX_UPSTREAM (WX_INTERNAL: out of memory) with ans
 * filled, WeChat's errcode and errmsg included when it gave them.
 */
enum wx_err	 wechat_parse(const char *body, size_t len, json_object **out,
		    struct wxe *ans);

#endif
