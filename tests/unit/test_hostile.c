/*
 * test_hostile.c: the pure parts of issue 11's defences: the read
 * deadline's timer (it must interrupt a blocked read, and only while
 * armed), the login guard's address buckets, the Retry-After header, the
 * new error codes and config keys.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "deadline.h"
#include "guard.h"
#include "jsonio.h"
#include "response.h"
#include "wxerr.h"
#include "unit.h"

static void
test_deadline_clock(void)
{
	struct deadline d;

	dl_start(&d, 0);
	CU_ASSERT_FALSE(dl_passed(&d));
	CU_ASSERT(dl_left_ms(&d) > 1000000);
	dl_start(&d, 10000);
	CU_ASSERT_FALSE(dl_passed(&d));
	CU_ASSERT(dl_left_ms(&d) > 9000 && dl_left_ms(&d) <= 10000);
	dl_start(&d, 1);
	clock_sleep_ms(5);
	CU_ASSERT_TRUE(dl_passed(&d));
	/* the drain's floor moves a passed deadline later, never sooner */
	dl_at_least(&d, 300);
	CU_ASSERT(dl_left_ms(&d) > 200);
	dl_at_least(&d, 10);
	CU_ASSERT(dl_left_ms(&d) > 200);
}

/* A read that nothing will ever satisfy ends at the deadline: EINTR. */
static void
test_deadline_interrupts_a_read(void)
{
	struct deadline d;
	int fds[2];
	char c;
	ssize_t n;
	double t0, took;

	CU_ASSERT_EQUAL_FATAL(dl_init(), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	dl_start(&d, 50);
	dl_arm(&d);
	t0 = clock_s();
	n = read(fds[0], &c, 1);
	took = clock_s() - t0;
	CU_ASSERT_EQUAL(n, -1);
	CU_ASSERT_EQUAL(errno, EINTR);
	CU_ASSERT(took >= 0.040 && took < 5.0);
	/* still armed: a read begun after the deadline is cut too */
	n = read(fds[0], &c, 1);
	CU_ASSERT_EQUAL(n, -1);
	CU_ASSERT_EQUAL(errno, EINTR);
	dl_disarm();
	/* disarmed: the pipe's data is read normally, nothing fires later */
	CU_ASSERT_EQUAL(write(fds[1], "x", 1), 1);
	clock_sleep_ms(3 * DL_REPEAT_MS);
	CU_ASSERT_EQUAL(read(fds[0], &c, 1), 1);
	close(fds[0]);
	close(fds[1]);
}

static void
test_guard_buckets(void)
{
	static const struct {
		const char	*in, *want;
	} rows[] = {
		{ "192.0.2.7", "192.0.2.7" },
		{ "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64" },
		{ "2001:db8:1:2::ffff", "2001:db8:1:2::/64" },
		{ "2001:DB8:1:2:aaaa::1", "2001:db8:1:2::/64" },
		{ "::ffff:192.0.2.9", "192.0.2.9" },
		{ "::1", "::/64" },
		{ "", "other" },
		{ "not an address", "other" },
		{ "192.0.2.7:80", "other" },
	};
	char out[GUARD_BUCKET_MAX];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		guard_bucket(rows[i].in, out, sizeof(out));
		CU_ASSERT_STRING_EQUAL(out, rows[i].want);
	}
	/* the longest form fits */
	guard_bucket("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", out,
	    sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "ffff:ffff:ffff:ffff::/64");
}

