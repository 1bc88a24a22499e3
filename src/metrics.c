/*
 * metrics.c: the per-process counter table and the Prometheus renderer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "wxlimits.h"

#define FIELD_LEN	(64 + LIM_APPNAME)

static char		 names[METRICS_MAX_FIELDS][FIELD_LEN];
static const char	*name_ptrs[METRICS_MAX_FIELDS];
static long long	 deltas[METRICS_MAX_FIELDS];
static size_t		 nfields;
static time_t		 last_flush;
static const char	*app = "";	/* metrics_app */

/* Bucket upper bounds in seconds; the last one is +Inf. */
static const double bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10,
};
#define NBUCKETS	(sizeof(bounds) / sizeof(bounds[0]) + 1)

static const char *const hist_names[HIST__MAX] = {
	[HIST_REDIS] = "redis", [HIST_WECHAT] = "wechat",
	[HIST_OUTBOX] = "outbox_latency",
};

void
metrics_add(const char *field, long long n)
{
	size_t i;

	for (i = 0; i < nfields; i++)
		if (strcmp(names[i], field) == 0) {
			deltas[i] += n;
			return;
		}
	/* A full table drops new fields rather than growing without bound. */
	if (nfields >= METRICS_MAX_FIELDS || strlen(field) >= FIELD_LEN)
		return;
	memcpy(names[nfields], field, strlen(field) + 1);
	name_ptrs[nfields] = names[nfields];
	deltas[nfields++] = n;
}

/*
 * The field "kind|s|n", kept between calls: s is a string that lives as
 * long as the process (a route's path, an outcome's code), and a process
 * mostly counts the same thing the same way, so formatting is rare.
 */
struct last_field {
	const char	*s;
	long		 n;
	const char	*app;
	char		 f[FIELD_LEN];
};

void
metrics_app(const char *name)
{
	app = name != NULL ? name : "";
}

static const char *
field_of(struct last_field *l, char kind, const char *s, long n)
{
	if (s != l->s || n != l->n || app != l->app || l->f[0] == '\0') {
		snprintf(l->f, sizeof(l->f), "%c|%s|%ld%s%s", kind, s, n,
		    app[0] != '\0' ? "|" : "", app);
		l->s = s;
		l->n = n;
		l->app = app;
	}
	return l->f;
}

void
metrics_request(const char *route, int status)
{
	static struct last_field last;

	metrics_add(field_of(&last, 'r', route, status), 1);
}

void
metrics_send(const char *outcome, long errcode)
{
	static struct last_field last;

	metrics_add(field_of(&last, 's', outcome, errcode), 1);
}

void
metrics_push(const char *event, const char *result)
{
	char f[FIELD_LEN];

	snprintf(f, sizeof(f), "p|%s|%s%s%s", event, result,
	    app[0] != '\0' ? "|" : "", app);
	metrics_add(f, 1);
}

void
metrics_count(const char *name)
{
	char f[FIELD_LEN];

	snprintf(f, sizeof(f), "c|%s%s%s", name, app[0] != '\0' ? "|" : "", app);
	metrics_add(f, 1);
}

/* Field names of the histograms, made once: observing is on hot paths. */
static char	hist_bucket[HIST__MAX][NBUCKETS][24];
static char	hist_sum[HIST__MAX][24], hist_count[HIST__MAX][24];

static void
hist_names_init(void)
{
	static bool done;

	if (done)
		return;
	for (int h = 0; h < HIST__MAX; h++) {
		for (size_t b = 0; b < NBUCKETS; b++)
			snprintf(hist_bucket[h][b], sizeof(hist_bucket[h][b]),
			    "h|%s|%zu", hist_names[h], b);
		snprintf(hist_sum[h], sizeof(hist_sum[h]), "hs|%s", hist_names[h]);
		snprintf(hist_count[h], sizeof(hist_count[h]), "hc|%s",
		    hist_names[h]);
	}
	done = true;
}

void
metrics_observe(enum metric_hist h, double s)
{
	size_t b;

	hist_names_init();
	for (b = 0; b < NBUCKETS - 1 && s > bounds[b]; b++)
		;
	metrics_add(hist_bucket[h][b], 1);
	metrics_add(hist_sum[h], (long long)(s * 1e6));
	metrics_add(hist_count[h], 1);
}

