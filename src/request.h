/*
 * request.h: one request as data. The web server's parameters are read
 * once, in one pass over its "NAME=value" list, into a struct request
 * that is reset for every request. No handler reads the environment: the
 * only getenv calls are main.c's WXSUB_CONFIG, read once before the
 * FastCGI loop (libfcgi replaces environ at each accept), and, in plain
 * CGI mode, its CONTENT_LENGTH to drain an unread body before exiting;
 * and cli.c's WXSUB_CONFIG.
 */
#ifndef WX_REQUEST_H
#define WX_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "wxlimits.h"
#include "wxerr.h"

enum method { M_OTHER = 0, M_GET, M_POST, M_DELETE, M_HEAD };

/* Who the request proved to be (filled by authentication). */
enum principal { WHO_NONE = 0, WHO_APIKEY, WHO_SESSION };

struct request {
	enum method	 method;
	char		 route[LIM_ROUTE];	/* PATH_INFO, checked */
	char		 query[LIM_QUERY];	/* QUERY_STRING, raw */
	char		 content_type[LIM_HEADER];
	long long	 content_length;	/* -1: not given */
	char		 auth[LIM_HEADER];	/* Authorization */
	char		 reqid[LIM_REQID];	/* caller's (if sane) or new */
	char		 remote[LIM_NET];	/* REMOTE_ADDR, for the log */
	bool		 has_idem;		/* Idempotency-Key was sent */
	char		 idem_key[72];		/* as sent; "" if too long */

	char		*body;			/* owned; NUL-terminated */
	size_t		 body_len;
	json_object	*json;			/* owned; parsed body */

	struct wxe	 e;			/* what went wrong (wxerr.h) */

	enum principal	 who;
	char		 openid[LIM_OPENID + 1]; /* proved by a session */
	char		 session_hash[16];	 /* short prefix, for logs */
};

/*
 * The web server's parameters as a NULL-terminated list of "NAME=value"
 * strings (FastCGI's envp, or environ for plain CGI).
 */
typedef char *const *(*req_params_fn)(void *ctx);

/*
 * Fill r from the parameters. Never fails as a whole: what is wrong is
 * returned (WX_NOT_FOUND for a refused route, WX_BAD_REQUEST for an
 * oversized header) and carried in r->e, and r still has a request id.
 */
enum wx_err	 req_parse(struct request *r, req_params_fn, void *ctx);

/* "GET", "POST", ...; "-" for a method wxsub does not serve. */
const char	*req_method_name(enum method);

/*
 * An empty request. Field by field, not memset: the struct is 3 KB of
 * buffers that need only their first byte cleared, on every request.
 */
void		 req_init(struct request *r);
/* Free what r owns and make it empty again. */
void		 req_reset(struct request *r);

/*
 * Is the route acceptable? A '/' then segments of [A-Za-z0-9_.-], no
 * empty segment, no "." or ".." segment, no '%' (encoded tricks). Pure.
 */
bool		 req_route_ok(const char *route);

/*
 * Look up name in a query string and percent-decode it into out.
 * Returns 1 found, 0 absent, -1 malformed, repeated or too long.
 */
int		 req_query(const char *query, const char *name,
		    char *out, size_t outlen);

/* "application/json", with optional parameters such as charset. */
bool		 req_is_json(const char *content_type);

#endif
