/*
 * test_core.c: CUnit tests of the modules between the web server and
 * the handlers: routing, request parsing, JSON in and out, error
 * mapping, key building, authentication and WeChat answer parsing.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "unit.h"

#include "auth.h"
#include "clock.h"
#include "config.h"
#include "jsonio.h"
#include "jsonw.h"
#include "metrics.h"
#include "netmask.h"
#include "join.h"
#include "num.h"
#include "pct.h"
#include "crypto.h"
#include "secure.h"
#include "session.h"
#include "request.h"
#include "response.h"
#include "route.h"
#include "store.h"
#include "wechat.h"
#include "wxerr.h"

/* A fake web server: its parameters are a NULL-terminated "NAME=value" list. */
static char *const *
fake_params(void *ctx)
{
	return ctx;
}

static void
test_route_table(void)
{
	enum wx_err err;
	char allow[32];
	const struct route *r;

	r = route_find("/send", M_POST, &err, allow, sizeof(allow));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(err, WX_OK);
	CU_ASSERT_EQUAL(r->auth, AUTH_APIKEY);
	CU_ASSERT_TRUE(r->body);

	r = route_find("/record", M_POST, &err, allow, sizeof(allow));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->auth, AUTH_USER);

	r = route_find("/health", M_GET, &err, allow, sizeof(allow));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->auth, AUTH_NONE);
	CU_ASSERT_FALSE(r->body);

	/* a match leaves no Allow behind from another method's row */
	r = route_find("/subscriptions", M_DELETE, &err, allow, sizeof(allow));
	CU_ASSERT_PTR_NOT_NULL(r);
	CU_ASSERT_STRING_EQUAL(allow, "");

	CU_ASSERT_PTR_NULL(route_find("/send", M_GET, &err, allow, sizeof(allow)));
	CU_ASSERT_EQUAL(err, WX_METHOD);
	CU_ASSERT_STRING_EQUAL(allow, "POST");

	CU_ASSERT_PTR_NULL(route_find("/subscriptions", M_POST, &err, allow,
	    sizeof(allow)));
	CU_ASSERT_EQUAL(err, WX_METHOD);
	CU_ASSERT_STRING_EQUAL(allow, "GET, HEAD, DELETE");

	/* HEAD finds the GET row, and only a GET row (issue 11) */
	r = route_find("/health", M_HEAD, &err, allow, sizeof(allow));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->method, M_GET);
	CU_ASSERT_PTR_NULL(route_find("/send", M_HEAD, &err, allow,
	    sizeof(allow)));
	CU_ASSERT_EQUAL(err, WX_METHOD);
	CU_ASSERT_STRING_EQUAL(allow, "POST");

	CU_ASSERT_PTR_NULL(route_find("/nope", M_GET, &err, allow, sizeof(allow)));
	CU_ASSERT_EQUAL(err, WX_NOT_FOUND);
	CU_ASSERT_PTR_NULL(route_find("/Send", M_POST, &err, allow, sizeof(allow)));
	CU_ASSERT_EQUAL(err, WX_NOT_FOUND);
}

static void
test_route_paths(void)
{
	CU_ASSERT_TRUE(req_route_ok("/send"));
	CU_ASSERT_TRUE(req_route_ok("/a-b_c.d/e"));
	CU_ASSERT_FALSE(req_route_ok(NULL));
	CU_ASSERT_FALSE(req_route_ok(""));
	CU_ASSERT_FALSE(req_route_ok("send"));
	CU_ASSERT_FALSE(req_route_ok("/"));
	CU_ASSERT_FALSE(req_route_ok("//send"));
	CU_ASSERT_FALSE(req_route_ok("/send/"));
	CU_ASSERT_FALSE(req_route_ok("/a//b"));
	CU_ASSERT_FALSE(req_route_ok("/../send"));
	CU_ASSERT_FALSE(req_route_ok("/a/./b"));
	CU_ASSERT_FALSE(req_route_ok("/%2e%2e/send"));
	CU_ASSERT_FALSE(req_route_ok("/send%00"));
	CU_ASSERT_FALSE(req_route_ok("/se nd"));
	CU_ASSERT_FALSE(req_route_ok("/send\n"));
}

static void
test_request_parse(void)
{
	const char *env[] = {
		"SERVER_SOFTWARE=lighttpd", "REQUEST_METHOD=POST",
		"PATH_INFO=/send", "CONTENT_TYPE=application/json; charset=utf-8",
		"CONTENT_LENGTH=42", "HTTP_AUTHORIZATION=Bearer abc=",
		"HTTP_X_REQUEST_ID=caller-id.1", "QUERY_STRING=a=b&c=",
		"REMOTE_ADDR=127.0.0.1", NULL };
	/* A name that only starts like a wanted one, a repeat, a bare name. */
	const char *tricky[] = {
		"PATH_INFO_X=/health", "PATH_INFO", "REQUEST_METHODS=DELETE",
		"REQUEST_METHOD=GET", "PATH_INFO=/subscriptions",
		"PATH_INFO=/send", "REQUEST_METHOD=POST", "CONTENT_LENGTH=",
		"HTTP_AUTHORIZATION_=x", NULL };
	struct request r = { 0 };

	CU_ASSERT_EQUAL(req_parse(&r, fake_params, (void *)env), WX_OK);
	CU_ASSERT_EQUAL(r.method, M_POST);
	CU_ASSERT_STRING_EQUAL(r.route, "/send");
	CU_ASSERT_EQUAL(r.content_length, 42);
	CU_ASSERT_STRING_EQUAL(r.reqid, "caller-id.1");
	CU_ASSERT_STRING_EQUAL(r.auth, "Bearer abc=");
	CU_ASSERT_STRING_EQUAL(r.query, "a=b&c=");
	CU_ASSERT_STRING_EQUAL(r.remote, "127.0.0.1");
	CU_ASSERT_TRUE(req_is_json(r.content_type));

	CU_ASSERT_EQUAL(req_parse(&r, fake_params, (void *)tricky), WX_OK);
	CU_ASSERT_EQUAL(r.method, M_GET);		/* the first wins */
	CU_ASSERT_STRING_EQUAL(r.route, "/subscriptions");
	CU_ASSERT_EQUAL(r.content_length, -1);		/* empty: not given */
	CU_ASSERT_STRING_EQUAL(r.auth, "");
	CU_ASSERT_STRING_EQUAL(r.query, "");
	CU_ASSERT_EQUAL(strlen(r.reqid), 16);		/* a fresh one */
	req_reset(&r);
}

