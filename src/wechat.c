/*
 * wechat.c: requests to and answers from the WeChat API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "jsonio.h"
#include "jsonw.h"
#include "log.h"
#include "validate.h"
#include "wechat.h"

/* What a WeChat errcode means to a caller; anything unlisted is a 502. */
struct errmap {
	long		 errcode;
	enum wx_err	 err;
};

static const struct errmap send_map[] = {
	{ 43101, WX_USER_REFUSED },
	{ 40003, WX_INVALID_OPENID },
	{ 40037, WX_INVALID_TEMPLATE },
	{ 47003, WX_WECHAT_DATA },
	{ 41030, WX_INVALID_PAGE },
	{ 43107, WX_TEMPLATE_BANNED },
	{ 45168, WX_SENSITIVE },
	{ 45009, WX_QUOTA },
	/* The token was refused (wechat_token_rejected): the only rows here. */
	{ 40001, WX_TOKEN_UNAVAILABLE },
	{ 40014, WX_TOKEN_UNAVAILABLE },
	{ 41001, WX_TOKEN_UNAVAILABLE },
	{ 42001, WX_TOKEN_UNAVAILABLE },
};

static const struct errmap login_map[] = {
	{ 40029, WX_INVALID_CODE },
	{ 40163, WX_INVALID_CODE },
	{ 45011, WX_RATE_LIMITED },
	{ 40226, WX_FORBIDDEN },
};

static enum wx_err
map_errcode(const struct errmap *map, size_t n, long errcode)
{
	for (size_t i = 0; i < n; i++)
		if (map[i].errcode == errcode)
			return map[i].err;
	return WX_UPSTREAM;
}

enum wx_err
wechat_map_login(long errcode)
{
	return map_errcode(login_map, sizeof(login_map) / sizeof(login_map[0]),
	    errcode);
}

enum wx_err
wechat_map_send(long errcode)
{
	return map_errcode(send_map, sizeof(send_map) / sizeof(send_map[0]),
	    errcode);
}

bool
wechat_token_rejected(long errcode)
{
	/* The token-refusal errcodes are send_map's WX_TOKEN_UNAVAILABLE rows. */
	return wechat_map_send(errcode) == WX_TOKEN_UNAVAILABLE;
}

/*
 * Keep WeChat's errmsg printable ASCII and short: it goes into logs and,
 * through messages, into JSON answers, where a cut character would be
 * invalid UTF-8.
 */
static void
copy_errmsg(char *dst, size_t dstlen, const char *src)
{
	size_t o = 0;

	for (; src != NULL && *src != '\0' && o + 1 < dstlen && o < 160; src++) {
		unsigned char ch = (unsigned char)*src;
		dst[o++] = ch < 0x20 ? ' ' : ch >= 0x7f ? '?' : (char)ch;
	}
	dst[o] = '\0';
}

/* The call's error into its carrier too, and back. */
static enum wx_err
answered(struct wxe *ans, enum wx_err err)
{
	ans->err = err;
	return err;
}

enum wx_err
wechat_parse(const char *body, size_t len, json_object **out,
    struct wxe *ans)
{
	struct json_tokener *tok;
	json_object *o, *ec, *em;
	char msg[161];
	long code;

