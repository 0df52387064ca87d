/*
 * lgfs.c - file-system helpers (see lgfs.h).
 */
#include "lgfs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lgerr.h"

int lg_mkdir_parents(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    if (strlen(path) >= sizeof buf)
        return lg_errf(err, errlen, -ENAMETOOLONG, "%.200s...: path too long",
                       path);
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return lg_errf(err, errlen, -errno, "cannot create %s: %s", buf,
                           strerror(errno));
        *p = '/';
    }
    return 0;
}

int lg_write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int lg_fsync(int fd, int datasync)
{
    int rc;
    do
        rc = datasync ? fdatasync(fd) : fsync(fd);
    while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

int lg_close(int fd)
{
    return close(fd) < 0 && errno != EINTR ? -errno : 0;
}
