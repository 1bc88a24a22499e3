/*
 * secure.h: comparing secrets without leaking them through time, and
 * randomness. Its own module so that auth.c (api keys) and session.c
 * (session hashes) share the compare without including each other, and
 * every module that needs an id or random bytes takes them from here.
 */
#ifndef WX_SECURE_H
#define WX_SECURE_H

#include <stdbool.h>
#include <stddef.h>

/* Equal strings, in time that depends only on their lengths. */
bool	sec_equal(const char *a, const char *b);

/* Fill buf with n random bytes from the system CSPRNG; 0 or -1. */
int	sec_random(void *buf, size_t n);

/*
 * A fresh id: 16 hex digits (cut to outlen - 1), unique but not secret
 * (request ids, lock values): a splitmix64 sequence seeded once from the
 * CSPRNG, which saves a system call per request.
 */
void	sec_new_id(char *out, size_t outlen);

#endif
