/*
 * netmask.c: address-in-network checks with inet_pton.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netmask.h"

int
net_parse(const char *s, struct net *out)
{
	struct net n;
	char buf[64], *slash, *end;
	long bits;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -1;
	memset(&n, 0, sizeof(n));
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, n.addr) == 1) {
		n.family = AF_INET;
		n.bits = 32;
	} else if (inet_pton(AF_INET6, buf, n.addr) == 1) {
		n.family = AF_INET6;
		n.bits = 128;
	} else
		return -1;
	if (slash != NULL) {
		errno = 0;
		bits = strtol(slash + 1, &end, 10);
		if (errno != 0 || end == slash + 1 || *end != '\0' || bits < 0 ||
		    bits > n.bits)
			return -1;
		n.bits = (int)bits;
	}
	if (out != NULL)
		*out = n;
	return 0;
}

static bool
prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)whole) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

bool
net_contains(const struct net *n, const char *addr)
{
	static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
	unsigned char a[16];

	if (addr == NULL)
		return false;
	if (inet_pton(AF_INET, addr, a) == 1) {
		if (n->family == AF_INET)
			return prefix_equal(a, n->addr, n->bits);
		return false;
	}
	if (inet_pton(AF_INET6, addr, a) != 1)
		return false;
	if (n->family == AF_INET6)
		return prefix_equal(a, n->addr, n->bits);
	/* ::ffff:10.1.2.3 is 10.1.2.3 */
	return memcmp(a, mapped, 12) == 0 && prefix_equal(a + 12, n->addr, n->bits);
}
