/*
 * pushmsg.c: reading WeChat's pushes (pushmsg.h). No I/O; every buffer
 * is bounded by the body it comes from.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>
#include <json-c/json.h>

#include "crypto.h"
#include "jsonio.h"
#include "pushmsg.h"
#include "request.h"
#include "validate.h"

#define SIG_HEX		40

static const struct {
	const char	*event;
	const char	*wrapper;	/* the object or element named after it */
	enum push_kind	 kind;
} events[] = {
	{ "subscribe_msg_popup_event", "SubscribeMsgPopupEvent", PUSH_POPUP },
	{ "subscribe_msg_change_event", "SubscribeMsgChangeEvent", PUSH_CHANGE },
	{ "subscribe_msg_sent_event", "SubscribeMsgSentEvent", PUSH_SENT },
};
#define N_EVENTS	(sizeof(events) / sizeof(events[0]))

bool
push_token_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 32)
		return false;
	return val_span(s, n, VC_ALNUM);
}

bool
push_aes_key_ok(const char *s)
{
	return strlen(s) == 43 && val_span(s, 43, VC_ALNUM);
}

/* A strict integer in [min, max], decimal, an optional '-'. */
static bool
parse_ll(const char *s, size_t len, long long min, long long max,
    long long *out)
{
	long long v = 0;
	size_t i = 0;
	bool neg = false;

	if (len > 0 && s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == len || len - i > 18)
		return false;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	v = neg ? -v : v;
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Copy a field value; false when it does not fit or holds a NUL. */
static bool
put(char *dst, size_t dstlen, const char *v, size_t len)
{
	if (len >= dstlen || memchr(v, '\0', len) != NULL)
		return false;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return true;
}

/*
 * The parsers hand every (name, value) they find here: top-level fields
 * with item NULL, List members with their item. Unknown names are
 * ignored. *encrypt gets a copy of the Encrypt field.
 */
struct sink {
	struct push_msg	*m;
	char		*encrypt;	/* malloc'd */
	char		 why[96];	/* first problem, for msg */
};

static bool
sink_fail(struct sink *s, const char *why, const char *name)
{
	if (s->why[0] == '\0')
		snprintf(s->why, sizeof(s->why), "%s%s%.40s", why,
		    name ? ": " : "", name ? name : "");
	return false;
}

static bool
sink_top(struct sink *s, const char *name, const char *v, size_t len)
{
	struct push_msg *m = s->m;

	if (strcmp(name, "Encrypt") == 0 || strcmp(name, "encrypt") == 0) {
		if (s->encrypt != NULL)
			return sink_fail(s, "repeated field", name);
		if ((s->encrypt = malloc(len + 1)) == NULL)
			return sink_fail(s, "out of memory", NULL);
		memcpy(s->encrypt, v, len);
		s->encrypt[len] = '\0';
		return true;
	}
	if (strcmp(name, "ToUserName") == 0)
		return put(m->to, sizeof(m->to), v, len) ||
		    sink_fail(s, "too long", name);
	if (strcmp(name, "FromUserName") == 0)
		return put(m->from, sizeof(m->from), v, len) ||
		    sink_fail(s, "too long", name);
	if (strcmp(name, "MsgType") == 0)
		return put(m->msg_type, sizeof(m->msg_type), v, len) ||
		    sink_fail(s, "too long", name);
	if (strcmp(name, "Event") == 0)
		return put(m->event, sizeof(m->event), v, len) ||
		    sink_fail(s, "too long", name);
	if (strcmp(name, "CreateTime") == 0)
		return parse_ll(v, len, 0, LLONG_MAX / 2, &m->create_time) ||
		    sink_fail(s, "not a number", name);
	return true;
}

static bool
sink_item(struct sink *s, struct push_item *it, const char *name,
    const char *v, size_t len)
{
	long long x;

	if (strcmp(name, "TemplateId") == 0)
		return put(it->template_id, sizeof(it->template_id), v, len) ||
		    sink_fail(s, "too long", name);
	if (strcmp(name, "SubscribeStatusString") == 0)
		return put(it->status, sizeof(it->status), v, len) ||
		    sink_fail(s, "too long", name);
	if (strcmp(name, "ErrorStatus") == 0)
		return put(it->error_status, sizeof(it->error_status), v, len) ||
		    sink_fail(s, "too long", name);
	if (strcmp(name, "MsgID") == 0 || strcmp(name, "MsgId") == 0) {
		/* up to 2^64 - 1: kept as text, digits only */
		if (len == 0 || len > 20 || !put(it->msgid, sizeof(it->msgid), v, len))
			return sink_fail(s, "not a message id", name);
		for (size_t i = 0; i < len; i++)
			if (v[i] < '0' || v[i] > '9')
				return sink_fail(s, "not a message id", name);
		return true;
	}
	if (strcmp(name, "ErrorCode") == 0) {
		if (!parse_ll(v, len, -999999999, 999999999, &x))
			return sink_fail(s, "not a number", name);
		it->errcode = x;
		it->has_errcode = true;
	}
	return true;
}

static struct push_item *
sink_new_item(struct sink *s)
{
	if (s->m->n >= PUSH_MAX_ITEMS) {
		sink_fail(s, "too many List entries", NULL);
		return NULL;
	}
	return &s->m->items[s->m->n++];
}

static bool
is_wrapper(const char *name)
{
	for (size_t i = 0; i < N_EVENTS; i++)
		if (strcmp(name, events[i].wrapper) == 0)
			return true;
	return false;
}

/* ---- JSON ---- */

/* A scalar as text: strings as they are, integers in decimal. */
static bool
json_scalar(json_object *v, char *buf, size_t buflen, const char **out,
    size_t *len)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		*out = json_object_get_string(v);
		*len = (size_t)json_object_get_string_len(v);
		return true;
	case json_type_int:
		if (json_object_get_int64(v) < 0)
			snprintf(buf, buflen, "%lld",
			    (long long)json_object_get_int64(v));
		else
			snprintf(buf, buflen, "%llu",
			    (unsigned long long)json_object_get_uint64(v));
		*out = buf;
		*len = strlen(buf);
		return true;
	default:
		return false;	/* objects, arrays, null, bool, double */
	}
}