static void
test_request_refusals(void)
{
	const char *bad_id[] = { "REQUEST_METHOD=GET", "PATH_INFO=/health",
		"HTTP_X_REQUEST_ID=evil\r\nSet-Cookie: x", NULL };
	const char *bad_len[] = { "REQUEST_METHOD=POST", "PATH_INFO=/send",
		"CONTENT_LENGTH=12x", NULL };
	const char *neg_len[] = { "REQUEST_METHOD=POST", "PATH_INFO=/send",
		"CONTENT_LENGTH=-1", NULL };
	const char *bad_path[] = { "REQUEST_METHOD=GET", "PATH_INFO=/../health",
		NULL };
	const char *no_path[] = { "REQUEST_METHOD=GET", NULL };
	const char *no_params[] = { NULL };
	struct request r = { 0 };

	CU_ASSERT_EQUAL(req_parse(&r, fake_params, (void *)bad_id), WX_OK);
	CU_ASSERT_EQUAL(strlen(r.reqid), 16);	/* a fresh one */
	CU_ASSERT_PTR_NULL(strchr(r.reqid, '\r'));
	CU_ASSERT_EQUAL(req_parse(&r, fake_params, (void *)bad_len),
	    WX_BAD_REQUEST);
	CU_ASSERT_EQUAL(req_parse(&r, fake_params, (void *)neg_len),
	    WX_BAD_REQUEST);
	CU_ASSERT_EQUAL(req_parse(&r, fake_params, (void *)bad_path),
	    WX_NOT_FOUND);
	CU_ASSERT_EQUAL(req_parse(&r, fake_params, (void *)no_path),
	    WX_NOT_FOUND);
	CU_ASSERT_EQUAL(req_parse(&r, fake_params, (void *)no_params),
	    WX_NOT_FOUND);
	CU_ASSERT_EQUAL(r.method, M_OTHER);
	req_reset(&r);
}

