/*
 * main.c: the FastCGI responder's loop, and the only file that knows
 * libfcgi. With a FastCGI listener on stdin (mod_fcgid, lighttpd,
 * spawn-fcgi) it serves requests until told to stop; without one it
 * serves exactly one request as plain CGI (shared hosting with mod_cgi).
 * It uses fcgiapp's explicit streams, not fcgi_stdio: no environ
 * swapping per request, and no stdio macros leaking into other headers.
 */
#include <fastcgi.h>
#include <fcgiapp.h>

#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "deadline.h"
#include "log.h"

/*
 * After the answer, libfcgi (and the CGI drain) read what the server
 * still sends so that closing does not reset the answer away. That read
 * ends at the request's read deadline, or this long after the answer if
 * the deadline has already passed: enough for a server to take the
 * answer and close, too short for a trickling client to matter.
 */
#define DRAIN_MIN_MS	250

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	/* Only a flag: the loop ends after the current request. */
	stopping = 1;
	FCGX_ShutdownPending();
}

/* FastCGI: the request's parameters and streams. */
static char *const *
fcgi_params(void *ctx)
{
	return ((FCGX_Request *)ctx)->envp;
}

static size_t
fcgi_read(void *ctx, char *buf, size_t n)
{
	int got = FCGX_GetStr(buf, n > 65536 ? 65536 : (int)n,
	    ((FCGX_Request *)ctx)->in);

	return got > 0 ? (size_t)got : 0;
}

/* Is another request already at the door (the listening socket)? */
static bool
fcgi_next_waiting(void)
{
	struct pollfd p = { .fd = FCGI_LISTENSOCK_FILENO, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

static int
fcgi_write(void *ctx, const char *buf, size_t n)
{
	return FCGX_PutStr(buf, (int)n, ((FCGX_Request *)ctx)->out) == (int)n ?
	    0 : -1;
}

/* Plain CGI: the process environment and stdio. */
extern char **environ;
static size_t cgi_consumed;

static char *const *
cgi_params(void *ctx)
{
	(void)ctx;
	return environ;
}

static size_t
cgi_read(void *ctx, char *buf, size_t n)
{
	size_t got;

	(void)ctx;
	got = fread(buf, 1, n, stdin);
	cgi_consumed += got;
	return got;
}

/*
 * After answering without reading the body (401, 413): mod_cgid hands the
 * script one socket for both directions, and exiting with unread input
 * resets it, losing the answer. Drain what is left of CONTENT_LENGTH,
 * bounded, before exit.
 */
static void
cgi_drain(const struct deadline *dl)
{
	const char *cl = getenv("CONTENT_LENGTH");
	char buf[8192], *end;
	unsigned long long want;
	size_t n;

	if (cl == NULL || *cl == '\0')
		return;
	want = strtoull(cl, &end, 10);
	if (*end != '\0' || want <= cgi_consumed)
		return;
	want -= cgi_consumed;
	if (want > LIM_DRAIN)
		want = LIM_DRAIN;
	while (want > 0 && !dl_passed(dl) && (n = fread(buf, 1,
	    want < sizeof(buf) ? (size_t)want : sizeof(buf), stdin)) > 0)
		want -= n;
}

/*
 * Send the answer and end the request, bounding libfcgi's closing drain
 * (see DRAIN_MIN_MS). The streams are closed first, unhurried: only the
 * read that follows runs under the timer. After a body read to its
 * Content-Length (whole) the server sends nothing more but the stream's
 * end, so no timer is needed: two setitimer calls less per /send and
 * /record.
 */
static void
fcgi_finish(FCGX_Request *req, struct deadline *dl, bool whole)
{
	FCGX_FClose(req->err);
	FCGX_FClose(req->out);	/* the answer and END_REQUEST */
	if (whole) {
		FCGX_Finish_r(req);
		return;
	}
	dl_at_least(dl, DRAIN_MIN_MS);
	dl_arm(dl);
	FCGX_Finish_r(req);
	dl_disarm();
}

static int
cgi_write(void *ctx, const char *buf, size_t n)
{
	(void)ctx;
	return fwrite(buf, 1, n, stdout) == n ? 0 : -1;
}

int
main(void)
{
	static struct app app;
	FCGX_Request req;
	struct io io;
	char path[LIM_PATH];
	const char *env;
	struct sigaction sa;
	locale_t cloc;

	env = getenv("WXSUB_CONFIG");
	snprintf(path, sizeof(path), "%s", env != NULL && *env != '\0' ? env :
	    SYSCONFDIR "/wxsub.conf");

	/*
	 * json-c brackets every parse with duplocale/newlocale/freelocale,
	 * which copy the global locale each time (about 2k instructions per
	 * JSON text); on glibc's static C locale object they do nothing. The
	 * global locale is "C" anyway (nothing here calls setlocale), so
	 * making it this thread's changes nothing else.
	 */
	if ((cloc = newlocale(LC_ALL_MASK, "C", (locale_t)0)) != (locale_t)0)
		uselocale(cloc);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (dl_init() != 0) {
		log_error("cannot install the read deadline's signal handler");
		return 1;
	}
	if (app_init(&app, path) != 0) {
		log_error("out of memory at start");
		return 1;
	}
	if (FCGX_IsCGI()) {
		io = (struct io){ .params = cgi_params, .read = cgi_read,
		    .write = cgi_write };
		app_serve(&app, &io);
		fflush(stdout);
		dl_at_least(&app.dl, DRAIN_MIN_MS);
		dl_arm(&app.dl);
		cgi_drain(&app.dl);
		dl_disarm();
		app_after(&app, false);
		app_free(&app);
		return 0;
	}
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0) {
		log_error("cannot initialise libfcgi");
		app_free(&app);
		return 1;
	}
	io = (struct io){ .params = fcgi_params, .read = fcgi_read,
	    .write = fcgi_write, .ctx = &req };
	while (!stopping && FCGX_Accept_r(&req) >= 0) {
		app_serve(&app, &io);
		fcgi_finish(&req, &app.dl, app.body_whole);	/* the answer is out before the work below */
		app_after(&app, fcgi_next_waiting());
	}
	app_free(&app);
	return 0;
}
