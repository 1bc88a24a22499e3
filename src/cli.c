/*
 * cli.c: the `wxsub` admin tool. Same library, same configuration, same
 * code paths as the responder: `send` and `subs` run the very handlers
 * of /send and /subscriptions, as a trusted server-to-server caller.
 *
 *   wxsub [-c FILE|DIR] [--app NAME] check-config
 *   wxsub [-c FILE|DIR] [--app NAME] token [--refresh | --force]
 *   wxsub [-c FILE|DIR] [--app NAME] send OPENID [-t TEMPLATE] [-p PAGE] KEY=VALUE...
 *   wxsub [-c FILE|DIR] [--app NAME] subs OPENID
 *   wxsub [-c FILE|DIR] [--app NAME] worker [--once]
 *   wxsub [-c FILE|DIR] [--app NAME] outbox [failed | retry ID]
 *   wxsub [-c FILE|DIR] [--app NAME] templates [sync]
 *
 * With a directory of apps (app.h), --app names the app; check-config
 * and worker without it work for every app.
 * (the commands are cmd_table[] below). Exit codes: 0 done; 1 refused (the answer says why); 2 usage;
 * 3 configuration; 4 Redis unavailable; 5 WeChat or token unavailable.
 * The access token and the AppSecret are never printed.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app.h"
#include "jsonio.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "route.h"
#include "crypto.h"
#include "templates.h"
#include "token.h"
#include "wechat.h"
#include "worker.h"
#include "secure.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

enum exitcode { EX_DONE, EX_REFUSED, EX_USAGE, EX_CONFIG, EX_REDIS, EX_WECHAT };

static int	usage(void);

static enum exitcode
code_for(enum wx_err e)
{
	switch (e) {
	case WX_OK:
		return EX_DONE;
	case WX_CONFIG:
		return EX_CONFIG;
	case WX_REDIS_UNAVAILABLE:
		return EX_REDIS;
	case WX_TOKEN_UNAVAILABLE:
	case WX_UPSTREAM:
		return EX_WECHAT;
	default:
		return EX_REFUSED;
	}
}

/* A token's fingerprint: enough to compare two, useless to an attacker. */
static void
fingerprint(const char *tok, char out[13])
{
	char hex[65];

	if (crypto_sha256_hex(tok, strlen(tok), hex) != 0)
		hex[0] = '\0';
	memcpy(out, hex, 12);
	out[12] = '\0';
}

static int
cmd_check(struct app *a, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage();
	const struct config *c = &a->cfg;
	char tok[LIM_TOKEN], fp[13], where[2 * LIM_HOST + 128];
	struct wxe e = { .err = WX_OK };
	long long ttl;
	struct wx_token t;
	struct wxe ans;
	char warn[CONF_WARN_MAX][LIM_ERRMSG];
	size_t i, n;

	printf("config   %s: ok (appid %s, %zu template(s), %zu api key(s))\n",
	    c->file, c->appid, c->n_template_ids, c->n_api_keys);
	if (c->n_api_keys == 0)
		printf("warning  auth.apiKeys is empty: /send and /subscriptions "
		    "will answer 401\n");
	n = conf_warnings(c, warn, CONF_WARN_MAX);
	for (i = 0; i < n; i++)
		printf("warning  %s\n", warn[i]);
	if (store_where(a->st, where, sizeof(where)) != 0 ||
	    store_token_get(a->st, tok, sizeof(tok), &ttl) != WX_OK) {
		if (c->n_sentinels > 0)
			printf("redis    master %s: NOT found through %zu "
			    "sentinel(s)\n", c->master_name, c->n_sentinels);
		else if (c->redis_unix[0] != '\0')
			printf("redis    %s: NOT reachable\n", c->redis_unix);
		else
			printf("redis    %s:%d: NOT reachable\n", c->redis_host,
			    c->redis_port);
		return EX_REDIS;
	}
	printf("redis    ok\n");
	if (c->n_sentinels > 0)
		printf("redis    %s\n", where);
	switch (outbox_aof(a->st)) {
	case 1:
		break;
	case 0:
		printf("warning  redis has appendonly no: queued outbox messages "
		    "are lost if Redis restarts (set appendonly yes)\n");
		break;
	default:
		printf("warning  cannot tell whether redis has appendonly on "
		    "(INFO refused): queued outbox messages need it\n");
	}
	if (c->wait_replicas > 0 && store_wait(a->st) != WX_OK)
		printf("warning  redis.waitReplicas = %ld: fewer replicas "
		    "answered WAIT within %ld ms\n", c->wait_replicas, c->wait_ms);
	if (tok[0] == '\0') {
		/* Nothing cached: fetch through the shared lock and cache it. */
		if (token_get(&a->tok, tok, sizeof(tok), &e) != WX_OK) {
			printf("wechat   token endpoint FAILED: %s\n", e.msg);
			return EX_WECHAT;
		}
		fingerprint(tok, fp);
		printf("wechat   token endpoint ok; token %s now cached\n", fp);
		return EX_DONE;
	}
	fingerprint(tok, fp);
	printf("token    cached (fingerprint %s), %lld s left\n", fp, ttl);
	if (c->token_api == TOKEN_API_CLASSIC) {
		/* A classic fetch would retire the token the fleet is using. */
		printf("wechat   not called: a classic fetch replaces the cached "
		    "token (use `wxsub token --refresh`)\n");
		return EX_DONE;
	}
	/* stable_token without force_refresh changes nothing at WeChat. */
	if (wechat_token(a->up, c, false, &t, &ans) != WX_OK) {
		printf("wechat   token endpoint FAILED: %s\n", ans.msg);
		return EX_WECHAT;
	}
	printf("wechat   token endpoint ok (stable API, expires in %ld s)\n",
	    t.expires_in);
	return EX_DONE;
}

