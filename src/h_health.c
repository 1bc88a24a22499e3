/*
 * h_health.c: GET /health, answered by anyone; 503 when Redis is down.
 */
#include "handlers.h"
#include "store.h"

void
h_health(struct app *a, struct request *r, struct response *resp)
{
	struct jsonw *o;
	enum wx_err err;

	(void)r;
	if ((err = store_ping(a->st)) != WX_OK) {
		resp_error(resp, err, "Redis does not answer");
		return;
	}
	o = resp_ok(resp);
	jw_str(o, "redis", "ok");
	jw_str(o, "version", PACKAGE_VERSION);
}
