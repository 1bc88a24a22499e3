/*
 * response.c: building and rendering answers. JSON is built only with
 * json-c, so nothing a caller sent can break the encoding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonio.h"
#include "response.h"

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

json_object *
resp_ok(struct response *r)
{
	resp_reset(r);
	r->status = 200;
	r->err = WX_OK;
	if ((r->body = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(r->body, "ok", json_object_new_boolean(1));
	return r->body;
}

static void
set_error(struct response *r, enum wx_err e, const char *msg, bool has_errcode,
    long errcode)
{
	char allow[sizeof(r->allow)];

	/* resp_reset clears allow, which the dispatcher may have set. */
	memcpy(allow, r->allow, sizeof(allow));
	resp_reset(r);
	memcpy(r->allow, allow, sizeof(allow));
	r->status = wxerr_status(e);
	r->err = e;
	if ((r->body = json_object_new_object()) == NULL)
		return;
	json_object_object_add(r->body, "ok", json_object_new_boolean(0));
	json_object_object_add(r->body, "error",
	    json_object_new_string(wxerr_code(e)));
	json_object_object_add(r->body, "message",
	    json_object_new_string(msg != NULL ? msg : wxerr_text(e)));
	if (has_errcode)
		json_object_object_add(r->body, "errcode",
		    json_object_new_int64(errcode));
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

void
resp_error(struct response *r, enum wx_err e, const char *msg)
{
	set_error(r, e, msg, false, 0);
}

void
resp_error_wx(struct response *r, enum wx_err e, const char *msg, long errcode)
{
	set_error(r, e, msg, true, errcode);
}

int
resp_render(struct response *r, const char *reqid, char *head, size_t headlen,
    const char **body, size_t *bodylen)
{
	/* Without memory for a body, a fixed one still says what happened. */
	static const char oom[] =
	    "{\"ok\":false,\"error\":\"internal_error\",\"message\":\"out of memory\"}";
	int n;

	if (r->text != NULL) {
		*body = r->text;
		*bodylen = r->text_len;
	} else if (r->body == NULL) {
		r->status = 500;
		*body = oom;
		*bodylen = sizeof(oom) - 1;
	} else
		*body = jsonio_text(r->body, bodylen);
	if (*body == NULL) {
		r->status = 500;
		*body = oom;
		*bodylen = sizeof(oom) - 1;
	}
	n = snprintf(head, headlen,
	    "Status: %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Request-Id: %s\r\n"
	    "%s%s%s"
	    "Content-Length: %zu\r\n\r\n",
	    r->status, reason(r->status),
	    r->text != NULL ? r->ctype : "application/json; charset=utf-8", reqid,
	    r->allow[0] ? "Allow: " : "", r->allow, r->allow[0] ? "\r\n" : "",
	    *bodylen);
	return n < 0 || (size_t)n >= headlen ? -1 : 0;
}

void
resp_reset(struct response *r)
{
	if (r->body != NULL)
		json_object_put(r->body);
	free(r->text);
	memset(r, 0, sizeof(*r));
}
