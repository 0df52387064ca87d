/*
 * notify.h - the systemd notify protocol, without libsystemd: one
 * datagram per message to the AF_UNIX socket named by $NOTIFY_SOCKET
 * (a path, or "@name" for the abstract namespace), as sd_notify(3) and
 * systemd.service(5) Type=notify describe it.
 *
 * Owns the socket and the watchdog interval systemd asked for
 * ($WATCHDOG_USEC, for this process only when $WATCHDOG_PID says so).
 * Outside systemd (no $NOTIFY_SOCKET) every call is a no-op returning 0,
 * so callers need not care. notify_open unsets the variables, as
 * sd_notify's unset_environment does, so that child processes do not
 * speak for the daemon.
 *
 * Messages lagranged sends: READY=1 (serving), STATUS=... (links up, jobs
 * running), RELOADING=1 + MONOTONIC_USEC=... then READY=1 around a
 * SIGHUP reload, STOPPING=1 on SIGTERM, WATCHDOG=1 from a loop timer.
 *
 * Threading: not thread-safe; the loop thread only.
 */
#ifndef LG_DAEMON_NOTIFY_H
#define LG_DAEMON_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#define NOTIFY_MAX 512             /* one message, bytes */

typedef struct notify {
    int fd;                        /* -1: not under systemd */
    char path[108];                /* sockaddr_un.sun_path */
    size_t path_len;               /* bytes of path used (abstract: with
                                      the leading NUL) */
    uint64_t watchdog_usec;        /* 0: no watchdog asked for */
} notify;

/* Read and unset $NOTIFY_SOCKET, $WATCHDOG_USEC, $WATCHDOG_PID. Returns 0
 * (also when there is no socket), or -errno with the reason in err for a
 * socket name that cannot be used. */
int notify_open(notify *n, char *err, size_t errlen);

/* Send one message ("READY=1", "STATUS=2 links up"). 0, or -errno. */
int notify_send(notify *n, const char *msg);
int notify_sendf(notify *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Whether systemd listens, and the watchdog interval it wants pings at
 * least this often (we ping at half of it); 0 if none. */
int notify_active(const notify *n);
uint64_t notify_watchdog_usec(const notify *n);

void notify_close(notify *n);

#endif
