/*
 * join.c: strings end to end into a bounded buffer (join.h).
 */
#include <string.h>

#include "join.h"

int
join(char *out, size_t outlen, const char *const *parts, size_t n)
{
	size_t o = 0, len, i;

	if (outlen == 0)
		return -1;
	for (i = 0; i < n; i++) {
		len = strlen(parts[i]);
		if (len >= outlen - o) {
			out[0] = '\0';
			return -1;
		}
		memcpy(out + o, parts[i], len);
		o += len;
	}
	out[o] = '\0';
	return 0;
}

int
join_copy(char *out, size_t outlen, const char *s)
{
	return join(out, outlen, &s, 1);
}
