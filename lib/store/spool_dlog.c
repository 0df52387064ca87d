/*
 * spool_dlog.c - the delivered-id record: delivered.log on disk and the
 * bounded in-memory set of ids that left the spool (acked, delivered,
 * expired, cancelled), used for receiver deduplication across restarts.
 *
 * Owns the sp_dead array and its index, and the delivered.log file:
 * fixed 40-byte records (spool_fmt.h), appended without fsync and flushed
 * by spool_sync; a DELETED record is also the tombstone of a small bundle
 * whose segment still exists. Records are kept until expiry +
 * dedup_grace_ms and, if they pin a segment (it still holds the dead
 * copy), until that segment is gone; after that a resend would be refused
 * as expired anyway. The file is rewritten (temp, fdatasync, rename, dir
 * fsync) once it holds twice the records the last rewrite kept plus
 * dlog_slack: amortised O(1) per append, and the file stays under
 * 2 * (max_delivered + max_count) + dlog_slack records.
 *
 * The memory is bounded by max_delivered: when full, expired records go
 * first, then the 1/16 expiring soonest, with a SPOOL_EV_DEDUP_EVICTED
 * report: the one place where the spool trades a guarantee (dedup of
 * those ids) for a bound, loudly. A pinned record is never evicted (its
 * bundle would come back to life at the next open); when too few are
 * unpinned the caller compacts the segments first, which unpins them.
 *
 * Not thread-safe: one spool, one thread at a time.
 */
#include "spool_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lgerr.h"

#define DLOG_NAME "delivered.log"
#define DLOG_TMP "delivered.tmp"

static int dead_eq(const void *ctx, uint32_t v, const void *key)
{
    const spool *sp = ctx;
    return memcmp(sp->dead[v].id, key, SPOOL_ID_LEN) == 0;
}

sp_dead *spool_dead_find(spool *sp, const uint8_t id[SPOOL_ID_LEN])
{
    uint32_t v = spool_tab_find(&sp->dead_ix, spool_tab_hash_id(sp->seed, id),
                                dead_eq, sp, id);
    return v == SPOOL_TAB_NONE ? NULL : &sp->dead[v];
}

static void dead_remove(spool *sp, uint32_t i)
{
    uint32_t last = sp->ndead - 1;
    spool_tab_del(&sp->dead_ix, spool_tab_hash_id(sp->seed, sp->dead[i].id),
                  i);
    if (i != last) {
        uint32_t h = spool_tab_hash_id(sp->seed, sp->dead[last].id);
        spool_tab_del(&sp->dead_ix, h, last);
        sp->dead[i] = sp->dead[last];
        spool_tab_add(&sp->dead_ix, h, i);  /* slot freed above: no alloc */
    }
    sp->ndead--;
}

static int pinned(spool *sp, const sp_dead *d)
{
    return d->pin && spool_seg_find(sp, d->pin);
}

/* Forget records past expiry + grace that pin nothing. */
static uint32_t dead_purge(spool *sp, uint64_t now)
{
    uint32_t n = 0;
    for (uint32_t i = sp->ndead; i-- > 0;) {
        sp_dead *d = &sp->dead[i];
        uint64_t until = spool_expiry(d->expiry, sp->o.dedup_grace_ms);
        if (until <= now && !pinned(sp, d)) {
            dead_remove(sp, i);
            n++;
        }
    }
    return n;
}

typedef struct evict_key {
    uint64_t expiry;
    uint32_t idx;
    int pinned;
} evict_key;

