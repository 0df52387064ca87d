/*
 * inbox.c - exactly-once delivery of completed objects (see inbox.h for
 * the directory layout, the delivery steps and the crash argument).
 *
 * Owns the inbox directory fd, the journal fd (flocked, O_APPEND), the
 * journal's known-good size (every byte before it is whole lines), the
 * in-memory set of delivered object ids (open addressing, linear probing,
 * at most half full) and one INBOX_PIECE copy buffer. States: OK, or
 * BROKEN after a journal write or fdatasync failed (refuses deliveries
 * until reopened). Not thread-safe: one thread at a time.
 */
#include "inbox.h"
#include "lgfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lgerr.h"

#define JOURNAL "delivered.tsv"
#define READ_CHUNK ((size_t)64 << 10)   /* journal read buffer at open */

struct inbox {
    char dir[512];
    int dfd;                    /* DIR, O_DIRECTORY */
    int jfd;                    /* DIR/delivered.tsv, O_APPEND, flocked */
    uint64_t jsize;             /* bytes of whole lines in the journal */
    int broken;                 /* errno-style code once BROKEN, else 0 */
    char broken_why[256];
    uint8_t *buf;               /* INBOX_PIECE bytes */
    uint8_t (*keys)[INBOX_ID_LEN]; /* the delivered set */
    uint8_t *used;
    size_t cap;                 /* slots, a power of two (or 0) */
    size_t n;                   /* ids in the set */
};

/* -------------------------------------------------------------- set */

static uint64_t id_hash(const uint8_t id[INBOX_ID_LEN])
{
    uint64_t a, b, h;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    h = a ^ (b * 0x9e3779b97f4a7c15ull);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

static size_t set_slot(const inbox *ib, const uint8_t id[INBOX_ID_LEN])
{
    size_t mask = ib->cap - 1, i = (size_t)id_hash(id) & mask;
    while (ib->used[i] && memcmp(ib->keys[i], id, INBOX_ID_LEN))
        i = (i + 1) & mask;
    return i;
}

/* Room for one more id without allocating (so that an id whose journal
 * line is written can always be remembered). */
static int set_reserve(inbox *ib)
{
    size_t ncap;
    uint8_t (*nk)[INBOX_ID_LEN];
    uint8_t *nu;
    if ((ib->n + 1) * 2 <= ib->cap)
        return 0;
    ncap = ib->cap ? ib->cap * 2 : 64;
    if (ncap > SIZE_MAX / INBOX_ID_LEN)
        return -ENOMEM;
    nk = malloc(ncap * INBOX_ID_LEN);
    nu = calloc(ncap, 1);
    if (!nk || !nu) {
        free(nk);
        free(nu);
        return -ENOMEM;
    }
    {
        inbox old = *ib;
        ib->keys = nk;
        ib->used = nu;
        ib->cap = ncap;
        for (size_t i = 0; i < old.cap; i++)
            if (old.used[i]) {
                size_t s = set_slot(ib, old.keys[i]);
                memcpy(ib->keys[s], old.keys[i], INBOX_ID_LEN);
                ib->used[s] = 1;
            }
        free(old.keys);
        free(old.used);
    }
    return 0;
}

/* Add id; set_reserve must have succeeded since the last add. */
static void set_add(inbox *ib, const uint8_t id[INBOX_ID_LEN])
{
    size_t s = set_slot(ib, id);
    if (!ib->used[s]) {
        memcpy(ib->keys[s], id, INBOX_ID_LEN);
        ib->used[s] = 1;
        ib->n++;
    }
}

int inbox_delivered(const inbox *ib, const uint8_t object_id[INBOX_ID_LEN])
{
    if (!ib->cap)
        return 0;
    return ib->used[set_slot(ib, object_id)];
}

size_t inbox_count(const inbox *ib)
{
    return ib->n;
}

/* ---------------------------------------------------------- helpers */

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = 0;
}

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