static int
cmd_token(struct app *a, int argc, char **argv)
{
	char tok[LIM_TOKEN], fp[13];
	struct wxe e = { .err = WX_OK };
	long long ttl;
	enum wx_err err;
	bool refresh = false, force = false;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--refresh") == 0)
			refresh = true;
		else if (strcmp(argv[i], "--force") == 0)
			force = true;
		else
			return usage();
	}
	if ((err = store_token_get(a->st, tok, sizeof(tok), &ttl)) != WX_OK) {
		fprintf(stderr, "wxsub: Redis unavailable\n");
		return code_for(err);
	}
	if (tok[0] == '\0')
		printf("no token cached\n");
	else {
		fingerprint(tok, fp);
		printf("cached token %s: %lld s left", fp, ttl);
		if (ttl >= 0 && ttl < TOKEN_AHEAD_S)
			printf(" (due for a refresh ahead of expiry)");
		printf("\n");
	}
	if (!refresh && !force)
		return EX_DONE;
	/*
	 * --refresh: drop the cached token and fetch through the shared lock.
	 * --force: the same, treating the cached token as revoked, which with
	 * the stable API ends in one force_refresh (throttled fleet-wide).
	 */
	if (tok[0] != '\0')
		err = force ? token_renew(&a->tok, tok, tok, sizeof(tok), &e) :
		    (store_token_drop(a->st, tok) == WX_OK ?
		    token_get(&a->tok, tok, sizeof(tok), &e) :
		    WX_REDIS_UNAVAILABLE);
	else
		err = token_get(&a->tok, tok, sizeof(tok), &e);
	if (err != WX_OK) {
		fprintf(stderr, "wxsub: %s\n", err == WX_REDIS_UNAVAILABLE ?
		    "Redis unavailable" : e.msg);
		return code_for(err);
	}
	(void)store_token_get(a->st, tok, sizeof(tok), &ttl);
	fingerprint(tok, fp);
	printf("new token %s: %lld s left\n", fp, ttl);
	return EX_DONE;
}

/* Run a route's handler for a trusted caller and print its answer. */
static int
run_route(struct app *a, const char *path, enum method m, json_object *body,
    const char *query)
{
	struct request r = { 0 };
	struct response resp = { 0 };
	const struct route *rt;
	enum wx_err err;
	char allow[32];
	const char *text;
	size_t len;
	int rc;

	req_reset(&r);
	rt = route_find(path, m, &err, allow, sizeof(allow));
	if (rt == NULL)
		return EX_USAGE;
	sec_new_id(r.reqid, sizeof(r.reqid));
	log_set_reqid(r.reqid);
	snprintf(r.route, sizeof(r.route), "%s", path);
	if (query != NULL && snprintf(r.query, sizeof(r.query), "%s", query) >=
	    (int)sizeof(r.query))
		return EX_USAGE;
	r.method = m;
	r.who = WHO_APIKEY;
	r.json = body;
	if (rt->fn(a, &r, &resp) != WX_OK)
		resp_fail(&resp, &r.e);
	text = resp.has_body ? jw_finish(&resp.body, &len) : NULL;
	printf("%s\n", text != NULL ? text : "{}");
	rc = code_for(resp.err);
	resp_reset(&resp);
	req_reset(&r);		/* puts body */
	return rc;
}

