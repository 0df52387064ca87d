/*
 * check_inbox.c - unit tests for lib/store/inbox.c: delivery of a chunked
 * object from the spool to the inbox directory, exactly once.
 *
 *  - a ~5 MiB object cut into 1 MiB chunks by lib/wire/chunk.c, stored in
 *    a spool, delivered: the file's bytes and SHA-256 (computed here with
 *    OpenSSL EVP, independently of the inbox) equal the original's; one
 *    journal line with the expected fields; the chunks are gone from the
 *    spool; no .tmp left; the same with each chunk stored as its whole
 *    wire frame (as the daemon stores them), and with bare entries and no
 *    chunk_size, a single chunk, an empty object;
 *  - delivering again (and the "crash after the journal line, before the
 *    deletes" case, with the chunks in a second spool) writes no second
 *    line and removes the chunks;
 *  - a wrong SHA-256, a missing chunk, sizes that do not add up, a foreign
 *    source: refused, no file, no line, chunks still in the spool;
 *  - reopen: the delivered set is restored; a torn journal tail is cut
 *    off; a corrupt complete line fails the open; leftover .tmp files are
 *    removed; a second opener is refused;
 *  - a failed fdatasync of the journal (fdatasync replaced here) stops
 *    the inbox until reopened; then the journal decides;
 *  - the journal's escaping of untrusted names.
 *
 * Each test works in its own directory under /tmp and removes it.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bundle.h"
#include "chunk.h"
#include "frame.h"
#include "inbox.h"
#include "spool.h"

#define OBJ_SIZE ((size_t)5 * 1024 * 1024 + 12345)
#define MAXCH 16

static char err[512];
static char dir[256];

/* Disk failure on demand: the inbox and the spool are linked into this
 * program, so this fdatasync replaces libc's for them. */
static int fail_fdatasync;

int fdatasync(int fd)
{
    if (fail_fdatasync) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fdatasync, fd);
}
static char spdir[300], spdir2[300], ibdir[300];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/check_inbox.%d.XXXXXX", (int)getpid());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(spdir, sizeof spdir, "%s/spool", dir);
    snprintf(spdir2, sizeof spdir2, "%s/spool2", dir);
    snprintf(ibdir, sizeof ibdir, "%s/inbox", dir);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ------------------------------------------------------------ helpers */

static uint8_t *make_obj(size_t size, uint32_t seed)
{
    uint8_t *p = malloc(size);
    uint32_t x = seed * 2654435761u + 1;
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < size; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (uint8_t)(x >> 24);
    }
    return p;
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned len = 0;
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(EVP_DigestInit_ex(c, EVP_sha256(), NULL), 1);
    ck_assert_int_eq(EVP_DigestUpdate(c, p, n), 1);
    ck_assert_int_eq(EVP_DigestFinal_ex(c, out, &len), 1);
    ck_assert_uint_eq(len, 32);
    EVP_MD_CTX_free(c);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static spool *spool_at(const char *d)
{
    spool_opts o;
    spool *sp = NULL;
    int rc;
    spool_opts_init(&o);
    rc = spool_open(&sp, d, &o, err, sizeof err);
    ck_assert_msg(rc == 0, "spool_open %s: %s", d, err);
    return sp;
}

static inbox *inbox_at(const char *d)
{
    inbox *ib = NULL;
    int rc = inbox_open(&ib, d, err, sizeof err);
    ck_assert_msg(rc == 0, "inbox_open %s: %d %s", d, rc, err);
    return ib;
}

/* An object, split by lib/wire into 1 MiB chunks. */
typedef struct tobj {
    uint8_t *data;
    size_t size;
    inbox_object o;
    uint32_t n;
    uint8_t ids[MAXCH][16];
    wire_chunk_split split;
} tobj;