static bool json_items(struct sink *, json_object *, int);

static bool
json_item(struct sink *s, json_object *o)
{
	struct push_item *it;
	char num[32];
	const char *v;
	size_t len;

	if ((it = sink_new_item(s)) == NULL)
		return false;
	json_object_object_foreach(o, key, val) {
		if (!json_scalar(val, num, sizeof(num), &v, &len))
			continue;
		if (!sink_item(s, it, key, v, len))
			return false;
	}
	return true;
}

/*
 * List (or a wrapper's value): an object for one item, an array for
 * several; an object holding "List" is a wrapper. level bounds the
 * wrapping.
 */
static bool
json_items(struct sink *s, json_object *v, int level)
{
	json_object *inner;
	size_t i, n;

	if (level > 2)
		return sink_fail(s, "List nested too deep", NULL);
	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			if (!json_object_is_type(e, json_type_object))
				return sink_fail(s, "a List entry is not an object", NULL);
			if (!json_item(s, e))
				return false;
		}
		return true;
	}
	if (!json_object_is_type(v, json_type_object))
		return sink_fail(s, "List is neither an object nor an array", NULL);
	if (json_object_object_get_ex(v, "List", &inner))
		return json_items(s, inner, level + 1);
	return json_item(s, v);
}

static enum wx_err
read_json(struct sink *s, const char *body, size_t len, struct wxe *e)
{
	json_object *root = NULL, *list;
	enum wx_err err;
	char num[32];
	const char *v;
	size_t vlen;
	bool ok = true;

	if ((err = jsonio_parse_object(body, len, &root, e)) != WX_OK)
		return err;
	s->m->json = true;
	json_object_object_foreach(root, key, val) {
		if (json_scalar(val, num, sizeof(num), &v, &vlen)) {
			if (!(ok = sink_top(s, key, v, vlen)))
				break;
		} else if (is_wrapper(key) && !json_object_object_get_ex(root,
		    "List", &list)) {
			if (!(ok = json_items(s, val, 1)))
				break;
		} else if (strcmp(key, "List") == 0) {
			if (!(ok = json_items(s, val, 1)))
				break;
		}
	}
	json_object_put(root);
	return ok ? WX_OK : wxe_set(e, WX_BAD_REQUEST, "%s", s->why);
}

