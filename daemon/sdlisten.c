/*
 * sdlisten.c - sd_listen_fds without libsystemd (see sdlisten.h).
 */
#include "sdlisten.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lgerr.h"

/* A decimal number without sign or spaces, at most max. -1 if not. */
static long long parse_num(const char *s, long long max)
{
    long long v = 0;
    const char *q = s;
    for (; *q >= '0' && *q <= '9'; q++) {
        v = v * 10 + (*q - '0');
        if (v > max)
            return -1;
    }
    return q == s || *q ? -1 : v;
}

int sdlisten_parse(const char *pid, const char *fds, const char *names,
                   long self, sdlisten *out, char *err, size_t errlen)
{
    long long p, n;
    int api = -1, n_names = 0;
    memset(out, 0, sizeof *out);
    out->api_fd = -1;
    if (!pid || !*pid)
        return 0;                /* nothing passed (or not to us) */
    if ((p = parse_num(pid, 0x7fffffffLL)) <= 0)
        return lg_errf(err, errlen, -EINVAL, "LISTEN_PID='%.40s' is not a "
                       "process id", pid);
    if (p != self)
        return 0;                /* for another process: not ours */
    if (!fds || !*fds)
        return 0;
    if ((n = parse_num(fds, 0x7fffffffLL)) < 0)
        return lg_errf(err, errlen, -EINVAL, "LISTEN_FDS='%.40s' is not a "
                       "number of file descriptors", fds);
    if (n == 0)
        return 0;
    if (n > SDLISTEN_MAX_FDS)
        return lg_errf(err, errlen, -EINVAL, "LISTEN_FDS=%lld: more than "
                       "the %d sockets lagranged could use", n,
                       SDLISTEN_MAX_FDS);
    out->n_fds = (int)n;
    if (names && *names) {
        const char *s = names;
        for (;;) {
            size_t len = strcspn(s, ":");
            if (len > SDLISTEN_NAME_MAX)
                return lg_errf(err, errlen, -EINVAL, "LISTEN_FDNAMES: name "
                               "%d is longer than %d bytes", n_names + 1,
                               SDLISTEN_NAME_MAX);
            if (len == strlen(SDLISTEN_API_NAME) &&
                !memcmp(s, SDLISTEN_API_NAME, len)) {
                if (api >= 0)
                    return lg_errf(err, errlen, -EINVAL, "LISTEN_FDNAMES: "
                                   "'" SDLISTEN_API_NAME "' names both fd "
                                   "%d and fd %d", SDLISTEN_FDS_START + api,
                                   SDLISTEN_FDS_START + n_names);
                api = n_names;
            }
            if (n_names == 0 || api == n_names) {
                memcpy(out->api_name, s, len);
                out->api_name[len] = '\0';
            }
            n_names++;
            if (!s[len])
                break;
            s += len + 1;
            if (n_names > SDLISTEN_MAX_FDS)
                break;
        }
        if (n_names != n)
            return lg_errf(err, errlen, -EINVAL, "LISTEN_FDNAMES names %d "
                           "socket%s but LISTEN_FDS=%lld", n_names,
                           n_names == 1 ? "" : "s", n);
    }
    if (api < 0 && n > 1)
        return lg_errf(err, errlen, -EINVAL, "systemd passed %lld sockets "
                       "and none is named '" SDLISTEN_API_NAME "' (give the "
                       "API socket FileDescriptorName=" SDLISTEN_API_NAME
                       ")", n);
    if (api < 0)
        api = 0;                 /* the only one, whatever its name (kept
                                    in api_name from the first) */
    out->api_fd = SDLISTEN_FDS_START + api;
    return 0;
}

/* The fd passed must be a listening unix stream socket. */
static int check_fd(sdlisten *l, char *err, size_t errlen)
{
    int fd = l->api_fd, type = 0, acc = 0, fl;
    socklen_t len = sizeof type;
    struct sockaddr_un sa;
    struct stat st;
    const char *why = NULL;
    char nm[SDLISTEN_NAME_MAX + 16] = "";
    if (l->api_name[0])
        snprintf(nm, sizeof nm, " (name '%s')", l->api_name);
    if (fstat(fd, &st) < 0)
        return lg_errf(err, errlen, -errno, "LISTEN_FDS: fd %d%s: %s", fd, nm,
                       strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        why = "not a socket";
    else if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return lg_errf(err, errlen, -errno, "LISTEN_FDS: fd %d%s: "
                       "SO_TYPE: %s", fd, nm, strerror(errno));
    else if (type != SOCK_STREAM)
        why = "not a stream socket (the API socket is ListenStream=/PATH)";
    else if ((len = sizeof acc,
              getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len)) < 0)
        return lg_errf(err, errlen, -errno, "LISTEN_FDS: fd %d%s: "
                       "SO_ACCEPTCONN: %s", fd, nm, strerror(errno));
    else if (!acc)
        why = "not listening (Accept=no and a ListenStream= socket are "
              "needed)";
    if (!why) {
        memset(&sa, 0, sizeof sa);
        len = sizeof sa;
        if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
            return lg_errf(err, errlen, -errno, "LISTEN_FDS: fd %d%s: "
                           "getsockname: %s", fd, nm, strerror(errno));
        if (sa.sun_family != AF_UNIX)
            why = "not a unix socket (the API socket is ListenStream=/PATH)";
        else if (len > offsetof(struct sockaddr_un, sun_path) &&
                 sa.sun_path[0])
            snprintf(l->api_path, sizeof l->api_path, "%.*s",
                     (int)(sizeof sa.sun_path - 1), sa.sun_path);
    }
    if (why)
        return lg_errf(err, errlen, -EINVAL, "LISTEN_FDS: fd %d%s is %s",
                       fd, nm, why);
    if ((fl = fcntl(fd, F_GETFD)) < 0 ||
        fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0 ||
        (fl = fcntl(fd, F_GETFL)) < 0 ||
        fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return lg_errf(err, errlen, -errno, "LISTEN_FDS: fd %d%s: fcntl: %s",
                       fd, nm, strerror(errno));
    return 0;
}

int sdlisten_take(sdlisten *out, char *err, size_t errlen)
{
    int rc = sdlisten_parse(getenv("LISTEN_PID"), getenv("LISTEN_FDS"),
                            getenv("LISTEN_FDNAMES"), (long)getpid(), out,
                            err, errlen);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (rc < 0)
        return rc;               /* what was passed is unknown: leave it */
    if (out->api_fd >= 0 && (rc = check_fd(out, err, errlen)) < 0) {
        for (int i = 0; i < out->n_fds; i++)
            close(SDLISTEN_FDS_START + i);
        out->api_fd = -1;
        return rc;
    }
    /* The others are of no use here; keep no stray listener open. */
    for (int i = 0; i < out->n_fds; i++)
        if (SDLISTEN_FDS_START + i != out->api_fd) {
            close(SDLISTEN_FDS_START + i);
            out->n_closed++;
        }
    return 0;
}
