/*
 * templates.c: getTemplateList, its cache, and data checked against it
 * (templates.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "app.h"
#include "clock.h"
#include "jsonio.h"
#include "log.h"
#include "store.h"
#include "templates.h"
#include "token.h"
#include "secure.h"
#include "upstream.h"
#include "validate.h"

#define PATH_TEMPLATES	"/wxaapi/newtmpl/gettemplate?access_token="
#define LIM_KW_KEY	64

struct tplcache {
	json_object	*doc;		/* {"fetchedAt","templates"} or NULL */
	double		 loaded;	/* when read from Redis (monotonic), 0: never */
	double		 checked;	/* when a refresh was last considered */
	bool		 warned;	/* "no list: the type rules", once */
};

/* ---- pure ---- */

/* "{{name.DATA}}" at s: the name's length, 0 when s is not one. */
static size_t
placeholder(const char *s, const char **name)
{
	size_t n = 0;

	if (strncmp(s, "{{", 2) != 0)
		return 0;
	s += 2;
	while (val_is(s[n], VC_WORD))
		n++;
	if (n == 0 || n >= LIM_KW_KEY || strncmp(s + n, ".DATA}}", 7) != 0)
		return 0;
	*name = s;
	return n;
}

/* A keywordCode as "enum_string3" or "{{enum_string3.DATA}}" into out. */
static bool
keyword_code(const char *code, char out[LIM_KW_KEY])
{
	const char *name;
	size_t n = placeholder(code, &name);

	if (n == 0) {
		name = code;
		n = strlen(code);
		if (!val_span(code, n, VC_WORD))
			return false;
	}
	if (n == 0 || n >= LIM_KW_KEY)
		return false;
	memcpy(out, name, n);
	out[n] = '\0';
	return true;
}

/* The text before the placeholder on its line, without ':' and blanks. */
static json_object *
keyword_name(const char *line, const char *ph)
{
	const char *e = ph;

	while (e > line && (e[-1] == ' ' || e[-1] == ':' || e[-1] == '\t'))
		e--;
	/* the full-width colon U+FF1A */
	while (e - line >= 3 && memcmp(e - 3, "\xef\xbc\x9a", 3) == 0)
		e -= 3;
	return json_object_new_string_len(line, (int)(e - line));
}

/* The enum list of key in WeChat's keywordEnumValueList, or NULL. */
static json_object *
enum_of(json_object *enums, const char *key)
{
	char code[LIM_KW_KEY];
	size_t i, n;

	if (enums == NULL || !json_object_is_type(enums, json_type_array))
		return NULL;
	n = json_object_array_length(enums);
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(enums, i), *c, *v;
		if (!json_object_object_get_ex(e, "keywordCode", &c) ||
		    !json_object_is_type(c, json_type_string) ||
		    !keyword_code(json_object_get_string(c), code) ||
		    strcmp(code, key) != 0 ||
		    !json_object_object_get_ex(e, "enumValueList", &v) ||
		    !json_object_is_type(v, json_type_array))
			continue;
		return v;
	}
	return NULL;
}

