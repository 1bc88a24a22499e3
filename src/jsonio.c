/*
 * jsonio.c: strict JSON parsing and compact output over json-c.
 */
#include <stdbool.h>
#include <string.h>

#include "wxlimits.h"
#include "jsonio.h"
#include "validate.h"
#include "utf8.h"

/*
 * A strict RFC 8259 syntax check, because json-c's strict mode still
 * takes single quotes, NaN, Infinity, "1." and raw control characters
 * inside strings. It also refuses \u0000, which no field of ours may
 * hold and which would cut keys and values short as C strings. No
 * allocation; nesting is bounded by LIM_JSON_DEPTH.
 * (UTF-8 is checked before it, by utf8_valid, over the whole body.)
 */
struct lex {
	const unsigned char	*p, *end;
	const unsigned char	*key;	/* the member being parsed, raw */
	size_t			 keylen;
	bool			 nul;	/* failed on a \u0000 escape */
	size_t			 members;	/* of every object, duplicates too */
};

static void
skip_ws(struct lex *l)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' ||
	    *l->p == '\n' || *l->p == '\r'))
		l->p++;
}

static bool
lit(struct lex *l, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(l->end - l->p) < n || memcmp(l->p, word, n) != 0)
		return false;
	l->p += n;
	return true;
}

static bool
digits(struct lex *l)
{
	const unsigned char *start = l->p;

	while (l->p < l->end && *l->p >= '0' && *l->p <= '9')
		l->p++;
	return l->p > start;
}

static bool
number(struct lex *l)
{
	if (l->p < l->end && *l->p == '-')
		l->p++;
	if (l->p < l->end && *l->p == '0')
		l->p++;
	else if (!digits(l))
		return false;
	if (l->p < l->end && *l->p == '.') {
		l->p++;
		if (!digits(l))
			return false;
	}
	if (l->p < l->end && (*l->p == 'e' || *l->p == 'E')) {
		l->p++;
		if (l->p < l->end && (*l->p == '+' || *l->p == '-'))
			l->p++;
		if (!digits(l))
			return false;
	}
	return true;
}

static bool
string(struct lex *l)
{
	if (l->p >= l->end || *l->p != '"')
		return false;
	for (l->p++; l->p < l->end; l->p++) {
		unsigned char c = *l->p;
		if (c == '"') {
			l->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		if (++l->p >= l->end)
			return false;
		if (*l->p == 'u') {
			bool zero = true;
			for (int i = 0; i < 4; i++) {
				if (++l->p >= l->end || !val_is(*l->p, VC_HEX))
					return false;
				zero &= *l->p == '0';
			}
			/* \u0000 would cut the C string it becomes: refused. */
			if (zero) {
				l->nul = true;
				return false;
			}
		} else if (strchr("\"\\/bfnrt", *l->p) == NULL || *l->p == '\0')
			return false;
	}
	return false;
}

static bool value(struct lex *, int);

static bool
container(struct lex *l, int depth, unsigned char close)
{
	const unsigned char *outer = l->key, *k;
	size_t outerlen = l->keylen;

	l->p++;
	skip_ws(l);
	if (l->p < l->end && *l->p == close) {
		l->p++;
		return true;
	}
	for (;;) {
		if (close == '}') {
			skip_ws(l);
			k = l->p + 1;
			if (!string(l))
				return false;	/* l->key: the enclosing member */
			l->key = k;
			l->keylen = (size_t)(l->p - 1 - k);
			l->members++;
			skip_ws(l);
			if (l->p >= l->end || *l->p++ != ':')
				return false;
		}
		if (!value(l, depth + 1))
			return false;
		skip_ws(l);
		if (l->p >= l->end)
			return false;
		if (*l->p == close) {
			l->p++;
			l->key = outer;
			l->keylen = outerlen;
			return true;
		}
		if (*l->p++ != ',')
			return false;
	}
}

static bool
value(struct lex *l, int depth)
{
	if (depth > LIM_JSON_DEPTH)
		return false;
	skip_ws(l);
	if (l->p >= l->end)
		return false;
	switch (*l->p) {
	case '{':
		return container(l, depth, '}');
	case '[':
		return container(l, depth, ']');
	case '"':
		return string(l);
	case 't':
		return lit(l, "true");
	case 'f':
		return lit(l, "false");
	case 'n':
		return lit(l, "null");
	default:
		return number(l);
	}
}

/*
 * The syntax check, saying which member holds a \u0000 when one does;
 * *members counts the members of every object as written.
 */
static bool
syntax_check(const char *buf, size_t len, struct wxe *e, size_t *members)
{
	struct lex l = { (const unsigned char *)buf,
	    (const unsigned char *)buf + len, NULL, 0, false, 0 };

	if (value(&l, 1)) {
		skip_ws(&l);
		*members = l.members;
		if (l.p == l.end)
			return true;
	}
	if (!l.nul)
		(void)wxe_set(e, WX_BAD_REQUEST,
		    "the body is not valid JSON (RFC 8259)");
	else if (l.key == NULL)
		(void)wxe_set(e, WX_BAD_REQUEST,
		    "a key holds \\u0000, which is not allowed");
	else
		(void)wxe_set(e, WX_BAD_REQUEST, "%.*s: \\u0000 is not allowed",
		    (int)utf8_cut((const char *)l.key, l.keylen, 64),
		    (const char *)l.key);
	return false;
}

bool
jsonio_syntax_ok(const char *buf, size_t len)
{
	struct wxe e;
	size_t members;

	return syntax_check(buf, len, &e, &members);
}

/* The members of every object in o; json-c keeps one per key. */
static size_t
members_of(json_object *o)
{
	size_t n = 0, i, len;

	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			(void)k;
			n += 1 + members_of(v);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		len = json_object_array_length(o);
		for (i = 0; i < len; i++)
			n += members_of(json_object_array_get_idx(o, i));
	}
	return n;
}

