/*
 * pct.h: percent-decoding (RFC 3986), for query strings and for the
 * user and password of a redis:// URL. Pure: no I/O, no allocation.
 */
#ifndef WX_PCT_H
#define WX_PCT_H

#include <stdbool.h>
#include <stddef.h>

/* The value of one hex digit (either case), or -1. */
int	pct_hex(int c);

/*
 * Decode src[0..len) into out[0..outlen), NUL-terminated; '+' becomes a
 * space when plus_is_space (form encoding: query strings). -1 on a bad
 * escape, on a NUL (raw or %00: it cannot travel in a C string) or when
 * it does not fit; out then holds nothing to rely on.
 */
int	pct_decode(const char *src, size_t len, bool plus_is_space, char *out,
	    size_t outlen);

#endif
