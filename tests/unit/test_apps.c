/*
 * test_apps.c: several apps on one install (api.md section 8): the route
 * split, app names, keys scoped by appid, and /metrics' app label.
 */
#include <string.h>

#include "config.h"
#include "metrics.h"
#include "route.h"
#include "store.h"
#include "unit.h"

static void
test_route_app(void)
{
	char name[LIM_APPNAME];
	const char *rest = NULL;

	CU_ASSERT_EQUAL(route_app("/shop/send", name, sizeof(name), &rest), 0);
	CU_ASSERT_STRING_EQUAL(name, "shop");
	CU_ASSERT_STRING_EQUAL(rest, "/send");
	CU_ASSERT_EQUAL(route_app("/grid-2/subscriptions", name, sizeof(name),
	    &rest), 0);
	CU_ASSERT_STRING_EQUAL(name, "grid-2");
	CU_ASSERT_STRING_EQUAL(rest, "/subscriptions");
	CU_ASSERT_EQUAL(route_app("/shop/", name, sizeof(name), &rest), 0);
	CU_ASSERT_STRING_EQUAL(rest, "/");
	/* No second segment, or not an app name. */
	static const char *const bad[] = {
		"/send", "/", "", "//send", "/Shop/send", "/sh_op/send",
		"/sh.op/send", "shop/send", "/0123456789012345678901234567890123/x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(route_app(bad[i], name, sizeof(name), &rest), -1);
	/* A name longer than the caller's buffer is refused, not cut. */
	CU_ASSERT_EQUAL(route_app("/clinic/send", name, 4, &rest), -1);

	CU_ASSERT_TRUE(route_app_name_ok("a", 1));
	CU_ASSERT_TRUE(route_app_name_ok("0-z", 3));
	CU_ASSERT_FALSE(route_app_name_ok("", 0));
	CU_ASSERT_FALSE(route_app_name_ok("A", 1));
	CU_ASSERT_FALSE(route_app_name_ok("a b", 3));
	CU_ASSERT_TRUE(route_is_install("/health"));
	CU_ASSERT_TRUE(route_is_install("/metrics"));
	CU_ASSERT_FALSE(route_is_install("/send"));
	CU_ASSERT_FALSE(route_is_install("/health/x"));
}

static int
parse(struct config *c, const char *text)
{
	char err[LIM_ERRMSG];

	conf_defaults(c);
	return conf_parse(c, text, strlen(text), "t.conf", err, sizeof(err));
}

static void
test_scope(void)
{
	static struct config c, d;
	char key[LIM_KEY], err[LIM_ERRMSG];
	char longid[LIM_ID];

	CU_ASSERT_EQUAL(parse(&c, "wechat.appid=wxA1\nwechat.secret=s\n"), 0);
	CU_ASSERT_EQUAL(conf_scope(&c, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.token_key, "WECHAT:ACCESS_TOKEN:wxA1");
	CU_ASSERT_STRING_EQUAL(c.lock_key, "WECHAT:APPEAL_TOKEN_LOCK:wxA1");
	CU_ASSERT_EQUAL(store_key_sub(&c, "T1", "oX", key, sizeof(key)), 0);
	CU_ASSERT_STRING_EQUAL(key, "SUBSCRIBE:wxA1:T1:oX");
	CU_ASSERT_EQUAL(store_key(&c, "session", "abc", key, sizeof(key)), 0);
	CU_ASSERT_STRING_EQUAL(key, "WXSUB:wxA1:session:abc");

	/* Keys set in the file get the appid too. */
	CU_ASSERT_EQUAL(parse(&d, "wechat.appid=wxB2\nwechat.secret=s\n"
	    "redis.tokenKey=TOK\nredis.prefix=P:\n"), 0);
	CU_ASSERT_EQUAL(conf_scope(&d, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(d.token_key, "TOK:wxB2");
	CU_ASSERT_STRING_EQUAL(d.prefix, "P:wxB2:");

	/* Too long once scoped: refused, naming the file. */
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	conf_defaults(&d);
	snprintf(d.file, sizeof(d.file), "long.conf");
	memcpy(d.appid, longid, sizeof(longid));
	CU_ASSERT_EQUAL(conf_scope(&d, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "long.conf"));

	/* The same Redis, or not. */
	CU_ASSERT_EQUAL(parse(&c, "wechat.appid=a\nwechat.secret=s\n"
	    "redis.url=redis://h:1/2\n"), 0);
	CU_ASSERT_EQUAL(parse(&d, "wechat.appid=b\nwechat.secret=t\n"
	    "redis.url=redis://h:1/2\nredis.prefix=X:\n"), 0);
	CU_ASSERT_TRUE(conf_same_redis(&c, &d));
	CU_ASSERT_EQUAL(parse(&d, "wechat.appid=b\nwechat.secret=t\n"
	    "redis.url=redis://h:1/3\n"), 0);
	CU_ASSERT_FALSE(conf_same_redis(&c, &d));
	CU_ASSERT_EQUAL(parse(&d, "wechat.appid=b\nwechat.secret=t\n"
	    "redis.url=redis://:pw@h:1/2\n"), 0);
	CU_ASSERT_FALSE(conf_same_redis(&c, &d));
	CU_ASSERT_EQUAL(parse(&d, "wechat.appid=b\nwechat.secret=t\n"
	    "redis.url=redis://h:1/2\nredis.sentinels=s:1\n"), 0);
	CU_ASSERT_FALSE(conf_same_redis(&c, &d));
}

static void
test_metrics_app(void)
{
	const char *const *f;
	const long long *v;
	static char out[16384];
	size_t n;

	metrics_clear();
	metrics_app("shop");
	metrics_request("/send", 200);
	metrics_count("token_fetch_ok");
	metrics_app("");
	metrics_request("/health", 200);
	metrics_count("token_wait");
	n = metrics_pending(&f, &v);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_STRING_EQUAL(f[0], "r|/send|200|shop");
	CU_ASSERT_STRING_EQUAL(f[1], "c|token_fetch_ok|shop");
	CU_ASSERT(metrics_render(f, v, n, out, sizeof(out)) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out,
	    "wxsub_requests_total{route=\"/send\",status=\"200\",app=\"shop\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out,
	    "wxsub_requests_total{route=\"/health\",status=\"200\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out,
	    "wxsub_token_fetches_total{result=\"ok\",app=\"shop\"} 1\n"));
	/* No unlabelled zero beside an app's count; the others as before. */
	CU_ASSERT_PTR_NULL(strstr(out, "wxsub_token_fetches_total{result=\"ok\"} 0"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out,
	    "wxsub_token_fetches_total{result=\"failed\"} 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nwxsub_token_waits_total 1\n"));
	metrics_clear();
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "routes of several apps", test_route_app },
		{ "keys scoped by appid", test_scope },
		{ "metrics labelled by app", test_metrics_app },
	};

	return unit_run("apps", tests, sizeof(tests) / sizeof(tests[0]));
}
