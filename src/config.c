/*
 * config.c: the configuration file (config.h; every key in wxsub.conf(5)).
 *
 * One pass over the lines. Each known key has a setter in keys[] that
 * validates its value and stores it; a value that does not fit its field
 * is an error, never truncated. What depends on more than one line
 * (redis.url against spring.redis.*, the template lists, the derived URLs,
 * the required keys) is settled in finish() after the last line, so the
 * order of lines never matters except that a repeated key's last value
 * wins, as in Java properties.
 *
 * No logging here: errors go to the caller's err buffer as
 * "file:line: why", and what was ignored is counted in n_foreign and
 * foreign_first for the caller's one warning. Messages name the file,
 * the line and the key, never a value: a line whose separator is not an
 * ASCII '=' (a full-width one from an input method, a ':' or a '-') puts
 * the value into what looks like the key, so even a key is named only up
 * to where it stops looking like one (shown_key).
 */
#include <errno.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "join.h"
#include "pushmsg.h"
#include "netmask.h"
#include "redisaddr.h"
#include "sentinel.h"
#include "validate.h"
#include "wxlimits.h"
#include "log.h"

/* The words of log.level and wechat.tokenApi are stored as their index. */
_Static_assert(LOG_DEBUG == 0 && LOG_INFO == 1 && LOG_WARN == 2 &&
    LOG_ERROR == 3, "log_level_names[] follows enum log_level");
_Static_assert(TOKEN_API_STABLE == 0 && TOKEN_API_CLASSIC == 1,
    "token_apis[] follows enum token_api");

#define DEFAULT_API_BASE	"https://api.weixin.qq.com"
#define PATH_LOGIN		"/sns/jscode2session"
#define PATH_SEND		"/cgi-bin/message/subscribe/send?access_token="
#define PATH_TOKEN		"/cgi-bin/token"
#define PATH_STABLE_TOKEN	"/cgi-bin/stable_token"
#define ACCESS_TOKEN_PARAM	"access_token="
#define TTL_MAX			31536000	/* one year */
#define APIKEY_MIN		16

/* The state of one conf_parse() call. */
struct parse {
	struct config		*c;
	const char		*fname;
	size_t			 line;		/* 0 once the lines are done */
	char			*err;
	size_t			 errlen;
	bool			 has_redis_url;
	bool			 has_template_ids;
	bool			 has_login_url;
	bool			 has_send_url;
	struct raddr_spring	 spring;	/* applies only without redis.url */
};

struct key;
typedef int (*setter)(struct parse *, const struct key *, char *);

/* One known key: how to check and store its value. */
struct key {
	const char		*name;
	setter			 set;
	size_t			 off;	/* the field in struct config */
	size_t			 size;	/* its size, for strings */
	long long		 min, max;	/* for numbers */
	const char *const	*words;	/* for enumerations, NULL-ended */
	const char		*rule;	/* what a good value is, for errors */
};

static const char *const namespaces[] = {
	"wechat.", "redis.", "subscribe.", "session.", "auth.", "http.",
	"record.", "log.", "outbox.", "push.", "templates.", "login.", NULL
};
static const char *const sources[] = { "client", "events", NULL };
static const char *const token_apis[] = { "stable", "classic", NULL };
static const char *const mp_states[] = { "formal", "trial", "developer",
	NULL };
static const char *const langs[] = { "zh_CN", "en_US", "zh_HK", "zh_TW",
	NULL };
static const char *const bools[] = { "false", "true", NULL };

/*
 * Write "fname:line: why" (or "fname: why" when line is 0) into the
 * caller's buffer. Always returns -1 so that callers can
 * `return fail(...)`. A message longer than the buffer is cut: it is
 * only a diagnostic.
 */