	/*
	 * A tokener of its own per answer: json_tokener_reset keeps a
	 * \uD800-\uDBFF half left pending by a cut-off answer, and the next
	 * answer's first \u escape would come out with U+FFFD in front (a
	 * key such as "\u006dsgid" would then not be found). Found by
	 * fuzz_wechat. An answer per send or fetch makes the cost nothing.
	 */
	*out = NULL;
	wxe_clear(ans);
	if ((tok = json_tokener_new_ex(LIM_JSON_DEPTH)) == NULL)
		return wxe_set(ans, WX_INTERNAL, "out of memory");
	o = json_tokener_parse_ex(tok, body, (int)len);
	json_tokener_free(tok);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return wxe_set(ans, WX_UPSTREAM, "answer is not a JSON object");
	}
	if (json_object_object_get_ex(o, "errcode", &ec) && ec != NULL &&
	    json_object_is_type(ec, json_type_int) &&
	    json_object_get_int64(ec) != 0) {
		code = (long)json_object_get_int64(ec);
		msg[0] = '\0';
		if (json_object_object_get_ex(o, "errmsg", &em) &&
		    json_object_is_type(em, json_type_string))
			copy_errmsg(msg, sizeof(msg), json_object_get_string(em));
		json_object_put(o);
		(void)wxe_set(ans, WX_UPSTREAM, "errcode %ld: %s", code, msg);
		ans->errcode = code;
		return WX_UPSTREAM;
	}
	*out = o;
	return WX_OK;
}

/* Build the token request: classic GET URL, or stable POST body. */
static int
token_request(const struct config *c, bool force, char *url, size_t urllen,
    json_object **body)
{
	char *esc;
	int n;

	*body = NULL;
	if (c->token_api == TOKEN_API_STABLE) {
		if ((*body = json_object_new_object()) == NULL)
			return -1;
		json_object_object_add(*body, "grant_type",
		    json_object_new_string("client_credential"));
		json_object_object_add(*body, "appid", json_object_new_string(c->appid));
		json_object_object_add(*body, "secret", json_object_new_string(c->secret));
		json_object_object_add(*body, "force_refresh",
		    json_object_new_boolean(force));
		n = snprintf(url, urllen, "%s", c->stable_token_url);
	} else {
		if ((esc = curl_easy_escape(NULL, c->secret, 0)) == NULL)
			return -1;
		n = snprintf(url, urllen,
		    "%s?grant_type=client_credential&appid=%s&secret=%s",
		    c->token_url, c->appid, esc);
		curl_free(esc);
	}
	return n < 0 || (size_t)n >= urllen ? -1 : 0;
}

enum wx_err
wechat_token(struct upstream *up, const struct config *c, bool force,
    struct wx_token *t, struct wxe *ans)
{
	char url[LIM_URL + 3 * LIM_SECRET + 128];
	json_object *req = NULL;
	struct up_result res;
	enum wx_err err = WX_TOKEN_UNAVAILABLE;

	wxe_clear(ans);
	memset(t, 0, sizeof(*t));
	if (token_request(c, force, url, sizeof(url), &req) != 0) {
		(void)wxe_set(ans, err, "cannot build the token request");
		goto out;
	}
	if (up_call(up, url, req ? jsonio_text(req, NULL) : NULL, UP_RESEND_OK,
	    c->timeout_ms, &res) != WX_OK) {
		(void)wxe_set(ans, err, "token endpoint: %.200s", res.e.msg);
		goto out;
	}
	err = wechat_read_token(res.status, res.body, res.len, t, ans);
out:
	json_object_put(req);
	return answered(ans, err);
}

/*
 * What every answer goes through first: a 200 holding a JSON object
 * without an errcode, else the error (an errcode through map, when the
 * call has a table). "what" names the call in the reason.
 */
static enum wx_err
read_answer(const char *what, long status, const char *body, size_t len,
    enum wx_err (*map)(long), json_object **o, struct wxe *ans)
{
	enum wx_err err;

	*o = NULL;
	if (status != 200)
		return wxe_set(ans, WX_UPSTREAM, "%s: HTTP %ld", what, status);
	if ((err = wechat_parse(body, len, o, ans)) != WX_OK && ans->errcode != 0 &&
	    map != NULL)
		err = map(ans->errcode);
	return answered(ans, err);
}

enum wx_err
wechat_read_token(long status, const char *body, size_t len,
    struct wx_token *t, struct wxe *ans)
{
	json_object *o, *v;
	enum wx_err err = WX_TOKEN_UNAVAILABLE;
	const char *s;
	size_t slen;

