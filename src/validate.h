/*
 * validate.h: what a caller's bytes may look like. Pure functions, no I/O,
 * no allocation: unit-test and fuzz targets.
 */
#ifndef WX_VALIDATE_H
#define WX_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Character classes of bytes, in one table (val_cc[]) and nowhere else:
 * no <ctype.h> on untrusted bytes, whose answers depend on the locale.
 * A byte >= 0x80 is in no class.
 */
enum {
	VC_DIGIT	= 0x001,	/* 0-9 */
	VC_ALPHA	= 0x002,	/* A-Z a-z */
	VC_HEX		= 0x004,	/* 0-9 A-F a-f */
	VC_WORD		= 0x008,	/* A-Z a-z 0-9 _ (data keys) */
	VC_ID		= 0x010,	/* A-Z a-z 0-9 _ - (ids, base64url) */
	VC_DOTID	= 0x020,	/* A-Z a-z 0-9 _ . - (request ids, routes) */
	VC_URLTOK	= 0x040,	/* A-Z a-z 0-9 - _ . ~ * (unescaped in a URL) */
	VC_SPACE	= 0x080,	/* space \t \n \v \f \r */
	VC_GRAPH	= 0x100,	/* printable ASCII but space */
};
#define VC_ALNUM	(VC_DIGIT | VC_ALPHA)

extern const uint16_t val_cc[256];

/* Is byte c in any of the classes cls? */
#define val_is(c, cls)	((val_cc[(unsigned char)(c)] & (cls)) != 0)

/* c in lower case, ASCII letters only whatever the locale. */
#define val_lower(c)	(val_is((c), VC_ALPHA) && (c) <= 'Z' ? (char)((c) + 32) : (char)(c))

/* Are all of s[0..len) in cls? */
bool	val_span(const char *s, size_t len, unsigned cls);

/*
 * The identifiers wxsub takes, one row each, in the manner of kcgi's
 * validator table: a name (for messages), a class, and bounds in bytes.
 */
enum val_shape {
	VS_OPENID,		/* exactly 28 of VC_ID */
	VS_TEMPLATE_ID,		/* 1..LIM_ID-1 of VC_ID (appid too) */
	VS_REQUEST_ID,		/* an X-Request-Id we echo: 1..LIM_REQID-1 of VC_DOTID */
	VS_LOGIN_CODE,		/* a wx.login code: 1..128 of VC_ID */
	VS_ACCESS_TOKEN,	/* from WeChat, put into URLs: 1..LIM_TOKEN-1 of VC_URLTOK */
	VS__MAX
};
struct val_rule {
	const char	*name;
	unsigned	 cls;
	size_t		 min, max;
};
extern const struct val_rule val_rules[VS__MAX];

/* Does s[0..len) have the shape? */
bool	val_shape(enum val_shape, const char *s, size_t len);
/* The same for a NUL-terminated s, reading at most max + 1 bytes. */
bool	val_shape_str(enum val_shape, const char *s);

/* Any C0 control, DEL, or U+0080..U+009F (newlines included). */
bool	val_has_control(const char *s, size_t len);


/*
 * Strict decimal: ASCII digits only (no sign, space or suffix), within
 * [min, max]. 0 with *out, or -1.
 */
int	val_decimal(const char *s, long long min, long long max,
	    long long *out);
/* 1..max bytes of printable ASCII without space (secrets, api keys). */
bool	val_graph(const char *s, size_t max);
/* No space, no C0 control, no DEL; bytes >= 0x80 pass (Redis keys, paths). */
bool	val_nospace(const char *s);

/* val_shape_str of VS_OPENID, VS_TEMPLATE_ID, VS_REQUEST_ID. */
bool	val_openid(const char *s);
bool	val_template_id(const char *s);
bool	val_request_id(const char *s);
/* A data key: a letter then letters, digits, '_' (thing1, time3), < 64. */
bool	val_data_key(const char *s);

/*
 * Check one subscribe-message data value against the rule of its key's
 * type (WeChat's types, ../shared/spec/wechat.md: thing, number,
 * letter, symbol, character_string, time, date, amount, phone_number,
 * car_number, name, phrase). The type is the key without its trailing digits. Counts code
 * points, not bytes. An unknown type passes, but empty values and control
 * characters never do. Returns true when the value is acceptable; when not,
 * why gets a short rule description such as "thing: at most 20 characters".
 */
bool	val_data_value(const char *key, const char *value, size_t len,
	    char *why, size_t whylen);

#endif
