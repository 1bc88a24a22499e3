/*
 * netmask.h: addresses and networks ("10.0.0.0/8", "::1") for the
 * /metrics allow-list. Pure.
 */
#ifndef WX_NETMASK_H
#define WX_NETMASK_H

#include <stdbool.h>

struct net {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];
	int		 bits;		/* prefix length */
};

/* Parse "ADDR" or "ADDR/BITS"; 0, or -1 if malformed. n may be NULL. */
int	net_parse(const char *s, struct net *n);
/* Is the textual address addr inside n? IPv4-mapped IPv6 counts as IPv4. */
bool	net_contains(const struct net *n, const char *addr);

#endif
