/*
 * h_templates.c: GET /templates, the template list as kept in Redis
 * (templates.h), read from there on every call: what `wxsub templates
 * sync` or the last refresh stored, never a call to WeChat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "templates.h"

#define JSON_CT	"application/json; charset=utf-8"

enum wx_err
h_templates(struct app *a, struct request *r, struct response *resp)
{
	static const char none[] = "{\"ok\":true,\"templates\":[]}";
	char key[LIM_KEY], *text = NULL, *out;
	size_t len = 0;
	enum wx_err err;

	(void)r;
	if (store_key(&a->cfg, "templates", NULL, key, sizeof(key)) != 0)
		return wxe_set(&r->e, WX_INTERNAL, NULL);
	if ((err = store_blob_get(a->st, key, &text, &len, LIM_TPL_CACHE)) != WX_OK)
		return wxe_set(&r->e, err, NULL);
	/* the cached {"fetchedAt":N,"templates":[...]} with "ok":true in front */
	if (text == NULL || len < 2 || text[0] != '{') {
		free(text);
		text = NULL;
		len = 0;
	}
	if ((out = malloc(len + sizeof(none))) == NULL) {
		free(text);
		return wxe_set(&r->e, WX_INTERNAL, NULL);
	}
	if (text == NULL)
		len = (size_t)snprintf(out, sizeof(none), "%s", none);
	else {
		memcpy(out, "{\"ok\":true,", 11);
		memcpy(out + 11, text + 1, len - 1);
		len += 10;
		out[len] = '\0';
	}
	free(text);
	resp_text(resp, JSON_CT, out, len);
	return WX_OK;
}