static void tobj_make(tobj *t, size_t size, uint32_t seed)
{
    wire_bundle tmpl;
    uint8_t want[32];
    memset(t, 0, sizeof *t);
    t->size = size;
    t->data = make_obj(size, seed);
    memset(&tmpl, 0, sizeof tmpl);
    strcpy(tmpl.src, "gs-mad");
    strcpy(tmpl.dst, "luna-1");
    tmpl.created_unix_ms = (uint64_t)time(NULL) * 1000u;
    tmpl.lifetime_ms = 86400000;
    tmpl.priority = 3;
    tmpl.kind = WIRE_KIND_TENSOR_CHUNK;
    strcpy(tmpl.name, "resnet/layer1.npy");
    ck_assert_int_eq(wire_bundle_new_id(tmpl.object_id), 0);
    ck_assert_int_eq(wire_chunk_split_init(&t->split, t->data, size,
                                           WIRE_CHUNK_DEFAULT, &tmpl, err,
                                           sizeof err), 0);
    t->n = wire_chunk_split_count(&t->split);
    ck_assert_uint_le(t->n, MAXCH);
    /* The inbox's view of the object, from the chunks' metadata. */
    memcpy(t->o.object_id, t->split.tmpl.object_id, 16);
    t->o.size = t->split.tmpl.object_size;
    memcpy(t->o.sha256, t->split.tmpl.object_sha256, 32);
    snprintf(t->o.src, sizeof t->o.src, "%s", tmpl.src);
    snprintf(t->o.name, sizeof t->o.name, "%s", tmpl.name);
    t->o.chunk_count = t->n;
    t->o.chunk_size = WIRE_CHUNK_DEFAULT;
    /* wire's SHA-256 agrees with an independent one */
    sha256(t->data, size, want);
    ck_assert_int_eq(memcmp(want, t->o.sha256, 32), 0);
    for (uint32_t i = 0; i < t->n; i++) {
        wire_bundle b;
        ck_assert_int_eq(wire_chunk_split_get(&t->split, i, &b), 0);
        memcpy(t->ids[i], b.id, 16);
    }
}

/* Store the chunks in sp, in reverse order (arrival order is free): the
 * bare chunk bytes, or (frames) each chunk's whole encoded wire frame, as
 * the daemon stores them. */
static void tobj_store_as(tobj *t, spool *sp, int frames)
{
    for (uint32_t k = t->n; k-- > 0;) {
        wire_bundle b;
        wire_msg wm;
        spool_meta m;
        uint8_t *frame = NULL;
        size_t flen = 0;
        int rc;
        ck_assert_int_eq(wire_chunk_split_get(&t->split, k, &b), 0);
        if (frames) {
            memset(&wm, 0, sizeof wm);
            wm.type = WIRE_MSG_BUNDLE;
            wm.u.bundle = b;
            rc = wire_msg_encode_alloc(&wm, WIRE_FRAME_LIMIT, &frame, &flen,
                                       err, sizeof err);
            ck_assert_msg(rc == 0, "encode chunk %u: %s", k, err);
            ck_assert_uint_gt(flen, b.payload_len);
            /* the payload ends the frame */
            if (b.payload_len)
                ck_assert_int_eq(memcmp(frame + flen - b.payload_len,
                                        b.payload, b.payload_len), 0);
            b.payload = frame;
            b.payload_len = flen;
        }
        memset(&m, 0, sizeof m);
        memcpy(m.id, b.id, 16);
        snprintf(m.src, sizeof m.src, "%s", b.src);
        snprintf(m.dst, sizeof m.dst, "%s", b.dst);
        m.priority = (uint8_t)b.priority;
        m.kind = (uint16_t)b.kind;
        m.created_unix_ms = b.created_unix_ms;
        m.lifetime_ms = b.lifetime_ms;
        m.size = b.payload_len;
        rc = spool_put(sp, &m, b.payload, err, sizeof err);
        ck_assert_msg(rc == 0, "put chunk %u: %d %s", k, rc, err);
        free(frame);
    }
}

static void tobj_store(tobj *t, spool *sp)
{
    tobj_store_as(t, sp, 0);
}

