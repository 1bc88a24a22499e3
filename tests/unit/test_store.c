/*
 * test_store.c: CUnit tests of store.c's reply readers and token.c's
 * decisions, without a server. Replies are written in Redis' wire format
 * and parsed by hiredis' own reader (no socket), as a live connection
 * would parse them, then handed to the readers.
 */
#include <string.h>

#include <CUnit/Basic.h>
#include <hiredis/hiredis.h>

#include "unit.h"
#include "unit_reply.h"

#include "redis.h"
#include "store.h"
#include "token.h"

static void
test_read_token(void)
{
	char tok[8];
	long long ttl;
	redisReply *r;

	r = reply("*2\r\n$3\r\nabc\r\n:6900\r\n");
	CU_ASSERT_EQUAL(store_read_token(r, tok, sizeof(tok), &ttl), WX_OK);
	CU_ASSERT_STRING_EQUAL(tok, "abc");
	CU_ASSERT_EQUAL(ttl, 6900);
	freeReplyObject(r);

	/* No token: nil and TTL -2. */
	r = reply("*2\r\n$-1\r\n:-2\r\n");
	CU_ASSERT_EQUAL(store_read_token(r, tok, sizeof(tok), &ttl), WX_OK);
	CU_ASSERT_STRING_EQUAL(tok, "");
	CU_ASSERT_EQUAL(ttl, -2);
	freeReplyObject(r);

	/* A token without a TTL (set by hand): -1. */
	r = reply("*2\r\n$1\r\nt\r\n:-1\r\n");
	CU_ASSERT_EQUAL(store_read_token(r, tok, sizeof(tok), &ttl), WX_OK);
	CU_ASSERT_STRING_EQUAL(tok, "t");
	CU_ASSERT_EQUAL(ttl, -1);
	freeReplyObject(r);

	/* 8 bytes do not fit 8 with the NUL: refused, never cut. */
	r = reply("*2\r\n$8\r\n12345678\r\n:5\r\n");
	CU_ASSERT_EQUAL(store_read_token(r, tok, sizeof(tok), &ttl), WX_INTERNAL);
	CU_ASSERT_STRING_EQUAL(tok, "");
	freeReplyObject(r);
	r = reply("*2\r\n$7\r\n1234567\r\n:5\r\n");
	CU_ASSERT_EQUAL(store_read_token(r, tok, sizeof(tok), &ttl), WX_OK);
	CU_ASSERT_STRING_EQUAL(tok, "1234567");
	freeReplyObject(r);

	/* Shapes a script of ours never returns. */
	r = reply(":1\r\n");
	CU_ASSERT_EQUAL(store_read_token(r, tok, sizeof(tok), &ttl), WX_INTERNAL);
	freeReplyObject(r);
	r = reply("*1\r\n$1\r\nt\r\n");
	CU_ASSERT_EQUAL(store_read_token(r, tok, sizeof(tok), &ttl), WX_INTERNAL);
	CU_ASSERT_STRING_EQUAL(tok, "");
	freeReplyObject(r);
}

static void
test_read_simple(void)
{
	char out[4];
	redisReply *r;

	r = reply("+OK\r\n");
	CU_ASSERT_TRUE(store_read_set_nx(r));
	freeReplyObject(r);
	r = reply("$-1\r\n");
	CU_ASSERT_FALSE(store_read_set_nx(r));
	store_read_string(r, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "");
	freeReplyObject(r);

	r = reply("$3\r\nwhy\r\n");
	store_read_string(r, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "why");
	freeReplyObject(r);
	r = reply("$4\r\nwhy?\r\n");	/* too long: "" */
	store_read_string(r, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "");
	freeReplyObject(r);

	r = reply(":3\r\n");
	CU_ASSERT_EQUAL(store_read_integer(r), 3);
	freeReplyObject(r);
	r = reply("$1\r\n3\r\n");	/* a string is not an integer reply */
	CU_ASSERT_EQUAL(store_read_integer(r), 0);
	freeReplyObject(r);
}

