/*
 * app.c: the request pipeline. Data flows one way:
 *   req_parse -> route_find -> auth_check -> read_body -> handler -> render
 * and every early exit lands on the same answer path.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app.h"
#include "auth.h"
#include "jsonio.h"
#include "log.h"
#include "metrics.h"
#include "response.h"
#include "route.h"
#include "templates.h"

/*
 * a's store: over the connection of an app loaded before it that uses
 * the same Redis (one connection per process for a directory of apps on
 * one Redis), else a connection of its own.
 */
static struct store *
open_store(struct app *root, struct app *a)
{
	for (struct app *b = root->apps; b != NULL && b < a; b++)
		if (b->cfg_ok && a->cfg_ok && b->st != NULL &&
		    conf_same_redis(&b->cfg, &a->cfg))
			return store_new_sharing(&a->cfg, b->st);
	return store_new(&a->cfg);
}

/*
 * Load one app's file into a (in a directory install with its name,
 * and its keys scoped by its appid) and make its handles; a refused file
 * is kept as a->cfg_err. -1 only when out of memory.
 */
static int
load_one(struct app *root, struct app *a, const char *path, const char *name)
{
	char warn[CONF_WARN_MAX][LIM_ERRMSG];
	size_t i, n;

	a->root = root;
	if (name != NULL)
		snprintf(a->name, sizeof(a->name), "%s", name);
	if (conf_load(&a->cfg, path, a->cfg_err, sizeof(a->cfg_err)) != 0 ||
	    (name != NULL && conf_scope(&a->cfg, a->cfg_err,
	    sizeof(a->cfg_err)) != 0)) {
		log_error("configuration refused: %s", a->cfg_err);
	} else {
		a->cfg_ok = true;
		n = conf_warnings(&a->cfg, warn, CONF_WARN_MAX);
		for (i = 0; i < n; i++)
			log_warn("%s", warn[i]);
	}
	if ((a->st = open_store(root, a)) == NULL)
		return -1;
	a->up = root->up;
	a->tok.st = a->st;
	a->tok.up = a->up;
	a->tok.cfg = &a->cfg;
	return 0;
}

static int
by_name(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Free the names read_names collected. */
static void
free_names(char **names, size_t n)
{
	while (n > 0)
		free(names[--n]);
	free(names);
}

/*
 * The app names of dir (the stems of its *.conf files, hidden files
 * left out), sorted. 0, or -1 with the reason in root->cfg_err.
 */
static int
read_names(struct app *root, const char *dir, char ***out, size_t *n)
{
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t len;

	*n = 0;
	if ((d = opendir(dir)) == NULL) {
		snprintf(root->cfg_err, sizeof(root->cfg_err), "%s: cannot read "
		    "the directory: %s", dir, strerror(errno));
		return -1;
	}
	if ((names = calloc(LIM_APPS, sizeof(*names))) == NULL)
		goto nomem;
	while ((e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 5 ||
		    strcmp(e->d_name + len - 5, ".conf") != 0)
			continue;
		if (!route_app_name_ok(e->d_name, len - 5)) {
			snprintf(root->cfg_err, sizeof(root->cfg_err), "%s/%.*s: an "
			    "app is named by its file, and a name is 1..%d of "
			    "a-z 0-9 -: rename the file", dir, (int)len, e->d_name,
			    LIM_APPNAME - 1);
			goto fail;
		}
		if (*n == LIM_APPS) {
			snprintf(root->cfg_err, sizeof(root->cfg_err), "%s: more "
			    "than %d apps", dir, LIM_APPS);
			goto fail;
		}
		if ((names[*n] = strndup(e->d_name, len - 5)) == NULL)
			goto nomem;
		(*n)++;
	}
	closedir(d);
	if (*n == 0) {
		snprintf(root->cfg_err, sizeof(root->cfg_err), "%s: no *.conf "
		    "file in the directory (one per app)", dir);
		free(names);
		return -1;
	}
	qsort(names, *n, sizeof(*names), by_name);
	*out = names;
	return 0;
nomem:
	snprintf(root->cfg_err, sizeof(root->cfg_err), "%s: out of memory", dir);
fail:
	closedir(d);
	free_names(names, *n);
	*n = 0;
	return -1;
}

/*
 * A directory install: one app per file. The install's counters live in
 * the first good app's Redis under its redis.prefix as written (before
 * the appid is added), so /metrics covers every app. -1 only when out of
 * memory.
 */
static int
load_dir(struct app *root, const char *dir)
{
	char **names = NULL, path[LIM_PATH];
	size_t i, n;
	int rc = 0, level = LOG_ERROR;
	struct config plain;

	conf_defaults(&root->cfg);
	snprintf(root->cfg.file, sizeof(root->cfg.file), "%s", dir);
	if (read_names(root, dir, &names, &n) != 0) {
		log_error("configuration refused: %s", root->cfg_err);
		return strstr(root->cfg_err, "out of memory") != NULL ? -1 : 0;
	}
	if ((root->apps = calloc(n, sizeof(*root->apps))) == NULL) {
		free_names(names, n);
		return -1;
	}
	root->n_apps = n;
	root->home = n;
	for (i = 0; i < n && rc == 0; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s.conf", dir,
		    names[i]) >= sizeof(path))
			path[0] = '\0';	/* refused by conf_load, named */
		rc = load_one(root, &root->apps[i], path, names[i]);
		if (!root->apps[i].cfg_ok)
			continue;
		if (root->apps[i].cfg.log_level < level)
			level = root->apps[i].cfg.log_level;
		if (root->home == n) {
			root->home = i;
			/* The prefix as written: load it again, unscoped. */
			if (conf_load(&plain, path, NULL, 0) == 0)
				(void)store_key(&plain, "metrics", NULL,
				    root->metrics_key, sizeof(root->metrics_key));
		}
	}
	free_names(names, n);
	if (root->home == n)
		root->home = 0;		/* every app refused: each says why */
	log_set_level((enum log_level)level);
	root->cfg_ok = true;
	log_debug("%zu app(s) from %s", n, dir);
	return rc;
}

