/*
 * sentinel.c: the master through Redis Sentinel (hiredis 0.14 API).
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "sentinel.h"

/* Digits only, 1..65535; -1 otherwise. */
static int
port_of(const char *s, size_t n)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? (int)v : -1;
}

/* A host name, IPv4 or IPv6 text: no space, comma, bracket or control. */
static bool
host_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= LIM_HOST)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
		    strchr(",[]/@", s[i]) != NULL)
			return false;
	return true;
}

/* One "host:port" or "[v6]:port" of length n into *hp. */
static const char *
parse_one(const char *s, size_t n, struct hostport *hp)
{
	const char *colon, *host = s;
	size_t hlen;

	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--, host = s;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0)
		return "an empty item (write host:port,host:port)";
	if (*s == '[') {
		const char *close = memchr(s, ']', n);

		if (close == NULL || close + 1 >= s + n || close[1] != ':')
			return "write [IPv6]:port";
		host = s + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		if ((colon = memchr(s, ':', n)) == NULL)
			return "every item needs a port (host:port)";
		hlen = (size_t)(colon - s);
		if (memchr(colon + 1, ':', n - hlen - 1) != NULL)
			return "write an IPv6 address as [addr]:port";
	}
	if (!host_ok(host, hlen))
		return "a host is missing or malformed";
	if ((hp->port = port_of(colon + 1, (size_t)(s + n - colon - 1))) < 0)
		return "a port must be 1..65535";
	memcpy(hp->host, host, hlen);
	hp->host[hlen] = '\0';
	return NULL;
}

int
sentinel_parse_list(const char *val, struct hostport *out, size_t max,
    size_t *n, const char **why)
{
	const char *p = val, *comma;
	size_t len;

	*n = 0;
	*why = NULL;
	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (*n >= max) {
			*why = "too many sentinels";
			return -1;
		}
		if ((*why = parse_one(p, len, &out[*n])) != NULL)
			return -1;
		(*n)++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

int
sentinel_read_addr(const redisReply *r, char *host, size_t hostlen,
    int *port)
{
	const redisReply *h, *p;

	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_NIL)
		return 1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		return -1;
	h = r->element[0];
	p = r->element[1];
	if (h->type != REDIS_REPLY_STRING || p->type != REDIS_REPLY_STRING ||
	    !host_ok(h->str, h->len) || h->len >= hostlen)
		return -1;
	if ((*port = port_of(p->str, p->len)) < 0)
		return -1;
	memcpy(host, h->str, h->len);
	host[h->len] = '\0';
	return 0;
}

bool
sentinel_read_role(const redisReply *r)
{
	const redisReply *e;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
		return false;
	e = r->element[0];
	return (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) &&
	    e->len == 6 && memcmp(e->str, "master", 6) == 0;
}

/*
 * Ask one sentinel for the master's address. 0, or -1 with why set
 * (static text or the sentinel's own words, bounded).
 */
static int
ask(const struct hostport *s, const char *name, char *host, size_t hostlen,
    int *port, char *why, size_t whylen)
{
	struct timeval ct = { 0, SENTINEL_CONNECT_MS * 1000 };
	struct timeval rt = { 0, SENTINEL_COMMAND_MS * 1000 };
	redisContext *ctx;
	redisReply *r = NULL;
	int rc = -1;

	ctx = redisConnectWithTimeout(s->host, s->port, ct);
	if (ctx == NULL || ctx->err) {
		snprintf(why, whylen, "sentinel %s:%d: %s", s->host, s->port,
		    ctx != NULL ? ctx->errstr : "out of memory");
		goto out;
	}
	redisSetTimeout(ctx, rt);
	r = redisCommand(ctx, "SENTINEL get-master-addr-by-name %s", name);
	if (r == NULL) {
		snprintf(why, whylen, "sentinel %s:%d: %s", s->host, s->port,
		    ctx->errstr);
		goto out;
	}
	switch (sentinel_read_addr(r, host, hostlen, port)) {
	case 0:
		rc = 0;
		break;
	case 1:
		snprintf(why, whylen, "sentinel %s:%d does not know master %s",
		    s->host, s->port, name);
		break;
	default:
		snprintf(why, whylen, "sentinel %s:%d: %.100s", s->host,
		    s->port, r->type == REDIS_REPLY_ERROR ? r->str :
		    "an answer of an unexpected shape");
	}
out:
	if (r != NULL)
		freeReplyObject(r);
	if (ctx != NULL)
		redisFree(ctx);
	return rc;
}

/* ROLE on a fresh connection: true when it is the master. */
static bool
is_master(redisContext *ctx)
{
	redisReply *r = redisCommand(ctx, "ROLE");
	bool yes = sentinel_read_role(r);

	if (r != NULL)
		freeReplyObject(r);
	return yes;
}

redisContext *
sentinel_connect(const struct config *c, size_t *next, sentinel_open_fn open,
    void *arg, struct sentinel_found *f, char *why, size_t whylen)
{
	char tried[LIM_HOST] = "";	/* an address that failed in this call */
	int tried_port = 0;
	redisContext *ctx;
	size_t i, k;

	snprintf(why, whylen, "no sentinel configured");
	for (i = 0; i < c->n_sentinels; i++) {
		k = (*next + i) % c->n_sentinels;
		if (ask(&c->sentinels[k], c->master_name, f->host,
		    sizeof(f->host), &f->port, why, whylen) != 0)
			continue;
		/*
		 * Before a fail-over every sentinel names the same dead (or
		 * frozen) master: one attempt at it per call, not one per
		 * sentinel, keeps a request's cost to one time limit.
		 */
		if (f->port == tried_port && strcmp(f->host, tried) == 0)
			continue;
		if ((ctx = open(arg, f->host, f->port, why, whylen)) == NULL ||
		    !is_master(ctx)) {
			if (ctx != NULL) {
				snprintf(why, whylen, "sentinel %s:%d named %s:%d, "
				    "which is not a master (ROLE)",
				    c->sentinels[k].host, c->sentinels[k].port,
				    f->host, f->port);
				redisFree(ctx);
			}
			memcpy(tried, f->host, sizeof(tried));
			tried_port = f->port;
			continue;
		}
		f->via = k;
		*next = k;
		return ctx;
	}
	return NULL;
}