/* ---- XML ---- */

struct xml_state {
	XML_Parser	 p;
	struct sink	*s;
	int		 depth;
	int		 list_depth;		/* depth of the open <List>, or 0 */
	bool		 in_wrapper;		/* inside <SubscribeMsg...Event> */
	struct push_item *item;
	char		*text;			/* the current element's text */
	size_t		 text_len, text_cap;
	bool		 failed;
};

static void
xml_stop(struct xml_state *x, const char *why)
{
	if (!x->failed)
		sink_fail(x->s, why, NULL);
	x->failed = true;
	XML_StopParser(x->p, XML_FALSE);
}

static void XMLCALL
xml_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct xml_state *x = ud;

	(void)attrs;
	if (x->failed)
		return;
	if (++x->depth > PUSH_MAX_DEPTH) {
		xml_stop(x, "XML nested too deep");
		return;
	}
	x->text_len = 0;
	if (x->depth == 2 && is_wrapper(name))
		x->in_wrapper = true;
	if (x->list_depth == 0 && strcmp(name, "List") == 0 &&
	    (x->depth == 2 || (x->depth == 3 && x->in_wrapper))) {
		if ((x->item = sink_new_item(x->s)) == NULL) {
			xml_stop(x, "too many List entries");
			return;
		}
		x->list_depth = x->depth;
	}
}

static void XMLCALL
xml_end(void *ud, const XML_Char *name)
{
	struct xml_state *x = ud;
	bool ok = true;

	if (x->failed)
		return;
	if (x->list_depth != 0 && x->depth == x->list_depth + 1)
		ok = sink_item(x->s, x->item, name, x->text, x->text_len);
	else if (x->depth == 2 && x->list_depth == 0)
		ok = sink_top(x->s, name, x->text, x->text_len);
	if (x->depth == x->list_depth)
		x->list_depth = 0;
	if (x->depth == 2)
		x->in_wrapper = false;
	x->text_len = 0;
	x->depth--;
	if (!ok) {
		x->failed = true;
		XML_StopParser(x->p, XML_FALSE);
	}
}

static void XMLCALL
xml_text(void *ud, const XML_Char *t, int len)
{
	struct xml_state *x = ud;

	if (x->failed || len <= 0)
		return;
	if ((size_t)len > x->text_cap - x->text_len) {
		xml_stop(x, "XML text too long");	/* never: cap is the body */
		return;
	}
	memcpy(x->text + x->text_len, t, (size_t)len);
	x->text_len += (size_t)len;
}

/* No DOCTYPE, so no entity is ever declared, let alone expanded. */
static void XMLCALL
xml_doctype(void *ud, const XML_Char *name, const XML_Char *sys,
    const XML_Char *pub, int has_internal)
{
	(void)name; (void)sys; (void)pub; (void)has_internal;
	xml_stop(ud, "a DOCTYPE is not accepted");
}

static void XMLCALL
xml_entity(void *ud, const XML_Char *name, int pe, const XML_Char *v,
    int vlen, const XML_Char *base, const XML_Char *sys, const XML_Char *pub,
    const XML_Char *notation)
{
	(void)name; (void)pe; (void)v; (void)vlen; (void)base; (void)sys;
	(void)pub; (void)notation;
	xml_stop(ud, "an entity declaration is not accepted");
}

