/*
 * lgfs.c - file-system helpers (see lgfs.h).
 */
#include "lgfs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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
