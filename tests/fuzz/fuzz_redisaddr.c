/*
 * fuzz_redisaddr.c: libFuzzer target for redisaddr.c (redis.url and
 * spring.redis.*).
 *
 * The first byte picks what the rest is: a redis.url value (even), or
 * the value of one spring.redis.<sub> (odd; the sub by the byte's value).
 * Besides crashes and sanitizer reports it checks what redisaddr.h
 * promises:
 *   - a URL that parses gives exactly one of a host (a name, IPv4 or
 *     IPv6 text) and an absolute socket path, a port 1..65535, a db
 *     0..15, every field NUL-terminated inside its array;
 *   - a refusal is a text that never quotes the input (which may be a
 *     password);
 *   - the same input gives the same bytes twice.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redisaddr.h"

#define FUZZ_MAX	4096
#define TERMINATED(f)	(memchr((f), '\0', sizeof(f)) != NULL)

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_redisaddr: invariant broken: %s\n", what);
		abort();
	}
}

static void
check_addr(const struct raddr *a)
{
	check(TERMINATED(a->host) && TERMINATED(a->unix_path) &&
	    TERMINATED(a->user) && TERMINATED(a->password),
	    "fields terminated");
	check((a->host[0] != '\0') != (a->unix_path[0] != '\0'),
	    "a host or a socket path, not both");
	check(a->host[0] == '\0' || raddr_host_ok(a->host) ||
	    raddr_ipv6_ok(a->host), "the host is a host");
	check(a->unix_path[0] == '\0' || a->unix_path[0] == '/',
	    "the socket path is absolute");
	check(a->port >= 1 && a->port <= 65535, "port range");
	check(a->db >= 0 && a->db <= RADDR_MAX_DB, "db range");
}

/* The refusal must not hold the input: 4 bytes or more of it, anywhere. */
static void
check_why(const char *why, const char *in)
{
	size_t	 n = strlen(in), i;
	char	 piece[5];

	check(why != NULL && why[0] != '\0', "a reason");
	if (n < 4)
		return;
	for (i = 0; i + 4 <= n; i++) {
		memcpy(piece, in + i, 4);
		piece[4] = '\0';
		/* Plain words of the texts ("host", "port") may be input. */
		if (strchr(piece, ' ') != NULL)
			continue;
		if (strpbrk(piece, "!$%^&*+{}|~<>;\"\\`") != NULL &&
		    strstr(why, piece) != NULL) {
			fprintf(stderr, "fuzz_redisaddr: '%s' quotes the "
			    "input\n", why);
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const subs[] = { "host", "port", "database",
		"username", "password", "timeout" };
	static struct raddr a1, a2;
	static struct raddr_spring s1, s2;
	char		*in, *in2;
	const char	*why, *why2, *sub;

	if (size < 1 || size > FUZZ_MAX)
		return 0;
	/* A C string: the value ends at its first NUL, as in a config line. */
	if ((in = calloc(1, size)) == NULL || (in2 = calloc(1, size)) == NULL) {
		free(in);
		return 0;
	}
	memcpy(in, data + 1, size - 1);
	memcpy(in2, data + 1, size - 1);
	if (data[0] % 2 == 0) {
		why = raddr_parse_url(in, &a1);
		why2 = raddr_parse_url(in2, &a2);
		check((why == NULL) == (why2 == NULL), "same answer twice");
		memcpy(in2, data + 1, size - 1);
		if (why == NULL) {
			check_addr(&a1);
			check(memcmp(&a1, &a2, sizeof(a1)) == 0,
			    "same result twice");
		} else
			check_why(why, in2);
	} else if (in[0] != '\0') {
		sub = subs[(data[0] / 2) % (sizeof(subs) / sizeof(subs[0]))];
		memset(&s1, 0, sizeof(s1));
		memset(&s2, 0, sizeof(s2));
		why = raddr_spring_set(&s1, sub, in);
		why2 = raddr_spring_set(&s2, sub, in);
		check((why == NULL) == (why2 == NULL) &&
		    memcmp(&s1, &s2, sizeof(s1)) == 0, "same result twice");
		if (why != NULL)
			check_why(why, in);
		else if (strcmp(sub, "host") == 0)
			check(s1.has_host && strcmp(s1.a.host, in) == 0 &&
			    (raddr_host_ok(in) || raddr_ipv6_ok(in)),
			    "the host kept as given");
		else if (strcmp(sub, "port") == 0)
			check(s1.has_port && s1.a.port >= 1 &&
			    s1.a.port <= 65535, "port range");
		else if (strcmp(sub, "database") == 0)
			check(s1.has_db && s1.a.db >= 0 &&
			    s1.a.db <= RADDR_MAX_DB, "db range");
		else if (strcmp(sub, "password") == 0)
			check(s1.has_password && TERMINATED(s1.a.password) &&
			    strcmp(s1.a.password, in) == 0, "password kept");
	}
	free(in);
	free(in2);
	return 0;
}
