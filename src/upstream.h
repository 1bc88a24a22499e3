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

#include <stdbool.h>
#include <stddef.h>

#include "wxerr.h"

struct upstream;

struct up_result {
	long		 status;	/* HTTP status, 0 if none */
	const char	*body;		/* owned by the upstream; valid until the next call */
	size_t		 len;
	struct wxe	 e;		/* a failed transfer: WX_UPSTREAM, why */
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
 * an HTTP answer arrived (any status), else WX_UPSTREAM with res->e
 * carrying it and saying why (time-out, refused, reset, answer larger than
 * LIM_UPSTREAM_BODY). libcurl resends a request whose kept-alive
 * connection died before any answer; UP_NO_RESEND makes that a failure
 * instead ("not resent"), since WeChat may have delivered the first copy.
 * A body leaves in one write with the headers.
 */
enum wx_err	 up_call(struct upstream *, const char *url, const char *json,
		    enum up_resend, long timeout_ms, struct up_result *res);

/*
 * Many calls at once (the outbox worker): n slots over one libcurl multi
 * handle, whose pool keeps connections alive across calls. Each call is
 * a POST never resent (UP_NO_RESEND), with up_call's options.
 */
struct up_multi;
struct up_multi	*up_multi_new(size_t n);
void		 up_multi_free(struct up_multi *);
size_t		 up_multi_running(const struct up_multi *);
/* Start POSTing json to url (both must outlive the call); -1 if no slot. */
int		 up_multi_add(struct up_multi *, const char *url,
		    const char *json, long timeout_ms, void *tag);
/*
 * Move the calls on, waiting up to wait_ms for something to happen, and
 * hand each finished one to done: res as up_call would fill it (status 0
 * and res->e filled when the transfer failed), and whether the request
 * left (it may have reached WeChat). 0, or -1 when libcurl failed.
 */
typedef void	(*up_done_fn)(void *arg, void *tag, const struct up_result *res,
		    bool request_left);
int		 up_multi_run(struct up_multi *, long wait_ms, up_done_fn,
		    void *arg);

#endif
