/*
 * jsonio.h: JSON in and out. Input is parsed strictly (no single quotes,
 * no trailing commas, valid UTF-8, bounded depth, one object and nothing
 * after it); output is always compact and never escapes '/'.
 */
#ifndef WX_JSONIO_H
#define WX_JSONIO_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "wxerr.h"

/*
 * Parse buf[0..len) into a JSON object. Returns WX_OK with *out owned by
 * the caller (e left empty), or WX_BAD_REQUEST (WX_INTERNAL when out of
 * memory) with e filled. A key twice in one object, at any depth and
 * however escaped, is refused: json-c would keep the last, where a filter
 * in front may have read the first.
 */
enum wx_err	 jsonio_parse_object(const char *buf, size_t len,
		    json_object **out, struct wxe *e);

/*
 * Is buf[0..len) exactly one JSON value by RFC 8259 (depth-bounded),
 * with no \u0000 escape anywhere?
 */
bool		 jsonio_syntax_ok(const char *buf, size_t len);

/*
 * Typed field access. Each returns 1 when the field is there with the
 * right type (and, for strings, valid UTF-8 without NUL), 0 when absent
 * (JSON null counts as absent), -1 when present with another type.
 */
int		 jsonio_string(json_object *o, const char *key,
		    const char **out, size_t *len);
int		 jsonio_array(json_object *o, const char *key, json_object **out);
int		 jsonio_object(json_object *o, const char *key, json_object **out);

/* Compact text of o, owned by o. */
const char	*jsonio_text(json_object *o, size_t *len);

#endif
