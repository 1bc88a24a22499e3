/*
 * fuzz_config.c: libFuzzer target for the configuration parser.
 *
 * The input is a whole configuration file, handed to conf_parse() in the
 * fuzzer's own exact-size buffer (so ASan sees any read past its end).
 * Besides crashes and sanitizer reports it checks what config.h and
 * config.c promise:
 *   - success leaves every required, ranged and derived field sane, and
 *     the template lists consistent with conf_template_known/longterm;
 *   - failure leaves "fname:line: why" (or "fname: why") in err, never a
 *     write past a small err buffer, and never the value of a secret key
 *     quoted back;
 *   - the same input parses to the same bytes twice (no hidden state).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "netmask.h"
#include "wxlimits.h"

#define FUZZ_MAX	65536	/* 64 KiB: well past LIM_CONF_LINE */
#define FNAME		"fuzz.conf"
#define ERRLEN		(2 * LIM_ERRMSG)

static struct config	 c1, c2;

/* A string field must be NUL-terminated inside its array. */
#define TERMINATED(f)	(memchr((f), '\0', sizeof(f)) != NULL)

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_config: invariant broken: %s\n", what);
		abort();
	}
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t	 n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool
id_ok(const char *s)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '-'))
			return false;
	return n > 0 && n < LIM_ID;
}

/* What a successful parse must leave. */
static void
check_config(const struct config *c)
{
	size_t	 i;

	check(TERMINATED(c->appid) && TERMINATED(c->secret) &&
	    TERMINATED(c->template_id) && TERMINATED(c->api_base) &&
	    TERMINATED(c->login_url) && TERMINATED(c->send_url) &&
	    TERMINATED(c->token_url) && TERMINATED(c->stable_token_url) &&
	    TERMINATED(c->mp_state) && TERMINATED(c->lang) &&
	    TERMINATED(c->redis_host) && TERMINATED(c->redis_unix) &&
	    TERMINATED(c->redis_user) && TERMINATED(c->redis_password) &&
	    TERMINATED(c->token_key) && TERMINATED(c->lock_key) &&
	    TERMINATED(c->sub_prefix) && TERMINATED(c->prefix) &&
	    TERMINATED(c->foreign_first), "string fields terminated");
	check(id_ok(c->appid), "appid is an id");
	check(c->secret[0] != '\0', "secret present");
	check(c->template_id[0] == '\0' || id_ok(c->template_id),
	    "templateId is an id");
	check(c->n_template_ids <= LIM_TEMPLATES &&
	    c->n_longterm_ids <= LIM_TEMPLATES &&
	    c->n_api_keys <= LIM_APIKEYS, "list counts in bounds");
	for (i = 0; i < c->n_template_ids; i++) {
		check(TERMINATED(c->template_ids[i]) &&
		    id_ok(c->template_ids[i]), "templateIds entry is an id");
		check(conf_template_known(c, c->template_ids[i]),
		    "listed template known");
	}
	for (i = 0; i < c->n_longterm_ids; i++) {
		check(TERMINATED(c->longterm_ids[i]) &&
		    id_ok(c->longterm_ids[i]), "long-term entry is an id");
		check(conf_template_known(c, c->longterm_ids[i]),
		    "long-term template accepted by /record");
		check(conf_template_longterm(c, c->longterm_ids[i]),
		    "long-term template is long-term");
	}
	if (c->template_id[0] != '\0')
		check(conf_template_known(c, c->template_id),
		    "default template accepted by /record");
	for (i = 0; i < c->n_api_keys; i++)
		check(TERMINATED(c->api_keys[i]) &&
		    strlen(c->api_keys[i]) >= 16, "api key of 16+ bytes");
	check(c->n_metrics_allow <= LIM_APIKEYS, "metricsAllow count in bounds");
	for (i = 0; i < c->n_metrics_allow; i++) {
		struct net	 net;
		char		 addr[sizeof(c->metrics_allow[i])], *slash;

		check(TERMINATED(c->metrics_allow[i]) &&
		    net_parse(c->metrics_allow[i], &net) == 0,
		    "metricsAllow entry parses");
		memcpy(addr, c->metrics_allow[i], sizeof(addr));
		if ((slash = strchr(addr, '/')) != NULL)
			*slash = '\0';
		check(net_contains(&net, addr), "a network holds its own address");
		(void)net_contains(&net, "127.0.0.1");
		(void)net_contains(&net, "::ffff:127.0.0.1");
		(void)net_contains(&net, "::1");
	}
	check(!conf_template_known(c, NULL) && !conf_template_longterm(c, NULL),
	    "NULL template unknown");
	check(!conf_template_known(c, ""), "empty template unknown");

	check(strncmp(c->api_base, "http://", 7) == 0 ||
	    strncmp(c->api_base, "https://", 8) == 0, "apiBase is http(s)");
	check(ends_with(c->send_url, "access_token="),
	    "sendUrl ends in access_token=");
	check(strncmp(c->token_url, c->api_base, strlen(c->api_base)) == 0 &&
	    ends_with(c->token_url, "/cgi-bin/token"), "token URL derived");
	check(ends_with(c->stable_token_url, "/cgi-bin/stable_token"),
	    "stable token URL derived");
	check(c->login_url[0] != '\0', "login URL set");
	check(c->timeout_ms >= 100 && c->timeout_ms <= 60000, "timeoutMs range");
	check(c->session_ttl >= 60 && c->session_ttl <= 31536000,
	    "session.ttl range");
	check(c->subscribe_ttl >= 0 && c->subscribe_ttl <= 31536000,
	    "subscribe.ttl range");
	check(c->max_body >= 1024 && c->max_body <= LIM_BODY_MAX,
	    "http.maxBody range");
	check(c->redis_db >= 0 && c->redis_db <= 15, "redis db range");
	check(c->redis_unix[0] != '\0' ||
	    (c->redis_port >= 1 && c->redis_port <= 65535), "redis port range");
	check(c->redis_host[0] != '\0' || c->redis_unix[0] != '\0',
	    "a redis address");
	check(c->token_key[0] != '\0' && c->lock_key[0] != '\0' &&
	    c->sub_prefix[0] != '\0' && c->prefix[0] != '\0', "redis keys set");
	check(c->log_level >= LOG_DEBUG && c->log_level <= LOG_ERROR,
	    "log level range");
	check(strcmp(c->mp_state, "formal") == 0 ||
	    strcmp(c->mp_state, "trial") == 0 ||
	    strcmp(c->mp_state, "developer") == 0, "miniprogramState word");
	check(c->token_api == TOKEN_API_STABLE ||
	    c->token_api == TOKEN_API_CLASSIC, "tokenApi word");
}

