/*
 * fuzz_wechat.c: libFuzzer target for WeChat's answers, read the way the
 * calls read them (wechat_read_token, wechat_read_send,
 * wechat_read_login): what comes back over the network is input too.
 *
 * Input: the first byte picks the call (byte % 3: 0 token, 1 send,
 * 2 login) and, with bit 4, an HTTP status other than 200; the rest is
 * the body, in an exact-size heap block without a NUL after it, so ASan
 * sees any read past its end. Besides crashes, leaks and UB it checks:
 *   - the reason (ans.msg) is printable ASCII, never a control byte: it
 *     goes into logs and answers; the carrier's error is the call's;
 *   - a status other than 200 is never a success;
 *   - against a plain reading of the same bytes with json-c: an errcode
 *     other than 0 is never a success and is passed on as it came, mapped
 *     by the call's own table; what a success returns (token, expiry,
 *     msgid, openid, session_key, unionid) is what the answer held;
 *   - a token that succeeds is one that can go into a URL as it is, with
 *     a life of 1 s to a day; a login that fails leaves no field behind;
 *   - nothing carries over from one answer to the next: each input comes
 *     right after an answer cut off inside a surrogate pair (json-c's
 *     json_tokener_reset keeps such a half; a kept tokener once turned
 *     the next answer's first \u escape into U+FFFD and more).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "wechat.h"
#include "wxlimits.h"

#define FUZZ_MAX	8192	/* WeChat's answers are small */

static void
check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_wechat: invariant broken: %s\n", what);
	abort();
}

static void
check_why(const struct wxe *ans)
{
	const char *end = memchr(ans->msg, '\0', sizeof(ans->msg));

	check(end != NULL, "the reason ends inside its buffer");
	for (const char *p = ans->msg; p < end; p++)
		check(*p >= 0x20 && *p < 0x7f, "the reason is printable ASCII");
}

/* The answer as json-c reads it: an object, or NULL. */
static json_object *
model_parse(const char *body, size_t len)
{
	json_tokener *tok = json_tokener_new_ex(LIM_JSON_DEPTH);
	json_object *o;

	if (tok == NULL)
		abort();
	o = json_tokener_parse_ex(tok, body, (int)len);
	json_tokener_free(tok);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* The answer's errcode when it is a non-zero integer, else 0. */
static long
model_errcode(json_object *o)
{
	json_object *ec;

	if (o != NULL && json_object_object_get_ex(o, "errcode", &ec) &&
	    json_object_is_type(ec, json_type_int))
		return (long)json_object_get_int64(ec);
	return 0;
}

/* Is field key the string s (exactly, NUL and all)? */
static bool
model_string_is(json_object *o, const char *key, const char *s)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string) &&
	    (size_t)json_object_get_string_len(v) == strlen(s) &&
	    strcmp(json_object_get_string(v), s) == 0;
}

static bool
url_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && strchr("-_.~*", *s) == NULL)
			return false;
	return true;
}

static bool
printable_id(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static void
read_token(long status, const char *body, size_t len, json_object *model)
{
	struct wxe ans;
	struct wx_token t;
	json_object *v;
	enum wx_err err = wechat_read_token(status, body, len, &t, &ans);

	check_why(&ans);
	check(ans.err == err, "the carrier holds the call's error");
	if (err != WX_OK) {
		check(err == WX_TOKEN_UNAVAILABLE, "a token failure is "
		    "token_unavailable");
		check(t.token[0] == '\0', "a failed fetch leaves no token");
		return;
	}
	check(t.token[0] != '\0' && strlen(t.token) < LIM_TOKEN &&
	    url_safe(t.token), "a token goes into a URL as it is");
	check(t.expires_in >= 1 && t.expires_in <= 86400, "a token lives 1 s "
	    "to a day");
	check(model_string_is(model, "access_token", t.token), "the token is "
	    "the answer's");
	check(json_object_object_get_ex(model, "expires_in", &v) &&
	    json_object_get_int64(v) == t.expires_in, "the life is the "
	    "answer's");
}

static void
read_send(long status, const char *body, size_t len, json_object *model)
{
	struct wxe ans;
	uint64_t msgid;
	json_object *v;
	enum wx_err err = wechat_read_send(status, body, len, &msgid, &ans);

	check_why(&ans);
	check(ans.err == err, "the carrier holds the call's error");
	if (err != WX_OK) {
		check(msgid == 0, "a failed send has no msgid");
		if (ans.errcode != 0)
			check(err == wechat_map_send(ans.errcode), "an errcode "
			    "maps through the /send table");
		return;
	}
	if (json_object_object_get_ex(model, "msgid", &v) &&
	    json_object_is_type(v, json_type_int))
		check(msgid == json_object_get_uint64(v), "the msgid is the "
		    "answer's");
	else
		check(msgid == 0, "no msgid in the answer: none returned");
}

static void
read_login(long status, const char *body, size_t len, json_object *model)
{
	struct wxe ans;
	struct wx_login l;
	enum wx_err err = wechat_read_login(status, body, len, &l, &ans);

	check_why(&ans);
	check(ans.err == err, "the carrier holds the call's error");
	if (err != WX_OK) {
		check(l.openid[0] == '\0' && l.session_key[0] == '\0' &&
		    l.unionid[0] == '\0', "a failed login leaves no field");
		if (ans.errcode != 0)
			check(err == wechat_map_login(ans.errcode), "an errcode "
			    "maps through the /login table");
		return;
	}
	check(l.openid[0] != '\0' && l.session_key[0] != '\0', "a login has an "
	    "openid and a session_key");
	check(printable_id(l.openid) && printable_id(l.session_key) &&
	    printable_id(l.unionid), "ids are printable, without spaces");
	check(model_string_is(model, "openid", l.openid) &&
	    model_string_is(model, "session_key", l.session_key),
	    "the ids are the answer's");
	check(l.unionid[0] == '\0' || model_string_is(model, "unionid",
	    l.unionid), "the unionid is the answer's");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 502, 0, 404, 204 };
	json_object *model;
	long status, ec;
	size_t len;
	char *body;

	if (size < 1 || size > FUZZ_MAX)
		return 0;
	status = (data[0] & 4) ? statuses[(data[0] >> 3) & 3] : 200;
	len = size - 1;
	if ((body = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	memcpy(body, data + 1, len);
	model = status == 200 ? model_parse(body, len) : NULL;
	ec = model_errcode(model);
	{
		static const char cut[] = "{\"errmsg\":\"\\ud83d";
		struct wxe ans;
		uint64_t id;

		check(wechat_read_send(200, cut, sizeof(cut) - 1, &id, &ans) ==
		    WX_UPSTREAM, "a cut-off answer is an upstream error");
	}

	switch (data[0] % 3) {
	case 0:
		read_token(status, body, len, model);
		break;
	case 1:
		read_send(status, body, len, model);
		break;
	default:
		read_login(status, body, len, model);
		break;
	}

	/* Whatever the call, the errcode decides before any field does. */
	if (ec != 0) {
		struct wxe ans;
		uint64_t id;

		check(wechat_read_send(status, body, len, &id, &ans) != WX_OK &&
		    ans.errcode == ec, "an errcode is passed "
		    "on as it came");
	}
	if (model == NULL) {
		struct wxe ans;
		uint64_t id;

		check(wechat_read_send(status, body, len, &id, &ans) != WX_OK &&
		    ans.errcode == 0, "what is not a JSON object (or not a 200) "
		    "never succeeds");
	}
	json_object_put(model);
	free(body);
	return 0;
}