static int fail(struct parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct parse *p, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (p->err == NULL || p->errlen == 0)
		return -1;
	if (p->line > 0)
		n = snprintf(p->err, p->errlen, "%s:%zu: ", p->fname,
		    p->line);
	else
		n = snprintf(p->err, p->errlen, "%s: ", p->fname);
	if (n < 0) {
		p->err[0] = '\0';
		return -1;
	}
	if ((size_t)n >= p->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' ||
	    ch == '\v';
}

/* Trim s in place; returns the first non-space byte. */
static char *
trim(char *s)
{
	size_t	 n;

	while (is_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static bool
same_nocase(const char *a, const char *b)
{
	while (*a != '\0' && val_lower(*a) == val_lower(*b)) {
		a++;
		b++;
	}
	return *a == '\0' && *b == '\0';
}

static bool
prefix_nocase(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++)
		if (val_lower(*s) != val_lower(*prefix))
			return false;
	return true;
}

static bool
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t	 n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Index of s in a NULL-ended word list, or -1. */
static int
word_index(const char *const *words, const char *s)
{
	int	 i;

	for (i = 0; words[i] != NULL; i++)
		if (strcmp(words[i], s) == 0)
			return i;
	return -1;
}

static char *
field(struct parse *p, const struct key *k)
{
	return (char *)p->c + k->off;
}

/*
 * An http:// or https:// URL of printable ASCII with a non-empty host,
 * shorter than LIM_URL. Not quoted either: a proxy URL may carry a
 * password.
 */
static int
check_url(struct parse *p, const struct key *k, const char *val)
{
	const char	*host;

	if (starts_with(val, "https://"))
		host = val + 8;
	else if (starts_with(val, "http://"))
		host = val + 7;
	else
		host = NULL;
	if (host == NULL || *host == '\0' || *host == '/' || *host == '?' ||
	    *host == '#' || !val_graph(val, LIM_URL - 1))
		return fail(p, "%s: not an http:// or https:// URL "
		    "(printable ASCII, at most %d bytes)", k->name,
		    LIM_URL - 1);
	return 0;
}

/*
 * Copy val into k's string field. The setters check lengths first, so
 * this fails only if a check and a field size disagree: still an error
 * with a message, never a cut value.
 */
static int
store(struct parse *p, const struct key *k, const char *val)
{
	if (join_copy(field(p, k), k->size, val) == -1)
		return fail(p, "%s: longer than %zu bytes", k->name,
		    k->size - 1);
	return 0;
}

/* wechat.appid */
static int
set_appid(struct parse *p, const struct key *k, char *val)
{
	if (!val_template_id(val))
		return fail(p, "%s: must be %s", k->name, k->rule);
	return store(p, k, val);
}

/* wechat.templateId: empty means no default template. */
static int
set_template_id(struct parse *p, const struct key *k, char *val)
{
	if (*val == '\0') {
		field(p, k)[0] = '\0';
		return 0;
	}
	return set_appid(p, k, val);
}

/* wechat.secret: never quoted back. */
static int
set_secret(struct parse *p, const struct key *k, char *val)
{
	if (!val_graph(val, k->size - 1))
		return fail(p, "%s: must be %s", k->name, k->rule);
	return store(p, k, val);
}

/* Cut the next item off the comma list at *cur, trimmed; NULL at the end. */
static char *
next_item(char **cur)
{
	char	*it = *cur, *comma;

	if (it == NULL)
		return NULL;
	if ((comma = strchr(it, ',')) != NULL) {
		*comma = '\0';
		*cur = comma + 1;
	} else
		*cur = NULL;
	return trim(it);
}

static bool
id_in(const char (*ids)[LIM_ID], size_t n, const char *id)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

/*
 * Add id to ids[LIM_TEMPLATES] unless it is there already. Returns -1
 * when the list is full. The caller has checked val_template_id(id).
 */
static int
add_id(char (*ids)[LIM_ID], size_t *n, const char *id)
{
	/* C has no implicit conversion to a pointer to const arrays. */
	if (id_in((const char (*)[LIM_ID])ids, *n, id))
		return 0;
	if (*n >= LIM_TEMPLATES)
		return -1;
	if (join_copy(ids[*n], LIM_ID, id) == -1)
		return -1;
	(*n)++;
	return 0;
}

/*
 * A comma list of template ids into ids/n, replacing what was there (the
 * last line wins). An empty value is an empty list; an empty item is an
 * error, as it is usually a stray comma. Repeats are kept once.
 */
static int
set_id_list(struct parse *p, const struct key *k, char *val,
    char (*ids)[LIM_ID], size_t *n)
{
	char	*cur = val, *it;
	size_t	 idx = 0;

	*n = 0;
	if (*val == '\0')
		return 0;
	while ((it = next_item(&cur)) != NULL) {
		idx++;
		if (*it == '\0')
			return fail(p, "%s: item %zu is empty", k->name, idx);
		if (!val_template_id(it))
			return fail(p, "%s: item %zu must be %s",
			    k->name, idx, k->rule);
		if (add_id(ids, n, it) == -1)
			return fail(p, "%s: more than %d ids", k->name,
			    LIM_TEMPLATES);
	}
	return 0;
}

/* wechat.templateIds; "*": every template of WeChat's list (templates.h) */
static int
set_template_ids(struct parse *p, const struct key *k, char *val)
{
	p->has_template_ids = true;
	p->c->template_ids_all = strcmp(val, "*") == 0;
	if (p->c->template_ids_all) {
		p->c->n_template_ids = 0;
		return 0;
	}
	return set_id_list(p, k, val, p->c->template_ids,
	    &p->c->n_template_ids);
}

/* wechat.longTermTemplateIds */
static int
set_longterm_ids(struct parse *p, const struct key *k, char *val)
{
	return set_id_list(p, k, val, p->c->longterm_ids,
	    &p->c->n_longterm_ids);
}

/*
 * wechat.apiBase: a URL without query or fragment; one trailing '/' is
 * dropped because the service appends paths that start with '/'. It must
 * leave room for the longest path appended, so deriving never fails.
 */
static int
set_api_base(struct parse *p, const struct key *k, char *val)
{
	size_t	 n;

	if (check_url(p, k, val) == -1)
		return -1;
	if (strchr(val, '?') != NULL || strchr(val, '#') != NULL)
		return fail(p, "%s: must not have a query or fragment",
		    k->name);
	n = strlen(val);
	if (val[n - 1] == '/')
		val[--n] = '\0';
	if (n + strlen(PATH_SEND) >= k->size)
		return fail(p, "%s: longer than %zu bytes", k->name,
		    k->size - 1 - strlen(PATH_SEND));
	return store(p, k, val);
}

/* wechat.loginUrl: used as given; the service appends the query. */
static int
set_login_url(struct parse *p, const struct key *k, char *val)
{
	if (check_url(p, k, val) == -1)
		return -1;
	p->has_login_url = true;
	return store(p, k, val);
}

/*
 * wechat.sendUrl: the service appends the token, so the URL must end in
 * "access_token="; the seed's does, and one that does not gets the
 * parameter added with '?' or '&' as its query needs.
 */
static int
set_send_url(struct parse *p, const struct key *k, char *val)
{
	const char	*add = "";
	char		 last;
	int		 n;

	if (check_url(p, k, val) == -1)
		return -1;
	last = val[strlen(val) - 1];
	if (ends_with(val, ACCESS_TOKEN_PARAM))
		add = "";
	else if (strchr(val, '?') == NULL)
		add = "?" ACCESS_TOKEN_PARAM;
	else if (last == '?' || last == '&')
		add = ACCESS_TOKEN_PARAM;
	else
		add = "&" ACCESS_TOKEN_PARAM;
	n = snprintf(field(p, k), k->size, "%s%s", val, add);
	if (n < 0 || (size_t)n >= k->size)
		return fail(p, "%s: longer than %zu bytes with %s", k->name,
		    k->size - 1, ACCESS_TOKEN_PARAM);
	p->has_send_url = true;
	return 0;
}

/* The index of val in k->words, or -1 after failing. */
static int
word(struct parse *p, const struct key *k, const char *val)
{
	int	 i;

	if ((i = word_index(k->words, val)) < 0)
		return fail(p, "%s: must be %s", k->name, k->rule);
	return i;
}

/* wechat.miniprogramState, wechat.lang: stored as the word itself. */
static int
set_word_str(struct parse *p, const struct key *k, char *val)
{
	if (word(p, k, val) < 0)
		return -1;
	return store(p, k, val);
}

/* wechat.tokenApi */
static int
set_token_api(struct parse *p, const struct key *k, char *val)
{
	int	 i;

	if ((i = word(p, k, val)) < 0)
		return -1;
	p->c->token_api = i == 0 ? TOKEN_API_STABLE : TOKEN_API_CLASSIC;
	return 0;
}

/* log.level */
static int
set_log_level(struct parse *p, const struct key *k, char *val)
{
	int	 i;

	if ((i = word(p, k, val)) < 0)
		return -1;
	p->c->log_level = i;
	return 0;
}

/* subscribe.source */
static int
set_source(struct parse *p, const struct key *k, char *val)
{
	int	 i;

	if ((i = word(p, k, val)) < 0)
		return -1;
	p->c->source_events = i == 1;
	return 0;
}

/* push.token: 3..32 of A-Z a-z 0-9, as WeChat's console takes it. */
static int
set_push_token(struct parse *p, const struct key *k, char *val)
{
	if (!push_token_ok(val))
		return fail(p, "%s: not %s", k->name, k->rule);
	return store(p, k, val);
}

/* push.aesKey: the EncodingAESKey, 43 of A-Z a-z 0-9 (never echoed). */
static int
set_push_aes(struct parse *p, const struct key *k, char *val)
{
	if (!push_aes_key_ok(val))
		return fail(p, "%s: not %s", k->name, k->rule);
	return store(p, k, val);
}

/* record.trustClientOpenId */
static int
set_bool(struct parse *p, const struct key *k, char *val)
{
	int	 i;

	if ((i = word(p, k, val)) < 0)
		return -1;
	p->c->trust_client_openid = i == 1;
	return 0;
}

/* A number within k->min..k->max, or -1 after failing. */
static int
number(struct parse *p, const struct key *k, const char *val,
    long long *out)
{
	if (val_decimal(val, k->min, k->max, out) == -1)
		return fail(p, "%s: not a whole number in %lld..%lld",
		    k->name, k->min, k->max);
	return 0;
}

/* wechat.timeoutMs, subscribe.ttl, session.ttl: a long field. */
static int
set_long(struct parse *p, const struct key *k, char *val)
{
	long long	 v;

	if (number(p, k, val, &v) == -1)
		return -1;
	*(long *)(void *)field(p, k) = (long)v;
	return 0;
}

/* http.maxBody */
static int
set_max_body(struct parse *p, const struct key *k, char *val)
{
	long long	 v;

	if (number(p, k, val, &v) == -1)
		return -1;
	p->c->max_body = (size_t)v;
	return 0;
}

/*
 * redis.tokenKey, redis.lockKey, redis.subscribePrefix, redis.prefix:
 * non-empty, no space or control byte, so the key stays one Redis
 * argument and one readable log word.
 */
static int
set_redis_key(struct parse *p, const struct key *k, char *val)
{
	if (*val == '\0' || !val_nospace(val) ||
	    strlen(val) >= k->size)
		return fail(p, "%s: must be %s", k->name, k->rule);
	return store(p, k, val);
}

/*
 * auth.apiKeys: a comma list, each key 16..LIM_SECRET-1 of printable
 * ASCII without space (a comma separates). Items are named by position,
 * never quoted. The last line wins.
 */
static int
set_api_keys(struct parse *p, const struct key *k, char *val)
{
	struct config	*c = p->c;
	char		*cur = val, *it;
	size_t		 idx = 0, i, n;

	c->n_api_keys = 0;
	if (*val == '\0')
		return 0;
	while ((it = next_item(&cur)) != NULL) {
		idx++;
		n = strlen(it);
		if (n == 0)
			return fail(p, "%s: key %zu is empty", k->name, idx);
		if (n < APIKEY_MIN || !val_graph(it, LIM_SECRET - 1))
			return fail(p, "%s: key %zu must be %s", k->name, idx,
			    k->rule);
		for (i = 0; i < c->n_api_keys; i++)
			if (strcmp(c->api_keys[i], it) == 0)
				break;
		if (i < c->n_api_keys)
			continue;
		if (c->n_api_keys >= LIM_APIKEYS)
			return fail(p, "%s: more than %d keys", k->name,
			    LIM_APIKEYS);
		if (join_copy(c->api_keys[c->n_api_keys], LIM_SECRET, it) == -1)
			return fail(p, "%s: key %zu is too long", k->name,
			    idx);
		c->n_api_keys++;
	}
	return 0;
}

/*
 * http.metricsAllow: a comma list of addresses or networks (IPv4 or IPv6,
 * optional /prefix) that may read /metrics without an api key.
 */
static int
set_metrics_allow(struct parse *p, const struct key *k, char *val)
{
	struct config	*c = p->c;
	char		*cur = val, *it;
	size_t		 idx = 0;

	c->n_metrics_allow = 0;
	while (*val != '\0' && (it = next_item(&cur)) != NULL) {
		idx++;
		if (net_parse(it, NULL) != 0)
			return fail(p, "%s: item %zu is not an address or "
			    "network such as 10.0.0.0/8", k->name, idx);
		if (c->n_metrics_allow >= LIM_APIKEYS)
			return fail(p, "%s: more than %d items", k->name,
			    LIM_APIKEYS);
		if (join_copy(c->metrics_allow[c->n_metrics_allow], LIM_NET, it) == -1)
			return fail(p, "%s: item %zu is too long", k->name, idx);
		c->n_metrics_allow++;
	}
	return 0;
}

/*
 * redis.url: redis://[[user]:password@]host[:port][/db] or
 * unix:///path/to/sock[?db=N]. Replaces the whole Redis address (the last
 * line wins) and overrides spring.redis.* wherever they are. The error
 * never quotes the URL, which may hold a password.
 */
static int
set_redis_url(struct parse *p, const struct key *k, char *val)
{
	struct config	*c = p->c;
	struct raddr	 a;
	const char	*why;

	if ((why = raddr_parse_url(val, &a)) != NULL)
		return fail(p, "%s: %s", k->name, why);
	/* Same sizes on both sides: these copies cannot fail. */
	if (join_copy(c->redis_host, sizeof(c->redis_host), a.host) == -1 ||
	    join_copy(c->redis_unix, sizeof(c->redis_unix), a.unix_path) == -1 ||
	    join_copy(c->redis_user, sizeof(c->redis_user), a.user) == -1 ||
	    join_copy(c->redis_password, sizeof(c->redis_password),
	    a.password) == -1)
		return fail(p, "%s: too long", k->name);
	c->redis_port = a.port;
	c->redis_db = a.db;
	p->has_redis_url = true;
	return 0;
}

/* redis.sentinels: the whole list, replaced by a later line. */
static int
set_sentinels(struct parse *p, const struct key *k, char *val)
{
	struct config	*c = p->c;
	const char	*why;

	if (sentinel_parse_list(val, c->sentinels, LIM_SENTINELS,
	    &c->n_sentinels, &why) == -1) {
		c->n_sentinels = 0;
		return fail(p, "%s: %s (at most %d of host:port, comma "
		    "separated)", k->name, why, LIM_SENTINELS);
	}
	return 0;
}

#define FIELD(f)	.off = offsetof(struct config, f), \
			.size = sizeof(((struct config *)0)->f)
#define ID_RULE		"1..127 of A-Z a-z 0-9 _ -"
_Static_assert(LIM_ID == 128 && LIM_SECRET == 128,
    "the rule texts of keys[] say 1..127");

static const struct key keys[] = {
	{ .name = "wechat.appid", .set = set_appid, FIELD(appid),
	  .rule = ID_RULE },
	{ .name = "wechat.secret", .set = set_secret, FIELD(secret),
	  .rule = "1..127 printable ASCII characters without spaces" },
	{ .name = "wechat.templateId", .set = set_template_id,
	  FIELD(template_id), .rule = ID_RULE },
	{ .name = "wechat.templateIds", .set = set_template_ids,
	  .rule = ID_RULE },
	{ .name = "wechat.longTermTemplateIds", .set = set_longterm_ids,
	  .rule = ID_RULE },
	{ .name = "wechat.apiBase", .set = set_api_base, FIELD(api_base) },
	{ .name = "wechat.loginUrl", .set = set_login_url,
	  FIELD(login_url) },
	{ .name = "wechat.sendUrl", .set = set_send_url, FIELD(send_url) },
	{ .name = "wechat.tokenApi", .set = set_token_api,
	  .words = token_apis, .rule = "stable or classic" },
	{ .name = "wechat.miniprogramState", .set = set_word_str,
	  FIELD(mp_state), .words = mp_states,
	  .rule = "formal, trial or developer" },
	{ .name = "wechat.lang", .set = set_word_str, FIELD(lang),
	  .words = langs, .rule = "zh_CN, en_US, zh_HK or zh_TW" },
	{ .name = "wechat.timeoutMs", .set = set_long, FIELD(timeout_ms),
	  .min = 100, .max = 60000 },
	{ .name = "redis.url", .set = set_redis_url },
	{ .name = "redis.sentinels", .set = set_sentinels },
	{ .name = "redis.masterName", .set = set_redis_key,
	  FIELD(master_name),
	  .rule = "1..127 bytes without spaces or control characters" },
	{ .name = "redis.waitReplicas", .set = set_long, FIELD(wait_replicas),
	  .min = 0, .max = 16 },
	{ .name = "redis.waitMs", .set = set_long, FIELD(wait_ms),
	  .min = 1, .max = 10000 },
	{ .name = "redis.timeoutMs", .set = set_long,
	  FIELD(redis_timeout_ms), .min = 50, .max = 60000 },
	{ .name = "redis.tokenKey", .set = set_redis_key, FIELD(token_key),
	  .rule = "1..127 bytes without spaces or control characters" },
	{ .name = "redis.lockKey", .set = set_redis_key, FIELD(lock_key),
	  .rule = "1..127 bytes without spaces or control characters" },
	{ .name = "redis.subscribePrefix", .set = set_redis_key,
	  FIELD(sub_prefix),
	  .rule = "1..127 bytes without spaces or control characters" },
	{ .name = "redis.prefix", .set = set_redis_key, FIELD(prefix),
	  .rule = "1..127 bytes without spaces or control characters" },
	{ .name = "subscribe.ttl", .set = set_long, FIELD(subscribe_ttl),
	  .min = 0, .max = TTL_MAX },
	{ .name = "session.ttl", .set = set_long, FIELD(session_ttl),
	  .min = 60, .max = TTL_MAX },
	{ .name = "auth.apiKeys", .set = set_api_keys,
	  .rule = "16..127 printable ASCII characters without spaces" },
	{ .name = "http.metricsAllow", .set = set_metrics_allow },
	{ .name = "http.maxBody", .set = set_max_body, .min = 1024,
	  .max = LIM_BODY_MAX },
	{ .name = "http.readTimeoutMs", .set = set_long,
	  FIELD(read_timeout_ms), .min = 100, .max = 600000 },
	{ .name = "wechat.loginTimeoutMs", .set = set_long,
	  FIELD(login_timeout_ms), .min = 100, .max = 60000 },
	{ .name = "login.maxInFlight", .set = set_long,
	  FIELD(login_max_inflight), .min = 0, .max = 100000 },
	{ .name = "login.ratePerMinute", .set = set_long,
	  FIELD(login_rate), .min = 0, .max = 1000000 },
	{ .name = "record.trustClientOpenId", .set = set_bool,
	  .words = bools, .rule = "true or false" },
	{ .name = "log.level", .set = set_log_level, .words = log_level_names,
	  .rule = "debug, info, warn or error" },
	{ .name = "outbox.concurrency", .set = set_long,
	  FIELD(outbox_concurrency), .min = 1, .max = 256 },
	{ .name = "outbox.maxBatch", .set = set_long, FIELD(outbox_max_batch),
	  .min = 1, .max = 10000 },
	{ .name = "outbox.maxAttempts", .set = set_long,
	  FIELD(outbox_max_attempts), .min = 1, .max = 100 },
	{ .name = "outbox.retryBaseMs", .set = set_long,
	  FIELD(outbox_retry_base_ms), .min = 1, .max = 300000 },
	{ .name = "outbox.claimAfterMs", .set = set_long,
	  FIELD(outbox_claim_after_ms), .min = 100, .max = 86400000 },
	{ .name = "outbox.keepSeconds", .set = set_long,
	  FIELD(outbox_keep_s), .min = 60, .max = TTL_MAX },
	{ .name = "outbox.ratePerSecond", .set = set_long,
	  FIELD(outbox_rate), .min = 0, .max = 100000 },
	{ .name = "subscribe.source", .set = set_source, .words = sources,
	  .rule = "client or events" },
	{ .name = "push.token", .set = set_push_token, FIELD(push_token),
	  .rule = "3..32 of A-Z a-z 0-9" },
	{ .name = "push.aesKey", .set = set_push_aes, FIELD(push_aes_key),
	  .rule = "an EncodingAESKey: 43 of A-Z a-z 0-9" },
	{ .name = "push.maxSkewSeconds", .set = set_long,
	  FIELD(push_max_skew), .min = 10, .max = 86400 },
	{ .name = "templates.refreshSeconds", .set = set_long,
	  FIELD(templates_refresh), .min = 60, .max = TTL_MAX },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static const struct key *
find_key(const char *name)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/*
 * Levenshtein distance of a and b, for "did you mean". Keys are short;
 * a string of 64 bytes or more is simply "far".
 */
static size_t
distance(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b), row[64], i, j;

	if (la >= 64 || lb >= 64)
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t	 diag = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t	 up = row[j], best;

			best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The known key name is most likely a typo of, or NULL. */
static const char *
suggest(const char *name)
{
	const char	*best = NULL;
	size_t		 i, d, bestd = 3;	/* at most two edits away */

	for (i = 0; i < NKEYS; i++)
		if (same_nocase(keys[i].name, name))
			return keys[i].name;
	for (i = 0; i < NKEYS; i++)
		if ((d = distance(keys[i].name, name)) < bestd) {
			bestd = d;
			best = keys[i].name;
		}
	return best;
}

/*
 * Is key in one of wxsub's namespaces? Case-insensitively, so that
 * "WeChat.appid" is refused with a suggestion instead of being ignored
 * as a foreign key.
 */
static bool
own_namespace(const char *key)
{
	size_t	 i;

	for (i = 0; namespaces[i] != NULL; i++)
		if (prefix_nocase(key, namespaces[i]))
			return true;
	return false;
}

/*
 * What a message may say of a key: its leading run of A-Z a-z 0-9 . _
 * (at most 64 bytes), and "..." when more follows; cut shorter where a
 * known key ends more than two bytes before the run does
 * ("wechat.secretXYZ" is a known key glued to its value; "wechat.appidd"
 * is a typo, shown whole). Anything past that may be a value. Pure.
 */
void
conf_shown_key(const char *key, char *out, size_t outlen)
{
	size_t	 n = 0, i, kl, best;

	if (outlen == 0)
		return;
	while (n < 64 && key[n] != '\0' &&
	    (val_is(key[n], VC_WORD) || key[n] == '.'))
		n++;
	for (i = 0, best = n; i < NKEYS; i++) {
		kl = strlen(keys[i].name);
		if (kl == n && strncasecmp(key, keys[i].name, kl) == 0) {
			best = n;	/* the whole run is a key */
			break;
		}
		if (kl + 2 < n && strncasecmp(key, keys[i].name, kl) == 0 &&
		    (best == n || kl > best))
			best = kl;	/* the longest key it starts with */
	}
	n = best;
	snprintf(out, outlen, "%.*s%s", (int)n, key,
	    key[n] != '\0' ? "..." : "");
}

#define NO_EQUALS	"%s is not followed by an ASCII '=' (write key = value)"

/* The known key a shown key cut with "..." is, or NULL. */
static const struct key *
find_key_cut(const char *shown)
{
	char	 k[LIM_SHOWN_KEY];
	size_t	 n = strlen(shown);

	if (n < 4 || strcmp(shown + n - 3, "...") != 0)
		return NULL;
	snprintf(k, sizeof(k), "%.*s", (int)(n - 3), shown);
	return find_key(k);
}

static int
unknown_key(struct parse *p, const char *key)
{
	const char	*hint = suggest(key);
	char		 shown[LIM_SHOWN_KEY];

	conf_shown_key(key, shown, sizeof(shown));
	if (find_key_cut(shown) != NULL)	/* a known key, then not '=' */
		return fail(p, NO_EQUALS, shown);
	if (hint != NULL)
		return fail(p, "unknown key %s (did you mean %s?)", shown,
		    hint);
	return fail(p, "unknown key %s", shown);
}

/*
 * spring.redis.X or spring.data.redis.X (already counted as foreign):
 * kept aside for finish(). An empty value counts as unset, as in Spring.
 */
static int
spring_redis(struct parse *p, const char *key, const char *sub,
    const char *val)
{
	const char	*why;

	if (*val == '\0')
		return 0;
	if ((why = raddr_spring_set(&p->spring, sub, val)) != NULL)
		return fail(p, "%s: %s", key, why);
	return 0;
}

/*
 * A key of another namespace: ignored, but counted for the caller's
 * warning, and spring.redis.* noted in case redis.url is not set.
 */
static int
foreign(struct parse *p, const char *key, const char *val)
{
	struct config	*c = p->c;

	if (c->n_foreign++ == 0) {
		/* Only a name for a warning, and only what looks like one. */
		conf_shown_key(key, c->foreign_first,
		    sizeof(c->foreign_first));
		c->foreign_line = p->line;
	}
	if (starts_with(key, "spring.redis."))
		return spring_redis(p, key, key + strlen("spring.redis."), val);
	if (starts_with(key, "spring.data.redis."))
		return spring_redis(p, key,
		    key + strlen("spring.data.redis."), val);
	return 0;
}

/*
 * A line with no '='. In our namespaces that is an error (a forgotten
 * '=', a Java-style ':', a full-width '\xef\xbc\x9d'); elsewhere it is a
 * foreign key. Only the key is named (shown_key): the rest may be a
 * secret.
 */
static int
no_equals(struct parse *p, char *s)
{
	size_t	 n = strcspn(s, " \t\f\v:");
	char	 shown[LIM_SHOWN_KEY];

	s[n] = '\0';
	if (n == 0)
		return fail(p, "no key on this line");
	conf_shown_key(s, shown, sizeof(shown));
	if (own_namespace(s))
		return fail(p, NO_EQUALS, shown);
	return foreign(p, s, "");
}

/* One line, NUL-terminated, without its newline. */
static int
do_line(struct parse *p, char *line)
{
	char		*s = trim(line), *eq, *key, *val;
	const struct key *k;

	/* '!' as well as '#': both start a comment in Java properties. */
	if (*s == '\0' || *s == '#' || *s == '!')
		return 0;
	if ((eq = strchr(s, '=')) == NULL)
		return no_equals(p, s);
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (*key == '\0')
		return fail(p, "no key before '='");
	if (!own_namespace(key))
		return foreign(p, key, val);
	if ((k = find_key(key)) == NULL)
		return unknown_key(p, key);
	return k->set(p, k, val);
}

/* Without redis.url anywhere, spring.redis.* give the Redis address. */
static void
apply_spring(struct parse *p)
{
	struct config			*c = p->c;
	const struct raddr_spring	*s = &p->spring;

	/* Same sizes on both sides: these copies cannot fail. */
	if (s->has_host) {
		(void)join_copy(c->redis_host, sizeof(c->redis_host), s->a.host);
		c->redis_unix[0] = '\0';
	}
	if (s->has_port)
		c->redis_port = s->a.port;
	if (s->has_db)
		c->redis_db = s->a.db;
	if (s->has_password)
		(void)join_copy(c->redis_password, sizeof(c->redis_password),
		    s->a.password);
	if (s->has_user)
		(void)join_copy(c->redis_user, sizeof(c->redis_user), s->a.user);
}

/*
 * template_ids is what /record accepts: the listed ids (or none), plus
 * the default templateId and the long-term ids, each once.
 */
static int
merge_templates(struct parse *p)
{
	struct config	*c = p->c;
	size_t		 i;

	if (!p->has_template_ids)
		c->n_template_ids = 0;
	if (c->template_id[0] != '\0' &&
	    add_id(c->template_ids, &c->n_template_ids, c->template_id) == -1)
		goto full;
	for (i = 0; i < c->n_longterm_ids; i++)
		if (add_id(c->template_ids, &c->n_template_ids,
		    c->longterm_ids[i]) == -1)
			goto full;
	return 0;
full:
	return fail(p, "wechat.templateIds with wechat.templateId and "
	    "wechat.longTermTemplateIds make more than %d ids",
	    LIM_TEMPLATES);
}

/* url[LIM_URL] = base + path; -1 if it does not fit. */
static int
url_of(char *url, const char *base, const char *path)
{
	const char	*parts[] = { base, path };

	return join(url, LIM_URL, parts, 2);
}

/* The URLs that follow from api_base (login and send unless set). */
static int
derive_urls(struct config *c, bool login, bool send)
{
	if (login && url_of(c->login_url, c->api_base, PATH_LOGIN) == -1)
		return -1;
	if (send && url_of(c->send_url, c->api_base, PATH_SEND) == -1)
		return -1;
	if (url_of(c->token_url, c->api_base, PATH_TOKEN) == -1 ||
	    url_of(c->stable_token_url, c->api_base, PATH_STABLE_TOKEN) == -1)
		return -1;
	return 0;
}

/* After the last line: required keys, Redis fallback, lists, URLs. */
static int
finish(struct parse *p)
{
	struct config	*c = p->c;

	p->line = 0;
	if (c->appid[0] == '\0')
		return fail(p, "missing required key wechat.appid");
	if (c->secret[0] == '\0')
		return fail(p, "missing required key wechat.secret");
	if (!p->has_redis_url)
		apply_spring(p);
	if (merge_templates(p) == -1)
		return -1;
	/* set_api_base left room for the longest path: cannot fail. */
	if (derive_urls(c, !p->has_login_url, !p->has_send_url) == -1)
		return fail(p, "wechat.apiBase is too long");
	return 0;
}

void
conf_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	(void)join_copy(c->api_base, sizeof(c->api_base), DEFAULT_API_BASE);
	(void)derive_urls(c, true, true);
	c->token_api = TOKEN_API_STABLE;
	(void)join_copy(c->mp_state, sizeof(c->mp_state), "formal");
	(void)join_copy(c->lang, sizeof(c->lang), "zh_CN");
	c->timeout_ms = 5000;
	(void)join_copy(c->redis_host, sizeof(c->redis_host), "127.0.0.1");
	c->redis_port = RADDR_DEFAULT_PORT;
	c->redis_db = 0;
	(void)join_copy(c->master_name, sizeof(c->master_name), "mymaster");
	c->wait_replicas = 0;
	c->wait_ms = 100;
	(void)join_copy(c->token_key, sizeof(c->token_key), "WECHAT:ACCESS_TOKEN");
	(void)join_copy(c->lock_key, sizeof(c->lock_key),
	    "WECHAT:APPEAL_TOKEN_LOCK");
	(void)join_copy(c->sub_prefix, sizeof(c->sub_prefix), "SUBSCRIBE:");
	(void)join_copy(c->prefix, sizeof(c->prefix), "WXSUB:");
	c->subscribe_ttl = 0;
	c->session_ttl = 604800;
	c->max_body = LIM_BODY_DEFAULT;
	c->read_timeout_ms = LIM_READ_TIMEOUT;
	c->redis_timeout_ms = LIM_REDIS_COMMAND;
	c->login_timeout_ms = 2000;
	c->login_max_inflight = 2;
	c->login_rate = 60;
	c->trust_client_openid = false;
	c->log_level = LOG_INFO;
	c->outbox_concurrency = 16;
	c->outbox_max_batch = 1000;
	c->outbox_max_attempts = 8;
	c->outbox_retry_base_ms = 1000;
	c->outbox_claim_after_ms = 60000;
	c->outbox_keep_s = 604800;
	c->outbox_rate = 0;
	c->push_max_skew = 300;
	c->templates_refresh = 3600;
}

/*
 * Lines end in "\n" (a "\r" before it is dropped); a line longer than
 * LIM_CONF_LINE or holding a NUL byte is an error, as is a buffer larger
 * than LIM_CONF_FILE. The first error stops the parse; c is then
 * half-filled and must not be used.
 */
int
conf_parse(struct config *c, const char *buf, size_t len,
    const char *fname, char *err, size_t errlen)
{
	struct parse	 p;
	char		 line[LIM_CONF_LINE + 1];
	size_t		 off = 0, n;
	const char	*start, *nl;

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.fname = fname != NULL ? fname : "(config)";
	p.err = err;
	p.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len > LIM_CONF_FILE)
		return fail(&p, "file larger than %d bytes", LIM_CONF_FILE);
	if (buf == NULL && len > 0)
		return fail(&p, "no buffer");
	/* An editor's UTF-8 byte order mark is not part of the first key. */
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		off = 3;
	while (off < len) {
		start = buf + off;
		nl = memchr(start, '\n', len - off);
		n = nl != NULL ? (size_t)(nl - start) : len - off;
		off += n + (nl != NULL);
		p.line++;
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n > LIM_CONF_LINE)
			return fail(&p, "line longer than %d bytes",
			    LIM_CONF_LINE);
		if (memchr(start, '\0', n) != NULL)
			return fail(&p, "NUL byte in the line");
		memcpy(line, start, n);
		line[n] = '\0';
		if (do_line(&p, line) == -1)
			return -1;
	}
	return finish(&p);
}