	memset(t, 0, sizeof(*t));
	if (read_answer("token endpoint", status, body, len, NULL, &o, ans) !=
	    WX_OK)
		goto out;
	if (jsonio_string(o, "access_token", &s, &slen) != 1 ||
	    !val_shape(VS_ACCESS_TOKEN, s, slen)) {
		(void)wxe_set(ans, err, "token endpoint: no usable access_token");
		goto out;
	}
	if (!json_object_object_get_ex(o, "expires_in", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= 0 || json_object_get_int64(v) > 86400) {
		(void)wxe_set(ans, err, "token endpoint: bad expires_in");
		goto out;
	}
	memcpy(t->token, s, slen + 1);
	t->expires_in = (long)json_object_get_int64(v);
	err = WX_OK;
out:
	json_object_put(o);
	return answered(ans, err);
}

char *
wechat_message_text(const struct wx_message *m, size_t *len)
{
	bool page = m->page != NULL && m->page[0] != '\0';
	struct jsonw w;
	size_t cap, i;
	char *text;

	/* Sized for the worst escapes: the writer can then never run out. */
	cap = 256 + JW_STRING_MAX(strlen(m->openid)) +
	    JW_STRING_MAX(strlen(m->template_id)) +
	    (page ? JW_STRING_MAX(strlen(m->page)) : 0) +
	    JW_STRING_MAX(strlen(m->mp_state)) + JW_STRING_MAX(strlen(m->lang));
	for (i = 0; i < m->ndata; i++)
		cap += 16 + JW_STRING_MAX(strlen(m->data[i].key)) +
		    JW_STRING_MAX(m->data[i].len);
	if ((text = malloc(cap)) == NULL)
		return NULL;
	jw_init(&w, text, cap);
	jw_str(&w, "touser", m->openid);
	jw_str(&w, "template_id", m->template_id);
	if (page)
		jw_str(&w, "page", m->page);
	jw_open(&w, "data");
	for (i = 0; i < m->ndata; i++) {
		jw_open(&w, m->data[i].key);
		jw_strn(&w, "value", m->data[i].value, m->data[i].len);
		jw_close(&w);
	}
	jw_close(&w);
	jw_str(&w, "miniprogram_state", m->mp_state);
	jw_str(&w, "lang", m->lang);
	if (jw_finish(&w, len) == NULL) {
		free(text);
		return NULL;
	}
	return text;
}

enum wx_err
wechat_send(struct upstream *up, const struct config *c, const char *token,
    const struct wx_message *m, uint64_t *msgid, struct wxe *ans)
{
	char url[LIM_URL + LIM_TOKEN + 8], *text = NULL;
	struct up_result res;
	enum wx_err err = WX_INTERNAL;
	size_t len, ulen = strlen(c->send_url), tlen = strlen(token);

	wxe_clear(ans);
	*msgid = 0;
	if (ulen + tlen >= sizeof(url) ||
	    (text = wechat_message_text(m, &len)) == NULL) {
		(void)wxe_set(ans, err, "cannot build the send request");
		goto out;
	}
	memcpy(url, c->send_url, ulen);
	memcpy(url + ulen, token, tlen + 1);

	if (up_call(up, url, text, UP_NO_RESEND, c->timeout_ms,
	    &res) != WX_OK) {
		err = wxe_set(ans, WX_UPSTREAM, "send: %.200s", res.e.msg);
		goto out;
	}
	err = wechat_read_send(res.status, res.body, res.len, msgid, ans);
out:
	free(text);
	return answered(ans, err);
}

/*
 * WeChat's answer to a send that went through, byte for byte as it
 * comes: {"errcode":0,"errmsg":"ok","msgid":N}. Read without json-c
 * (about 8k instructions a send less); any other text, however
 * equivalent, goes the general way. N: 1 to 19 digits, no leading
 * zero, so it always fits.
 */
static bool
plain_success(const char *body, size_t len, uint64_t *msgid)
{
	static const char head[] = "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":";
	const size_t hlen = sizeof(head) - 1;
	uint64_t n = 0;
	size_t i;

	if (len < hlen + 2 || len > hlen + 20 || body[len - 1] != '}' ||
	    memcmp(body, head, hlen) != 0 ||
	    (body[hlen] == '0' && len != hlen + 2))
		return false;
	for (i = hlen; i < len - 1; i++) {
		if (body[i] < '0' || body[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(body[i] - '0');
	}
	*msgid = n;
	return true;
}

enum wx_err
wechat_read_send(long status, const char *body, size_t len, uint64_t *msgid,
    struct wxe *ans)
{
	json_object *o, *v;
	enum wx_err err;

	*msgid = 0;
	if (status == 200 && plain_success(body, len, msgid)) {
		wxe_clear(ans);
		return answered(ans, WX_OK);
	}
	if ((err = read_answer("send", status, body, len, wechat_map_send, &o,
	    ans)) != WX_OK)
		return answered(ans, err);
	if (json_object_object_get_ex(o, "msgid", &v) &&
	    json_object_is_type(v, json_type_int))
		*msgid = json_object_get_uint64(v);
	json_object_put(o);
	return answered(ans, WX_OK);
}

/* Copy a string field that must match a character set; false if not. */
static bool
take_id(json_object *o, const char *key, char *out, size_t outlen,
    bool required)
{
	const char *s;
	size_t len;
	int t = jsonio_string(o, key, &s, &len);

	out[0] = '\0';
	if (t == 0)
		return !required;
	if (t < 0 || len == 0 || len >= outlen || !val_span(s, len, VC_GRAPH))
		return false;
	memcpy(out, s, len + 1);
	return true;
}

enum wx_err
wechat_login(struct upstream *up, const struct config *c, const char *code,
    struct wx_login *l, struct wxe *ans)
{
	char url[LIM_URL + 3 * LIM_SECRET + 3 * LIM_ID + 128];
	char *esc_secret = NULL, *esc_code = NULL;
	struct up_result res;
	enum wx_err err = WX_UPSTREAM;
	int n;

	wxe_clear(ans);
	memset(l, 0, sizeof(*l));
	esc_secret = curl_easy_escape(NULL, c->secret, 0);
	esc_code = curl_easy_escape(NULL, code, 0);
	if (esc_secret == NULL || esc_code == NULL) {
		err = WX_INTERNAL;
		goto out;
	}
	n = snprintf(url, sizeof(url), "%s%sappid=%s&secret=%s&js_code=%s"
	    "&grant_type=authorization_code", c->login_url,
	    strchr(c->login_url, '?') ? "&" : "?", c->appid, esc_secret, esc_code);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		err = wxe_set(ans, WX_INTERNAL, "login URL too long");
		goto out;
	}
	if (up_call(up, url, NULL, UP_RESEND_OK, c->login_timeout_ms,
	    &res) != WX_OK) {
		(void)wxe_set(ans, err, "code2Session: %.200s", res.e.msg);
		goto out;
	}
	err = wechat_read_login(res.status, res.body, res.len, l, ans);
out:
	curl_free(esc_secret);
	curl_free(esc_code);
	return answered(ans, err);
}

enum wx_err
wechat_read_login(long status, const char *body, size_t len,
    struct wx_login *l, struct wxe *ans)
{
	json_object *o;
	enum wx_err err;

	memset(l, 0, sizeof(*l));
	if ((err = read_answer("code2Session", status, body, len,
	    wechat_map_login, &o, ans)) != WX_OK)
		return answered(ans, err);
	if (!take_id(o, "openid", l->openid, sizeof(l->openid), true) ||
	    !take_id(o, "session_key", l->session_key, sizeof(l->session_key), true) ||
	    !take_id(o, "unionid", l->unionid, sizeof(l->unionid), false)) {
		err = wxe_set(ans, WX_UPSTREAM, "code2Session: incomplete answer");
		memset(l, 0, sizeof(*l));
	}
	json_object_put(o);
	return answered(ans, err);
}