static int
cmd_send(struct app *a, int argc, char **argv)
{
	json_object *body, *data;
	int i;

	if (argc < 2)
		return usage();
	body = json_object_new_object();
	data = json_object_new_object();
	json_object_object_add(body, "openId", json_object_new_string(argv[0]));
	for (i = 1; i < argc; i++) {
		char *eq;
		if ((strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "-p") == 0) &&
		    i + 1 < argc) {
			json_object_object_add(body, argv[i][1] == 't' ?
			    "templateId" : "page", json_object_new_string(argv[i + 1]));
			i++;
		} else if ((eq = strchr(argv[i], '=')) != NULL && eq != argv[i]) {
			*eq = '\0';
			json_object_object_add(data, argv[i],
			    json_object_new_string(eq + 1));
		} else {
			json_object_put(body);
			json_object_put(data);
			return usage();
		}
	}
	json_object_object_add(body, "data", data);
	return run_route(a, "/send", M_POST, body, NULL);
}

static int
cmd_subs(struct app *a, int argc, char **argv)
{
	char query[LIM_QUERY];

	if (argc != 1 || snprintf(query, sizeof(query), "openId=%s", argv[0]) >=
	    (int)sizeof(query))
		return usage();
	return run_route(a, "/subscriptions", M_GET, NULL, query);
}

/*
 * `templates`: the list as kept (one template a line: id, type, keys);
 * `templates sync`: fetch it from WeChat now and keep it.
 */