static void
test_read_counts(void)
{
	long long c[5];
	redisReply *r;

	/* A count, none, garbage, a negative, the seed's "1". */
	r = reply("*5\r\n$1\r\n5\r\n$-1\r\n$3\r\nabc\r\n$2\r\n-3\r\n$1\r\n1\r\n");
	CU_ASSERT_EQUAL(store_read_counts(r, 5, c), WX_OK);
	CU_ASSERT_EQUAL(c[0], 5);
	CU_ASSERT_EQUAL(c[1], 0);
	CU_ASSERT_EQUAL(c[2], 0);
	CU_ASSERT_EQUAL(c[3], 0);
	CU_ASSERT_EQUAL(c[4], 1);
	CU_ASSERT_EQUAL(store_read_counts(r, 4, c), WX_INTERNAL);
	freeReplyObject(r);
	r = reply("$-1\r\n");
	CU_ASSERT_EQUAL(store_read_counts(r, 1, c), WX_INTERNAL);
	freeReplyObject(r);

	/* The credit script: integers, one per key. */
	r = reply("*2\r\n:1\r\n:7\r\n");
	CU_ASSERT_EQUAL(store_read_credit_script(r, 2, c), WX_OK);
	CU_ASSERT_EQUAL(c[0], 1);
	CU_ASSERT_EQUAL(c[1], 7);
	CU_ASSERT_EQUAL(store_read_credit_script(r, 3, c), WX_INTERNAL);
	freeReplyObject(r);
}

static void
test_read_credit_step(void)
{
	long long n = -9;
	redisReply *ok = reply("+OK\r\n"), *four = reply(":4\r\n");
	redisReply *refused = reply("-ERR value is not an integer or out of "
	    "range\r\n");

	CU_ASSERT_TRUE(store_read_credit_step(ok, true, &n));
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_TRUE(store_read_credit_step(four, false, &n));
	CU_ASSERT_EQUAL(n, 4);
	n = -9;
	CU_ASSERT_FALSE(store_read_credit_step(refused, false, &n));
	CU_ASSERT_FALSE(store_read_credit_step(refused, true, &n));
	/* A marker's SET never answers an integer, a count's INCRBY no +OK. */
	CU_ASSERT_FALSE(store_read_credit_step(four, true, &n));
	CU_ASSERT_FALSE(store_read_credit_step(ok, false, &n));
	CU_ASSERT_EQUAL(n, -9);
	freeReplyObject(ok);
	freeReplyObject(four);
	freeReplyObject(refused);
}

static void
test_read_send_begin(void)
{
	struct send_claim c;
	redisReply *r, *tok, *ttl, *nil, *neg, *err;

	tok = reply("$5\r\ntoken\r\n");
	ttl = reply(":6000\r\n");
	nil = reply("$-1\r\n");
	neg = reply(":-2\r\n");
	err = reply("-WRONGTYPE Operation against a key holding the wrong "
	    "kind of value\r\n");

	memset(&c, 0x5A, sizeof(c));
	r = reply(":-2\r\n");
	CU_ASSERT_EQUAL(store_read_send_begin(r, tok, ttl, &c), WX_OK);
	CU_ASSERT_EQUAL(c.state, SEND_BUSY);
	CU_ASSERT_STRING_EQUAL(c.token, "");
	freeReplyObject(r);

	r = reply(":-3\r\n");
	CU_ASSERT_EQUAL(store_read_send_begin(r, tok, ttl, &c), WX_OK);
	CU_ASSERT_EQUAL(c.state, SEND_NONE);
	CU_ASSERT_STRING_EQUAL(c.token, "");
	freeReplyObject(r);

	r = reply(":2591999000\r\n");
	CU_ASSERT_EQUAL(store_read_send_begin(r, tok, ttl, &c), WX_OK);
	CU_ASSERT_EQUAL(c.state, SEND_TAKEN);
	CU_ASSERT_EQUAL(c.pttl, 2591999000LL);
	CU_ASSERT_STRING_EQUAL(c.token, "token");
	CU_ASSERT_EQUAL(c.token_ttl, 6000);

	/* Taken, no token cached (nil, -2). */
	CU_ASSERT_EQUAL(store_read_send_begin(r, nil, neg, &c), WX_OK);
	CU_ASSERT_EQUAL(c.state, SEND_TAKEN);
	CU_ASSERT_STRING_EQUAL(c.token, "");
	CU_ASSERT_EQUAL(c.token_ttl, -2);

	/* Taken, a token key of another type: the claim stands, no token. */
	CU_ASSERT_EQUAL(store_read_send_begin(r, err, ttl, &c), WX_OK);
	CU_ASSERT_EQUAL(c.state, SEND_TAKEN);
	CU_ASSERT_STRING_EQUAL(c.token, "");
	/* The token's replies missing: never a claim read as one. */
	CU_ASSERT_EQUAL(store_read_send_begin(r, NULL, NULL, &c), WX_INTERNAL);
	CU_ASSERT_NOT_EQUAL(c.state, SEND_TAKEN);
	freeReplyObject(r);

	/* Taken, a persistent credit. */
	r = reply(":-1\r\n");
	CU_ASSERT_EQUAL(store_read_send_begin(r, tok, ttl, &c), WX_OK);
	CU_ASSERT_EQUAL(c.state, SEND_TAKEN);
	CU_ASSERT_EQUAL(c.pttl, -1);
	freeReplyObject(r);

	/* Malformed: never a claim. */
	r = reply("*2\r\n:1\r\n:5\r\n");	/* the old table form */
	CU_ASSERT_EQUAL(store_read_send_begin(r, tok, ttl, &c), WX_INTERNAL);
	CU_ASSERT_NOT_EQUAL(c.state, SEND_TAKEN);
	freeReplyObject(r);
	r = reply("*0\r\n");
	CU_ASSERT_EQUAL(store_read_send_begin(r, tok, ttl, &c), WX_INTERNAL);
	freeReplyObject(r);
	r = reply("$1\r\n1\r\n");
	CU_ASSERT_EQUAL(store_read_send_begin(r, tok, ttl, &c), WX_INTERNAL);
	freeReplyObject(r);
	r = reply(":-4\r\n");
	CU_ASSERT_EQUAL(store_read_send_begin(r, tok, ttl, &c), WX_INTERNAL);
	CU_ASSERT_NOT_EQUAL(c.state, SEND_TAKEN);
	freeReplyObject(r);
	freeReplyObject(tok);
	freeReplyObject(ttl);
	freeReplyObject(nil);
	freeReplyObject(neg);
	freeReplyObject(err);
}

