/*
 * test_outbox.c: CUnit tests of the outbox's pure parts: the backoff,
 * what an attempt came to (outbox_decide), the reply readers (replies in
 * Redis' wire format, parsed by hiredis' reader without a socket), ids,
 * and the Idempotency-Key decisions (idem.c).
 */
#include <string.h>

#include <CUnit/Basic.h>
#include <hiredis/hiredis.h>

#include "unit.h"
#include "unit_reply.h"

#include "idem.h"
#include "outbox.h"

static void
test_backoff(void)
{
	uint64_t r;

	/* Full jitter: anywhere in [0, base * 2^(n-1)], capped. */
	CU_ASSERT_EQUAL(outbox_backoff_ms(1000, 1, 0), 0);
	CU_ASSERT_EQUAL(outbox_backoff_ms(1000, 1, 1000), 1000);
	CU_ASSERT_EQUAL(outbox_backoff_ms(1000, 1, 1001), 0);
	CU_ASSERT_EQUAL(outbox_backoff_ms(1000, 2, 2000), 2000);
	CU_ASSERT_EQUAL(outbox_backoff_ms(1000, 3, 4000), 4000);
	CU_ASSERT_EQUAL(outbox_backoff_ms(1000, 3, 4001), 0);
	/* Capped at 300 s however many attempts, without overflow. */
	CU_ASSERT_EQUAL(outbox_backoff_ms(1000, 20, 300000), 300000);
	CU_ASSERT_EQUAL(outbox_backoff_ms(1000, 1LL << 40, 300000), 300000);
	for (r = 0; r < 100000; r += 997)
		CU_ASSERT(outbox_backoff_ms(1000, 9, r * 7919) <= 256000);
	CU_ASSERT(outbox_backoff_ms(0, 1, 5) <= 1);
}

static enum outbox_next
decide(bool ok, bool sent, long status, enum wx_err err, long errcode,
    uint64_t msgid, long long attempts, bool renewed, enum wx_err *out)
{
	struct outbox_attempt a = {
		.transfer_ok = ok, .request_sent = sent, .status = status,
		.msgid = msgid, .attempts = attempts, .max_attempts = 3,
		.renewed = renewed,
	};
	struct wxe e = { .err = err, .errcode = errcode, .msg = "why" };
	enum outbox_next next = outbox_decide(&a, &e);

	/* Only the error changes: WeChat's errcode and the reason stay. */
	CU_ASSERT_EQUAL(e.errcode, errcode);
	CU_ASSERT_STRING_EQUAL(e.msg, "why");
	*out = e.err;
	return next;
}

