/*
 * h_health.c: GET /health, answered by anyone; 503 when Redis is down.
 * In a directory install it covers every app: each distinct Redis the
 * apps use is pinged once.
 */
#include "handlers.h"
#include "store.h"

static enum wx_err
ping_all(struct app *a)
{
	const struct app *root = a->root != NULL ? a->root : a;
	enum wx_err err;
	size_t i, j;

	if (root->n_apps == 0)
		return store_ping(a->st);
	for (i = 0; i < root->n_apps; i++) {
		const struct app *x = &root->apps[i];
		if (!x->cfg_ok)
			continue;
		for (j = 0; j < i; j++)
			if (root->apps[j].cfg_ok &&
			    conf_same_redis(&root->apps[j].cfg, &x->cfg))
				break;
		if (j == i && (err = store_ping(x->st)) != WX_OK)
			return err;
	}
	return WX_OK;
}

enum wx_err
h_health(struct app *a, struct request *r, struct response *resp)
{
	struct jsonw *o;
	enum wx_err err;

	if ((err = ping_all(a)) != WX_OK)
		return wxe_set(&r->e, err, "Redis does not answer");
	o = resp_ok(resp);
	jw_str(o, "redis", "ok");
	jw_str(o, "version", PACKAGE_VERSION);
	return WX_OK;
}
