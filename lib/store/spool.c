/*
 * spool.c - the spool's public calls (spool.h): open/close, put (durable
 * and group-commit), sync, get/read, send order, acks and deletes, expiry
 * and compaction.
 *
 * Owns the struct spool and its file descriptors: the directory, the
 * quarantine directory, the LOCK file, the open segment, large files
 * awaiting spool_sync, and (through spool_dlog.c) delivered.log.
 * Threading: one thread at a time per spool (see spool.h); nothing here is
 * global, so separate spools may be used from separate threads.
 *
 * Durability points (the daemon acks its previous hop only after them):
 *  - small bundle: pwritev into the open segment, then spool_sync:
 *    fdatasync(segment) (+ fsync(dir) if the segment is new);
 *  - large bundle: b-ID.tmp written, then spool_sync: fdatasync(tmp),
 *    rename to b-ID.bdl, fsync(dir);
 *  - delete: a record appended to delivered.log, then spool_sync:
 *    fdatasync(delivered.log); files are unlinked (and empty segments
 *    removed) only after that, so a crash can leave a dead bundle behind
 *    (recovery removes it) but never forget a delivered id.
 */
#include "spool_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "lgerr.h"

void spool_opts_init(spool_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_bytes = 1ull << 30;
    o->max_count = 100000;
    o->reserve_pct = 10;
    o->max_bundle = 1ull << 30;
    o->small_max = 64u << 10;
    o->segment_bytes = 8u << 20;
    o->max_delivered = 0;       /* 4 * max_count, filled at open */
    o->dedup_grace_ms = 3600u * 1000u;
    o->progress_step = 16u << 20;
    o->dlog_slack = 4096;
    o->create = 1;
}

const char *spool_reason_name(spool_reason why)
{
    switch (why) {
    case SPOOL_ACKED: return "acked";
    case SPOOL_DELIVERED: return "delivered";
    case SPOOL_EXPIRED: return "expired";
    case SPOOL_CANCELLED: return "cancelled";
    case SPOOL_ADMIN: return "removed by operator";
    }
    return "unknown";
}

void spool_id_hex(const uint8_t id[SPOOL_ID_LEN], char out[33])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < SPOOL_ID_LEN; i++) {
        out[2 * i] = hx[id[i] >> 4];
        out[2 * i + 1] = hx[id[i] & 15];
    }
    out[32] = 0;
}

static int refuse(spool *sp, char *err, size_t errlen)
{
    return lg_errf(err, errlen, sp->broken, "spool %s refuses writes after "
                   "an earlier failure (%s); reopen it to recover",
                   sp->dir, sp->broken_why);
}

/* ------------------------------------------------------------- open */

static void fill_defaults(spool_opts *o)
{
    spool_opts d;
    spool_opts_init(&d);
    if (!o->max_bytes)
        o->max_bytes = d.max_bytes;
    if (!o->max_count)
        o->max_count = d.max_count;
    if (o->reserve_pct > 100)
        o->reserve_pct = 100;
    if (!o->max_bundle)
        o->max_bundle = d.max_bundle;
    if (!o->small_max)
        o->small_max = d.small_max;
    if (!o->segment_bytes)
        o->segment_bytes = d.segment_bytes;
    if (o->small_max > SP_IOBUF - SPOOL_FMT_HDR_MAX)
        o->small_max = SP_IOBUF - SPOOL_FMT_HDR_MAX;
    if (!o->max_delivered)
        o->max_delivered = o->max_count > UINT32_MAX / 4 ? UINT32_MAX
                                                         : o->max_count * 4;
    if (o->max_delivered < 1024)
        o->max_delivered = 1024;
    if (!o->progress_step)
        o->progress_step = d.progress_step;
    if (!o->dlog_slack)
        o->dlog_slack = d.dlog_slack;
}

static int make_dir(const char *dir, char *err, size_t errlen)
{
    char parent[4096];
    int pfd;
    if (mkdir(dir, 0750) < 0) {
        if (errno == EEXIST)
            return 0;
        return lg_errf(err, errlen, -errno, "mkdir %s: %s", dir,
                       strerror(errno));
    }
    /* The new directory's name lives in its parent. */
    snprintf(parent, sizeof parent, "%s", dir);
    pfd = open(dirname(parent), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd >= 0) {
        fsync(pfd);
        close(pfd);
    }
    return 0;
}

