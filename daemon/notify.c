/*
 * notify.c - sd_notify without libsystemd (see notify.h).
 */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lgerr.h"

int notify_open(notify *n, char *err, size_t errlen)
{
    const char *s = getenv("NOTIFY_SOCKET");
    const char *wu = getenv("WATCHDOG_USEC"), *wp = getenv("WATCHDOG_PID");
    size_t len;
    memset(n, 0, sizeof *n);
    n->fd = -1;
    if (wu && *wu) {
        char *e;
        unsigned long long v = strtoull(wu, &e, 10);
        unsigned long pid = wp && *wp ? strtoul(wp, NULL, 10) : 0;
        if (!*e && v > 0 && (!wp || !*wp || pid == (unsigned long)getpid()))
            n->watchdog_usec = v;
    }
    if (!s || !*s) {
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
        return 0;
    }
    len = strlen(s);
    if ((s[0] != '/' && s[0] != '@') || len >= sizeof n->path)
        return lg_errf(err, errlen, -EINVAL,
                       "NOTIFY_SOCKET '%.120s' is neither an absolute path "
                       "nor an abstract name (@...) of at most %zu bytes",
                       s, sizeof n->path - 1);
    memcpy(n->path, s, len);
    if (s[0] == '@')
        n->path[0] = '\0';       /* the abstract namespace */
    n->path_len = len;
    if ((n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return lg_errf(err, errlen, -errno, "NOTIFY_SOCKET: socket: %s",
                       strerror(errno));
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return 0;
}

int notify_send(notify *n, const char *msg)
{
    struct sockaddr_un sa;
    size_t len = strlen(msg);
    if (n->fd < 0)
        return 0;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, n->path, n->path_len);
    if (sendto(n->fd, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                           n->path_len)) < 0)
        return -errno;
    return 0;
}

int notify_sendf(notify *n, const char *fmt, ...)
{
    char buf[NOTIFY_MAX];
    va_list ap;
    if (n->fd < 0)
        return 0;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return notify_send(n, buf);
}

int notify_active(const notify *n)
{
    return n->fd >= 0;
}

uint64_t notify_watchdog_usec(const notify *n)
{
    return n->fd >= 0 ? n->watchdog_usec : 0;
}

void notify_close(notify *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
}
