/*
 * jsonw.h: the writer of the JSON wxsub composes: its answers and the
 * messages it sends WeChat. Compact JSON appended to the caller's buffer,
 * one object member at a time, every string escaped (quotes, backslash,
 * controls, U+2028/U+2029) and any byte that is not UTF-8 written as
 * U+FFFD: nothing a caller or WeChat sent can break the encoding. These
 * texts are small and flat, and building them as json-c objects cost more
 * than the rest of a /record; what comes in is still parsed with json-c
 * (jsonio.h). Something that does not fit makes the whole text void,
 * never a truncated one.
 */
#ifndef WX_JSONW_H
#define WX_JSONW_H

#include <stdbool.h>
#include <stddef.h>

#include "wxlimits.h"

struct jsonw {
	char		*buf;
	size_t		 cap;		/* bytes at buf, the final NUL included */
	size_t		 len;
	unsigned	 depth;		/* objects open */
	bool		 comma;		/* the next member needs one */
	bool		 full;		/* something did not fit */
};

/* Start a text in buf[0..cap): "{". */
void		 jw_init(struct jsonw *, char *buf, size_t cap);

/*
 * The most bytes a string of n bytes takes once written, quotes included
 * (every byte could become a six-byte escape): for sizing a buffer.
 */
#define JW_STRING_MAX(n)	(6 * (size_t)(n) + 2)

/* Members of the innermost open object; key is escaped like a value. */
void		 jw_str(struct jsonw *, const char *key, const char *val);
void		 jw_strn(struct jsonw *, const char *key, const char *val,
		    size_t n);
void		 jw_int(struct jsonw *, const char *key, long long);
void		 jw_uint(struct jsonw *, const char *key, unsigned long long);
void		 jw_bool(struct jsonw *, const char *key, bool);

/* "key":{ ... }: at most LIM_JSONW_DEPTH objects deep. */
void		 jw_open(struct jsonw *, const char *key);
void		 jw_close(struct jsonw *);

/*
 * Close what is open and return the text (NUL-terminated, owned by w)
 * and its length; NULL when it did not fit.
 */
const char	*jw_finish(struct jsonw *, size_t *len);

#endif
