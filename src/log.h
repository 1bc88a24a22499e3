/*
 * log.h: one leveled logger. One line per event on stderr (the web
 * server's error log), prefixed with the request id when there is one.
 * Untrusted bytes are escaped on the way out. Never pass it a secret,
 * an access token, a session_key or a whole session token.
 */
#ifndef WX_LOG_H
#define WX_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* "debug" .. "error" by enum log_level, NULL-ended (config's log.level). */
extern const char *const log_level_names[];

void	log_set_level(enum log_level);
void	log_set_reqid(const char *);	/* NULL between requests */
/* The sink is swappable so tests can capture lines. */
void	log_set_sink(void (*)(const char *line, void *), void *);

void	log_msg(enum log_level, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)

#endif
