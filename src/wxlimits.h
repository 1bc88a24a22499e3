/*
 * wxlimits.h: every bound the service puts on a buffer, in one place.
 * A value past a bound is an error, never a silent truncation.
 */
#ifndef WX_WXLIMITS_H
#define WX_WXLIMITS_H

#define LIM_BODY_DEFAULT	65536	/* http.maxBody default */
#define LIM_READ_TIMEOUT	10000	/* http.readTimeoutMs default, ms */
#define LIM_DRAIN		(16 * 1024 * 1024)	/* unread CGI input drained before exit */
#define LIM_BODY_MAX		(4 * 1024 * 1024)	/* largest http.maxBody accepted */
#define LIM_JSON_DEPTH		16	/* nesting of a request body */
#define LIM_ROUTE		64	/* PATH_INFO */
#define LIM_QUERY		1024	/* QUERY_STRING */
#define LIM_HEADER		1024	/* one header value we read */
#define LIM_REQID		64	/* X-Request-Id we echo */
#define LIM_ID			128	/* templateId, appid, and other ids */
#define LIM_OPENID		28	/* a WeChat openId is exactly this long */
#define LIM_SECRET		128	/* AppSecret, api keys, redis password */
#define LIM_URL			512	/* configured URLs */
#define LIM_PATH		1024	/* file paths */
#define LIM_KEY			512	/* a Redis key we build */
#define LIM_TOKEN		1024	/* an access_token (WeChat: plan for 512) */
#define LIM_HOST		256	/* a Redis or sentinel host name */
#define LIM_SENTINELS		8	/* redis.sentinels entries */
#define LIM_NET			64	/* an address or network, "10.0.0.0/8" */
#define LIM_TEMPLATES		32	/* wechat.templateIds entries */
#define LIM_APIKEYS		16	/* auth.apiKeys entries */
#define LIM_PER_RECORD		3	/* templates per popup (WeChat's own cap) */
#define LIM_UPSTREAM_BODY	65536	/* a WeChat answer */
#define LIM_SHOWN_KEY		72	/* a config key as a message names it (64 + "...") */
#define LIM_ERRMSG		256	/* an error message we return or log */
#define LIM_ANSWER		8192	/* a JSON answer we write */
#define LIM_JSONW_DEPTH		4	/* objects nested in a JSON text we write */
#define LIM_CONF_LINE		2048	/* one config line */
#define LIM_CONF_FILE		(256 * 1024)	/* a config file */

#endif
