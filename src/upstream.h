/*
 * upstream.h: HTTP calls to WeChat over one libcurl handle per process,
 * reused so connections stay alive across requests, and made at the
 * first call (a process that never calls WeChat never sets up TLS).
 * Explicit connect and total time limits; TLS verification stays on.
 * URLs carry secrets and tokens in their query: this module never logs
 * a URL.
 */
#ifndef WX_UPSTREAM_H
#define WX_UPSTREAM_H

#include <stddef.h>

#include "wxerr.h"

struct upstream;

struct up_result {
	long		 status;	/* HTTP status, 0 if none */
	const char	*body;		/* owned by the upstream; valid until the next call */
	size_t		 len;
	char		 err[128];	/* why the transfer failed */
};

struct upstream	*up_new(void);
void		 up_free(struct upstream *);

/* May libcurl send the request again on its own? */
enum up_resend {
	UP_RESEND_OK,		/* idempotent: token, code2Session */
	UP_NO_RESEND,		/* a subscribe message: sent at most once */
};

/*
 * GET url, or POST json to it when json is not NULL. Returns WX_OK when
 * an HTTP answer arrived (any status), else WX_UPSTREAM with res->err
 * saying why (time-out, refused, reset, answer larger than
 * LIM_UPSTREAM_BODY). libcurl resends a request whose kept-alive
 * connection died before any answer; UP_NO_RESEND makes that a failure
 * instead ("not resent"), since WeChat may have delivered the first copy.
 * A body leaves in one write with the headers.
 */
enum wx_err	 up_call(struct upstream *, const char *url, const char *json,
		    enum up_resend, long timeout_ms, struct up_result *res);

#endif
