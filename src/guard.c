/*
 * guard.c: the login limits (see guard.h for why).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "guard.h"
#include "num.h"
#include "redis.h"
#include "scripts.h"
#include "request.h"
#include "secure.h"

void
guard_bucket(const char *remote, char *out, size_t outlen)
{
	unsigned char a[16];
	char buf[INET6_ADDRSTRLEN];
	struct in_addr v4;

	if (inet_pton(AF_INET, remote, &v4) == 1 &&
	    inet_ntop(AF_INET, &v4, buf, sizeof(buf)) != NULL) {
		snprintf(out, outlen, "%s", buf);
		return;
	}
	if (inet_pton(AF_INET6, remote, a) == 1) {
		static const unsigned char mapped[12] = { [10] = 0xff,
		    [11] = 0xff };

		if (memcmp(a, mapped, sizeof(mapped)) == 0 &&
		    inet_ntop(AF_INET, a + 12, buf, sizeof(buf)) != NULL) {
			snprintf(out, outlen, "%s", buf);
			return;
		}
		/* One subscriber usually holds a whole /64. */
		memset(a + 8, 0, 8);
		if (inet_ntop(AF_INET6, a, buf, sizeof(buf)) != NULL) {
			snprintf(out, outlen, "%s/64", buf);
			return;
		}
	}
	snprintf(out, outlen, "other");
}

enum wx_err
guard_enter(struct store *st, const struct config *c, const char *remote,
    struct guard_pass *pass, long *retry_after, struct wxe *e)
{
	char inflight[LIM_KEY], rate[LIM_KEY], id[GUARD_BUCKET_MAX + 32];
	char bucket[GUARD_BUCKET_MAX], nrate[NUM_DEC_MAX], nmax[NUM_DEC_MAX];
	char life[NUM_DEC_MAX], minute[NUM_DEC_MAX];
	const char *keys[2], *args[4];
	time_t now = time(NULL);
	redisReply *r;
	long long verdict;

	pass->lease[0] = '\0';
	*retry_after = 0;
	if (c->login_rate == 0 && c->login_max_inflight == 0)
		return WX_OK;
	guard_bucket(remote, bucket, sizeof(bucket));
	num_u64(minute, (unsigned long long)(now / 60));
	snprintf(id, sizeof(id), "%s:%s", bucket, minute);
	sec_new_id(pass->lease, sizeof(pass->lease));
	if (store_key(c, "login:inflight", NULL, inflight,
	    sizeof(inflight)) != 0 ||
	    store_key(c, "login:rate", id, rate, sizeof(rate)) != 0)
		return WX_INTERNAL;
	num_u64(nrate, (unsigned long long)c->login_rate);
	num_u64(nmax, (unsigned long long)c->login_max_inflight);
	num_u64(life, (unsigned long long)(c->login_timeout_ms +
	    GUARD_LEASE_SLACK_MS));
	keys[0] = inflight;
	keys[1] = rate;
	args[0] = nrate;
	args[1] = nmax;
	args[2] = life;
	args[3] = pass->lease;
	r = redis_eval(store_redis(st), &SCRIPT_GUARD_ENTER, 2, keys, 4, args);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		if (r != NULL)
			freeReplyObject(r);
		pass->lease[0] = '\0';
		return WX_REDIS_UNAVAILABLE;
	}
	verdict = r->element[0]->integer;
	freeReplyObject(r);
	if (verdict == 1) {
		pass->lease[0] = '\0';
		*retry_after = 60 - (long)(now % 60);
		return wxe_set(e, WX_RATE_LIMITED, "more than %ld logins a "
		    "minute from this address; try again in %ld s",
		    c->login_rate, *retry_after);
	}
	if (verdict == 2) {
		pass->lease[0] = '\0';
		*retry_after = 1;
		return wxe_set(e, WX_BUSY, "too many logins in progress; try "
		    "again in a second");
	}
	if (c->login_max_inflight == 0)
		pass->lease[0] = '\0';	/* counted, but nothing to give back */
	return WX_OK;
}

void
guard_leave(struct store *st, const struct config *c,
    struct guard_pass *pass)
{
	char inflight[LIM_KEY];
	const char *argv[3];
	redisReply *r;

	if (pass->lease[0] == '\0' ||
	    store_key(c, "login:inflight", NULL, inflight,
	    sizeof(inflight)) != 0)
		return;
	argv[0] = "ZREM";
	argv[1] = inflight;
	argv[2] = pass->lease;
	/*
	 * Held: it leaves with the session's own write, or right after the
	 * answer (app_after). Without a connection, at once; if that fails
	 * too, the lease ends by itself.
	 */
	if (redis_hold(store_redis(st), 3, argv) != 0 &&
	    (r = redis_command(store_redis(st), 3, argv)) != NULL)
		freeReplyObject(r);
	pass->lease[0] = '\0';
}
