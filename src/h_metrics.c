/*
 * h_metrics.c: GET /metrics, the fleet's counters (plus this process's
 * not yet flushed ones) in the Prometheus text format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "metrics.h"
#include "num.h"
#include "outbox.h"
#include "store.h"

#define METRICS_TEXT_MAX	(256 * 1024)

/*
 * The outbox as it stands, appended to text[0..len): gauges read from
 * Redis at scrape time. The new length, or -1.
 */
static long
outbox_gauges(struct app *a, char *text, size_t len, size_t cap)
{
	static const char *const help[] = {
		"wxsub_outbox_depth Entries on the stream (queued or being sent).",
		"wxsub_outbox_pending Entries read by a worker, not yet done.",
		"wxsub_outbox_delayed Messages waiting for a retry.",
	};
	struct outbox_counts oc;
	long long v[3];
	char num[NUM_DEC_MAX];
	size_t i, n;

	if (outbox_counts(a->st, &a->cfg, &oc) != WX_OK)
		return -1;
	v[0] = oc.stream;
	v[1] = oc.pending;
	v[2] = oc.delayed;
	for (i = 0; i < 3; i++) {
		const char *sp = strchr(help[i], ' ');
		size_t nl = (size_t)(sp - help[i]);
		n = num_i64(num, v[i]);
		if (len + 2 * nl + strlen(help[i]) + n + 40 > cap)
			return -1;
		len += (size_t)snprintf(text + len, cap - len,
		    "# HELP %s\n# TYPE %.*s gauge\n%.*s %s\n", help[i], (int)nl,
		    help[i], (int)nl, help[i], num);
	}
	return (long)len;
}

enum wx_err
h_metrics(struct app *a, struct request *r, struct response *resp)
{
	const char *const *pf;
	const long long *pd;
	const char **fields = NULL;
	long long *values = NULL;
	char **stored = NULL, *text = NULL;
	long long *svals = NULL;
	size_t n = 0, np, i, j, m;
	enum wx_err err = WX_OK;
	long len;

	/* The install's counters (app.h): a is the app that keeps them. */
	if (store_hash_all(a->st, a->root->metrics_key, &stored, &svals,
	    &n) != WX_OK)
		return wxe_set(&r->e, WX_REDIS_UNAVAILABLE, NULL);
	np = metrics_pending(&pf, &pd);
	fields = calloc(n + np + 1, sizeof(*fields));
	values = calloc(n + np + 1, sizeof(*values));
	text = malloc(METRICS_TEXT_MAX);
	if (fields == NULL || values == NULL || text == NULL) {
		err = wxe_set(&r->e, WX_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		fields[i] = stored[i];
		values[i] = svals[i];
	}
	/* This process's unflushed counts join their fleet totals. */
	m = n;
	for (i = 0; i < np; i++) {
		for (j = 0; j < m && strcmp(fields[j], pf[i]) != 0; j++)
			;
		if (j == m) {
			fields[m] = pf[i];
			values[m++] = 0;
		}
		values[j] += pd[i];
	}
	if ((len = metrics_render(fields, values, m, text,
	    METRICS_TEXT_MAX)) < 0) {
		err = wxe_set(&r->e, WX_INTERNAL, "too many metrics");
		goto out;
	}
	if ((len = outbox_gauges(a, text, (size_t)len, METRICS_TEXT_MAX)) < 0) {
		err = wxe_set(&r->e, WX_REDIS_UNAVAILABLE, NULL);
		goto out;
	}
	resp_text(resp, "text/plain; version=0.0.4; charset=utf-8", text,
	    (size_t)len);
	text = NULL;
out:
	free(text);
	free(fields);
	free(values);
	store_hash_free(stored, svals, n);
	return err;
}
