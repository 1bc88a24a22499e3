/*
 * request.c: from web server parameters to a struct request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "pct.h"
#include "request.h"
#include "secure.h"
#include "validate.h"

static const struct {
	const char	*name;
	enum method	 m;
} methods[] = {
	{ "GET", M_GET }, { "POST", M_POST }, { "DELETE", M_DELETE },
	{ "HEAD", M_HEAD },
};

const char *
req_method_name(enum method m)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (methods[i].m == m)
			return methods[i].name;
	return "-";
}

bool
req_route_ok(const char *route)
{
	const char *seg, *p;
	size_t len;

	if (route == NULL || route[0] != '/')
		return false;
	seg = route + 1;
	for (;;) {
		for (p = seg; *p != '\0' && *p != '/'; p++)
			if (!val_is(*p, VC_DOTID))
				return false;
		len = (size_t)(p - seg);
		if (len == 0)
			return false;	/* "/", "//" or a trailing '/' */
		if ((len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		if (*p == '\0')
			return true;
		seg = p + 1;
	}
}

bool
req_is_json(const char *ct)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	if (ct == NULL || strncasecmp(ct, want, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

int
req_query(const char *query, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = query, *amp, *val;
	int found = 0;

	if (outlen > 0)
		out[0] = '\0';
	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		size_t plen = amp ? (size_t)(amp - p) : strlen(p);
		if (plen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			if (found)
				return -1;	/* a repeated name is ambiguous */
			val = p + nlen + 1;
			if (pct_decode(val, plen - nlen - 1, true, out, outlen) != 0) {
				if (outlen > 0)
					out[0] = '\0';	/* never half a value */
				return -1;
			}
			found = 1;
		} else if (plen == nlen && strncmp(p, name, nlen) == 0) {
			return -1;		/* "name" without '=' */
		}
		p = amp ? amp + 1 : NULL;
	}
	return found;
}

/* Copy a parameter; false if it does not fit (never truncate). */
static bool
copy_param(char *dst, size_t dstlen, const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (n >= dstlen) {
		dst[0] = '\0';
		return false;
	}
	memcpy(dst, v ? v : "", n + 1);
	return true;
}

/* The parameters wxsub reads; everything else the server sends is skipped. */
enum param {
	P_REQID, P_REMOTE, P_METHOD, P_LENGTH, P_TYPE, P_AUTH, P_QUERY, P_PATH,
	P_IDEM, P__MAX
};

static const struct {
	const char	*name;
	size_t		 len;
} params[P__MAX] = {
#define P(name) { name, sizeof(name) - 1 }
	[P_REQID] = P("HTTP_X_REQUEST_ID"),	[P_REMOTE] = P("REMOTE_ADDR"),
	[P_METHOD] = P("REQUEST_METHOD"),	[P_LENGTH] = P("CONTENT_LENGTH"),
	[P_TYPE] = P("CONTENT_TYPE"),		[P_AUTH] = P("HTTP_AUTHORIZATION"),
	[P_QUERY] = P("QUERY_STRING"),		[P_PATH] = P("PATH_INFO"),
	[P_IDEM] = P("HTTP_IDEMPOTENCY_KEY"),
#undef P
};

/*
 * One pass over "NAME=value" strings; the first of a repeated name wins,
 * as with getenv. Looking each name up on its own costs a scan of the
 * whole list per name, and this runs for every request: a table of which
 * wanted names start with each character leaves most entries at one
 * lookup.
 */
static void
pick_params(char *const *env, const char *v[P__MAX])
{
	static unsigned short starts[128];	/* bit i: params[i] */
	_Static_assert(P__MAX <= 16, "starts[] has a bit per parameter");
	static bool ready;
	unsigned m;
	size_t i;

	if (!ready) {
		for (i = 0; i < P__MAX; i++)
			starts[(unsigned char)params[i].name[0]] |= 1u << i;
		ready = true;
	}
	memset(v, 0, P__MAX * sizeof(v[0]));
	for (; env != NULL && *env != NULL; env++) {
		const char *e = *env;

		m = (unsigned char)e[0] < 128 ? starts[(unsigned char)e[0]] : 0;
		for (; m != 0; m &= m - 1) {
			i = (size_t)__builtin_ctz(m);
			if (v[i] == NULL &&
			    strncmp(e, params[i].name, params[i].len) == 0 &&
			    e[params[i].len] == '=') {
				v[i] = e + params[i].len + 1;
				break;
			}
		}
	}
}

enum wx_err
req_parse(struct request *r, req_params_fn params_of, void *ctx)
{
	const char *p[P__MAX], *v;
	enum wx_err err = WX_OK;
	size_t i;

	req_reset(r);
	pick_params(params_of(ctx), p);
	v = p[P_REQID];
	if (v != NULL && strlen(v) < sizeof(r->reqid) && val_request_id(v))
		copy_param(r->reqid, sizeof(r->reqid), v);
	else
		sec_new_id(r->reqid, sizeof(r->reqid));
	copy_param(r->remote, sizeof(r->remote), p[P_REMOTE]);

	v = p[P_METHOD];
	for (i = 0; v != NULL && i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(v, methods[i].name) == 0)
			r->method = methods[i].m;

	r->content_length = -1;
	v = p[P_LENGTH];
	if (v != NULL && *v != '\0') {
		char *end;
		errno = 0;
		long long n = strtoll(v, &end, 10);
		if (errno != 0 || *end != '\0' || n < 0 || !val_is(*v, VC_DIGIT)) {
			err = wxe_set(&r->e, WX_BAD_REQUEST, "bad Content-Length");
		} else
			r->content_length = n;
	}

	if (!copy_param(r->content_type, sizeof(r->content_type), p[P_TYPE]) ||
	    !copy_param(r->auth, sizeof(r->auth), p[P_AUTH])) {
		err = wxe_set(&r->e, WX_BAD_REQUEST, "a request header is too large");
	}
	/* Kept as sent (bounded); idem.c says whether it is well formed. */
	r->has_idem = p[P_IDEM] != NULL;
	if (r->has_idem && !copy_param(r->idem_key, sizeof(r->idem_key),
	    p[P_IDEM]))
		r->idem_key[0] = '\0';	/* too long: malformed */
	if (!copy_param(r->query, sizeof(r->query), p[P_QUERY])) {
		err = wxe_set(&r->e, WX_BAD_REQUEST, "the query string is too long");
	}

	/* The route is checked last: a refused path is a 404 whatever else. */
	v = p[P_PATH];
	if (v == NULL || !copy_param(r->route, sizeof(r->route), v) ||
	    !req_route_ok(r->route)) {
		r->route[0] = '\0';
		err = wxe_set(&r->e, WX_NOT_FOUND, "no such route");
	}
	return err;
}

void
req_init(struct request *r)
{
	r->method = M_OTHER;
	r->route[0] = r->query[0] = r->content_type[0] = '\0';
	r->content_length = -1;
	r->auth[0] = r->reqid[0] = r->remote[0] = '\0';
	r->body = NULL;
	r->body_len = 0;
	r->json = NULL;
	wxe_clear(&r->e);
	r->who = WHO_NONE;
	r->openid[0] = r->session_hash[0] = '\0';
	r->has_idem = false;
	r->idem_key[0] = '\0';
}

void
req_reset(struct request *r)
{
	free(r->body);
	if (r->json != NULL)
		json_object_put(r->json);
	req_init(r);
}
