/*
 * app.c: the request pipeline. Data flows one way:
 *   req_parse -> route_find -> auth_check -> read_body -> handler -> render
 * and every early exit lands on the same answer path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "jsonio.h"
#include "log.h"
#include "metrics.h"
#include "response.h"
#include "route.h"
#include "templates.h"

int
app_init(struct app *a, const char *path)
{
	char warn[CONF_WARN_MAX][LIM_ERRMSG];
	size_t i, n;

	memset(a, 0, sizeof(*a));
	if (conf_load(&a->cfg, path, a->cfg_err, sizeof(a->cfg_err)) != 0) {
		log_error("configuration refused: %s", a->cfg_err);
	} else {
		a->cfg_ok = true;
		log_set_level((enum log_level)a->cfg.log_level);
		n = conf_warnings(&a->cfg, warn, CONF_WARN_MAX);
		for (i = 0; i < n; i++)
			log_warn("%s", warn[i]);
	}
	a->st = store_new(&a->cfg);
	a->up = up_new();
	if (a->st == NULL || a->up == NULL)
		return -1;
	a->tok.st = a->st;
	a->tok.up = a->up;
	a->tok.cfg = &a->cfg;
	return 0;
}

/* Add this process's counts to the fleet's (one round trip, batched). */
static void
flush_counts(struct app *a)
{
	const char *const *fields;
	const long long *deltas;
	char key[LIM_KEY];
	size_t n = metrics_pending(&fields, &deltas);

	if (n == 0 || store_key(&a->cfg, "metrics", NULL, key, sizeof(key)) != 0)
		return;
	if (store_hash_add(a->st, key, fields, deltas, n) == WX_OK)
		metrics_clear();
}

void
app_free(struct app *a)
{
	if (a->cfg_ok && a->st != NULL)
		flush_counts(a);
	tpl_cache_free(a);
	store_free(a->st);
	up_free(a->up);
	memset(a, 0, sizeof(*a));
}

/*
 * Read the body: refuse (413) what is declared larger than http.maxBody
 * without reading it; read at most maxBody + 1 bytes otherwise, and stop
 * at the read deadline (408): a client that trickles its body must not
 * hold a process. A JSON route's body must say so and is parsed; a raw
 * one (/event: XML or JSON, told apart by its reader) is kept as it came.
 */
static enum wx_err
read_body(struct app *a, const struct io *io, struct request *r, bool raw,
    char *msg, size_t msglen)
{
	size_t max = a->cfg.max_body, want, got = 0, n;

	if (r->content_length > (long long)max) {
		snprintf(msg, msglen, "the body is larger than %zu bytes", max);
		return WX_TOO_LARGE;
	}
	if (!raw && !req_is_json(r->content_type)) {
		snprintf(msg, msglen, "Content-Type must be application/json");
		return WX_MEDIA_TYPE;
	}
	want = r->content_length >= 0 ? (size_t)r->content_length : max + 1;
	if ((r->body = malloc(want + 1)) == NULL)
		return WX_INTERNAL;
	dl_arm(&a->dl);
	while (got < want && !dl_passed(&a->dl) &&
	    (n = io->read(io->ctx, r->body + got, want - got)) > 0)
		got += n;
	dl_disarm();
	r->body[got] = '\0';
	r->body_len = got;
	if (got < want && dl_passed(&a->dl)) {
		snprintf(msg, msglen, "the body did not arrive within %ld ms",
		    a->cfg.read_timeout_ms);
		return WX_READ_TIMEOUT;
	}
	if (got > max) {
		snprintf(msg, msglen, "the body is larger than %zu bytes", max);
		return WX_TOO_LARGE;
	}
	if (r->content_length >= 0 && got < want) {
		snprintf(msg, msglen, "the body ended before Content-Length");
		return WX_BAD_REQUEST;
	}
	if (raw)
		return WX_OK;
	return jsonio_parse_object(r->body, r->body_len, &r->json, msg, msglen);
}

/* Everything before the handler; WX_OK when the handler may run. */
static enum wx_err
prepare(struct app *a, const struct io *io, struct request *r,
    struct response *resp, const struct route **rt, char *msg, size_t msglen)
{
	enum wx_err err;

	if ((err = req_parse(r, io->params, io->ctx, msg, msglen)) != WX_OK)
		return err;
	log_set_reqid(r->reqid);
	if (!a->cfg_ok) {
		/*
		 * Said to anyone, /health included: no path (it names the
		 * hosting user) and no text of the file. The log has where.
		 */
		snprintf(msg, msglen, "the service is not configured; see the "
		    "server log");
		return WX_CONFIG;
	}
	*rt = route_find(r->route, r->method, &err, resp->allow,
	    sizeof(resp->allow));
	if (*rt == NULL) {
		snprintf(msg, msglen, err == WX_METHOD ?
		    "%s does not take this method" : "no route %s", r->route);
		return err;
	}
	if ((err = auth_check(a, (*rt)->auth, r, msg, msglen)) != WX_OK)
		return err;
	if ((*rt)->body != BODY_NONE)
		return read_body(a, io, r, (*rt)->body == BODY_RAW, msg, msglen);
	return WX_OK;
}

void
app_serve(struct app *a, const struct io *io)
{
	struct request r;
	struct response resp;
	const struct route *rt = NULL;
	char msg[2 * LIM_ERRMSG], head[512];
	const char *body;
	size_t bodylen;
	enum wx_err err;

	dl_start(&a->dl, a->cfg.read_timeout_ms > 0 ? a->cfg.read_timeout_ms :
	    LIM_READ_TIMEOUT);
	req_init(&r);
	resp_init(&resp);
	msg[0] = '\0';
	err = prepare(a, io, &r, &resp, &rt, msg, sizeof(msg));
	if (err == WX_OK)
		rt->fn(a, &r, &resp);
	else
		resp_error(&resp, err, msg);

	if (resp_render(&resp, r.reqid, head, sizeof(head), &body, &bodylen) == 0) {
		io->write(io->ctx, head, strlen(head));
		if (r.method != M_HEAD)	/* the GET's headers, no body */
			io->write(io->ctx, body, bodylen);
	}
	metrics_request(rt != NULL ? rt->path : "other", resp.status);
	log_msg(resp.status >= 500 ? LOG_ERROR : resp.status >= 400 ? LOG_INFO :
	    LOG_DEBUG, "%s %s from %s -> %d %s", req_method_name(r.method),
	    r.route[0] ? r.route : "-", r.remote[0] ? r.remote : "-",
	    resp.status, resp.err != WX_OK ? wxerr_code(resp.err) : "");
	resp_reset(&resp);
	req_reset(&r);
	log_set_reqid(NULL);
}

void
app_after(struct app *a)
{
	store_flush(a->st);
	if (!a->cfg_ok)
		return;
	token_refresh_ahead(&a->tok);
	tpl_after(a);
	if (metrics_due())
		flush_counts(a);
}
