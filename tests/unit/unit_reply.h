/*
 * unit_reply.h: a Redis reply for reader tests, written in Redis' wire
 * format and parsed by hiredis' own reader (no socket), as a live
 * connection would parse it. The test fails at once if it does not parse.
 */
#ifndef WX_UNIT_REPLY_H
#define WX_UNIT_REPLY_H

#include <string.h>

#include <CUnit/Basic.h>
#include <hiredis/hiredis.h>

static redisReply *
reply(const char *wire)
{
	redisReader *rd = redisReaderCreate();
	void *r = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(rd);
	CU_ASSERT_EQUAL_FATAL(redisReaderFeed(rd, wire, strlen(wire)), REDIS_OK);
	CU_ASSERT_EQUAL_FATAL(redisReaderGetReply(rd, &r), REDIS_OK);
	redisReaderFree(rd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	return r;
}

#endif