static int chunks_present(const tobj *t, spool *sp)
{
    int n = 0;
    for (uint32_t i = 0; i < t->n; i++)
        n += spool_stat(sp, t->ids[i], NULL) == 0;
    return n;
}

static char *path_in(const char *d, const char *name)
{
    static char p[2][700];
    static int w;
    w ^= 1;
    snprintf(p[w], sizeof p[w], "%s/%s", d, name);
    return p[w];
}

static char *obj_path(const tobj *t, const char *ext)
{
    char h[40];
    hex(t->o.object_id, 16, h);
    strcat(h, ext);
    return path_in(ibdir, h);
}

/* The whole file into a new buffer (*len its size); NULL if absent. */
static uint8_t *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    uint8_t *b;
    long n;
    if (!f)
        return NULL;
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b[n] = 0;
    *len = (size_t)n;
    return b;
}

static int journal_lines(void)
{
    size_t len;
    uint8_t *j = slurp(path_in(ibdir, "delivered.tsv"), &len);
    int n = 0;
    if (!j)
        return -1;
    for (size_t i = 0; i < len; i++)
        n += j[i] == '\n';
    free(j);
    return n;
}

static void append_raw(const char *p, const char *s)
{
    int fd = open(p, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    close(fd);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* The delivered file holds exactly the object. */
static void check_file(const tobj *t)
{
    size_t len;
    uint8_t *got = slurp(obj_path(t, ""), &len), a[32], b[32];
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(len, t->size);
    ck_assert_int_eq(memcmp(got, t->data, t->size), 0);
    sha256(got, len, a);
    sha256(t->data, t->size, b);
    ck_assert_int_eq(memcmp(a, b, 32), 0);
    free(got);
    ck_assert(!exists(obj_path(t, ".tmp")));
}

static void tobj_free(tobj *t)
{
    free(t->data);
}

/* -------------------------------------------------------------- tests */

START_TEST(deliver_5mib_object)
{
    tobj t;
    spool *sp = spool_at(spdir);
    inbox *ib = inbox_at(ibdir);
    spool_stats st;
    size_t len;
    char *j, line[1024], idh[33], shah[65];
    int rc;

    tobj_make(&t, OBJ_SIZE, 1);
    ck_assert_uint_eq(t.n, 6);
    tobj_store(&t, sp);
    ck_assert_int_eq(chunks_present(&t, sp), 6);
    ck_assert_int_eq(inbox_delivered(ib, t.o.object_id), 0);

    rc = inbox_deliver(ib, sp, &t.o, (const uint8_t (*)[16])t.ids, t.n, err,
                       sizeof err);
    ck_assert_msg(rc == 0, "deliver: %d %s", rc, err);
    check_file(&t);
    ck_assert_int_eq(inbox_delivered(ib, t.o.object_id), 1);
    ck_assert_uint_eq(inbox_count(ib), 1);
    /* the chunks are gone from the spool, as delivered */
    ck_assert_int_eq(chunks_present(&t, sp), 0);
    spool_stats_get(sp, &st);
    ck_assert_uint_eq(st.count, 0);
    ck_assert_uint_eq(st.pending, 0);

    /* one journal line with the expected fields */
    ck_assert_int_eq(journal_lines(), 1);
    j = (char *)slurp(path_in(ibdir, "delivered.tsv"), &len);
    hex(t.o.object_id, 16, idh);
    hex(t.o.sha256, 32, shah);
    {
        const char *tab = strchr(j, '\t');
        ck_assert_ptr_nonnull(tab);
        snprintf(line, sizeof line, "\t%s\t%zu\t%s\tgs-mad\t"
                 "resnet/layer1.npy\n", idh, (size_t)OBJ_SIZE, shah);
        ck_assert_str_eq(tab, line);
        ck_assert_uint_ge(strtoull(j, NULL, 10), 1700000000000ull);
    }
    free(j);

    /* again: nothing more, no second line */
    rc = inbox_deliver(ib, sp, &t.o, (const uint8_t (*)[16])t.ids, t.n, err,
                       sizeof err);
    ck_assert_msg(rc == INBOX_ALREADY, "redeliver: %d %s", rc, err);
    ck_assert_int_eq(journal_lines(), 1);
    check_file(&t);

    inbox_close(ib);
    ck_assert_int_eq(spool_close(sp, err, sizeof err), 0);
    tobj_free(&t);
}
END_TEST

START_TEST(crash_after_journal_before_deletes)
{
    /* The journal has the object but the chunks are still stored: here
     * a second spool holds copies of them, as after a crash between
     * steps 5 and 6. Delivery only removes them. */
    tobj t;
    spool *sp = spool_at(spdir), *sp2 = spool_at(spdir2);
    inbox *ib = inbox_at(ibdir);
    int rc;
    tobj_make(&t, OBJ_SIZE, 2);
    tobj_store(&t, sp);
    tobj_store(&t, sp2);
    ck_assert_int_eq(inbox_deliver(ib, sp, &t.o,
                                   (const uint8_t (*)[16])t.ids, t.n, err,
                                   sizeof err), 0);
    inbox_close(ib);
    /* "restart" */
    ib = inbox_at(ibdir);
    ck_assert_int_eq(inbox_delivered(ib, t.o.object_id), 1);
    ck_assert_int_eq(chunks_present(&t, sp2), (int)t.n);
    rc = inbox_deliver(ib, sp2, &t.o, (const uint8_t (*)[16])t.ids, t.n,
                       err, sizeof err);
    ck_assert_msg(rc == INBOX_ALREADY, "%d %s", rc, err);
    ck_assert_int_eq(chunks_present(&t, sp2), 0);
    ck_assert_int_eq(journal_lines(), 1);
    check_file(&t);
    /* the deletes were durable: a reopened spool does not have them */
    ck_assert_int_eq(spool_close(sp2, err, sizeof err), 0);
    sp2 = spool_at(spdir2);
    ck_assert_int_eq(chunks_present(&t, sp2), 0);
    inbox_close(ib);
    ck_assert_int_eq(spool_close(sp, err, sizeof err), 0);
    ck_assert_int_eq(spool_close(sp2, err, sizeof err), 0);
    tobj_free(&t);
}
END_TEST

START_TEST(refusals_leave_everything)
{
    tobj t;
    spool *sp = spool_at(spdir);
    inbox *ib = inbox_at(ibdir);
    inbox_object bad;
    int rc;
    tobj_make(&t, OBJ_SIZE, 3);
    tobj_store(&t, sp);

    /* wrong SHA-256 */
    bad = t.o;
    bad.sha256[7] ^= 1;
    rc = inbox_deliver(ib, sp, &bad, (const uint8_t (*)[16])t.ids, t.n, err,
                       sizeof err);
    ck_assert_int_eq(rc, INBOX_ECHECKSUM);
    ck_assert_int_eq(rc, WIRE_ECHECKSUM);
    ck_assert_ptr_nonnull(strstr(err, "SHA-256"));
    ck_assert(!exists(obj_path(&t, "")));
    ck_assert(!exists(obj_path(&t, ".tmp")));
    ck_assert_int_eq(journal_lines(), 0);
    ck_assert_int_eq(chunks_present(&t, sp), (int)t.n);
    ck_assert_int_eq(inbox_delivered(ib, t.o.object_id), 0);

    /* sizes that do not add up */
    bad = t.o;
    bad.size++;
    ck_assert_int_eq(inbox_deliver(ib, sp, &bad,
                                   (const uint8_t (*)[16])t.ids, t.n, err,
                                   sizeof err), -EBADMSG);
    bad.size -= 2;              /* the last chunk's tail: wrong hash */
    ck_assert_int_eq(inbox_deliver(ib, sp, &bad,
                                   (const uint8_t (*)[16])t.ids, t.n, err,
                                   sizeof err), INBOX_ECHECKSUM);
    bad.chunk_size = 0;         /* bare entries: sizes do not add up */
    ck_assert_int_eq(inbox_deliver(ib, sp, &bad,
                                   (const uint8_t (*)[16])t.ids, t.n, err,
                                   sizeof err), -EBADMSG);
    /* another source */
    bad = t.o;
    snprintf(bad.src, sizeof bad.src, "gs-cbr");
    ck_assert_int_eq(inbox_deliver(ib, sp, &bad,
                                   (const uint8_t (*)[16])t.ids, t.n, err,
                                   sizeof err), -EBADMSG);
    /* misuse */
    ck_assert_int_eq(inbox_deliver(ib, sp, &t.o,
                                   (const uint8_t (*)[16])t.ids, t.n - 1,
                                   err, sizeof err), -EINVAL);
    bad = t.o;
    memset(bad.object_id, 0, 16);
    ck_assert_int_eq(inbox_deliver(ib, sp, &bad,
                                   (const uint8_t (*)[16])t.ids, t.n, err,
                                   sizeof err), -EINVAL);
    ck_assert(!exists(obj_path(&t, "")));
    ck_assert_int_eq(journal_lines(), 0);
    ck_assert_int_eq(chunks_present(&t, sp), (int)t.n);

    /* a missing chunk */
    ck_assert_int_eq(spool_delete(sp, t.ids[2], SPOOL_ADMIN, err,
                                  sizeof err), 0);
    rc = inbox_deliver(ib, sp, &t.o, (const uint8_t (*)[16])t.ids, t.n, err,
                       sizeof err);
    ck_assert_int_eq(rc, -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "chunk 2"));
    ck_assert(!exists(obj_path(&t, "")));
    ck_assert_int_eq(journal_lines(), 0);
    ck_assert_int_eq(chunks_present(&t, sp), (int)t.n - 1);

    inbox_close(ib);
    ck_assert_int_eq(spool_close(sp, err, sizeof err), 0);
    tobj_free(&t);
}
END_TEST

START_TEST(refused_then_good)
{
    /* after a refusal the right metadata delivers normally */
    tobj t;
    spool *sp = spool_at(spdir);
    inbox *ib = inbox_at(ibdir);
    inbox_object bad;
    tobj_make(&t, 3 * 1024 * 1024, 4);
    tobj_store(&t, sp);
    bad = t.o;
    bad.sha256[0] ^= 0x80;
    ck_assert_int_eq(inbox_deliver(ib, sp, &bad,
                                   (const uint8_t (*)[16])t.ids, t.n, err,
                                   sizeof err), INBOX_ECHECKSUM);
    ck_assert_int_eq(inbox_deliver(ib, sp, &t.o,
                                   (const uint8_t (*)[16])t.ids, t.n, err,
                                   sizeof err), 0);
    check_file(&t);
    ck_assert_int_eq(journal_lines(), 1);
    inbox_close(ib);
    ck_assert_int_eq(spool_close(sp, err, sizeof err), 0);
    tobj_free(&t);
}
END_TEST

START_TEST(reopen_and_torn_tail)
{
    tobj a, b;
    spool *sp = spool_at(spdir);
    inbox *ib = inbox_at(ibdir), *ib2 = NULL;
    char jp[700];
    size_t len0, len1;
    uint8_t *j;
    snprintf(jp, sizeof jp, "%s/delivered.tsv", ibdir);
    tobj_make(&a, OBJ_SIZE, 5);
    tobj_make(&b, 1000, 6);     /* one small chunk */
    ck_assert_uint_eq(b.n, 1);
    tobj_store(&a, sp);
    tobj_store(&b, sp);
    ck_assert_int_eq(inbox_deliver(ib, sp, &a.o,
                                   (const uint8_t (*)[16])a.ids, a.n, err,
                                   sizeof err), 0);
    /* a second opener is kept out */
    ck_assert_int_eq(inbox_open(&ib2, ibdir, err, sizeof err), -EBUSY);
    ck_assert_ptr_null(ib2);
    inbox_close(ib);

    /* reopen: the set is back */
    ib = inbox_at(ibdir);
    ck_assert_int_eq(inbox_delivered(ib, a.o.object_id), 1);
    ck_assert_int_eq(inbox_delivered(ib, b.o.object_id), 0);
    ck_assert_uint_eq(inbox_count(ib), 1);
    inbox_close(ib);

    /* a torn append (no newline), and a stale .tmp */
    free(slurp(jp, &len0));
    append_raw(jp, "1700000000000\t0123456789abcdef0123");
    {
        int fd = open(obj_path(&b, ".tmp"), O_WRONLY | O_CREAT, 0640);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "partial", 7), 7);
        close(fd);
    }
    ib = inbox_at(ibdir);
    j = slurp(jp, &len1);
    ck_assert_uint_eq(len1, len0);      /* the tail was cut off */
    free(j);
    ck_assert(!exists(obj_path(&b, ".tmp")));
    ck_assert_uint_eq(inbox_count(ib), 1);
    ck_assert_int_eq(inbox_delivered(ib, a.o.object_id), 1);
    /* and the next append starts on a clean line */
    ck_assert_int_eq(inbox_deliver(ib, sp, &b.o,
                                   (const uint8_t (*)[16])b.ids, b.n, err,
                                   sizeof err), 0);
    check_file(&b);
    ck_assert_int_eq(journal_lines(), 2);
    inbox_close(ib);
    ib = inbox_at(ibdir);
    ck_assert_uint_eq(inbox_count(ib), 2);
    ck_assert_int_eq(inbox_delivered(ib, b.o.object_id), 1);
    inbox_close(ib);

    /* a corrupt complete line: refuse to guess */
    append_raw(jp, "garbage\tline\n");
    ck_assert_int_eq(inbox_open(&ib, ibdir, err, sizeof err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "line 3"));
    ck_assert_ptr_null(ib);

    ck_assert_int_eq(spool_close(sp, err, sizeof err), 0);
    tobj_free(&a);
    tobj_free(&b);
}
END_TEST

