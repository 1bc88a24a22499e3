/*
 * utf8.c: strict UTF-8, decoded and measured without allocation (utf8.h).
 */
#include <stdint.h>
#include <string.h>

#include "utf8.h"

/*
 * Decode the code point at s[0..len), len >= 1. Returns the bytes it
 * takes (1..4) and stores it in *cp, or returns 0 when the bytes are not
 * strict UTF-8 (RFC 3629): NUL, a stray continuation byte, an overlong
 * form, a surrogate, a value past U+10FFFF, or a sequence cut short by
 * len. NUL is refused because values end up in C strings.
 */
size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char	 b = s[0];
	unsigned char	 lo = 0x80, hi = 0xBF;	/* bounds of the 2nd byte */
	uint32_t	 c;
	size_t		 need, i;

	if (b == 0x00)
		return 0;
	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if (b >= 0xC2 && b <= 0xDF) {
		need = 2;
		c = b & 0x1F;
	} else if (b >= 0xE0 && b <= 0xEF) {
		need = 3;
		c = b & 0x0F;
		if (b == 0xE0)
			lo = 0xA0;	/* below would be overlong */
		else if (b == 0xED)
			hi = 0x9F;	/* above are the surrogates */
	} else if (b >= 0xF0 && b <= 0xF4) {
		need = 4;
		c = b & 0x07;
		if (b == 0xF0)
			lo = 0x90;	/* below would be overlong */
		else if (b == 0xF4)
			hi = 0x8F;	/* above is past U+10FFFF */
	} else
		return 0;	/* 80..BF stray, C0 C1 overlong, F5..FF */

	if (len < need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	*cp = c;
	return need;
}

/*
 * Decode well-formed s[0..len) into cp[0..max). Returns the number of
 * code points, or UTF8_BAD when the bytes are not UTF-8 or hold more than max.
 */
size_t
utf8_decode_all(const char *s, size_t len, uint32_t *cp, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n = 0, k;

	while (i < len) {
		if (n == max)
			return UTF8_BAD;
		k = utf8_decode(p + i, len - i, &cp[n]);
		if (k == 0)
			return UTF8_BAD;
		i += k;
		n++;
	}
	return n;
}

size_t
utf8_next(const char *s, size_t len)
{
	uint32_t cp;

	return len == 0 ? 0 : utf8_decode((const unsigned char *)s, len, &cp);
}

size_t
utf8_chars(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n = 0, k;
	uint32_t		 cp;

	if (s == NULL)
		return len == 0 ? 0 : UTF8_BAD;
	while (i < len) {
		/*
		 * Most text is ASCII: eight bytes at a time while none has its
		 * high bit set or is NUL (a NUL byte turns to 0xFF below: the
		 * lowest one cannot borrow from a lower byte, those are >= 1).
		 */
		if (len - i >= 8) {
			uint64_t w;

			memcpy(&w, p + i, 8);
			if (((w | (w - 0x0101010101010101ULL)) &
			    0x8080808080808080ULL) == 0) {
				i += 8;
				n += 8;
				continue;
			}
		}
		if (p[i] - 1u < 0x7Fu) {
			i++;
			n++;
			continue;
		}
		k = utf8_decode(p + i, len - i, &cp);
		if (k == 0)
			return UTF8_BAD;
		i += k;
		n++;
	}
	return n;
}

bool
utf8_valid(const char *s, size_t len)
{
	return utf8_chars(s, len) != UTF8_BAD;
}

/* A UTF-8 continuation byte, 10xxxxxx. */
bool
utf8_is_cont(char b)
{
	return ((unsigned char)b & 0xC0) == 0x80;
}

size_t
utf8_drop_partial(const char *s, size_t at)
{
	while (at > 0 && utf8_is_cont(s[at - 1]))
		at--;
	return at > 0 ? at - 1 : 0;
}

size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n = len < max ? len : max;

	/* Back off continuation bytes, then the lead byte they belong to. */
	if (n < len && utf8_is_cont(s[n])) {
		while (n > 0 && utf8_is_cont(s[n]))
			n--;
	}
	return n;
}