static void
test_read_session(void)
{
	char h[8], o[8];
	redisReply *r;

	r = reply("*2\r\n$3\r\nabc\r\n$2\r\noX\r\n");
	store_read_session(r, h, sizeof(h), o, sizeof(o));
	CU_ASSERT_STRING_EQUAL(h, "abc");
	CU_ASSERT_STRING_EQUAL(o, "oX");
	freeReplyObject(r);
	r = reply("*2\r\n$-1\r\n$-1\r\n");
	store_read_session(r, h, sizeof(h), o, sizeof(o));
	CU_ASSERT_STRING_EQUAL(h, "");
	CU_ASSERT_STRING_EQUAL(o, "");
	freeReplyObject(r);
	r = reply("$-1\r\n");
	store_read_session(r, h, sizeof(h), o, sizeof(o));
	CU_ASSERT_STRING_EQUAL(h, "");
	freeReplyObject(r);
}

static void
test_read_hash(void)
{
	char **f;
	long long *v;
	size_t n;
	redisReply *r;

	r = reply("*6\r\n$1\r\na\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\nx\r\n"
	    "$1\r\nc\r\n$2\r\n12\r\n");
	CU_ASSERT_EQUAL_FATAL(store_read_hash(r, &f, &v, &n), WX_OK);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(f[0], "a");
	CU_ASSERT_EQUAL(v[0], 3);
	CU_ASSERT_STRING_EQUAL(f[1], "b");
	CU_ASSERT_EQUAL(v[1], 0);	/* not an integer */
	CU_ASSERT_STRING_EQUAL(f[2], "c");
	CU_ASSERT_EQUAL(v[2], 12);
	store_hash_free(f, v, n);
	freeReplyObject(r);

	r = reply("*0\r\n");
	CU_ASSERT_EQUAL(store_read_hash(r, &f, &v, &n), WX_OK);
	CU_ASSERT_EQUAL(n, 0);
	store_hash_free(f, v, n);
	freeReplyObject(r);
	r = reply("$-1\r\n");
	CU_ASSERT_EQUAL(store_read_hash(r, &f, &v, &n), WX_INTERNAL);
	CU_ASSERT_PTR_NULL(f);
	CU_ASSERT_EQUAL(n, 0);
	freeReplyObject(r);
}

