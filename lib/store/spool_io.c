/*
 * spool_io.c - the spool's I/O helpers: whole reads and writes, fsync with
 * failure latching, quarantine (moving files and copying ranges aside),
 * file naming and log formatting. Owns no state of its own; works on one
 * spool, one thread at a time.
 *
 * After a failed fsync the page cache may have dropped the dirty pages
 * while the disk holds the old bytes, so retrying proves nothing: the spool
 * latches the error (spool_fail) and refuses writes until it is reopened,
 * when recovery re-verifies everything from disk.
 */
#include "spool_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "lgerr.h"

void spool_logf(spool *sp, spool_event ev, const spool_meta *m,
                const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (!sp->o.log)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sp->o.log(sp->o.log_arg, ev, m, msg);
}

uint64_t spool_now(spool *sp)
{
    struct timespec ts;
    if (sp->o.clock)
        return sp->o.clock(sp->o.clock_arg);
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int spool_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const char *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int spool_pwritev_all(int fd, const void *hdr, size_t hlen, const void *body,
                      size_t blen, size_t pad, uint64_t off)
{
    static const char zeros[8];
    struct iovec iov[3] = {
        { (void *)hdr, hlen }, { (void *)body, blen }, { (void *)zeros, pad }
    };
    int i = 0, n_iov = 3;
    while (i < n_iov) {
        ssize_t n = pwritev(fd, iov + i, n_iov - i, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        off += (uint64_t)n;
        while (i < n_iov && (size_t)n >= iov[i].iov_len) {
            n -= (ssize_t)iov[i].iov_len;
            i++;
        }
        if (i < n_iov) {
            iov[i].iov_base = (char *)iov[i].iov_base + n;
            iov[i].iov_len -= (size_t)n;
        }
    }
    return 0;
}

int spool_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int spool_fsync(spool *sp, int fd, int datasync)
{
    int rc;
    do
        rc = datasync ? fdatasync(fd) : fsync(fd);
    while (rc < 0 && errno == EINTR);
    sp->syncs++;
    return rc < 0 ? -errno : 0;
}

int spool_fail(spool *sp, int code, char *err, size_t errlen,
               const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!sp->broken) {
        sp->broken = code;
        snprintf(sp->broken_why, sizeof sp->broken_why, "%s", msg);
        spool_logf(sp, SPOOL_EV_ERROR, NULL,
                   "%s: %s; spool refuses writes until reopened", msg,
                   lg_strerror(code));
    }
    return lg_errf(err, errlen, code, "%s: %s", msg, lg_strerror(code));
}

/* A name under quarantine/ that is not taken yet. */
static int quarantine_name(spool *sp, const char *base, char *out,
                           size_t outlen)
{
    uint64_t ms = spool_now(sp);
    for (unsigned k = 0; k < 1000; k++) {
        struct stat st;
        snprintf(out, outlen, "%s.%llu-%u", base, (unsigned long long)ms, k);
        if (fstatat(sp->qfd, out, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
            errno == ENOENT)
            return 0;
    }
    return -EEXIST;
}

int spool_quarantine_file(spool *sp, const char *name, const char *why,
                          const spool_meta *m)
{
    char q[128];
    int rc = quarantine_name(sp, name, q, sizeof q);
    if (rc == 0 && renameat(sp->dfd, name, sp->qfd, q) < 0)
        rc = -errno;
    if (rc) {
        spool_logf(sp, SPOOL_EV_ERROR, m,
                   "cannot quarantine %s (%s): %s; left in place", name,
                   why, lg_strerror(rc));
        return rc;
    }
    sp->quarantined++;
    sp->dir_dirty = 1;
    spool_logf(sp, SPOOL_EV_QUARANTINED, m, "quarantined %s -> quarantine/%s: %s",
               name, q, why);
    return 0;
}

int spool_quarantine_range(spool *sp, int fd, const char *name, uint64_t a,
                           uint64_t b, const char *why, const spool_meta *m)
{
    char base[96], q[128];
    unsigned char buf[65536];
    int qf, rc;
    snprintf(base, sizeof base, "%s@%llu", name, (unsigned long long)a);
    rc = quarantine_name(sp, base, q, sizeof q);
    if (rc)
        goto fail;
    qf = openat(sp->qfd, q, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (qf < 0) {
        rc = -errno;
        goto fail;
    }
    for (uint64_t off = a; off < b && rc == 0;) {
        size_t n = b - off < sizeof buf ? (size_t)(b - off) : sizeof buf;
        rc = spool_pread_all(fd, buf, n, off);
        if (rc == 0)
            rc = spool_pwrite_all(qf, buf, n, off - a);
        off += n;
    }
    if (rc == 0)
        rc = spool_fsync(sp, qf, 1);
    close(qf);
    if (rc == 0)
        rc = spool_fsync(sp, sp->qfd, 0);
    if (rc)
        goto fail;
    sp->quarantined++;
    spool_logf(sp, SPOOL_EV_QUARANTINED, m,
               "quarantined %s bytes %llu..%llu -> quarantine/%s: %s", name,
               (unsigned long long)a, (unsigned long long)b, q, why);
    return 0;
fail:
    spool_logf(sp, SPOOL_EV_ERROR, m,
               "cannot copy %s bytes %llu..%llu to quarantine (%s): %s", name,
               (unsigned long long)a, (unsigned long long)b, why,
               lg_strerror(rc));
    return rc;
}

int spool_crc_range(spool *sp, int fd, uint64_t off, uint64_t len,
                    uint32_t *c)
{
    while (len) {
        size_t n = len < SP_IOBUF ? (size_t)len : SP_IOBUF;
        int rc = spool_pread_all(fd, sp->iobuf, n, off);
        if (rc)
            return rc;
        *c = crc32c(*c, sp->iobuf, n);
        off += n;
        len -= n;
    }
    return 0;
}

void spool_file_name(char out[64], const uint8_t id[SPOOL_ID_LEN], int tmp)
{
    char hex[33];
    spool_id_hex(id, hex);
    snprintf(out, 64, "b-%s.%s", hex, tmp ? "tmp" : "bdl");
}

void spool_seg_name(char out[64], uint32_t no)
{
    snprintf(out, 64, "s-%08x.seg", no);
}
