/*
 * log.h - lagranged's leveled log, written to standard error.
 *
 * Owns the log level and the output format. Under systemd, standard error
 * is a stream to the journal: each line then starts with a syslog
 * priority prefix ("<6>"), which journald strips and stores as the
 * entry's priority, and nothing else, since journald adds the identifier,
 * pid and time itself. When standard error is a pipe or a file that is
 * not the journal, lines read
 * "2026-11-22T18:14:07.123Z <6>lagranged[PID]: message" (UTC, ms) so that
 * a reader (or a grep) sees time, level and origin. On a terminal they
 * read "2026-11-22T18:14:07.123Z lagranged: info: message".
 *
 * Only the daemon's boundary code logs (main, the event callbacks); lib/
 * fills error buffers instead. Each line goes out in one write(2), so
 * lines from concurrent writers do not interleave.
 *
 * Threading: log_set_level/log_init on the loop thread before others
 * log; the log_* calls are safe from any thread.
 */
#ifndef LG_DAEMON_LOG_H
#define LG_DAEMON_LOG_H

#include <stdarg.h>

/* Syslog priorities, so the journal prefix is the level itself. */
enum log_level {
    LOG_LVL_ERR = 3,
    LOG_LVL_WARN = 4,
    LOG_LVL_INFO = 6,
    LOG_LVL_DEBUG = 7,
};

#define LOG_LINE_MAX 4096        /* longer messages are truncated */

/* Choose the format for fd 2 (see above) and remember ident ("lagranged")
 * for the non-journal prefixes. Call again after stderr changes. */
void log_init(const char *ident);
/* Messages above level are dropped. The default is LOG_LVL_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "error", "warn", "info", "debug" <-> the level. log_level_parse returns
 * 0, or -EINVAL for another word (case-insensitive). */
int log_level_parse(const char *word, enum log_level *out);
const char *log_level_name(enum log_level level);
/* 1 if messages of this level are written (to skip costly formatting). */
int log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
