/*
 * blobstore.c - content-addressed files (see blobstore.h for the layout,
 * the write protocol and the crash argument).
 *
 * Owns the store's directory fd (flocked: one blobstore per directory),
 * its name and the size limit, all fixed at open; and each writer's temp
 * file fd and SHA-256 context. Temp names are random, so concurrent
 * writers need no shared counter, and every listing opens DIR afresh
 * (never a dup of the shared fd, whose offset would be shared). Thread-
 * safe as blobstore.h says: nothing here changes after open.
 */
#include "blobstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lgerr.h"
#include "lgfs.h"

#define TMP_PREFIX ".tmp-"
#define TMP_NAME_LEN (sizeof TMP_PREFIX - 1 + 16)  /* ".tmp-" + 16 hex */
#define META_SUFFIX ".meta"
#define META_NAME_LEN (BLOBSTORE_ID_LEN + sizeof META_SUFFIX - 1)

struct blobstore {
    char dir[BLOBSTORE_DIR_MAX];        /* DIR as given, no trailing '/' */
    int dfd;                            /* DIR, O_DIRECTORY, flocked */
    uint64_t max_size;                  /* largest blob accepted, bytes */
};

struct blobw {
    blobstore *s;                       /* the store written to */
    int fd;                             /* the temp file, -1 once closed */
    char tmp[TMP_NAME_LEN + 1];         /* its name in DIR */
    uint64_t size;                      /* declared size, bytes */
    uint64_t got;                       /* bytes written so far */
    EVP_MD_CTX *md;                     /* SHA-256 of those bytes */
    int failed;                         /* first write error, else 0 */
    int has_expect;                     /* 1: expect holds the hash */
    uint8_t expect[32];                 /* expected SHA-256 */
};

/* ---------------------------------------------------------- helpers */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = 0;
}

/* Is s (n bytes) lower-case hex? */
static int is_lhex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* A blob id: exactly 64 lower-case hex digits. */
static int is_id(const char *s)
{
    return s && strnlen(s, BLOBSTORE_ID_LEN + 1) == BLOBSTORE_ID_LEN &&
           is_lhex(s, BLOBSTORE_ID_LEN);
}

/* "<id>.meta"? */
static int is_meta_name(const char *s)
{
    return strlen(s) == META_NAME_LEN && is_lhex(s, BLOBSTORE_ID_LEN) &&
           !strcmp(s + BLOBSTORE_ID_LEN, META_SUFFIX);
}

static int is_tmp_name(const char *s)
{
    return !strncmp(s, TMP_PREFIX, sizeof TMP_PREFIX - 1);
}