static void
test_token_decisions(void)
{
	/* Cached for expires_in less the margin... */
	CU_ASSERT_EQUAL(token_cache_ttl(7200), 7200 - TOKEN_MARGIN_S);
	CU_ASSERT_EQUAL(token_cache_ttl(TOKEN_MARGIN_S + 61), 61);
	/* ...but a short life is halved, never 0 or negative. */
	CU_ASSERT_EQUAL(token_cache_ttl(TOKEN_MARGIN_S + 60),
	    (TOKEN_MARGIN_S + 60) / 2);
	CU_ASSERT_EQUAL(token_cache_ttl(3), 1);
	CU_ASSERT_EQUAL(token_cache_ttl(1), 1);
	CU_ASSERT_EQUAL(token_cache_ttl(0), 1);
	CU_ASSERT_EQUAL(token_cache_ttl(-5), 1);

	CU_ASSERT_TRUE(token_usable("t1", NULL));
	CU_ASSERT_TRUE(token_usable("t2", "t1"));
	CU_ASSERT_FALSE(token_usable("t1", "t1"));
	CU_ASSERT_FALSE(token_usable("", NULL));
	CU_ASSERT_FALSE(token_usable("", "t1"));

	/* Due ahead below TOKEN_AHEAD_S; -1 (no TTL) and -2 (gone) never. */
	CU_ASSERT_TRUE(token_due(0));
	CU_ASSERT_TRUE(token_due(TOKEN_AHEAD_S - 1));
	CU_ASSERT_FALSE(token_due(TOKEN_AHEAD_S));
	CU_ASSERT_FALSE(token_due(7000));
	CU_ASSERT_FALSE(token_due(-1));
	CU_ASSERT_FALSE(token_due(-2));

	/* The lock outlives a fetch cut at timeout_ms. */
	static struct config c = { .timeout_ms = 5000 };
	CU_ASSERT_TRUE(token_lock_ms(&c) > c.timeout_ms);
}

/* redis_format writes what hiredis' formatter writes, and sizes it. */
static void
test_format(void)
{
	static char big[5001];
	const char *ping[] = { "PING" };
	const char *set[] = { "SET", "k", "", "NX", "PX", "11000" };
	const char *eval[] = { "EVALSHA", "0123456789abcdef0123456789abcdef01234567",
	    "3", "WXSUB:sendlock:oBENCH0000000000000000000001",
	    "SUBSCRIBE:TPL:oBENCH0000000000000000000001", "WECHAT:ACCESS_TOKEN",
	    "0123456789abcdef", "11000", "0" };
	const char *large[] = { "SCRIPT", "LOAD", big };
	struct { size_t argc; const char **argv; } cases[] = {
		{ 1, ping }, { 6, set }, { 9, eval }, { 3, large },
	};
	char out[6000], tiny[8];
	size_t i;

	memset(big, 'x', sizeof(big) - 1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *want = NULL;
		int wlen = redisFormatCommandArgv(&want, (int)cases[i].argc,
		    cases[i].argv, NULL);
		size_t n = redis_format(out, sizeof(out), cases[i].argc,
		    (const char *const *)cases[i].argv);

		CU_ASSERT_FATAL(wlen > 0);
		CU_ASSERT_EQUAL(n, (size_t)wlen);
		CU_ASSERT_TRUE(n <= sizeof(out) && memcmp(out, want, n) == 0);
		/* too small: the length it needs, nothing written past the end */
		memset(tiny, '#', sizeof(tiny));
		CU_ASSERT_EQUAL(redis_format(tiny, sizeof(tiny) - 1, cases[i].argc,
		    (const char *const *)cases[i].argv), (size_t)wlen);
		CU_ASSERT_EQUAL(tiny[sizeof(tiny) - 1], '#');
		redisFreeCommand(want);
	}
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "wire format as hiredis writes it", test_format },
		{ "token reply", test_read_token },
		{ "simple replies", test_read_simple },
		{ "credit counts", test_read_counts },
		{ "credit pipeline step", test_read_credit_step },
		{ "send claim", test_read_send_begin },
		{ "session record", test_read_session },
		{ "hash", test_read_hash },
		{ "token decisions", test_token_decisions },
	};

	return unit_run("store", tests, sizeof(tests) / sizeof(tests[0]));
}