static int
cmd_templates(struct app *a, int argc, char **argv)
{
	struct wxe why;
	json_object *list;
	enum wx_err err;
	size_t n, i;

	if (argc == 1 && strcmp(argv[0], "sync") == 0) {
		if ((err = tpl_sync(a, &n, &why)) != WX_OK) {
			fprintf(stderr, "wxsub: templates sync: %s\n",
			    why.msg[0] ? why.msg : wxerr_text(err));
			return code_for(err);
		}
		printf("%zu template(s) kept\n", n);
		return EX_DONE;
	}
	if (argc != 0)
		return usage();
	if ((list = tpl_list(a)) == NULL) {
		fprintf(stderr, "wxsub: no template list (run: wxsub templates sync)\n");
		return EX_REFUSED;
	}
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(list, i), *v, *kws;
		size_t k, nk;

		json_object_object_get_ex(t, "id", &v);
		printf("%s\t%s\t", json_object_get_string(v),
		    tpl_is_longterm(t) ? "long-term" : "one-time");
		json_object_object_get_ex(t, "keywords", &kws);
		nk = kws != NULL ? json_object_array_length(kws) : 0;
		for (k = 0; k < nk; k++) {
			json_object *kw = json_object_array_get_idx(kws, k), *e;
			json_object_object_get_ex(kw, "key", &v);
			printf("%s%s%s", k ? "," : "", json_object_get_string(v),
			    json_object_object_get_ex(kw, "enum", &e) ? "(enum)" : "");
		}
		json_object_object_get_ex(t, "title", &v);
		printf("\t%s\n", v ? json_object_get_string(v) : "");
	}
	return EX_DONE;
}

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* SIGTERM and SIGINT end the worker's loop (or, in a parent, its children). */
static void
catch_term(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* One app's worker (worker_run), stats printed after --once. */
static int
work(struct app *a, bool once)
{
	struct worker_stats ws;

	/* The worker's log is its job: info lines unless told otherwise. */
	log_set_level((enum log_level)a->cfg.log_level);
	metrics_app(a->name);
	if (a->name[0] != '\0')
		log_info("worker of app %s: process %ld", a->name, (long)getpid());
	if (worker_run(a, once, &stopping, &ws) != 0)
		return EX_REDIS;
	if (once)
		printf("%s%ssent %lld, retried %lld, failed %lld, unknown %lld\n",
		    a->name, a->name[0] ? ": " : "", ws.sent, ws.retried,
		    ws.failed, ws.unknown);
	return EX_DONE;
}

/* `worker [--once]`: sends until SIGTERM (or what is due, once). */
static int
cmd_worker(struct app *a, int argc, char **argv)
{
	bool once = argc == 1 && strcmp(argv[0], "--once") == 0;

	if (argc > 1 || (argc == 1 && !once))
		return usage();
	catch_term();
	return work(a, once);
}

/*
 * `worker` of a directory install without --app: every app's outbox.
 * --once drains them one after the other; otherwise each app's worker
 * runs in a child process of its own (a worker's loop waits on its own
 * app's stream), and SIGTERM to this one is passed on to them all.
 */
static int
worker_all(struct app *root, int argc, char **argv)
{
	bool once = argc == 1 && strcmp(argv[0], "--once") == 0;
	pid_t pid[LIM_APPS];
	size_t i, n = 0;
	int rc = EX_DONE, st;

	if (argc > 1 || (argc == 1 && !once))
		return usage();
	catch_term();
	for (i = 0; i < root->n_apps; i++) {
		struct app *a = &root->apps[i];
		if (!a->cfg_ok) {
			fprintf(stderr, "wxsub: %s\n", a->cfg_err);
			rc = EX_CONFIG;
			continue;
		}
		if (once) {
			if ((st = work(a, true)) != EX_DONE && rc == EX_DONE)
				rc = st;
			continue;
		}
		fflush(NULL);
		if ((pid[n] = fork()) == 0)
			_exit(work(a, false));
		if (pid[n] < 0) {
			fprintf(stderr, "wxsub: cannot start the worker of %s\n",
			    a->name);
			rc = EX_REDIS;
			stopping = 1;
			break;
		}
		n++;
	}
	for (i = 0; i < n; ) {
		if (waitpid(pid[i], &st, 0) < 0) {
			if (stopping)	/* interrupted: pass it on, wait again */
				for (size_t j = i; j < n; j++)
					kill(pid[j], SIGTERM);
			continue;
		}
		if (rc == EX_DONE && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
			rc = WIFEXITED(st) ? WEXITSTATUS(st) : EX_REDIS;
		i++;
	}
	return rc;
}

/*
 * check-config of a directory install: every app in turn, under a line
 * naming it; the exit code is the first failure's.
 */
static int
check_all(struct app *root, int argc, char **argv)
{
	int rc = EX_DONE, one;

	if (argc != 0)
		return usage();
	printf("install  %s: %zu app(s)\n", root->cfg.file, root->n_apps);
	for (size_t i = 0; i < root->n_apps; i++) {
		struct app *a = &root->apps[i];

		printf("app      %s\n", a->name);
		if (!a->cfg_ok) {
			printf("config   %s\n", a->cfg_err);
			one = EX_CONFIG;
		} else
			one = cmd_check(a, 0, argv);
		if (rc == EX_DONE)
			rc = one;
	}
	return rc;
}

/* `outbox`, `outbox failed`, `outbox retry ID`. */
static int
cmd_outbox(struct app *a, int argc, char **argv)
{
	char ids[100][OUTBOX_ID_LEN + 1];
	struct outbox_counts oc;
	struct outbox_msg m;
	const char *how;
	size_t n, i;

	if (argc == 0) {
		if (outbox_counts(a->st, &a->cfg, &oc) != WX_OK)
			return EX_REDIS;
		printf("stream   %lld\npending  %lld\ndelayed  %lld\n"
		    "failed   %lld\nunknown  %lld\n", oc.stream, oc.pending,
		    oc.delayed, oc.failed, oc.unknown);
		return EX_DONE;
	}
	if (argc == 1 && strcmp(argv[0], "failed") == 0) {
		if (outbox_failed(a->st, &a->cfg, ids, 100, &n) != WX_OK)
			return EX_REDIS;
		for (i = 0; i < n; i++) {
			if (outbox_get(a->st, &a->cfg, ids[i], &m) != WX_OK)
				return EX_REDIS;
			if (!m.found)
				continue;
			printf("%s %s %s attempts=%lld error=%s", ids[i],
			    m.openid, m.template_id, m.attempts,
			    m.error[0] ? m.error : "-");
			if (m.has_errcode)
				printf(" errcode=%lld", m.errcode);
			printf("\n");
		}
		return EX_DONE;
	}
	if (argc == 2 && strcmp(argv[0], "retry") == 0) {
		if (outbox_retry(a->st, &a->cfg, argv[1], &how) != WX_OK)
			return EX_REDIS;
		printf("%s %s\n", argv[1], how);
		return strcmp(how, "queued") == 0 ? EX_DONE : EX_REFUSED;
	}
	return usage();
}

static void
quiet(const char *line, void *arg)
{
	(void)line;
	(void)arg;
}

/*
 * Every command, as tmux's cmd_entry: its name, its arguments for the
 * usage text, and what runs it (with the arguments after its name; each
 * answers usage() to arguments it does not take).
 */
struct cmd_entry {
	const char	*name;
	const char	*args;
	int		(*exec)(struct app *, int argc, char **argv);
	/* a directory install without --app: every app (NULL: refused) */
	int		(*all)(struct app *root, int argc, char **argv);
};

static const struct cmd_entry cmd_table[] = {
	{ "check-config", "", cmd_check, check_all },
	{ "token", " [--refresh | --force]", cmd_token, NULL },
	{ "send", " OPENID [-t TEMPLATE] [-p PAGE] KEY=VALUE...", cmd_send,
	  NULL },
	{ "subs", " OPENID", cmd_subs, NULL },
	{ "worker", " [--once]", cmd_worker, worker_all },
	{ "outbox", " [failed | retry ID]", cmd_outbox, NULL },
	{ "templates", " [sync]", cmd_templates, NULL },
};

#define NCMDS	(sizeof(cmd_table) / sizeof(cmd_table[0]))

static int
usage(void)
{
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(stderr, "%s wxsub [-c FILE|DIR] [--app NAME] %s%s\n",
		    i == 0 ? "usage:" : "      ", cmd_table[i].name,
		    cmd_table[i].args);
	fprintf(stderr, "FILE defaults to $WXSUB_CONFIG, then " SYSCONFDIR
	    "/wxsub.conf;\na DIR holds one NAME.conf per app, and --app names "
	    "the app\n");
	return EX_USAGE;
}

static const struct cmd_entry *
cmd_find(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (strcmp(cmd_table[i].name, name) == 0)
			return &cmd_table[i];
	return NULL;
}

/* The app a command is about (--app), or NULL after saying why. */
static struct app *
pick(struct app *root, const char *name)
{
	struct app *a = app_named(root, name);

	if (a == NULL && root->n_apps == 0)
		fprintf(stderr, "wxsub: --app needs a directory of apps "
		    "(%s is one file)\n", root->cfg.file);
	else if (a == NULL && name == NULL)
		fprintf(stderr, "wxsub: %s holds %zu apps: name one with "
		    "--app NAME (the first is %s)\n", root->cfg.file,
		    root->n_apps, root->apps[0].name);
	else if (a == NULL)
		fprintf(stderr, "wxsub: no app %s in %s\n", name,
		    root->cfg.file);
	else if (!a->cfg_ok)
		fprintf(stderr, "wxsub: %s\n", a->cfg_err);
	return a != NULL && a->cfg_ok ? a : NULL;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "app", required_argument, NULL, 'a' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	static struct app app;
	const char *path = getenv("WXSUB_CONFIG"), *name = NULL;
	const struct cmd_entry *cmd;
	struct app *a;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "+c:a:h", longopts, NULL)) != -1) {
		if (opt == 'c')
			path = optarg;
		else if (opt == 'a')
			name = optarg;
		else
			return usage();
	}
	if (optind >= argc || (cmd = cmd_find(argv[optind++])) == NULL)
		return usage();
	if (path == NULL || *path == '\0')
		path = SYSCONFDIR "/wxsub.conf";

	/* The tool reports a bad configuration itself, once. */
	log_set_sink(quiet, NULL);
	rc = app_init(&app, path);
	log_set_sink(NULL, NULL);
	if (rc != 0)
		return EX_CONFIG;
	if (!app.cfg_ok) {
		fprintf(stderr, "wxsub: %s\n", app.cfg_err);
		app_free(&app);
		return EX_CONFIG;
	}
	if (app.n_apps > 0 && name == NULL && cmd->all != NULL) {
		log_set_level(LOG_WARN);
		rc = cmd->all(&app, argc - optind, argv + optind);
	} else if ((a = pick(&app, name)) == NULL) {
		rc = app.n_apps > 0 && name != NULL && app_named(&app, name) != NULL ?
		    EX_CONFIG : EX_USAGE;
	} else {
		log_set_level((enum log_level)(a->cfg.log_level > LOG_WARN ?
		    a->cfg.log_level : LOG_WARN));
		metrics_app(a->name);
		rc = cmd->exec(a, argc - optind, argv + optind);
	}
	app_free(&app);
	return rc;
}
