/*
 * fuzz_request.c: libFuzzer target for request parsing (request.c) and
 * the pure checks around it (auth_bearer, session_token_shape).
 *
 * The input is split at NUL bytes into up to 7 fields, the CGI
 * parameters below in this order; a field the input does not reach is
 * unset (the callback returns NULL), an empty one is set to "". Each
 * field lives in its own exact-size heap block, so ASan sees any read
 * past its end. Besides crashes and sanitizer reports it checks what
 * request.h promises (a route that passed is acceptable, a request id
 * always exists and is one we would accept) and compares the pure
 * predicates with straightforward models of their documented rules.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "auth.h"
#include "request.h"
#include "session.h"
#include "validate.h"

#define FUZZ_MAX	8192	/* 8 KiB: past every header bound */
#define NFIELDS		7

static const char *const names[NFIELDS] = {
	"REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
	"CONTENT_LENGTH", "HTTP_AUTHORIZATION", "HTTP_X_REQUEST_ID",
};
enum { F_METHOD, F_PATH, F_QUERY, F_CTYPE, F_CLEN, F_AUTH, F_REQID };

struct fake {
	char	*v[NFIELDS];		/* NULL: unset */
	char	*env[NFIELDS + 1];	/* "NAME=value" for each set one */
};

#define TERMINATED(f)	(memchr((f), '\0', sizeof(f)) != NULL)

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_request: invariant broken: %s\n", what);
		abort();
	}
}

/* The web server's list; REMOTE_ADDR and anything else are unset. */
static char *const *
fake_params(void *ctx)
{
	return ((struct fake *)ctx)->env;
}

static void
fake_env(struct fake *f)
{
	size_t	 k = 0, n;
	int	 i;

	for (i = 0; i < NFIELDS; i++) {
		if (f->v[i] == NULL)
			continue;
		n = strlen(names[i]) + 1 + strlen(f->v[i]) + 1;
		if ((f->env[k] = malloc(n)) == NULL)
			abort();
		snprintf(f->env[k++], n, "%s=%s", names[i], f->v[i]);
	}
	f->env[k] = NULL;
}

/* request.h's rule for a route, written out plainly. */
static bool
model_route_ok(const char *s)
{
	size_t	 i, seg = 0, start;

	if (s == NULL || s[0] != '/')
		return false;
	for (i = 1, start = 1;; i++) {
		char ch = s[i];
		if (ch == '/' || ch == '\0') {
			seg = i - start;
			if (seg == 0)
				return false;
			if (seg == 1 && s[start] == '.')
				return false;
			if (seg == 2 && s[start] == '.' && s[start + 1] == '.')
				return false;
			if (ch == '\0')
				return true;
			start = i + 1;
			continue;
		}
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
		    ch == '-'))
			return false;	/* '%' among the rest */
	}
}