/*
 * conf_defaults, then read path whole (at most LIM_CONF_FILE bytes: one
 * byte more tells "too large" from "exactly at the bound") and parse it.
 * Errors name the path: "path: cannot read: why".
 */
int
conf_load(struct config *c, const char *path, char *err, size_t errlen)
{
	struct parse	 p;
	FILE		*f = NULL;
	char		*buf = NULL;
	size_t		 len;
	int		 rc = -1;

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.fname = path != NULL ? path : "(null)";
	p.err = err;
	p.errlen = errlen;
	conf_defaults(c);
	if (path == NULL || path[0] == '\0') {
		fail(&p, "no configuration file named");
		goto out;
	}
	if (join_copy(c->file, sizeof(c->file), path) == -1) {
		fail(&p, "path longer than %d bytes", LIM_PATH - 1);
		goto out;
	}
	if ((f = fopen(path, "rb")) == NULL) {
		fail(&p, "cannot read: %s", strerror(errno));
		goto out;
	}
	if ((buf = malloc(LIM_CONF_FILE + 1)) == NULL) {
		fail(&p, "cannot read: %s", strerror(ENOMEM));
		goto out;
	}
	errno = 0;
	len = fread(buf, 1, LIM_CONF_FILE + 1, f);
	if (ferror(f)) {
		fail(&p, "cannot read: %s", strerror(errno != 0 ? errno : EIO));
		goto out;
	}
	if (len > LIM_CONF_FILE) {
		fail(&p, "file larger than %d bytes", LIM_CONF_FILE);
		goto out;
	}
	rc = conf_parse(c, buf, len, c->file, err, errlen);
out:
	if (f != NULL)
		fclose(f);
	free(buf);
	return rc;
}