size_t inbox_escape(const char *s, size_t maxlen, char *out, size_t cap)
{
    static const char d[] = "0123456789abcdef";
    size_t o = 0;
    if (!cap)
        return 0;
    for (size_t i = 0; i < maxlen && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[4];
        size_t el = 2;
        e[0] = '\\';
        if (c == '\\')
            e[1] = '\\';
        else if (c == '\t')
            e[1] = 't';
        else if (c == '\n')
            e[1] = 'n';
        else if (c == '\r')
            e[1] = 'r';
        else if (c < 0x20 || c == 0x7f) {
            e[1] = 'x';
            e[2] = d[c >> 4];
            e[3] = d[c & 15];
            el = 4;
        } else {
            e[0] = (char)c;
            el = 1;
        }
        if (o + el + 1 > cap)
            break;
        memcpy(out + o, e, el);
        o += el;
    }
    out[o] = 0;
    return o;
}

static uint64_t now_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int fail(inbox *ib, int code, char *err, size_t errlen,
                const char *what)
{
    if (!ib->broken) {
        ib->broken = code;
        snprintf(ib->broken_why, sizeof ib->broken_why, "%s of %s: %s",
                 what, JOURNAL, lg_strerror(code));
    }
    return lg_errf(err, errlen, code, "%s/%s: %s: %s; inbox refuses "
                   "deliveries until reopened", ib->dir, JOURNAL, what,
                   lg_strerror(code));
}

/* --------------------------------------------------------- the journal */

static int all_digits(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hexval((unsigned char)s[i]) < 0)
            return 0;
    return 1;
}

/* One complete journal line (without its newline): learn its id. */
static int parse_line(inbox *ib, const char *line, size_t len,
                      uint64_t lineno, char *err, size_t errlen)
{
    const char *f[6];
    size_t fl[6], nf = 0, start = 0;
    uint8_t id[INBOX_ID_LEN];
    int rc;
    for (size_t i = 0; i <= len; i++)
        if (i == len || line[i] == '\t') {
            if (nf == 6) {
                nf++;
                break;
            }
            f[nf] = line + start;
            fl[nf] = i - start;
            nf++;
            start = i + 1;
        }
    if (nf != 6 || !all_digits(f[0], fl[0], 20) || fl[1] != 32 ||
        !all_hex(f[1], 32) || !all_digits(f[2], fl[2], 20) || fl[3] != 64 ||
        !all_hex(f[3], 64))
        return lg_errf(err, errlen, -EBADMSG, "%s/%s line %llu is not a "
                       "delivery record (unix_ms, object id, size, sha256, "
                       "src, name); refusing to guess which objects were "
                       "delivered", ib->dir, JOURNAL,
                       (unsigned long long)lineno);
    for (int i = 0; i < INBOX_ID_LEN; i++)
        id[i] = (uint8_t)(hexval((unsigned char)f[1][2 * i]) << 4 |
                          hexval((unsigned char)f[1][2 * i + 1]));
    if ((rc = set_reserve(ib)))
        return lg_errf(err, errlen, rc, "%s/%s: out of memory", ib->dir,
                       JOURNAL);
    set_add(ib, id);
    return 0;
}

