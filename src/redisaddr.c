/*
 * redisaddr.c: redis.url and spring.redis.* (see redisaddr.h).
 */
#include <string.h>

#include "join.h"
#include "pct.h"
#include "redisaddr.h"
#include "validate.h"

bool
raddr_host_ok(const char *s)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') ||
		    (s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= '0' && s[n] <= '9') || strchr("._-", s[n]) != NULL))
			return false;
	return n > 0 && n < LIM_HOST;
}

bool
raddr_ipv6_ok(const char *s)
{
	size_t	 n;
	bool	 colon = false;

	for (n = 0; s[n] != '\0'; n++) {
		if (s[n] == ':')
			colon = true;
		else if (pct_hex((unsigned char)s[n]) < 0 && s[n] != '.')
			return false;
	}
	return colon && n < LIM_HOST;
}

/* A port 1..65535 or a db 0..RADDR_MAX_DB from strict decimal text. */
static int
port_of(const char *s, int *out)
{
	long long	 v;

	if (val_decimal(s, 1, 65535, &v) == -1)
		return -1;
	*out = (int)v;
	return 0;
}

static int
db_of(const char *s, int *out)
{
	long long	 v;

	if (val_decimal(s, 0, RADDR_MAX_DB, &v) == -1)
		return -1;
	*out = (int)v;
	return 0;
}

/*
 * The part of a redis:// URL after the scheme:
 * [[user]:password@]host[:port][/db].
 */
static const char *
parse_tcp(char *s, struct raddr *a)
{
	char	*at, *slash, *colon, *host = s, *port = NULL;

	/*
	 * The last '@' ends the user info: neither the host nor the db can
	 * hold one, so a password with an unescaped '@', '/', '?' or '#'
	 * still parses.
	 */
	if ((at = strrchr(s, '@')) != NULL) {
		*at = '\0';
		host = at + 1;
		if ((colon = strchr(s, ':')) == NULL)
			return "write user:password@ or :password@ before "
			    "the host";
		*colon++ = '\0';
		if (pct_decode(s, strlen(s), false, a->user,
		    sizeof(a->user)) == -1)
			return "the user is malformed or too long";
		if (*colon == '\0')
			return "the password is empty";
		if (pct_decode(colon, strlen(colon), false, a->password,
		    sizeof(a->password)) == -1)
			return "the password is malformed or too long";
	}
	if (strpbrk(host, "?#") != NULL)
		return "query parameters are not supported";
	if ((slash = strchr(host, '/')) != NULL) {
		*slash++ = '\0';
		if (*slash != '\0' && db_of(slash, &a->db) == -1)
			return "the database must be 0..15";
	}
	if (*host == '[') {
		char	*close = strchr(host, ']');

		if (close == NULL)
			return "an IPv6 address needs a closing ']'";
		*close++ = '\0';
		host++;
		if (!raddr_ipv6_ok(host))
			return "the IPv6 address is malformed";
		if (*close == ':')
			port = close + 1;
		else if (*close != '\0')
			return "junk after the IPv6 address";
	} else {
		if ((colon = strchr(host, ':')) != NULL) {
			*colon = '\0';
			port = colon + 1;
		}
		if (!raddr_host_ok(host))
			return "the host is missing or malformed";
	}
	if (port != NULL && port_of(port, &a->port) == -1)
		return "the port must be 1..65535";
	if (join_copy(a->host, sizeof(a->host), host) == -1)
		return "the host is too long";
	return NULL;
}

/* The part of a unix:// URL after the scheme: /path[?db=N]. */
static const char *
parse_unix(char *s, struct raddr *a)
{
	char	*q;

	if ((q = strchr(s, '?')) != NULL) {
		*q++ = '\0';
		if (strncmp(q, "db=", 3) != 0)
			return "the only parameter is ?db=N";
		if (db_of(q + 3, &a->db) == -1)
			return "the database must be 0..15";
	}
	if (s[0] != '/' || s[1] == '\0')
		return "write unix:///absolute/path/to/socket";
	if (!val_nospace(s))
		return "the socket path has a space or control character";
	if (join_copy(a->unix_path, sizeof(a->unix_path), s) == -1)
		return "the socket path is too long";
	return NULL;
}

const char *
raddr_parse_url(char *url, struct raddr *a)
{
	memset(a, 0, sizeof(*a));
	a->port = RADDR_DEFAULT_PORT;
	if (strncmp(url, "redis://", 8) == 0)
		return parse_tcp(url + 8, a);
	if (strncmp(url, "unix://", 7) == 0)
		return parse_unix(url + 7, a);
	if (strncmp(url, "rediss://", 9) == 0)
		return "TLS (rediss://) is not supported";
	return "write redis://[[user]:password@]host[:port][/db] or "
	    "unix:///path/to/sock[?db=N]";
}

_Static_assert(LIM_ID == 128 && LIM_SECRET == 128,
    "raddr_spring_set's messages say 127 bytes");

const char *
raddr_spring_set(struct raddr_spring *s, const char *sub, const char *val)
{
	if (strcmp(sub, "host") == 0) {
		if ((!raddr_host_ok(val) && !raddr_ipv6_ok(val)) ||
		    join_copy(s->a.host, sizeof(s->a.host), val) == -1)
			return "not a host name or address";
		s->has_host = true;
	} else if (strcmp(sub, "port") == 0) {
		if (port_of(val, &s->a.port) == -1)
			return "not a port (1..65535)";
		s->has_port = true;
	} else if (strcmp(sub, "database") == 0) {
		if (db_of(val, &s->a.db) == -1)
			return "not a database (0..15)";
		s->has_db = true;
	} else if (strcmp(sub, "password") == 0) {
		if (join_copy(s->a.password, sizeof(s->a.password), val) == -1)
			return "longer than 127 bytes";
		s->has_password = true;
	} else if (strcmp(sub, "username") == 0) {
		if (join_copy(s->a.user, sizeof(s->a.user), val) == -1)
			return "longer than 127 bytes";
		s->has_user = true;
	}
	return NULL;
}
