/*
 * jsonw.c: the bounded JSON writer of answers.
 */
#include <string.h>

#include "jsonw.h"
#include "num.h"
#include "validate.h"
#include "utf8.h"

/* Room for n more bytes, and the NUL jw_finish adds? Else the text is void. */
static bool
room(struct jsonw *w, size_t n)
{
	if (w->full || n >= w->cap - w->len) {
		w->full = true;
		return false;
	}
	return true;
}

static void
put(struct jsonw *w, const char *s, size_t n)
{
	if (room(w, n)) {
		memcpy(w->buf + w->len, s, n);
		w->len += n;
	}
}

static void
put_char(struct jsonw *w, char c)
{
	if (room(w, 1))
		w->buf[w->len++] = c;
}

/* A string literal: quoted, escaped, and made valid UTF-8. */
static void
put_string(struct jsonw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run, k;
	char esc[6] = { '\\', 'u', '0', '0', 0, 0 };

	put_char(w, '"');
	while (i < n && !w->full) {
		/* The common case: a run of bytes written as they are. */
		for (run = i; run < n && p[run] >= 0x20 && p[run] < 0x80 &&
		    p[run] != '"' && p[run] != '\\'; run++)
			;
		put(w, s + i, run - i);
		if ((i = run) == n)
			break;
		switch (p[i]) {
		case '"':  put(w, "\\\"", 2); i++; continue;
		case '\\': put(w, "\\\\", 2); i++; continue;
		case '\n': put(w, "\\n", 2); i++; continue;
		case '\r': put(w, "\\r", 2); i++; continue;
		case '\t': put(w, "\\t", 2); i++; continue;
		default:
			break;
		}
		if (p[i] < 0x20) {
			esc[4] = num_hex[p[i] >> 4];
			esc[5] = num_hex[p[i] & 0xF];
			put(w, esc, sizeof(esc));
			i++;
		} else if ((k = utf8_next(s + i, n - i)) == 0) {
			put(w, "\\ufffd", 6);	/* not UTF-8: one byte replaced */
			i++;
		} else if (k == 3 && p[i] == 0xE2 && p[i + 1] == 0x80 &&
		    (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
			/* U+2028/9 end a line in JavaScript: escaped. */
			put(w, p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
			i += 3;
		} else {
			put(w, s + i, k);
			i += k;
		}
	}
	put_char(w, '"');
}

/* ,"key": */
static void
member(struct jsonw *w, const char *key)
{
	if (w->comma)
		put_char(w, ',');
	put_string(w, key, strlen(key));
	put_char(w, ':');
	w->comma = true;
}

void
jw_init(struct jsonw *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->full = false;
	w->comma = false;
	w->depth = 1;
	put_char(w, '{');
}

void
jw_str(struct jsonw *w, const char *key, const char *val)
{
	jw_strn(w, key, val, strlen(val));
}

void
jw_strn(struct jsonw *w, const char *key, const char *val, size_t n)
{
	member(w, key);
	put_string(w, val, n);
}

void
jw_uint(struct jsonw *w, const char *key, unsigned long long v)
{
	char d[NUM_DEC_MAX];
	size_t n = num_u64(d, v);

	member(w, key);
	put(w, d, n);
}

void
jw_int(struct jsonw *w, const char *key, long long v)
{
	char d[NUM_DEC_MAX];
	size_t n = num_i64(d, v);

	member(w, key);
	put(w, d, n);
}

void
jw_bool(struct jsonw *w, const char *key, bool v)
{
	member(w, key);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void
jw_open(struct jsonw *w, const char *key)
{
	if (w->depth >= LIM_JSONW_DEPTH) {
		w->full = true;
		return;
	}
	member(w, key);
	put_char(w, '{');
	w->depth++;
	w->comma = false;
}

void
jw_close(struct jsonw *w)
{
	if (w->depth <= 1) {	/* the outer object is closed by jw_finish */
		w->full = true;
		return;
	}
	put_char(w, '}');
	w->depth--;
	w->comma = true;
}

const char *
jw_finish(struct jsonw *w, size_t *len)
{
	while (w->depth > 0 && !w->full) {
		put_char(w, '}');
		w->depth--;
	}
	if (w->full) {
		*len = 0;
		return NULL;
	}
	w->buf[w->len] = '\0';	/* room() kept a byte for it */
	*len = w->len;
	return w->buf;
}
