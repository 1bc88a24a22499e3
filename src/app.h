/*
 * app.h: one process's long-lived state and the life of one request:
 * parse -> route -> authenticate -> read body -> handle -> answer.
 * The FastCGI loop (main.c) is the only caller; it supplies the I/O.
 */
#ifndef WX_APP_H
#define WX_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "deadline.h"
#include "request.h"
#include "store.h"
#include "token.h"
#include "upstream.h"

struct tplcache;

/*
 * One mini program, and the install. A single configuration file is one
 * app, which is also the install (root == itself, n_apps 0). A directory
 * of *.conf files (api.md section 8) is an install whose own struct holds
 * only the directory's state and the shared handles, and apps[] one app
 * per file, sorted by name; handlers always get an app.
 */
struct app {
	char		 name[LIM_APPNAME];	/* the file's stem; "" for a single file */
	struct app	*root;		/* the install */
	struct app	*apps;		/* a directory install: its apps */
	size_t		 n_apps;
	size_t		 home;		/* the app whose Redis keeps the install's counters */
	struct app	*last;		/* the app the last request was for */
	char		 metrics_key[LIM_KEY];	/* the install's counters (metrics.h) */
	struct config	 cfg;
	bool		 cfg_ok;
	char		 cfg_err[2 * LIM_ERRMSG];	/* "file:line: why" */
	struct store	*st;
	struct upstream	*up;
	struct tokensrc	 tok;
	bool		 warned_trust;	/* record.trustClientOpenId, once */
	struct deadline	 dl;	/* this request's read deadline (http.readTimeoutMs) */
	bool		 body_whole;	/* the request's body was read to its Content-Length */
	struct tplcache	*tplc;	/* the template list's copy (templates.h) */
};

/* How main.c lets the app talk to the web server. */
struct io {
	req_params_fn	 params;			/* the CGI parameters */
	size_t		(*read)(void *ctx, char *buf, size_t n);	/* body */
	int		(*write)(void *ctx, const char *buf, size_t n);	/* answer */
	void		*ctx;
};

/*
 * Load the configuration and make the per-process handles, once per
 * process. config_path names a file (one app) or a directory (one app per
 * *.conf in it, named by the file's stem; routes then start with the
 * app's name and every Redis key of an app carries its appid, see
 * conf_scope). A bad configuration is kept as cfg_err (every request
 * then answers 500 config_error) so that the web server stays up: the
 * install's own (no such directory, no *.conf, a file name that is not an
 * app name) for every request, an app's for that app's routes. -1 only
 * when out of memory.
 */
int	app_init(struct app *, const char *config_path);
void	app_free(struct app *);

/*
 * The app a command is about: name NULL picks the one app of a single
 * file; a name picks that app of a directory. NULL when there is no such
 * app (or a name was given for a single file, or none for a directory).
 */
struct app *app_named(struct app *root, const char *name);

/*
 * Serve one request end to end. The request's read deadline starts here
 * (right after the web server's parameters arrived): the body must have
 * arrived by then, and main.c bounds its closing drain by it (a->dl;
 * the drain may move it later) unless the body was read whole
 * (a->body_whole): then the server has nothing left to send but the
 * end of the stream, and the drain ends at once.
 */
void	app_serve(struct app *, const struct io *);

/*
 * Once the answer is out: what the store holds is sent (a login lease's
 * end), and a send lock's release (store.h) too unless next_waiting:
 * another request is already at the door, and when it is a send the
 * release rides with its claim, sparing Redis a wake-up and this process
 * a write per send. It waits for nothing slow: app_serve sends it before
 * any route but /send runs (they may call WeChat) and when the next
 * request is for another app, and app_after once it is APP_HOLD_MS old.
 * Only the lock's own user may wait longer, behind a next request whose
 * body trickles in (the shipped server kits hand bodies over whole);
 * never beyond the lock's life, and the claim's compare makes a late
 * release harmless. Then work that should not delay an answer
 * (refreshing the token ahead, adding the counts to the fleet's).
 */
#define APP_HOLD_MS	20
void	app_after(struct app *, bool next_waiting);

#endif