static void
test_decide(void)
{
	enum wx_err e;

	CU_ASSERT_EQUAL(decide(true, true, 200, WX_OK, 0, 7, 1, false, &e),
	    OBN_SENT);
	CU_ASSERT_EQUAL(e, WX_OK);
	/* errcode 0 without a msgid: it reached WeChat, we cannot tell. */
	CU_ASSERT_EQUAL(decide(true, true, 200, WX_OK, 0, 0, 1, false, &e),
	    OBN_UNKNOWN);
	/* Time-out or connection lost after writing: unknown, never retried. */
	CU_ASSERT_EQUAL(decide(false, true, 0, WX_UPSTREAM, 0, 0, 1, false, &e),
	    OBN_UNKNOWN);
	CU_ASSERT_EQUAL(decide(false, true, 0, WX_UPSTREAM, 0, 0, 3, false, &e),
	    OBN_UNKNOWN);
	/* Refused before sending: retried, then failed. */
	CU_ASSERT_EQUAL(decide(false, false, 0, WX_UPSTREAM, 0, 0, 1, false, &e),
	    OBN_RETRY);
	CU_ASSERT_EQUAL(decide(false, false, 0, WX_UPSTREAM, 0, 0, 3, false, &e),
	    OBN_FAILED);
	CU_ASSERT_EQUAL(e, WX_UPSTREAM);
	/* 5xx retried; 4xx final. */
	CU_ASSERT_EQUAL(decide(true, true, 503, WX_UPSTREAM, 0, 0, 2, false, &e),
	    OBN_RETRY);
	CU_ASSERT_EQUAL(decide(true, true, 503, WX_UPSTREAM, 0, 0, 3, false, &e),
	    OBN_FAILED);
	CU_ASSERT_EQUAL(decide(true, true, 404, WX_UPSTREAM, 0, 0, 1, false, &e),
	    OBN_FAILED);
	/* -1 and 43108 retried. */
	CU_ASSERT_EQUAL(decide(true, true, 200, WX_UPSTREAM, -1, 0, 1, false, &e),
	    OBN_RETRY);
	CU_ASSERT_EQUAL(decide(true, true, 200, WX_UPSTREAM, 43108, 0, 1, false,
	    &e), OBN_RETRY);
	/* A refused token: renewed once, then retried with backoff. */
	CU_ASSERT_EQUAL(decide(true, true, 200, WX_TOKEN_UNAVAILABLE, 40001, 0, 1,
	    false, &e), OBN_RENEW);
	CU_ASSERT_EQUAL(decide(true, true, 200, WX_TOKEN_UNAVAILABLE, 42001, 0, 1,
	    true, &e), OBN_RETRY);
	CU_ASSERT_EQUAL(decide(true, true, 200, WX_TOKEN_UNAVAILABLE, 40001, 0, 3,
	    false, &e), OBN_FAILED);
	/* Every other errcode: final at once, as /send maps it. */
	CU_ASSERT_EQUAL(decide(true, true, 200, WX_USER_REFUSED, 43101, 0, 1,
	    false, &e), OBN_FAILED);
	CU_ASSERT_EQUAL(e, WX_USER_REFUSED);
	CU_ASSERT_EQUAL(decide(true, true, 200, WX_QUOTA, 45009, 0, 1, false, &e),
	    OBN_FAILED);
	CU_ASSERT_EQUAL(e, WX_QUOTA);
	/* A 200 that is not WeChat's JSON: it may have been delivered. */
	CU_ASSERT_EQUAL(decide(true, true, 200, WX_UPSTREAM, 0, 0, 1, false, &e),
	    OBN_UNKNOWN);
}

static void
test_read_msg(void)
{
	struct outbox_msg m;
	redisReply *r;

	r = reply("*16\r\n$1\r\ns\r\n$4\r\nsent\r\n$1\r\no\r\n$3\r\noid\r\n"
	    "$1\r\nt\r\n$3\r\nTPL\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nm\r\n$3\r\n123\r\n"
	    "$2\r\nca\r\n$2\r\n10\r\n$2\r\nua\r\n$2\r\n12\r\n$1\r\np\r\n$2\r\n{}\r\n");
	CU_ASSERT_EQUAL(outbox_read_msg(r, &m), 0);
	CU_ASSERT(m.found);
	CU_ASSERT_EQUAL(m.status, OB_SENT);
	CU_ASSERT_STRING_EQUAL(m.openid, "oid");
	CU_ASSERT_STRING_EQUAL(m.template_id, "TPL");
	CU_ASSERT_EQUAL(m.attempts, 2);
	CU_ASSERT_STRING_EQUAL(m.msgid, "123");
	CU_ASSERT_FALSE(m.has_errcode);
	CU_ASSERT_EQUAL(m.created, 10);
	CU_ASSERT_EQUAL(m.updated, 12);
	freeReplyObject(r);

	/* fresh from the enqueue: fields at their defaults are absent */
	r = reply("*6\r\n$1\r\ns\r\n$6\r\nqueued\r\n$1\r\nq\r\n"
	    "$13\r\n1764930000123\r\n$1\r\no\r\n$3\r\noid\r\n");
	CU_ASSERT_EQUAL(outbox_read_msg(r, &m), 0);
	CU_ASSERT_EQUAL(m.status, OB_QUEUED);
	CU_ASSERT_EQUAL(m.attempts, 0);
	CU_ASSERT_EQUAL(m.created, 1764930000);
	CU_ASSERT_EQUAL(m.updated, 1764930000);
	CU_ASSERT_STRING_EQUAL(m.batch, "");
	freeReplyObject(r);

	/* failed with an errcode */
	r = reply("*6\r\n$1\r\ns\r\n$6\r\nfailed\r\n$1\r\ne\r\n$12\r\nuser_refused"
	    "\r\n$1\r\nc\r\n$5\r\n43101\r\n");
	CU_ASSERT_EQUAL(outbox_read_msg(r, &m), 0);
	CU_ASSERT_EQUAL(m.status, OB_FAILED);
	CU_ASSERT(m.has_errcode);
	CU_ASSERT_EQUAL(m.errcode, 43101);
	CU_ASSERT_STRING_EQUAL(m.error, "user_refused");
	freeReplyObject(r);

	/* No such message: an empty hash. */
	r = reply("*0\r\n");
	CU_ASSERT_EQUAL(outbox_read_msg(r, &m), 0);
	CU_ASSERT_FALSE(m.found);
	freeReplyObject(r);

	/* Odd shapes: refused. */
	r = reply("*2\r\n$1\r\ns\r\n$5\r\nweird\r\n");
	CU_ASSERT_EQUAL(outbox_read_msg(r, &m), -1);
	freeReplyObject(r);
	r = reply("*1\r\n$1\r\ns\r\n");
	CU_ASSERT_EQUAL(outbox_read_msg(r, &m), -1);
	freeReplyObject(r);
	r = reply(":1\r\n");
	CU_ASSERT_EQUAL(outbox_read_msg(r, &m), -1);
	freeReplyObject(r);
}