size_t
metrics_pending(const char *const **fields, const long long **d)
{
	*fields = name_ptrs;
	*d = deltas;
	return nfields;
}

void
metrics_clear(void)
{
	nfields = 0;
	last_flush = time(NULL);
}

bool
metrics_due(void)
{
	return nfields > 0 && time(NULL) - last_flush >= 1;
}

/* Appends to out; full once something did not fit. */
struct sink {
	char	*out;
	size_t	 len, cap;
	bool	 full;
};

static void
put(struct sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct sink *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(s->out + s->len, s->cap - s->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= s->cap - s->len)
		s->full = true;
	else
		s->len += (size_t)n;
}

/* Split "a|b|c|d" into up to 4 parts (pointers into buf). */
static int
split(const char *field, char *buf, size_t buflen, const char *part[4])
{
	int n = 0;
	char *p;

	if (snprintf(buf, buflen, "%s", field) >= (int)buflen)
		return 0;
	part[n++] = buf;
	for (p = buf; *p != '\0' && n < 4; p++)
		if (*p == '|') {
			*p = '\0';
			part[n++] = p + 1;
		}
	return n;
}

/* Label values come from fixed sets, but never let one break a line. */
static bool
label_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '"' || *s == '\\' || *s == '\n' || *s == '|')
			return false;
	return true;
}

static void
render_labeled(struct sink *s, const char *const *f, const long long *v,
    size_t n, const char *kind, const char *metric, const char *help,
    const char *l1, const char *l2)
{
	char buf[FIELD_LEN];
	const char *part[4];
	int k;

	put(s, "# HELP %s %s\n# TYPE %s counter\n", metric, help, metric);
	for (size_t i = 0; i < n; i++) {
		k = split(f[i], buf, sizeof(buf), part);
		if (k < 3 || strcmp(part[0], kind) != 0 || !label_ok(part[1]) ||
		    !label_ok(part[2]) || (k == 4 && !label_ok(part[3])))
			continue;
		put(s, "%s{%s=\"%s\",%s=\"%s\"", metric, l1, part[1], l2,
		    part[2]);
		if (k == 4)
			put(s, ",app=\"%s\"", part[3]);
		put(s, "} %lld\n", v[i]);
	}
}

static void
render_hist(struct sink *s, const char *const *f, const long long *v,
    size_t n, enum metric_hist h)
{
	long long bucket[NBUCKETS] = { 0 }, sum = 0, count = 0, cum = 0;
	char want[FIELD_LEN], buf[FIELD_LEN];
	const char *name = hist_names[h], *part[4];
	size_t i, b;

	for (i = 0; i < n; i++) {
		int k = split(f[i], buf, sizeof(buf), part);
		if (k < 2 || strcmp(part[1], name) != 0)
			continue;
		if (k == 3 && strcmp(part[0], "h") == 0) {
			b = (size_t)strtoull(part[2], NULL, 10);
			if (b < NBUCKETS)
				bucket[b] += v[i];
		} else if (k == 2 && strcmp(part[0], "hs") == 0)
			sum += v[i];
		else if (k == 2 && strcmp(part[0], "hc") == 0)
			count += v[i];
	}
	snprintf(want, sizeof(want), "wxsub_%s_seconds", name);
	if (h == HIST_OUTBOX)
		put(s, "# HELP %s Time from queued to sent, outbox messages.\n"
		    "# TYPE %s histogram\n", want, want);
	else
		put(s, "# HELP %s Time of one %s call.\n# TYPE %s histogram\n",
		    want, h == HIST_REDIS ? "Redis" : "WeChat", want);
	for (b = 0; b < NBUCKETS; b++) {
		cum += bucket[b];
		if (b < NBUCKETS - 1)
			put(s, "%s_bucket{le=\"%g\"} %lld\n", want, bounds[b], cum);
		else
			put(s, "%s_bucket{le=\"+Inf\"} %lld\n", want, cum);
	}
	put(s, "%s_sum %.6f\n%s_count %lld\n", want, (double)sum / 1e6, want, count);
}