static enum wx_err
read_xml(struct sink *s, const char *body, size_t len, struct wxe *e)
{
	struct xml_state x = { .s = s };
	enum XML_Status st;
	enum wx_err err = WX_OK;

	if (len > INT_MAX)
		return wxe_set(e, WX_BAD_REQUEST, NULL);
	if ((x.p = XML_ParserCreate(NULL)) == NULL ||
	    (x.text = malloc(len + 1)) == NULL) {
		if (x.p != NULL)
			XML_ParserFree(x.p);
		return wxe_set(e, WX_INTERNAL, NULL);
	}
	x.text_cap = len;
	XML_SetUserData(x.p, &x);
	XML_SetElementHandler(x.p, xml_start, xml_end);
	XML_SetCharacterDataHandler(x.p, xml_text);
	XML_SetStartDoctypeDeclHandler(x.p, xml_doctype);
	XML_SetEntityDeclHandler(x.p, xml_entity);
	XML_SetParamEntityParsing(x.p, XML_PARAM_ENTITY_PARSING_NEVER);
	st = XML_Parse(x.p, body, (int)len, XML_TRUE);
	if (x.failed)
		err = wxe_set(e, WX_BAD_REQUEST, "%s", s->why);
	else if (st != XML_STATUS_OK)
		err = wxe_set(e, WX_BAD_REQUEST, "XML: %s at line %lu",
		    XML_ErrorString(XML_GetErrorCode(x.p)),
		    (unsigned long)XML_GetCurrentLineNumber(x.p));
	XML_ParserFree(x.p);
	free(x.text);
	return err;
}

/* ---- the checks ---- */

static bool
is_json(const char *ctype, const char *body, size_t len)
{
	size_t i;

	if (ctype != NULL && strstr(ctype, "json") != NULL)
		return true;
	if (ctype != NULL && strstr(ctype, "xml") != NULL)
		return false;
	for (i = 0; i < len && val_is(body[i], VC_SPACE); i++)
		;
	return i < len && body[i] == '{';
}

static enum wx_err
read_body(struct sink *s, bool json, const char *body, size_t len,
    struct wxe *e)
{
	return json ? read_json(s, body, len, e) : read_xml(s, body, len, e);
}

/* The sorted parts joined, hashed, compared in constant time with given. */
static bool
sig_ok(const char *token, const char *ts, const char *nonce,
    const char *encrypt, const char *given)
{
	const char *p[4] = { token, ts, nonce, encrypt }, *t;
	size_t n = encrypt != NULL ? 4 : 3, i, j;
	char want[SIG_HEX + 1], low[SIG_HEX + 1];

	if (strlen(given) != SIG_HEX)
		return false;
	for (i = 0; i < SIG_HEX; i++)
		low[i] = val_lower(given[i]);
	low[SIG_HEX] = '\0';
	for (i = 1; i < n; i++)		/* insertion sort, as byte strings */
		for (j = i; j > 0 && strcmp(p[j - 1], p[j]) > 0; j--) {
			t = p[j];
			p[j] = p[j - 1];
			p[j - 1] = t;
		}
	if (crypto_sha1_hex(p, n, want) != 0)
		return false;
	return crypto_equal(want, low, SIG_HEX);
}

struct query {
	char	 signature[SIG_HEX + 2];
	char	 msg_signature[SIG_HEX + 2];
	char	 timestamp[LIM_TS];
	char	 nonce[LIM_NONCE];
	char	 encrypt_type[16];
	int	 has_sig, has_msig, has_type;
};

/* The query's fields and a fresh timestamp; WX_BAD_SIGNATURE if not. */
static enum wx_err
read_query(const struct push_conf *pc, const char *query, long long now,
    struct query *q, struct wxe *e)
{
	long long ts;

