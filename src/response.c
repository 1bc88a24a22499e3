/*
 * response.c: building and rendering answers. The JSON is written by
 * jsonw, which escapes every string, so nothing a caller sent can break
 * the encoding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "num.h"
#include "response.h"

/* The status line; NULL for a status wxsub never answers with. */
static const char *
status_line(int status)
{
	switch (status) {
	case 200: return "Status: 200 OK\r\n";
	case 202: return "Status: 202 Accepted\r\n";
	case 400: return "Status: 400 Bad Request\r\n";
	case 401: return "Status: 401 Unauthorized\r\n";
	case 403: return "Status: 403 Forbidden\r\n";
	case 404: return "Status: 404 Not Found\r\n";
	case 405: return "Status: 405 Method Not Allowed\r\n";
	case 408: return "Status: 408 Request Timeout\r\n";
	case 409: return "Status: 409 Conflict\r\n";
	case 413: return "Status: 413 Payload Too Large\r\n";
	case 415: return "Status: 415 Unsupported Media Type\r\n";
	case 422: return "Status: 422 Unprocessable Entity\r\n";
	case 429: return "Status: 429 Too Many Requests\r\n";
	case 500: return "Status: 500 Internal Server Error\r\n";
	case 502: return "Status: 502 Bad Gateway\r\n";
	case 503: return "Status: 503 Service Unavailable\r\n";
	default: return NULL;
	}
}

struct jsonw *
resp_ok(struct response *r)
{
	resp_reset(r);
	r->status = 200;
	r->err = WX_OK;
	r->has_body = true;
	jw_init(&r->body, r->json, sizeof(r->json));
	jw_bool(&r->body, "ok", true);
	return &r->body;
}

void
resp_fail(struct response *r, const struct wxe *x)
{
	char allow[sizeof(r->allow)];
	long retry = r->retry_after;
	enum wx_err e = x->err;

	/* resp_reset clears the headers the failure's path may have set. */
	memcpy(allow, r->allow, sizeof(allow));
	resp_reset(r);
	memcpy(r->allow, allow, sizeof(allow));
	r->retry_after = retry;
	r->status = wxerr_status(e);
	r->err = e;
	r->has_body = true;
	jw_init(&r->body, r->json, sizeof(r->json));
	jw_bool(&r->body, "ok", false);
	jw_str(&r->body, "error", wxerr_code(e));
	jw_str(&r->body, "message", x->msg[0] != '\0' ? x->msg : wxerr_text(e));
	if (x->errcode != 0)
		jw_int(&r->body, "errcode", x->errcode);
}

void
resp_text(struct response *r, const char *ctype, char *text, size_t len)
{
	resp_reset(r);
	r->status = 200;
	r->err = WX_OK;
	r->text = text;
	r->text_len = len;
	r->ctype = ctype;
}

int
resp_render(struct response *r, const char *reqid, char *head, size_t headlen,
    const char **body, size_t *bodylen)
{
	/* Without room for a body, a fixed one still says what happened. */
	static const char oom[] =
	    "{\"ok\":false,\"error\":\"internal_error\","
	    "\"message\":\"the answer did not fit\"}";
	char length[NUM_DEC_MAX], retry[NUM_DEC_MAX];
	const char *line, *parts[14];
	size_t n = 0;

	if (r->text != NULL) {
		*body = r->text;
		*bodylen = r->text_len;
	} else if (!r->has_body ||
	    (*body = jw_finish(&r->body, bodylen)) == NULL) {
		r->status = 500;
		*body = oom;
		*bodylen = sizeof(oom) - 1;
	}
	if ((line = status_line(r->status)) == NULL) {
		r->status = 500;
		line = status_line(500);
	}
	/* Built by hand: this runs for every answer, snprintf costs more. */
	num_u64(length, *bodylen);
	parts[n++] = line;
	parts[n++] = "Content-Type: ";
	parts[n++] = r->text != NULL ? r->ctype : "application/json; charset=utf-8";
	parts[n++] = "\r\nCache-Control: no-store\r\nX-Request-Id: ";
	parts[n++] = reqid;
	if (r->allow[0] != '\0') {
		parts[n++] = "\r\nAllow: ";
		parts[n++] = r->allow;
	}
	if (r->retry_after > 0) {
		num_u64(retry, (unsigned long long)r->retry_after);
		parts[n++] = "\r\nRetry-After: ";
		parts[n++] = retry;
	}
	parts[n++] = "\r\nContent-Length: ";
	parts[n++] = length;
	parts[n++] = "\r\n\r\n";
	return join(head, headlen, parts, n);
}

void
resp_init(struct response *r)
{
	r->text = NULL;
	r->text_len = 0;
	r->ctype = NULL;
	r->status = 0;
	r->err = WX_OK;
	r->has_body = false;
	memset(&r->body, 0, sizeof(r->body));	/* small; json[] is not */
	r->allow[0] = '\0';
	r->retry_after = 0;
}

void
resp_reset(struct response *r)
{
	free(r->text);
	resp_init(r);
}
