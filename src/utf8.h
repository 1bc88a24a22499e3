/*
 * utf8.h: strict UTF-8 (RFC 3629), the one implementation that jsonio
 * (request bodies), jsonw (every string wxsub writes) and validate
 * (subscribe-message values) share. Pure: no I/O, no allocation, every
 * loop bounded by the caller's length.
 *
 * Strict means: no NUL (values end up in C strings), no stray
 * continuation byte, no overlong form, no surrogate, nothing past
 * U+10FFFF, no sequence cut short by the length.
 */
#ifndef WX_UTF8_H
#define WX_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTF8_BAD	((size_t)-1)

/* The code point at s[0..len), len >= 1, into *cp; its bytes (1..4), or 0. */
size_t	utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
/* s[0..len) into cp[0..max); the count, or UTF8_BAD (not UTF-8, or > max). */
size_t	utf8_decode_all(const char *s, size_t len, uint32_t *cp, size_t max);
/*
 * The bytes (1..4) of the well-formed character at s[0..len), len >= 1;
 * 0 when they are not one (NUL counts as not one).
 */
size_t	utf8_next(const char *s, size_t len);
/* Number of code points in s[0..len); UTF8_BAD if it is not UTF-8. */
size_t	utf8_chars(const char *s, size_t len);
/* Well-formed UTF-8? */
bool	utf8_valid(const char *s, size_t len);
/*
 * How many bytes of well-formed s[0..len) fit in max without cutting a
 * character: for "%.*s" in messages that go into JSON.
 */
size_t	utf8_cut(const char *s, size_t len, size_t max);
/* A continuation byte, 10xxxxxx. */
bool	utf8_is_cont(char b);
/*
 * The length of s[0..at) once the character cut off at its end is
 * dropped: for when s[at] would have been a continuation byte.
 */
size_t	utf8_drop_partial(const char *s, size_t at);

#endif