/*
 * A value is checked for being quoted only when it holds a byte that no
 * fixed text of config.c's messages has (a non-ASCII byte or one of
 * these): otherwise a value such as "auth.apiKeys:" would be "found" in
 * "auth.apiKeys: key 1 is empty" without being quoted.
 */
#define MARKERS		"!$%^&*+{}|~<>;\"\\`"
#define LEAK_MIN	8

static bool
has_marker(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80 || strchr(MARKERS, *s) != NULL)
			return true;
	return false;
}

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' ||
	    ch == '\v';
}

/* Abort when why holds val, a secret value or item. */
static void
leak_check(const char *key, const char *val, const char *why,
    const char *err)
{
	if (strlen(val) < LEAK_MIN || !has_marker(val))
		return;
	if (strstr(why, val) != NULL) {
		fprintf(stderr, "fuzz_config: the message quotes the value of "
		    "%s: %s\n", key, err);
		abort();
	}
}

/*
 * config.c never quotes the value of wechat.secret, auth.apiKeys,
 * redis.url or a Spring Redis password. When the parse failed on a line
 * that sets one of them, the message must not contain that value.
 */
static void
check_no_secret(const uint8_t *data, size_t size, const char *err)
{
	static const char *const secret_keys[] = {
		"wechat.secret", "auth.apiKeys", "redis.url",
		"spring.redis.password", "spring.data.redis.password", NULL
	};
	char		 line[LIM_CONF_LINE + 1], *s, *eq, *key, *val, *end;
	const char	*p = (const char *)data, *stop = p + size, *nl, *why;
	unsigned long	 want;
	size_t		 n, i, no;

	if (strncmp(err, FNAME ":", strlen(FNAME ":")) != 0)
		return;
	want = strtoul(err + strlen(FNAME ":"), &end, 10);
	if (want == 0 || strncmp(end, ": ", 2) != 0)
		return;
	why = end + 2;
	if (size >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	for (no = 1; p < stop; no++) {
		nl = memchr(p, '\n', (size_t)(stop - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(stop - p);
		if (no == want)
			break;
		p += n + (nl != NULL);
	}
	if (p >= stop || n > LIM_CONF_LINE || memchr(p, '\0', n) != NULL)
		return;
	memcpy(line, p, n);
	line[n] = '\0';
	if ((eq = strchr(line, '=')) == NULL)
		return;
	*eq = '\0';
	for (key = line; is_space(*key); key++)
		;
	for (s = eq; s > key && is_space(s[-1]); s--)
		s[-1] = '\0';
	for (val = eq + 1; is_space(*val); val++)
		;
	for (n = strlen(val); n > 0 && is_space(val[n - 1]); n--)
		val[n - 1] = '\0';
	for (i = 0; secret_keys[i] != NULL; i++)
		if (strcmp(key, secret_keys[i]) == 0)
			break;
	if (secret_keys[i] == NULL)
		return;
	leak_check(key, val, why, err);
	/* auth.apiKeys is a list: no item may be quoted either. */
	if (strcmp(key, "auth.apiKeys") == 0)
		for (s = strtok(val, ","); s != NULL; s = strtok(NULL, ",")) {
			while (is_space(*s))
				s++;
			for (n = strlen(s); n > 0 && is_space(s[n - 1]); n--)
				s[n - 1] = '\0';
			leak_check(key, s, why, err);
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const probe[] = {
		"xxxxxxxxx", "TPL_ONE_TIME_0001", "TEMPLATE_A", "a", "",
		"REPLACE_WITH_TEMPLATE_ID", "wx0000000000000000", NULL
	};
	char		 err[ERRLEN], *tiny;
	size_t		 tinylen, i;
	int		 rc, rc2;

	if (size > FUZZ_MAX)
		return 0;

	conf_defaults(&c1);
	memset(err, 'Z', sizeof(err));
	rc = conf_parse(&c1, (const char *)data, size, FNAME, err, sizeof(err));
	check(rc == 0 || rc == -1, "conf_parse returns 0 or -1");
	check(memchr(err, '\0', sizeof(err)) != NULL, "err terminated");
	if (rc == 0) {
		check(err[0] == '\0', "no message on success");
		check_config(&c1);
	} else {
		check(strncmp(err, FNAME ":", strlen(FNAME ":")) == 0,
		    "message names the file");
		check_no_secret(data, size, err);
	}
	/* Whatever the outcome, lookups must be safe on the result. */
	for (i = 0; probe[i] != NULL; i++) {
		(void)conf_template_known(&c1, probe[i]);
		(void)conf_template_longterm(&c1, probe[i]);
	}

	/* Same input, same bytes, with an exact-size small err buffer. */
	tinylen = size > 0 ? data[size - 1] % 24 : 0;
	tiny = malloc(tinylen > 0 ? tinylen : 1);
	if (tiny == NULL)
		return 0;
	conf_defaults(&c2);
	rc2 = conf_parse(&c2, (const char *)data, size, FNAME,
	    tinylen > 0 ? tiny : NULL, tinylen);
	check(rc2 == rc, "same answer with a small err buffer");
	check(tinylen == 0 || memchr(tiny, '\0', tinylen) != NULL,
	    "small err terminated");
	if (rc == 0)
		check(memcmp(&c1, &c2, sizeof(c1)) == 0, "deterministic result");
	free(tiny);
	return 0;
}
