/*
 * idem.h: Idempotency-Key on POST /send.
 *
 * A key (1-64 of A-Z a-z 0-9 _ - . :) is remembered per api key for
 * IDEM_KEEP_S under P idem:<sha256(api key), 16 hex>:<key>, holding
 * "p|<sha256(body)>" while the first request is being answered and
 * "d|<sha256(body)>|<status>|<error>|<answer>" once it was. The same key
 * and body answer the first answer again (nothing is sent twice); another
 * body is 422 idempotency_key_reused; the first still running is 409
 * idempotency_in_flight. Only final answers (2xx, 4xx) are remembered: a
 * 5xx releases the key so that the caller may retry. A queued send keeps
 * its key in the enqueue's one script (outbox.h), never "p|": its 202
 * stays remembered even when redis.waitReplicas then fails, for the
 * message is queued and a retry must not queue it twice.
 */
#ifndef WX_IDEM_H
#define WX_IDEM_H

#include <stdbool.h>
#include <stddef.h>

#include "app.h"
#include "request.h"
#include "response.h"
#include "wxerr.h"

#define IDEM_KEEP_S	86400
#define IDEM_KEY_MAX	64
#define IDEM_HASH_LEN	64

struct idem {
	bool	 keyed;		/* a key was given (rkey, body_hash) */
	bool	 active;		/* and it is ours to settle */
	bool	 settled;		/* by the enqueue's script (outbox.h) */
	char	 rkey[LIM_KEY];		/* the Redis key */
	char	 body_hash[65];
};

/*
 * The key's Redis name and the body's hash, without I/O: WX_OK with
 * i->keyed when the request has a key, a 400 in e when it is malformed.
 */
enum wx_err	 idem_prepare(struct app *, const struct request *,
		    struct idem *, struct wxe *e);
/*
 * Before the handler. WX_OK with i->active when the request goes on
 * holding the key (or without a key: !active); WX_OK with resp filled
 * and *answered when the remembered answer was replayed; else the
 * refusal (400 malformed, 409, 422, 503) carried in e.
 */
enum wx_err	 idem_begin(struct app *, const struct request *, struct idem *,
		    struct response *, bool *answered, struct wxe *e);
/*
 * What the record stored found under a prepared key means for this
 * request: the replay in resp (WX_OK), or 409/422 in e. Queued sends
 * (outbox.h) look the record up and write their own in the enqueue's
 * round trip, and come here when one was there.
 */
enum wx_err	 idem_seen(const struct idem *, const char *stored, size_t len,
		    struct response *, struct wxe *e);
/* After the handler: remember resp (2xx, 4xx) or release the key (5xx). */
void		 idem_end(struct app *, struct idem *, struct response *);

/* ---- pure parts ---- */

bool		 idem_key_ok(const char *key);

/* What a stored value says about a request whose body hashes to hash. */
enum idem_state { IDEM_NEW, IDEM_IN_FLIGHT, IDEM_REUSED, IDEM_REPLAY };
struct idem_answer {
	int		 status;
	enum wx_err	 err;
	const char	*body;		/* points into the stored value */
	size_t		 len;
};
/*
 * stored NULL: nothing was there (IDEM_NEW). A value it cannot read is
 * IDEM_IN_FLIGHT: refused rather than risk a second send.
 */
enum idem_state	 idem_decide(const char *stored, size_t len,
		    const char *hash, struct idem_answer *);

#endif
