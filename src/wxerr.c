/*
 * wxerr.c: the single table from error to HTTP status and contract code.
 */
#include <stdarg.h>
#include <stdio.h>

#include "wxerr.h"

static const struct {
	int		 status;
	const char	*code;
	const char	*text;
} errs[WX__MAX] = {
	[WX_OK] =		{ 200, "ok", "ok" },
	[WX_BAD_REQUEST] =	{ 400, "bad_request", "the request is malformed" },
	[WX_UNKNOWN_TEMPLATE] =	{ 400, "unknown_template", "the template is not one this service accepts" },
	[WX_INVALID_OPENID] =	{ 400, "invalid_openid", "WeChat does not know this openId" },
	[WX_INVALID_TEMPLATE] =	{ 400, "invalid_template", "WeChat does not know this template" },
	[WX_INVALID_PAGE] =	{ 400, "invalid_page", "the page does not exist in the published mini program" },
	/* Same code as our own check (422), but WeChat's refusal is a 400. */
	[WX_WECHAT_DATA] =	{ 400, "invalid_data", "WeChat refused a data value" },
	[WX_INVALID_CODE] =	{ 400, "invalid_code", "the login code is invalid, expired or already used" },
	[WX_UNAUTHORIZED] =	{ 401, "unauthorized", "missing or wrong credentials" },
	[WX_BAD_SIGNATURE] =	{ 401, "bad_signature", "the push is not signed with push.token as WeChat signs it" },
	[WX_FORBIDDEN] =	{ 403, "forbidden", "WeChat blocked this user's login" },
	[WX_TEMPLATE_BANNED] =	{ 403, "template_banned", "the template or the capability is banned" },
	[WX_NOT_FOUND] =	{ 404, "not_found", "no such route" },
	[WX_METHOD] =		{ 405, "method_not_allowed", "method not allowed on this route" },
	[WX_READ_TIMEOUT] =	{ 408, "request_timeout", "the request did not arrive in time" },
	[WX_NOT_SUBSCRIBED] =	{ 409, "not_subscribed", "the user has no subscription credit for this template" },
	[WX_USER_REFUSED] =	{ 409, "user_refused", "the user has no remaining subscription at WeChat" },
	[WX_IDEM_IN_FLIGHT] =	{ 409, "idempotency_in_flight", "a request with this Idempotency-Key is still being answered" },
	[WX_IDEM_REUSED] =	{ 422, "idempotency_key_reused", "this Idempotency-Key was used with another body" },
	[WX_TOO_LARGE] =	{ 413, "payload_too_large", "the request body is too large" },
	[WX_MEDIA_TYPE] =	{ 415, "unsupported_media_type", "the body must be application/json" },
	[WX_INVALID_DATA] =	{ 422, "invalid_data", "a data value breaks its type's rule" },
	[WX_SENSITIVE] =	{ 422, "sensitive_content", "WeChat found sensitive words in the message" },
	[WX_QUOTA] =		{ 429, "quota_exceeded", "WeChat's daily quota is reached" },
	[WX_RATE_LIMITED] =	{ 429, "rate_limited", "too many logins for this user; try later" },
	[WX_CONFIG] =		{ 500, "config_error", "the service configuration is missing or invalid" },
	[WX_INTERNAL] =		{ 500, "internal_error", "internal error" },
	[WX_UPSTREAM] =		{ 502, "upstream_error", "WeChat failed to answer properly" },
	[WX_TOKEN_UNAVAILABLE] = { 503, "token_unavailable", "no access token could be had from WeChat" },
	[WX_REDIS_UNAVAILABLE] = { 503, "redis_unavailable", "Redis does not answer" },
	[WX_BUSY] =		{ 503, "busy", "too many logins in progress; try again shortly" },
};

static int
valid(enum wx_err e)
{
	return (int)e >= 0 && e < WX__MAX && errs[e].code != 0;
}

int
wxerr_status(enum wx_err e)
{
	return valid(e) ? errs[e].status : 500;
}

const char *
wxerr_code(enum wx_err e)
{
	return valid(e) ? errs[e].code : "internal_error";
}

const char *
wxerr_text(enum wx_err e)
{
	return valid(e) ? errs[e].text : "internal error";
}

void
wxe_clear(struct wxe *e)
{
	e->err = WX_OK;
	e->errcode = 0;
	e->msg[0] = '\0';
}

enum wx_err
wxe_set(struct wxe *e, enum wx_err err, const char *fmt, ...)
{
	va_list	 ap;

	e->err = err;
	e->errcode = 0;
	e->msg[0] = '\0';
	if (fmt != NULL) {
		/* A message longer than LIM_ERRMSG is cut: it is only text. */
		va_start(ap, fmt);
		(void)vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

enum wx_err
wxe_msg(struct wxe *e, enum wx_err err, long errcode, const char *msg)
{
	if (msg == NULL || msg[0] == '\0')
		(void)wxe_set(e, err, NULL);
	else if (msg != e->msg)	/* the carrier's own message stays */
		(void)wxe_set(e, err, "%s", msg);
	e->err = err;
	e->errcode = errcode;
	return err;
}