/* Read the journal: whole lines into the set, a torn tail cut off. */
static int load_journal(inbox *ib, char *err, size_t errlen)
{
    char *rbuf = malloc(READ_CHUNK), *line = malloc(INBOX_LINE_MAX);
    uint64_t pos = 0, good = 0, lineno = 0;
    size_t llen = 0;
    int toolong = 0, rc = 0;
    if (!rbuf || !line) {
        rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        ssize_t r = pread(ib->jfd, rbuf, READ_CHUNK, (off_t)pos);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = lg_errf(err, errlen, -errno, "read %s/%s: %s", ib->dir,
                         JOURNAL, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        for (ssize_t i = 0; i < r; i++) {
            char c = rbuf[i];
            if (c != '\n') {
                if (llen < INBOX_LINE_MAX)
                    line[llen++] = c;
                else
                    toolong = 1;
                continue;
            }
            lineno++;
            if (toolong) {
                rc = lg_errf(err, errlen, -EBADMSG, "%s/%s line %llu is "
                             "longer than %d bytes", ib->dir, JOURNAL,
                             (unsigned long long)lineno, INBOX_LINE_MAX);
                goto out;
            }
            if ((rc = parse_line(ib, line, llen, lineno, err, errlen)))
                goto out;
            llen = 0;
            good = pos + (uint64_t)i + 1;
        }
        pos += (uint64_t)r;
    }
    if (pos != good) {
        /* A torn append: its object was never reported delivered. */
        if (ftruncate(ib->jfd, (off_t)good) < 0) {
            rc = lg_errf(err, errlen, -errno, "truncate torn tail of %s/%s: "
                         "%s", ib->dir, JOURNAL, strerror(errno));
            goto out;
        }
        if ((rc = lg_fsync(ib->jfd, 1))) {
            rc = lg_errf(err, errlen, rc, "fdatasync %s/%s: %s", ib->dir,
                         JOURNAL, lg_strerror(rc));
            goto out;
        }
    }
    ib->jsize = good;
out:
    free(rbuf);
    free(line);
    return rc;
}

/* Is name "<32 hex>.tmp"? */
static int is_tmp_name(const char *name)
{
    return strlen(name) == 36 && all_hex(name, 32) &&
           !strcmp(name + 32, ".tmp");
}

/* Unfinished deliveries: never trusted, redone from the spool. */
static int remove_tmps(inbox *ib, char *err, size_t errlen)
{
    int fd = dup(ib->dfd), removed = 0;
    DIR *d;
    struct dirent *de;
    if (fd < 0 || !(d = fdopendir(fd))) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return lg_errf(err, errlen, -e, "list %s: %s", ib->dir, strerror(e));
    }
    rewinddir(d);
    while ((de = readdir(d)))
        if (is_tmp_name(de->d_name)) {
            if (unlinkat(ib->dfd, de->d_name, 0) < 0 && errno != ENOENT) {
                int e = errno;
                closedir(d);
                return lg_errf(err, errlen, -e, "remove %s/%s: %s", ib->dir,
                               de->d_name, strerror(e));
            }
            removed = 1;
        }
    closedir(d);
    return removed ? lg_fsync(ib->dfd, 0) : 0;
}

