/*
 * num.c: integers as decimal text (num.h).
 */
#include <string.h>

#include "num.h"

const char num_hex[17] = "0123456789abcdef";

size_t
num_u64(char *out, unsigned long long v)
{
	char tmp[NUM_DEC_MAX], *p = tmp + sizeof(tmp);
	size_t n;

	/* Backwards into tmp, then forwards into out: one pass each. */
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	n = (size_t)(tmp + sizeof(tmp) - p);
	memcpy(out, p, n);
	out[n] = '\0';
	return n;
}

size_t
num_i64(char *out, long long v)
{
	/* The magnitude as unsigned: -LLONG_MIN does not fit a long long. */
	if (v >= 0)
		return num_u64(out, (unsigned long long)v);
	out[0] = '-';
	return 1 + num_u64(out + 1, 0ULL - (unsigned long long)v);
}
