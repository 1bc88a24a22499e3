/*
 * main.c: the FastCGI responder's loop, and the only file that knows
 * libfcgi. fcgi_stdio's FCGI_Accept serves FastCGI when stdin is a
 * listening socket and exactly one plain CGI request otherwise.
 * (fcgi_stdio.h redefines stdio, so nothing here includes hiredis.)
 */
#include <fcgi_stdio.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "log.h"

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

static const char *
param(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);	/* FCGI_Accept swapped environ for the request's */
}

static size_t
body_read(void *ctx, char *buf, size_t n)
{
	(void)ctx;
	return FCGI_fread(buf, 1, n, FCGI_stdin);
}

static int
answer_write(void *ctx, const char *buf, size_t n)
{
	(void)ctx;
	return FCGI_fwrite((void *)buf, 1, n, FCGI_stdout) == n ? 0 : -1;
}

int
main(void)
{
	static struct app app;
	const struct io io = { param, body_read, answer_write, NULL };
	char path[LIM_PATH];
	const char *env;
	struct sigaction sa;

	/* FCGI_Accept replaces environ: read the process settings first. */
	env = getenv("WXSUB_CONFIG");
	snprintf(path, sizeof(path), "%s", env != NULL && *env != '\0' ? env :
	    SYSCONFDIR "/wxsub.conf");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (app_init(&app, path) != 0) {
		log_error("out of memory at start");
		return 1;
	}
	while (!stopping && FCGI_Accept() >= 0) {
		app_serve(&app, &io);
		FCGI_Finish();	/* the answer is out before the work below */
		app_after(&app);
	}
	app_free(&app);
	return 0;
}
