/*
 * config.h: the configuration file.
 *
 * `key = value` lines, `#` (or `!`) comments, blank lines ignored. Keys of wxsub's
 * own namespaces (wechat. redis. subscribe. session. auth. http. record.
 * log. outbox. push. templates.) must be known and valid, else the load fails naming file:line.
 * Keys of other namespaces (a seed-style Spring application.properties)
 * are ignored, counted for one warning; spring.redis.* and
 * spring.data.redis.* give the Redis address when redis.url is not set.
 *
 * conf_parse() does no I/O: it is the unit-test and fuzz target.
 */
#ifndef WX_CONFIG_H
#define WX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "wxlimits.h"

enum token_api { TOKEN_API_STABLE, TOKEN_API_CLASSIC };

struct hostport {
	char		 host[LIM_HOST];
	int		 port;
};

struct config {
	char		 file[LIM_PATH];	/* where it was loaded from */

	/* wechat.* */
	char		 appid[LIM_ID];
	char		 secret[LIM_SECRET];
	char		 template_id[LIM_ID];		/* default for /send; "" = none */
	char		 template_ids[LIM_TEMPLATES][LIM_ID];	/* /record accepts */
	size_t		 n_template_ids;		/* template_id always included */
	char		 longterm_ids[LIM_TEMPLATES][LIM_ID];
	size_t		 n_longterm_ids;
	char		 api_base[LIM_URL];		/* no trailing slash */
	char		 login_url[LIM_URL];		/* derived from api_base unless set */
	char		 send_url[LIM_URL];		/* ends in "access_token=" */
	char		 token_url[LIM_URL];		/* api_base + /cgi-bin/token */
	char		 stable_token_url[LIM_URL];	/* api_base + /cgi-bin/stable_token */
	enum token_api	 token_api;
	char		 mp_state[16];			/* formal | trial | developer */
	char		 lang[8];			/* zh_CN | en_US | zh_HK | zh_TW */
	long		 timeout_ms;			/* 100 .. 60000 */

	/* redis.* (redis.url, or spring.redis.* as a fallback) */
	char		 redis_host[LIM_HOST];		/* "" when redis_unix is set */
	int		 redis_port;
	char		 redis_unix[LIM_PATH];
	char		 redis_user[LIM_ID];
	char		 redis_password[LIM_SECRET];
	int		 redis_db;			/* 0 .. 15 */
	struct hostport	 sentinels[LIM_SENTINELS];	/* redis.sentinels */
	size_t		 n_sentinels;			/* 0: redis.url's host */
	char		 master_name[LIM_ID];		/* redis.masterName */
	long		 wait_replicas;			/* redis.waitReplicas */
	long		 wait_ms;			/* redis.waitMs */
	long		 redis_timeout_ms;		/* redis.timeoutMs: one command */
	char		 token_key[LIM_ID];		/* WECHAT:ACCESS_TOKEN */
	char		 lock_key[LIM_ID];		/* WECHAT:APPEAL_TOKEN_LOCK */
	char		 sub_prefix[LIM_ID];		/* SUBSCRIBE: */
	char		 prefix[LIM_ID];		/* WXSUB: */

	long		 subscribe_ttl;			/* seconds, 0 = no expiry */
	long		 session_ttl;			/* seconds, > 0 */
	char		 api_keys[LIM_APIKEYS][LIM_SECRET];
	size_t		 n_api_keys;
	char		 metrics_allow[LIM_APIKEYS][LIM_NET];	/* http.metricsAllow */
	size_t		 n_metrics_allow;
	size_t		 max_body;			/* 1024 .. LIM_BODY_MAX */
	long		 read_timeout_ms;		/* http.readTimeoutMs, 100 .. 600000 */
	long		 login_timeout_ms;		/* wechat.loginTimeoutMs: code2Session */
	long		 login_max_inflight;		/* login.maxInFlight, fleet-wide; 0: off */
	long		 login_rate;			/* login.ratePerMinute per address; 0: off */
	bool		 trust_client_openid;		/* record.trustClientOpenId */
	int		 log_level;			/* enum log_level, log.level */

	/* outbox.* (outbox.h) */
	long		 outbox_concurrency;		/* sends in flight per worker */
	long		 outbox_max_batch;		/* openIds per batch, as sent */
	long		 outbox_max_attempts;		/* calls to WeChat, then failed */
	long		 outbox_retry_base_ms;		/* first backoff, doubling */
	long		 outbox_claim_after_ms;		/* a dead worker's entries */
	long		 outbox_keep_s;			/* states kept after a change */
	long		 outbox_rate;			/* sends/s, fleet-wide; 0 = any */
	/* push.*: WeChat's message push at /event (pushmsg.h) */
	char		 push_token[40];		/* "" = /event answers 404 */
	char		 push_aes_key[48];		/* EncodingAESKey, "" = none */
	long		 push_max_skew;			/* seconds, 300 */
	bool		 source_events;			/* subscribe.source = events */
	/* templates.* and wechat.templateIds = * (templates.h) */
	bool		 template_ids_all;
	long		 templates_refresh;		/* seconds, 3600 */

	/* What the loader noticed but did not refuse. */
	size_t		 n_foreign;			/* keys of other namespaces */
	char		 foreign_first[LIM_SHOWN_KEY];	/* the first one, as conf_shown_key */
	size_t		 foreign_line;			/* and its line */
};

/* Fill every default (the table in wxsub.conf(5)). */
void	conf_defaults(struct config *);

/*
 * Parse buf[0..len) as the file named fname into c (which the caller has
 * passed through conf_defaults). Returns 0, or -1 with "fname:line: why"
 * in err. Also checks what is required (appid, secret) and derives URLs.
 */
int	conf_parse(struct config *c, const char *buf, size_t len,
	    const char *fname, char *err, size_t errlen);

/* conf_defaults + read the file (bounded) + conf_parse. */
int	conf_load(struct config *c, const char *path, char *err, size_t errlen);

/*
 * What a message may say of a key from the file: its leading run of
 * A-Z a-z 0-9 . _ (64 bytes at most), cut where a known key ends more
 * than two bytes before it does, "..." when something followed. A line with another separator than
 * '=' has its value in what looks like its key. Pure.
 */
void	conf_shown_key(const char *key, char *out, size_t outlen);

/*
 * What a loaded configuration should be told about without refusing it:
 * ignored foreign keys, a file readable by everyone (it holds the
 * AppSecret). Up to max lines into out; returns how many.
 */
#define CONF_WARN_MAX	2
size_t	conf_warnings(const struct config *c, char out[][LIM_ERRMSG], size_t max);

/*
 * One app of several (api.md section 8): give every key of the app its
 * appid, so that no two apps share one: redis.tokenKey and
 * redis.lockKey get ":<appid>" appended, redis.subscribePrefix and
 * redis.prefix get "<appid>:" (WECHAT:ACCESS_TOKEN:wx1…,
 * SUBSCRIBE:wx1…:<templateId>:<openId>, WXSUB:wx1…:session:…). 0, or
 * -1 with "file: why" in err when a key would grow past its bound.
 */
int	conf_scope(struct config *c, char *err, size_t errlen);

/* Do a and b name the same Redis (address, database and credentials)? */
bool	conf_same_redis(const struct config *a, const struct config *b);

/* Does /record accept id (templateIds + templateId + long-term)? Is it long-term? */
bool	conf_template_known(const struct config *, const char *id);
bool	conf_template_longterm(const struct config *, const char *id);

#endif