START_TEST(many_objects_set)
{
    /* the delivered set grows past its first table (64 slots) */
    spool *sp = spool_at(spdir);
    inbox *ib = inbox_at(ibdir);
    static tobj t[80];
    for (int i = 0; i < 80; i++) {
        tobj_make(&t[i], 100 + (size_t)i, 100 + (uint32_t)i);
        tobj_store(&t[i], sp);
        ck_assert_int_eq(inbox_deliver(ib, sp, &t[i].o,
                                       (const uint8_t (*)[16])t[i].ids,
                                       t[i].n, err, sizeof err), 0);
    }
    ck_assert_uint_eq(inbox_count(ib), 80);
    inbox_close(ib);
    ib = inbox_at(ibdir);
    ck_assert_uint_eq(inbox_count(ib), 80);
    for (int i = 0; i < 80; i++) {
        ck_assert_int_eq(inbox_delivered(ib, t[i].o.object_id), 1);
        check_file(&t[i]);
        tobj_free(&t[i]);
    }
    ck_assert_int_eq(journal_lines(), 80);
    inbox_close(ib);
    ck_assert_int_eq(spool_close(sp, err, sizeof err), 0);
}
END_TEST

START_TEST(name_escaped)
{
    tobj t;
    spool *sp = spool_at(spdir);
    inbox *ib = inbox_at(ibdir);
    char out[64], *j;
    size_t len;
    /* the escaping itself */
    ck_assert_uint_eq(inbox_escape("a\tb\nc\\d\re\x01\x7f", 64, out,
                                   sizeof out), 21);
    ck_assert_str_eq(out, "a\\tb\\nc\\\\d\\re\\x01\\x7f");
    ck_assert_uint_eq(inbox_escape("abcdef", 3, out, sizeof out), 3);
    ck_assert_str_eq(out, "abc");
    /* truncated at a whole escape */
    ck_assert_uint_eq(inbox_escape("ab\tc", 64, out, 4), 2);
    ck_assert_str_eq(out, "ab");
    ck_assert_uint_eq(inbox_escape("\xc3\xa9t\xc3\xa9", 64, out, sizeof out),
                      5);   /* UTF-8 passes */

    /* an untrusted name in the journal, never in a path */
    tobj_make(&t, 5000, 7);
    tobj_store(&t, sp);
    snprintf(t.o.name, sizeof t.o.name, "../../etc/passwd\tx\ny");
    ck_assert_int_eq(inbox_deliver(ib, sp, &t.o,
                                   (const uint8_t (*)[16])t.ids, t.n, err,
                                   sizeof err), 0);
    check_file(&t);
    ck_assert_int_eq(journal_lines(), 1);
    j = (char *)slurp(path_in(ibdir, "delivered.tsv"), &len);
    ck_assert_ptr_nonnull(strstr(j, "\tgs-mad\t../../etc/passwd\\tx\\ny\n"));
    free(j);
    inbox_close(ib);
    /* and the journal still parses */
    ib = inbox_at(ibdir);
    ck_assert_int_eq(inbox_delivered(ib, t.o.object_id), 1);
    inbox_close(ib);
    ck_assert_int_eq(spool_close(sp, err, sizeof err), 0);
    tobj_free(&t);
}
END_TEST

