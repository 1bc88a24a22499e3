/*
 * clock.h: the monotonic clock and short sleeps. Timeouts, lock lives
 * and latency figures are measured here, never on the wall clock, which
 * an administrator or NTP may step.
 */
#ifndef WX_CLOCK_H
#define WX_CLOCK_H

/* Monotonic time in seconds (fractional) and in whole milliseconds. */
double		clock_s(void);
long long	clock_ms(void);

/*
 * The wall clock in milliseconds: only for times other hosts read (the
 * outbox's due times and timestamps), never for timeouts.
 */
long long	clock_wall_ms(void);

/* Sleep about ms milliseconds (a signal may cut it short). */
void		clock_sleep_ms(long ms);

#endif
