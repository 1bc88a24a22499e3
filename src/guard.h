/*
 * guard.h: what anonymous callers can make wxsub do upstream (issue 11).
 *
 * POST /login needs no credential and always calls WeChat, so when
 * code2Session is slow anyone could fill every process with logins. Two
 * limits, both counted in Redis so that they hold fleet-wide, both
 * answered at once, never by waiting:
 *   - login.maxInFlight: at most this many code2Session calls at a time,
 *     as leases in a sorted set scored by their end (Redis's clock), so
 *     a lease whose process died expires by itself
 *     (wechat.loginTimeoutMs + GUARD_LEASE_SLACK_MS). Beyond: 503 busy,
 *     Retry-After: 1.
 *   - login.ratePerMinute: logins per client address (IPv4 address, IPv6
 *     /64) per wall-clock minute. Beyond: 429 rate_limited, Retry-After
 *     up to the next minute.
 * The per-address limit is checked first, so one address cannot spend
 * the fleet's leases. Either limit at 0 is off.
 *
 * Keys: WXSUB:login:inflight (sorted set: lease id -> end, ms), and
 *       WXSUB:login:rate:<address or /64>:<minute> (counter, 2 min life).
 */
#ifndef WX_GUARD_H
#define WX_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "store.h"
#include "wxerr.h"

#define GUARD_LEASE_SLACK_MS	2000	/* a lease outlives its call by this */
#define GUARD_BUCKET_MAX	48	/* "xxxx:xxxx:xxxx:xxxx::/64" and IPv4 */

struct guard_pass {
	char	 lease[20];	/* "" when none is held */
};

/*
 * May this login call WeChat? WX_OK with a lease held in pass (give it
 * back with guard_leave), or WX_RATE_LIMITED / WX_BUSY carried in e
 * with *retry_after (seconds), or WX_REDIS_UNAVAILABLE.
 */
enum wx_err	 guard_enter(struct store *, const struct config *,
		    const char *remote, struct guard_pass *,
		    long *retry_after, struct wxe *e);

/* Give the lease back (sent with the next Redis command, or at once). */
void		 guard_leave(struct store *, const struct config *,
		    struct guard_pass *);

/*
 * The bucket a client address is counted in: an IPv4 address as it is,
 * an IPv6 address as its /64 ("2001:db8:1:2::/64"; a v4-mapped one as
 * the IPv4 address), anything else "other". Pure.
 */
void		 guard_bucket(const char *remote, char *out, size_t outlen);

#endif