START_TEST(deliver_from_frames)
{
    /* the daemon's way: each spool entry is the chunk's whole wire frame,
     * whose last bytes are the chunk */
    tobj t;
    spool *sp = spool_at(spdir);
    inbox *ib = inbox_at(ibdir);
    inbox_object bad;
    int rc;
    tobj_make(&t, OBJ_SIZE, 10);
    tobj_store_as(&t, sp, 1);
    /* without chunk_size the entries would be taken whole: refused */
    bad = t.o;
    bad.chunk_size = 0;
    ck_assert_int_eq(inbox_deliver(ib, sp, &bad,
                                   (const uint8_t (*)[16])t.ids, t.n, err,
                                   sizeof err), -EBADMSG);
    /* a chunk size that does not give chunk_count chunks */
    bad = t.o;
    bad.chunk_size = 2 * WIRE_CHUNK_DEFAULT;
    ck_assert_int_eq(inbox_deliver(ib, sp, &bad,
                                   (const uint8_t (*)[16])t.ids, t.n, err,
                                   sizeof err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "chunks of"));
    ck_assert_int_eq(journal_lines(), 0);
    rc = inbox_deliver(ib, sp, &t.o, (const uint8_t (*)[16])t.ids, t.n, err,
                       sizeof err);
    ck_assert_msg(rc == 0, "deliver: %d %s", rc, err);
    check_file(&t);
    ck_assert_int_eq(journal_lines(), 1);
    ck_assert_int_eq(chunks_present(&t, sp), 0);
    inbox_close(ib);
    ck_assert_int_eq(spool_close(sp, err, sizeof err), 0);
    tobj_free(&t);
}
END_TEST