bool
conf_template_known(const struct config *c, const char *id)
{
	return id != NULL && id_in(c->template_ids, c->n_template_ids, id);
}

bool
conf_template_longterm(const struct config *c, const char *id)
{
	return id != NULL && id_in(c->longterm_ids, c->n_longterm_ids, id);
}

size_t
conf_warnings(const struct config *c, char out[][LIM_ERRMSG], size_t max)
{
	struct stat sb;
	size_t n = 0;

	if (n < max && c->n_foreign > 0)
		snprintf(out[n++], LIM_ERRMSG, "%.80s:%zu: ignoring %zu key(s) "
		    "outside wxsub's namespaces (first: %.70s)", c->file,
		    c->foreign_line, c->n_foreign, c->foreign_first);
	if (n < max && stat(c->file, &sb) == 0 && (sb.st_mode & S_IROTH))
		snprintf(out[n++], LIM_ERRMSG, "%.150s is readable by everyone and "
		    "holds the AppSecret: chmod 0640 it", c->file);
	return n;
}

/* dst += a + b, or -1 (dst unchanged) when it would not fit. */
static int
append2(char *dst, size_t size, const char *a, const char *b)
{
	size_t n = strlen(dst), la = strlen(a), lb = strlen(b);

	if (n + la + lb >= size)
		return -1;
	memcpy(dst + n, a, la);
	memcpy(dst + n + la, b, lb + 1);
	return 0;
}

