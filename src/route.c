/*
 * route.c: the routing table and its lookup.
 */
#include <string.h>

#include "handlers.h"
#include "route.h"

/*
 * path, method, auth, body, handler, prefix, claims (its first slow
 * step is a send lock's claim, which a pending release rides with:
 * app.h).
 */
static const struct route routes[] = {
	{ "/health",		M_GET,		AUTH_NONE,	false,	h_health, false, false },
	{ "/login",		M_POST,		AUTH_NONE,	true,	h_login, false, false },
	{ "/logout",		M_POST,		AUTH_SESSION,	false,	h_logout, false, false },
	{ "/record",		M_POST,		AUTH_USER,	true,	h_record, false, false },
	{ "/send",		M_POST,		AUTH_APIKEY,	true,	h_send, false, true },
	{ "/subscriptions",	M_GET,		AUTH_APIKEY,	false,	h_subs_get, false, false },
	{ "/subscriptions",	M_DELETE,	AUTH_APIKEY,	false,	h_subs_delete, false, false },
	{ "/metrics",		M_GET,		AUTH_METRICS,	false,	h_metrics, false, false },
	{ "/messages/",		M_GET,		AUTH_APIKEY,	false,	h_message_get, true, false },
	{ "/batches/",		M_GET,		AUTH_APIKEY,	false,	h_batch_get, true, false },
	/* WeChat's push: signed, not authenticated by a key (h_event.c) */
	{ "/event",		M_GET,		AUTH_NONE,	false,	h_event_verify, false, false },
	{ "/event",		M_POST,		AUTH_NONE,	BODY_RAW, h_event, false, false },
	{ "/templates",		M_GET,		AUTH_APIKEY,	false,	h_templates, false, false },
};

const struct route *
route_find(const char *path, enum method m, enum wx_err *err, char *allow,
    size_t allowlen)
{
	bool path_known = false;
	size_t i, used = 0;
	/* HEAD is GET without the body (RFC 9110): monitoring probes use it. */
	enum method want = m == M_HEAD ? M_GET : m;

	if (allowlen > 0)
		allow[0] = '\0';
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (routes[i].prefix ? strncmp(routes[i].path, path,
		    strlen(routes[i].path)) != 0 ||
		    path[strlen(routes[i].path)] == '\0' :
		    strcmp(routes[i].path, path) != 0)
			continue;
		if (routes[i].method == want) {
			if (allowlen > 0)
				allow[0] = '\0';	/* Allow is for 405s only */
			*err = WX_OK;
			return &routes[i];
		}
		path_known = true;
		const char *name = routes[i].method == M_GET ? "GET, HEAD" :
		    req_method_name(routes[i].method);
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

bool
route_app_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= LIM_APPNAME)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-'))
			return false;
	return true;
}

bool
route_is_install(const char *path)
{
	return strcmp(path, "/health") == 0 || strcmp(path, "/metrics") == 0;
}

int
route_app(const char *path, char *name, size_t namelen, const char **rest)
{
	const char *slash;
	size_t n;

	if (path[0] != '/' || (slash = strchr(path + 1, '/')) == NULL)
		return -1;
	n = (size_t)(slash - path - 1);
	if (!route_app_name_ok(path + 1, n) || n >= namelen)
		return -1;
	memcpy(name, path + 1, n);
	name[n] = '\0';
	*rest = slash;
	return 0;
}
