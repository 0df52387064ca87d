/*
 * jobdb.c - one directory per job (see jobdb.h for the layout and the
 * crash argument).
 *
 * Owns the root's directory fd (flocked: one jobdb per root) and its
 * name, both fixed at open; every call works with *at() functions from
 * that fd and opens its own fds and directory streams, so calls for
 * different ids share nothing mutable. Temp names are derived from the
 * id, which is unique among the calls in flight (the caller's rule).
 */
#include "jobdb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lgerr.h"
#include "lgfs.h"

#define TMP_PREFIX ".tmp-"              /* DIR/.tmp-<id>: being created */
#define DEL_PREFIX ".del-"              /* DIR/.del-<id>: being removed */
#define TMP_REC ".tmp-rec"              /* in a job: update in progress */
#define TMP_FILE ".tmp-file"            /* in a job: put_file in progress */
#define PFX_LEN 5                       /* strlen of the two prefixes */
#define ENT_MAX (PFX_LEN + JOBDB_ID_MAX + 1) /* a root entry name + NUL */
#define TREE_DEPTH_MAX 160              /* > any depth a valid name has */
#define COPY_BUF ((size_t)256 << 10)    /* link_from copy buffer, bytes */

struct jobdb {
    char dir[JOBDB_DIR_MAX];            /* DIR as given, no trailing '/' */
    int dfd;                            /* DIR, O_DIRECTORY, flocked */
};

/* ---------------------------------------------------------- helpers */

static int valid_id(const char *id)
{
    size_t n;
    if (!id)
        return 0;
    n = strnlen(id, JOBDB_ID_MAX + 1);
    if (n < 1 || n > JOBDB_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* A job file name as jobdb.h defines it ("job.rec" passes here). */
static int valid_name(const char *name)
{
    size_t n;
    int at_start = 1;
    if (!name)
        return 0;
    n = strnlen(name, JOBDB_NAME_MAX + 1);
    if (n < 1 || n > JOBDB_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c == '/') {
            if (at_start)               /* leading '/', or "//" */
                return 0;
            at_start = 1;
            continue;
        }
        if (at_start && c == '.')       /* ".", "..", hidden, temp names */
            return 0;
        at_start = 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return !at_start;                   /* no trailing '/' */
}

static int open_dir_at(int dfd, const char *name)
{
    return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                  O_CLOEXEC);
}

/* A stream over directory dfd/name with its own fd and offset. */
static DIR *dir_stream_at(int dfd, const char *name)
{
    int fd = open_dir_at(dfd, name);
    DIR *d;
    if (fd < 0)
        return NULL;
    if (!(d = fdopendir(fd))) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return d;
}

/* Create dfd/name (flags: O_EXCL or O_TRUNC) holding len bytes, fsynced. */
static int write_file_at(int dfd, const char *name, const void *buf,
                         size_t len, int flags)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
                    flags, 0640), rc;
    if (fd < 0)
        return -errno;
    if ((rc = lg_write_all(fd, buf, len)) || (rc = lg_fsync(fd, 0))) {
        close(fd);
        return rc;
    }
    return lg_close(fd);
}

/* Read dfd/name whole into a new buffer (+ NUL), refusing more than max. */
static int read_file_at(int dfd, const char *name, size_t max, void **out,
                        size_t *outlen)
{
    struct stat st;
    uint8_t *p;
    size_t got = 0, size;
    int fd, rc;
    *out = NULL;
    *outlen = 0;
    if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EIO;
    }
    /* Replaced by rename, never changed in place: the size holds. */
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return -EFBIG;
    }
    size = (size_t)st.st_size;
    if (!(p = malloc(size + 1))) {
        close(fd);
        return -ENOMEM;
    }
    while (got < size) {
        ssize_t r = read(fd, p + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            close(fd);
            free(p);
            return rc;
        }
        got += (size_t)r;
    }
    close(fd);
    p[got] = 0;
    *out = p;
    *outlen = got;
    return 0;
}