/* Create a temp file with a fresh random name in DIR. */
static int tmp_create(const blobstore *s, char name[TMP_NAME_LEN + 1],
                      int *fd)
{
    for (int tries = 0; tries < 16; tries++) {
        uint8_t r[8];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            return errno ? -errno : -EIO;
        memcpy(name, TMP_PREFIX, sizeof TMP_PREFIX - 1);
        hex_of(r, sizeof r, name + sizeof TMP_PREFIX - 1);
        *fd = openat(s->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                     0640);
        if (*fd >= 0)
            return 0;
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/* A fresh stream over DIR (its own offset, unlike a dup of dfd). */
static DIR *dir_stream(const blobstore *s)
{
    int fd = openat(s->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

/* Leftovers of a crash: temp files, metadata whose blob is gone. */
static int cleanup(blobstore *s, char *err, size_t errlen)
{
    DIR *d = dir_stream(s);
    struct dirent *de;
    int removed = 0, rc;
    if (!d)
        return lg_errf(err, errlen, -errno, "list %s: %s", s->dir,
                       strerror(errno));
    while ((de = readdir(d))) {
        struct stat st;
        int gone = 0;
        if (is_tmp_name(de->d_name)) {
            gone = 1;
        } else if (is_meta_name(de->d_name)) {
            char id[BLOBSTORE_ID_LEN + 1];
            memcpy(id, de->d_name, BLOBSTORE_ID_LEN);
            id[BLOBSTORE_ID_LEN] = 0;
            gone = fstatat(s->dfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
                   errno == ENOENT;
        }
        if (!gone)
            continue;
        if (unlinkat(s->dfd, de->d_name, 0) < 0 && errno != ENOENT) {
            int e = errno;
            closedir(d);
            return lg_errf(err, errlen, -e, "remove %s/%s: %s", s->dir,
                           de->d_name, strerror(e));
        }
        removed = 1;
    }
    closedir(d);
    if (removed && (rc = lg_fsync(s->dfd, 0)))
        return lg_errf(err, errlen, rc, "fsync %s: %s", s->dir,
                       lg_strerror(rc));
    return 0;
}

/* ------------------------------------------------------------- open */

int blobstore_open(const char *dir, uint64_t max_size, blobstore **out,
                   char *err, size_t errlen)
{
    blobstore *s;
    size_t n;
    int rc;
    *out = NULL;
    if (!dir || !dir[0])
        return lg_errf(err, errlen, -EINVAL, "blobstore: no directory");
    n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n >= BLOBSTORE_DIR_MAX)
        return lg_errf(err, errlen, -ENAMETOOLONG, "blobstore directory "
                       "name longer than %d bytes", BLOBSTORE_DIR_MAX - 1);
    if (!(s = calloc(1, sizeof *s)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    s->dfd = -1;
    s->max_size = max_size;
    memcpy(s->dir, dir, n);
    s->dir[n] = 0;
    if ((rc = lg_dir_open(s->dir, &s->dfd, err, errlen)) < 0 ||
        (rc = lg_flock(s->dfd, s->dir, "blobstore", err, errlen)) < 0)
        goto fail;
    if ((rc = cleanup(s, err, errlen)))
        goto fail;
    *out = s;
    return 0;
fail:
    blobstore_close(s);
    return rc;
}

void blobstore_close(blobstore *s)
{
    if (!s)
        return;
    if (s->dfd >= 0)
        close(s->dfd);
    free(s);
}

/* ---------------------------------------------------------- writing */

static void blobw_free(blobw *w)
{
    if (w->fd >= 0)
        close(w->fd);
    EVP_MD_CTX_free(w->md);
    free(w);
}

int blobstore_begin(blobstore *s, uint64_t size, const char *expect_sha_hex,
                    blobw **out, char *err, size_t errlen)
{
    blobw *w;
    int rc;
    *out = NULL;
    if (size > s->max_size)
        return lg_errf(err, errlen, -EFBIG, "blob of %llu bytes is larger "
                       "than the limit of %llu", (unsigned long long)size,
                       (unsigned long long)s->max_size);
    if (!(w = calloc(1, sizeof *w)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    w->s = s;
    w->fd = -1;
    w->size = size;
    if (expect_sha_hex) {
        if (strnlen(expect_sha_hex, 65) != 64) {
            rc = lg_errf(err, errlen, -EINVAL, "expected SHA-256 is not 64 "
                         "hex digits");
            goto fail;
        }
        for (int i = 0; i < 32; i++) {
            int hi = hexval((unsigned char)expect_sha_hex[2 * i]);
            int lo = hexval((unsigned char)expect_sha_hex[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                rc = lg_errf(err, errlen, -EINVAL, "expected SHA-256 is not "
                             "64 hex digits");
                goto fail;
            }
            w->expect[i] = (uint8_t)(hi << 4 | lo);
        }
        w->has_expect = 1;
    }
    if (!(w->md = EVP_MD_CTX_new()) ||
        EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
        rc = lg_errf(err, errlen, -ENOMEM, "cannot start SHA-256");
        goto fail;
    }
    if ((rc = tmp_create(s, w->tmp, &w->fd))) {
        rc = lg_errf(err, errlen, rc, "create temp file in %s: %s", s->dir,
                     lg_strerror(rc));
        goto fail;
    }
    *out = w;
    return 0;
fail:
    blobw_free(w);
    return rc;
}

int blobw_write(blobw *w, const void *buf, size_t len, char *err,
                size_t errlen)
{
    int rc;
    if (w->failed)
        return lg_errf(err, errlen, w->failed, "blob write failed before: "
                       "%s", lg_strerror(w->failed));
    if ((uint64_t)len > w->size - w->got)
        return lg_errf(err, errlen, -EMSGSIZE, "%zu more bytes would exceed "
                       "the declared size of %llu (have %llu)", len,
                       (unsigned long long)w->size,
                       (unsigned long long)w->got);
    if (!len)
        return 0;
    if ((rc = lg_write_all(w->fd, buf, len))) {
        w->failed = rc;
        return lg_errf(err, errlen, rc, "write %s/%s: %s", w->s->dir, w->tmp,
                       lg_strerror(rc));
    }
    if (EVP_DigestUpdate(w->md, buf, len) != 1) {
        w->failed = -EIO;
        return lg_errf(err, errlen, -EIO, "SHA-256 update failed");
    }
    w->got += len;
    return 0;
}

void blobw_abort(blobw *w)
{
    if (!w)
        return;
    unlinkat(w->s->dfd, w->tmp, 0);
    blobw_free(w);
}

int blobw_commit(blobw *w, char id_hex[BLOBSTORE_ID_LEN + 1], char *err,
                 size_t errlen)
{
    blobstore *s = w->s;
    uint8_t md[32];
    unsigned mdlen = 0;
    char hex[BLOBSTORE_ID_LEN + 1];
    struct stat st;
    int rc, fd;
    if (w->failed) {
        rc = lg_errf(err, errlen, w->failed, "blob write failed: %s",
                     lg_strerror(w->failed));
        goto fail;
    }
    if (w->got != w->size) {
        rc = lg_errf(err, errlen, -EMSGSIZE, "blob has %llu of its declared "
                     "%llu bytes", (unsigned long long)w->got,
                     (unsigned long long)w->size);
        goto fail;
    }
    if (EVP_DigestFinal_ex(w->md, md, &mdlen) != 1 || mdlen != 32) {
        rc = lg_errf(err, errlen, -EIO, "SHA-256 final failed");
        goto fail;
    }
    hex_of(md, 32, hex);
    if (w->has_expect && memcmp(md, w->expect, 32)) {
        char want[65];
        hex_of(w->expect, 32, want);
        rc = lg_errf(err, errlen, -EBADMSG, "blob SHA-256 is %s, expected "
                     "%s", hex, want);
        goto fail;
    }
    fd = w->fd;
    w->fd = -1;
    if ((rc = lg_fsync(fd, 0))) {
        close(fd);
        rc = lg_errf(err, errlen, rc, "fsync %s/%s: %s", s->dir, w->tmp,
                     lg_strerror(rc));
        goto fail;
    }
    if ((rc = lg_close(fd))) {
        rc = lg_errf(err, errlen, rc, "close %s/%s: %s", s->dir, w->tmp,
                     lg_strerror(rc));
        goto fail;
    }
    if (fstatat(s->dfd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode) && (uint64_t)st.st_size == w->size) {
        /* Already stored (same hash, same size): keep the one there. */
        unlinkat(s->dfd, w->tmp, 0);
    } else if (renameat(s->dfd, w->tmp, s->dfd, hex) < 0) {
        rc = lg_errf(err, errlen, -errno, "rename %s/%s to %s: %s", s->dir,
                     w->tmp, hex, strerror(errno));
        goto fail;
    }
    /* Also when it existed: a concurrent commit may not have synced yet. */
    if ((rc = lg_fsync(s->dfd, 0))) {
        rc = lg_errf(err, errlen, rc, "fsync %s: %s", s->dir,
                     lg_strerror(rc));
        blobw_free(w);
        return rc;
    }
    memcpy(id_hex, hex, sizeof hex);
    blobw_free(w);
    return 0;
fail:
    blobw_abort(w);
    return rc;
}

/* ------------------------------------------------------------ blobs */

int blobstore_path(const blobstore *s, const char *id_hex, char *buf,
                   size_t len)
{
    int n;
    if (!is_id(id_hex))
        return -EINVAL;
    n = snprintf(buf, len, "%s/%s", s->dir, id_hex);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int blobstore_stat(const blobstore *s, const char *id_hex, uint64_t *size)
{
    struct stat st;
    if (!is_id(id_hex))
        return -EINVAL;
    if (fstatat(s->dfd, id_hex, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -ENOENT;
    if (size)
        *size = (uint64_t)st.st_size;
    return 0;
}

int blobstore_remove(blobstore *s, const char *id_hex)
{
    char meta[META_NAME_LEN + 1];
    int rc = 0, any = 0;
    if (!is_id(id_hex))
        return -EINVAL;
    if (unlinkat(s->dfd, id_hex, 0) == 0)
        any = 1;
    else
        rc = -errno;
    snprintf(meta, sizeof meta, "%s%s", id_hex, META_SUFFIX);
    if (unlinkat(s->dfd, meta, 0) == 0)
        any = 1;
    else if (errno != ENOENT && !rc)
        rc = -errno;
    if (any) {
        int src = lg_fsync(s->dfd, 0);
        if (!rc)
            rc = src;
    }
    return rc;
}

typedef struct blob_ent {
    char id[BLOBSTORE_ID_LEN + 1];
    uint64_t size;
} blob_ent;

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const blob_ent *)a)->id, ((const blob_ent *)b)->id);
}

int blobstore_list(blobstore *s,
                   int (*cb)(void *arg, const char *id_hex, uint64_t size),
                   void *arg)
{
    DIR *d = dir_stream(s);
    struct dirent *de;
    blob_ent *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (!d)
        return -errno;
    /* Collect first: cb may remove blobs, and sorting needs them all. */
    while ((de = readdir(d))) {
        struct stat st;
        if (!is_id(de->d_name) ||
            fstatat(s->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            blob_ent *nv = realloc(v, ncap * sizeof *v);
            if (!nv) {
                rc = -ENOMEM;
                goto out;
            }
            v = nv;
            cap = ncap;
        }
        memcpy(v[n].id, de->d_name, sizeof v[n].id);
        v[n].size = (uint64_t)st.st_size;
        n++;
    }
    closedir(d);
    d = NULL;
    if (n)
        qsort(v, n, sizeof *v, ent_cmp);
    for (size_t i = 0; i < n && !rc; i++)
        rc = cb(arg, v[i].id, v[i].size);
out:
    if (d)
        closedir(d);
    free(v);
    return rc;
}

int blobstore_resolve_prefix(blobstore *s, const char *prefix,
                             char id_hex[BLOBSTORE_ID_LEN + 1])
{
    char p[BLOBSTORE_ID_LEN + 1], found[BLOBSTORE_ID_LEN + 1];
    size_t n = prefix ? strnlen(prefix, BLOBSTORE_ID_LEN + 1) : 0;
    int matches = 0;
    DIR *d;
    struct dirent *de;
    if (n < BLOBSTORE_PREFIX_MIN || n > BLOBSTORE_ID_LEN)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        int v = hexval((unsigned char)prefix[i]);
        if (v < 0)
            return -EINVAL;
        p[i] = "0123456789abcdef"[v];
    }
    p[n] = 0;
    if (!(d = dir_stream(s)))
        return -errno;
    while ((de = readdir(d)) && matches < 2) {
        struct stat st;
        if (!is_id(de->d_name) || memcmp(de->d_name, p, n) ||
            fstatat(s->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode))
            continue;
        memcpy(found, de->d_name, sizeof found);
        matches++;
    }
    closedir(d);
    if (matches == 0)
        return -ENOENT;
    if (matches > 1)
        return -ENOTUNIQ;
    memcpy(id_hex, found, sizeof found);
    return 0;
}

/* --------------------------------------------------------- metadata */

int blobstore_put_meta(blobstore *s, const char *id_hex, const void *buf,
                       size_t len, char *err, size_t errlen)
{
    char tmp[TMP_NAME_LEN + 1], meta[META_NAME_LEN + 1];
    struct stat st;
    int fd = -1, rc;
    if (!is_id(id_hex))
        return lg_errf(err, errlen, -EINVAL, "not a blob id (64 lower-case "
                       "hex digits)");
    if (len > BLOBSTORE_META_MAX)
        return lg_errf(err, errlen, -EFBIG, "metadata of %zu bytes is "
                       "larger than %zu", len, BLOBSTORE_META_MAX);
    if (fstatat(s->dfd, id_hex, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISREG(st.st_mode))
        return lg_errf(err, errlen, -ENOENT, "no blob %s in %s", id_hex,
                       s->dir);
    if ((rc = tmp_create(s, tmp, &fd)))
        return lg_errf(err, errlen, rc, "create temp file in %s: %s",
                       s->dir, lg_strerror(rc));
    if ((rc = lg_write_all(fd, buf, len)) || (rc = lg_fsync(fd, 0))) {
        close(fd);
        rc = lg_errf(err, errlen, rc, "write %s/%s: %s", s->dir, tmp,
                     lg_strerror(rc));
        goto fail;
    }
    if ((rc = lg_close(fd))) {
        rc = lg_errf(err, errlen, rc, "close %s/%s: %s", s->dir, tmp,
                     lg_strerror(rc));
        goto fail;
    }
    snprintf(meta, sizeof meta, "%s%s", id_hex, META_SUFFIX);
    if (renameat(s->dfd, tmp, s->dfd, meta) < 0) {
        rc = lg_errf(err, errlen, -errno, "rename %s/%s to %s: %s", s->dir,
                     tmp, meta, strerror(errno));
        goto fail;
    }
    if ((rc = lg_fsync(s->dfd, 0)))
        return lg_errf(err, errlen, rc, "fsync %s: %s", s->dir,
                       lg_strerror(rc));
    return 0;
fail:
    unlinkat(s->dfd, tmp, 0);
    return rc;
}

int blobstore_get_meta(blobstore *s, const char *id_hex, void **buf,
                       size_t *len, size_t max, char *err, size_t errlen)
{
    char meta[META_NAME_LEN + 1];
    struct stat st;
    uint8_t *p;
    size_t got = 0;
    int fd, rc;
    *buf = NULL;
    *len = 0;
    if (!is_id(id_hex))
        return lg_errf(err, errlen, -EINVAL, "not a blob id (64 lower-case "
                       "hex digits)");
    snprintf(meta, sizeof meta, "%s%s", id_hex, META_SUFFIX);
    if ((fd = openat(s->dfd, meta, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        rc = -errno;
        return lg_errf(err, errlen, rc, "%s/%s: %s", s->dir, meta,
                       lg_strerror(rc));
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lg_errf(err, errlen, -EIO, "%s/%s: not a regular file",
                       s->dir, meta);
    }
    /* The file is replaced by rename, never changed: its size holds. */
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return lg_errf(err, errlen, -EFBIG, "%s/%s: %llu bytes, more than "
                       "%zu", s->dir, meta, (unsigned long long)st.st_size,
                       max);
    }
    if (!(p = malloc((size_t)st.st_size + 1))) {
        close(fd);
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            close(fd);
            free(p);
            return lg_errf(err, errlen, rc, "read %s/%s: %s", s->dir, meta,
                           r < 0 ? lg_strerror(rc) : "file shrank");
        }
        got += (size_t)r;
    }
    close(fd);
    p[got] = 0;
    *buf = p;
    *len = got;
    return 0;
}
