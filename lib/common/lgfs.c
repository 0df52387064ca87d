/*
 * lgfs.c - file-system helpers (see lgfs.h).
 */
#include "lgfs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
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

int lg_dir_open(const char *dir, int *fd, char *err, size_t errlen)
{
    char parent[4096];
    int rc, pfd;
    *fd = -1;
    if ((rc = lg_mkdir_parents(dir, err, errlen)) < 0)
        return rc;
    if (mkdir(dir, 0750) == 0) {
        /* A new directory: make its name durable too. */
        snprintf(parent, sizeof parent, "%s", dir);
        pfd = open(dirname(parent), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd >= 0) {
            lg_fsync(pfd, 0);
            close(pfd);
        }
    } else if (errno != EEXIST) {
        return lg_errf(err, errlen, -errno, "create %s: %s", dir,
                       strerror(errno));
    }
    if ((*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return lg_errf(err, errlen, -errno, "open %s: %s", dir,
                       strerror(errno));
    return 0;
}

int lg_flock(int fd, const char *name, const char *owner, char *err,
             size_t errlen)
{
    int rc;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
    return lg_errf(err, errlen, rc, "%s is in use by another %s (%s)", name,
                   owner, lg_strerror(rc));
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
