/*
 * test_sentinel.c: the pure parts of sentinel.c (the sentinel list, the
 * two replies it reads) and the redis.* keys that go with them.
 */
#include <string.h>

#include <hiredis/hiredis.h>

#include "config.h"
#include "sentinel.h"
#include "unit.h"

/* A reply of one type; strings point into the caller's text. */
static redisReply
str(int type, const char *s)
{
	redisReply r;

	memset(&r, 0, sizeof(r));
	r.type = type;
	r.str = (char *)s;
	r.len = s != NULL ? strlen(s) : 0;
	return r;
}

static redisReply
arr(redisReply **el, size_t n)
{
	redisReply r;

	memset(&r, 0, sizeof(r));
	r.type = REDIS_REPLY_ARRAY;
	r.element = el;
	r.elements = n;
	return r;
}

static void
test_list(void)
{
	struct hostport hp[LIM_SENTINELS];
	const char *why;
	size_t n;

	CU_ASSERT_EQUAL(sentinel_parse_list("127.0.0.1:26379", hp, 8, &n, &why), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_STRING_EQUAL(hp[0].host, "127.0.0.1");
	CU_ASSERT_EQUAL(hp[0].port, 26379);
	CU_ASSERT_EQUAL(sentinel_parse_list("a.example:1, b-2.example:65535 ,"
	    "[::1]:26380", hp, 8, &n, &why), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_STRING_EQUAL(hp[1].host, "b-2.example");
	CU_ASSERT_EQUAL(hp[1].port, 65535);
	CU_ASSERT_STRING_EQUAL(hp[2].host, "::1");
	CU_ASSERT_EQUAL(hp[2].port, 26380);

	/* Refusals, each with a reason. */
	static const char *const bad[] = {
		"", "host", "host:", "host:0", "host:65536", "host:12a",
		":26379", "a:1,,b:2", "a:1,", "::1:26379", "[::1]26379",
		"[::1", "a b:1", "a/b:1", "user@host:1", "host:123456",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CU_ASSERT_EQUAL(sentinel_parse_list(bad[i], hp, 8, &n, &why), -1);
		CU_ASSERT_PTR_NOT_NULL(why);
	}
	CU_ASSERT_EQUAL(sentinel_parse_list("a:1,b:2,c:3", hp, 2, &n, &why), -1);
}

static void
test_addr(void)
{
	redisReply h = str(REDIS_REPLY_STRING, "10.0.0.7");
	redisReply p = str(REDIS_REPLY_STRING, "6380");
	redisReply *el[2] = { &h, &p };
	redisReply r = arr(el, 2), nil = str(REDIS_REPLY_NIL, NULL);
	redisReply err = str(REDIS_REPLY_ERROR, "ERR unknown");
	char host[LIM_HOST];
	int port = 0;

	CU_ASSERT_EQUAL(sentinel_read_addr(&r, host, sizeof(host), &port), 0);
	CU_ASSERT_STRING_EQUAL(host, "10.0.0.7");
	CU_ASSERT_EQUAL(port, 6380);
	/* An unknown master name is nil. */
	CU_ASSERT_EQUAL(sentinel_read_addr(&nil, host, sizeof(host), &port), 1);
	CU_ASSERT_EQUAL(sentinel_read_addr(&err, host, sizeof(host), &port), -1);
	CU_ASSERT_EQUAL(sentinel_read_addr(NULL, host, sizeof(host), &port), -1);
	/* Wrong shapes. */
	r.elements = 1;
	CU_ASSERT_EQUAL(sentinel_read_addr(&r, host, sizeof(host), &port), -1);
	r.elements = 2;
	p = str(REDIS_REPLY_STRING, "0");
	CU_ASSERT_EQUAL(sentinel_read_addr(&r, host, sizeof(host), &port), -1);
	p = str(REDIS_REPLY_INTEGER, NULL);
	CU_ASSERT_EQUAL(sentinel_read_addr(&r, host, sizeof(host), &port), -1);
	p = str(REDIS_REPLY_STRING, "6380");
	h = str(REDIS_REPLY_STRING, "");
	CU_ASSERT_EQUAL(sentinel_read_addr(&r, host, sizeof(host), &port), -1);
	h = str(REDIS_REPLY_STRING, "evil\r\nhost");
	CU_ASSERT_EQUAL(sentinel_read_addr(&r, host, sizeof(host), &port), -1);
	/* A host longer than the caller's buffer is refused, not cut. */
	h = str(REDIS_REPLY_STRING, "a.long.host.name");
	CU_ASSERT_EQUAL(sentinel_read_addr(&r, host, 8, &port), -1);
}

static void
test_role(void)
{
	redisReply m = str(REDIS_REPLY_STRING, "master");
	redisReply off = str(REDIS_REPLY_INTEGER, NULL);
	redisReply *el[2] = { &m, &off };
	redisReply r = arr(el, 2), err = str(REDIS_REPLY_ERROR, "NOAUTH");

	CU_ASSERT_TRUE(sentinel_read_role(&r));
	m = str(REDIS_REPLY_STRING, "slave");
	CU_ASSERT_FALSE(sentinel_read_role(&r));
	m = str(REDIS_REPLY_STRING, "sentinel");
	CU_ASSERT_FALSE(sentinel_read_role(&r));
	m = str(REDIS_REPLY_STRING, "masters");
	CU_ASSERT_FALSE(sentinel_read_role(&r));
	r.elements = 0;
	CU_ASSERT_FALSE(sentinel_read_role(&r));
	CU_ASSERT_FALSE(sentinel_read_role(&err));
	CU_ASSERT_FALSE(sentinel_read_role(NULL));
}

static int
parse(struct config *c, const char *text, char *err, size_t errlen)
{
	conf_defaults(c);
	return conf_parse(c, text, strlen(text), "t.conf", err, errlen);
}

static void
test_config_keys(void)
{
	static struct config c;
	char err[LIM_ERRMSG];

	CU_ASSERT_EQUAL(parse(&c, "wechat.appid=wx1\nwechat.secret=s\n", err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.n_sentinels, 0);
	CU_ASSERT_STRING_EQUAL(c.master_name, "mymaster");
	CU_ASSERT_EQUAL(c.wait_replicas, 0);
	CU_ASSERT_EQUAL(c.wait_ms, 100);
	CU_ASSERT_EQUAL(c.redis_timeout_ms, 400);
	CU_ASSERT_EQUAL(parse(&c, "wechat.appid=wx1\nwechat.secret=s\n"
	    "redis.timeoutMs = 3000\n", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.redis_timeout_ms, 3000);
	CU_ASSERT_EQUAL(parse(&c, "wechat.appid=wx1\nwechat.secret=s\n"
	    "redis.timeoutMs = 49\n", err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:3: redis.timeoutMs"));
	CU_ASSERT_EQUAL(parse(&c, "wechat.appid=wx1\nwechat.secret=s\n"
	    "redis.url = redis://:pw@ignored:1/3\n"
	    "redis.sentinels = 127.0.0.1:26379,127.0.0.1:26380\n"
	    "redis.masterName = wxmaster\nredis.waitReplicas = 1\n"
	    "redis.waitMs = 250\n", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.n_sentinels, 2);
	CU_ASSERT_EQUAL(c.sentinels[1].port, 26380);
	CU_ASSERT_STRING_EQUAL(c.master_name, "wxmaster");
	CU_ASSERT_EQUAL(c.wait_replicas, 1);
	CU_ASSERT_EQUAL(c.wait_ms, 250);
	CU_ASSERT_STRING_EQUAL(c.redis_password, "pw");
	CU_ASSERT_EQUAL(c.redis_db, 3);

	CU_ASSERT_EQUAL(parse(&c, "wechat.appid=wx1\nwechat.secret=s\n"
	    "redis.sentinels = 127.0.0.1\n", err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:3: redis.sentinels"));
	CU_ASSERT_EQUAL(parse(&c, "wechat.appid=wx1\nwechat.secret=s\n"
	    "redis.waitMs = 0\n", err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(parse(&c, "wechat.appid=wx1\nwechat.secret=s\n"
	    "redis.waitReplicas = -1\n", err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(parse(&c, "wechat.appid=wx1\nwechat.secret=s\n"
	    "redis.masterName = a b\n", err, sizeof(err)), -1);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "sentinel list", test_list },
		{ "get-master-addr-by-name reply", test_addr },
		{ "ROLE reply", test_role },
		{ "redis.sentinels and friends", test_config_keys },
	};

	return unit_run("sentinel", tests, sizeof(tests) / sizeof(tests[0]));
}
