/*
 * h_metrics.c: GET /metrics, the fleet's counters (plus this process's
 * not yet flushed ones) in the Prometheus text format.
 */
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "metrics.h"
#include "store.h"

#define METRICS_TEXT_MAX	(256 * 1024)

void
h_metrics(struct app *a, struct request *r, struct response *resp)
{
	const char *const *pf;
	const long long *pd;
	const char **fields = NULL;
	long long *values = NULL;
	char **stored = NULL, key[LIM_KEY], *text = NULL;
	long long *svals = NULL;
	size_t n = 0, np, i, j, m;
	enum wx_err err;
	long len;

	(void)r;
	if (store_key(&a->cfg, "metrics", NULL, key, sizeof(key)) != 0 ||
	    (err = store_hash_all(a->st, key, &stored, &svals, &n)) != WX_OK) {
		resp_error(resp, WX_REDIS_UNAVAILABLE, NULL);
		return;
	}
	np = metrics_pending(&pf, &pd);
	fields = calloc(n + np + 1, sizeof(*fields));
	values = calloc(n + np + 1, sizeof(*values));
	text = malloc(METRICS_TEXT_MAX);
	if (fields == NULL || values == NULL || text == NULL) {
		resp_error(resp, WX_INTERNAL, "out of memory");
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
		resp_error(resp, WX_INTERNAL, "too many metrics");
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
}
