/*
 * test_config.c: CUnit tests of config.c and redisaddr.c.
 *
 * conf_parse() does no I/O, so nearly everything here feeds it strings;
 * conf_load() gets a few temporary files. Each bad value is checked for
 * the "file:line:" prefix and the key it names, and the secrets planted
 * in bad lines must never come back in an error message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "unit.h"

/*
 * By path, not "config.h": under automake -I. comes first and names
 * autoconf's generated config.h, not ours.
 */
#include "config.h"
#include "redisaddr.h"
#include "validate.h"

#define FNAME	"t.conf"
/* 15 characters: also too short to be an api key. */
#define SECRET	"S3cr3tValue0987"
/* Lines 1 and 2 of most test files: the required keys. */
#define BASE	"wechat.appid = wx0123456789abcdef\n" \
		"wechat.secret = " SECRET "\n"

/* Large: static, off the stack. */
static struct config	 C;
static char		 E[512];

/* conf_defaults + conf_parse of a C string. */
static int
parse(const char *text)
{
	memset(&C, 0xA5, sizeof(C));
	conf_defaults(&C);
	memset(E, 'X', sizeof(E) - 1);
	E[sizeof(E) - 1] = '\0';
	return conf_parse(&C, text, strlen(text), FNAME, E, sizeof(E));
}

/* An assertion whose report shows what was being tested. */
static void
check(int ok, int line, const char *what, const char *text)
{
	char	 msg[1024];

	snprintf(msg, sizeof(msg), "%s [input: %.300s] [err: %.300s]", what,
	    text, E);
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, msg,
	    __FILE__, "", CU_FALSE);
}

#define CHECK(cond, text)	check((cond), __LINE__, #cond, (text))

/*
 * snprintf that fails the test on truncation: a test input cut short would
 * test something else. Checking the length also tells gcc 12's
 * -Wformat-truncation (an error under --enable-debug) that it is handled.
 */
static void __attribute__((format(printf, 4, 5)))
fmt(int line, char *buf, size_t size, const char *f, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, f);
	n = vsnprintf(buf, size, f, ap);
	va_end(ap);
	CU_assertImplementation(n >= 0 && (size_t)n < size ? CU_TRUE :
	    CU_FALSE, (unsigned)line, "test input fits its buffer", __FILE__,
	    "", CU_TRUE);
}

#define FMT(buf, ...)	fmt(__LINE__, (buf), sizeof(buf), __VA_ARGS__)

/* A string of n copies of ch, in a static buffer (one at a time). */
static const char *
repeat(char ch, size_t n)
{
	static char	 buf[8192];

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memset(buf, ch, n);
	buf[n] = '\0';
	return buf;
}

/* True when err starts with prefix. */
static int
starts(const char *err, const char *prefix)
{
	return strncmp(err, prefix, strlen(prefix)) == 0;
}

/* ---- defaults ---------------------------------------------------- */

static void
test_defaults(void)
{
	memset(&C, 0xA5, sizeof(C));
	conf_defaults(&C);
	CU_ASSERT_STRING_EQUAL(C.file, "");
	CU_ASSERT_STRING_EQUAL(C.appid, "");
	CU_ASSERT_STRING_EQUAL(C.secret, "");
	CU_ASSERT_STRING_EQUAL(C.template_id, "");
	CU_ASSERT_EQUAL(C.n_template_ids, 0);
	CU_ASSERT_EQUAL(C.n_longterm_ids, 0);
	CU_ASSERT_STRING_EQUAL(C.api_base, "https://api.weixin.qq.com");
	CU_ASSERT_STRING_EQUAL(C.login_url,
	    "https://api.weixin.qq.com/sns/jscode2session");
	CU_ASSERT_STRING_EQUAL(C.send_url, "https://api.weixin.qq.com"
	    "/cgi-bin/message/subscribe/send?access_token=");
	CU_ASSERT_STRING_EQUAL(C.token_url,
	    "https://api.weixin.qq.com/cgi-bin/token");
	CU_ASSERT_STRING_EQUAL(C.stable_token_url,
	    "https://api.weixin.qq.com/cgi-bin/stable_token");
	CU_ASSERT_EQUAL(C.token_api, TOKEN_API_STABLE);
	CU_ASSERT_STRING_EQUAL(C.mp_state, "formal");
	CU_ASSERT_STRING_EQUAL(C.lang, "zh_CN");
	CU_ASSERT_EQUAL(C.timeout_ms, 5000);
	CU_ASSERT_STRING_EQUAL(C.redis_host, "127.0.0.1");
	CU_ASSERT_EQUAL(C.redis_port, 6379);
	CU_ASSERT_STRING_EQUAL(C.redis_unix, "");
	CU_ASSERT_STRING_EQUAL(C.redis_user, "");
	CU_ASSERT_STRING_EQUAL(C.redis_password, "");
	CU_ASSERT_EQUAL(C.redis_db, 0);
	CU_ASSERT_STRING_EQUAL(C.token_key, "WECHAT:ACCESS_TOKEN");
	CU_ASSERT_STRING_EQUAL(C.lock_key, "WECHAT:APPEAL_TOKEN_LOCK");
	CU_ASSERT_STRING_EQUAL(C.sub_prefix, "SUBSCRIBE:");
	CU_ASSERT_STRING_EQUAL(C.prefix, "WXSUB:");
	CU_ASSERT_EQUAL(C.subscribe_ttl, 0);
	CU_ASSERT_EQUAL(C.session_ttl, 604800);
	CU_ASSERT_EQUAL(C.n_api_keys, 0);
	CU_ASSERT_EQUAL(C.max_body, 65536);
	CU_ASSERT_EQUAL(C.max_body, LIM_BODY_DEFAULT);
	CU_ASSERT_FALSE(C.trust_client_openid);
	CU_ASSERT_EQUAL(C.log_level, 1);	/* LOG_INFO */
	CU_ASSERT_EQUAL(C.n_foreign, 0);
	CU_ASSERT_STRING_EQUAL(C.foreign_first, "");
}

/* The minimum file: only the two required keys; the rest stays default. */
static void
test_minimal(void)
{
	CU_ASSERT_EQUAL_FATAL(parse(BASE), 0);
	CU_ASSERT_STRING_EQUAL(E, "");
	CU_ASSERT_STRING_EQUAL(C.appid, "wx0123456789abcdef");
	CU_ASSERT_STRING_EQUAL(C.secret, SECRET);
	CU_ASSERT_STRING_EQUAL(C.template_id, "");
	CU_ASSERT_EQUAL(C.n_template_ids, 0);
	CU_ASSERT_FALSE(conf_template_known(&C, ""));
	CU_ASSERT_STRING_EQUAL(C.send_url, "https://api.weixin.qq.com"
	    "/cgi-bin/message/subscribe/send?access_token=");
	CU_ASSERT_STRING_EQUAL(C.redis_host, "127.0.0.1");
	CU_ASSERT_EQUAL(C.redis_port, 6379);
	CU_ASSERT_EQUAL(C.session_ttl, 604800);
	CU_ASSERT_EQUAL(C.n_foreign, 0);
}

/* ---- a full valid file ------------------------------------------- */

static const char full[] =
	"# every key of wxsub.conf(5), and the two extra ones\n"
	"wechat.appid = wx0123456789abcdef\n"
	"wechat.secret = 0123456789abcdef0123456789abcdef\n"
	"wechat.templateId = TPL_default-1\n"
	"wechat.templateIds = TPL_a, TPL_b ,TPL_c\n"
	"wechat.longTermTemplateIds = LONG_1,LONG_2\n"
	"wechat.apiBase = http://127.0.0.1:8081/\n"
	"wechat.loginUrl = http://127.0.0.1:8081/custom/login\n"
	"wechat.sendUrl = http://127.0.0.1:8081/custom/send\n"
	"wechat.tokenApi = classic\n"
	"wechat.miniprogramState = developer\n"
	"wechat.lang = en_US\n"
	"wechat.timeoutMs = 1500\n"
	"redis.url = redis://app:p%40ss@redis.local:6380/2\n"
	"redis.tokenKey = T:TOKEN\n"
	"redis.lockKey = T:LOCK\n"
	"redis.subscribePrefix = T:SUB:\n"
	"redis.prefix = T:\n"
	"subscribe.ttl = 2592000\n"
	"session.ttl = 3600\n"
	"auth.apiKeys = key-AAAAAAAAAAAAAAAA, key-BBBBBBBBBBBBBBBB\n"
	"http.maxBody = 1024\n"
	"record.trustClientOpenId = true\n"
	"log.level = debug\n";

