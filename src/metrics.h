/*
 * metrics.h: counters for /metrics, kept per process in memory and
 * added into one Redis hash (WXSUB:metrics) in batches, after answers,
 * at most once a second: a scrape sees the whole fleet, and counting
 * never adds a Redis round trip to a request's path.
 *
 * Field names in the hash: "r|ROUTE|STATUS", "s|OUTCOME|ERRCODE",
 * "p|EVENT|RESULT",
 * "c|NAME", "h|HIST|BUCKET", "hs|HIST" (sum, microseconds), "hc|HIST".
 * In a directory install (several apps) requests, sends and counts get
 * the app's name as one more part ("r|/send|200|shop"), rendered as an
 * app="shop" label; the histograms are the install's.
 */
#ifndef WX_METRICS_H
#define WX_METRICS_H

#include <stdbool.h>
#include <stddef.h>

/* HIST_OUTBOX: from queued to sent (outbox messages). */
enum metric_hist { HIST_REDIS, HIST_WECHAT, HIST_OUTBOX, HIST__MAX };

#define METRICS_MAX_FIELDS	512

void	metrics_add(const char *field, long long n);
/*
 * The app that what follows is counted for ("" for none); name must live
 * as long as the process (an app's name in its struct).
 */
void	metrics_app(const char *name);
/* route: a string that lives as long as the process (a route's path). */
void	metrics_request(const char *route, int status);
/* outcome: likewise a string that lives as long as the process. */
void	metrics_send(const char *outcome, long errcode);
void	metrics_count(const char *name);
/*
 * One item of a push from WeChat (h_event.c): event popup, change, sent,
 * other; result accept, reject, delivered, failed, duplicate, ... Both
 * strings live as long as the process.
 */
void	metrics_push(const char *event, const char *result);
void	metrics_observe(enum metric_hist, double seconds);

/* The unflushed deltas (borrowed until metrics_clear). */
size_t	metrics_pending(const char *const **fields, const long long **deltas);
void	metrics_clear(void);
/* Something to flush and the last flush was a second ago or more. */
bool	metrics_due(void);

/*
 * Render fleet totals (fields/values as stored in the hash) in the
 * Prometheus text format into out. Returns the length, or -1 if out is
 * too small. Unknown fields are skipped. Pure.
 */
long	metrics_render(const char *const *fields, const long long *values,
	    size_t n, char *out, size_t outlen);

#endif
