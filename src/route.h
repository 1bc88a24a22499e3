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

struct app;

enum auth_kind {
	AUTH_NONE,	/* anyone */
	AUTH_APIKEY,	/* server to server: Bearer <api key> */
	AUTH_USER,	/* Bearer <session> or <api key> */
	AUTH_SESSION,	/* Bearer <session> only */
	AUTH_METRICS,	/* api key, or an address in http.metricsAllow */
};

typedef void (*handler_fn)(struct app *, struct request *, struct response *);

struct route {
	const char	*path;
	enum method	 method;
	enum auth_kind	 auth;
	bool		 body;		/* wants a JSON object body */
	handler_fn	 fn;
	bool		 prefix;	/* path is a prefix: "/messages/" + id */
};

/*
 * The row for (path, method). NULL with WX_NOT_FOUND, or with
 * WX_METHOD and the allowed methods in allow ("GET, DELETE").
 */
const struct route *route_find(const char *path, enum method,
		    enum wx_err *err, char *allow, size_t allowlen);

#endif
