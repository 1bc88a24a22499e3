/*
 * validate.h: what a caller's bytes may look like. Pure functions, no I/O,
 * no allocation: unit-test and fuzz targets.
 */
#ifndef WX_VALIDATE_H
#define WX_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

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

/* An openId: exactly 28 of A-Z a-z 0-9 _ - */
bool	val_openid(const char *s);
/* A template id: 1..LIM_ID-1 of A-Z a-z 0-9 _ - */
bool	val_template_id(const char *s);
/* An X-Request-Id we accept and echo: 1..LIM_REQID-1 of A-Z a-z 0-9 . _ - */
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
