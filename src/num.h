/*
 * num.h: integers as decimal text without stdio. What runs on every
 * request (answer headers, JSON numbers, Redis commands, metric names)
 * writes its numbers here: snprintf costs more than the rest of such a
 * line. Pure.
 */
#ifndef WX_NUM_H
#define WX_NUM_H

#include <stddef.h>

/* Room for any long long in decimal, sign and NUL included. */
#define NUM_DEC_MAX	21

/* Lower-case hex digits: the one table (ids, escapes, digests). */
extern const char num_hex[17];

/* v in decimal at out (NUM_DEC_MAX bytes; NUL-terminated); its length. */
size_t	num_u64(char *out, unsigned long long v);
size_t	num_i64(char *out, long long v);

#endif
