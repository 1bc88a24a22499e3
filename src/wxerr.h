/*
 * wxerr.h: the one error vocabulary and its one carrier. Every module
 * returns an enum wx_err; wxerr.c maps each to its HTTP status and its
 * error code. What a caller is told travels in one struct wxe per
 * request (struct request's e): the error, WeChat's errcode when it gave
 * one, and the message. Whatever fails on the request's path fills it
 * (wxe_set) and returns its err; the dispatcher (app.c) is the one place
 * that turns it into an answer (resp_fail). The readers below the request
 * fill the carrier their caller gives, with wxe_set, and keep no message
 * buffer of their own: the handlers' body checks, the JSON parser, the
 * push reader and the template check (the request's own carrier),
 * WeChat's answers (wechat.h: its errcode too), a transfer (upstream.h)
 * and an outbox attempt (the worker's result, through outbox_decide).
 * Two kinds of reason still go into a caller's buffer: the
 * configuration's (config, redisaddr, sentinel), read before any request,
 * and val_data_value's rule text (validate.h), which /send puts in the
 * request's carrier after the key's name.
 */
#ifndef WX_WXERR_H
#define WX_WXERR_H

#include "wxlimits.h"

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

struct wxe {
	enum wx_err	 err;
	long		 errcode;		/* WeChat's; 0 when none */
	char		 msg[LIM_ERRMSG];	/* "": wxerr_text(err) */
};

/* An empty carrier. */
void		 wxe_clear(struct wxe *);
/*
 * Fill e with err and a message (fmt NULL: the error's default text);
 * returns err, so a failure reads `return wxe_set(e, WX_..., "...")`.
 */
enum wx_err	 wxe_set(struct wxe *, enum wx_err, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
/*
 * The same with a message taken as it is (NULL or "": the default text;
 * it may be e->msg itself) and WeChat's errcode (0: none).
 */
enum wx_err	 wxe_msg(struct wxe *, enum wx_err, long errcode,
		    const char *msg);

int		 wxerr_status(enum wx_err);	/* HTTP status */
const char	*wxerr_code(enum wx_err);	/* "bad_request", ... */
const char	*wxerr_text(enum wx_err);	/* default human message */

#endif
