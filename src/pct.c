/*
 * pct.c: percent-decoding.
 */
#include "pct.h"

int
pct_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
pct_decode(const char *src, size_t len, bool plus_is_space, char *out,
    size_t outlen)
{
	size_t i, o = 0;
	int c, hi, lo;

	if (outlen == 0)
		return -1;
	for (i = 0; i < len; i++) {
		c = (unsigned char)src[i];
		if (c == '%') {
			if (i + 2 >= len)
				return -1;
			hi = pct_hex((unsigned char)src[i + 1]);
			lo = pct_hex((unsigned char)src[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+' && plus_is_space)
			c = ' ';
		if (c == 0 || o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}
