/*
 * route.h: the routing table. One row per (path, method) with what the
 * dispatcher must check before the handler runs.
 */
#ifndef WX_ROUTE_H
#define WX_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "request.h"
#include "response.h"
#include "wxerr.h"
#include "wxlimits.h"

struct app;

enum auth_kind {
	AUTH_NONE,	/* anyone */
	AUTH_APIKEY,	/* server to server: Bearer <api key> */
	AUTH_USER,	/* Bearer <session> or <api key> */
	AUTH_SESSION,	/* Bearer <session> only */
	AUTH_METRICS,	/* api key, or an address in http.metricsAllow */
};

/* What a route reads of the body; true and false in the table mean the first two. */
enum body_kind {
	BODY_NONE = 0,	/* none */
	BODY_JSON = 1,	/* a JSON object, parsed (application/json) */
	BODY_RAW,	/* the bytes as they came, any type (/event) */
};

/*
 * A handler: WX_OK with the answer in the response (resp_ok, resp_text),
 * or the failure, carried in r->e, which the dispatcher answers.
 */
typedef enum wx_err (*handler_fn)(struct app *, struct request *,
		    struct response *);

struct route {
	const char	*path;
	enum method	 method;
	enum auth_kind	 auth;
	int		 body;		/* enum body_kind (true: JSON) */
	handler_fn	 fn;
	bool		 prefix;	/* path is a prefix: "/messages/" + id */
	bool		 claims;	/* may claim a send lock first (app.h) */
};

/*
 * The row for (path, method); HEAD finds the GET row. NULL with
 * WX_NOT_FOUND, or with WX_METHOD and the allowed methods in allow
 * ("GET, HEAD, DELETE").
 */
const struct route *route_find(const char *path, enum method,
		    enum wx_err *err, char *allow, size_t allowlen);

/*
 * Several apps (a directory install, api.md section 8): routes are
 * /<app>/<route>. route_app splits "/shop/send" into "shop" and a
 * pointer to "/send"; -1 when there is no second segment or the name is
 * not an app name. Pure.
 */
int		 route_app(const char *path, char *name, size_t namelen,
		    const char **rest);
/* An app name: 1..LIM_APPNAME-1 of a-z 0-9 -. */
bool		 route_app_name_ok(const char *s, size_t n);
/* The routes that stay unprefixed and cover the install: /health, /metrics. */
bool		 route_is_install(const char *path);

#endif
