/*
 * spool_recover.c - what spool_open does to the directory before anything
 * else: load the delivered-id log, quarantine temp files, verify every
 * entry of every segment and bundle file, resolve crash leftovers, and
 * rebuild the index and send queues.
 *
 * Owns nothing beyond the call. Rules, in order of precedence:
 *  - *.tmp files are writes whose durability point never came: moved to
 *    quarantine/ and reported (their put never returned, so no one was
 *    promised anything).
 *  - a header is trusted only after its own CRC passes, a payload length
 *    only if it is <= max_bundle and fits in the bytes on disk; then the
 *    CRC over header+payload must match (computed in a fixed buffer).
 *    Anything else is moved (files) or copied (segment ranges) into
 *    quarantine/ and reported; a torn tail is copied, then cut off.
 *  - an id found in delivered.log is dead: its file is unlinked, its
 *    segment copy stays as dead space ("delivered wins", so nothing is
 *    ever both present and deleted).
 *  - the same id twice with the same CRC is one bundle (a crash during
 *    segment compaction leaves two copies): the first is kept. With a
 *    different CRC the later copy is quarantined.
 * Not thread-safe: runs inside spool_open.
 */
#include "spool_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lgerr.h"

typedef struct names_list {
    char (*v)[64];
    size_t n, cap;
} names_list;

static int list_add(names_list *l, const char *s)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        char (*nv)[64] = realloc(l->v, ncap * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        l->v = nv;
        l->cap = ncap;
    }
    snprintf(l->v[l->n++], 64, "%s", s);
    return 0;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "b-<32 hex>.bdl" -> id; 0 or -1. */