enum wx_err
jsonio_parse_object(const char *buf, size_t len, json_object **out,
    struct wxe *e)
{
	static struct json_tokener *tok;
	json_object *o = NULL;
	enum json_tokener_error jerr;
	size_t end, members = 0;

	*out = NULL;
	wxe_clear(e);
	if (len == 0)
		return wxe_set(e, WX_BAD_REQUEST,
		    "the body is empty: a JSON object is expected");
	if (len > (size_t)LIM_BODY_MAX || memchr(buf, '\0', len) != NULL)
		return wxe_set(e, WX_BAD_REQUEST, "the body is not JSON");
	if (!utf8_valid(buf, len))
		return wxe_set(e, WX_BAD_REQUEST, "the body is not valid UTF-8");
	if (!syntax_check(buf, len, e, &members))
		return WX_BAD_REQUEST;
	/*
	 * One tokener per process, reset per body: it owns growable buffers.
	 * json_tokener_reset leaves some state behind (a pending half of a
	 * surrogate pair from input cut off mid-string): safe here only
	 * because syntax_check lets through nothing but whole JSON texts.
	 */
	if (tok == NULL && (tok = json_tokener_new_ex(LIM_JSON_DEPTH + 1)) == NULL)
		return wxe_set(e, WX_INTERNAL, "out of memory");
	json_tokener_reset(tok);
	/*
	 * json-c is lenient by default (single quotes, trailing commas).
	 * Its UTF-8 check would repeat utf8_valid's, byte by byte.
	 */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);

	if (o == NULL || jerr != json_tokener_success) {
		json_object_put(o);
		return wxe_set(e, WX_BAD_REQUEST, "the body is not valid JSON "
		    "(%s)", jerr == json_tokener_continue ? "unexpected end" :
		    json_tokener_error_desc(jerr));
	}
	for (; end < len; end++)
		if (strchr(" \t\r\n", buf[end]) == NULL) {
			json_object_put(o);
			return wxe_set(e, WX_BAD_REQUEST,
			    "the body has data after the JSON value");
		}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return wxe_set(e, WX_BAD_REQUEST,
		    "the body must be a JSON object");
	}
	/*
	 * json-c keeps the last of two equal keys; a filter in front may
	 * have read the first. Fewer members parsed than written: refused.
	 */
	if (members_of(o) != members) {
		json_object_put(o);
		return wxe_set(e, WX_BAD_REQUEST,
		    "the body has a key twice in one object");
	}
	*out = o;
	return WX_OK;
}

int
jsonio_string(json_object *o, const char *key, const char **out, size_t *len)
{
	json_object *v;
	const char *s;
	size_t n;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	/* utf8_valid also refuses NUL, which would cut C strings short. */
	if (!utf8_valid(s, n))
		return -1;
	*out = s;
	if (len != NULL)
		*len = n;
	return 1;
}

int
jsonio_array(json_object *o, const char *key, json_object **out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return -1;
	*out = v;
	return 1;
}

int
jsonio_object(json_object *o, const char *key, json_object **out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return -1;
	*out = v;
	return 1;
}

const char *
jsonio_text(json_object *o, size_t *len)
{
	return json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}
