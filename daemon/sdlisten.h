/*
 * sdlisten.h - systemd's socket activation, without libsystemd: the
 * sockets a .socket unit (or systemd-socket-activate) opened for us and
 * passed as fds 3, 4, ... with $LISTEN_PID (for which process),
 * $LISTEN_FDS (how many) and $LISTEN_FDNAMES (their FileDescriptorName=,
 * ':'-separated), as sd_listen_fds(3) describes.
 *
 * lagranged takes one: the API socket, the fd named "api" (or the only
 * one passed, whatever its name). It must be a listening AF_UNIX
 * SOCK_STREAM socket; it is then used instead of binding ApiSocket, and
 * is not unlinked at stop (systemd made it, systemd keeps it).
 *
 * Two layers: sdlisten_parse reads the three values and says which fd
 * to take (pure, unit-tested); sdlisten_take reads and unsets the
 * variables (as sd_listen_fds(unset_environment=1) does, so that child
 * processes do not take them for theirs), checks the fd is such a
 * socket, sets FD_CLOEXEC and O_NONBLOCK on it, and closes the other
 * fds passed (counted in n_closed, for the caller to warn about: nothing
 * here uses them).
 *
 * Threading: once, in main, before the loop.
 */
#ifndef LG_DAEMON_SDLISTEN_H
#define LG_DAEMON_SDLISTEN_H

#include <stddef.h>

#define SDLISTEN_FDS_START 3       /* SD_LISTEN_FDS_START */
#define SDLISTEN_MAX_FDS 64        /* more passed is a mistake */
#define SDLISTEN_NAME_MAX 255      /* FileDescriptorName=, systemd's bound */
#define SDLISTEN_API_NAME "api"

typedef struct sdlisten {
    int n_fds;                     /* passed to this process; 0: none */
    int api_fd;                    /* the one taken, or -1 */
    char api_name[SDLISTEN_NAME_MAX + 1]; /* its name, "" if unnamed */
    char api_path[108];            /* its bound path (sockaddr_un), for
                                      messages; "" if abstract/unnamed */
    int n_closed;                  /* other fds passed, closed unused */
} sdlisten;

/* From the values of $LISTEN_PID, $LISTEN_FDS, $LISTEN_FDNAMES (each may
 * be NULL: unset) and our pid: n_fds and api_fd (-1 when nothing is for
 * us: no LISTEN_PID, another pid's, or LISTEN_FDS=0). Errors, -EINVAL
 * with the reason in err: a LISTEN_PID or LISTEN_FDS that is not a
 * number, more than SDLISTEN_MAX_FDS fds, a count of names that differs
 * from LISTEN_FDS, a name longer than SDLISTEN_NAME_MAX, several fds and
 * none named "api" (or the names absent), "api" named twice. */
int sdlisten_parse(const char *pid, const char *fds, const char *names,
                   long self, sdlisten *out, char *err, size_t errlen);

/* sdlisten_parse on the environment and getpid(), then unset the three
 * variables; when an fd is taken, check and prepare it (see above).
 * Returns 0 (api_fd -1 if none was passed), or -errno / -EINVAL with
 * "LISTEN_FDS: fd N (name 'api'): why" in err; the fds passed are then
 * closed. */
int sdlisten_take(sdlisten *out, char *err, size_t errlen);

#endif
