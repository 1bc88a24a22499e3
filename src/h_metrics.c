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
 * Redis at scrape time; in a directory install one sample per app
 * (app="NAME"). The new length, or -1.
 */
static long
outbox_gauges(struct app *a, char *text, size_t len, size_t cap)
{
	static const char *const help[] = {
		"wxsub_outbox_depth Entries on the stream (queued or being sent).",
		"wxsub_outbox_pending Entries read by a worker, not yet done.",
		"wxsub_outbox_delayed Messages waiting for a retry.",
	};
	struct app *apps = a->root->n_apps > 0 ? a->root->apps : a;
	size_t napps = a->root->n_apps > 0 ? a->root->n_apps : 1;
	struct outbox_counts *oc;
	long long v;
	char num[NUM_DEC_MAX];
	size_t i, k, n, nl;
	long rc = -1;

	if ((oc = calloc(napps, sizeof(*oc))) == NULL)
		return -1;
	for (k = 0; k < napps; k++)
		if (apps[k].cfg_ok &&
		    outbox_counts(apps[k].st, &apps[k].cfg, &oc[k]) != WX_OK)
			goto out;
	for (i = 0; i < 3; i++) {
		nl = (size_t)(strchr(help[i], ' ') - help[i]);
		if (len + nl + strlen(help[i]) + 40 > cap)
			goto out;
		len += (size_t)snprintf(text + len, cap - len,
		    "# HELP %s\n# TYPE %.*s gauge\n", help[i], (int)nl, help[i]);
		for (k = 0; k < napps; k++) {
			if (!apps[k].cfg_ok)
				continue;
			v = i == 0 ? oc[k].stream : i == 1 ? oc[k].pending :
			    oc[k].delayed;
			n = num_i64(num, v);
			if (len + nl + strlen(apps[k].name) + n + 16 > cap)
				goto out;
			len += (size_t)snprintf(text + len, cap - len,
			    apps[k].name[0] != '\0' ? "%.*s{app=\"%s\"} %s\n" :
			    "%.*s%s %s\n", (int)nl, help[i], apps[k].name, num);
		}
	}
	rc = (long)len;
out:
	free(oc);
	return rc;
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