START_TEST(deliver_bare_without_chunk_size)
{
    /* chunk_size 0: the entries are the bare chunks; a single chunk and
     * an empty object work either way */
    tobj t, one, empty;
    spool *sp = spool_at(spdir);
    inbox *ib = inbox_at(ibdir);
    tobj_make(&t, OBJ_SIZE, 11);
    tobj_make(&one, 70000, 12);
    tobj_make(&empty, 0, 13);
    ck_assert_uint_eq(one.n, 1);
    ck_assert_uint_eq(empty.n, 1);
    tobj_store(&t, sp);
    tobj_store_as(&one, sp, 1);
    tobj_store_as(&empty, sp, 1);
    t.o.chunk_size = 0;
    one.o.chunk_size = 0;
    ck_assert_int_eq(inbox_deliver(ib, sp, &t.o,
                                   (const uint8_t (*)[16])t.ids, t.n, err,
                                   sizeof err), 0);
    ck_assert_int_eq(inbox_deliver(ib, sp, &one.o,
                                   (const uint8_t (*)[16])one.ids, one.n,
                                   err, sizeof err), 0);
    ck_assert_int_eq(inbox_deliver(ib, sp, &empty.o,
                                   (const uint8_t (*)[16])empty.ids,
                                   empty.n, err, sizeof err), 0);
    check_file(&t);
    check_file(&one);
    check_file(&empty);
    ck_assert_int_eq(journal_lines(), 3);
    inbox_close(ib);
    ck_assert_int_eq(spool_close(sp, err, sizeof err), 0);
    tobj_free(&t);
    tobj_free(&one);
    tobj_free(&empty);
}
END_TEST