int inbox_open(inbox **out, const char *dir, char *err, size_t errlen)
{
    inbox *ib;
    int rc, created = 0;
    *out = NULL;
    if (!dir || !dir[0])
        return lg_errf(err, errlen, -EINVAL, "inbox: no directory");
    if (!(ib = calloc(1, sizeof *ib)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    ib->dfd = ib->jfd = -1;
    if (strlen(dir) >= sizeof ib->dir) {
        rc = lg_errf(err, errlen, -ENAMETOOLONG, "inbox directory name "
                     "longer than %zu bytes", sizeof ib->dir - 1);
        goto fail;
    }
    snprintf(ib->dir, sizeof ib->dir, "%s", dir);
    if ((rc = lg_dir_open(dir, &ib->dfd, err, errlen)) < 0)
        goto fail;
    ib->jfd = openat(ib->dfd, JOURNAL, O_RDWR | O_APPEND | O_CLOEXEC);
    if (ib->jfd < 0 && errno == ENOENT) {
        ib->jfd = openat(ib->dfd, JOURNAL,
                         O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC,
                         0640);
        created = 1;
    }
    if (ib->jfd < 0) {
        rc = lg_errf(err, errlen, -errno, "open %s/%s: %s", dir, JOURNAL,
                     strerror(errno));
        goto fail;
    }
    {
        char jp[sizeof ib->dir + sizeof JOURNAL + 1];
        snprintf(jp, sizeof jp, "%s/%s", dir, JOURNAL);
        if ((rc = lg_flock(ib->jfd, jp, "inbox", err, errlen)) < 0)
            goto fail;
    }
    /* The journal's name must be durable before any line in it counts. */
    if (created && (rc = lg_fsync(ib->dfd, 0))) {
        rc = lg_errf(err, errlen, rc, "fsync %s: %s", dir, lg_strerror(rc));
        goto fail;
    }
    if ((rc = load_journal(ib, err, errlen)) ||
        (rc = remove_tmps(ib, err, errlen)))
        goto fail;
    if (!(ib->buf = malloc(INBOX_PIECE))) {
        rc = lg_errf(err, errlen, -ENOMEM, "out of memory");
        goto fail;
    }
    *out = ib;
    return 0;
fail:
    inbox_close(ib);
    return rc;
}

void inbox_close(inbox *ib)
{
    if (!ib)
        return;
    if (ib->jfd >= 0)
        close(ib->jfd);         /* releases the flock */
    if (ib->dfd >= 0)
        close(ib->dfd);
    free(ib->keys);
    free(ib->used);
    free(ib->buf);
    free(ib);
}

/* ---------------------------------------------------------- delivery */

/* Step 6: the chunks leave the spool, durably. Chunks already gone (an
 * earlier attempt removed them) are fine. */
static int delete_chunks(spool *sp, const char *hex,
                         const uint8_t (*ids)[INBOX_ID_LEN], uint32_t n,
                         char *err, size_t errlen)
{
    char why[256];
    int rc;
    for (uint32_t i = 0; i < n; i++) {
        rc = spool_delete_nosync(sp, ids[i], SPOOL_DELIVERED, why,
                                 sizeof why);
        if (rc && rc != -ENOENT) {
            char e2[64];
            spool_sync(sp, e2, sizeof e2);  /* keep what was deleted */
            return lg_errf(err, errlen, rc, "object %s delivered, but "
                           "removing chunk %u from the spool failed: %s",
                           hex, i, why);
        }
    }
    if ((rc = spool_sync(sp, why, sizeof why)))
        return lg_errf(err, errlen, rc, "object %s delivered, but removing "
                       "its chunks from the spool failed: %s", hex, why);
    return 0;
}

/* Bytes of the object in chunk i (whose spool entry holds esize). */
static uint64_t chunk_len(const inbox_object *obj, uint32_t n, uint32_t i,
                          uint64_t esize)
{
    uint64_t start;
    if (n == 1)
        return obj->size;
    if (obj->chunk_size == 0)
        return esize;
    start = (uint64_t)i * obj->chunk_size;
    return obj->size - start < obj->chunk_size ? obj->size - start
                                               : obj->chunk_size;
}

/* Step 1: every chunk stored and long enough, covering the object. */
static int check_chunks(spool *sp, const inbox_object *obj, const char *hex,
                        const uint8_t (*ids)[INBOX_ID_LEN], uint32_t n,
                        char *err, size_t errlen)
{
    uint64_t total = 0;
    if (n > 1 && obj->chunk_size &&
        (obj->size == 0 || (obj->size - 1) / obj->chunk_size + 1 != n))
        return lg_errf(err, errlen, -EBADMSG, "object %s: %llu bytes in "
                       "chunks of %llu are not %u chunks", hex,
                       (unsigned long long)obj->size,
                       (unsigned long long)obj->chunk_size, n);
    for (uint32_t i = 0; i < n; i++) {
        spool_meta m;
        char bhex[33];
        uint64_t len;
        spool_id_hex(ids[i], bhex);
        if (spool_stat(sp, ids[i], &m))
            return lg_errf(err, errlen, -ENOENT, "object %s: chunk %u of %u "
                           "(bundle %s) is not in the spool", hex, i, n,
                           bhex);
        if (obj->src[0] && strncmp(m.src, obj->src, sizeof m.src))
            return lg_errf(err, errlen, -EBADMSG, "object %s: chunk %u "
                           "(bundle %s) comes from %s, the object from %.63s",
                           hex, i, bhex, m.src, obj->src);
        len = chunk_len(obj, n, i, m.size);
        if (len > m.size)
            return lg_errf(err, errlen, -EBADMSG, "object %s: chunk %u "
                           "(bundle %s) should hold %llu bytes, its entry "
                           "has %llu", hex, i, bhex, (unsigned long long)len,
                           (unsigned long long)m.size);
        if (len > obj->size - total)
            return lg_errf(err, errlen, -EBADMSG, "object %s: chunks "
                           "0..%u hold more than its %llu bytes", hex, i,
                           (unsigned long long)obj->size);
        total += len;
    }
    if (total != obj->size)
        return lg_errf(err, errlen, -EBADMSG, "object %s: its %u chunks "
                       "hold %llu bytes, the object %llu", hex, n,
                       (unsigned long long)total,
                       (unsigned long long)obj->size);
    return 0;
}

/* Steps 2-3: copy the chunks to the open fd, hashing; compare. */
static int copy_chunks(inbox *ib, spool *sp, const inbox_object *obj,
                       const char *hex, const uint8_t (*ids)[INBOX_ID_LEN],
                       uint32_t n, int fd, const char *tmp, char *err,
                       size_t errlen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char why[256];
    int rc = 0;
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = lg_errf(err, errlen, -ENOMEM, "object %s: cannot start "
                     "SHA-256", hex);
        goto out;
    }
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        spool_meta m;
        if (spool_stat(sp, ids[i], &m)) {
            rc = lg_errf(err, errlen, -ENOENT, "object %s: chunk %u left "
                         "the spool", hex, i);
            break;
        }
        uint64_t clen = chunk_len(obj, n, i, m.size);
        uint64_t end = m.size;  /* the chunk's bytes end the entry */
        if (clen > m.size) {
            rc = lg_errf(err, errlen, -EBADMSG, "object %s: chunk %u "
                         "changed in the spool", hex, i);
            break;
        }
        for (uint64_t off = m.size - clen; off < end;) {
            size_t len = end - off < INBOX_PIECE ? (size_t)(end - off)
                                                 : INBOX_PIECE;
            if ((rc = spool_read(sp, ids[i], off, ib->buf, len, why,
                                 sizeof why))) {
                rc = lg_errf(err, errlen, rc, "object %s: chunk %u: %s",
                             hex, i, why);
                break;
            }
            if (EVP_DigestUpdate(ctx, ib->buf, len) != 1) {
                rc = lg_errf(err, errlen, -EIO, "object %s: SHA-256 "
                             "failed", hex);
                break;
            }
            if ((rc = lg_write_all(fd, ib->buf, len))) {
                rc = lg_errf(err, errlen, rc, "write %s/%s: %s", ib->dir,
                             tmp, lg_strerror(rc));
                break;
            }
            off += len;
        }
    }
    if (rc)
        goto out;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
        rc = lg_errf(err, errlen, -EIO, "object %s: SHA-256 failed", hex);
        goto out;
    }
    if (memcmp(md, obj->sha256, INBOX_SHA256_LEN)) {
        char got[65], want[65];
        hex_of(md, 32, got);
        hex_of(obj->sha256, 32, want);
        rc = lg_errf(err, errlen, INBOX_ECHECKSUM, "object %s: SHA-256 of "
                     "its chunks is %s, expected %s; not delivered", hex,
                     got, want);
    }
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* Step 5: one journal line, durable. */
static int journal_append(inbox *ib, const inbox_object *obj,
                          const char *hex, char *err, size_t errlen)
{
    char line[INBOX_LINE_MAX], sha[65], src[4 * SPOOL_NAME_MAX];
    char name[4 * INBOX_NAME_MAX];
    int len, rc;
    hex_of(obj->sha256, 32, sha);
    inbox_escape(obj->src, sizeof obj->src, src, sizeof src);
    inbox_escape(obj->name, sizeof obj->name, name, sizeof name);
    len = snprintf(line, sizeof line, "%llu\t%s\t%llu\t%s\t%s\t%s\n",
                   (unsigned long long)now_unix_ms(), hex,
                   (unsigned long long)obj->size, sha, src, name);
    if (len < 0 || (size_t)len >= sizeof line)
        return lg_errf(err, errlen, -EINVAL, "object %s: journal line too "
                       "long", hex);
    if ((rc = lg_write_all(ib->jfd, line, (size_t)len))) {
        /* Take back a partial line so the next append starts clean. */
        if (ftruncate(ib->jfd, (off_t)ib->jsize) < 0)
            return fail(ib, rc, err, errlen, "append (and cut back)");
        return lg_errf(err, errlen, rc, "append to %s/%s: %s", ib->dir,
                       JOURNAL, lg_strerror(rc));
    }
    if ((rc = lg_fsync(ib->jfd, 1)))
        return fail(ib, rc, err, errlen, "fdatasync");
    ib->jsize += (uint64_t)len;
    return 0;
}