	if ((q->has_sig = req_query(query, "signature", q->signature,
	    sizeof(q->signature))) < 0 ||
	    (q->has_msig = req_query(query, "msg_signature", q->msg_signature,
	    sizeof(q->msg_signature))) < 0 ||
	    (q->has_type = req_query(query, "encrypt_type", q->encrypt_type,
	    sizeof(q->encrypt_type))) < 0 ||
	    req_query(query, "timestamp", q->timestamp, sizeof(q->timestamp)) != 1 ||
	    req_query(query, "nonce", q->nonce, sizeof(q->nonce)) != 1)
		return wxe_set(e, WX_BAD_SIGNATURE,
		    "signature, timestamp and nonce are required");
	if (!parse_ll(q->timestamp, strlen(q->timestamp), 0, LLONG_MAX / 4, &ts) ||
	    ts < now - pc->max_skew || ts > now + pc->max_skew)
		return wxe_set(e, WX_BAD_SIGNATURE,
		    "the timestamp is not within %ld s of now", pc->max_skew);
	return WX_OK;
}

enum wx_err
push_verify(const struct push_conf *pc, const char *query, long long now,
    char **echostr, struct wxe *e)
{
	struct query q;
	char echo[LIM_QUERY];
	enum wx_err err;

	*echostr = NULL;
	wxe_clear(e);
	if ((err = read_query(pc, query, now, &q, e)) != WX_OK)
		return err;
	if (q.has_sig != 1 || !sig_ok(pc->token, q.timestamp, q.nonce, NULL,
	    q.signature))
		return wxe_set(e, WX_BAD_SIGNATURE,
		    "the signature does not match push.token");
	if (req_query(query, "echostr", echo, sizeof(echo)) != 1)
		return wxe_set(e, WX_BAD_REQUEST, "echostr is required");
	if ((*echostr = strdup(echo)) == NULL)
		return wxe_set(e, WX_INTERNAL, NULL);
	return WX_OK;
}

/*
 * Decrypt Encrypt into *inner (malloc'd, NUL-terminated; the message
 * only, random bytes, length and appid gone). WX_BAD_SIGNATURE in e when
 * anything in it is not as WeChat makes it.
 */
static enum wx_err
decrypt(const struct push_conf *pc, const char *enc, char **inner,
    size_t *innerlen, struct wxe *e)
{
	uint8_t key[CRYPTO_AES_KEY + 3], *ct = NULL, *pt = NULL;
	char k64[48];
	size_t keylen, ctlen, len, content, mlen, alen, i, pad;
	enum wx_err err = WX_BAD_SIGNATURE;

	*inner = NULL;
	snprintf(k64, sizeof(k64), "%s=", pc->aes_key);
	if (crypto_b64_decode(k64, strlen(k64), key, sizeof(key), &keylen) != 0 ||
	    keylen != CRYPTO_AES_KEY)
		return wxe_set(e, WX_BAD_SIGNATURE,
		    "push.aesKey is not a valid EncodingAESKey");
	len = strlen(enc);
	if ((ct = malloc(len / 4 * 3 + 3)) == NULL ||
	    (pt = malloc(len / 4 * 3 + 4)) == NULL) {
		err = wxe_set(e, WX_INTERNAL, NULL);
		goto done;
	}
	if (crypto_b64_decode(enc, len, ct, len / 4 * 3 + 3, &ctlen) != 0 ||
	    ctlen == 0 || ctlen % 32 != 0) {
		(void)wxe_set(e, WX_BAD_SIGNATURE, "Encrypt is not base64 of 32-byte blocks");
		goto done;
	}
	if (crypto_aes256cbc(false, key, key, ct, ctlen, pt) != 0) {
		(void)wxe_set(e, WX_BAD_SIGNATURE, "Encrypt does not decrypt");
		goto done;
	}
	/* PKCS#7 with k = 32: OpenSSL's unpadding only knows k = 16 */
	pad = pt[ctlen - 1];
	if (pad < 1 || pad > 32) {
		(void)wxe_set(e, WX_BAD_SIGNATURE, "Encrypt: a pad byte outside 1..32");
		goto done;
	}
	for (i = 1; i <= pad; i++)
		if (pt[ctlen - i] != pad) {
			(void)wxe_set(e, WX_BAD_SIGNATURE, "Encrypt: a malformed pad");
			goto done;
		}
	content = ctlen - pad;
	if (content < 20) {
		(void)wxe_set(e, WX_BAD_SIGNATURE, "Encrypt: too short");
		goto done;
	}
	mlen = (size_t)pt[16] << 24 | (size_t)pt[17] << 16 |
	    (size_t)pt[18] << 8 | pt[19];
	if (mlen > content - 20) {
		(void)wxe_set(e, WX_BAD_SIGNATURE, "Encrypt: the length runs past the end");
		goto done;
	}
	alen = content - 20 - mlen;
	if (alen != strlen(pc->appid) ||
	    memcmp(pt + 20 + mlen, pc->appid, alen) != 0) {
		(void)wxe_set(e, WX_BAD_SIGNATURE, "Encrypt: not for this appid");
		goto done;
	}
	memmove(pt, pt + 20, mlen);
	pt[mlen] = '\0';
	*inner = (char *)pt;
	*innerlen = mlen;
	pt = NULL;
	err = WX_OK;
done:
	memset(key, 0, sizeof(key));
	free(ct);
	free(pt);
	return err;
}