static bool
model_is_json(const char *ct)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	if (ct == NULL || strlen(ct) < n || strncasecmp(ct, want, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

static bool
model_token_shape(const char *s)
{
	size_t	 i;

	if (s == NULL || strlen(s) != SESSION_TOKEN_LEN ||
	    strncmp(s, SESSION_PREFIX, 4) != 0)
		return false;
	for (i = 4; s[i] != '\0'; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/* auth_bearer against its contract. */
static void
check_bearer(const char *h)
{
	const char	*b = auth_bearer(h), *p;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		check(b == NULL, "no credential without 'Bearer '");
		return;
	}
	for (p = h + 7; *p == ' '; p++)
		;
	if (*p == '\0')
		check(b == NULL, "no credential after 'Bearer' and spaces");
	else
		check(b == p, "the credential follows 'Bearer ' and spaces");
	check(session_token_shape(b) == model_token_shape(b),
	    "session_token_shape of the credential");
}

/*
 * req_query into a buffer of exactly outlen bytes. Returns the answer
 * and, when found, the value (malloc'd) in *val.
 */
static int
query(const char *q, const char *name, size_t outlen, char **val)
{
	char	*out = malloc(outlen);
	int	 rc;

	*val = NULL;
	if (out == NULL)
		abort();
	memset(out, 'Z', outlen);
	rc = req_query(q, name, out, outlen);
	check(rc == -1 || rc == 0 || rc == 1, "req_query returns -1, 0 or 1");
	if (rc == 0)
		check(out[0] == '\0', "out is empty when absent");
	if (rc == 1) {
		check(memchr(out, '\0', outlen) != NULL, "value terminated");
		*val = strdup(out);
		if (*val == NULL)
			abort();
	}
	free(out);
	return rc;
}

/* A small and a large buffer must agree where both can answer. */
static void
check_query(const char *q, const char *name, size_t small)
{
	char	*vs, *vl;
	int	 rs, rl;

	if (q == NULL)
		return;
	rs = query(q, name, small, &vs);
	rl = query(q, name, 2 * LIM_QUERY + 2, &vl);
	if (rl == 0)
		check(rs == 0, "absent in both buffers");
	if (rs == 1)
		check(rl == 1 && strcmp(vs, vl) == 0, "same value in both");
	if (rl == 1 && strlen(vl) < small)
		check(rs == 1, "a value that fits is found");
	if (rl == 1 && strlen(vl) >= small)
		check(rs == -1, "a value that does not fit is an error");
	if (rl == -1)
		check(rs == -1, "malformed in both buffers");
	free(vs);
	free(vl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake	 f;
	struct request	 r;
	const char	*p, *end, *nul;
	size_t		 n, small;
	enum wx_err	 err;
	int		 i;

	if (size > FUZZ_MAX)
		return 0;
	memset(&f, 0, sizeof(f));
	p = (const char *)data;
	end = p + size;
	for (i = 0; i < NFIELDS && (i == 0 ? size > 0 : p <= end); i++) {
		nul = i < NFIELDS - 1 ? memchr(p, '\0', (size_t)(end - p)) : NULL;
		n = nul != NULL ? (size_t)(nul - p) : (size_t)(end - p);
		if ((f.v[i] = malloc(n + 1)) == NULL)
			abort();
		memcpy(f.v[i], p, n);
		f.v[i][n] = '\0';	/* the last field may still hold NULs */
		if (nul == NULL)
			break;
		p = nul + 1;
	}
	small = size > 0 ? 1 + data[0] % 32 : 1;

	/* req_parse must free what r owned before (LeakSanitizer). */
	memset(&r, 0, sizeof(r));
	r.body = strdup("{}");
	r.json = json_object_new_object();
	fake_env(&f);
	err = req_parse(&r, fake_params, &f);

	check(err == WX_OK || err == WX_BAD_REQUEST || err == WX_NOT_FOUND,
	    "req_parse returns OK, bad request or not found");
	check(r.body == NULL && r.json == NULL, "req_parse starts empty");
	check(TERMINATED(r.route) && TERMINATED(r.query) &&
	    TERMINATED(r.content_type) && TERMINATED(r.auth) &&
	    TERMINATED(r.reqid) && TERMINATED(r.remote), "fields terminated");

	/* The route. */
	if (err != WX_NOT_FOUND)
		check(req_route_ok(r.route), "a route that passed is acceptable");
	else
		check(r.route[0] == '\0', "a refused route is cleared");
	check(req_route_ok(f.v[F_PATH]) == model_route_ok(f.v[F_PATH]),
	    "req_route_ok follows its rule");
	check(req_route_ok(r.route) == model_route_ok(r.route),
	    "req_route_ok follows its rule (parsed)");
	if (f.v[F_PATH] != NULL && strlen(f.v[F_PATH]) < LIM_ROUTE &&
	    model_route_ok(f.v[F_PATH]))
		check(err != WX_NOT_FOUND && strcmp(r.route, f.v[F_PATH]) == 0,
		    "a good route is kept as given");

	/* The request id. */
	check(r.reqid[0] != '\0' && val_request_id(r.reqid),
	    "a request id we would accept");
	if (f.v[F_REQID] != NULL && val_request_id(f.v[F_REQID]))
		check(strcmp(r.reqid, f.v[F_REQID]) == 0,
		    "a sane caller's request id is kept");

	/* Method, length, headers. */
	check(req_method_name(r.method) != NULL, "a method name");
	if (r.method != M_OTHER)
		check(f.v[F_METHOD] != NULL &&
		    strcmp(req_method_name(r.method), f.v[F_METHOD]) == 0,
		    "the method is the one given");
	check(r.content_length >= -1, "Content-Length -1 or more");
	if (f.v[F_CLEN] == NULL || f.v[F_CLEN][0] == '\0')
		check(r.content_length == -1, "no Content-Length: -1");
	if (err == WX_OK) {
		check(strcmp(r.content_type, f.v[F_CTYPE] ? f.v[F_CTYPE] : "") == 0 &&
		    strcmp(r.auth, f.v[F_AUTH] ? f.v[F_AUTH] : "") == 0 &&
		    strcmp(r.query, f.v[F_QUERY] ? f.v[F_QUERY] : "") == 0,
		    "headers kept as given");
	} else
		check(memchr(r.e.msg, '\0', sizeof(r.e.msg)) != NULL &&
		    r.e.msg[0] != '\0' && r.e.err == err,
		    "an error is carried, with a message");

	/* The pure helpers, on what was parsed and on the raw fields. */
	check_query(r.query, "openId", small);
	check_query(r.query, "templateId", small);
	check_query(f.v[F_QUERY], "openId", small);
	check_query(f.v[F_QUERY], "templateId", small);
	check(req_is_json(r.content_type) == model_is_json(r.content_type),
	    "req_is_json follows its rule");
	check(req_is_json(f.v[F_CTYPE]) == model_is_json(f.v[F_CTYPE]),
	    "req_is_json follows its rule (raw)");
	check_bearer(r.auth);
	check_bearer(f.v[F_AUTH]);
	for (i = 0; i < NFIELDS; i++)
		check(session_token_shape(f.v[i]) == model_token_shape(f.v[i]),
		    "session_token_shape follows its rule");

	req_reset(&r);
	check(r.body == NULL && r.json == NULL && r.route[0] == '\0' &&
	    r.reqid[0] == '\0' && r.content_length == -1, "req_reset clears");
	for (i = 0; i < NFIELDS; i++) {
		free(f.v[i]);
		free(f.env[i]);
	}
	return 0;
}