/* Remove dfd/name and everything below it. 0 if it was not there. */
static int rmtree_at(int dfd, const char *name, int depth)
{
    struct stat st;
    int rc = 0;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
    if (depth > TREE_DEPTH_MAX)
        return -ELOOP;
    /* Deleting while reading a directory may hide entries: go over it
     * again until it is empty. */
    for (int pass = 0; pass < 4; pass++) {
        DIR *d = dir_stream_at(dfd, name);
        struct dirent *de;
        if (!d)
            return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d)) && !rc)
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                rc = rmtree_at(dirfd(d), de->d_name, depth + 1);
        closedir(d);
        if (rc)
            return rc;
        if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
            return 0;
        if (errno != ENOTEMPTY && errno != EEXIST)
            return -errno;
    }
    return -ENOTEMPTY;
}

/* fsync every directory from dfd/name down (files were synced as they
 * were written). */
static int sync_dirs_at(int dfd, const char *name, int depth)
{
    DIR *d;
    struct dirent *de;
    int rc = 0;
    if (depth > TREE_DEPTH_MAX)
        return -ELOOP;
    if (!(d = dir_stream_at(dfd, name)))
        return -errno;
    while ((de = readdir(d)) && !rc) {
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            rc = -errno;
        else if (S_ISDIR(st.st_mode))
            rc = sync_dirs_at(dirfd(d), de->d_name, depth + 1);
    }
    if (!rc)
        rc = lg_fsync(dirfd(d), 0);
    closedir(d);
    return rc;
}

/*
 * Open the directory that holds file name (a valid name) below dfd,
 * creating the missing ones (0750); where one is created and sync is set,
 * its parent is fsynced. *base points at the last component of name.
 */
static int parent_dir_at(int dfd, const char *name, int sync, int *out,
                         const char **base)
{
    char comp[JOBDB_NAME_MAX + 1];
    const char *p = name, *slash;
    int fd, rc;
    *out = -1;
    *base = NULL;
    if ((fd = open_dir_at(dfd, ".")) < 0)
        return -errno;
    while ((slash = strchr(p, '/'))) {
        size_t n = (size_t)(slash - p);
        int nfd;
        memcpy(comp, p, n);
        comp[n] = 0;
        if (mkdirat(fd, comp, 0750) == 0) {
            if (sync && (rc = lg_fsync(fd, 0))) {
                close(fd);
                return rc;
            }
        } else if (errno != EEXIST) {
            rc = -errno;
            close(fd);
            return rc;
        }
        nfd = open_dir_at(fd, comp);
        rc = -errno;
        close(fd);
        if (nfd < 0)
            return rc;
        fd = nfd;
        p = slash + 1;
    }
    *out = fd;
    *base = p;
    return 0;
}

/* Copy the file at path to dfd/name (new), fsynced. */
static int copy_file(const char *path, int dfd, const char *name)
{
    int in = open(path, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
    uint8_t *buf = NULL;
    if (in < 0)
        return -errno;
    if ((out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                      O_CLOEXEC, 0640)) < 0) {
        rc = -errno;
        goto out;
    }
    if (!(buf = malloc(COPY_BUF))) {
        rc = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t r = read(in, buf, COPY_BUF);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            goto out;
        }
        if (r == 0)
            break;
        if ((rc = lg_write_all(out, buf, (size_t)r)))
            goto out;
    }
    if (!(rc = lg_fsync(out, 0))) {
        rc = lg_close(out);
        out = -1;
    }
out:
    if (out >= 0)
        close(out);
    close(in);
    free(buf);
    return rc;
}

