/*
 * join.h: strings end to end into a bounded buffer, without stdio: Redis
 * keys and the answer's header block are built on every request. Pure.
 */
#ifndef WX_JOIN_H
#define WX_JOIN_H

#include <stddef.h>

/*
 * parts[0..n) end to end into out[0..outlen), NUL-terminated. -1 (out ""
 * when outlen > 0) when they do not fit: a result is never cut.
 */
int	join(char *out, size_t outlen, const char *const *parts, size_t n);
/* join of one string: s into out[0..outlen), or -1 (out "") if it does not fit. */
int	join_copy(char *out, size_t outlen, const char *s);

#endif