static int id_zero(const uint8_t id[INBOX_ID_LEN])
{
    for (int i = 0; i < INBOX_ID_LEN; i++)
        if (id[i])
            return 0;
    return 1;
}

int inbox_deliver(inbox *ib, spool *sp, const inbox_object *obj,
                  const uint8_t (*ids)[INBOX_ID_LEN], uint32_t n,
                  char *err, size_t errlen)
{
    char hex[33], tmp[40];
    int fd, rc;
    if (!ib || !sp || !obj || !ids || n == 0 || n != obj->chunk_count ||
        id_zero(obj->object_id))
        return lg_errf(err, errlen, -EINVAL, "inbox_deliver: need an object "
                       "id and its %u chunk ids, got %u",
                       obj ? obj->chunk_count : 0, n);
    hex_of(obj->object_id, INBOX_ID_LEN, hex);
    if (ib->broken)
        return lg_errf(err, errlen, -EIO, "object %s not delivered: inbox "
                       "%s is broken (%s); reopen it", hex, ib->dir,
                       ib->broken_why);
    if (inbox_delivered(ib, obj->object_id)) {
        /* Crash (or failure) after the journal line: finish step 6. */
        rc = delete_chunks(sp, hex, ids, n, err, errlen);
        return rc ? rc : INBOX_ALREADY;
    }
    if ((rc = check_chunks(sp, obj, hex, ids, n, err, errlen)))
        return rc;
    /* The set must be able to take the id once its line is written. */
    if ((rc = set_reserve(ib)))
        return lg_errf(err, errlen, rc, "object %s: out of memory", hex);

    snprintf(tmp, sizeof tmp, "%s.tmp", hex);
    fd = openat(ib->dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                0640);
    if (fd < 0)
        return lg_errf(err, errlen, -errno, "create %s/%s: %s", ib->dir, tmp,
                       strerror(errno));
    rc = copy_chunks(ib, sp, obj, hex, ids, n, fd, tmp, err, errlen);
    if (rc == 0 && (rc = lg_fsync(fd, 0)))
        rc = lg_errf(err, errlen, rc, "fsync %s/%s: %s", ib->dir, tmp,
                     lg_strerror(rc));
    if (close(fd) < 0 && rc == 0)
        rc = lg_errf(err, errlen, -errno, "close %s/%s: %s", ib->dir, tmp,
                     strerror(errno));
    if (rc == 0 && renameat(ib->dfd, tmp, ib->dfd, hex) < 0)
        rc = lg_errf(err, errlen, -errno, "rename %s/%s: %s", ib->dir, tmp,
                     strerror(errno));
    if (rc) {
        unlinkat(ib->dfd, tmp, 0);
        return rc;
    }
    if ((rc = lg_fsync(ib->dfd, 0)))
        /* The file may or may not survive a crash; without a journal line
         * the delivery is simply redone. */
        return lg_errf(err, errlen, rc, "fsync %s: %s", ib->dir,
                       lg_strerror(rc));
    if ((rc = journal_append(ib, obj, hex, err, errlen)))
        return rc;
    set_add(ib, obj->object_id);
    return delete_chunks(sp, hex, ids, n, err, errlen);
}
