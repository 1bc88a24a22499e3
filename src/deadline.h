/*
 * deadline.h: a time limit on the request read (http.readTimeoutMs).
 *
 * libfcgi reads its socket with plain blocking read() and has no timeout;
 * and when it closes a connection it keeps reading until the peer has
 * been quiet for 2 s. Behind mod_proxy_fcgi the body arrives as the
 * client sends it, so a client trickling a byte a second holds the
 * process in either place for as long as it likes. While armed, an
 * interval timer raises SIGALRM (handled without SA_RESTART) at the
 * deadline and every DL_REPEAT_MS after it, so whatever read() or poll()
 * is blocked then, or is entered just after a signal, fails with EINTR.
 * Only the read phases arm it: WeChat and Redis calls never run under it.
 */
#ifndef WX_DEADLINE_H
#define WX_DEADLINE_H

#include <stdbool.h>

#define DL_REPEAT_MS	20	/* re-interrupt period once the deadline passed */

struct deadline {
	long long	 at_ms;		/* clock_ms() of the deadline; 0: none */
};

/* Install the SIGALRM handler (once per process, before any dl_arm). */
int	dl_init(void);

/* The deadline is ms from now; ms <= 0 means none. */
void	dl_start(struct deadline *, long ms);

/* Milliseconds left (<= 0 once passed); a large number when none. */
long long dl_left_ms(const struct deadline *);
bool	dl_passed(const struct deadline *);

/* Push the deadline to ms from now if it is sooner (or passed). */
void	dl_at_least(struct deadline *, long ms);

/*
 * Interrupt blocking calls from the deadline on (at once if it passed),
 * until dl_disarm. No deadline: nothing is armed.
 */
void	dl_arm(const struct deadline *);
void	dl_disarm(void);

#endif