/*
 * One counter: "c|NAME" as the unlabelled sample, and in a directory
 * install "c|NAME|APP" as one sample per app (label lb, if any, first).
 * The unlabelled sample is left out when apps have theirs and it is 0.
 */
static void
render_counter(struct sink *s, const char *const *f, const long long *v,
    size_t n, const char *field, const char *metric, const char *lb)
{
	size_t i, len = strlen(field);
	long long total = 0;
	bool per_app = false;

	for (i = 0; i < n; i++) {
		if (strncmp(f[i], field, len) != 0)
			continue;
		if (f[i][len] == '\0')
			total += v[i];
		else if (f[i][len] == '|' && label_ok(f[i] + len + 1)) {
			put(s, "%s{%s%sapp=\"%s\"} %lld\n", metric,
			    lb != NULL ? lb : "", lb != NULL ? "," : "",
			    f[i] + len + 1, v[i]);
			per_app = true;
		}
	}
	if (!per_app || total != 0)
		put(s, "%s%s%s%s %lld\n", metric, lb != NULL ? "{" : "",
		    lb != NULL ? lb : "", lb != NULL ? "}" : "", total);
}

long
metrics_render(const char *const *f, const long long *v, size_t n,
    char *out, size_t outlen)
{
	static const struct { const char *field, *metric, *label; } counters[] = {
		{ "c|token_fetch_ok", "wxsub_token_fetches_total", "result=\"ok\"" },
		{ "c|token_fetch_failed", "wxsub_token_fetches_total",
		  "result=\"failed\"" },
		{ "c|token_force", "wxsub_token_forced_refreshes_total", NULL },
		{ "c|token_wait", "wxsub_token_waits_total", NULL },
		{ "c|token_ahead", "wxsub_token_refreshes_ahead_total", NULL },
	};
	static const struct { const char *field, *metric, *help; } outbox[] = {
		{ "c|outbox_sent", "wxsub_outbox_sent_total",
		  "Outbox messages WeChat accepted." },
		{ "c|outbox_retries", "wxsub_outbox_retries_total",
		  "Outbox attempts put back for a retry." },
		{ "c|outbox_failed", "wxsub_outbox_failed_total",
		  "Outbox messages that finally failed." },
		{ "c|outbox_unknown", "wxsub_outbox_unknown_total",
		  "Outbox messages whose answer was lost (unknown)." },
	};
	struct sink s = { out, 0, outlen, false };
	size_t j;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	render_labeled(&s, f, v, n, "r", "wxsub_requests_total",
	    "Requests answered, by route and status.", "route", "status");
	render_labeled(&s, f, v, n, "s", "wxsub_sends_total",
	    "Sends by outcome and WeChat errcode (0: none).", "outcome", "errcode");
	render_labeled(&s, f, v, n, "p", "wxsub_push_events_total",
	    "Items of WeChat's pushes to /event, by event and result.",
	    "event", "result");
	put(&s, "# HELP wxsub_token_fetches_total Token calls to WeChat.\n"
	    "# TYPE wxsub_token_fetches_total counter\n");
	for (j = 0; j < sizeof(counters) / sizeof(counters[0]); j++) {
		if (j == 2)
			put(&s, "# TYPE wxsub_token_forced_refreshes_total counter\n");
		else if (j == 3)
			put(&s, "# HELP wxsub_token_waits_total Requests that waited "
			    "for another process's token fetch.\n"
			    "# TYPE wxsub_token_waits_total counter\n");
		else if (j == 4)
			put(&s, "# TYPE wxsub_token_refreshes_ahead_total counter\n");
		render_counter(&s, f, v, n, counters[j].field, counters[j].metric,
		    counters[j].label);
	}
	for (j = 0; j < sizeof(outbox) / sizeof(outbox[0]); j++) {
		put(&s, "# HELP %s %s\n# TYPE %s counter\n", outbox[j].metric,
		    outbox[j].help, outbox[j].metric);
		render_counter(&s, f, v, n, outbox[j].field, outbox[j].metric,
		    NULL);
	}
	for (int h = 0; h < HIST__MAX; h++)
		render_hist(&s, f, v, n, (enum metric_hist)h);
	return s.full ? -1 : (long)s.len;
}
