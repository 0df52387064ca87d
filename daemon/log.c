/*
 * log.c - lagranged's leveled log (see log.h for the formats and why).
 *
 * The journal is recognised as systemd documents it: $JOURNAL_STREAM
 * holds "DEVICE:INODE" of the stream that the service manager connected,
 * and it is ours only if fd 2 is still that stream (a child that
 * inherited the variable but writes to a file is not talking to
 * journald).
 */
#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum log_format {
    FMT_TTY = 0,                 /* "TIME ident: level: msg" */
    FMT_SYSLOG,                  /* "TIME <N>ident[pid]: msg" */
    FMT_JOURNAL,                 /* "<N>msg": journald adds the rest */
};

static _Atomic int cur_level = LOG_LVL_INFO;
static enum log_format format = FMT_TTY;
static char ident[32] = "lagranged";

static const struct {
    const char *name;
    enum log_level level;
} levels[] = {
    { "error", LOG_LVL_ERR },
    { "warn", LOG_LVL_WARN },
    { "info", LOG_LVL_INFO },
    { "debug", LOG_LVL_DEBUG },
};

/* Is fd 2 the journal stream that $JOURNAL_STREAM names? */
static int on_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
        return 0;
    if (fstat(2, &st) < 0)
        return 0;
    return (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

void log_init(const char *id)
{
    if (id && *id)
        snprintf(ident, sizeof ident, "%s", id);
    if (on_journal())
        format = FMT_JOURNAL;
    else if (!isatty(2))
        format = FMT_SYSLOG;
    else
        format = FMT_TTY;
}

void log_set_level(enum log_level level)
{
    atomic_store(&cur_level, (int)level);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load(&cur_level);
}

int log_level_parse(const char *word, enum log_level *out)
{
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (!strcasecmp(word, levels[i].name)) {
            *out = levels[i].level;
            return 0;
        }
    return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (levels[i].level == level)
            return levels[i].name;
    return "?";
}

int log_enabled(enum log_level level)
{
    return (int)level <= atomic_load(&cur_level);
}

/* "2026-11-22T18:14:07.123Z" (UTC, ms): outside the journal, which
 * stamps entries itself, a line says when it happened. */
static void stamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, len - k, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX], t[40];
    size_t n = 0;
    int k;
    if (!log_enabled(level))
        return;
    switch (format) {
    case FMT_JOURNAL:
        k = snprintf(line, sizeof line, "<%d>", (int)level);
        break;
    case FMT_SYSLOG:
        stamp(t, sizeof t);
        k = snprintf(line, sizeof line, "%s <%d>%s[%ld]: ", t, (int)level,
                     ident, (long)getpid());
        break;
    default:
        stamp(t, sizeof t);
        k = snprintf(line, sizeof line, "%s %s: %s: ", t, ident,
                     log_level_name(level));
        break;
    }
    n = k > 0 ? (size_t)k : 0;
    k = vsnprintf(line + n, sizeof line - n, fmt, ap);
    if (k > 0)
        n += (size_t)k;
    if (n > sizeof line - 2)
        n = sizeof line - 2;     /* truncated: keep room for the newline */
    /* One entry is one line: fold embedded newlines (from a peer's text,
     * a file name) so they cannot forge entries. */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    for (size_t off = 0; off < n;) {
        ssize_t w = write(2, line + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;               /* nowhere left to report it */
        off += (size_t)w;
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

#define LOG_FN(name, lvl)                                                     \
    void name(const char *fmt, ...)                                           \
    {                                                                         \
        va_list ap;                                                           \
        va_start(ap, fmt);                                                    \
        log_vmsg(lvl, fmt, ap);                                               \
        va_end(ap);                                                           \
    }

LOG_FN(log_err, LOG_LVL_ERR)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)