/* One WeChat template into the cached form; NULL when malformed. */
static json_object *
one_template(json_object *t)
{
	json_object *id, *title, *type, *content, *enums = NULL, *out, *kws;
	const char *c, *line;
	int64_t ty;

	if (!json_object_object_get_ex(t, "priTmplId", &id) ||
	    !json_object_is_type(id, json_type_string) ||
	    !json_object_object_get_ex(t, "content", &content) ||
	    !json_object_is_type(content, json_type_string))
		return NULL;
	if (!json_object_object_get_ex(t, "title", &title) ||
	    !json_object_is_type(title, json_type_string))
		title = NULL;
	ty = json_object_object_get_ex(t, "type", &type) ?
	    json_object_get_int64(type) : 2;	/* a string "3" reads too */
	json_object_object_get_ex(t, "keywordEnumValueList", &enums);
	if ((out = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(out, "id", json_object_get(id));
	json_object_object_add(out, "title", title ? json_object_get(title) :
	    json_object_new_string(""));
	json_object_object_add(out, "type", json_object_new_string(ty == 3 ?
	    "long-term" : "one-time"));
	kws = json_object_new_array();
	json_object_object_add(out, "keywords", kws);
	for (c = line = json_object_get_string(content); *c != '\0'; c++) {
		const char *name;
		size_t n;
		char key[LIM_KW_KEY];
		json_object *kw, *ev;

		if (*c == '\n') {
			line = c + 1;
			continue;
		}
		if ((n = placeholder(c, &name)) == 0)
			continue;
		memcpy(key, name, n);
		key[n] = '\0';
		kw = json_object_new_object();
		json_object_object_add(kw, "key", json_object_new_string(key));
		json_object_object_add(kw, "name", keyword_name(line, c));
		if ((ev = enum_of(enums, key)) != NULL)
			json_object_object_add(kw, "enum", json_object_get(ev));
		json_object_array_add(kws, kw);
		line = c + 2 + n + 7;
		c = line - 1;
	}
	return out;
}

enum wx_err
tpl_read_wechat(long status, const char *body, size_t len, json_object **out,
    struct wxe *ans)
{
	json_object *o = NULL, *data, *arr;
	enum wx_err err;
	size_t i, n;

	*out = NULL;
	wxe_clear(ans);
	if (status != 200) {
		return wxe_set(ans, WX_UPSTREAM, "getTemplateList: HTTP %ld",
		    status);
	}
	if ((err = wechat_parse(body, len, &o, ans)) != WX_OK) {
		json_object_put(o);
		return ans->err = err == WX_INTERNAL ? err : WX_UPSTREAM;
	}
	if (!json_object_object_get_ex(o, "data", &data) ||
	    !json_object_is_type(data, json_type_array)) {
		json_object_put(o);
		return wxe_set(ans, WX_UPSTREAM, "getTemplateList: no data");
	}
	if ((arr = json_object_new_array()) == NULL) {
		json_object_put(o);
		return WX_INTERNAL;
	}
	n = json_object_array_length(data);
	for (i = 0; i < n; i++) {
		json_object *t = one_template(json_object_array_get_idx(data, i));
		if (t != NULL)
			json_object_array_add(arr, t);
	}
	json_object_put(o);
	*out = arr;
	return WX_OK;
}

json_object *
tpl_find(json_object *templates, const char *id)
{
	size_t i, n;

	if (templates == NULL || id == NULL ||
	    !json_object_is_type(templates, json_type_array))
		return NULL;
	n = json_object_array_length(templates);
	for (i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(templates, i), *v;
		if (json_object_object_get_ex(t, "id", &v) &&
		    strcmp(json_object_get_string(v), id) == 0)
			return t;
	}
	return NULL;
}

bool
tpl_is_longterm(json_object *tpl)
{
	json_object *v;

	return json_object_object_get_ex(tpl, "type", &v) &&
	    strcmp(json_object_get_string(v), "long-term") == 0;
}

enum wx_err
tpl_check(json_object *tpl, const struct wx_item *d, size_t n, struct wxe *e)
{
	json_object *kws, *v;
	size_t i, j, nk;

	wxe_clear(e);
	if (!json_object_object_get_ex(tpl, "keywords", &kws) ||
	    !json_object_is_type(kws, json_type_array))
		return WX_OK;
	nk = json_object_array_length(kws);
	for (i = 0; i < n; i++) {
		bool found = false;
		for (j = 0; j < nk && !found; j++) {
			json_object *kw = json_object_array_get_idx(kws, j), *k, *en;
			if (!json_object_object_get_ex(kw, "key", &k) ||
			    strcmp(json_object_get_string(k), d[i].key) != 0)
				continue;
			found = true;
			if (!json_object_object_get_ex(kw, "enum", &en))
				continue;
			size_t ne = json_object_array_length(en), x;
			for (x = 0; x < ne; x++) {
				v = json_object_array_get_idx(en, x);
				if ((size_t)json_object_get_string_len(v) == d[i].len &&
				    memcmp(json_object_get_string(v), d[i].value,
				    d[i].len) == 0)
					break;
			}
			if (x == ne)
				return wxe_set(e, WX_INVALID_DATA, "data.%s: not "
				    "one of the template's values for it",
				    d[i].key);
		}
		if (!found)
			return wxe_set(e, WX_INVALID_DATA, "data.%s: the "
			    "template has no such keyword", d[i].key);
	}
	for (j = 0; j < nk; j++) {
		json_object *kw = json_object_array_get_idx(kws, j), *k;
		if (!json_object_object_get_ex(kw, "key", &k))
			continue;
		for (i = 0; i < n; i++)
			if (strcmp(json_object_get_string(k), d[i].key) == 0)
				break;
		if (i == n)
			return wxe_set(e, WX_INVALID_DATA, "data.%s: the "
			    "template needs it", json_object_get_string(k));
	}
	return WX_OK;
}

/* ---- with I/O ---- */

static struct tplcache *
cache(struct app *a)
{
	if (a->tplc == NULL)
		a->tplc = calloc(1, sizeof(*a->tplc));
	return a->tplc;
}

void
tpl_cache_free(struct app *a)
{
	if (a->tplc != NULL)
		json_object_put(a->tplc->doc);
	free(a->tplc);
	a->tplc = NULL;
}

/* One getTemplateList call with tok. */
static enum wx_err
fetch(struct app *a, const char *tok, json_object **out, struct wxe *ans)
{
	char url[LIM_URL + LIM_TOKEN + 64];
	char *esc = curl_easy_escape(NULL, tok, 0);
	struct up_result res;
	int n;

	wxe_clear(ans);
	if (esc == NULL)
		return WX_INTERNAL;
	n = snprintf(url, sizeof(url), "%s%s%s", a->cfg.api_base,
	    PATH_TEMPLATES, esc);
	curl_free(esc);
	if (n < 0 || (size_t)n >= sizeof(url))
		return WX_INTERNAL;
	if (up_call(a->up, url, NULL, UP_RESEND_OK, a->cfg.timeout_ms,
	    &res) != WX_OK) {
		return wxe_set(ans, WX_UPSTREAM, "getTemplateList: %.200s",
		    res.e.msg);
	}
	return tpl_read_wechat(res.status, res.body, res.len, out, ans);
}

enum wx_err
tpl_sync(struct app *a, size_t *count, struct wxe *e)
{
	char tok[LIM_TOKEN], key[LIM_KEY], fresh[LIM_KEY];
	json_object *arr = NULL, *doc;
	struct wxe ans;
	enum wx_err err;
	const char *text;
	size_t len;

	*count = 0;
	wxe_clear(e);
	if ((err = token_get(&a->tok, tok, sizeof(tok), e)) != WX_OK)
		return err;
	err = fetch(a, tok, &arr, &ans);
	if (err != WX_OK && wechat_token_rejected(ans.errcode)) {
		if ((err = token_renew(&a->tok, tok, tok, sizeof(tok),
		    e)) != WX_OK)
			return err;
		err = fetch(a, tok, &arr, &ans);
	}
	if (err != WX_OK) {
		return wxe_set(e, err, "%s", ans.msg[0] ? ans.msg :
		    "getTemplateList failed");
	}
	*count = json_object_array_length(arr);
	if ((doc = json_object_new_object()) == NULL) {
		json_object_put(arr);
		return WX_INTERNAL;
	}
	json_object_object_add(doc, "fetchedAt", json_object_new_int64(time(NULL)));
	json_object_object_add(doc, "templates", arr);
	text = jsonio_text(doc, &len);
	if (len > LIM_TPL_CACHE) {
		json_object_put(doc);
		return wxe_set(e, WX_UPSTREAM,
		    "the template list is larger than %d bytes", LIM_TPL_CACHE);
	}
	if (store_key(&a->cfg, "templates", NULL, key, sizeof(key)) != 0 ||
	    store_key(&a->cfg, "templates:fresh", NULL, fresh, sizeof(fresh)) != 0)
		err = WX_INTERNAL;
	else if ((err = store_blob_set(a->st, key, text)) == WX_OK)
		err = store_note_set(a->st, fresh, "1",
		    a->cfg.templates_refresh * 1000L);
	if (err == WX_OK && cache(a) != NULL) {
		json_object_put(a->tplc->doc);
		a->tplc->doc = doc;
		a->tplc->loaded = clock_s();
		doc = NULL;
	}
	json_object_put(doc);
	return err;
}

/* Read the list from Redis into the process's copy (kept on failure). */
static void
reload(struct app *a, struct tplcache *c)
{
	char key[LIM_KEY], *text = NULL;
	struct wxe e;
	json_object *doc = NULL;
	size_t len;

	c->loaded = clock_s();
	if (store_key(&a->cfg, "templates", NULL, key, sizeof(key)) != 0 ||
	    store_blob_get(a->st, key, &text, &len, LIM_TPL_CACHE) != WX_OK)
		return;
	if (text == NULL) {		/* none: forgotten, or never synced */
		json_object_put(c->doc);
		c->doc = NULL;
		return;
	}
	if (jsonio_parse_object(text, len, &doc, &e) == WX_OK) {
		json_object_put(c->doc);
		c->doc = doc;
	} else
		log_warn("the cached template list is not readable: %s", e.msg);
	free(text);
}

json_object *
tpl_list(struct app *a)
{
	struct tplcache *c = cache(a);
	json_object *arr;

	if (c == NULL)
		return NULL;
	if (c->loaded == 0 || clock_s() - c->loaded >= TPL_RELOAD_S)
		reload(a, c);
	if (c->doc == NULL || !json_object_object_get_ex(c->doc, "templates",
	    &arr)) {
		if (!c->warned) {
			log_info("no template list (wxsub templates sync): /send "
			    "checks data by the type rules");
			c->warned = true;
		}
		return NULL;
	}
	c->warned = false;
	return arr;
}

bool
tpl_known(struct app *a, const char *id)
{
	if (conf_template_known(&a->cfg, id))
		return true;
	return a->cfg.template_ids_all && tpl_find(tpl_list(a), id) != NULL;
}

bool
tpl_longterm(struct app *a, const char *id)
{
	json_object *t = tpl_find(tpl_list(a), id);

	return t != NULL ? tpl_is_longterm(t) : conf_template_longterm(&a->cfg, id);
}

void
tpl_after(struct app *a)
{
	struct tplcache *c = cache(a);
	char fresh[LIM_KEY], lock[LIM_KEY], val[24];
	struct wxe e;
	enum wx_err err;
	bool yes = false, got = false;
	size_t n;
	double now = clock_s();

	if (c == NULL || (c->checked != 0 && now - c->checked < TPL_CHECK_S))
		return;
	c->checked = now;
	/* a list is kept fresh once there is one, or when * needs one */
	if (tpl_list(a) == NULL && !a->cfg.template_ids_all)
		return;
	if (store_key(&a->cfg, "templates:fresh", NULL, fresh, sizeof(fresh)) != 0 ||
	    store_key(&a->cfg, "templates:lock", NULL, lock, sizeof(lock)) != 0 ||
	    store_exists(a->st, fresh, &yes) != WX_OK || yes)
		return;
	sec_new_id(val, sizeof(val));
	if (store_lock(a->st, lock, val, TPL_LOCK_MS, &got) != WX_OK || !got)
		return;
	if ((err = tpl_sync(a, &n, &e)) == WX_OK)
		log_info("template list refreshed: %zu template(s)", n);
	else
		log_warn("template list not refreshed: %s",
		    e.msg[0] ? e.msg : wxerr_text(err));
	store_unlock(a->st, lock, val);
}