static void
test_full(void)
{
	CU_ASSERT_EQUAL_FATAL(parse(full), 0);
	CU_ASSERT_STRING_EQUAL(E, "");
	CU_ASSERT_STRING_EQUAL(C.appid, "wx0123456789abcdef");
	CU_ASSERT_STRING_EQUAL(C.secret, "0123456789abcdef0123456789abcdef");
	CU_ASSERT_STRING_EQUAL(C.template_id, "TPL_default-1");
	CU_ASSERT_EQUAL_FATAL(C.n_template_ids, 6);
	CU_ASSERT_STRING_EQUAL(C.template_ids[0], "TPL_a");
	CU_ASSERT_STRING_EQUAL(C.template_ids[1], "TPL_b");
	CU_ASSERT_STRING_EQUAL(C.template_ids[2], "TPL_c");
	CU_ASSERT_STRING_EQUAL(C.template_ids[3], "TPL_default-1");
	CU_ASSERT_STRING_EQUAL(C.template_ids[4], "LONG_1");
	CU_ASSERT_STRING_EQUAL(C.template_ids[5], "LONG_2");
	CU_ASSERT_EQUAL_FATAL(C.n_longterm_ids, 2);
	CU_ASSERT_STRING_EQUAL(C.longterm_ids[0], "LONG_1");
	CU_ASSERT_STRING_EQUAL(C.longterm_ids[1], "LONG_2");
	CU_ASSERT_STRING_EQUAL(C.api_base, "http://127.0.0.1:8081");
	CU_ASSERT_STRING_EQUAL(C.login_url,
	    "http://127.0.0.1:8081/custom/login");
	CU_ASSERT_STRING_EQUAL(C.send_url,
	    "http://127.0.0.1:8081/custom/send?access_token=");
	CU_ASSERT_STRING_EQUAL(C.token_url,
	    "http://127.0.0.1:8081/cgi-bin/token");
	CU_ASSERT_STRING_EQUAL(C.stable_token_url,
	    "http://127.0.0.1:8081/cgi-bin/stable_token");
	CU_ASSERT_EQUAL(C.token_api, TOKEN_API_CLASSIC);
	CU_ASSERT_STRING_EQUAL(C.mp_state, "developer");
	CU_ASSERT_STRING_EQUAL(C.lang, "en_US");
	CU_ASSERT_EQUAL(C.timeout_ms, 1500);
	CU_ASSERT_STRING_EQUAL(C.redis_host, "redis.local");
	CU_ASSERT_EQUAL(C.redis_port, 6380);
	CU_ASSERT_STRING_EQUAL(C.redis_unix, "");
	CU_ASSERT_STRING_EQUAL(C.redis_user, "app");
	CU_ASSERT_STRING_EQUAL(C.redis_password, "p@ss");
	CU_ASSERT_EQUAL(C.redis_db, 2);
	CU_ASSERT_STRING_EQUAL(C.token_key, "T:TOKEN");
	CU_ASSERT_STRING_EQUAL(C.lock_key, "T:LOCK");
	CU_ASSERT_STRING_EQUAL(C.sub_prefix, "T:SUB:");
	CU_ASSERT_STRING_EQUAL(C.prefix, "T:");
	CU_ASSERT_EQUAL(C.subscribe_ttl, 2592000);
	CU_ASSERT_EQUAL(C.session_ttl, 3600);
	CU_ASSERT_EQUAL_FATAL(C.n_api_keys, 2);
	CU_ASSERT_STRING_EQUAL(C.api_keys[0], "key-AAAAAAAAAAAAAAAA");
	CU_ASSERT_STRING_EQUAL(C.api_keys[1], "key-BBBBBBBBBBBBBBBB");
	CU_ASSERT_EQUAL(C.max_body, 1024);
	CU_ASSERT_TRUE(C.trust_client_openid);
	CU_ASSERT_EQUAL(C.log_level, 0);	/* LOG_DEBUG */
	CU_ASSERT_EQUAL(C.n_foreign, 0);
	CU_ASSERT_TRUE(conf_template_known(&C, "TPL_b"));
	CU_ASSERT_TRUE(conf_template_known(&C, "TPL_default-1"));
	CU_ASSERT_TRUE(conf_template_known(&C, "LONG_2"));
	CU_ASSERT_FALSE(conf_template_known(&C, "TPL_"));
	CU_ASSERT_FALSE(conf_template_known(&C, "tpl_b"));
	CU_ASSERT_FALSE(conf_template_known(&C, NULL));
	CU_ASSERT_TRUE(conf_template_longterm(&C, "LONG_1"));
	CU_ASSERT_FALSE(conf_template_longterm(&C, "TPL_a"));
	CU_ASSERT_FALSE(conf_template_longterm(&C, NULL));
}