/* What an authentic message must hold for wxsub to act on it. */
static enum wx_err
check_msg(struct push_msg *m, struct wxe *e)
{
	size_t i;

	m->kind = PUSH_OTHER;
	if (strcmp(m->msg_type, "event") == 0)
		for (i = 0; i < N_EVENTS; i++)
			if (strcmp(m->event, events[i].event) == 0)
				m->kind = events[i].kind;
	if (m->kind == PUSH_OTHER)
		return WX_OK;
	if (!val_openid(m->from))
		return wxe_set(e, WX_BAD_REQUEST, "FromUserName: not an openId");
	if (m->create_time <= 0)
		return wxe_set(e, WX_BAD_REQUEST, "CreateTime: required");
	if (m->n == 0)
		return wxe_set(e, WX_BAD_REQUEST, "List: required for %s",
		    m->event);
	for (i = 0; i < m->n; i++) {
		struct push_item *it = &m->items[i];

		if (!val_template_id(it->template_id))
			return wxe_set(e, WX_BAD_REQUEST,
			    "List[%zu].TemplateId: not a template id", i);
		if (m->kind != PUSH_SENT && it->status[0] == '\0')
			return wxe_set(e, WX_BAD_REQUEST,
			    "List[%zu].SubscribeStatusString: required", i);
		if (m->kind == PUSH_SENT && (it->msgid[0] == '\0' ||
		    !it->has_errcode))
			return wxe_set(e, WX_BAD_REQUEST,
			    "List[%zu]: MsgID and ErrorCode are required", i);
	}
	return WX_OK;
}

enum wx_err
push_read(const struct push_conf *pc, const char *query, const char *ctype,
    const char *body, size_t len, long long now, struct push_msg *m,
    struct wxe *e)
{
	struct sink s = { .m = m };
	struct query q;
	char *inner = NULL;
	size_t innerlen = 0;
	bool json, cipher;
	enum wx_err err;

