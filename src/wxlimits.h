/*
 * wxlimits.h: the bounds on what comes from outside (requests, the
 * configuration, WeChat, Redis) and on what wxsub writes, for every
 * buffer that more than one module sizes. A value past a bound is an
 * error, never a silent truncation.
 *
 * Bounds that belong to one module's own work live in its header, named
 * after it: NUM_DEC_MAX (num.h), JW_STRING_MAX (jsonw.h),
 * METRICS_MAX_FIELDS (metrics.h), IDEM_KEY_MAX (idem.h), PUSH_MAX_*
 * (pushmsg.h), REDIS_PIPELINE_MAX and REDIS_SCRIPTS_MAX (redis.h),
 * RADDR_MAX_DB (redisaddr.h), SESSION_* (session.h), CONF_WARN_MAX
 * (config.h); and a few at the top of their .c file: the code points of
 * one data value (validate.c), the /metrics text (h_metrics.c), the
 * configured ranges of numbers (config.c's keys[]).
 */
#ifndef WX_WXLIMITS_H
#define WX_WXLIMITS_H

#define LIM_BODY_DEFAULT	65536	/* http.maxBody default */
#define LIM_READ_TIMEOUT	10000	/* http.readTimeoutMs default, ms */
#define LIM_REDIS_COMMAND	400	/* redis.timeoutMs default, ms */
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
#define LIM_APPNAME		32	/* an app's name (its .conf file's stem) */
#define LIM_APPS		256	/* apps in one directory install */
#define LIM_HOST		256	/* a Redis or sentinel host name */
#define LIM_SENTINELS		8	/* redis.sentinels entries */
#define LIM_NET			64	/* an address or network, "10.0.0.0/8" */
#define LIM_TEMPLATES		32	/* wechat.templateIds entries */
#define LIM_APIKEYS		16	/* auth.apiKeys entries */
#define LIM_PER_RECORD		3	/* templates per popup (WeChat's own cap) */
#define LIM_UPSTREAM_BODY	65536	/* a WeChat answer */
#define LIM_PAGE		512	/* the page of a subscribe message */
#define LIM_NONCE		64	/* a push's nonce */
#define LIM_TS			20	/* a push's timestamp */
#define LIM_SHOWN_KEY		72	/* a config key as a message names it (64 + "...") */
#define LIM_ERRMSG		256	/* an error message we return or log */
#define LIM_ANSWER		8192	/* a JSON answer we write */
#define LIM_JSONW_DEPTH		4	/* objects nested in a JSON text we write */
#define LIM_CONF_LINE		2048	/* one config line */
#define LIM_CONF_FILE		(256 * 1024)	/* a config file */

#endif