static void
test_query(void)
{
	char out[64];

	CU_ASSERT_EQUAL(req_query("openId=abc&templateId=T1", "openId", out,
	    sizeof(out)), 1);
	CU_ASSERT_STRING_EQUAL(out, "abc");
	CU_ASSERT_EQUAL(req_query("openId=abc&templateId=T1", "templateId", out,
	    sizeof(out)), 1);
	CU_ASSERT_STRING_EQUAL(out, "T1");
	CU_ASSERT_EQUAL(req_query("xopenId=abc", "openId", out, sizeof(out)), 0);
	CU_ASSERT_EQUAL(req_query("", "openId", out, sizeof(out)), 0);
	CU_ASSERT_EQUAL(req_query("a=%41%42+c", "a", out, sizeof(out)), 1);
	CU_ASSERT_STRING_EQUAL(out, "AB c");
	CU_ASSERT_EQUAL(req_query("a=%4", "a", out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(req_query("a=%zz", "a", out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(req_query("a=%00", "a", out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(req_query("a=1&a=2", "a", out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(req_query("a=0123456789", "a", out, 5), -1);
}

static void
test_content_type(void)
{
	CU_ASSERT_TRUE(req_is_json("application/json"));
	CU_ASSERT_TRUE(req_is_json("Application/JSON;charset=UTF-8"));
	CU_ASSERT_FALSE(req_is_json("application/jsonp"));
	CU_ASSERT_FALSE(req_is_json("text/plain"));
	CU_ASSERT_FALSE(req_is_json(""));
	CU_ASSERT_FALSE(req_is_json(NULL));
}

static void
test_json_strict(void)
{
	static const char *bad[] = {
		"", "{", "[1]", "\"s\"", "{'a':1}", "{\"a\":1,}", "{\"a\":1} x",
		"{\"a\":1}{}", "{a:1}", "nul", "{\"a\":\"\xff\"}",
		/* json-c takes these even in strict mode */
		"{\"a\":'b'}", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":1.}",
		"{\"a\":\"x\ny\"}", "{\"a\":\"\t\"}", "{\"a\":-}", "{\"a\":01}",
		"{\"a\":\"\\x41\"}", "{\"a\" 1}", "{,}", "{\"a\":1 \"b\":2}",
	};
	json_object *o;
	struct wxe pe;
	const char *s;
	size_t len, i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(jsonio_parse_object(bad[i], strlen(bad[i]), &o, &pe), WX_BAD_REQUEST);
		CU_ASSERT_PTR_NULL(o);
	}
	CU_ASSERT_EQUAL_FATAL(jsonio_parse_object("{\"a\":\"x\",\"n\":1} \n", 17,
	    &o, &pe), WX_OK);
	CU_ASSERT_EQUAL(jsonio_string(o, "a", &s, &len), 1);
	CU_ASSERT_STRING_EQUAL(s, "x");
	CU_ASSERT_EQUAL(len, 1);
	CU_ASSERT_EQUAL(jsonio_string(o, "n", &s, &len), -1);
	CU_ASSERT_EQUAL(jsonio_string(o, "zz", &s, &len), 0);
	json_object_put(o);

	/* \u0000 would cut a key or value as a C string: refused outright. */
	CU_ASSERT_EQUAL(jsonio_parse_object("{\"a\":\"x\\u0000y\"}", 16,
	    &o, &pe), WX_BAD_REQUEST);
	CU_ASSERT_EQUAL(jsonio_parse_object("{\"a\\u0000b\":\"x\"}", 16,
	    &o, &pe), WX_BAD_REQUEST);
}

static void
test_json_syntax_ok(void)
{
	static const char *good[] = {
		"{}", "[]", "0", "-0.5e+10", "\"\\u00e9\\n\"", "{\"a\":[true,false,null]}",
		" {\"a\" : { \"b\" : [ 1 , 2 ] } } ",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CU_ASSERT_TRUE(jsonio_syntax_ok(good[i], strlen(good[i])));
	CU_ASSERT_FALSE(jsonio_syntax_ok("", 0));
	CU_ASSERT_FALSE(jsonio_syntax_ok("{} {}", 5));
	CU_ASSERT_FALSE(jsonio_syntax_ok("\"\\u12\"", 7));
	CU_ASSERT_FALSE(jsonio_syntax_ok("{\"a\":1", 6));
	CU_ASSERT_FALSE(jsonio_syntax_ok("\"\\u0000\"", 8));
	CU_ASSERT_TRUE(jsonio_syntax_ok("\"\\u0001\"", 8));
}

static void
test_json_depth(void)
{
	char buf[256];
	json_object *o;
	struct wxe pe;
	size_t i, n = 0;

	buf[n++] = '{';
	buf[n++] = '"'; buf[n++] = 'a'; buf[n++] = '"'; buf[n++] = ':';
	for (i = 0; i < 40; i++)
		buf[n++] = '[';
	for (i = 0; i < 40; i++)
		buf[n++] = ']';
	buf[n++] = '}';
	CU_ASSERT_EQUAL(jsonio_parse_object(buf, n, &o, &pe),
	    WX_BAD_REQUEST);
}

static void
test_response_render(void)
{
	struct response r = { 0 };
	char head[512];
	const char *body;
	size_t len;

	{
		struct wxe x;

		(void)wxe_msg(&x, WX_USER_REFUSED, 43101, "no quota");
		resp_fail(&r, &x);
	}
	CU_ASSERT_EQUAL(r.status, 409);
	CU_ASSERT_EQUAL(resp_render(&r, "rid1", head, sizeof(head), &body, &len), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(head, "Status: 409 Conflict\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(head, "Content-Type: application/json; charset=utf-8\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(head, "X-Request-Id: rid1\r\n"));
	CU_ASSERT_STRING_EQUAL(body, "{\"ok\":false,\"error\":\"user_refused\","
	    "\"message\":\"no quota\",\"errcode\":43101}");
	resp_reset(&r);

	strcpy(r.allow, "GET, DELETE");
	{
		struct wxe x;

		(void)wxe_set(&x, WX_METHOD, NULL);
		resp_fail(&r, &x);
	}
	CU_ASSERT_EQUAL(resp_render(&r, "x", head, sizeof(head), &body, &len), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(head, "Allow: GET, DELETE\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"error\":\"method_not_allowed\""));
	resp_reset(&r);

	struct jsonw *o = resp_ok(&r);
	jw_str(o, "page", "a/b");
	CU_ASSERT_EQUAL(resp_render(&r, "x", head, sizeof(head), &body, &len), 0);
	CU_ASSERT_STRING_EQUAL(body, "{\"ok\":true,\"page\":\"a/b\"}");	/* no \/ */
	CU_ASSERT_EQUAL(len, strlen(body));
	CU_ASSERT_PTR_NULL(strstr(head, "Allow:"));
	CU_ASSERT_STRING_EQUAL(head, "Status: 200 OK\r\nContent-Type: "
	    "application/json; charset=utf-8\r\nCache-Control: no-store\r\n"
	    "X-Request-Id: x\r\nContent-Length: 24\r\n\r\n");
	/* A header block that does not fit is refused, not cut. */
	CU_ASSERT_EQUAL(resp_render(&r, "x", head, 60, &body, &len), -1);
	resp_reset(&r);

	/* An answer too big for its buffer: a fixed 500, never a cut one. */
	o = resp_ok(&r);
	for (int i = 0; i < 2 * LIM_ANSWER / 16; i++)
		jw_str(o, "k", "0123456789abcdef");
	CU_ASSERT_EQUAL(resp_render(&r, "x", head, sizeof(head), &body, &len), 0);
	CU_ASSERT_EQUAL(r.status, 500);
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"error\":\"internal_error\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(head, "Status: 500 Internal Server Error\r\n"));
	resp_reset(&r);

	/* Plain text (/metrics) keeps its own type. */
	resp_text(&r, "text/plain; version=0.0.4", strdup("a 1\n"), 4);
	CU_ASSERT_EQUAL(resp_render(&r, "x", head, sizeof(head), &body, &len), 0);
	CU_ASSERT_EQUAL(len, 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(head, "Content-Type: text/plain; version=0.0.4\r\n"));
	resp_reset(&r);
}

/* Parse what jw wrote with json-c; NULL (and a failed assert) if it is not JSON. */
static json_object *
jw_parsed(struct jsonw *w)
{
	const char *text;
	size_t len;
	json_object *o = NULL;
	struct wxe pe;

	text = jw_finish(w, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_EQUAL(strlen(text), len);
	CU_ASSERT_EQUAL(jsonio_parse_object(text, len, &o, &pe), WX_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	return o;
}

static void
test_num(void)
{
	char out[NUM_DEC_MAX], ref[64];
	const long long v[] = { 0, 7, -7, 10, 99, -100, 123456789, LLONG_MAX,
	    LLONG_MIN, LLONG_MIN + 1 };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(ref, sizeof(ref), "%lld", v[i]);
		CU_ASSERT_EQUAL(num_i64(out, v[i]), strlen(ref));
		CU_ASSERT_STRING_EQUAL(out, ref);
	}
	CU_ASSERT_EQUAL(num_u64(out, ULLONG_MAX), 20);
	CU_ASSERT_STRING_EQUAL(out, "18446744073709551615");
	CU_ASSERT_EQUAL(num_u64(out, 1000), 4);
	CU_ASSERT_STRING_EQUAL(out, "1000");
	/* The widest value fills the buffer exactly, NUL included. */
	CU_ASSERT_EQUAL(num_i64(out, LLONG_MIN) + 1, NUM_DEC_MAX);
}

/* The lock waits and the lock's release rule lean on these agreeing. */
static void
test_clock(void)
{
	long long m0 = clock_ms(), m1;
	double s0 = clock_s(), s1;

	clock_sleep_ms(30);
	m1 = clock_ms();
	s1 = clock_s();
	CU_ASSERT(m1 - m0 >= 30);
	CU_ASSERT(m1 - m0 < 1000);
	CU_ASSERT(s1 - s0 >= 0.030);
	/* The same clock in two units (the margin is for a busy machine). */
	CU_ASSERT((s1 - s0) * 1000.0 - (double)(m1 - m0) < 50.0);
	CU_ASSERT((double)(m1 - m0) - (s1 - s0) * 1000.0 < 50.0);
}

static void
test_join(void)
{
	const char *parts[] = { "ab", "", "cde" };
	char out[6];

	CU_ASSERT_EQUAL(join(out, sizeof(out), parts, 3), 0);	/* exact fit */
	CU_ASSERT_STRING_EQUAL(out, "abcde");
	CU_ASSERT_EQUAL(join(out, 5, parts, 3), -1);		/* never cut */
	CU_ASSERT_STRING_EQUAL(out, "");
	CU_ASSERT_EQUAL(join(out, sizeof(out), parts, 0), 0);
	CU_ASSERT_STRING_EQUAL(out, "");
	CU_ASSERT_EQUAL(join(out, 0, parts, 0), -1);
}

static void
test_pct(void)
{
	char out[8];

	CU_ASSERT_EQUAL(pct_decode("a%2Fb%2fc+d", 11, true, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "a/b/c d");
	CU_ASSERT_EQUAL(pct_decode("p+w%40", 6, false, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "p+w@");
	/* Only len bytes count; an exact fit, and one byte more. */
	CU_ASSERT_EQUAL(pct_decode("1234567xyz", 7, false, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "1234567");
	CU_ASSERT_EQUAL(pct_decode("12345678", 8, false, out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(pct_decode("", 0, false, out, 0), -1);
	/* Bad or cut escapes, and NUL in either form. */
	CU_ASSERT_EQUAL(pct_decode("%zz", 3, false, out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(pct_decode("a%4", 3, false, out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(pct_decode("a%41", 3, false, out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(pct_decode("a%00b", 5, true, out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(pct_decode("a\0b", 3, true, out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(pct_hex('F'), 15);
	CU_ASSERT_EQUAL(pct_hex('a'), 10);
	CU_ASSERT_EQUAL(pct_hex('g'), -1);
	CU_ASSERT_EQUAL(pct_hex(0xC3), -1);
}

static void
test_json_writer(void)
{
	static char wbuf[LIM_ANSWER];
	struct jsonw w;
	json_object *o, *v, *in;
	const char *text;
	char s[4], all[256];
	size_t len, i;
	int b;

	/* Every single byte as a value: valid JSON, and back as it was (UTF-8) or U+FFFD. */
	for (b = 1; b < 256; b++) {
		s[0] = (char)b;
		jw_init(&w, wbuf, sizeof(wbuf));
		jw_strn(&w, "v", s, 1);
		o = jw_parsed(&w);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		CU_ASSERT_TRUE(json_object_object_get_ex(o, "v", &v));
		if (b < 0x80) {
			CU_ASSERT(json_object_get_string_len(v) == 1 &&
			    json_object_get_string(v)[0] == (char)b);
		} else {
			CU_ASSERT_STRING_EQUAL(json_object_get_string(v), "\xef\xbf\xbd");
		}
		json_object_put(o);
	}
	/* All of ASCII in one key and one value, NUL included (length given). */
	for (i = 0; i < 128; i++)
		all[i] = (char)i;
	jw_init(&w, wbuf, sizeof(wbuf));
	jw_strn(&w, "all", all, 128);
	/* json-c itself: jsonio refuses \u0000 on purpose. */
	o = json_tokener_parse(jw_finish(&w, &len));
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_TRUE(json_object_object_get_ex(o, "all", &v));
	CU_ASSERT_EQUAL(json_object_get_string_len(v), 128);
	CU_ASSERT_EQUAL(memcmp(json_object_get_string(v), all, 128), 0);
	json_object_put(o);

	/* Exact text: short escapes, \u00XX, UTF-8 kept, U+2028 escaped, bad bytes replaced. */
	jw_init(&w, wbuf, sizeof(wbuf));
	jw_str(&w, "a\"b", "q\"\\/\n\r\t\x01\x1f\x7f");
	jw_str(&w, "zh", "\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80");
	jw_str(&w, "ls", "a\xe2\x80\xa8" "b\xe2\x80\xa9");
	jw_str(&w, "bad", "\xc0\xaf\xed\xa0\x80x\xe4\xb8");
	text = jw_finish(&w, &len);
	CU_ASSERT_STRING_EQUAL(text, "{\"a\\\"b\":\"q\\\"\\\\/\\n\\r\\t\\u0001\\u001f\x7f\","
	    "\"zh\":\"\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80\","
	    "\"ls\":\"a\\u2028b\\u2029\","
	    "\"bad\":\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffdx\\ufffd\\ufffd\"}");

	/* Numbers at their ends, booleans, nesting, and what the parser makes of them. */
	jw_init(&w, wbuf, sizeof(wbuf));
	jw_int(&w, "min", LLONG_MIN);
	jw_int(&w, "max", LLONG_MAX);
	jw_int(&w, "zero", 0);
	jw_uint(&w, "u", ULLONG_MAX);
	jw_bool(&w, "t", true);
	jw_open(&w, "credits");
	jw_int(&w, "T1", 3);
	jw_open(&w, "inner");
	jw_close(&w);
	jw_bool(&w, "f", false);
	jw_close(&w);
	jw_str(&w, "after", "");
	jw_open(&w, "left open");
	jw_int(&w, "n", -7);
	text = jw_finish(&w, &len);
	CU_ASSERT_STRING_EQUAL(text, "{\"min\":-9223372036854775808,"
	    "\"max\":9223372036854775807,\"zero\":0,\"u\":18446744073709551615,"
	    "\"t\":true,\"credits\":{\"T1\":3,\"inner\":{},\"f\":false},"
	    "\"after\":\"\",\"left open\":{\"n\":-7}}");
	in = json_tokener_parse(text);
	CU_ASSERT_PTR_NOT_NULL(in);
	CU_ASSERT_TRUE(json_object_object_get_ex(in, "min", &v) &&
	    json_object_get_int64(v) == LLONG_MIN);
	CU_ASSERT_TRUE(json_object_object_get_ex(in, "credits", &v) &&
	    json_object_object_length(v) == 3);
	json_object_put(in);

	/* Too deep, or a close with nothing open: the text is void. */
	jw_init(&w, wbuf, sizeof(wbuf));
	for (i = 0; i < LIM_JSONW_DEPTH; i++)
		jw_open(&w, "d");
	CU_ASSERT_PTR_NULL(jw_finish(&w, &len));
	CU_ASSERT_EQUAL(len, 0);
	jw_init(&w, wbuf, sizeof(wbuf));
	jw_close(&w);
	CU_ASSERT_PTR_NULL(jw_finish(&w, &len));

	/* Filled to the byte: fits with its NUL, one more does not. */
	char big[LIM_ANSWER];
	size_t room = LIM_ANSWER - 1 - strlen("{\"k\":\"\"}");
	memset(big, 'x', sizeof(big));
	jw_init(&w, wbuf, sizeof(wbuf));
	jw_strn(&w, "k", big, room);
	CU_ASSERT_PTR_NOT_NULL(text = jw_finish(&w, &len));
	CU_ASSERT_EQUAL(len, LIM_ANSWER - 1);
	jw_init(&w, wbuf, sizeof(wbuf));
	jw_strn(&w, "k", big, room + 1);
	CU_ASSERT_PTR_NULL(jw_finish(&w, &len));
	/* JW_STRING_MAX holds the worst string: every byte an escape. */
	char ctl[40], small[JW_STRING_MAX(40) + 2 + 4 + 1];	/* {"k": } NUL */
	memset(ctl, 0x01, sizeof(ctl));
	jw_init(&w, small, sizeof(small) - 1);
	jw_strn(&w, "", ctl, sizeof(ctl));	/* key "" : 2 bytes + ':' */
	CU_ASSERT_PTR_NOT_NULL(jw_finish(&w, &len));
	CU_ASSERT_EQUAL(len, 1 + 2 + 1 + 6 * 40 + 2 + 1);
	/* No room even for "{": void, and nothing written past cap. */
	small[0] = 'x';
	jw_init(&w, small, 1);
	CU_ASSERT_PTR_NULL(jw_finish(&w, &len));
	CU_ASSERT_EQUAL(small[0], 'x');
	jw_init(&w, small, 2);
	CU_ASSERT_PTR_NULL(jw_finish(&w, &len));	/* "{}" and its NUL: 3 */
	jw_init(&w, small, 3);
	CU_ASSERT_STRING_EQUAL(jw_finish(&w, &len), "{}");
	/* A writer used again starts clean. */
	jw_init(&w, wbuf, sizeof(wbuf));
	jw_str(&w, "k", "v");
	CU_ASSERT_STRING_EQUAL(jw_finish(&w, &len), "{\"k\":\"v\"}");
}

static void
test_error_table(void)
{
	static const struct { enum wx_err e; int status; const char *code; } t[] = {
		{ WX_BAD_REQUEST, 400, "bad_request" },
		{ WX_UNKNOWN_TEMPLATE, 400, "unknown_template" },
		{ WX_UNAUTHORIZED, 401, "unauthorized" },
		{ WX_TEMPLATE_BANNED, 403, "template_banned" },
		{ WX_NOT_FOUND, 404, "not_found" },
		{ WX_METHOD, 405, "method_not_allowed" },
		{ WX_NOT_SUBSCRIBED, 409, "not_subscribed" },
		{ WX_TOO_LARGE, 413, "payload_too_large" },
		{ WX_MEDIA_TYPE, 415, "unsupported_media_type" },
		{ WX_INVALID_DATA, 422, "invalid_data" },
		{ WX_WECHAT_DATA, 400, "invalid_data" },
		{ WX_SENSITIVE, 422, "sensitive_content" },
		{ WX_QUOTA, 429, "quota_exceeded" },
		{ WX_CONFIG, 500, "config_error" },
		{ WX_UPSTREAM, 502, "upstream_error" },
		{ WX_TOKEN_UNAVAILABLE, 503, "token_unavailable" },
		{ WX_REDIS_UNAVAILABLE, 503, "redis_unavailable" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CU_ASSERT_EQUAL(wxerr_status(t[i].e), t[i].status);
		CU_ASSERT_STRING_EQUAL(wxerr_code(t[i].e), t[i].code);
	}
	/*
	 * Every error has its own row: no gap, no code used twice (but for
	 * invalid_data: 422 from our check, 400 when WeChat refuses it).
	 */
	for (int e = WX_OK; e < WX__MAX; e++) {
		CU_ASSERT(wxerr_status((enum wx_err)e) >= 200);
		for (int f = e + 1; f < WX__MAX; f++)
			if (!(e == WX_WECHAT_DATA && f == WX_INVALID_DATA) &&
			    !(e == WX_INVALID_DATA && f == WX_WECHAT_DATA))
				CU_ASSERT_STRING_NOT_EQUAL(wxerr_code((enum wx_err)e),
				    wxerr_code((enum wx_err)f));
	}
	CU_ASSERT_EQUAL(wxerr_status((enum wx_err)999), 500);

	/* Every error's status has its own status line in the header block. */
	for (int e = WX_OK + 1; e < WX__MAX; e++) {
		struct response r = { 0 };
		char head[512], want[16];
		const char *body;
		size_t len;

		{
			struct wxe x;

			(void)wxe_set(&x, (enum wx_err)e, NULL);
			resp_fail(&r, &x);
		}
		CU_ASSERT_EQUAL(resp_render(&r, "x", head, sizeof(head), &body, &len), 0);
		snprintf(want, sizeof(want), "Status: %d ", wxerr_status((enum wx_err)e));
		CU_ASSERT_EQUAL(strncmp(head, want, strlen(want)), 0);
		CU_ASSERT_EQUAL(r.status, wxerr_status((enum wx_err)e));
		resp_reset(&r);
	}
}

static void
test_send_errcodes(void)
{
	static const struct { long code; enum wx_err e; } t[] = {
		{ 43101, WX_USER_REFUSED }, { 40003, WX_INVALID_OPENID },
		{ 40037, WX_INVALID_TEMPLATE }, { 47003, WX_WECHAT_DATA },
		{ 41030, WX_INVALID_PAGE }, { 43107, WX_TEMPLATE_BANNED },
		{ 45168, WX_SENSITIVE }, { 45009, WX_QUOTA },
		{ -1, WX_UPSTREAM }, { 43108, WX_UPSTREAM }, { 12345, WX_UPSTREAM },
		{ 40001, WX_TOKEN_UNAVAILABLE }, { 42001, WX_TOKEN_UNAVAILABLE },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CU_ASSERT_EQUAL(wechat_map_send(t[i].code), t[i].e);
	CU_ASSERT_EQUAL(wechat_map_login(40029), WX_INVALID_CODE);
	CU_ASSERT_EQUAL(wechat_map_login(40163), WX_INVALID_CODE);
	CU_ASSERT_EQUAL(wechat_map_login(45011), WX_RATE_LIMITED);
	CU_ASSERT_EQUAL(wechat_map_login(40226), WX_FORBIDDEN);
	CU_ASSERT_EQUAL(wechat_map_login(-1), WX_UPSTREAM);
	CU_ASSERT_EQUAL(wechat_map_login(43101), WX_UPSTREAM);
	CU_ASSERT_TRUE(wechat_token_rejected(40001));
	CU_ASSERT_TRUE(wechat_token_rejected(40014));
	CU_ASSERT_TRUE(wechat_token_rejected(41001));
	CU_ASSERT_TRUE(wechat_token_rejected(42001));
	CU_ASSERT_FALSE(wechat_token_rejected(43101));
	CU_ASSERT_FALSE(wechat_token_rejected(0));
}

static void
test_wechat_message(void)
{
	/* A CJK value, a value with a quote, a backslash and a line break,
	 * a page with a query, and bytes that are not UTF-8. */
	const struct wx_item items[] = {
		{ "thing1", "\xe6\x84\x8f\xe8\xa7\x81\xe6\x8f\x90\xe9\x86\x92", 12 },
		{ "thing2", "a\"b\\c\nd", 7 },
		{ "time3", "2026-11-29 10:30xx", 16 },	/* len counts, not the NUL */
		{ "thing4", "\xff\xfe", 2 },
	};
	struct wx_message m = {
		.openid = "oABCDEFGHIJKLMNOPQRSTUVWXYZ1", .template_id = "TPL_1",
		.page = "pages/a/b?id=7&x=/", .mp_state = "formal", .lang = "zh_CN",
		.data = items, .ndata = 4,
	};
	json_object *o, *d, *v, *val;
	size_t len;
	char *text = wechat_message_text(&m, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_EQUAL(strlen(text), len);
	CU_ASSERT_STRING_EQUAL(text, "{\"touser\":\"oABCDEFGHIJKLMNOPQRSTUVWXYZ1\","
	    "\"template_id\":\"TPL_1\",\"page\":\"pages/a/b?id=7&x=/\","
	    "\"data\":{\"thing1\":{\"value\":\"\xe6\x84\x8f\xe8\xa7\x81\xe6\x8f\x90\xe9\x86\x92\"},"
	    "\"thing2\":{\"value\":\"a\\\"b\\\\c\\nd\"},"
	    "\"time3\":{\"value\":\"2026-11-29 10:30\"},"
	    "\"thing4\":{\"value\":\"\\ufffd\\ufffd\"}},"
	    "\"miniprogram_state\":\"formal\",\"lang\":\"zh_CN\"}");
	o = json_tokener_parse(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_TRUE(json_object_object_get_ex(o, "data", &d));
	CU_ASSERT_EQUAL(json_object_object_length(d), 4);
	CU_ASSERT_TRUE(json_object_object_get_ex(d, "thing2", &v) &&
	    json_object_object_get_ex(v, "value", &val));
	CU_ASSERT_STRING_EQUAL(json_object_get_string(val), "a\"b\\c\nd");
	json_object_put(o);
	free(text);

	/* No page, no data: the members WeChat needs, nothing empty. */
	m.page = "";
	m.ndata = 0;
	text = wechat_message_text(&m, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NULL(strstr(text, "\"page\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"data\":{}"));
	free(text);

	/* The worst escapes still fit the size it computes: 200 control bytes. */
	char ctl[200];
	struct wx_item big = { "thing1", ctl, sizeof(ctl) };
	memset(ctl, 0x01, sizeof(ctl));
	m.data = &big;
	m.ndata = 1;
	m.page = "\x02\x03";
	text = wechat_message_text(&m, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"page\":\"\\u0002\\u0003\""));
	o = json_tokener_parse(text);
	CU_ASSERT_PTR_NOT_NULL(o);
	json_object_put(o);
	free(text);
}

static void
test_wechat_parse(void)
{
	struct wxe ans = { 0 };
	json_object *o;
	const char *ok = "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":3248682510344192008}";
	const char *err = "{\"errcode\":43101,\"errmsg\":\"user refuse\\n rid: 1\"}";

	CU_ASSERT_EQUAL(wechat_parse(ok, strlen(ok), &o, &ans), WX_OK);
	CU_ASSERT_EQUAL(ans.errcode, 0);
	CU_ASSERT_EQUAL(json_object_get_uint64(json_object_object_get(o, "msgid")),
	    3248682510344192008ULL);
	json_object_put(o);

	CU_ASSERT_EQUAL(wechat_parse(err, strlen(err), &o, &ans), WX_UPSTREAM);
	CU_ASSERT_NOT_EQUAL(ans.errcode, 0);
	CU_ASSERT_EQUAL(ans.errcode, 43101);
	CU_ASSERT_PTR_NULL(strchr(ans.msg, '\n'));	/* made log-safe */
	CU_ASSERT_PTR_NOT_NULL(strstr(ans.msg, "43101"));

	memset(&ans, 0, sizeof(ans));
	CU_ASSERT_EQUAL(wechat_parse("<html>", 6, &o, &ans), WX_UPSTREAM);
	CU_ASSERT_EQUAL(ans.errcode, 0);
	CU_ASSERT_EQUAL(wechat_parse("[1]", 3, &o, &ans), WX_UPSTREAM);
}

/* The three answers, read as the calls read them. */
static void
test_wechat_read(void)
{
	static const char tok_ok[] = "{\"access_token\":\"AT-1_x.y~z*\","
	    "\"expires_in\":7200}";
	static const char tok_bad[] = "{\"access_token\":\"a b\",\"expires_in\":7200}";
	static const char tok_long[] = "{\"access_token\":\"AT\",\"expires_in\":86401}";
	static const char sent[] = "{\"errcode\":0,\"errmsg\":\"ok\","
	    "\"msgid\":3248682510344192008}";
	static const char refused[] = "{\"errcode\":43101,\"errmsg\":\"user refuse\"}";
	static const char login[] = "{\"openid\":\"oABCDEFGHIJKLMNOPQRSTUVWXYZ1\","
	    "\"session_key\":\"c2Vzc2lvbg==\"}";
	static const char login_half[] = "{\"openid\":\"oABCDEFGHIJKLMNOPQRSTUVWXYZ1\"}";
	static const char bad_code[] = "{\"errcode\":40029,\"errmsg\":\"invalid code\"}";
	struct wxe ans;
	struct wx_token t;
	struct wx_login l;
	uint64_t id;

	CU_ASSERT_EQUAL(wechat_read_token(200, tok_ok, sizeof(tok_ok) - 1, &t,
	    &ans), WX_OK);
	CU_ASSERT_STRING_EQUAL(t.token, "AT-1_x.y~z*");
	CU_ASSERT_EQUAL(t.expires_in, 7200);
	/* Only the bytes given count: one short is not JSON. */
	CU_ASSERT_EQUAL(wechat_read_token(200, tok_ok, sizeof(tok_ok) - 2, &t,
	    &ans), WX_TOKEN_UNAVAILABLE);
	CU_ASSERT_STRING_EQUAL(t.token, "");
	CU_ASSERT_EQUAL(wechat_read_token(200, tok_bad, sizeof(tok_bad) - 1, &t,
	    &ans), WX_TOKEN_UNAVAILABLE);	/* would break the URL */
	CU_ASSERT_EQUAL(wechat_read_token(200, tok_long, sizeof(tok_long) - 1, &t,
	    &ans), WX_TOKEN_UNAVAILABLE);
	CU_ASSERT_PTR_NOT_NULL(strstr(ans.msg, "expires_in"));
	CU_ASSERT_EQUAL(wechat_read_token(502, tok_ok, sizeof(tok_ok) - 1, &t,
	    &ans), WX_TOKEN_UNAVAILABLE);
	CU_ASSERT_PTR_NOT_NULL(strstr(ans.msg, "HTTP 502"));

	CU_ASSERT_EQUAL(wechat_read_send(200, sent, sizeof(sent) - 1, &id, &ans),
	    WX_OK);
	CU_ASSERT_EQUAL(id, 3248682510344192008ULL);
	CU_ASSERT_EQUAL(wechat_read_send(200, refused, sizeof(refused) - 1, &id,
	    &ans), wechat_map_send(43101));
	CU_ASSERT_NOT_EQUAL(ans.errcode, 0);
	CU_ASSERT_EQUAL(ans.errcode, 43101);
	CU_ASSERT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(wechat_read_send(500, sent, sizeof(sent) - 1, &id, &ans),
	    WX_UPSTREAM);
	CU_ASSERT_EQUAL(ans.errcode, 0);

	CU_ASSERT_EQUAL(wechat_read_login(200, login, sizeof(login) - 1, &l, &ans),
	    WX_OK);
	CU_ASSERT_STRING_EQUAL(l.openid, "oABCDEFGHIJKLMNOPQRSTUVWXYZ1");
	CU_ASSERT_STRING_EQUAL(l.session_key, "c2Vzc2lvbg==");
	CU_ASSERT_STRING_EQUAL(l.unionid, "");
	/* Half an answer leaves nothing behind, the openId included. */
	CU_ASSERT_EQUAL(wechat_read_login(200, login_half, sizeof(login_half) - 1,
	    &l, &ans), WX_UPSTREAM);
	CU_ASSERT_STRING_EQUAL(l.openid, "");
	CU_ASSERT_EQUAL(wechat_read_login(200, bad_code, sizeof(bad_code) - 1, &l,
	    &ans), WX_INVALID_CODE);
	CU_ASSERT_EQUAL(ans.errcode, 40029);

	/*
	 * An answer cut off inside a surrogate pair leaves nothing behind:
	 * the next answer's escapes read as they are (the key and the
	 * reason below start with one).
	 */
	{
		static const char cut[] = "{\"errmsg\":\"\\ud83d";
		static const char next[] = "{\"errcode\":40001,"
		    "\"errmsg\":\"\\u0041 token\"}";
		static const char key[] = "{\"\\u006dsgid\":42}";

		CU_ASSERT_EQUAL(wechat_read_send(200, cut, sizeof(cut) - 1, &id,
		    &ans), WX_UPSTREAM);
		(void)wechat_read_send(200, next, sizeof(next) - 1, &id, &ans);
		CU_ASSERT_STRING_EQUAL(ans.msg, "errcode 40001: A token");
		CU_ASSERT_EQUAL(wechat_read_send(200, cut, sizeof(cut) - 1, &id,
		    &ans), WX_UPSTREAM);
		CU_ASSERT_EQUAL(wechat_read_send(200, key, sizeof(key) - 1, &id,
		    &ans), WX_OK);
		CU_ASSERT_EQUAL(id, 42);
	}
}

/*
 * WeChat's plain success answer is read without json-c: the same
 * results as the general way, which takes every other text.
 */
static void
test_wechat_read_plain(void)
{
	static const struct {
		const char	*text;
		long		 status;
		enum wx_err	 err;
		uint64_t	 id;
	} cases[] = {
		{ "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":2813570231456448513}",
		  200, WX_OK, 2813570231456448513ULL },
		{ "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":9999999999999999999}",
		  200, WX_OK, 9999999999999999999ULL },
		{ "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":0}", 200, WX_OK, 0 },
		{ "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":7}", 200, WX_OK, 7 },
		/* the general way: 20 digits, spaces, other orders */
		{ "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":18446744073709551615}",
		  200, WX_OK, 18446744073709551615ULL },
		{ "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":12} ", 200, WX_OK, 12 },
		{ "{\"msgid\":12,\"errcode\":0,\"errmsg\":\"ok\"}", 200, WX_OK, 12 },
		{ "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":1x}", 200, WX_UPSTREAM, 0 },
		{ "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":}", 200, WX_UPSTREAM, 0 },
		{ "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":12", 200, WX_UPSTREAM, 0 },
		{ "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":12}", 500, WX_UPSTREAM, 0 },
	};
	static const char refused[] = "{\"errcode\":43101,\"errmsg\":\"refuse\"}";
	struct wxe ans;
	uint64_t id;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* a refusal first: nothing of it may stay in ans */
		(void)wechat_read_send(200, refused, sizeof(refused) - 1, &id,
		    &ans);
		CU_ASSERT_EQUAL(wechat_read_send(cases[i].status, cases[i].text,
		    strlen(cases[i].text), &id, &ans), cases[i].err);
		CU_ASSERT_EQUAL(id, cases[i].id);
		CU_ASSERT_EQUAL(ans.errcode, 0);
		CU_ASSERT_EQUAL(ans.errcode, 0);
		if (cases[i].err == WX_OK)
			CU_ASSERT_STRING_EQUAL(ans.msg, "");
	}
}

static void
test_keys(void)
{
	struct config c;
	char k[LIM_KEY], tiny[16];

	conf_defaults(&c);
	CU_ASSERT_EQUAL(store_key_sub(&c, "T1", "oABCDEFGHIJKLMNOPQRSTUVWXYZ1", k,
	    sizeof(k)), 0);
	CU_ASSERT_STRING_EQUAL(k, "SUBSCRIBE:T1:oABCDEFGHIJKLMNOPQRSTUVWXYZ1");
	CU_ASSERT_EQUAL(store_key(&c, "sendlock", "u1", k, sizeof(k)), 0);
	CU_ASSERT_STRING_EQUAL(k, "WXSUB:sendlock:u1");
	CU_ASSERT_EQUAL(store_key(&c, "token:force", NULL, k, sizeof(k)), 0);
	CU_ASSERT_STRING_EQUAL(k, "WXSUB:token:force");
	/* Too long for the buffer: refused, never truncated. */
	CU_ASSERT_EQUAL(store_key_sub(&c, "T1", "oABCDEFGHIJKLMNOPQRSTUVWXYZ1",
	    tiny, sizeof(tiny)), -1);
	CU_ASSERT_STRING_EQUAL(tiny, "");
	/* "SUBSCRIBE:T:" + 3 = 15 characters: fits 16 exactly, not 15. */
	CU_ASSERT_EQUAL(store_key_sub(&c, "T", "abc", tiny, sizeof(tiny)), 0);
	CU_ASSERT_STRING_EQUAL(tiny, "SUBSCRIBE:T:abc");
	CU_ASSERT_EQUAL(store_key_sub(&c, "T", "abc", tiny, sizeof(tiny) - 1), -1);
	CU_ASSERT_STRING_EQUAL(c.token_key, "WECHAT:ACCESS_TOKEN");
	CU_ASSERT_STRING_EQUAL(c.lock_key, "WECHAT:APPEAL_TOKEN_LOCK");
}

static void
test_auth(void)
{
	struct config c;

	conf_defaults(&c);
	strcpy(c.api_keys[0], "key-number-one-0123456789");
	strcpy(c.api_keys[1], "key-number-two-0123456789");
	c.n_api_keys = 2;

	CU_ASSERT_STRING_EQUAL(auth_bearer("Bearer abc"), "abc");
	CU_ASSERT_STRING_EQUAL(auth_bearer("bearer  abc"), "abc");
	CU_ASSERT_PTR_NULL(auth_bearer("Basic abc"));
	CU_ASSERT_PTR_NULL(auth_bearer("Bearer "));
	CU_ASSERT_PTR_NULL(auth_bearer(""));
	CU_ASSERT_PTR_NULL(auth_bearer(NULL));

	CU_ASSERT_TRUE(auth_apikey_ok(&c, "key-number-one-0123456789"));
	CU_ASSERT_TRUE(auth_apikey_ok(&c, "key-number-two-0123456789"));
	CU_ASSERT_FALSE(auth_apikey_ok(&c, "key-number-one-012345678"));
	CU_ASSERT_FALSE(auth_apikey_ok(&c, "key-number-one-01234567890"));
	CU_ASSERT_FALSE(auth_apikey_ok(&c, ""));
	CU_ASSERT_FALSE(sec_equal("abc", "abd"));
	CU_ASSERT_TRUE(sec_equal("abc", "abc"));
	CU_ASSERT_FALSE(sec_equal("", "abc"));
	/* Longer and shorter candidates walk round the stored key. */
	CU_ASSERT_FALSE(sec_equal("abcabc", "abc"));
	CU_ASSERT_FALSE(sec_equal("abcab", "abc"));
	CU_ASSERT_FALSE(sec_equal("ab", "abc"));
	CU_ASSERT_FALSE(sec_equal("abc", ""));
	c.n_api_keys = 0;
	CU_ASSERT_FALSE(auth_apikey_ok(&c, "key-number-one-0123456789"));
}

static void
test_netmask(void)
{
	struct net n;

	CU_ASSERT_EQUAL_FATAL(net_parse("10.0.0.0/8", &n), 0);
	CU_ASSERT_TRUE(net_contains(&n, "10.1.2.3"));
	CU_ASSERT_TRUE(net_contains(&n, "::ffff:10.1.2.3"));
	CU_ASSERT_FALSE(net_contains(&n, "11.0.0.1"));
	CU_ASSERT_FALSE(net_contains(&n, "garbage"));
	CU_ASSERT_FALSE(net_contains(&n, NULL));
	CU_ASSERT_EQUAL_FATAL(net_parse("127.0.0.1", &n), 0);
	CU_ASSERT_TRUE(net_contains(&n, "127.0.0.1"));
	CU_ASSERT_FALSE(net_contains(&n, "127.0.0.2"));
	CU_ASSERT_EQUAL_FATAL(net_parse("fd00::/8", &n), 0);
	CU_ASSERT_TRUE(net_contains(&n, "fd12::1"));
	CU_ASSERT_FALSE(net_contains(&n, "fe80::1"));
	CU_ASSERT_EQUAL_FATAL(net_parse("10.0.0.0/12", &n), 0);
	CU_ASSERT_TRUE(net_contains(&n, "10.15.255.255"));
	CU_ASSERT_FALSE(net_contains(&n, "10.16.0.0"));
	CU_ASSERT_EQUAL(net_parse("10.0.0.0/33", &n), -1);
	CU_ASSERT_EQUAL(net_parse("10.0.0.0/", &n), -1);
	CU_ASSERT_EQUAL(net_parse("10.0.0/8", &n), -1);
	CU_ASSERT_EQUAL(net_parse("", &n), -1);
}

static void
test_metrics_render(void)
{
	const char *f[] = { "r|/send|200", "r|/send|409", "s|user_refused|43101",
		"c|token_fetch_ok", "h|redis|0", "h|redis|3", "hs|redis", "hc|redis",
		"r|bad\"label|200", "junk" };
	const long long v[] = { 7, 2, 1, 1, 5, 1, 2500, 6, 9, 3 };
	char out[8192], tiny[64];
	long n = metrics_render(f, v, 10, out, sizeof(out));

	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL((size_t)n, strlen(out));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "wxsub_requests_total{route=\"/send\",status=\"200\"} 7\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "wxsub_requests_total{route=\"/send\",status=\"409\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "wxsub_sends_total{outcome=\"user_refused\",errcode=\"43101\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "wxsub_token_fetches_total{result=\"ok\"} 1\n"));
	/* buckets are cumulative */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "wxsub_redis_seconds_bucket{le=\"0.0005\"} 5\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "wxsub_redis_seconds_bucket{le=\"0.001\"} 5\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "wxsub_redis_seconds_bucket{le=\"0.005\"} 6\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "wxsub_redis_seconds_bucket{le=\"+Inf\"} 6\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "wxsub_redis_seconds_sum 0.002500\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "wxsub_redis_seconds_count 6\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "bad"));		/* a label that would break the line */
	CU_ASSERT_EQUAL(metrics_render(f, v, 10, tiny, sizeof(tiny)), -1);
}

static void
test_metrics_table(void)
{
	const char *const *f;
	const long long *d;
	size_t n;

	metrics_clear();
	metrics_request("/send", 200);
	metrics_request("/send", 200);
	metrics_send("sent", 0);
	metrics_observe(HIST_WECHAT, 0.003);
	n = metrics_pending(&f, &d);
	CU_ASSERT_EQUAL_FATAL(n, 5);
	CU_ASSERT_STRING_EQUAL(f[0], "r|/send|200");
	CU_ASSERT_EQUAL(d[0], 2);
	CU_ASSERT_STRING_EQUAL(f[1], "s|sent|0");
	CU_ASSERT_STRING_EQUAL(f[2], "h|wechat|3");	/* 0.0025 < 0.003 <= 0.005 */
	CU_ASSERT_STRING_EQUAL(f[3], "hs|wechat");
	CU_ASSERT_EQUAL(d[3], 3000);
	CU_ASSERT_FALSE(metrics_due());		/* cleared less than 1 s ago */
	metrics_clear();
	CU_ASSERT_EQUAL(metrics_pending(&f, &d), 0);
}

static void
test_sha256_and_sessions(void)
{
	char hex[65];

	crypto_sha256_hex("abc", 3, hex);
	CU_ASSERT_STRING_EQUAL(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	crypto_sha256_hex("", 0, hex);
	CU_ASSERT_STRING_EQUAL(hex,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* 56 bytes: the padding spills into a second block */
	crypto_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	CU_ASSERT_STRING_EQUAL(hex,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

	CU_ASSERT_TRUE(session_token_shape("wxs_S2w_Rskeg3fQ7c-ldgxpAvuu5gQO8sE8ruTi86F_GRc"));
	CU_ASSERT_FALSE(session_token_shape("wxs_S2w_Rskeg3fQ7c-ldgxpAvuu5gQO8sE8ruTi86F_GR"));
	CU_ASSERT_FALSE(session_token_shape("wxs_S2w_Rskeg3fQ7c-ldgxpAvuu5gQO8sE8ruTi86F_GR="));
	CU_ASSERT_FALSE(session_token_shape("xxs_S2w_Rskeg3fQ7c-ldgxpAvuu5gQO8sE8ruTi86F_GRc"));
	CU_ASSERT_FALSE(session_token_shape(NULL));
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "route table", test_route_table },
		{ "route paths", test_route_paths },
		{ "request parse", test_request_parse },
		{ "request refusals", test_request_refusals },
		{ "query strings", test_query },
		{ "decimal text", test_num },
		{ "strings joined", test_join },
		{ "monotonic clock", test_clock },
		{ "percent-decoding", test_pct },
		{ "content type", test_content_type },
		{ "strict JSON", test_json_strict },
		{ "JSON syntax", test_json_syntax_ok },
		{ "JSON depth", test_json_depth },
		{ "response render", test_response_render },
		{ "JSON writer", test_json_writer },
		{ "error table", test_error_table },
		{ "send errcodes", test_send_errcodes },
		{ "WeChat answers", test_wechat_parse },
		{ "WeChat answers read", test_wechat_read },
		{ "WeChat's plain success read as json-c would", test_wechat_read_plain },
		{ "WeChat message", test_wechat_message },
		{ "Redis keys", test_keys },
		{ "api keys", test_auth },
		{ "networks", test_netmask },
		{ "metrics render", test_metrics_render },
		{ "metrics table", test_metrics_table },
		{ "sha256, session shape", test_sha256_and_sessions },
	};

	return unit_run("core", tests, sizeof(tests) / sizeof(tests[0]));
}