/* The same file with CRLF line ends parses to the same values. */
static void
test_crlf(void)
{
	char		 buf[sizeof(full) * 2];
	size_t		 i, n = 0;

	for (i = 0; full[i] != '\0'; i++) {
		if (full[i] == '\n')
			buf[n++] = '\r';
		buf[n++] = full[i];
	}
	buf[n] = '\0';
	CU_ASSERT_EQUAL_FATAL(parse(buf), 0);
	CU_ASSERT_STRING_EQUAL(C.appid, "wx0123456789abcdef");
	CU_ASSERT_STRING_EQUAL(C.secret, "0123456789abcdef0123456789abcdef");
	CU_ASSERT_STRING_EQUAL(C.send_url,
	    "http://127.0.0.1:8081/custom/send?access_token=");
	CU_ASSERT_STRING_EQUAL(C.api_keys[1], "key-BBBBBBBBBBBBBBBB");
	CU_ASSERT_EQUAL(C.log_level, 0);
	CU_ASSERT_STRING_EQUAL(C.template_ids[5], "LONG_2");

	/* A last line without a newline, and a lone CRLF-ended one. */
	CU_ASSERT_EQUAL(parse("wechat.appid=wxA\r\nwechat.secret=abc"), 0);
	CU_ASSERT_STRING_EQUAL(C.appid, "wxA");
	CU_ASSERT_STRING_EQUAL(C.secret, "abc");

	/* Errors still count CRLF lines. */
	CU_ASSERT_EQUAL(parse("wechat.appid=wxA\r\n\r\nlog.level=loud\r\n"
	    "wechat.secret=abc\r\n"), -1);
	CU_ASSERT_TRUE(starts(E, FNAME ":3: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(E, "log.level"));
}

/* ---- the seed's application.properties ---------------------------- */

/* Section 4.1 of the seed, byte for byte, then Spring lines of its own. */
static const char seed[] =
	"#小程序appid\n"
	"wechat.appid=xxxxx\n"
	"#小程序密钥\n"
	"wechat.secret=xxxxxx\n"
	"#订阅消息的模板id\n"
	"wechat.templateId=xxxxxxxxx\n"
	"#登录wx登录验证\n"
	"wechat.loginUrl=https://api.weixin.qq.com/sns/jscode2session\n"
	"#wx订阅消息发送\n"
	"wechat.sendUrl=https://api.weixin.qq.com/cgi-bin/message/subscribe/"
	"send?access_token=\n"
	"\n"
	"server.port=8080\n"
	"spring.redis.host=10.1.2.3\n"
	"spring.redis.port=6380\n"
	"spring.redis.password=redis-pw\n"
	"spring.redis.database=4\n";

static void
test_seed(void)
{
	CU_ASSERT_EQUAL_FATAL(parse(seed), 0);
	CU_ASSERT_STRING_EQUAL(C.appid, "xxxxx");
	CU_ASSERT_STRING_EQUAL(C.secret, "xxxxxx");
	CU_ASSERT_STRING_EQUAL(C.template_id, "xxxxxxxxx");
	CU_ASSERT_EQUAL_FATAL(C.n_template_ids, 1);
	CU_ASSERT_STRING_EQUAL(C.template_ids[0], "xxxxxxxxx");
	CU_ASSERT_TRUE(conf_template_known(&C, "xxxxxxxxx"));
	CU_ASSERT_FALSE(conf_template_longterm(&C, "xxxxxxxxx"));
	CU_ASSERT_STRING_EQUAL(C.login_url,
	    "https://api.weixin.qq.com/sns/jscode2session");
	CU_ASSERT_STRING_EQUAL(C.send_url, "https://api.weixin.qq.com"
	    "/cgi-bin/message/subscribe/send?access_token=");
	CU_ASSERT_STRING_EQUAL(C.token_url,
	    "https://api.weixin.qq.com/cgi-bin/token");
	CU_ASSERT_EQUAL(C.n_foreign, 5);
	CU_ASSERT_STRING_EQUAL(C.foreign_first, "server.port");
	CU_ASSERT_STRING_EQUAL(C.redis_host, "10.1.2.3");
	CU_ASSERT_EQUAL(C.redis_port, 6380);
	CU_ASSERT_STRING_EQUAL(C.redis_password, "redis-pw");
	CU_ASSERT_EQUAL(C.redis_db, 4);
	CU_ASSERT_STRING_EQUAL(C.redis_unix, "");
	/* The seed's key layout stays the default. */
	CU_ASSERT_STRING_EQUAL(C.token_key, "WECHAT:ACCESS_TOKEN");
	CU_ASSERT_STRING_EQUAL(C.sub_prefix, "SUBSCRIBE:");

	/* The seed part alone: no foreign key, Redis stays default. */
	CU_ASSERT_EQUAL_FATAL(parse("#小程序appid\nwechat.appid=xxxxx\n"
	    "#小程序密钥\nwechat.secret=xxxxxx\n"), 0);
	CU_ASSERT_EQUAL(C.n_foreign, 0);
	CU_ASSERT_STRING_EQUAL(C.redis_host, "127.0.0.1");
}

/* Other namespaces are counted, not checked; lines without '=' too. */
static void
test_foreign(void)
{
	char	 buf[1024];

	CU_ASSERT_EQUAL_FATAL(parse(BASE
	    "logging.level.root=INFO\n"
	    "server.port = 8080\n"
	    "spring.application.name: demo\n"
	    "management endpoints\n"
	    "spring.redis.timeout=anything at all\n"
	    "spring.redis.lettuce.pool.max-active=8\n"), 0);
	CU_ASSERT_EQUAL(C.n_foreign, 6);
	CU_ASSERT_STRING_EQUAL(C.foreign_first, "logging.level.root");
	CU_ASSERT_STRING_EQUAL(C.redis_host, "127.0.0.1");

	/* A very long foreign key is kept cut, for the warning only. */
	FMT(buf, BASE "x.%s = 1\n", repeat('k', 300));
	CU_ASSERT_EQUAL_FATAL(parse(buf), 0);
	CU_ASSERT_EQUAL(C.n_foreign, 1);
	CU_ASSERT_EQUAL(C.foreign_line, 3);
	CU_ASSERT_EQUAL(strlen(C.foreign_first), 64 + 3);
	CU_ASSERT_EQUAL(strncmp(C.foreign_first, "x.kkk", 5), 0);

	/* Another separator than '=': the key only, never the value. */
	CU_ASSERT_EQUAL_FATAL(parse(BASE "spring.redis.password\xef\xbc\x9d"
	    "hunter2hunter2\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.foreign_first, "spring.redis.password...");
}

/* spring.redis.* and spring.data.redis.* against redis.url. */
static void
test_spring_redis(void)
{
	CU_ASSERT_EQUAL_FATAL(parse(BASE
	    "spring.data.redis.host=cache.internal\n"
	    "spring.data.redis.port=7000\n"
	    "spring.data.redis.username=svc\n"
	    "spring.data.redis.password=pw2\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.redis_host, "cache.internal");
	CU_ASSERT_EQUAL(C.redis_port, 7000);
	CU_ASSERT_STRING_EQUAL(C.redis_user, "svc");
	CU_ASSERT_STRING_EQUAL(C.redis_password, "pw2");
	CU_ASSERT_EQUAL(C.redis_db, 0);
	CU_ASSERT_EQUAL(C.n_foreign, 4);

	/* Only the host: port, db and password keep their defaults. */
	CU_ASSERT_EQUAL_FATAL(parse(BASE "spring.redis.host=::1\n"
	    "spring.redis.password=\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.redis_host, "::1");
	CU_ASSERT_EQUAL(C.redis_port, 6379);
	CU_ASSERT_STRING_EQUAL(C.redis_password, "");

	/* redis.url wins, before or after the Spring lines. */
	CU_ASSERT_EQUAL_FATAL(parse(BASE "redis.url=redis://r1:6390/1\n"
	    "spring.redis.host=10.0.0.9\nspring.redis.port=7777\n"
	    "spring.redis.password=nope\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.redis_host, "r1");
	CU_ASSERT_EQUAL(C.redis_port, 6390);
	CU_ASSERT_EQUAL(C.redis_db, 1);
	CU_ASSERT_STRING_EQUAL(C.redis_password, "");
	CU_ASSERT_EQUAL(C.n_foreign, 3);
	CU_ASSERT_EQUAL_FATAL(parse(BASE
	    "spring.redis.host=10.0.0.9\nspring.redis.port=7777\n"
	    "redis.url=unix:///run/redis.sock\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.redis_host, "");
	CU_ASSERT_STRING_EQUAL(C.redis_unix, "/run/redis.sock");

	/* A bad Spring port is an error naming its line, url or not. */
	CU_ASSERT_EQUAL(parse(BASE "spring.redis.host=h\n"
	    "spring.redis.port=6379x\n"), -1);
	CU_ASSERT_TRUE(starts(E, FNAME ":4: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(E, "spring.redis.port"));
	CU_ASSERT_EQUAL(parse(BASE "redis.url=redis://h\n"
	    "spring.data.redis.port=0\n"), -1);
	CU_ASSERT_TRUE(starts(E, FNAME ":4: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(E, "spring.data.redis.port"));
}

/* ---- bad values ---------------------------------------------------- */

struct bad {
	const char	*line;	/* line 3, after BASE */
	const char	*key;	/* the message must name it */
};

static const struct bad bads[] = {
	{ "wechat.appid =", "wechat.appid" },
	{ "wechat.appid = wx.1", "wechat.appid" },
	{ "wechat.appid = wx 1", "wechat.appid" },
	{ "wechat.appid = wx1 # not a comment", "wechat.appid" },
	{ "wechat.appid wx1", "wechat.appid" },
	{ "wechat.appid: wx1", "wechat.appid" },
	{ "wechat.secret =", "wechat.secret" },
	{ "wechat.secret = two words", "wechat.secret" },
	{ "wechat.secret = caf\xc3\xa9", "wechat.secret" },
	{ "wechat.templateId = tpl.1", "wechat.templateId" },
	{ "wechat.templateId = tpl/1", "wechat.templateId" },
	{ "wechat.templateIds = a,,b", "wechat.templateIds" },
	{ "wechat.templateIds = a,", "wechat.templateIds" },
	{ "wechat.templateIds = ,", "wechat.templateIds" },
	{ "wechat.templateIds = a b", "wechat.templateIds" },
	{ "wechat.templateIds = a;b", "wechat.templateIds" },
	{ "wechat.longTermTemplateIds = x!y", "wechat.longTermTemplateIds" },
	{ "wechat.longTermTemplateIds = ,a", "wechat.longTermTemplateIds" },
	{ "wechat.apiBase = ftp://api.weixin.qq.com", "wechat.apiBase" },
	{ "wechat.apiBase = http://", "wechat.apiBase" },
	{ "wechat.apiBase = https:///x", "wechat.apiBase" },
	{ "wechat.apiBase = api.weixin.qq.com", "wechat.apiBase" },
	{ "wechat.apiBase = https://x/?a=1", "wechat.apiBase" },
	{ "wechat.apiBase = https://x/#f", "wechat.apiBase" },
	{ "wechat.apiBase = https://x y", "wechat.apiBase" },
	{ "wechat.apiBase =", "wechat.apiBase" },
	{ "wechat.loginUrl = /sns/jscode2session", "wechat.loginUrl" },
	{ "wechat.loginUrl =", "wechat.loginUrl" },
	{ "wechat.loginUrl = HTTPS://x/y", "wechat.loginUrl" },
	{ "wechat.sendUrl = https://", "wechat.sendUrl" },
	{ "wechat.sendUrl = javascript:alert(1)", "wechat.sendUrl" },
	{ "wechat.tokenApi = STABLE", "wechat.tokenApi" },
	{ "wechat.tokenApi = fast", "wechat.tokenApi" },
	{ "wechat.tokenApi =", "wechat.tokenApi" },
	{ "wechat.miniprogramState = dev", "wechat.miniprogramState" },
	{ "wechat.lang = zh-CN", "wechat.lang" },
	{ "wechat.lang = zh_cn", "wechat.lang" },
	{ "wechat.timeoutMs = 99", "wechat.timeoutMs" },
	{ "wechat.timeoutMs = 60001", "wechat.timeoutMs" },
	{ "wechat.timeoutMs = abc", "wechat.timeoutMs" },
	{ "wechat.timeoutMs = +500", "wechat.timeoutMs" },
	{ "wechat.timeoutMs = -500", "wechat.timeoutMs" },
	{ "wechat.timeoutMs = 5e3", "wechat.timeoutMs" },
	{ "wechat.timeoutMs = 500ms", "wechat.timeoutMs" },
	{ "wechat.timeoutMs = 1 000", "wechat.timeoutMs" },
	{ "wechat.timeoutMs = 0x200", "wechat.timeoutMs" },
	{ "wechat.timeoutMs = 99999999999999999999999", "wechat.timeoutMs" },
	{ "wechat.timeoutMs =", "wechat.timeoutMs" },
	{ "redis.tokenKey =", "redis.tokenKey" },
	{ "redis.tokenKey = A B", "redis.tokenKey" },
	{ "redis.tokenKey = A\tB", "redis.tokenKey" },
	{ "redis.tokenKey = A\x7f", "redis.tokenKey" },
	{ "redis.lockKey = x y", "redis.lockKey" },
	{ "redis.subscribePrefix =", "redis.subscribePrefix" },
	{ "redis.prefix = A\x01", "redis.prefix" },
	{ "redis.prefix =", "redis.prefix" },
	{ "subscribe.ttl = -1", "subscribe.ttl" },
	{ "subscribe.ttl = 31536001", "subscribe.ttl" },
	{ "subscribe.ttl = 30d", "subscribe.ttl" },
	{ "session.ttl = 59", "session.ttl" },
	{ "session.ttl = 0", "session.ttl" },
	{ "session.ttl = 31536001", "session.ttl" },
	{ "auth.apiKeys = 0123456789abcde", "auth.apiKeys" },
	{ "auth.apiKeys = 0123456789abcdef,", "auth.apiKeys" },
	{ "auth.apiKeys = 0123456789abcdef,,0123456789abcdeg",
	  "auth.apiKeys" },
	{ "auth.apiKeys = 0123456789 abcdef", "auth.apiKeys" },
	{ "auth.apiKeys = 0123456789abcdef\x01", "auth.apiKeys" },
	{ "http.maxBody = 1023", "http.maxBody" },
	{ "http.maxBody = 4194305", "http.maxBody" },
	{ "http.maxBody = 64k", "http.maxBody" },
	{ "record.trustClientOpenId = yes", "record.trustClientOpenId" },
	{ "record.trustClientOpenId = 1", "record.trustClientOpenId" },
	{ "record.trustClientOpenId =", "record.trustClientOpenId" },
	{ "log.level = verbose", "log.level" },
	{ "log.level = INFO", "log.level" },
	{ "spring.redis.port = 0", "spring.redis.port" },
	{ "spring.redis.port = 65536", "spring.redis.port" },
	{ "spring.redis.port = abc", "spring.redis.port" },
	{ "spring.redis.database = 16", "spring.redis.database" },
	{ "spring.redis.host = a b", "spring.redis.host" },
	{ "spring.data.redis.port = -1", "spring.data.redis.port" },
	{ "wechat.nope = 1", "wechat.nope" },
	{ "record.other = 1", "record.other" },
	{ "Wechat.appid = wx1", "Wechat.appid" },
	{ "redis.url", "redis.url" },
	{ "= value", "key" },
	{ ": value", "key" },
};

/* Every bad value: -1, "t.conf:3: ", the key named. */
static void
test_bad_values(void)
{
	char	 buf[512];
	size_t	 i;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		FMT(buf, BASE "%s\nlog.level = warn\n",
		    bads[i].line);
		CHECK(parse(buf) == -1, bads[i].line);
		CHECK(starts(E, FNAME ":3: "), bads[i].line);
		CHECK(strstr(E, bads[i].key) != NULL, bads[i].line);
		CHECK(strstr(E, SECRET) == NULL, bads[i].line);
	}
}

/* Too long for its field: an error, never a cut value. */
static void
test_too_long(void)
{
	static const char *const keys[] = {
		"wechat.appid", "wechat.templateId", "wechat.templateIds",
		"wechat.longTermTemplateIds", "redis.tokenKey",
		"redis.lockKey", "redis.subscribePrefix", "redis.prefix",
	};
	char	 buf[4096];
	size_t	 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		/* LIM_ID - 1 fits exactly, LIM_ID does not. */
		FMT(buf, BASE "%s = %s\n", keys[i],
		    repeat('a', LIM_ID - 1));
		CHECK(parse(buf) == 0, keys[i]);
		FMT(buf, BASE "%s = %s\n", keys[i],
		    repeat('a', LIM_ID));
		CHECK(parse(buf) == -1, keys[i]);
		CHECK(starts(E, FNAME ":3: "), keys[i]);
		CHECK(strstr(E, keys[i]) != NULL, keys[i]);
	}
	FMT(buf, BASE "wechat.appid = %s\n",
	    repeat('w', LIM_ID - 1));
	CU_ASSERT_EQUAL_FATAL(parse(buf), 0);
	CU_ASSERT_EQUAL(strlen(C.appid), LIM_ID - 1);

	/* The secret: LIM_SECRET - 1 fits, LIM_SECRET does not. */
	FMT(buf, "wechat.appid=wx1\nwechat.secret=%s\n",
	    repeat('s', LIM_SECRET - 1));
	CU_ASSERT_EQUAL(parse(buf), 0);
	CU_ASSERT_EQUAL(strlen(C.secret), LIM_SECRET - 1);
	FMT(buf, "wechat.appid=wx1\nwechat.secret=%s\n",
	    repeat('s', LIM_SECRET));
	CU_ASSERT_EQUAL(parse(buf), -1);
	CU_ASSERT_TRUE(starts(E, FNAME ":2: "));
	CU_ASSERT_PTR_NULL(strstr(E, "sssssssss"));

	/* An api key, likewise. */
	FMT(buf, BASE "auth.apiKeys = %s\n",
	    repeat('k', LIM_SECRET - 1));
	CU_ASSERT_EQUAL(parse(buf), 0);
	CU_ASSERT_EQUAL(C.n_api_keys, 1);
	FMT(buf, BASE "auth.apiKeys = %s\n",
	    repeat('k', LIM_SECRET));
	CU_ASSERT_EQUAL(parse(buf), -1);
	CU_ASSERT_TRUE(starts(E, FNAME ":3: "));

	/* URLs: LIM_URL - 1 fits, unless something must be appended. */
	FMT(buf, BASE "wechat.loginUrl = https://%s\n",
	    repeat('u', LIM_URL - 1 - 8));
	CU_ASSERT_EQUAL(parse(buf), 0);
	CU_ASSERT_EQUAL(strlen(C.login_url), LIM_URL - 1);
	FMT(buf, BASE "wechat.loginUrl = https://%s\n",
	    repeat('u', LIM_URL - 8));
	CU_ASSERT_EQUAL(parse(buf), -1);
	CU_ASSERT_TRUE(starts(E, FNAME ":3: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(E, "wechat.loginUrl"));
	FMT(buf, BASE "wechat.sendUrl = https://%s\n",
	    repeat('u', LIM_URL - 1 - 8));
	CU_ASSERT_EQUAL(parse(buf), -1);
	CU_ASSERT_TRUE(starts(E, FNAME ":3: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(E, "wechat.sendUrl"));
	/* apiBase must leave room for the longest derived path. */
	FMT(buf, BASE "wechat.apiBase = https://%s\n",
	    repeat('b', 450));
	CU_ASSERT_EQUAL(parse(buf), 0);
	CU_ASSERT_EQUAL(strlen(C.send_url), 8 + 450 +
	    strlen("/cgi-bin/message/subscribe/send?access_token="));
	FMT(buf, BASE "wechat.apiBase = https://%s\n",
	    repeat('b', 470));
	CU_ASSERT_EQUAL(parse(buf), -1);
	CU_ASSERT_TRUE(starts(E, FNAME ":3: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(E, "wechat.apiBase"));
}

/* Good values at the edges of every range. */
static void
test_ranges(void)
{
	CU_ASSERT_EQUAL_FATAL(parse(BASE "wechat.timeoutMs=100\n"
	    "subscribe.ttl=0\nsession.ttl=60\nhttp.maxBody=4194304\n"), 0);
	CU_ASSERT_EQUAL(C.timeout_ms, 100);
	CU_ASSERT_EQUAL(C.subscribe_ttl, 0);
	CU_ASSERT_EQUAL(C.session_ttl, 60);
	CU_ASSERT_EQUAL(C.max_body, LIM_BODY_MAX);
	CU_ASSERT_EQUAL_FATAL(parse(BASE "wechat.timeoutMs=60000\n"
	    "subscribe.ttl=31536000\nsession.ttl=31536000\n"
	    "http.maxBody=1024\n"), 0);
	CU_ASSERT_EQUAL(C.timeout_ms, 60000);
	CU_ASSERT_EQUAL(C.subscribe_ttl, 31536000);
	CU_ASSERT_EQUAL(C.session_ttl, 31536000);
	CU_ASSERT_EQUAL(C.max_body, 1024);
	CU_ASSERT_EQUAL_FATAL(parse(BASE "wechat.timeoutMs=0100\n"), 0);
	CU_ASSERT_EQUAL(C.timeout_ms, 100);
}

/* Every word of every enumeration. */
static void
test_words(void)
{
	static const char *const levels[] = { "debug", "info", "warn",
	    "error" };
	static const char *const states[] = { "formal", "trial",
	    "developer" };
	static const char *const langs[] = { "zh_CN", "en_US", "zh_HK",
	    "zh_TW" };
	char	 buf[256];
	int	 i;

	for (i = 0; i < 4; i++) {
		FMT(buf, BASE "log.level=%s\n", levels[i]);
		CHECK(parse(buf) == 0 && C.log_level == i, buf);
		FMT(buf, BASE "wechat.lang=%s\n", langs[i]);
		CHECK(parse(buf) == 0 && strcmp(C.lang, langs[i]) == 0, buf);
	}
	for (i = 0; i < 3; i++) {
		FMT(buf, BASE "wechat.miniprogramState=%s\n",
		    states[i]);
		CHECK(parse(buf) == 0 && strcmp(C.mp_state, states[i]) == 0,
		    buf);
	}
	CU_ASSERT_EQUAL(parse(BASE "wechat.tokenApi=classic\n"
	    "wechat.tokenApi=stable\n"), 0);
	CU_ASSERT_EQUAL(C.token_api, TOKEN_API_STABLE);
	CU_ASSERT_EQUAL(parse(BASE "wechat.tokenApi=classic\n"), 0);
	CU_ASSERT_EQUAL(C.token_api, TOKEN_API_CLASSIC);
	CU_ASSERT_EQUAL(parse(BASE "record.trustClientOpenId=true\n"
	    "record.trustClientOpenId=false\n"), 0);
	CU_ASSERT_FALSE(C.trust_client_openid);
	CU_ASSERT_EQUAL(parse(BASE "record.trustClientOpenId=true\n"), 0);
	CU_ASSERT_TRUE(C.trust_client_openid);
}

/* ---- syntax ---------------------------------------------------------- */

static void
test_syntax(void)
{
	CU_ASSERT_EQUAL_FATAL(parse(
	    "\xEF\xBB\xBF# a BOM, then comments of both kinds\n"
	    "   # indented comment\n"
	    "! bang comment = with an equals sign\n"
	    "\t!another\n"
	    "\n"
	    "   \t  \n"
	    "wechat.appid=wxTight\n"
	    "  wechat.secret\t=\t  spaced  \t\n"
	    "wechat.templateId = \n"
	    "wechat.sendUrl = https://x/send?a=b=c\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.appid, "wxTight");
	CU_ASSERT_STRING_EQUAL(C.secret, "spaced");
	CU_ASSERT_STRING_EQUAL(C.template_id, "");
	CU_ASSERT_EQUAL(C.n_template_ids, 0);
	/* Only the first '=' separates. */
	CU_ASSERT_STRING_EQUAL(C.send_url,
	    "https://x/send?a=b=c&access_token=");
	CU_ASSERT_EQUAL(C.n_foreign, 0);

	/* A key given twice: the last one wins. */
	CU_ASSERT_EQUAL_FATAL(parse(BASE "wechat.appid = wxSecond\n"
	    "wechat.templateIds = A,B\nwechat.templateIds = C\n"
	    "auth.apiKeys = aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb\n"
	    "auth.apiKeys = cccccccccccccccc\n"
	    "redis.url = redis://:pw@one:1000/3\n"
	    "redis.url = redis://two\n"
	    "wechat.loginUrl = https://a/login\n"
	    "wechat.loginUrl = https://b/login\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.appid, "wxSecond");
	CU_ASSERT_EQUAL(C.n_template_ids, 1);
	CU_ASSERT_STRING_EQUAL(C.template_ids[0], "C");
	CU_ASSERT_EQUAL(C.n_api_keys, 1);
	CU_ASSERT_STRING_EQUAL(C.api_keys[0], "cccccccccccccccc");
	CU_ASSERT_STRING_EQUAL(C.redis_host, "two");
	CU_ASSERT_EQUAL(C.redis_port, 6379);
	CU_ASSERT_EQUAL(C.redis_db, 0);
	CU_ASSERT_STRING_EQUAL(C.redis_password, "");
	CU_ASSERT_STRING_EQUAL(C.login_url, "https://b/login");

	/* The line number counts comments and blank lines. */
	CU_ASSERT_EQUAL(parse("# 1\n\nwechat.appid=wx1\n  # 4\n"
	    "wechat.lang = fr_FR\n"), -1);
	CU_ASSERT_STRING_EQUAL(E, FNAME ":5: wechat.lang: must be "
	    "zh_CN, en_US, zh_HK or zh_TW");

	/* A NULL fname still gives a prefix; a tiny err buffer is safe. */
	CU_ASSERT_EQUAL(conf_parse(&C, "x", 1, NULL, E, sizeof(E)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(E, ": missing required key"));
	E[0] = 'Q';
	E[1] = 'Q';
	CU_ASSERT_EQUAL(conf_parse(&C, "log.level=x", 11, FNAME, E, 1), -1);
	CU_ASSERT_EQUAL(E[0], '\0');
	CU_ASSERT_EQUAL(E[1], 'Q');
	CU_ASSERT_EQUAL(conf_parse(&C, "log.level=x", 11, FNAME, NULL, 0),
	    -1);
}

static void
test_unknown_keys(void)
{
	CU_ASSERT_EQUAL(parse(BASE "wechat.appId = wx1\n"), -1);
	CU_ASSERT_STRING_EQUAL(E, FNAME ":3: unknown key wechat.appId "
	    "(did you mean wechat.appid?)");
	CU_ASSERT_EQUAL(parse(BASE "WECHAT.TEMPLATEIDS = a\n"), -1);
	CU_ASSERT_STRING_EQUAL(E, FNAME ":3: unknown key "
	    "WECHAT.TEMPLATEIDS (did you mean wechat.templateIds?)");
	CU_ASSERT_EQUAL(parse(BASE "wechat.tempalteId = a\n"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(E, "did you mean wechat.templateId?"));
	CU_ASSERT_EQUAL(parse(BASE "http.maxbody = 2048\n"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(E, "did you mean http.maxBody?"));
	CU_ASSERT_EQUAL(parse(BASE "session.tll = 60\n"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(E, "did you mean session.ttl?"));
	/* Nothing close: no suggestion. */
	CU_ASSERT_EQUAL(parse(BASE "redis.host = localhost\n"), -1);
	CU_ASSERT_STRING_EQUAL(E, FNAME ":3: unknown key redis.host");
	CU_ASSERT_EQUAL(parse(BASE "auth.%s = 1\n"), -1);
	CU_ASSERT_STRING_EQUAL(E, FNAME ":3: unknown key auth....");
	/* A namespace key without '=' names the key only. */
	CU_ASSERT_EQUAL(parse(BASE "wechat.templateId: tpl1\n"), -1);
	CU_ASSERT_STRING_EQUAL(E, FNAME ":3: wechat.templateId is not "
	    "followed by an ASCII '=' (write key = value)");
}

/*
 * Issue 11: a line whose separator is not an ASCII '=' puts its value
 * where the key should be. No message may quote any part of a value.
 */
#define NOEQ	"is not followed by an ASCII '=' (write key = value)"
static void
test_no_value_in_messages(void)
{
	static const struct {
		const char	*line;
		const char	*want;	/* the message after "file:3: " */
	} rows[] = {
		{ "wechat.secret\xef\xbc\x9dS3cr3tValue0123\n",	/* full-width = */
		  "wechat.secret... " NOEQ },
		{ "wechat.secret\xef\xbc\x9aS3cr3tValue0123\n",	/* full-width : */
		  "wechat.secret... " NOEQ },
		{ "wechat.secret-S3cr3tValue0123\n",
		  "wechat.secret... " NOEQ },
		{ "wechat.secret\tS3cr3tValue0123\n",
		  "wechat.secret " NOEQ },
		{ "wechat.secretS3cr3tValue0123\n",
		  "wechat.secret... " NOEQ },
		/* a value with '=' in it (base64): the key side holds it */
		{ "wechat.secret\xef\xbc\x9aS3cr3tValue0123==\n",
		  "wechat.secret... " NOEQ },
		{ "wechat.secret: S3cr3tValue0123=\n",
		  "wechat.secret... " NOEQ },
		{ "wechat.apiBase = http://user:S3cr3tValue0123@proxy:3128/x y\n",
		  "wechat.apiBase: not an http:// or https:// URL (printable "
		  "ASCII, at most 511 bytes)" },
		{ "wechat.apiBase = https://u:S3cr3tValue0123@h/?q=1\n",
		  "wechat.apiBase: must not have a query or fragment" },
		{ "spring.redis.port = S3cr3tValue0123\n",
		  "spring.redis.port: not a port (1..65535)" },
		{ "wechat.appid = S3cr3tValue0123!\n",
		  "wechat.appid: must be 1..127 of A-Z a-z 0-9 _ -" },
		{ "session.ttl = S3cr3tValue0123\n",
		  "session.ttl: not a whole number in 60..31536000" },
	};
	char buf[1024], want[512];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		FMT(buf, BASE "%s", rows[i].line);
		CU_ASSERT_EQUAL(parse(buf), -1);
		CU_ASSERT_PTR_NULL(strstr(E, "S3cr3tValue"));
		FMT(want, FNAME ":3: %s", rows[i].want);
		CU_ASSERT_STRING_EQUAL(E, want);
		if (strcmp(E, want) != 0)
			fprintf(stderr, "row %zu: %s\n", i, E);
	}
}

static void
test_required(void)
{
	CU_ASSERT_EQUAL(parse("wechat.secret=abc\n"), -1);
	CU_ASSERT_STRING_EQUAL(E, FNAME ": missing required key wechat.appid");
	CU_ASSERT_EQUAL(parse("wechat.appid=wx1\n"), -1);
	CU_ASSERT_STRING_EQUAL(E, FNAME ": missing required key wechat.secret");
	CU_ASSERT_EQUAL(parse(""), -1);
	CU_ASSERT_STRING_EQUAL(E, FNAME ": missing required key wechat.appid");
	CU_ASSERT_EQUAL(parse("# only a comment\nserver.port=1\n"), -1);
	CU_ASSERT_STRING_EQUAL(E, FNAME ": missing required key wechat.appid");
}

/* ---- secrets never in a message ------------------------------------ */

static void
test_no_secret_in_errors(void)
{
	static const char *const lines[] = {
		"wechat.secret = " SECRET " extra",
		"wechat.secret = " SECRET "\x01",
		"wechat.secret " SECRET,
		"wechat.secret:" SECRET,
		"wechat.secret = " SECRET "\xc3\xa9",
		"auth.apiKeys = " SECRET,
		"auth.apiKeys = " SECRET "XX, " SECRET,
		"auth.apiKeys = " SECRET "XX " SECRET,
		"redis.url = redis://:" SECRET "@host:99999",
		"redis.url = redis://u:" SECRET "@host/99",
		"redis.url = redis://u:" SECRET "@host/0?timeout=1",
		"redis.url = redis://:" SECRET "@",
		"redis.url = redis://:" SECRET "%zz@host",
		"redis.url = redis://:" SECRET "%00@host",
		"redis.url = redis://" SECRET "@host",
		"redis.url = http://:" SECRET "@host",
		"redis.url = rediss://:" SECRET "@host",
		"redis.url = " SECRET,
		"redis.url = redis://:" SECRET "@[::1",
		"redis.url = redis://:" SECRET "@ho st",
	};
	char	 buf[1024];
	size_t	 i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		FMT(buf, "wechat.appid = wx1\n%s\n",
		    lines[i]);
		CHECK(parse(buf) == -1, lines[i]);
		CHECK(starts(E, FNAME ":2: "), lines[i]);
		CHECK(strstr(E, SECRET) == NULL, lines[i]);
		CHECK(strstr(E, "S3cr3t") == NULL, lines[i]);
	}
	/* A Spring password too long to keep. */
	FMT(buf, BASE "spring.redis.password=%s%s\n",
	    SECRET, repeat('p', LIM_SECRET));
	CU_ASSERT_EQUAL(parse(buf), -1);
	CU_ASSERT_TRUE(starts(E, FNAME ":3: "));
	CU_ASSERT_PTR_NULL(strstr(E, SECRET));
	CU_ASSERT_PTR_NULL(strstr(E, "ppppp"));
	/* A later error after a good secret. */
	CU_ASSERT_EQUAL(parse(BASE "wechat.appid=\n"), -1);
	CU_ASSERT_PTR_NULL(strstr(E, SECRET));
}

/* ---- redis.url ------------------------------------------------------- */

static void
test_redis_url(void)
{
	CU_ASSERT_EQUAL_FATAL(parse(BASE
	    "redis.url = redis://user:pa%3Ass%2F@redis.example.com:6380/3\n"),
	    0);
	CU_ASSERT_STRING_EQUAL(C.redis_host, "redis.example.com");
	CU_ASSERT_EQUAL(C.redis_port, 6380);
	CU_ASSERT_STRING_EQUAL(C.redis_user, "user");
	CU_ASSERT_STRING_EQUAL(C.redis_password, "pa:ss/");
	CU_ASSERT_EQUAL(C.redis_db, 3);
	CU_ASSERT_STRING_EQUAL(C.redis_unix, "");

	CU_ASSERT_EQUAL_FATAL(parse(BASE "redis.url=redis://:only-pw@10.0.0.2"
	    "\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.redis_host, "10.0.0.2");
	CU_ASSERT_EQUAL(C.redis_port, 6379);
	CU_ASSERT_STRING_EQUAL(C.redis_user, "");
	CU_ASSERT_STRING_EQUAL(C.redis_password, "only-pw");
	CU_ASSERT_EQUAL(C.redis_db, 0);

	/* An unescaped '@' or '/' in the password still parses. */
	CU_ASSERT_EQUAL_FATAL(parse(BASE "redis.url=redis://:p@w/d@h/5\n"),
	    0);
	CU_ASSERT_STRING_EQUAL(C.redis_password, "p@w/d");
	CU_ASSERT_STRING_EQUAL(C.redis_host, "h");
	CU_ASSERT_EQUAL(C.redis_db, 5);

	CU_ASSERT_EQUAL_FATAL(parse(BASE "redis.url=redis://[::1]:6390/15\n"),
	    0);
	CU_ASSERT_STRING_EQUAL(C.redis_host, "::1");
	CU_ASSERT_EQUAL(C.redis_port, 6390);
	CU_ASSERT_EQUAL(C.redis_db, 15);
	CU_ASSERT_EQUAL_FATAL(parse(BASE
	    "redis.url=redis://:pw@[fd00::10:2]\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.redis_host, "fd00::10:2");
	CU_ASSERT_EQUAL(C.redis_port, 6379);
	CU_ASSERT_STRING_EQUAL(C.redis_password, "pw");

	CU_ASSERT_EQUAL_FATAL(parse(BASE "redis.url=redis://localhost/\n"),
	    0);
	CU_ASSERT_STRING_EQUAL(C.redis_host, "localhost");
	CU_ASSERT_EQUAL(C.redis_db, 0);

	CU_ASSERT_EQUAL_FATAL(parse(BASE
	    "redis.url=unix:///var/run/redis/redis.sock?db=7\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.redis_unix, "/var/run/redis/redis.sock");
	CU_ASSERT_STRING_EQUAL(C.redis_host, "");
	CU_ASSERT_EQUAL(C.redis_db, 7);
	CU_ASSERT_EQUAL_FATAL(parse(BASE "redis.url=unix:///tmp/r.sock\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.redis_unix, "/tmp/r.sock");
	CU_ASSERT_EQUAL(C.redis_db, 0);
}

static void
test_redis_url_bad(void)
{
	static const char *const urls[] = {
		"redis://host:0", "redis://host:65536", "redis://host:abc",
		"redis://host:", "redis://host:+1", "redis://host/16",
		"redis://host/x", "redis://host/-1", "redis://host/0/1",
		"redis://host?db=1", "redis://", "redis://:pw@",
		"redis://:@host", "redis://user@host", "redis://[::1",
		"redis://[::1]x", "redis://[zz::1]", "redis://[]",
		"redis://ho st", "redis://h*st", "http://host",
		"rediss://host", "Redis://host", "redis:/host", "", "host:6379",
		"unix://relative.sock", "unix://", "unix:///",
		"unix:///s?db=16", "unix:///s?db=", "unix:///s?foo=1",
		"unix:///a b",
	};
	char	 buf[512];
	size_t	 i;

	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		FMT(buf, BASE "\nredis.url = %s\n", urls[i]);
		CHECK(parse(buf) == -1, urls[i]);
		CHECK(starts(E, FNAME ":4: redis.url: "), urls[i]);
	}
	CU_ASSERT_EQUAL(parse(BASE "redis.url=rediss://h\n"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(E, "TLS"));
	CU_ASSERT_EQUAL(parse(BASE "redis.url=redis://h:70000\n"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(E, "1..65535"));
	CU_ASSERT_EQUAL(parse(BASE "redis.url=redis://h/20\n"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(E, "0..15"));
}

/* ---- URL derivation ---------------------------------------------------- */

static void
test_urls(void)
{
	/* From apiBase, wherever the line is; one trailing '/' dropped. */
	CU_ASSERT_EQUAL_FATAL(parse(BASE
	    "wechat.apiBase = http://127.0.0.1:8081/wx/\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.api_base, "http://127.0.0.1:8081/wx");
	CU_ASSERT_STRING_EQUAL(C.login_url,
	    "http://127.0.0.1:8081/wx/sns/jscode2session");
	CU_ASSERT_STRING_EQUAL(C.send_url, "http://127.0.0.1:8081/wx"
	    "/cgi-bin/message/subscribe/send?access_token=");
	CU_ASSERT_STRING_EQUAL(C.token_url,
	    "http://127.0.0.1:8081/wx/cgi-bin/token");
	CU_ASSERT_STRING_EQUAL(C.stable_token_url,
	    "http://127.0.0.1:8081/wx/cgi-bin/stable_token");

	/* Overrides stay, in either order; token URLs follow apiBase. */
	CU_ASSERT_EQUAL_FATAL(parse(BASE
	    "wechat.loginUrl = https://login.example/jscode2session\n"
	    "wechat.sendUrl = https://send.example/send\n"
	    "wechat.apiBase = http://standin:9000\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.login_url,
	    "https://login.example/jscode2session");
	CU_ASSERT_STRING_EQUAL(C.send_url,
	    "https://send.example/send?access_token=");
	CU_ASSERT_STRING_EQUAL(C.token_url,
	    "http://standin:9000/cgi-bin/token");

	/* sendUrl gets access_token= with '?' or '&' as its query needs. */
	CU_ASSERT_EQUAL(parse(BASE "wechat.sendUrl = https://x/send?\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.send_url, "https://x/send?access_token=");
	CU_ASSERT_EQUAL(parse(BASE "wechat.sendUrl = https://x/send?a=1\n"),
	    0);
	CU_ASSERT_STRING_EQUAL(C.send_url,
	    "https://x/send?a=1&access_token=");
	CU_ASSERT_EQUAL(parse(BASE "wechat.sendUrl = https://x/send?a=1&\n"),
	    0);
	CU_ASSERT_STRING_EQUAL(C.send_url,
	    "https://x/send?a=1&access_token=");
	CU_ASSERT_EQUAL(parse(BASE
	    "wechat.sendUrl = http://x/s?v=2&access_token=\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.send_url, "http://x/s?v=2&access_token=");
	/* Only loginUrl set: sendUrl still derives. */
	CU_ASSERT_EQUAL(parse(BASE "wechat.loginUrl = http://l/x\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.login_url, "http://l/x");
	CU_ASSERT_STRING_EQUAL(C.send_url, "https://api.weixin.qq.com"
	    "/cgi-bin/message/subscribe/send?access_token=");
	/* apiBase with no trailing '/' is kept as is. */
	CU_ASSERT_EQUAL(parse(BASE "wechat.apiBase = https://h\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.api_base, "https://h");
	CU_ASSERT_STRING_EQUAL(C.login_url, "https://h/sns/jscode2session");
}

/* ---- template lists ---------------------------------------------------- */

static void
test_templates(void)
{
	char	 buf[4096];
	size_t	 i, n;

	/* templateId alone makes the list. */
	CU_ASSERT_EQUAL_FATAL(parse(BASE "wechat.templateId = T1\n"), 0);
	CU_ASSERT_EQUAL(C.n_template_ids, 1);
	CU_ASSERT_STRING_EQUAL(C.template_ids[0], "T1");

	/* templateId is added once, after the list. */
	CU_ASSERT_EQUAL_FATAL(parse(BASE "wechat.templateId = T1\n"
	    "wechat.templateIds = A , B\n"), 0);
	CU_ASSERT_EQUAL_FATAL(C.n_template_ids, 3);
	CU_ASSERT_STRING_EQUAL(C.template_ids[0], "A");
	CU_ASSERT_STRING_EQUAL(C.template_ids[1], "B");
	CU_ASSERT_STRING_EQUAL(C.template_ids[2], "T1");
	CU_ASSERT_EQUAL_FATAL(parse(BASE "wechat.templateIds = A,T1,B\n"
	    "wechat.templateId = T1\n"), 0);
	CU_ASSERT_EQUAL(C.n_template_ids, 3);
	CU_ASSERT_STRING_EQUAL(C.template_ids[1], "T1");

	/* A list without templateId; repeats kept once. */
	CU_ASSERT_EQUAL_FATAL(parse(BASE "wechat.templateIds = A,B,A\n"), 0);
	CU_ASSERT_STRING_EQUAL(C.template_id, "");
	CU_ASSERT_EQUAL(C.n_template_ids, 2);
	CU_ASSERT_FALSE(conf_template_known(&C, ""));

	/* An empty list value is an empty list. */
	CU_ASSERT_EQUAL_FATAL(parse(BASE "wechat.templateIds =\n"
	    "wechat.templateId = Z\n"), 0);
	CU_ASSERT_EQUAL(C.n_template_ids, 1);
	CU_ASSERT_STRING_EQUAL(C.template_ids[0], "Z");

	/* Long-term ids join template_ids too. */
	CU_ASSERT_EQUAL_FATAL(parse(BASE "wechat.longTermTemplateIds = L1, A\n"
	    "wechat.templateIds = A\n"), 0);
	CU_ASSERT_EQUAL_FATAL(C.n_template_ids, 2);
	CU_ASSERT_STRING_EQUAL(C.template_ids[0], "A");
	CU_ASSERT_STRING_EQUAL(C.template_ids[1], "L1");
	CU_ASSERT_EQUAL(C.n_longterm_ids, 2);
	CU_ASSERT_TRUE(conf_template_longterm(&C, "L1"));
	CU_ASSERT_TRUE(conf_template_longterm(&C, "A"));
	CU_ASSERT_TRUE(conf_template_known(&C, "L1"));
	CU_ASSERT_FALSE(conf_template_longterm(&C, "L"));

	/* LIM_TEMPLATES ids fit; one more is an error. */
	n = (size_t)snprintf(buf, sizeof(buf), BASE "wechat.templateIds = ");
	for (i = 0; i < LIM_TEMPLATES; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sid%zu",
		    i ? "," : "", i);
	snprintf(buf + n, sizeof(buf) - n, "\n");
	CU_ASSERT_EQUAL_FATAL(parse(buf), 0);
	CU_ASSERT_EQUAL(C.n_template_ids, LIM_TEMPLATES);
	CU_ASSERT_STRING_EQUAL(C.template_ids[LIM_TEMPLATES - 1], "id31");
	/* ... and templateId on top of a full list overflows it. */
	snprintf(buf + n, sizeof(buf) - n, "\nwechat.templateId = extra\n");
	CU_ASSERT_EQUAL(parse(buf), -1);
	CU_ASSERT_TRUE(starts(E, FNAME ": "));
	CU_ASSERT_PTR_NOT_NULL(strstr(E, "wechat.templateIds"));
	snprintf(buf + n, sizeof(buf) - n, ",one-more\n");
	CU_ASSERT_EQUAL(parse(buf), -1);
	CU_ASSERT_TRUE(starts(E, FNAME ":3: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(E, "wechat.templateIds"));
}

static void
test_api_keys(void)
{
	char	 buf[1024];
	size_t	 i, n;

	CU_ASSERT_EQUAL_FATAL(parse(BASE
	    "auth.apiKeys = 0123456789abcdef , "
	    "!#$%&'()*+-./:;<=>?@[]^_`{|}~\n"),
	    0);
	CU_ASSERT_EQUAL(C.n_api_keys, 2);
	CU_ASSERT_STRING_EQUAL(C.api_keys[0], "0123456789abcdef");
	CU_ASSERT_STRING_EQUAL(C.api_keys[1], "!#$%&'()*+-./:;<=>?@[]^_`{|}~");
	CU_ASSERT_EQUAL_FATAL(parse(BASE "auth.apiKeys =\n"), 0);
	CU_ASSERT_EQUAL(C.n_api_keys, 0);

	n = (size_t)snprintf(buf, sizeof(buf), BASE "auth.apiKeys = ");
	for (i = 0; i < LIM_APIKEYS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "%skey-%012zu", i ? "," : "", i);
	snprintf(buf + n, sizeof(buf) - n, "\n");
	CU_ASSERT_EQUAL_FATAL(parse(buf), 0);
	CU_ASSERT_EQUAL(C.n_api_keys, LIM_APIKEYS);
	CU_ASSERT_STRING_EQUAL(C.api_keys[LIM_APIKEYS - 1], "key-000000000015");
	snprintf(buf + n, sizeof(buf) - n, ",key-999999999999\n");
	CU_ASSERT_EQUAL(parse(buf), -1);
	CU_ASSERT_TRUE(starts(E, FNAME ":3: auth.apiKeys"));
	CU_ASSERT_PTR_NULL(strstr(E, "key-"));
}

/* ---- bounds on the buffer ------------------------------------------------ */

static void
test_long_line(void)
{
	char	*buf;
	size_t	 n;

	buf = malloc(LIM_CONF_LINE * 2 + 256);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);

	/* Exactly LIM_CONF_LINE bytes (CR not counted): accepted. */
	n = (size_t)snprintf(buf, 256, BASE);
	memcpy(buf + n, "x.y=", 4);
	memset(buf + n + 4, 'v', LIM_CONF_LINE - 4);
	memcpy(buf + n + LIM_CONF_LINE, "\r\n", 3);
	CU_ASSERT_EQUAL(parse(buf), 0);
	CU_ASSERT_EQUAL(C.n_foreign, 1);
	CU_ASSERT_STRING_EQUAL(C.foreign_first, "x.y");

	/* One byte more: refused on its line, even as a comment. */
	buf[n] = '#';
	memset(buf + n + 1, 'v', LIM_CONF_LINE);
	memcpy(buf + n + LIM_CONF_LINE + 1, "\n", 2);
	CU_ASSERT_EQUAL(parse(buf), -1);
	CU_ASSERT_STRING_EQUAL(E, FNAME ":3: line longer than 2048 bytes");
	free(buf);
}

static void
test_nul_byte(void)
{
	static const char	 text[] =
	    "wechat.appid=wx1\nwechat.se\0cret=x\n";
	static const char	 tail[] = BASE "log.level=info\0";

	CU_ASSERT_EQUAL(conf_parse(&C, text, sizeof(text) - 1, FNAME, E,
	    sizeof(E)), -1);
	CU_ASSERT_STRING_EQUAL(E, FNAME ":2: NUL byte in the line");
	/* A trailing NUL, as a careless writer may leave. */
	conf_defaults(&C);
	CU_ASSERT_EQUAL(conf_parse(&C, tail, sizeof(tail) - 1, FNAME, E,
	    sizeof(E)), -1);
	CU_ASSERT_TRUE(starts(E, FNAME ":3: "));
}

static void
test_big_buffer(void)
{
	char	*buf = malloc(LIM_CONF_FILE + 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	memset(buf, '\n', LIM_CONF_FILE + 1);
	memcpy(buf, BASE, strlen(BASE));
	conf_defaults(&C);
	CU_ASSERT_EQUAL(conf_parse(&C, buf, LIM_CONF_FILE, FNAME, E,
	    sizeof(E)), 0);
	conf_defaults(&C);
	CU_ASSERT_EQUAL(conf_parse(&C, buf, LIM_CONF_FILE + 1, FNAME, E,
	    sizeof(E)), -1);
	CU_ASSERT_STRING_EQUAL(E, FNAME ": file larger than 262144 bytes");
	free(buf);
}

/* ---- conf_load --------------------------------------------------------- */

/* Write len bytes to a new temporary file; its path goes into path. */
static int
temp_file(char *path, size_t size, const void *data, size_t len)
{
	const char	*dir = getenv("TMPDIR");
	int		 fd;
	FILE		*f;

	snprintf(path, size, "%s/test_config.XXXXXX",
	    dir != NULL && *dir != '\0' ? dir : "/tmp");
	if ((fd = mkstemp(path)) == -1)
		return -1;
	if ((f = fdopen(fd, "wb")) == NULL) {
		close(fd);
		unlink(path);
		return -1;
	}
	if (fwrite(data, 1, len, f) != len) {
		fclose(f);
		unlink(path);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

static void
test_load(void)
{
	char	 path[LIM_PATH], want[LIM_PATH + 64], longerr[LIM_PATH * 2];
	char	*big;

	/* A missing file. */
	memset(&C, 0xA5, sizeof(C));
	CU_ASSERT_EQUAL(conf_load(&C, "/nonexistent-dir/wxsub.conf", E,
	    sizeof(E)), -1);
	snprintf(want, sizeof(want), "/nonexistent-dir/wxsub.conf: "
	    "cannot read: %s", strerror(ENOENT));
	CU_ASSERT_STRING_EQUAL(E, want);

	/* A directory cannot be read as a file. */
	CU_ASSERT_EQUAL(conf_load(&C, "/", E, sizeof(E)), -1);
	CU_ASSERT_TRUE(starts(E, "/: cannot read: "));
	CU_ASSERT_EQUAL(conf_load(&C, NULL, E, sizeof(E)), -1);
	CU_ASSERT_EQUAL(conf_load(&C, "", E, sizeof(E)), -1);

	/* A good file: defaults first (the 0xA5 garbage is gone). */
	CU_ASSERT_EQUAL_FATAL(temp_file(path, sizeof(path), seed,
	    strlen(seed)), 0);
	memset(&C, 0xA5, sizeof(C));
	CU_ASSERT_EQUAL(conf_load(&C, path, E, sizeof(E)), 0);
	CU_ASSERT_STRING_EQUAL(C.file, path);
	CU_ASSERT_STRING_EQUAL(C.appid, "xxxxx");
	CU_ASSERT_EQUAL(C.n_foreign, 5);
	CU_ASSERT_STRING_EQUAL(C.redis_host, "10.1.2.3");
	CU_ASSERT_STRING_EQUAL(C.lang, "zh_CN");
	CU_ASSERT_EQUAL(C.n_api_keys, 0);
	unlink(path);

	/* A bad file names its path and line. */
	CU_ASSERT_EQUAL_FATAL(temp_file(path, sizeof(path),
	    "wechat.appid=wx1\nwechat.timeoutMs=1\n", 36), 0);
	CU_ASSERT_EQUAL(conf_load(&C, path, E, sizeof(E)), -1);
	snprintf(want, sizeof(want), "%s:2: wechat.timeoutMs", path);
	CU_ASSERT_TRUE(starts(E, want));
	unlink(path);

	/* Too large. */
	big = malloc(LIM_CONF_FILE + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, '\n', LIM_CONF_FILE + 1);
	memcpy(big, BASE, strlen(BASE));
	CU_ASSERT_EQUAL_FATAL(temp_file(path, sizeof(path), big,
	    LIM_CONF_FILE), 0);
	CU_ASSERT_EQUAL(conf_load(&C, path, E, sizeof(E)), 0);
	unlink(path);
	CU_ASSERT_EQUAL_FATAL(temp_file(path, sizeof(path), big,
	    LIM_CONF_FILE + 1), 0);
	CU_ASSERT_EQUAL(conf_load(&C, path, E, sizeof(E)), -1);
	snprintf(want, sizeof(want), "%s: file larger than 262144 bytes",
	    path);
	CU_ASSERT_STRING_EQUAL(E, want);
	unlink(path);
	free(big);

	/* A path too long for c->file (a big err: the path leads it). */
	CU_ASSERT_EQUAL(conf_load(&C, repeat('p', LIM_PATH), longerr,
	    sizeof(longerr)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(longerr, ": path longer than 1023"));
}

/* redisaddr.c straight, without a configuration around it. */
static void
test_redisaddr(void)
{
	struct raddr		 a;
	struct raddr_spring	 sp;
	char			 url[128];

	snprintf(url, sizeof(url), "redis://u%%3Ax:p%%40@[fe80::1]:6380/2");
	CU_ASSERT_PTR_NULL_FATAL(raddr_parse_url(url, &a));
	CU_ASSERT_STRING_EQUAL(a.host, "fe80::1");
	CU_ASSERT_STRING_EQUAL(a.user, "u:x");
	CU_ASSERT_STRING_EQUAL(a.password, "p@");
	CU_ASSERT_EQUAL(a.port, 6380);
	CU_ASSERT_EQUAL(a.db, 2);
	CU_ASSERT_STRING_EQUAL(a.unix_path, "");

	snprintf(url, sizeof(url), "unix:///run/r.sock?db=15");
	CU_ASSERT_PTR_NULL_FATAL(raddr_parse_url(url, &a));
	CU_ASSERT_STRING_EQUAL(a.unix_path, "/run/r.sock");
	CU_ASSERT_STRING_EQUAL(a.host, "");
	CU_ASSERT_EQUAL(a.port, RADDR_DEFAULT_PORT);
	CU_ASSERT_EQUAL(a.db, 15);

	snprintf(url, sizeof(url), "redis://:S3cr3t!@h:0");
	CU_ASSERT_STRING_EQUAL(raddr_parse_url(url, &a),
	    "the port must be 1..65535");
	snprintf(url, sizeof(url), "unix:///run/r.sock?db=16");
	CU_ASSERT_PTR_NOT_NULL(raddr_parse_url(url, &a));

	memset(&sp, 0, sizeof(sp));
	CU_ASSERT_PTR_NULL(raddr_spring_set(&sp, "host", "10.0.0.1"));
	CU_ASSERT_TRUE(sp.has_host);
	CU_ASSERT_PTR_NOT_NULL(raddr_spring_set(&sp, "host", "a b"));
	CU_ASSERT_PTR_NULL(raddr_spring_set(&sp, "timeout", "5s"));
	CU_ASSERT_PTR_NOT_NULL(raddr_spring_set(&sp, "password",
	    repeat('p', LIM_SECRET)));
	CU_ASSERT_FALSE(sp.has_password);

	/* The byte rules config.c and redisaddr.c share from validate.c. */
	long long v;
	CU_ASSERT_EQUAL(val_decimal("65535", 1, 65535, &v), 0);
	CU_ASSERT_EQUAL(v, 65535);
	CU_ASSERT_EQUAL(val_decimal("+1", 0, 9, &v), -1);
	CU_ASSERT_EQUAL(val_decimal(" 1", 0, 9, &v), -1);
	CU_ASSERT_EQUAL(val_decimal("99999999999999999999", 0, 9, &v), -1);
	CU_ASSERT_TRUE(val_graph("a!~", 3));
	CU_ASSERT_FALSE(val_graph("a!~", 2));
	CU_ASSERT_FALSE(val_graph("a b", 9));
	CU_ASSERT_FALSE(val_graph("", 9));
	CU_ASSERT_TRUE(val_nospace("k\xc3\xa9y"));
	CU_ASSERT_FALSE(val_nospace("k\x7fy"));
	CU_ASSERT_FALSE(val_nospace("k y"));
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "defaults", test_defaults },
		{ "minimal file", test_minimal },
		{ "full file, every key", test_full },
		{ "CRLF", test_crlf },
		{ "seed application.properties", test_seed },
		{ "foreign keys", test_foreign },
		{ "spring.redis fallback", test_spring_redis },
		{ "bad values", test_bad_values },
		{ "too long for the field", test_too_long },
		{ "range edges", test_ranges },
		{ "enumerations", test_words },
		{ "syntax", test_syntax },
		{ "unknown keys", test_unknown_keys },
		{ "no value in messages (issue 11)", test_no_value_in_messages },
		{ "required keys", test_required },
		{ "no secret in errors", test_no_secret_in_errors },
		{ "redis.url forms", test_redis_url },
		{ "redis.url bad", test_redis_url_bad },
		{ "redisaddr and shared byte rules", test_redisaddr },
		{ "URL derivation", test_urls },
		{ "template lists", test_templates },
		{ "api keys", test_api_keys },
		{ "long line", test_long_line },
		{ "NUL byte", test_nul_byte },
		{ "buffer bound", test_big_buffer },
		{ "conf_load", test_load },
	};

	return unit_run("config", tests, sizeof(tests) / sizeof(tests[0]));
}
