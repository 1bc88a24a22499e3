/*
 * wxerr.h: the one error vocabulary. Every module returns an enum wx_err;
 * wxerr.c maps each to its HTTP status and its contract error code.
 */
#ifndef WX_WXERR_H
#define WX_WXERR_H

enum wx_err {
	WX_OK = 0,
	WX_BAD_REQUEST,		/* 400 bad_request */
	WX_UNKNOWN_TEMPLATE,	/* 400 unknown_template */
	WX_INVALID_OPENID,	/* 400 invalid_openid (WeChat 40003) */
	WX_INVALID_TEMPLATE,	/* 400 invalid_template (WeChat 40037) */
	WX_INVALID_PAGE,	/* 400 invalid_page (WeChat 41030) */
	WX_WECHAT_DATA,		/* 400 invalid_data (WeChat 47003) */
	WX_INVALID_CODE,	/* 400 invalid_code (code2Session 40029/40163) */
	WX_UNAUTHORIZED,	/* 401 unauthorized */
	WX_BAD_SIGNATURE,	/* 401 bad_signature (a push to /event) */
	WX_FORBIDDEN,		/* 403 forbidden (code2Session 40226) */
	WX_TEMPLATE_BANNED,	/* 403 template_banned (WeChat 43107) */
	WX_NOT_FOUND,		/* 404 not_found */
	WX_METHOD,		/* 405 method_not_allowed */
	WX_READ_TIMEOUT,	/* 408 request_timeout (http.readTimeoutMs) */
	WX_NOT_SUBSCRIBED,	/* 409 not_subscribed */
	WX_USER_REFUSED,	/* 409 user_refused (WeChat 43101) */
	WX_IDEM_IN_FLIGHT,	/* 409 idempotency_in_flight */
	WX_TOO_LARGE,		/* 413 payload_too_large */
	WX_MEDIA_TYPE,		/* 415 unsupported_media_type */
	WX_INVALID_DATA,	/* 422 invalid_data */
	WX_IDEM_REUSED,		/* 422 idempotency_key_reused */
	WX_SENSITIVE,		/* 422 sensitive_content (WeChat 45168) */
	WX_QUOTA,		/* 429 quota_exceeded (WeChat 45009) */
	WX_RATE_LIMITED,	/* 429 rate_limited (code2Session 45011) */
	WX_CONFIG,		/* 500 config_error */
	WX_INTERNAL,		/* 500 internal_error (out of memory and the like) */
	WX_UPSTREAM,		/* 502 upstream_error */
	WX_TOKEN_UNAVAILABLE,	/* 503 token_unavailable */
	WX_REDIS_UNAVAILABLE,	/* 503 redis_unavailable */
	WX_BUSY,		/* 503 busy (login.maxInFlight) */
	WX__MAX
};

int		 wxerr_status(enum wx_err);	/* HTTP status */
const char	*wxerr_code(enum wx_err);	/* "bad_request", ... */
const char	*wxerr_text(enum wx_err);	/* default human message */

#endif