START_TEST(journal_sync_failure)
{
    /* fdatasync of the journal fails: the inbox cannot tell whether the
     * line is durable, so it stops; after a reopen the line decides. */
    tobj t, u;
    spool *sp = spool_at(spdir);
    inbox *ib = inbox_at(ibdir);
    int rc;
    tobj_make(&t, 2 * 1024 * 1024 + 5, 8);
    tobj_make(&u, 1000, 9);
    tobj_store(&t, sp);
    tobj_store(&u, sp);
    fail_fdatasync = 1;     /* the first fdatasync is the journal's */
    rc = inbox_deliver(ib, sp, &t.o, (const uint8_t (*)[16])t.ids, t.n, err,
                       sizeof err);
    fail_fdatasync = 0;
    ck_assert_int_eq(rc, -EIO);
    ck_assert_ptr_nonnull(strstr(err, "reopened"));
    ck_assert_int_eq(inbox_delivered(ib, t.o.object_id), 0);
    ck_assert_int_eq(chunks_present(&t, sp), (int)t.n);
    /* broken: refuses everything */
    rc = inbox_deliver(ib, sp, &u.o, (const uint8_t (*)[16])u.ids, u.n, err,
                       sizeof err);
    ck_assert_int_eq(rc, -EIO);
    ck_assert_ptr_nonnull(strstr(err, "broken"));
    inbox_close(ib);
    /* here the line did reach the file: after the reopen it counts */
    ib = inbox_at(ibdir);
    ck_assert_int_eq(inbox_delivered(ib, t.o.object_id), 1);
    rc = inbox_deliver(ib, sp, &t.o, (const uint8_t (*)[16])t.ids, t.n, err,
                       sizeof err);
    ck_assert_int_eq(rc, INBOX_ALREADY);
    ck_assert_int_eq(chunks_present(&t, sp), 0);
    check_file(&t);
    ck_assert_int_eq(inbox_deliver(ib, sp, &u.o,
                                   (const uint8_t (*)[16])u.ids, u.n, err,
                                   sizeof err), 0);
    ck_assert_int_eq(journal_lines(), 2);
    inbox_close(ib);
    ck_assert_int_eq(spool_close(sp, err, sizeof err), 0);
    tobj_free(&t);
    tobj_free(&u);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("inbox");
    TCase *t = tcase_create("core");
    SRunner *sr;
    int failed;
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, deliver_5mib_object);
    tcase_add_test(t, crash_after_journal_before_deletes);
    tcase_add_test(t, refusals_leave_everything);
    tcase_add_test(t, refused_then_good);
    tcase_add_test(t, reopen_and_torn_tail);
    tcase_add_test(t, many_objects_set);
    tcase_add_test(t, name_escaped);
    tcase_add_test(t, journal_sync_failure);
    tcase_add_test(t, deliver_from_frames);
    tcase_add_test(t, deliver_bare_without_chunk_size);
    suite_add_tcase(s, t);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
