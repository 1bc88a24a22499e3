/*
 * route.c: the routing table and its lookup.
 */
#include <string.h>

#include "handlers.h"
#include "route.h"

static const struct route routes[] = {
	{ "/health",		M_GET,		AUTH_NONE,	false,	h_health },
	{ "/login",		M_POST,		AUTH_NONE,	true,	h_login },
	{ "/logout",		M_POST,		AUTH_SESSION,	false,	h_logout },
	{ "/record",		M_POST,		AUTH_USER,	true,	h_record },
	{ "/send",		M_POST,		AUTH_APIKEY,	true,	h_send },
	{ "/subscriptions",	M_GET,		AUTH_APIKEY,	false,	h_subs_get },
	{ "/subscriptions",	M_DELETE,	AUTH_APIKEY,	false,	h_subs_delete },
	{ "/metrics",		M_GET,		AUTH_METRICS,	false,	h_metrics },
};

const struct route *
route_find(const char *path, enum method m, enum wx_err *err, char *allow,
    size_t allowlen)
{
	bool path_known = false;
	size_t i, used = 0;

	if (allowlen > 0)
		allow[0] = '\0';
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].path, path) != 0)
			continue;
		if (routes[i].method == m) {
			if (allowlen > 0)
				allow[0] = '\0';	/* Allow is for 405s only */
			*err = WX_OK;
			return &routes[i];
		}
		path_known = true;
		const char *name = req_method_name(routes[i].method);
		size_t n = strlen(name);
		if (used + n + 3 < allowlen) {
			if (used > 0) {
				memcpy(allow + used, ", ", 2);
				used += 2;
			}
			memcpy(allow + used, name, n + 1);
			used += n;
		}
	}
	*err = path_known ? WX_METHOD : WX_NOT_FOUND;
	return NULL;
}
