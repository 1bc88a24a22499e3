/*
 * h_health.c: GET /health, answered by anyone; 503 when Redis is down.
 */
#include "handlers.h"
#include "store.h"

void
h_health(struct app *a, struct request *r, struct response *resp)
{
	json_object *o;
	enum wx_err err;

	(void)r;
	if ((err = store_ping(a->st)) != WX_OK) {
		resp_error(resp, err, "Redis does not answer");
		return;
	}
	if ((o = resp_ok(resp)) == NULL)
		return;
	json_object_object_add(o, "redis", json_object_new_string("ok"));
	json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
}