int
app_init(struct app *a, const char *path)
{
	struct stat sb;

	memset(a, 0, sizeof(*a));
	a->root = a;
	if ((a->up = up_new()) == NULL)
		return -1;
	if (path != NULL && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return load_dir(a, path);
	if (load_one(a, a, path, NULL) != 0)
		return -1;
	if (a->cfg_ok)
		log_set_level((enum log_level)a->cfg.log_level);
	(void)store_key(&a->cfg, "metrics", NULL, a->metrics_key,
	    sizeof(a->metrics_key));
	return 0;
}

struct app *
app_named(struct app *root, const char *name)
{
	size_t lo = 0, hi = root->n_apps, mid;
	int c;

	if (root->n_apps == 0)
		return name == NULL ? root : NULL;
	if (name == NULL)
		return NULL;
	while (lo < hi) {	/* apps[] is sorted by name */
		mid = (lo + hi) / 2;
		if ((c = strcmp(name, root->apps[mid].name)) == 0)
			return &root->apps[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The app that keeps the install's counters (and answers /health). */
static struct app *
home(struct app *root)
{
	return root->n_apps > 0 ? &root->apps[root->home] : root;
}

/* Add this process's counts to the fleet's (one round trip, batched). */
static void
flush_counts(struct app *root)
{
	const char *const *fields;
	const long long *deltas;
	size_t n = metrics_pending(&fields, &deltas);
	struct app *h = home(root);

	if (n == 0 || !h->cfg_ok || root->metrics_key[0] == '\0')
		return;
	if (store_hash_add(h->st, root->metrics_key, fields, deltas, n) == WX_OK)
		metrics_clear();
}

void
app_free(struct app *a)
{
	size_t i;

	if (a->cfg_ok)
		flush_counts(a);
	/* releases first: a store may use the connection of one freed before */
	for (i = 0; i < a->n_apps; i++)
		store_release(a->apps[i].st);
	store_release(a->st);
	for (i = 0; i < a->n_apps; i++) {
		tpl_cache_free(&a->apps[i]);
		store_free(a->apps[i].st);
	}
	free(a->apps);
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
read_body(struct app *a, const struct io *io, struct request *r, bool raw)
{
	size_t max = a->cfg.max_body, want, got = 0, n;

	if (r->content_length > (long long)max)
		return wxe_set(&r->e, WX_TOO_LARGE,
		    "the body is larger than %zu bytes", max);
	if (!raw && !req_is_json(r->content_type))
		return wxe_set(&r->e, WX_MEDIA_TYPE,
		    "Content-Type must be application/json");
	want = r->content_length >= 0 ? (size_t)r->content_length : max + 1;
	if ((r->body = malloc(want + 1)) == NULL)
		return wxe_set(&r->e, WX_INTERNAL, NULL);
	dl_arm(&a->root->dl);
	while (got < want && !dl_passed(&a->root->dl) &&
	    (n = io->read(io->ctx, r->body + got, want - got)) > 0)
		got += n;
	dl_disarm();
	r->body[got] = '\0';
	r->body_len = got;
	a->root->body_whole = r->content_length >= 0 && got == want;
	if (got < want && dl_passed(&a->root->dl))
		return wxe_set(&r->e, WX_READ_TIMEOUT,
		    "the body did not arrive within %ld ms", a->cfg.read_timeout_ms);
	if (got > max)
		return wxe_set(&r->e, WX_TOO_LARGE,
		    "the body is larger than %zu bytes", max);
	if (r->content_length >= 0 && got < want)
		return wxe_set(&r->e, WX_BAD_REQUEST,
		    "the body ended before Content-Length");
	if (raw)
		return WX_OK;
	return jsonio_parse_object(r->body, r->body_len, &r->json, &r->e);
}

/*
 * A directory install: the app the route names ("/shop/send" -> shop,
 * route "/send"), or for /health and /metrics the install's home app.
 * The read deadline becomes the app's http.readTimeoutMs, still counted
 * from the request's start.
 */
static enum wx_err
pick_app(struct app *root, struct request *r, struct app **t)
{
	char name[LIM_APPNAME];
	const char *rest;
	struct app *a;

	if (route_is_install(r->route)) {
		*t = home(root);
		return WX_OK;
	}
	if (route_app(r->route, name, sizeof(name), &rest) != 0)
		return wxe_set(&r->e, WX_NOT_FOUND,
		    "no route %s: routes are /<app>/<route>", r->route);
	if ((a = app_named(root, name)) == NULL)
		return wxe_set(&r->e, WX_NOT_FOUND, "no app %s", name);
	*t = a;
	memmove(r->route, rest, strlen(rest) + 1);
	if ((*t)->cfg_ok && root->dl.at_ms != 0 && (*t)->cfg.read_timeout_ms > 0)
		root->dl.at_ms += (*t)->cfg.read_timeout_ms -
		    root->cfg.read_timeout_ms;
	return WX_OK;
}

/*
 * Said to anyone, /health included: no path (it names the hosting user)
 * and no text of the file. The log has where.
 */
static enum wx_err
not_configured(struct request *r)
{
	return wxe_set(&r->e, WX_CONFIG, "the service is not configured; "
	    "see the server log");
}

/*
 * Everything before the handler; WX_OK when the handler may run, for
 * the app *t (root itself for a single file).
 */
static enum wx_err
prepare(struct app *root, const struct io *io, struct request *r,
    struct response *resp, const struct route **rt, struct app **t)
{
	enum wx_err err;
	struct app *a;

	if ((err = req_parse(r, io->params, io->ctx)) != WX_OK)
		return err;
	log_set_reqid(r->reqid);
	if (!root->cfg_ok)
		return not_configured(r);
	if (root->n_apps > 0 && (err = pick_app(root, r, t)) != WX_OK)
		return err;
	a = *t;
	metrics_app(route_is_install(r->route) ? "" : a->name);
	if (!a->cfg_ok)
		return not_configured(r);
	*rt = route_find(r->route, r->method, &err, resp->allow,
	    sizeof(resp->allow));
	if (*rt == NULL)
		return wxe_set(&r->e, err, err == WX_METHOD ?
		    "%s does not take this method" : "no route %s", r->route);
	if ((err = auth_check(a, (*rt)->auth, r)) != WX_OK)
		return err;
	if ((*rt)->body != BODY_NONE)
		return read_body(a, io, r, (*rt)->body == BODY_RAW);
	return WX_OK;
}

void
app_serve(struct app *root, const struct io *io)
{
	struct request r;
	struct response resp;
	const struct route *rt = NULL;
	struct app *a = root;
	char head[512];
	const char *body;
	size_t bodylen;
	enum wx_err err;

	dl_start(&root->dl, root->cfg.read_timeout_ms > 0 ?
	    root->cfg.read_timeout_ms : LIM_READ_TIMEOUT);
	req_init(&r);
	resp_init(&resp);
	metrics_app("");
	root->body_whole = false;
	err = prepare(root, io, &r, &resp, &rt, &a);
	if (r.content_length == 0)
		root->body_whole = true;	/* nothing to read */
	if (root->last != NULL && root->last->st != NULL &&
	    (root->last != a || (err == WX_OK && !rt->claims)))
		store_release(root->last->st);
	root->last = a;
	/* The one exit of every failure, before or in the handler. */
	if (err == WX_OK)
		err = rt->fn(a, &r, &resp);
	if (err != WX_OK) {
		r.e.err = err;
		resp_fail(&resp, &r.e);
	}

	if (resp_render(&resp, r.reqid, head, sizeof(head), &body, &bodylen) == 0) {
		io->write(io->ctx, head, strlen(head));
		if (r.method != M_HEAD)	/* the GET's headers, no body */
			io->write(io->ctx, body, bodylen);
	}
	metrics_request(rt != NULL ? rt->path : "other", resp.status);
	log_msg(resp.status >= 500 ? LOG_ERROR : resp.status >= 400 ? LOG_INFO :
	    LOG_DEBUG, "%s %s%s%s from %s -> %d %s", req_method_name(r.method),
	    a->name[0] ? "/" : "", a->name, r.route[0] ? r.route : "-",
	    r.remote[0] ? r.remote : "-", resp.status,
	    resp.err != WX_OK ? wxerr_code(resp.err) : "");
	metrics_app("");
	resp_reset(&resp);
	req_reset(&r);
	log_set_reqid(NULL);
}

void
app_after(struct app *root, bool next_waiting)
{
	/*
	 * The app this request was for: the others hold and owe nothing.
	 * A directory install's own struct (a request that named no app)
	 * has no store.
	 */
	struct app *a = root->last;

	if (a == NULL || a->st == NULL)
		return;
	store_flush(a->st);
	if (!next_waiting || store_releasing_ms(a->st) >= APP_HOLD_MS)
		store_release(a->st);
	if (!root->cfg_ok || !a->cfg_ok)
		return;
	token_refresh_ahead(&a->tok);
	tpl_after(a);
	if (metrics_due())
		flush_counts(root);
}
