/*
 * log.c: one line per event, escaped, to a swappable sink (stderr).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "num.h"
#include "wxlimits.h"
#include "log.h"

static enum log_level	 min_level = LOG_INFO;
static char		 reqid[LIM_REQID];
static void		(*sink)(const char *, void *);
static void		*sink_arg;

const char *const log_level_names[] = { "debug", "info", "warn", "error",
	NULL };

void
log_set_level(enum log_level l)
{
	min_level = l;
}

void
log_set_reqid(const char *id)
{
	if (id == NULL)
		reqid[0] = '\0';
	else {
		size_t n = strnlen(id, sizeof(reqid) - 1);

		memcpy(reqid, id, n);
		reqid[n] = '\0';
	}
}

void
log_set_sink(void (*fn)(const char *, void *), void *arg)
{
	sink = fn;
	sink_arg = arg;
}

/*
 * Copy src into dst escaping what could forge or break a log line:
 * control bytes and backslash become \xNN. Sizing and writing happen in
 * the same pass, so the output can never overrun dst.
 */
static void
escape(char *dst, size_t dstlen, const char *src)
{
	size_t o = 0;

	for (; *src != '\0'; src++) {
		unsigned char ch = (unsigned char)*src;
		if (ch < 0x20 || ch == 0x7f || ch == '\\') {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = num_hex[ch >> 4];
			dst[o++] = num_hex[ch & 15];
		} else {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)ch;
		}
	}
	dst[o] = '\0';
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char raw[1024], esc[2048], line[2200], ts[32];
	struct tm tm;
	time_t now;
	va_list ap;

	if (level < min_level)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	escape(esc, sizeof(esc), raw);

	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(line, sizeof(line), "%s wxsub[%s]%s%s %s", ts,
	    log_level_names[level], reqid[0] ? " req=" : "", reqid, esc);
	if (sink != NULL)
		sink(line, sink_arg);
	else
		fprintf(stderr, "%s\n", line);
}