	memset(m, 0, sizeof(*m));
	wxe_clear(e);
	if ((err = read_query(pc, query, now, &q, e)) != WX_OK)
		return err;
	/* a signature that is there is checked, whatever the mode */
	if (q.has_sig == 1 && !sig_ok(pc->token, q.timestamp, q.nonce, NULL,
	    q.signature))
		return wxe_set(e, WX_BAD_SIGNATURE,
		    "the signature does not match push.token");
	json = is_json(ctype, body, len);
	if ((err = read_body(&s, json, body, len, e)) != WX_OK) {
		free(s.encrypt);
		/* unsigned yet: nothing in it may be believed (same reason) */
		return q.has_sig == 1 || err == WX_INTERNAL ? err :
		    wxe_msg(e, WX_BAD_SIGNATURE, 0, e->msg);
	}
	cipher = q.has_msig == 1 || s.encrypt != NULL ||
	    (q.has_type == 1 && strcmp(q.encrypt_type, "aes") == 0);
	if (!cipher) {
		if (q.has_sig != 1)
			return wxe_set(e, WX_BAD_SIGNATURE,
			    "signature is required");
		return check_msg(m, e);
	}
	if (s.encrypt == NULL || q.has_msig != 1 || pc->aes_key[0] == '\0') {
		(void)wxe_set(e, WX_BAD_SIGNATURE, s.encrypt == NULL ?
		    "Encrypt is missing" : q.has_msig != 1 ?
		    "msg_signature is required" :
		    "an encrypted push, and push.aesKey is not set");
		free(s.encrypt);
		return e->err;
	}
	if (!sig_ok(pc->token, q.timestamp, q.nonce, s.encrypt, q.msg_signature)) {
		free(s.encrypt);
		return wxe_set(e, WX_BAD_SIGNATURE,
		    "msg_signature does not match push.token");
	}
	err = decrypt(pc, s.encrypt, &inner, &innerlen, e);
	free(s.encrypt);
	if (err != WX_OK)
		return err;
	/* what was signed, and only that: the plaintext beside it is dropped */
	memset(m, 0, sizeof(*m));
	memset(&s, 0, sizeof(s));
	s.m = m;
	err = read_body(&s, is_json(NULL, inner, innerlen), inner, innerlen,
	    e);
	free(s.encrypt);
	free(inner);
	if (err != WX_OK)
		return err;
	m->encrypted = true;
	return check_msg(m, e);
}

int
push_dedup_id(const struct push_msg *m, char *out, size_t outlen)
{
	size_t used;
	int n;

	n = snprintf(out, outlen, "%s|%lld|%s", m->from, m->create_time,
	    m->event);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	used = (size_t)n;
	for (size_t i = 0; m->kind == PUSH_SENT && i < m->n; i++) {
		n = snprintf(out + used, outlen - used, "|%s", m->items[i].msgid);
		if (n < 0 || (size_t)n >= outlen - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

int
push_encrypt(const char *aes_key, const char *appid, const uint8_t random16[16],
    const char *msg, size_t len, char *out, size_t outlen)
{
	uint8_t key[CRYPTO_AES_KEY + 3], *pt = NULL, *ct = NULL;
	char k64[48];
	size_t keylen, alen = strlen(appid), total, pad;
	int rc = -1;

	snprintf(k64, sizeof(k64), "%s=", aes_key);
	if (strlen(aes_key) != 43 || crypto_b64_decode(k64, 44, key, sizeof(key),
	    &keylen) != 0 || keylen != CRYPTO_AES_KEY || len > 0xffffff)
		return -1;
	total = 20 + len + alen;
	pad = 32 - total % 32;
	total += pad;
	if ((pt = malloc(total)) == NULL || (ct = malloc(total)) == NULL)
		goto done;
	memcpy(pt, random16, 16);
	pt[16] = (uint8_t)(len >> 24);
	pt[17] = (uint8_t)(len >> 16);
	pt[18] = (uint8_t)(len >> 8);
	pt[19] = (uint8_t)len;
	memcpy(pt + 20, msg, len);
	memcpy(pt + 20 + len, appid, alen);
	memset(pt + total - pad, (int)pad, pad);
	if (crypto_aes256cbc(true, key, key, pt, total, ct) == 0 &&
	    crypto_b64_encode(ct, total, out, outlen) == 0)
		rc = 0;
done:
	free(pt);
	free(ct);
	return rc;
}