/* Hard-link path as dfd/name (copy it where that cannot be), durably. */
static int link_file(const char *path, int dfd, const char *name)
{
    int fd, rc;
    if (linkat(AT_FDCWD, path, dfd, name, AT_SYMLINK_FOLLOW) < 0) {
        int e = errno;
        if (e == EXDEV || e == EPERM || e == EMLINK || e == ENOTSUP ||
            e == EOPNOTSUPP || e == EACCES)
            return copy_file(path, dfd, name);
        return -e;
    }
    /* The source's bytes must be durable before the job counts. */
    if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return -errno;
    rc = lg_fsync(fd, 0);
    close(fd);
    return rc;
}

/* ------------------------------------------------------------- open */

int jobdb_open(const char *dir, jobdb **out, char *err, size_t errlen)
{
    jobdb *db;
    size_t n;
    int rc;
    *out = NULL;
    if (!dir || !dir[0])
        return lg_errf(err, errlen, -EINVAL, "jobdb: no directory");
    n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n >= JOBDB_DIR_MAX)
        return lg_errf(err, errlen, -ENAMETOOLONG, "jobdb directory name "
                       "longer than %d bytes", JOBDB_DIR_MAX - 1);
    if (!(db = calloc(1, sizeof *db)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    db->dfd = -1;
    memcpy(db->dir, dir, n);
    db->dir[n] = 0;
    if ((rc = lg_dir_open(db->dir, &db->dfd, err, errlen)) < 0 ||
        (rc = lg_flock(db->dfd, db->dir, "jobdb", err, errlen)) < 0)
        goto fail;
    *out = db;
    return 0;
fail:
    jobdb_close(db);
    return rc;
}

void jobdb_close(jobdb *db)
{
    if (!db)
        return;
    if (db->dfd >= 0)
        close(db->dfd);
    free(db);
}

/* ---------------------------------------------------------- writing */

int jobdb_create(jobdb *db, const char *id, const void *rec, size_t rec_len,
                 const jobdb_file *files, int n, char *err, size_t errlen)
{
    char tmp[ENT_MAX];
    struct stat st;
    int tfd = -1, rc;
    if (!valid_id(id))
        return lg_errf(err, errlen, -EINVAL, "bad job id (1 to %d of "
                       "[A-Za-z0-9_-])", JOBDB_ID_MAX);
    if (rec_len > JOBDB_MAX_REC)
        return lg_errf(err, errlen, -EFBIG, "job %s: record of %zu bytes is "
                       "larger than %zu", id, rec_len, JOBDB_MAX_REC);
    if (n < 0 || n > JOBDB_MAX_FILES || (n && !files) || (rec_len && !rec))
        return lg_errf(err, errlen, -EINVAL, "job %s: bad arguments (%d "
                       "files, at most %d)", id, n, JOBDB_MAX_FILES);
    for (int i = 0; i < n; i++) {
        const jobdb_file *f = &files[i];
        if (!valid_name(f->name) || !strcmp(f->name, JOBDB_REC_NAME))
            return lg_errf(err, errlen, -EINVAL, "job %s: bad file name "
                           "\"%.*s\"", id, JOBDB_NAME_MAX,
                           f->name ? f->name : "(null)");
        if (f->link_from ? !f->link_from[0] : (f->len && !f->buf))
            return lg_errf(err, errlen, -EINVAL, "job %s: file %s has no "
                           "contents", id, f->name);
    }
    if (fstatat(db->dfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return lg_errf(err, errlen, -EEXIST, "job %s exists", id);
    if (errno != ENOENT)
        return lg_errf(err, errlen, -errno, "stat %s/%s: %s", db->dir, id,
                       strerror(errno));
    snprintf(tmp, sizeof tmp, "%s%s", TMP_PREFIX, id);
    /* What a failed earlier attempt could not remove. */
    if ((rc = rmtree_at(db->dfd, tmp, 0)))
        return lg_errf(err, errlen, rc, "remove %s/%s: %s", db->dir, tmp,
                       lg_strerror(rc));
    if (mkdirat(db->dfd, tmp, 0750) < 0)
        return lg_errf(err, errlen, -errno, "create %s/%s: %s", db->dir,
                       tmp, strerror(errno));
    if ((tfd = open_dir_at(db->dfd, tmp)) < 0) {
        rc = lg_errf(err, errlen, -errno, "open %s/%s: %s", db->dir, tmp,
                     strerror(errno));
        goto fail;
    }
    if ((rc = write_file_at(tfd, JOBDB_REC_NAME, rec ? rec : "", rec_len,
                            O_EXCL))) {
        rc = lg_errf(err, errlen, rc, "write %s/%s/%s: %s", db->dir, tmp,
                     JOBDB_REC_NAME, lg_strerror(rc));
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        const jobdb_file *f = &files[i];
        const char *base;
        int pfd;
        if ((rc = parent_dir_at(tfd, f->name, 0, &pfd, &base))) {
            rc = lg_errf(err, errlen, rc, "job %s: directory of %s: %s", id,
                         f->name, lg_strerror(rc));
            goto fail;
        }
        if (f->link_from)
            rc = link_file(f->link_from, pfd, base);
        else
            rc = write_file_at(pfd, base, f->buf ? f->buf : "", f->len,
                               O_EXCL);
        close(pfd);
        if (rc) {
            if (f->link_from)
                rc = lg_errf(err, errlen, rc, "job %s: file %s from %s: %s",
                             id, f->name, f->link_from, lg_strerror(rc));
            else
                rc = lg_errf(err, errlen, rc, "job %s: file %s: %s", id,
                             f->name, lg_strerror(rc));
            goto fail;
        }
    }
    if ((rc = sync_dirs_at(db->dfd, tmp, 0))) {
        rc = lg_errf(err, errlen, rc, "fsync %s/%s: %s", db->dir, tmp,
                     lg_strerror(rc));
        goto fail;
    }
    close(tfd);
    tfd = -1;
    /* NOREPLACE: renaming a directory would replace an empty one. */
    if (renameat2(db->dfd, tmp, db->dfd, id, RENAME_NOREPLACE) < 0) {
        rc = -errno;
        if (rc == -EINVAL || rc == -ENOSYS) {
            /* No NOREPLACE here; the caller's rule (no overlapping calls
             * for one id) and the check above must do. */
            rc = renameat(db->dfd, tmp, db->dfd, id) < 0 ? -errno : 0;
        }
        if (rc == -ENOTEMPTY)
            rc = -EEXIST;
        if (rc) {
            rc = lg_errf(err, errlen, rc, "rename %s/%s to %s: %s", db->dir,
                         tmp, id, lg_strerror(rc));
            goto fail;
        }
    }
    if ((rc = lg_fsync(db->dfd, 0)))
        return lg_errf(err, errlen, rc, "fsync %s: %s", db->dir,
                       lg_strerror(rc));
    return 0;
fail:
    if (tfd >= 0)
        close(tfd);
    rmtree_at(db->dfd, tmp, 0);
    return rc;
}

/* Write tmp in job directory jfd, rename it to pfd/name, fsync pfd. */
static int replace_at(int jfd, const char *tmp, int pfd, const char *name,
                      const void *buf, size_t len)
{
    int rc;
    if ((rc = write_file_at(jfd, tmp, buf ? buf : "", len, O_TRUNC)))
        goto fail;
    if (renameat(jfd, tmp, pfd, name) < 0) {
        rc = -errno;
        goto fail;
    }
    return lg_fsync(pfd, 0);
fail:
    unlinkat(jfd, tmp, 0);
    return rc;
}

int jobdb_update(jobdb *db, const char *id, const void *rec, size_t len,
                 char *err, size_t errlen)
{
    int jfd, rc;
    if (!valid_id(id))
        return lg_errf(err, errlen, -EINVAL, "bad job id (1 to %d of "
                       "[A-Za-z0-9_-])", JOBDB_ID_MAX);
    if (len > JOBDB_MAX_REC)
        return lg_errf(err, errlen, -EFBIG, "job %s: record of %zu bytes is "
                       "larger than %zu", id, len, JOBDB_MAX_REC);
    if (len && !rec)
        return lg_errf(err, errlen, -EINVAL, "job %s: no record", id);
    if ((jfd = open_dir_at(db->dfd, id)) < 0) {
        rc = errno == ENOTDIR || errno == ELOOP ? -ENOENT : -errno;
        return lg_errf(err, errlen, rc, "job %s: %s", id, lg_strerror(rc));
    }
    rc = replace_at(jfd, TMP_REC, jfd, JOBDB_REC_NAME, rec, len);
    close(jfd);
    if (rc)
        return lg_errf(err, errlen, rc, "job %s: update %s: %s", id,
                       JOBDB_REC_NAME, lg_strerror(rc));
    return 0;
}

int jobdb_put_file(jobdb *db, const char *id, const char *name,
                   const void *buf, size_t len, char *err, size_t errlen)
{
    const char *base;
    int jfd, pfd, rc;
    if (!valid_id(id))
        return lg_errf(err, errlen, -EINVAL, "bad job id (1 to %d of "
                       "[A-Za-z0-9_-])", JOBDB_ID_MAX);
    if (!valid_name(name) || !strcmp(name, JOBDB_REC_NAME))
        return lg_errf(err, errlen, -EINVAL, "job %s: bad file name "
                       "\"%.*s\"", id, JOBDB_NAME_MAX, name ? name : "(null)");
    if (len && !buf)
        return lg_errf(err, errlen, -EINVAL, "job %s: file %s has no "
                       "contents", id, name);
    if ((jfd = open_dir_at(db->dfd, id)) < 0) {
        rc = errno == ENOTDIR || errno == ELOOP ? -ENOENT : -errno;
        return lg_errf(err, errlen, rc, "job %s: %s", id, lg_strerror(rc));
    }
    if ((rc = parent_dir_at(jfd, name, 1, &pfd, &base))) {
        close(jfd);
        return lg_errf(err, errlen, rc, "job %s: directory of %s: %s", id,
                       name, lg_strerror(rc));
    }
    rc = replace_at(jfd, TMP_FILE, pfd, base, buf, len);
    close(pfd);
    close(jfd);
    if (rc)
        return lg_errf(err, errlen, rc, "job %s: write %s: %s", id, name,
                       lg_strerror(rc));
    return 0;
}

/* ---------------------------------------------------------- reading */

int jobdb_path(const jobdb *db, const char *id, const char *name, char *buf,
               size_t len)
{
    int n;
    if (!valid_id(id) || (name && !valid_name(name)))
        return -EINVAL;
    if (name)
        n = snprintf(buf, len, "%s/%s/%s", db->dir, id, name);
    else
        n = snprintf(buf, len, "%s/%s", db->dir, id);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int jobdb_read(jobdb *db, const char *id, void **rec, size_t *len,
               char *err, size_t errlen)
{
    int jfd, rc;
    *rec = NULL;
    *len = 0;
    if (!valid_id(id))
        return lg_errf(err, errlen, -EINVAL, "bad job id (1 to %d of "
                       "[A-Za-z0-9_-])", JOBDB_ID_MAX);
    if ((jfd = open_dir_at(db->dfd, id)) < 0) {
        rc = errno == ENOTDIR || errno == ELOOP ? -ENOENT : -errno;
        return lg_errf(err, errlen, rc, "job %s: %s", id, lg_strerror(rc));
    }
    rc = read_file_at(jfd, JOBDB_REC_NAME, JOBDB_MAX_REC, rec, len);
    close(jfd);
    if (rc)
        return lg_errf(err, errlen, rc, "job %s: read %s: %s", id,
                       JOBDB_REC_NAME, rc == -EFBIG ? "larger than the "
                       "limit" : lg_strerror(rc));
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void report(jobdb_bad_cb bad, void *arg, const char *name, int code,
                   const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void report(jobdb_bad_cb bad, void *arg, const char *name, int code,
                   const char *fmt, ...)
{
    char why[256];
    va_list ap;
    if (!bad)
        return;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    bad(arg, name, code, why);
}

int jobdb_load(jobdb *db,
               int (*cb)(void *arg, const char *id, const void *rec,
                         size_t len),
               jobdb_bad_cb bad, void *arg, char *err, size_t errlen)
{
    DIR *d = dir_stream_at(db->dfd, ".");
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, skipped = 0, removed = 0;
    if (!d)
        return lg_errf(err, errlen, -errno, "list %s: %s", db->dir,
                       strerror(errno));
    /* Take the listing first: cleaning up and cb change the directory. */
    while ((de = readdir(d))) {
        char *copy;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nv = realloc(names, ncap * sizeof *names);
            if (!nv) {
                rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
                goto out;
            }
            names = nv;
            cap = ncap;
        }
        if (!(copy = strdup(de->d_name))) {
            rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
            goto out;
        }
        names[n++] = copy;
    }
    closedir(d);
    d = NULL;
    if (n)
        qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        const char *nm = names[i];
        int r;
        if (strncmp(nm, TMP_PREFIX, PFX_LEN) && strncmp(nm, DEL_PREFIX,
                                                        PFX_LEN))
            continue;
        /* A create or a remove that did not finish: never a job. */
        if ((r = rmtree_at(db->dfd, nm, 0))) {
            report(bad, arg, nm, r, "cannot remove leftover: %s",
                   lg_strerror(r));
            skipped++;
        } else {
            removed = 1;
        }
    }
    if (removed && (rc = lg_fsync(db->dfd, 0))) {
        rc = lg_errf(err, errlen, rc, "fsync %s: %s", db->dir,
                     lg_strerror(rc));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *nm = names[i];
        void *rec;
        size_t len;
        int jfd, r;
        if (!strncmp(nm, TMP_PREFIX, PFX_LEN) ||
            !strncmp(nm, DEL_PREFIX, PFX_LEN))
            continue;
        if (!valid_id(nm)) {
            report(bad, arg, nm, -EINVAL, "not a job id");
            skipped++;
            continue;
        }
        if ((jfd = open_dir_at(db->dfd, nm)) < 0) {
            r = errno == ELOOP ? -ENOTDIR : -errno;
            report(bad, arg, nm, r, "not a job directory: %s",
                   lg_strerror(r));
            skipped++;
            continue;
        }
        /* An update or put_file that did not finish: the target holds. */
        unlinkat(jfd, TMP_REC, 0);
        unlinkat(jfd, TMP_FILE, 0);
        r = read_file_at(jfd, JOBDB_REC_NAME, JOBDB_MAX_REC, &rec, &len);
        close(jfd);
        if (r) {
            report(bad, arg, nm, r, JOBDB_REC_NAME ": %s", r == -EFBIG ?
                   "larger than the limit" : lg_strerror(r));
            skipped++;
            continue;
        }
        r = cb(arg, nm, rec, len);
        free(rec);
        if (r) {
            rc = r;
            goto out;
        }
    }
    rc = skipped;
out:
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* ---------------------------------------------------------- removal */

int jobdb_remove(jobdb *db, const char *id)
{
    char del[ENT_MAX];
    struct stat st;
    int rc;
    if (!valid_id(id))
        return -EINVAL;
    if (fstatat(db->dfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOENT;
    snprintf(del, sizeof del, "%s%s", DEL_PREFIX, id);
    if ((rc = rmtree_at(db->dfd, del, 0)))
        return rc;
    /* Out of sight in one step: a crash leaves no half job under id. */
    if (renameat(db->dfd, id, db->dfd, del) < 0)
        return -errno;
    if ((rc = lg_fsync(db->dfd, 0)))
        return rc;
    return rmtree_at(db->dfd, del, 0);
}