int spool_open(spool **out, const char *dir, const spool_opts *opts,
               char *err, size_t errlen)
{
    spool *sp;
    int rc;
    *out = NULL;
    if (!dir || !*dir || strlen(dir) >= sizeof sp->dir)
        return lg_errf(err, errlen, -EINVAL, "bad spool directory name");
    if (!(sp = calloc(1, sizeof *sp)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    if (opts)
        sp->o = *opts;
    else
        spool_opts_init(&sp->o);
    fill_defaults(&sp->o);
    snprintf(sp->dir, sizeof sp->dir, "%s", dir);
    sp->dfd = sp->qfd = sp->lockfd = sp->act_fd = sp->dlog_fd = -1;
    sp->free_head = sp->name_free = SP_NIL;
    sp->next_seq = 1;
    sp->next_seg = 1;
    if (getrandom(&sp->seed, sizeof sp->seed, GRND_NONBLOCK) !=
        (ssize_t)sizeof sp->seed)
        sp->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^
                   (uint64_t)(uintptr_t)sp;
    sp->iobuf = malloc(SP_IOBUF);
    sp->unlinks = malloc(SP_UNLINKS * sizeof *sp->unlinks);
    if (!sp->iobuf || !sp->unlinks) {
        rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
        goto fail;
    }
    if (sp->o.create && (rc = make_dir(dir, err, errlen)))
        goto fail;
    sp->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dfd < 0) {
        rc = lg_errf(err, errlen, -errno, "open %s: %s", dir, strerror(errno));
        goto fail;
    }
    sp->lockfd = openat(sp->dfd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (sp->lockfd < 0) {
        rc = lg_errf(err, errlen, -errno, "%s/LOCK: %s", dir, strerror(errno));
        goto fail;
    }
    if (flock(sp->lockfd, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK
                 ? lg_errf(err, errlen, -EBUSY, "spool %s is in use by "
                           "another process or handle", dir)
                 : lg_errf(err, errlen, -errno, "flock %s/LOCK: %s", dir,
                           strerror(errno));
        goto fail;
    }
    if (mkdirat(sp->dfd, "quarantine", 0750) == 0)
        sp->dir_dirty = 1;
    else if (errno != EEXIST) {
        rc = lg_errf(err, errlen, -errno, "mkdir %s/quarantine: %s", dir,
                     strerror(errno));
        goto fail;
    }
    sp->qfd = openat(sp->dfd, "quarantine", O_RDONLY | O_DIRECTORY |
                     O_CLOEXEC);
    if (sp->qfd < 0) {
        rc = lg_errf(err, errlen, -errno, "%s/quarantine: %s", dir,
                     strerror(errno));
        goto fail;
    }
    sp->loading = 1;
    rc = spool_recover(sp, err, errlen);
    sp->loading = 0;
    if (rc)
        goto fail;
    rc = spool_expire(sp, spool_now(sp), err, errlen);
    if (rc < 0 || (rc = spool_dead_trim(sp, err, errlen)))
        goto fail;
    for (uint32_t i = 0; i < sp->nsegs; i++)
        if (sp->segs[i].bad) {
            /* Copy the good entries out of segments that held a bad
             * range, so it is not quarantined again at every open. */
            if ((rc = spool_compact_int(sp, 0, err, errlen)))
                goto fail;
            break;
        }
    sp->dlog_base = sp->ndead;
    *out = sp;
    return 0;
fail:
    sp->broken = rc;            /* close without syncing */
    spool_close(sp, NULL, 0);
    return rc;
}

int spool_close(spool *sp, char *err, size_t errlen)
{
    int rc = 0;
    if (!sp)
        return 0;
    if (!sp->broken)
        rc = spool_sync(sp, err, errlen);
    else if (sp->dfd >= 0 && sp->broken_why[0])
        rc = refuse(sp, err, errlen);
    for (uint32_t i = 0; i < sp->npfiles; i++)
        close(sp->pfiles[i].fd);
    if (sp->act_fd >= 0)
        close(sp->act_fd);
    spool_dlog_free(sp);
    if (sp->qfd >= 0)
        close(sp->qfd);
    if (sp->lockfd >= 0)
        close(sp->lockfd);     /* releases the flock */
    if (sp->dfd >= 0)
        close(sp->dfd);
    spool_ix_free(sp);
    free(sp->unlinks);
    free(sp->iobuf);
    free(sp);
    return rc;
}

/* ------------------------------------------------------------- sync */

/* Unlink segments with nothing live (their dead entries are recorded). */
static void reap_segments(spool *sp)
{
    if (!sp->reap)
        return;
    sp->reap = 0;
    for (uint32_t i = sp->nsegs; i-- > 0;) {
        sp_seg *s = &sp->segs[i];
        if (s->live == 0 && s->no != sp->act_no) {
            char name[64];
            spool_seg_name(name, s->no);
            if (unlinkat(sp->dfd, name, 0) < 0 && errno != ENOENT)
                spool_logf(sp, SPOOL_EV_WARN, NULL, "unlink %s/%s: %s",
                           sp->dir, name, strerror(errno));
            spool_seg_del(sp, s->no);
        }
    }
}

static int sync_segment(spool *sp, char *err, size_t errlen)
{
    int rc;
    if (!sp->act_dirty)
        return 0;
    if ((rc = spool_fsync(sp, sp->act_fd, 1)))
        return spool_fail(sp, rc, err, errlen, "fdatasync %s segment %u",
                          sp->dir, sp->act_no);
    sp->act_dirty = 0;
    sp->act_synced = spool_seg_find(sp, sp->act_no)->size;
    return 0;
}

int spool_sync(spool *sp, char *err, size_t errlen)
{
    int rc;
    if (sp->broken)
        return refuse(sp, err, errlen);
    if ((rc = sync_segment(sp, err, errlen)))
        return rc;
    /* Start writeback of every pending file before waiting on any. */
    if (sp->npfiles > 1)
        for (uint32_t i = 0; i < sp->npfiles; i++)
            sync_file_range(sp->pfiles[i].fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    while (sp->npfiles) {
        sp_pfile *pf = &sp->pfiles[sp->npfiles - 1];
        sp_ent *e = &sp->ents[pf->ent];
        char tmp[64], fin[64];
        spool_file_name(tmp, e->id, 1);
        spool_file_name(fin, e->id, 0);
        if ((rc = spool_fsync(sp, pf->fd, 1)))
            return spool_fail(sp, rc, err, errlen, "fdatasync %s/%s",
                              sp->dir, tmp);
        if (renameat(sp->dfd, tmp, sp->dfd, fin) < 0)
            return spool_fail(sp, -errno, err, errlen, "rename %s/%s",
                              sp->dir, tmp);
        close(pf->fd);
        e->flags &= (uint8_t)~SP_E_TMP;
        sp->npfiles--;
        sp->dir_dirty = 1;
    }
    if (sp->dlog_dirty) {
        if ((rc = spool_fsync(sp, sp->dlog_fd, 1)))
            return spool_fail(sp, rc, err, errlen,
                              "fdatasync %s/delivered.log", sp->dir);
        sp->dlog_dirty = 0;
    }
    /* The records are durable: now the bundles may go. */
    for (uint32_t i = 0; i < sp->nunlinks; i++) {
        char name[64];
        spool_file_name(name, sp->unlinks[i], 0);
        if (unlinkat(sp->dfd, name, 0) < 0 && errno != ENOENT)
            spool_logf(sp, SPOOL_EV_WARN, NULL, "unlink %s/%s: %s", sp->dir,
                       name, strerror(errno));
    }
    sp->nunlinks = 0;
    if (sp->act_fd >= 0) {
        /* An open segment whose entries are all dead pins their records
         * in delivered.log; retire it once it is worth a new file. */
        sp_seg *a = spool_seg_find(sp, sp->act_no);
        if (a->live == 0 && a->size >= sp->o.segment_bytes / 8) {
            sp->reap = 1;
            close(sp->act_fd);
            sp->act_fd = -1;
            sp->act_no = 0;
            sp->act_synced = 0;
        }
    }
    reap_segments(sp);
    if (sp->dir_dirty) {
        if ((rc = spool_fsync(sp, sp->dfd, 0)))
            return spool_fail(sp, rc, err, errlen, "fsync %s", sp->dir);
        sp->dir_dirty = 0;
    }
    sp->pending = 0;
    return spool_dlog_compact(sp, 0, err, errlen);
}

/* -------------------------------------------------------------- put */

static int seal_active(spool *sp, char *err, size_t errlen)
{
    int rc;
    if (sp->act_fd < 0)
        return 0;
    if ((rc = sync_segment(sp, err, errlen)))
        return rc;
    close(sp->act_fd);
    sp->act_fd = -1;
    sp->act_no = 0;
    sp->act_synced = 0;
    sp->reap = 1;               /* it may hold nothing live */
    return 0;
}

/* Where the next entry of `padded` bytes goes: the open segment, or a new
 * one when it would pass segment_bytes. */
static int seg_reserve(spool *sp, uint64_t padded, uint32_t *no,
                       uint64_t *off, char *err, size_t errlen)
{
    int rc;
    if (sp->act_fd >= 0) {
        sp_seg *s = spool_seg_find(sp, sp->act_no);
        if (s->size > 0 && s->size + padded > sp->o.segment_bytes &&
            (rc = seal_active(sp, err, errlen)))
            return rc;
    }
    if (sp->act_fd < 0) {
        char name[64];
        uint32_t n = sp->next_seg;
        if (n == 0)
            return lg_errf(err, errlen, -EOVERFLOW, "segment numbers "
                           "exhausted in %s", sp->dir);
        spool_seg_name(name, n);
        sp->act_fd = openat(sp->dfd, name, O_RDWR | O_CREAT | O_EXCL |
                            O_CLOEXEC, 0640);
        if (sp->act_fd < 0)
            return lg_errf(err, errlen, -errno, "create %s/%s: %s", sp->dir,
                           name, strerror(errno));
        if (!spool_seg_add(sp, n)) {
            close(sp->act_fd);
            sp->act_fd = -1;
            unlinkat(sp->dfd, name, 0);
            return lg_errf(err, errlen, -ENOMEM, "out of memory");
        }
        sp->act_no = n;
        sp->act_synced = 0;
        sp->dir_dirty = 1;
    }
    *no = sp->act_no;
    *off = spool_seg_find(sp, sp->act_no)->size;
    return 0;
}

/* A job tag: "" (0), or 1..16 printable bytes (its length); -1 if bad. */
static int job_len(const char *job)
{
    int n = 0;
    for (; job[n]; n++) {
        unsigned char c = (unsigned char)job[n];
        if (n >= SPOOL_JOB_MAX - 1 || c < 0x20 || c == 0x7f)
            return -1;
    }
    return n;
}

static int check_meta(spool *sp, const spool_meta *m, const void *payload,
                      int *src_len, int *dst_len, int *jlen, char *err,
                      size_t errlen)
{
    char hex[33];
    spool_id_hex(m->id, hex);
    if ((*jlen = job_len(m->job)) < 0 || (!*jlen && m->job_epoch))
        return lg_errf(err, errlen, -EINVAL, "bundle %s: a job tag is "
                       "0..%d printable bytes, and a bundle of no job has "
                       "epoch 0", hex, SPOOL_JOB_MAX - 1);
    if ((*src_len = spool_fmt_name_len(m->src)) < 0 ||
        (*dst_len = spool_fmt_name_len(m->dst)) < 0)
        return lg_errf(err, errlen, -EINVAL, "bundle %s: node names must be "
                       "1..%d printable bytes", hex, SPOOL_NAME_MAX - 1);
    if (m->priority > SPOOL_PRIO_MAX)
        return lg_errf(err, errlen, -EINVAL, "bundle %s: priority %u > %d",
                       hex, m->priority, SPOOL_PRIO_MAX);
    if (m->size > sp->o.max_bundle)
        return lg_errf(err, errlen, -EFBIG, "bundle %s: %llu bytes, over "
                       "max_bundle %llu", hex, (unsigned long long)m->size,
                       (unsigned long long)sp->o.max_bundle);
    if (m->size > SIZE_MAX || (m->size && !payload))
        return lg_errf(err, errlen, -EINVAL, "bundle %s: no payload", hex);
    return 0;
}

/* Limit for priority p: the full limit less (7 - p)/7 of the reserve. */
static uint64_t limit_for(uint64_t full, uint32_t reserve_pct, unsigned p)
{
    unsigned __int128 cut = (unsigned __int128)full * reserve_pct *
                            (SPOOL_PRIO_MAX - p);
    return full - (uint64_t)(cut / (100u * SPOOL_PRIO_MAX));
}

static int put_common(spool *sp, const spool_meta *m, const void *payload,
                      int durable, char *err, size_t errlen)
{
    uint8_t hb[SPOOL_FMT_HDR_MAX];
    spool_hdr h;
    uint64_t now, expiry, stored, lim_n, lim_b, off = 0;
    uint32_t seg = 0, ei = SP_NIL;
    int src_len = 0, dst_len = 0, jlen = 0, rc;
    char hex[33];

    if (sp->broken)
        return refuse(sp, err, errlen);
    if ((rc = check_meta(sp, m, payload, &src_len, &dst_len, &jlen, err,
                         errlen)))
        return rc;
    if (spool_ix_find(sp, m->id) || spool_dead_find(sp, m->id)) {
        /* The earlier copy (or its delete) may still be pending: a durable
         * put promises durability of whatever made this a duplicate. */
        if (durable && (rc = spool_sync(sp, err, errlen)))
            return rc;
        return SPOOL_DUPLICATE;
    }
    spool_id_hex(m->id, hex);
    now = spool_now(sp);
    expiry = spool_expiry(m->created_unix_ms, m->lifetime_ms);
    if (expiry <= now)
        return lg_errf(err, errlen, -ETIME, "bundle %s from %s expired %llu "
                       "ms ago; not stored", hex, m->src,
                       (unsigned long long)(now - expiry));
    stored = spool_fmt_hdr_len((unsigned)src_len, (unsigned)dst_len,
                               (unsigned)jlen) + m->size;
    lim_n = limit_for(sp->o.max_count, sp->o.reserve_pct, m->priority);
    lim_b = limit_for(sp->o.max_bytes, sp->o.reserve_pct, m->priority);
    if (sp->count + 1 > lim_n || stored > lim_b || sp->bytes > lim_b - stored)
        return lg_errf(err, errlen, -ENOSPC, "spool %s full for priority %u: "
                       "%llu bundles, %llu bytes stored; priority %u may use "
                       "%llu bundles, %llu bytes (limits %u, %llu); bundle %s "
                       "(%llu bytes) not stored, retry later", sp->dir,
                       m->priority, (unsigned long long)sp->count,
                       (unsigned long long)sp->bytes, m->priority,
                       (unsigned long long)lim_n, (unsigned long long)lim_b,
                       sp->o.max_count, (unsigned long long)sp->o.max_bytes,
                       hex, (unsigned long long)stored);

    memset(&h, 0, sizeof h);
    memcpy(h.id, m->id, SPOOL_ID_LEN);
    h.seq = sp->next_seq;
    h.created = m->created_unix_ms;
    h.lifetime = m->lifetime_ms;
    h.payload_len = m->size;
    h.kind = m->kind;
    h.priority = m->priority;
    h.src_len = (uint8_t)src_len;
    h.dst_len = (uint8_t)dst_len;
    memcpy(h.src, m->src, (size_t)src_len + 1);
    memcpy(h.dst, m->dst, (size_t)dst_len + 1);
    h.job_len = (uint8_t)jlen;
    memcpy(h.job, m->job, (size_t)jlen + 1);
    h.job_epoch = jlen ? m->job_epoch : 0;
    spool_fmt_encode(&h, payload, hb);

    if (m->size <= sp->o.small_max) {
        uint64_t total = h.hdr_len + m->size;
        size_t pad = (size_t)(((total + 7) & ~(uint64_t)7) - total);
        if ((rc = seg_reserve(sp, total + pad, &seg, &off, err, errlen)))
            return rc;
        if ((rc = spool_pwritev_all(sp->act_fd, hb, h.hdr_len, payload,
                                    (size_t)m->size, pad, off)))
            /* Nothing was promised; the next append overwrites the
             * partial bytes (or recovery quarantines them). */
            return lg_errf(err, errlen, rc, "write segment %u of %s: %s",
                           seg, sp->dir, lg_strerror(rc));
        spool_seg_find(sp, seg)->size = off + total + pad;
        sp->act_dirty = 1;
        ei = spool_ix_add(sp, &h, seg, off);
    } else {
        char tmp[64];
        int fd;
        if (sp->npfiles == SP_PFILES && (rc = spool_sync(sp, err, errlen)))
            return rc;
        spool_file_name(tmp, m->id, 1);
        fd = openat(sp->dfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0640);
        if (fd < 0)
            return lg_errf(err, errlen, -errno, "create %s/%s: %s", sp->dir,
                           tmp, strerror(errno));
        rc = spool_pwritev_all(fd, hb, h.hdr_len, payload, (size_t)m->size,
                               0, 0);
        if (rc == 0 && (ei = spool_ix_add(sp, &h, 0, 0)) == SP_NIL)
            rc = -ENOMEM;
        if (rc) {
            close(fd);
            unlinkat(sp->dfd, tmp, 0);   /* our own unfinished write */
            return lg_errf(err, errlen, rc, "write %s/%s: %s", sp->dir, tmp,
                           lg_strerror(rc));
        }
        sp->ents[ei].flags |= SP_E_TMP;
        sp->pfiles[sp->npfiles].fd = fd;
        sp->pfiles[sp->npfiles].ent = ei;
        sp->npfiles++;
    }
    if (ei == SP_NIL)
        /* Written but not indexed: it will appear after a restart, which
         * is harmless (nothing was acked; the sender resends, we dedup). */
        return lg_errf(err, errlen, -ENOMEM, "out of memory indexing %s",
                       hex);
    spool_ix_queue(sp, ei);
    if (durable)
        return spool_sync(sp, err, errlen);
    sp->pending++;
    return 0;
}

int spool_put(spool *sp, const spool_meta *m, const void *payload,
              char *err, size_t errlen)
{
    return put_common(sp, m, payload, 1, err, errlen);
}

int spool_put_nosync(spool *sp, const spool_meta *m, const void *payload,
                     char *err, size_t errlen)
{
    return put_common(sp, m, payload, 0, err, errlen);
}

/* --------------------------------------------------------- reading */

/* An fd to read entry e from; *own says whether the caller closes it. */
static int ent_fd(spool *sp, const sp_ent *e, int *own)
{
    char name[64];
    int fd;
    *own = 0;
    if (e->seg == sp->act_no && e->seg)
        return sp->act_fd;
    if (!e->seg && (e->flags & SP_E_TMP)) {
        for (uint32_t i = 0; i < sp->npfiles; i++)
            if (&sp->ents[sp->pfiles[i].ent] == e)
                return sp->pfiles[i].fd;
    }
    if (e->seg)
        spool_seg_name(name, e->seg);
    else
        spool_file_name(name, e->id, 0);
    fd = openat(sp->dfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    *own = 1;
    return fd;
}

int spool_stat(spool *sp, const uint8_t id[SPOOL_ID_LEN], spool_meta *m)
{
    sp_ent *e = spool_ix_find(sp, id);
    if (!e)
        return -ENOENT;
    if (m)
        spool_ix_meta(sp, e, m);
    return 0;
}

/* The stored copy of e failed verification: move it aside, forget it. */
static void went_bad(spool *sp, sp_ent *e, int fd, const char *why)
{
    spool_meta m;
    char name[64];
    uint32_t ei = (uint32_t)(e - sp->ents);
    spool_ix_meta(sp, e, &m);
    if (e->seg) {
        spool_seg_name(name, e->seg);
        spool_quarantine_range(sp, fd, name, e->off,
                               e->off + spool_ix_padded(e), why, &m);
        spool_seg_find(sp, e->seg)->bad = 1;
    } else {
        for (uint32_t i = 0; i < sp->npfiles; i++)
            if (sp->pfiles[i].ent == ei) {
                close(sp->pfiles[i].fd);
                sp->pfiles[i] = sp->pfiles[--sp->npfiles];
                break;
            }
        spool_file_name(name, e->id, (e->flags & SP_E_TMP) != 0);
        spool_quarantine_file(sp, name, why, &m);
    }
    spool_ix_remove(sp, ei);
}

int spool_get(spool *sp, const uint8_t id[SPOOL_ID_LEN], spool_meta *m,
              void *buf, size_t cap, char *err, size_t errlen)
{
    uint8_t hb[SPOOL_FMT_HDR_MAX];
    sp_ent *e = spool_ix_find(sp, id);
    spool_hdr h;
    char hex[33], why[160];
    int fd, own, rc;
    uint32_t c;
    spool_id_hex(id, hex);
    if (!e)
        return lg_errf(err, errlen, -ENOENT, "no bundle %s", hex);
    if (m)
        spool_ix_meta(sp, e, m);
    if (cap < e->size)
        return lg_errf(err, errlen, -ENOBUFS, "bundle %s has %llu bytes, "
                       "buffer %zu", hex, (unsigned long long)e->size, cap);
    if ((fd = ent_fd(sp, e, &own)) < 0)
        return lg_errf(err, errlen, fd, "bundle %s: %s", hex,
                       lg_strerror(fd));
    rc = spool_pread_all(fd, hb, e->hdr_len, e->off);
    if (rc == 0)
        rc = spool_pread_all(fd, buf, (size_t)e->size, e->off + e->hdr_len);
    if (rc) {
        if (own)
            close(fd);
        return lg_errf(err, errlen, rc, "read bundle %s: %s", hex,
                       lg_strerror(rc));
    }
    rc = spool_fmt_decode(hb, e->hdr_len, &h, why, sizeof why);
    if (rc == 0 && (memcmp(h.id, e->id, SPOOL_ID_LEN) ||
                    h.payload_len != e->size || h.crc != e->crc)) {
        snprintf(why, sizeof why, "header changed on disk");
        rc = -EBADMSG;
    }
    if (rc == 0) {
        c = crc32c(spool_fmt_crc_hdr(hb, e->hdr_len), buf, (size_t)e->size);
        if (c != e->crc) {
            snprintf(why, sizeof why, "checksum mismatch on read");
            rc = -EBADMSG;
        }
    }
    if (rc) {
        went_bad(sp, e, fd, why);
        rc = lg_errf(err, errlen, -EIO, "bundle %s is corrupt on disk (%s); "
                     "moved to quarantine", hex, why);
    }
    if (own)
        close(fd);
    return rc;
}

int spool_read(spool *sp, const uint8_t id[SPOOL_ID_LEN], uint64_t off,
               void *buf, size_t len, char *err, size_t errlen)
{
    sp_ent *e = spool_ix_find(sp, id);
    char hex[33];
    int fd, own, rc;
    spool_id_hex(id, hex);
    if (!e)
        return lg_errf(err, errlen, -ENOENT, "no bundle %s", hex);
    if (off > e->size || len > e->size - off)
        return lg_errf(err, errlen, -ERANGE, "bundle %s: bytes %llu+%zu "
                       "past its %llu", hex, (unsigned long long)off, len,
                       (unsigned long long)e->size);
    if ((fd = ent_fd(sp, e, &own)) < 0)
        return lg_errf(err, errlen, fd, "bundle %s: %s", hex,
                       lg_strerror(fd));
    rc = spool_pread_all(fd, buf, len, e->off + e->hdr_len + off);
    if (own)
        close(fd);
    if (rc)
        return lg_errf(err, errlen, rc, "read bundle %s: %s", hex,
                       lg_strerror(rc));
    return 0;
}

/* ------------------------------------------------------ send order */

/* First sendable entry in a queue, or SP_NIL. */
static uint32_t first_ready(spool *sp, uint32_t ei, uint64_t now)
{
    for (; ei != SP_NIL; ei = sp->ents[ei].next) {
        const sp_ent *e = &sp->ents[ei];
        if (!(e->flags & SP_E_INFLIGHT) &&
            spool_expiry(e->created, e->lifetime) > now)
            return ei;
    }
    return SP_NIL;
}

static int better(const sp_ent *a, const sp_ent *b)
{
    if (a->prio != b->prio)
        return a->prio > b->prio;
    if (a->created != b->created)
        return a->created < b->created;
    return a->seq < b->seq;
}

int spool_next(spool *sp, const spool_filter *f, spool_meta *m)
{
    uint64_t now = spool_now(sp);
    uint32_t best = SP_NIL;
    uint32_t one = SP_NIL;
    if (f && f->dst && (one = spool_ix_name_find(sp, f->dst)) == SP_NIL)
        return -ENOENT;
    for (uint32_t i = one == SP_NIL ? 0 : one;
         i < (one == SP_NIL ? sp->nnames : one + 1); i++) {
        sp_name *n = &sp->names[i];
        if (!n->refs || !n->queued)
            continue;
        if (one == SP_NIL && f && f->match && !f->match(f->arg, n->s))
            continue;
        for (int p = SPOOL_PRIO_MAX; p >= 0; p--) {
            uint32_t ei;
            if (best != SP_NIL && sp->ents[best].prio > p)
                break;
            ei = first_ready(sp, n->head[p], now);
            if (ei != SP_NIL) {
                if (best == SP_NIL || better(&sp->ents[ei], &sp->ents[best]))
                    best = ei;
                break;
            }
        }
    }
    if (best == SP_NIL)
        return -ENOENT;
    sp->ents[best].flags |= SP_E_INFLIGHT;
    sp->inflight++;
    if (m)
        spool_ix_meta(sp, &sp->ents[best], m);
    return 0;
}

int spool_release(spool *sp, const uint8_t id[SPOOL_ID_LEN])
{
    sp_ent *e = spool_ix_find(sp, id);
    if (!e)
        return -ENOENT;
    if (e->flags & SP_E_INFLIGHT) {
        e->flags &= (uint8_t)~SP_E_INFLIGHT;
        sp->inflight--;
    }
    return 0;
}

int spool_set_progress(spool *sp, const uint8_t id[SPOOL_ID_LEN],
                       uint64_t off)
{
    sp_ent *e = spool_ix_find(sp, id);
    if (!e)
        return -ENOENT;
    if (off > e->size)
        return -ERANGE;
    e->progress = off;
    if (!sp->broken && (off < e->progress_saved ||
                        off - e->progress_saved >= sp->o.progress_step)) {
        spool_drec r = { SPOOL_DLOG_PROGRESS, 0, {0}, off };
        memcpy(r.id, id, SPOOL_ID_LEN);
        int rc = spool_dlog_append(sp, &r, NULL, 0);
        if (rc)
            return rc;
        e->progress_saved = off;
    }
    return 0;
}

/* ---------------------------------------------------------- deletes */

static int delete_common(spool *sp, const uint8_t id[SPOOL_ID_LEN],
                         spool_reason why, int durable, char *err,
                         size_t errlen)
{
    sp_ent *e;
    uint32_t ei;
    uint64_t expiry;
    char hex[33];
    int rc;
    if (sp->broken)
        return refuse(sp, err, errlen);
    spool_id_hex(id, hex);
    if (why < SPOOL_ACKED || why > SPOOL_ADMIN)
        return lg_errf(err, errlen, -EINVAL, "bundle %s: bad reason %d", hex,
                       (int)why);
    if (!(e = spool_ix_find(sp, id)))
        return lg_errf(err, errlen, -ENOENT, "no bundle %s", hex);
    ei = (uint32_t)(e - sp->ents);
    expiry = spool_expiry(e->created, e->lifetime);
    rc = spool_dead_add(sp, id, expiry, e->seg, (uint8_t)why);
    if (rc == -EAGAIN) {
        /* Memory full of records that pin segments: rewrite those
         * segments (which unpins them), then evict. */
        if ((rc = spool_compact_int(sp, 1, err, errlen)))
            return rc;
        e = spool_ix_find(sp, id);
        rc = spool_dead_add(sp, id, expiry, e->seg, (uint8_t)why);
    }
    if (rc)
        return lg_errf(err, errlen, rc, "bundle %s: cannot remember its id: "
                       "%s", hex, lg_strerror(rc));
    {
        spool_drec r = { SPOOL_DLOG_DELETED, (uint8_t)why, {0}, expiry };
        memcpy(r.id, id, SPOOL_ID_LEN);
        if ((rc = spool_dlog_append(sp, &r, err, errlen)))
            return rc;
    }
    if (!e->seg) {
        if (e->flags & SP_E_TMP) {
            /* Never durable: drop the write in progress now. */
            char tmp[64];
            for (uint32_t i = 0; i < sp->npfiles; i++)
                if (sp->pfiles[i].ent == ei) {
                    close(sp->pfiles[i].fd);
                    sp->pfiles[i] = sp->pfiles[--sp->npfiles];
                    break;
                }
            spool_file_name(tmp, id, 1);
            unlinkat(sp->dfd, tmp, 0);
        } else {
            memcpy(sp->unlinks[sp->nunlinks++], id, SPOOL_ID_LEN);
        }
    }
    spool_ix_remove(sp, ei);
    if (durable || sp->nunlinks == SP_UNLINKS)
        return spool_sync(sp, err, errlen);
    sp->pending++;
    return 0;
}

int spool_delete(spool *sp, const uint8_t id[SPOOL_ID_LEN], spool_reason why,
                 char *err, size_t errlen)
{
    return delete_common(sp, id, why, 1, err, errlen);
}

int spool_delete_nosync(spool *sp, const uint8_t id[SPOOL_ID_LEN],
                        spool_reason why, char *err, size_t errlen)
{
    return delete_common(sp, id, why, 0, err, errlen);
}

int spool_ack(spool *sp, const uint8_t id[SPOOL_ID_LEN], char *err,
              size_t errlen)
{
    return delete_common(sp, id, SPOOL_ACKED, 1, err, errlen);
}

int spool_expire(spool *sp, uint64_t now, char *err, size_t errlen)
{
    int n = 0, rc;
    for (uint32_t i = 0; i < sp->nents; i++) {
        sp_ent *e = &sp->ents[i];
        spool_meta m;
        char hex[33];
        uint64_t exp;
        if (!(e->flags & SP_E_LIVE))
            continue;
        exp = spool_expiry(e->created, e->lifetime);
        if (exp > now)
            continue;
        spool_ix_meta(sp, e, &m);
        spool_id_hex(e->id, hex);
        spool_logf(sp, SPOOL_EV_EXPIRED, &m,
                   "expired bundle %s src=%s dst=%s age=%lld ms "
                   "lifetime=%llu ms priority=%u size=%llu%s", hex, m.src,
                   m.dst, (long long)(now - e->created),
                   (unsigned long long)e->lifetime, e->prio,
                   (unsigned long long)e->size,
                   (e->flags & SP_E_INFLIGHT) ? " (was in flight)" : "");
        if ((rc = delete_common(sp, e->id, SPOOL_EXPIRED, 0, err, errlen)))
            return rc;
        n++;
    }
    if (n && (rc = spool_sync(sp, err, errlen)))
        return rc;
    return n;
}

int spool_drop_job(spool *sp, const char *job, uint32_t epoch,
                   spool_reason why,
                   void (*each)(void *arg, const spool_meta *m), void *arg,
                   uint64_t *bytes, char *err, size_t errlen)
{
    uint64_t b = 0;
    int n = 0, rc;
    if (bytes)
        *bytes = 0;
    if (sp->broken)
        return refuse(sp, err, errlen);
    if (!job || job_len(job) <= 0)
        return lg_errf(err, errlen, -EINVAL, "drop: a job tag is 1..%d "
                       "printable bytes", SPOOL_JOB_MAX - 1);
    if (why < SPOOL_ACKED || why > SPOOL_ADMIN)
        return lg_errf(err, errlen, -EINVAL, "drop: bad reason %d",
                       (int)why);
    for (uint32_t i = 0; i < sp->nents; i++) {
        sp_ent *e = &sp->ents[i];
        if (!(e->flags & SP_E_LIVE) || strcmp(e->job, job) ||
            (epoch && e->job_epoch != epoch))
            continue;
        if (each) {
            spool_meta m;
            spool_ix_meta(sp, e, &m);
            each(arg, &m);
        }
        b += e->size;
        /* The slot is freed, never moved: the scan goes on. */
        if ((rc = delete_common(sp, e->id, why, 0, err, errlen)))
            return rc;
        n++;
    }
    if (n && (rc = spool_sync(sp, err, errlen)))
        return rc;
    if (bytes)
        *bytes = b;
    return n;
}

/* ------------------------------------------------------- compaction */

/* Copy live entry ei out of its (old) segment into the open one. */
static int move_entry(spool *sp, uint32_t ei, int src_fd, char *err,
                      size_t errlen)
{
    sp_ent *e = &sp->ents[ei];
    uint64_t padded = spool_ix_padded(e), stored = spool_ix_stored(e);
    uint64_t off, done;
    uint32_t no, c;
    sp_seg *from;
    spool_hdr h;
    int rc;
    char why[160];
    /* Verify first: a bad copy must not be multiplied. */
    if (stored <= SP_IOBUF) {
        if ((rc = spool_pread_all(src_fd, sp->iobuf, (size_t)stored, e->off)))
            return lg_errf(err, errlen, rc, "read segment %u: %s", e->seg,
                           lg_strerror(rc));
        rc = spool_fmt_decode(sp->iobuf, e->hdr_len, &h, why, sizeof why);
        c = spool_fmt_crc_hdr(sp->iobuf, e->hdr_len);
        c = crc32c(c, sp->iobuf + e->hdr_len, (size_t)e->size);
    } else {
        uint8_t hb[SPOOL_FMT_HDR_MAX];
        if ((rc = spool_pread_all(src_fd, hb, e->hdr_len, e->off)))
            return lg_errf(err, errlen, rc, "read segment %u: %s", e->seg,
                           lg_strerror(rc));
        rc = spool_fmt_decode(hb, e->hdr_len, &h, why, sizeof why);
        c = spool_fmt_crc_hdr(hb, e->hdr_len);
        if (rc == 0 && (rc = spool_crc_range(sp, src_fd, e->off + e->hdr_len,
                                             e->size, &c)))
            return lg_errf(err, errlen, rc, "read segment %u: %s", e->seg,
                           lg_strerror(rc));
    }
    if (rc || c != e->crc || memcmp(h.id, e->id, SPOOL_ID_LEN)) {
        went_bad(sp, e, src_fd, rc ? why : "checksum mismatch (compaction)");
        return 0;
    }
    if ((rc = seg_reserve(sp, padded, &no, &off, err, errlen)))
        return rc;
    if (stored <= SP_IOBUF) {
        rc = spool_pwritev_all(sp->act_fd, sp->iobuf, (size_t)stored, NULL, 0,
                               (size_t)(padded - stored), off);
    } else {
        for (done = 0, rc = 0; done < stored && rc == 0;) {
            size_t n = stored - done < SP_IOBUF ? (size_t)(stored - done)
                                                : SP_IOBUF;
            rc = spool_pread_all(src_fd, sp->iobuf, n, e->off + done);
            if (rc == 0)
                rc = spool_pwrite_all(sp->act_fd, sp->iobuf, n, off + done);
            done += n;
        }
        if (rc == 0 && padded > stored) {
            static const uint8_t z[8];
            rc = spool_pwrite_all(sp->act_fd, z, (size_t)(padded - stored),
                                  off + stored);
        }
    }
    if (rc)
        return lg_errf(err, errlen, rc, "write segment %u: %s", no,
                       lg_strerror(rc));
    spool_seg_find(sp, no)->size = off + padded;
    sp->act_dirty = 1;
    from = spool_seg_find(sp, e->seg);
    from->live--;
    from->live_bytes -= padded;
    if (!from->live)
        sp->reap = 1;
    e->seg = no;
    e->off = off;
    from = spool_seg_find(sp, no);
    from->live++;
    from->live_bytes += padded;
    return 0;
}

int spool_compact(spool *sp, char *err, size_t errlen)
{
    return spool_compact_int(sp, 0, err, errlen);
}

int spool_compact_int(spool *sp, int all, char *err, size_t errlen)
{
    uint32_t *cand = NULL, ncand = 0;
    uint64_t moved = 0, freed = 0;
    int rc;
    if (sp->broken)
        return refuse(sp, err, errlen);
    if ((rc = spool_sync(sp, err, errlen)) ||
        (all && (rc = seal_active(sp, err, errlen))))
        return rc;
    if (sp->nsegs) {
        cand = malloc(sp->nsegs * sizeof *cand);
        if (!cand)
            return lg_errf(err, errlen, -ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < sp->nsegs; i++) {
        const sp_seg *s = &sp->segs[i];
        if (s->no != sp->act_no && s->size &&
            (s->bad || s->live_bytes * 2 < s->size ||
             (all && s->live_bytes < s->size)))
            cand[ncand++] = s->no;
    }
    for (uint32_t k = 0; k < ncand && rc == 0; k++) {
        char name[64];
        int fd;
        spool_seg_name(name, cand[k]);
        if ((fd = openat(sp->dfd, name, O_RDONLY | O_CLOEXEC)) < 0) {
            rc = lg_errf(err, errlen, -errno, "open %s/%s: %s", sp->dir, name,
                         strerror(errno));
            break;
        }
        for (uint32_t i = 0; i < sp->nents && rc == 0; i++)
            if ((sp->ents[i].flags & SP_E_LIVE) && sp->ents[i].seg == cand[k]) {
                moved++;
                rc = move_entry(sp, i, fd, err, errlen);
            }
        close(fd);
    }
    /* The copies become durable before any original goes. */
    if (rc == 0)
        rc = spool_sync(sp, err, errlen);
    for (uint32_t k = 0; k < ncand && rc == 0; k++) {
        sp_seg *s = spool_seg_find(sp, cand[k]);
        char name[64];
        if (!s || s->live)
            continue;
        freed += s->size;
        spool_seg_name(name, cand[k]);
        if (unlinkat(sp->dfd, name, 0) < 0 && errno != ENOENT)
            spool_logf(sp, SPOOL_EV_WARN, NULL, "unlink %s/%s: %s", sp->dir,
                       name, strerror(errno));
        spool_seg_del(sp, cand[k]);
        sp->dir_dirty = 1;
    }
    free(cand);
    if (rc == 0 && ncand)
        spool_logf(sp, SPOOL_EV_INFO, NULL, "compacted %u segments of %s: "
                   "moved %llu bundles, freed %llu bytes", ncand, sp->dir,
                   (unsigned long long)moved, (unsigned long long)freed);
    if (rc == 0)
        rc = spool_sync(sp, err, errlen);
    if (rc == 0)
        rc = spool_dlog_compact(sp, 0, err, errlen);
    return rc;
}

/* ------------------------------------------------------- inspection */

int spool_foreach(spool *sp, int (*fn)(void *arg, const spool_meta *m),
                  void *arg)
{
    for (uint32_t i = 0; i < sp->nents; i++) {
        spool_meta m;
        int rc;
        if (!(sp->ents[i].flags & SP_E_LIVE))
            continue;
        spool_ix_meta(sp, &sp->ents[i], &m);
        if ((rc = fn(arg, &m)))
            return rc;
    }
    return 0;
}

void spool_stats_get(const spool *sp, spool_stats *st)
{
    memset(st, 0, sizeof *st);
    st->count = sp->count;
    st->bytes = sp->bytes;
    st->inflight = sp->inflight;
    st->pending = sp->pending;
    st->segments = sp->nsegs;
    for (uint32_t i = 0; i < sp->nsegs; i++)
        st->segment_bytes += sp->segs[i].size;
    st->delivered = sp->ndead;
    st->dlog_records = sp->dlog_recs;
    st->quarantined = sp->quarantined;
    st->syncs = sp->syncs;
    st->active_segment = sp->act_no;
    st->active_synced = sp->act_synced;
    st->next_segment = sp->next_seg;
}