static int parse_file_name(const char *s, uint8_t id[SPOOL_ID_LEN])
{
    if (strlen(s) != 38 || strncmp(s, "b-", 2) || strcmp(s + 34, ".bdl"))
        return -1;
    for (int i = 0; i < SPOOL_ID_LEN; i++) {
        int hi = hexval(s[2 + 2 * i]), lo = hexval(s[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return -1;
        id[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* "s-<8 hex>.seg" -> number (> 0); 0 if not a segment name. */
static uint32_t parse_seg_name(const char *s)
{
    uint32_t no = 0;
    if (strlen(s) != 14 || strncmp(s, "s-", 2) || strcmp(s + 10, ".seg"))
        return 0;
    for (int i = 2; i < 10; i++) {
        int v = hexval(s[i]);
        if (v < 0)
            return 0;
        no = no << 4 | (uint32_t)v;
    }
    return no;
}

static void hdr_meta(const spool_hdr *h, spool_meta *m)
{
    memset(m, 0, sizeof *m);
    memcpy(m->id, h->id, SPOOL_ID_LEN);
    snprintf(m->src, sizeof m->src, "%s", h->src);
    snprintf(m->dst, sizeof m->dst, "%s", h->dst);
    m->priority = h->priority;
    m->kind = h->kind;
    m->created_unix_ms = h->created;
    m->lifetime_ms = h->lifetime;
    m->size = h->payload_len;
    m->seq = h->seq;
}

enum { REC_LIVE, REC_DEAD, REC_DUP, REC_CONFLICT };

/* Decide what a verified entry is; index it if live. */
static int take(spool *sp, const spool_hdr *h, uint32_t seg, uint64_t off,
                int *what)
{
    sp_dead *d = spool_dead_find(sp, h->id);
    sp_ent *e;
    if (d) {
        if (seg)
            d->pin = seg;
        *what = REC_DEAD;
        return 0;
    }
    if ((e = spool_ix_find(sp, h->id))) {
        *what = e->crc == h->crc ? REC_DUP : REC_CONFLICT;
        return 0;
    }
    *what = REC_LIVE;
    return spool_ix_add(sp, h, seg, off) == SP_NIL ? -ENOMEM : 0;
}

/* First offset >= from (8-aligned) where a plausible header starts, or
 * size. Used to step over a damaged header inside a segment. */
static uint64_t resync(spool *sp, int fd, uint64_t from, uint64_t size)
{
    uint64_t pos = (from + 7) & ~(uint64_t)7;
    while (pos + SPOOL_FMT_FIXED <= size) {
        size_t n = size - pos < SP_IOBUF ? (size_t)(size - pos) : SP_IOBUF;
        size_t last;
        if (spool_pread_all(fd, sp->iobuf, n, pos))
            return size;
        /* Candidates whose header may run past the buffer are retried at
         * the start of the next read. */
        last = n == size - pos ? n : n - SPOOL_FMT_HDR_MAX;
        for (size_t i = 0; i + 8 <= last && i + 8 <= n; i += 8) {
            spool_hdr h;
            if (spool_get32(sp->iobuf + i) != SPOOL_FMT_MAGIC)
                continue;
            if (spool_fmt_decode(sp->iobuf + i, n - i, &h, NULL, 0) == 0 &&
                h.payload_len <= sp->o.max_bundle &&
                h.hdr_len + h.payload_len <= size - pos - i)
                return pos + i;
        }
        pos += last;
    }
    return size;
}

static int scan_segment(spool *sp, uint32_t no)
{
    char name[64], why[160];
    uint8_t hb[SPOOL_FMT_HDR_MAX];
    struct stat st;
    uint64_t off = 0, size, cut = UINT64_MAX;
    int fd, rc = 0;
    sp_seg *s;
    spool_seg_name(name, no);
    fd = openat(sp->dfd, name, O_RDWR | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        rc = -errno;
        if (fd >= 0)
            close(fd);
        spool_logf(sp, SPOOL_EV_ERROR, NULL, "cannot read segment %s: %s",
                   name, strerror(-rc));
        return 0;      /* left in place; its bundles stay on disk */
    }
    size = (uint64_t)st.st_size;
    if (!(s = spool_seg_add(sp, no))) {
        close(fd);
        return -ENOMEM;
    }
    s->size = size;
    while (off < size) {
        size_t avail = size - off < sizeof hb ? (size_t)(size - off)
                                              : sizeof hb;
        spool_hdr h;
        spool_meta m;
        uint32_t c;
        uint64_t end;
        int what;
        if ((rc = spool_pread_all(fd, hb, avail, off)))
            break;
        rc = spool_fmt_decode(hb, avail, &h, why, sizeof why);
        if (rc == -EAGAIN) {
            snprintf(why, sizeof why, "torn entry header (%zu bytes at the "
                     "end of the segment)", avail);
            spool_quarantine_range(sp, fd, name, off, size, why, NULL);
            cut = off;
            rc = 0;
            break;
        }
        if (rc == 0 && h.payload_len > sp->o.max_bundle) {
            snprintf(why, sizeof why, "header claims a payload of %llu bytes, "
                     "over max_bundle %llu",
                     (unsigned long long)h.payload_len,
                     (unsigned long long)sp->o.max_bundle);
            rc = -EBADMSG;
        }
        if (rc == 0 && h.payload_len > size - off - h.hdr_len) {
            hdr_meta(&h, &m);
            snprintf(why, sizeof why, "torn entry: %llu bytes, %llu on disk",
                     (unsigned long long)(h.hdr_len + h.payload_len),
                     (unsigned long long)(size - off));
            /* A damaged length can also land here; resync tells them
             * apart: a good entry after it means damage, not a tear. */
            uint64_t nxt = resync(sp, fd, off + 8, size);
            spool_quarantine_range(sp, fd, name, off, nxt, why, &m);
            if (nxt == size) {
                cut = off;
                break;
            }
            s = spool_seg_find(sp, no);
            s->bad = 1;
            off = nxt;
            continue;
        }
        if (rc) {
            uint64_t nxt = resync(sp, fd, off + 8, size);
            spool_quarantine_range(sp, fd, name, off, nxt, why, NULL);
            rc = 0;
            if (nxt == size) {
                cut = off;
                break;
            }
            s = spool_seg_find(sp, no);
            s->bad = 1;
            off = nxt;
            continue;
        }
        end = (off + h.hdr_len + h.payload_len + 7) & ~(uint64_t)7;
        if (end > size)
            end = size;         /* padding lost to a tear: harmless */
        c = spool_fmt_crc_hdr(hb, h.hdr_len);
        if ((rc = spool_crc_range(sp, fd, off + h.hdr_len, h.payload_len, &c)))
            break;
        hdr_meta(&h, &m);
        if (c != h.crc) {
            spool_quarantine_range(sp, fd, name, off, end,
                                   "checksum mismatch", &m);
            s = spool_seg_find(sp, no);
            s->bad = 1;
            off = end;
            continue;
        }
        if ((rc = take(sp, &h, no, off, &what)))
            break;
        if (what == REC_CONFLICT)
            spool_quarantine_range(sp, fd, name, off, end,
                                   "another bundle with the same id and "
                                   "different content is stored", &m);
        off = end;
    }
    if (rc == 0 && cut != UINT64_MAX) {
        if (ftruncate(fd, (off_t)cut) < 0 || spool_fsync(sp, fd, 1) < 0)
            spool_logf(sp, SPOOL_EV_WARN, NULL, "cannot cut %s at %llu: %s",
                       name, (unsigned long long)cut, strerror(errno));
        else
            spool_seg_find(sp, no)->size = cut;
    }
    close(fd);
    if (rc)
        spool_logf(sp, SPOOL_EV_ERROR, NULL, "reading segment %s: %s", name,
                   lg_strerror(rc));
    return rc == -ENOMEM ? rc : 0;
}

static int scan_file(spool *sp, const char *name)
{
    uint8_t hb[SPOOL_FMT_HDR_MAX], fid[SPOOL_ID_LEN];
    char why[160];
    struct stat st;
    spool_hdr h;
    spool_meta m, *mp = NULL;
    uint64_t size;
    size_t avail;
    uint32_t c;
    int fd, rc, what;
    parse_file_name(name, fid);
    fd = openat(sp->dfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        spool_logf(sp, SPOOL_EV_ERROR, NULL, "cannot read %s: %s", name,
                   strerror(errno));
        if (fd >= 0)
            close(fd);
        return 0;
    }
    size = (uint64_t)st.st_size;
    avail = size < sizeof hb ? (size_t)size : sizeof hb;
    rc = spool_pread_all(fd, hb, avail, 0);
    if (rc == 0)
        rc = spool_fmt_decode(hb, avail, &h, why, sizeof why);
    if (rc == -EAGAIN) {
        snprintf(why, sizeof why, "torn: only %llu bytes",
                 (unsigned long long)size);
    } else if (rc == 0) {
        hdr_meta(&h, &m);
        mp = &m;
        rc = -EBADMSG;
        if (memcmp(h.id, fid, SPOOL_ID_LEN))
            snprintf(why, sizeof why, "header id does not match the name");
        else if (h.payload_len > sp->o.max_bundle)
            snprintf(why, sizeof why, "header claims a payload of %llu "
                     "bytes, over max_bundle %llu",
                     (unsigned long long)h.payload_len,
                     (unsigned long long)sp->o.max_bundle);
        else if (h.hdr_len + h.payload_len > size)
            snprintf(why, sizeof why, "torn: %llu bytes of %llu",
                     (unsigned long long)size,
                     (unsigned long long)(h.hdr_len + h.payload_len));
        else if (h.hdr_len + h.payload_len < size)
            snprintf(why, sizeof why, "%llu bytes after the entry",
                     (unsigned long long)(size - h.hdr_len - h.payload_len));
        else
            rc = 0;
    } else if (rc != -EBADMSG) {
        snprintf(why, sizeof why, "read error: %s", lg_strerror(rc));
    }
    if (rc == 0) {
        c = spool_fmt_crc_hdr(hb, h.hdr_len);
        rc = spool_crc_range(sp, fd, h.hdr_len, h.payload_len, &c);
        if (rc)
            snprintf(why, sizeof why, "read error: %s", lg_strerror(rc));
        else if (c != h.crc) {
            snprintf(why, sizeof why, "checksum mismatch");
            rc = -EBADMSG;
        }
    }
    close(fd);
    if (rc) {
        spool_quarantine_file(sp, name, why, mp);
        return 0;
    }
    if ((rc = take(sp, &h, 0, 0, &what)))
        return rc;
    switch (what) {
    case REC_LIVE:
        break;
    case REC_DEAD:
        /* Acked, and the crash came before the unlink. */
        unlinkat(sp->dfd, name, 0);
        sp->dir_dirty = 1;
        break;
    case REC_DUP:
        unlinkat(sp->dfd, name, 0);
        sp->dir_dirty = 1;
        spool_logf(sp, SPOOL_EV_INFO, &m, "%s: second copy of a stored "
                   "bundle, removed", name);
        break;
    default:
        spool_quarantine_file(sp, name, "another bundle with the same id "
                              "and different content is stored", &m);
    }
    return 0;
}

typedef struct qkey {
    uint64_t created, seq;
    uint32_t ei;
} qkey;

static int qkey_cmp(const void *a, const void *b)
{
    const qkey *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int spool_recover(spool *sp, char *err, size_t errlen)
{
    names_list files = { 0 }, tmps = { 0 };
    uint32_t *segnos = NULL;
    size_t nseg = 0, segcap = 0;
    uint64_t q0 = sp->quarantined;
    qkey *keys = NULL;
    DIR *d;
    struct dirent *de;
    int rc, dfd2;

    if ((rc = spool_dlog_open(sp, err, errlen)) ||
        (rc = spool_dlog_load(sp, 1, err, errlen)))
        return rc;

    /* fdopendir takes over its fd: give it a duplicate. */
    if ((dfd2 = dup(sp->dfd)) < 0 || !(d = fdopendir(dfd2))) {
        rc = -errno;
        if (dfd2 >= 0)
            close(dfd2);
        return lg_errf(err, errlen, rc, "%s: %s", sp->dir, strerror(-rc));
    }
    rewinddir(d);
    rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        const char *s = de->d_name;
        size_t len = strlen(s);
        uint8_t id[SPOOL_ID_LEN];
        uint32_t no;
        if (!strcmp(s, ".") || !strcmp(s, "..") || !strcmp(s, "LOCK") ||
            !strcmp(s, "quarantine") || !strcmp(s, "delivered.log"))
            continue;
        if (len > 4 && !strcmp(s + len - 4, ".tmp") && len < 64) {
            rc = list_add(&tmps, s);
        } else if ((no = parse_seg_name(s))) {
            if (nseg == segcap) {
                size_t ncap = segcap ? segcap * 2 : 64;
                uint32_t *nv = realloc(segnos, ncap * sizeof *nv);
                if (!nv) {
                    rc = -ENOMEM;
                    break;
                }
                segnos = nv;
                segcap = ncap;
            }
            segnos[nseg++] = no;
        } else if (parse_file_name(s, id) == 0) {
            rc = list_add(&files, s);
        } else {
            spool_logf(sp, SPOOL_EV_WARN, NULL,
                       "%s/%s: not a spool file, left alone", sp->dir, s);
        }
    }
    closedir(d);
    if (rc)
        goto out;

    for (size_t i = 0; i < tmps.n; i++)
        spool_quarantine_file(sp, tmps.v[i], "leftover temporary file (a "
                              "write that never became durable)", NULL);
    if (nseg)
        qsort(segnos, nseg, sizeof *segnos, cmp_u32);
    for (size_t i = 0; i < nseg && rc == 0; i++)
        rc = scan_segment(sp, segnos[i]);
    for (size_t i = 0; i < files.n && rc == 0; i++)
        rc = scan_file(sp, files.v[i]);
    if (rc)
        goto out;
    if ((rc = spool_dlog_load(sp, 2, err, errlen)))
        goto out;

    /* Segments with nothing live: every entry in them is dead (its
     * record is durable) or was copied to quarantine. */
    for (uint32_t i = sp->nsegs; i-- > 0;) {
        if (sp->segs[i].live == 0) {
            char name[64];
            spool_seg_name(name, sp->segs[i].no);
            unlinkat(sp->dfd, name, 0);
            spool_seg_del(sp, sp->segs[i].no);
            sp->dir_dirty = 1;
        }
    }

    /* Queue in (created, seq) order so every insert is an append. */
    keys = malloc((size_t)(sp->count ? sp->count : 1) * sizeof *keys);
    if (!keys) {
        rc = -ENOMEM;
        goto out;
    }
    {
        size_t k = 0;
        for (uint32_t i = 0; i < sp->nents; i++)
            if (sp->ents[i].flags & SP_E_LIVE)
                keys[k++] = (qkey){ sp->ents[i].created, sp->ents[i].seq, i };
        qsort(keys, k, sizeof *keys, qkey_cmp);
        for (size_t i = 0; i < k; i++)
            spool_ix_queue(sp, keys[i].ei);
    }

    if (sp->dir_dirty) {
        if ((rc = spool_fsync(sp, sp->dfd, 0))) {
            lg_errf(err, errlen, rc, "fsync %s: %s", sp->dir, strerror(-rc));
            goto out;
        }
        sp->dir_dirty = 0;
    }
    {
        uint64_t nfiles = 0;
        for (uint32_t i = 0; i < sp->nents; i++)
            if ((sp->ents[i].flags & SP_E_LIVE) && !sp->ents[i].seg)
                nfiles++;
        spool_logf(sp, SPOOL_EV_INFO, NULL,
                   "opened %s: %llu bundles (%llu bytes) in %u segments and "
                   "%llu files, %u delivered ids remembered, %llu entries "
                   "quarantined", sp->dir, (unsigned long long)sp->count,
                   (unsigned long long)sp->bytes, sp->nsegs,
                   (unsigned long long)nfiles, sp->ndead,
                   (unsigned long long)(sp->quarantined - q0));
    }
out:
    if (rc == -ENOMEM)
        lg_errf(err, errlen, rc, "%s: out of memory rebuilding the index",
                sp->dir);
    free(keys);
    free(segnos);
    free(files.v);
    free(tmps.v);
    return rc;
}
