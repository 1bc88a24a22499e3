/*
 * deadline.c: SIGALRM as a read deadline (see deadline.h for why).
 */
#include <signal.h>
#include <string.h>
#include <sys/time.h>

#include "clock.h"
#include "deadline.h"

static void
on_alarm(int sig)
{
	/* Nothing to do: the point is the EINTR in the interrupted call. */
	(void)sig;
}

int
dl_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;		/* no SA_RESTART: blocked reads must fail */
	return sigaction(SIGALRM, &sa, NULL);
}

void
dl_start(struct deadline *d, long ms)
{
	d->at_ms = ms > 0 ? clock_ms() + ms : 0;
}

long long
dl_left_ms(const struct deadline *d)
{
	if (d->at_ms == 0)
		return 1LL << 40;
	return d->at_ms - clock_ms();
}

bool
dl_passed(const struct deadline *d)
{
	return d->at_ms != 0 && dl_left_ms(d) <= 0;
}

static void
set_timer(long long first_ms, long repeat_ms)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = (time_t)(first_ms / 1000);
	it.it_value.tv_usec = (suseconds_t)(first_ms % 1000 * 1000);
	it.it_interval.tv_sec = repeat_ms / 1000;
	it.it_interval.tv_usec = (suseconds_t)(repeat_ms % 1000 * 1000);
	setitimer(ITIMER_REAL, &it, NULL);
}

void
dl_at_least(struct deadline *d, long ms)
{
	if (d->at_ms == 0 || dl_left_ms(d) < ms)
		dl_start(d, ms);
}

void
dl_arm(const struct deadline *d)
{
	long long left;

	if (d->at_ms == 0)
		return;
	left = dl_left_ms(d);
	set_timer(left < 1 ? 1 : left, DL_REPEAT_MS);	/* 0 would disarm */
}

void
dl_disarm(void)
{
	set_timer(0, 0);
}