int
conf_scope(struct config *c, char *err, size_t errlen)
{
	struct parse p;

	memset(&p, 0, sizeof(p));
	p.fname = c->file;
	p.err = err;
	p.errlen = errlen;
	if (append2(c->token_key, sizeof(c->token_key), ":", c->appid) == -1 ||
	    append2(c->lock_key, sizeof(c->lock_key), ":", c->appid) == -1 ||
	    append2(c->sub_prefix, sizeof(c->sub_prefix), c->appid, ":") == -1 ||
	    append2(c->prefix, sizeof(c->prefix), c->appid, ":") == -1)
		return fail(&p, "the Redis keys with the appid added are longer "
		    "than %d bytes", LIM_ID - 1);
	return 0;
}

bool
conf_same_redis(const struct config *a, const struct config *b)
{
	size_t i;

	if (strcmp(a->redis_host, b->redis_host) != 0 ||
	    a->redis_port != b->redis_port ||
	    strcmp(a->redis_unix, b->redis_unix) != 0 ||
	    strcmp(a->redis_user, b->redis_user) != 0 ||
	    strcmp(a->redis_password, b->redis_password) != 0 ||
	    a->redis_db != b->redis_db || a->n_sentinels != b->n_sentinels ||
	    strcmp(a->master_name, b->master_name) != 0 ||
	    a->wait_replicas != b->wait_replicas || a->wait_ms != b->wait_ms)
		return false;
	for (i = 0; i < a->n_sentinels; i++)
		if (strcmp(a->sentinels[i].host, b->sentinels[i].host) != 0 ||
		    a->sentinels[i].port != b->sentinels[i].port)
			return false;
	return true;
}