static void
test_read_entries(void)
{
	struct outbox_entry e[4];
	size_t n;
	redisReply *r;

	/* Two entries; the second's fields were deleted (XAUTOCLAIM, 7.0). */
	r = reply("*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$2\r\nid\r\n$20\r\n"
	    "m_0123456789abcdef01\r\n*2\r\n$3\r\n2-0\r\n*-1\r\n");
	CU_ASSERT_EQUAL(outbox_read_entries(r, e, 4, &n, true), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_STRING_EQUAL(e[0].entry, "1-0");
	CU_ASSERT_STRING_EQUAL(e[0].id, "m_0123456789abcdef01");
	CU_ASSERT(e[0].claimed);
	CU_ASSERT_STRING_EQUAL(e[1].entry, "2-0");
	CU_ASSERT_STRING_EQUAL(e[1].id, "");
	freeReplyObject(r);

	/* Not an id of ours: kept as an entry to drop, without an id. */
	r = reply("*1\r\n*2\r\n$3\r\n3-0\r\n*2\r\n$2\r\nid\r\n$3\r\n../\r\n");
	CU_ASSERT_EQUAL(outbox_read_entries(r, e, 4, &n, false), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_STRING_EQUAL(e[0].id, "");
	freeReplyObject(r);

	/* At most max. */
	r = reply("*2\r\n*2\r\n$3\r\n1-0\r\n*0\r\n*2\r\n$3\r\n2-0\r\n*0\r\n");
	CU_ASSERT_EQUAL(outbox_read_entries(r, e, 1, &n, false), 0);
	CU_ASSERT_EQUAL(n, 1);
	freeReplyObject(r);

	r = reply("$-1\r\n");
	CU_ASSERT_EQUAL(outbox_read_entries(r, e, 4, &n, false), 0);
	CU_ASSERT_EQUAL(n, 0);
	freeReplyObject(r);
	r = reply("+OK\r\n");
	CU_ASSERT_EQUAL(outbox_read_entries(r, e, 4, &n, false), -1);
	freeReplyObject(r);
}

static void
test_ids_and_states(void)
{
	char id[OUTBOX_ID_LEN + 1], other[OUTBOX_ID_LEN + 1];

	CU_ASSERT_EQUAL(outbox_new_id('m', id, sizeof(id)), 0);
	CU_ASSERT_EQUAL(outbox_new_id('m', other, sizeof(other)), 0);
	CU_ASSERT(outbox_id_ok(id));
	CU_ASSERT_STRING_NOT_EQUAL(id, other);
	CU_ASSERT_EQUAL(outbox_new_id('b', id, 8), -1);
	CU_ASSERT_FALSE(outbox_id_ok("m_0123"));
	CU_ASSERT_FALSE(outbox_id_ok("x_0123456789abcdef01"));
	CU_ASSERT_FALSE(outbox_id_ok("m_0123456789ABCDEF01"));
	CU_ASSERT(outbox_id_ok("b_0123456789abcdef01"));
	for (int s = 0; s < OB__MAX; s++)
		CU_ASSERT_EQUAL(outbox_status_of(outbox_status_name(
		    (enum outbox_status)s)), s);
	CU_ASSERT_EQUAL(outbox_status_of("lost"), -1);
}

static void
test_idem(void)
{
	static const char h[] =
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	static const char g[] =
	    "f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char v[256];
	struct idem_answer a;

	CU_ASSERT(idem_key_ok("order-7:paid_2.x"));
	CU_ASSERT_FALSE(idem_key_ok(""));
	CU_ASSERT_FALSE(idem_key_ok("a b"));
	CU_ASSERT_FALSE(idem_key_ok("a/b"));
	memset(v, 'k', 64);
	v[64] = '\0';
	CU_ASSERT(idem_key_ok(v));
	v[64] = 'k';
	v[65] = '\0';
	CU_ASSERT_FALSE(idem_key_ok(v));

	CU_ASSERT_EQUAL(idem_decide(NULL, 0, h, &a), IDEM_NEW);
	snprintf(v, sizeof(v), "p|%s", h);
	CU_ASSERT_EQUAL(idem_decide(v, strlen(v), h, &a), IDEM_IN_FLIGHT);
	CU_ASSERT_EQUAL(idem_decide(v, strlen(v), g, &a), IDEM_REUSED);
	snprintf(v, sizeof(v), "d|%s|202|0|{\"ok\":true}", h);
	CU_ASSERT_EQUAL(idem_decide(v, strlen(v), h, &a), IDEM_REPLAY);
	CU_ASSERT_EQUAL(a.status, 202);
	CU_ASSERT_EQUAL(a.err, WX_OK);
	CU_ASSERT_EQUAL(a.len, 11);
	CU_ASSERT_NSTRING_EQUAL(a.body, "{\"ok\":true}", 11);
	CU_ASSERT_EQUAL(idem_decide(v, strlen(v), g, &a), IDEM_REUSED);
	/* A 5xx is never stored; one found is not replayed. */
	snprintf(v, sizeof(v), "d|%s|503|1|{}", h);
	CU_ASSERT_EQUAL(idem_decide(v, strlen(v), h, &a), IDEM_IN_FLIGHT);
	/* Garbage refuses rather than sends twice. */
	CU_ASSERT_EQUAL(idem_decide("x", 1, h, &a), IDEM_IN_FLIGHT);
	snprintf(v, sizeof(v), "d|%s|2", h);
	CU_ASSERT_EQUAL(idem_decide(v, strlen(v), h, &a), IDEM_IN_FLIGHT);
	snprintf(v, sizeof(v), "d|%s|200|999|{}", h);
	CU_ASSERT_EQUAL(idem_decide(v, strlen(v), h, &a), IDEM_IN_FLIGHT);
}

static void
test_aof(void)
{
	static const char on[] = "# Persistence\r\nloading:0\r\n"
	    "aof_enabled:1\r\naof_rewrite_in_progress:0\r\n";
	static const char off[] = "# Persistence\r\naof_enabled:0\r\n";
	static const char tricky[] = "# Persistence\r\nx_aof_enabled:1\r\n";

	CU_ASSERT_EQUAL(outbox_read_aof(on, strlen(on)), 1);
	CU_ASSERT_EQUAL(outbox_read_aof(off, strlen(off)), 0);
	CU_ASSERT_EQUAL(outbox_read_aof(tricky, strlen(tricky)), -1);
	CU_ASSERT_EQUAL(outbox_read_aof("", 0), -1);
	CU_ASSERT_EQUAL(outbox_read_aof("aof_enabled:", 12), -1);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "backoff: full jitter, doubling, capped", test_backoff },
		{ "decide: what an attempt came to", test_decide },
		{ "read_msg: the state hash", test_read_msg },
		{ "read_entries: XREADGROUP and XAUTOCLAIM", test_read_entries },
		{ "ids and status names", test_ids_and_states },
		{ "idem: keys and decisions", test_idem },
		{ "aof: INFO persistence", test_aof },
	};

	return unit_run("outbox", tests, sizeof(tests) / sizeof(tests[0]));
}