static int evict_cmp(const void *a, const void *b)
{
    const evict_key *x = a, *y = b;
    if (x->pinned != y->pinned)
        return x->pinned - y->pinned;
    if (x->expiry != y->expiry)
        return x->expiry < y->expiry ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int idx_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Evict the k unpinned records expiring soonest; -EAGAIN if there are
 * fewer than k. */
static int evict(spool *sp, uint32_t k, uint64_t now)
{
    uint32_t n = 0, *gone;
    evict_key *keys = malloc((size_t)sp->ndead * sizeof *keys);
    if (!keys)
        return -ENOMEM;
    for (uint32_t i = 0; i < sp->ndead; i++)
        if (!pinned(sp, &sp->dead[i])) {
            keys[n].expiry = sp->dead[i].expiry;
            keys[n].idx = i;
            keys[n].pinned = 0;
            n++;
        }
    if (n < k) {
        free(keys);
        return -EAGAIN;
    }
    qsort(keys, n, sizeof *keys, evict_cmp);
    if (!(gone = malloc((size_t)k * sizeof *gone))) {
        free(keys);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < k; i++)
        gone[i] = keys[i].idx;
    spool_logf(sp, SPOOL_EV_DEDUP_EVICTED, NULL,
               "delivered-id memory full (%u ids): forgetting %u ids before "
               "their expiry (soonest in %lld s, latest in %lld s); a resend "
               "of one of them would be stored again",
               sp->o.max_delivered, k,
               (long long)((int64_t)(keys[0].expiry - now) / 1000),
               (long long)((int64_t)(keys[k - 1].expiry - now) / 1000));
    free(keys);
    /* Highest index first: each removal moves the last record, which is
     * never one still to be removed. */
    qsort(gone, k, sizeof *gone, idx_desc);
    for (uint32_t i = 0; i < k; i++)
        dead_remove(sp, gone[i]);
    free(gone);
    return 0;
}

static int dead_make_room(spool *sp)
{
    uint64_t now = spool_now(sp);
    dead_purge(sp, now);
    if (sp->ndead < sp->o.max_delivered)
        return 0;
    return evict(sp, sp->ndead / 16 ? sp->ndead / 16 : 1, now);
}

int spool_dead_trim(spool *sp, char *err, size_t errlen)
{
    uint64_t now = spool_now(sp);
    int rc;
    dead_purge(sp, now);
    if (sp->ndead <= sp->o.max_delivered)
        return 0;
    rc = evict(sp, sp->ndead - sp->o.max_delivered, now);
    if (rc == -EAGAIN) {
        if ((rc = spool_compact_int(sp, 1, err, errlen)))
            return rc;
        rc = evict(sp, sp->ndead - sp->o.max_delivered, now);
    }
    return rc ? lg_errf(err, errlen, rc, "cannot bound the delivered-id "
                        "memory of %s: %s", sp->dir, lg_strerror(rc)) : 0;
}

int spool_dead_add(spool *sp, const uint8_t id[SPOOL_ID_LEN], uint64_t expiry,
                   uint32_t pin, uint8_t reason)
{
    sp_dead *d = spool_dead_find(sp, id);
    int rc;
    if (d) {
        if (expiry > d->expiry)
            d->expiry = expiry;
        if (pin)
            d->pin = pin;
        d->reason = reason;
        return 0;
    }
    if (sp->ndead >= sp->o.max_delivered && !sp->loading &&
        (rc = dead_make_room(sp)))
        return rc;
    if (sp->ndead == sp->dead_cap) {
        uint32_t ncap = sp->dead_cap ? sp->dead_cap * 2 : 256;
        sp_dead *nd;
        if (ncap > sp->o.max_delivered && !sp->loading)
            ncap = sp->o.max_delivered;
        if (ncap <= sp->ndead)
            return -ENOMEM;
        nd = realloc(sp->dead, (size_t)ncap * sizeof *nd);
        if (!nd)
            return -ENOMEM;
        sp->dead = nd;
        sp->dead_cap = ncap;
    }
    if ((rc = spool_tab_add(&sp->dead_ix, spool_tab_hash_id(sp->seed, id),
                            sp->ndead)))
        return rc;
    d = &sp->dead[sp->ndead++];
    memcpy(d->id, id, SPOOL_ID_LEN);
    d->expiry = expiry;
    d->pin = pin;
    d->reason = reason;
    return 0;
}

/* ----------------------------------------------------------- the file */

int spool_dlog_open(spool *sp, char *err, size_t errlen)
{
    struct stat st;
    int created = fstatat(sp->dfd, DLOG_NAME, &st, 0) < 0;
    sp->dlog_fd = openat(sp->dfd, DLOG_NAME,
                         O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (sp->dlog_fd < 0)
        return lg_errf(err, errlen, -errno, "%s/%s: %s", sp->dir, DLOG_NAME,
                       strerror(errno));
    if (created)
        sp->dir_dirty = 1;
    return 0;
}

int spool_dlog_append(spool *sp, const spool_drec *r, char *err,
                      size_t errlen)
{
    uint8_t rec[SPOOL_DLOG_REC];
    ssize_t n;
    spool_fmt_drec_encode(r, rec);
    do
        n = write(sp->dlog_fd, rec, sizeof rec);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof rec)
        /* A short append leaves a torn record that recovery cuts off, but
         * the offset of later appends is unknown now: stop writing. */
        return spool_fail(sp, n < 0 ? -errno : -EIO, err, errlen,
                          "append to %s/%s", sp->dir, DLOG_NAME);
    sp->dlog_recs++;
    sp->dlog_dirty = 1;
    return 0;
}

int spool_dlog_load(spool *sp, int pass, char *err, size_t errlen)
{
    struct stat st;
    uint64_t size, whole, bad = 0;
    if (fstat(sp->dlog_fd, &st) < 0)
        return lg_errf(err, errlen, -errno, "%s/%s: %s", sp->dir, DLOG_NAME,
                       strerror(errno));
    size = (uint64_t)st.st_size;
    whole = size - size % SPOOL_DLOG_REC;
    if (pass == 1 && whole != size) {
        /* Torn last append: its delete never returned, so dropping it
         * loses no promise; the bytes still go to quarantine. */
        int rc = spool_quarantine_range(sp, sp->dlog_fd, DLOG_NAME, whole, size,
                                        "torn record at the end of the "
                                        "delivered-id log", NULL);
        if (rc == 0 && (ftruncate(sp->dlog_fd, (off_t)whole) < 0 ||
                        spool_fsync(sp, sp->dlog_fd, 1) < 0))
            rc = -errno;
        if (rc)
            return lg_errf(err, errlen, rc, "cannot cut torn tail of %s/%s",
                           sp->dir, DLOG_NAME);
    }
    for (uint64_t off = 0; off < whole;) {
        size_t n = whole - off < SP_IOBUF ? (size_t)(whole - off) : SP_IOBUF;
        int rc = spool_pread_all(sp->dlog_fd, sp->iobuf, n, off);
        if (rc)
            return lg_errf(err, errlen, rc, "read %s/%s: %s", sp->dir,
                           DLOG_NAME, lg_strerror(rc));
        for (size_t i = 0; i < n; i += SPOOL_DLOG_REC) {
            spool_drec r;
            if (spool_fmt_drec_decode(sp->iobuf + i, &r)) {
                bad++;
                continue;
            }
            if (pass == 1 && r.type == SPOOL_DLOG_DELETED) {
                if ((rc = spool_dead_add(sp, r.id, r.value, 0, r.reason)))
                    return lg_errf(err, errlen, rc, "out of memory");
            } else if (pass == 2 && r.type == SPOOL_DLOG_PROGRESS) {
                sp_ent *e = spool_ix_find(sp, r.id);
                if (e) {
                    e->progress = r.value < e->size ? r.value : e->size;
                    e->progress_saved = e->progress;
                }
            }
        }
        off += n;
    }
    sp->dlog_recs = whole / SPOOL_DLOG_REC;
    if (pass == 1 && bad)
        spool_logf(sp, SPOOL_EV_WARN, NULL,
                   "%s/%s: %llu corrupt records skipped; those ids are no "
                   "longer deduplicated", sp->dir, DLOG_NAME,
                   (unsigned long long)bad);
    return 0;
}

/* Buffered record writer for the rewrite. */
typedef struct dl_out {
    spool *sp;
    int fd;
    size_t used;
    uint64_t n;
    int rc;
} dl_out;

static void out_flush(dl_out *w)
{
    ssize_t k;
    size_t done = 0;
    while (w->rc == 0 && done < w->used) {
        k = write(w->fd, w->sp->iobuf + done, w->used - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            w->rc = k < 0 ? -errno : -EIO;
        else
            done += (size_t)k;
    }
    w->used = 0;
}

static void out_rec(dl_out *w, const spool_drec *r)
{
    if (w->used + SPOOL_DLOG_REC > SP_IOBUF)
        out_flush(w);
    spool_fmt_drec_encode(r, w->sp->iobuf + w->used);
    w->used += SPOOL_DLOG_REC;
    w->n++;
}

int spool_dlog_compact(spool *sp, int force, char *err, size_t errlen)
{
    dl_out w = { sp, -1, 0, 0, 0 };
    int rc;
    if (!force && sp->dlog_recs <= 2 * sp->dlog_base + sp->o.dlog_slack)
        return 0;
    /* Unlinks of acked bundles are durable only with the directory; a
     * record may go only once its file or segment is surely gone. */
    if ((rc = spool_fsync(sp, sp->dfd, 0)))
        return spool_fail(sp, rc, err, errlen, "fsync %s", sp->dir);
    dead_purge(sp, spool_now(sp));
    w.fd = openat(sp->dfd, DLOG_TMP,
                  O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
    if (w.fd < 0)
        return lg_errf(err, errlen, -errno, "%s/%s: %s", sp->dir, DLOG_TMP,
                       strerror(errno));
    for (uint32_t i = 0; i < sp->ndead; i++) {
        spool_drec r = { SPOOL_DLOG_DELETED, sp->dead[i].reason, {0},
                         sp->dead[i].expiry };
        memcpy(r.id, sp->dead[i].id, SPOOL_ID_LEN);
        out_rec(&w, &r);
    }
    for (uint32_t i = 0; i < sp->nents; i++) {
        const sp_ent *e = &sp->ents[i];
        if ((e->flags & SP_E_LIVE) && e->progress_saved) {
            spool_drec r = { SPOOL_DLOG_PROGRESS, 0, {0}, e->progress_saved };
            memcpy(r.id, e->id, SPOOL_ID_LEN);
            out_rec(&w, &r);
        }
    }
    out_flush(&w);
    if (w.rc) {
        close(w.fd);
        unlinkat(sp->dfd, DLOG_TMP, 0);
        return lg_errf(err, errlen, w.rc, "write %s/%s: %s", sp->dir,
                       DLOG_TMP, lg_strerror(w.rc));
    }
    if ((rc = spool_fsync(sp, w.fd, 1)) ||
        (renameat(sp->dfd, DLOG_TMP, sp->dfd, DLOG_NAME) < 0 &&
         (rc = -errno)) ||
        (rc = spool_fsync(sp, sp->dfd, 0))) {
        close(w.fd);
        return spool_fail(sp, rc, err, errlen, "rewrite %s/%s", sp->dir,
                          DLOG_NAME);
    }
    close(sp->dlog_fd);
    sp->dlog_fd = w.fd;
    sp->dlog_recs = w.n;
    sp->dlog_base = w.n;
    sp->dlog_dirty = 0;
    sp->dir_dirty = 0;
    return 0;
}

void spool_dlog_free(spool *sp)
{
    if (sp->dlog_fd >= 0)
        close(sp->dlog_fd);
    sp->dlog_fd = -1;
    free(sp->dead);
    sp->dead = NULL;
    spool_tab_free(&sp->dead_ix);
}