static void
test_retry_after(void)
{
	struct response r;
	char head[512];
	const char *body;
	size_t len;

	resp_init(&r);
	{
		struct wxe x;

		(void)wxe_set(&x, WX_BUSY, NULL);
		resp_fail(&r, &x);
	}
	r.retry_after = 1;
	CU_ASSERT_EQUAL(resp_render(&r, "0123456789abcdef", head, sizeof(head),
	    &body, &len), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(head, "Status: 503 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(head, "\r\nRetry-After: 1\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"error\":\"busy\""));
	resp_reset(&r);
	{
		struct wxe x;

		(void)wxe_set(&x, WX_READ_TIMEOUT, NULL);
		resp_fail(&r, &x);
	}
	CU_ASSERT_EQUAL(resp_render(&r, "0123456789abcdef", head, sizeof(head),
	    &body, &len), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(head, "Status: 408 Request Timeout"));
	CU_ASSERT_PTR_NULL(strstr(head, "Retry-After"));
	resp_reset(&r);
}

static void
test_keys_and_defaults(void)
{
	struct config c;
	char err[512];
	static const char base[] = "wechat.appid = wx0123456789abcdef\n"
	    "wechat.secret = s3cr3t\n";
	char buf[1024];

	conf_defaults(&c);
	CU_ASSERT_EQUAL(c.read_timeout_ms, 10000);
	CU_ASSERT_EQUAL(c.login_timeout_ms, 2000);
	CU_ASSERT_EQUAL(c.login_max_inflight, 2);
	CU_ASSERT_EQUAL(c.login_rate, 60);
	snprintf(buf, sizeof(buf), "%shttp.readTimeoutMs = 1500\n"
	    "wechat.loginTimeoutMs = 900\nlogin.maxInFlight = 0\n"
	    "login.ratePerMinute = 0\n", base);
	CU_ASSERT_EQUAL_FATAL(conf_parse(&c, buf, strlen(buf), "t.conf", err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.read_timeout_ms, 1500);
	CU_ASSERT_EQUAL(c.login_timeout_ms, 900);
	CU_ASSERT_EQUAL(c.login_max_inflight, 0);
	CU_ASSERT_EQUAL(c.login_rate, 0);
	snprintf(buf, sizeof(buf), "%shttp.readTimeoutMs = 99\n", base);
	CU_ASSERT_EQUAL(conf_parse(&c, buf, strlen(buf), "t.conf", err,
	    sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "t.conf:3: http.readTimeoutMs: not a "
	    "whole number in 100..600000");
	snprintf(buf, sizeof(buf), "%slogin.maxInflight = 3\n", base);
	CU_ASSERT_EQUAL(conf_parse(&c, buf, strlen(buf), "t.conf", err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "did you mean login.maxInFlight?"));
}

static void
test_duplicate_keys(void)
{
	static const struct {
		const char	*body;
		bool		 ok;
	} rows[] = {
		{ "{\"a\":1,\"b\":2}", true },
		{ "{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}", true },
		{ "{\"a\":1,\"a\":2}", false },
		{ "{\"a\":1,\"\\u0061\":2}", false },	/* the same key, escaped */
		{ "{\"x\":{\"a\":1,\"b\":2,\"a\":3}}", false },
		{ "{\"x\":[1,{\"k\":1,\"k\":1}]}", false },
		{ "{\"a\":1,\"A\":2}", true },		/* keys are case-sensitive */
		{ "{}", true },
	};
	json_object *o;
	struct wxe pe;
	char *msg = pe.msg;
	size_t i;
	enum wx_err err;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		err = jsonio_parse_object(rows[i].body, strlen(rows[i].body),
		    &o, &pe);
		CU_ASSERT_EQUAL(err, rows[i].ok ? WX_OK : WX_BAD_REQUEST);
		if (err == WX_OK)
			json_object_put(o);
		else
			CU_ASSERT_PTR_NOT_NULL(strstr(msg, "twice"));
	}
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "deadline clock", test_deadline_clock },
		{ "deadline interrupts a read", test_deadline_interrupts_a_read },
		{ "guard address buckets", test_guard_buckets },
		{ "Retry-After, 408", test_retry_after },
		{ "keys and defaults", test_keys_and_defaults },
		{ "duplicate JSON keys", test_duplicate_keys },
	};

	return unit_run("hostile", tests, sizeof(tests) / sizeof(tests[0]));
}
