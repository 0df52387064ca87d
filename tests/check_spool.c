/*
 * check_spool.c - unit tests for lib/store (spool.c and its helpers):
 * CRC-32C and the entry format, put/get/next in priority order, acks,
 * duplicates (in the index, in delivered.log, across reopen), capacity and
 * backpressure, expiry with reasons, recovery (torn, corrupt, temp files,
 * crash leftovers) with quarantine, bounded lengths, group commit,
 * progress, compaction, the bounded delivered-id memory, the LOCK, and
 * the kill -9 test (tests/spool_crash, see there).
 *
 * Each test works in its own directory under /tmp and removes it. A fake
 * clock (now_ms) drives expiry. No timing assertions.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crc32c.h"
#include "lgerr.h"
#include "spool.h"
#include "spool_fmt.h"
#include "spool_tab.h"

static char err[512];
static char dir[256];
static uint64_t now_ms = 1700000000000ull;

/* ------------------------------------------------------------ helpers */

#define MAXEV 256
static struct {
    spool_event ev;
    char msg[512];
    int has_meta;
    spool_meta m;
} evs[MAXEV];
static int nev;

static void log_cb(void *arg, spool_event ev, const spool_meta *m,
                   const char *msg)
{
    (void)arg;
    if (nev < MAXEV) {
        evs[nev].ev = ev;
        snprintf(evs[nev].msg, sizeof evs[nev].msg, "%s", msg);
        evs[nev].has_meta = m != NULL;
        if (m)
            evs[nev].m = *m;
        nev++;
    }
}

static int count_ev(spool_event ev)
{
    int n = 0;
    for (int i = 0; i < nev; i++)
        n += evs[i].ev == ev;
    return n;
}

static int ev_has(spool_event ev, const char *needle)
{
    for (int i = 0; i < nev; i++)
        if (evs[i].ev == ev && strstr(evs[i].msg, needle))
            return 1;
    return 0;
}

static uint64_t fake_clock(void *arg)
{
    (void)arg;
    return now_ms;
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/check_spool.%d.XXXXXX", (int)getpid());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    nev = 0;
    now_ms = 1700000000000ull;
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void opts(spool_opts *o)
{
    spool_opts_init(o);
    o->log = log_cb;
    o->clock = fake_clock;
}

static spool *open_ok(const spool_opts *o)
{
    spool *sp = NULL;
    int rc = spool_open(&sp, dir, o, err, sizeof err);
    ck_assert_msg(rc == 0, "spool_open: %d %s", rc, err);
    return sp;
}

static void close_ok(spool *sp)
{
    int rc = spool_close(sp, err, sizeof err);
    ck_assert_msg(rc == 0, "spool_close: %s", err);
}

/* Bundle number k: id, names and a payload derived from k. */
static void mk(spool_meta *m, int k, const char *dst, int prio, size_t size)
{
    memset(m, 0, sizeof *m);
    for (int i = 0; i < SPOOL_ID_LEN; i++)
        m->id[i] = (uint8_t)(k * 31 + i * 7 + (k >> 8));
    m->id[0] = (uint8_t)k;
    m->id[1] = (uint8_t)(k >> 8);
    snprintf(m->src, sizeof m->src, "gs-mad");
    snprintf(m->dst, sizeof m->dst, "%s", dst);
    m->priority = (uint8_t)prio;
    m->kind = 3;
    m->created_unix_ms = now_ms;
    m->lifetime_ms = 3600u * 1000u;
    m->size = size;
}

static uint8_t *payload(int k, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    uint32_t x = (uint32_t)k * 2654435761u + 1;
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < size; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (uint8_t)(x >> 24);
    }
    return p;
}

static void put_ok(spool *sp, int k, const char *dst, int prio, size_t size)
{
    spool_meta m;
    uint8_t *p = payload(k, size);
    int rc;
    mk(&m, k, dst, prio, size);
    rc = spool_put(sp, &m, p, err, sizeof err);
    ck_assert_msg(rc == 0, "put %d: %d %s", k, rc, err);
    free(p);
}

/* The stored bundle k holds payload(pk, size). */
static void check_content_as(spool *sp, int k, size_t size, int pk)
{
    spool_meta m, g;
    uint8_t *want = payload(pk, size), *got = malloc(size + 1);
    int rc;
    mk(&m, k, "x", 0, size);
    rc = spool_get(sp, m.id, &g, got, size + 1, err, sizeof err);
    ck_assert_msg(rc == 0, "get %d: %s", k, err);
    ck_assert_uint_eq(g.size, size);
    ck_assert_msg(memcmp(want, got, size) == 0, "bundle %d: wrong content",
                  k);
    free(want);
    free(got);
}

/* The stored bundle k has the payload put_ok gave it. */
static void check_content(spool *sp, int k, size_t size)
{
    check_content_as(sp, k, size, k);
}

static int present(spool *sp, int k)
{
    spool_meta m;
    mk(&m, k, "x", 0, 0);
    return spool_stat(sp, m.id, NULL) == 0;
}

static int ack(spool *sp, int k)
{
    spool_meta m;
    mk(&m, k, "x", 0, 0);
    return spool_ack(sp, m.id, err, sizeof err);
}

static int next_k(spool *sp, const spool_filter *f)
{
    spool_meta m;
    if (spool_next(sp, f, &m))
        return -1;
    return m.id[0] | m.id[1] << 8;
}

static char *path(const char *name)
{
    static char p[2][600];
    static int w;
    w ^= 1;
    snprintf(p[w], sizeof p[w], "%s/%s", dir, name);
    return p[w];
}

static char *file_of(int k, const char *ext)
{
    spool_meta m;
    char hex[33], name[64];
    mk(&m, k, "x", 0, 0);
    spool_id_hex(m.id, hex);
    snprintf(name, sizeof name, "b-%s.%s", hex, ext);
    return path(name);
}

static int count_files(const char *sub, const char *prefix)
{
    char d[600];
    DIR *dd;
    struct dirent *de;
    int n = 0;
    snprintf(d, sizeof d, "%s/%s", dir, sub);
    dd = opendir(d);
    ck_assert_ptr_nonnull(dd);
    while ((de = readdir(dd)))
        if (de->d_name[0] != '.' && !strncmp(de->d_name, prefix,
                                             strlen(prefix)))
            n++;
    closedir(dd);
    return n;
}

static void flip_byte(const char *p, off_t at)
{
    int fd = open(p, O_RDWR);
    uint8_t b;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &b, 1, at), 1);
    b ^= 0x5a;
    ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static off_t file_size(const char *p)
{
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    return st.st_size;
}

static void copy_file(const char *from, const char *to)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    ck_assert_int_eq(system(cmd), 0);
}

#define LARGE (100u << 10)      /* > small_max: own file */
#define SMALL 4096u             /* segment */

/* ------------------------------------------------------------- format */

START_TEST(crc32c_vectors)
{
    static const char *v = "123456789";
    uint8_t buf[4096 + 16];
    ck_assert_uint_eq(crc32c(0, v, 9), 0xe3069283u);
    ck_assert_uint_eq(crc32c_sw(0, v, 9), 0xe3069283u);
    ck_assert_uint_eq(crc32c(crc32c(0, v, 4), v + 4, 5), 0xe3069283u);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len < 600; len += 37)
            ck_assert_uint_eq(crc32c(7, buf + off, len),
                              crc32c_sw(7, buf + off, len));
    ck_assert_uint_eq(crc32c(0, buf, 4096), crc32c_sw(0, buf, 4096));
}
END_TEST

START_TEST(header_roundtrip)
{
    spool_hdr h, d;
    uint8_t hb[SPOOL_FMT_HDR_MAX], pl[10] = "abcdefghi";
    char why[128];
    uint32_t len;
    memset(&h, 0, sizeof h);
    memset(h.id, 0xab, SPOOL_ID_LEN);
    h.seq = 42;
    h.created = 1234;
    h.lifetime = 5678;
    h.payload_len = 10;
    h.kind = 513;
    h.priority = 7;
    strcpy(h.src, "gs-mad");
    h.src_len = 6;
    memset(h.dst, 'z', 63);
    h.dst[63] = 0;
    h.dst_len = 63;
    len = spool_fmt_encode(&h, pl, hb);
    ck_assert_uint_eq(len % 8, 0);
    ck_assert_uint_le(len, SPOOL_FMT_HDR_MAX);
    ck_assert_int_eq(spool_fmt_decode(hb, len, &d, why, sizeof why), 0);
    ck_assert_int_eq(memcmp(d.id, h.id, SPOOL_ID_LEN), 0);
    ck_assert_uint_eq(d.seq, 42);
    ck_assert_uint_eq(d.kind, 513);
    ck_assert_uint_eq(d.priority, 7);
    ck_assert_str_eq(d.src, "gs-mad");
    ck_assert_str_eq(d.dst, h.dst);
    ck_assert_uint_eq(d.crc, h.crc);
    ck_assert_uint_eq(crc32c(spool_fmt_crc_hdr(hb, len), pl, 10), d.crc);
    ck_assert_str_eq(d.job, "");
    ck_assert_uint_eq(d.job_epoch, 0);
    {
        /* with the longest job tag, every field at its widest */
        spool_hdr hj = h, dj;
        uint8_t hbj[SPOOL_FMT_HDR_MAX];
        memset(hj.src, 'y', 63);
        hj.src[63] = 0;
        hj.src_len = 63;
        strcpy(hj.job, "j0123456789abcde");
        hj.job_len = 16;
        hj.job_epoch = 0xfffffffeu;
        len = spool_fmt_encode(&hj, pl, hbj);
        ck_assert_uint_eq(len, SPOOL_FMT_HDR_MAX);
        ck_assert_int_eq(spool_fmt_decode(hbj, len, &dj, why, sizeof why), 0);
        ck_assert_str_eq(dj.job, "j0123456789abcde");
        ck_assert_uint_eq(dj.job_epoch, 0xfffffffeu);
        ck_assert_str_eq(dj.dst, h.dst);
        /* a job tag length past 16 is refused */
        hbj[62] = 17;
        spool_fmt_reseal(hbj, len);
        ck_assert_int_eq(spool_fmt_decode(hbj, len, &dj, why, sizeof why),
                         -EBADMSG);
        ck_assert_ptr_nonnull(strstr(why, "job tag"));
        len = spool_fmt_encode(&h, pl, hb);
    }
    /* short input: need more; damage: rejected with a reason */
    ck_assert_int_eq(spool_fmt_decode(hb, 40, &d, why, sizeof why), -EAGAIN);
    hb[20] ^= 1;
    ck_assert_int_eq(spool_fmt_decode(hb, len, &d, why, sizeof why),
                     -EBADMSG);
    ck_assert_ptr_nonnull(strstr(why, "checksum"));
    hb[20] ^= 1;
    hb[0] ^= 1;
    ck_assert_int_eq(spool_fmt_decode(hb, len, &d, why, sizeof why),
                     -EBADMSG);
    ck_assert_ptr_nonnull(strstr(why, "magic"));
    hb[0] ^= 1;
    /* a header length that would run past the limit is refused first */
    hb[6] = 0xf8;
    hb[7] = 0x7f;
    ck_assert_int_eq(spool_fmt_decode(hb, len, &d, why, sizeof why),
                     -EBADMSG);
}
END_TEST

static int tab_eq(const void *ctx, uint32_t v, const void *key)
{
    const uint32_t *keys = ctx;
    return keys[v] == *(const uint32_t *)key;
}

START_TEST(tab_random_ops)
{
    /* Against a plain array: inserts, finds and backward-shift deletes
     * with many colliding hashes. */
    spool_tab t = { 0 };
    static uint32_t keys[4000];
    static int in[4000];
    uint32_t x = 12345;
    for (uint32_t i = 0; i < 4000; i++)
        keys[i] = i * 7919u;
    for (int step = 0; step < 40000; step++) {
        uint32_t v, h, f;
        x = x * 1103515245u + 12345u;
        v = (x >> 8) % 4000;
        h = keys[v] % 97;       /* few hash values: long probe runs */
        f = spool_tab_find(&t, h, tab_eq, keys, &keys[v]);
        ck_assert_uint_eq(f, in[v] ? v : SPOOL_TAB_NONE);
        if (in[v])
            spool_tab_del(&t, h, v);
        else
            ck_assert_int_eq(spool_tab_add(&t, h, v), 0);
        in[v] = !in[v];
    }
    for (uint32_t v = 0; v < 4000; v++)
        ck_assert_uint_eq(spool_tab_find(&t, keys[v] % 97, tab_eq, keys,
                                         &keys[v]),
                          in[v] ? v : SPOOL_TAB_NONE);
    spool_tab_free(&t);
}
END_TEST

/* ------------------------------------------------------ basic behaviour */

START_TEST(put_get_next_order)
{
    spool_opts o;
    spool *sp;
    spool_meta m;
    spool_filter f = { 0 };
    opts(&o);
    sp = open_ok(&o);
    /* k: priority, created order; two destinations; large and small */
    put_ok(sp, 1, "leo-1", 2, SMALL);
    now_ms += 10;
    put_ok(sp, 2, "leo-1", 5, LARGE);
    now_ms += 10;
    put_ok(sp, 3, "luna-1", 5, 10);
    now_ms += 10;
    put_ok(sp, 4, "leo-1", 2, 0);
    now_ms += 10;
    put_ok(sp, 5, "leo-1", 7, 100);
    /* created earlier than 1 and 4 but arrives last: FIFO by creation */
    mk(&m, 6, "leo-1", 2, 50);
    m.created_unix_ms = now_ms - 1000;
    {
        uint8_t *p = payload(6, 50);
        ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), 0);
        free(p);
    }
    check_content(sp, 1, SMALL);
    check_content(sp, 2, LARGE);
    check_content(sp, 4, 0);
    ck_assert_int_eq(spool_stat(sp, m.id, &m), 0);
    ck_assert_str_eq(m.dst, "leo-1");
    ck_assert_str_eq(m.src, "gs-mad");
    ck_assert_uint_eq(m.kind, 3);

    /* order: 5 (p7), 2 (p5, older than 3), 3, 6 (p2, oldest), 1, 4 */
    ck_assert_int_eq(next_k(sp, NULL), 5);
    ck_assert_int_eq(next_k(sp, NULL), 2);
    ck_assert_int_eq(next_k(sp, NULL), 3);
    ck_assert_int_eq(next_k(sp, NULL), 6);
    ck_assert_int_eq(next_k(sp, NULL), 1);
    ck_assert_int_eq(next_k(sp, NULL), 4);
    ck_assert_int_eq(next_k(sp, NULL), -1);     /* all in flight */
    mk(&m, 2, "x", 0, 0);
    ck_assert_int_eq(spool_stat(sp, m.id, &m), 0);
    ck_assert_int_eq(m.inflight, 1);
    ck_assert_int_eq(spool_release(sp, m.id), 0);
    ck_assert_int_eq(next_k(sp, NULL), 2);
    mk(&m, 2, "x", 0, 0);
    spool_release(sp, m.id);
    mk(&m, 3, "x", 0, 0);
    spool_release(sp, m.id);
    mk(&m, 1, "x", 0, 0);
    spool_release(sp, m.id);
    /* destination filter, then a link filter */
    f.dst = "luna-1";
    ck_assert_int_eq(next_k(sp, &f), 3);
    ck_assert_int_eq(next_k(sp, &f), -1);
    f.dst = "nowhere";
    ck_assert_int_eq(next_k(sp, &f), -1);
    close_ok(sp);

    /* Reopen: the order survives, nothing is in flight any more. */
    sp = open_ok(&o);
    ck_assert_int_eq(next_k(sp, NULL), 5);
    ck_assert_int_eq(next_k(sp, NULL), 2);
    ck_assert_int_eq(next_k(sp, NULL), 3);
    ck_assert_int_eq(next_k(sp, NULL), 6);
    check_content(sp, 2, LARGE);
    check_content(sp, 1, SMALL);
    close_ok(sp);
}
END_TEST

static int only_leo(void *arg, const char *d)
{
    (*(int *)arg)++;
    return strncmp(d, "leo", 3) == 0;
}

START_TEST(link_filter)
{
    spool_opts o;
    spool *sp;
    spool_filter f = { 0 };
    int calls = 0;
    opts(&o);
    sp = open_ok(&o);
    put_ok(sp, 1, "luna-1", 7, 10);
    put_ok(sp, 2, "leo-2", 1, 10);
    put_ok(sp, 3, "leo-1", 3, 10);
    f.match = only_leo;
    f.arg = &calls;
    ck_assert_int_eq(next_k(sp, &f), 3);
    ck_assert_int_eq(next_k(sp, &f), 2);
    ck_assert_int_eq(next_k(sp, &f), -1);
    ck_assert_int_le(calls, 9);             /* once per destination */
    ck_assert_int_eq(next_k(sp, NULL), 1);
    close_ok(sp);
}
END_TEST

START_TEST(ack_deletes)
{
    spool_opts o;
    spool *sp;
    spool_meta m;
    spool_stats st;
    opts(&o);
    sp = open_ok(&o);
    put_ok(sp, 1, "leo-1", 1, LARGE);
    put_ok(sp, 2, "leo-1", 1, SMALL);
    put_ok(sp, 3, "leo-1", 1, SMALL);
    ck_assert_int_eq(access(file_of(1, "bdl"), F_OK), 0);
    ck_assert_int_eq(ack(sp, 1), 0);
    ck_assert_int_eq(access(file_of(1, "bdl"), F_OK), -1);
    ck_assert_int_eq(ack(sp, 2), 0);
    mk(&m, 3, "x", 0, 0);
    ck_assert_int_eq(spool_delete(sp, m.id, SPOOL_DELIVERED, err, sizeof err),
                     0);
    ck_assert_int_eq(ack(sp, 3), -ENOENT);
    ck_assert_int_eq(present(sp, 1) + present(sp, 2) + present(sp, 3), 0);
    spool_stats_get(sp, &st);
    ck_assert_uint_eq(st.count, 0);
    ck_assert_uint_eq(st.bytes, 0);
    ck_assert_uint_eq(st.delivered, 3);
    ck_assert_uint_eq(st.segments, 1);  /* the open one, now all dead */
    close_ok(sp);
    sp = open_ok(&o);
    ck_assert_int_eq(present(sp, 1) + present(sp, 2) + present(sp, 3), 0);
    spool_stats_get(sp, &st);
    ck_assert_uint_eq(st.count, 0);
    ck_assert_uint_eq(st.segments, 0);  /* nothing live: removed at open */
    ck_assert_int_eq(count_files("", "s-"), 0);
    ck_assert_int_eq(count_files("", "b-"), 0);
    close_ok(sp);
}
END_TEST

START_TEST(duplicates)
{
    spool_opts o;
    spool *sp;
    spool_meta m;
    uint8_t *p = payload(9, SMALL);
    opts(&o);
    sp = open_ok(&o);
    put_ok(sp, 1, "leo-1", 1, SMALL);
    put_ok(sp, 2, "leo-1", 1, LARGE);
    /* present: duplicate, even with other content; nothing stored */
    mk(&m, 1, "leo-1", 1, SMALL);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), SPOOL_DUPLICATE);
    mk(&m, 2, "leo-1", 1, SMALL);
    ck_assert_int_eq(spool_put_nosync(sp, &m, p, err, sizeof err),
                     SPOOL_DUPLICATE);
    check_content(sp, 1, SMALL);
    check_content(sp, 2, LARGE);
    /* delivered: duplicate too */
    ck_assert_int_eq(ack(sp, 1), 0);
    mk(&m, 1, "leo-1", 1, SMALL);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), SPOOL_DUPLICATE);
    ck_assert_int_eq(present(sp, 1), 0);
    /* a pending put is a duplicate as well */
    mk(&m, 3, "leo-1", 1, SMALL);
    ck_assert_int_eq(spool_put_nosync(sp, &m, p, err, sizeof err), 0);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), SPOOL_DUPLICATE);
    close_ok(sp);

    /* across a restart: from the index and from delivered.log */
    sp = open_ok(&o);
    mk(&m, 1, "leo-1", 1, SMALL);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), SPOOL_DUPLICATE);
    mk(&m, 2, "leo-1", 1, LARGE);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), SPOOL_DUPLICATE);
    mk(&m, 3, "leo-1", 1, SMALL);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), SPOOL_DUPLICATE);
    ck_assert_int_eq(present(sp, 1), 0);
    check_content(sp, 2, LARGE);
    check_content_as(sp, 3, SMALL, 9);
    close_ok(sp);
    free(p);
}
END_TEST

START_TEST(capacity_enospc)
{
    spool_opts o;
    spool *sp;
    spool_meta m;
    spool_stats st;
    uint8_t *p = payload(1, 100);
    int n0 = 0, n7 = 0, rc;
    opts(&o);
    o.max_count = 20;
    o.reserve_pct = 30;         /* priority 0 may use 14 of 20 */
    sp = open_ok(&o);
    for (int k = 1; k <= 30; k++) {
        mk(&m, k, "leo-1", 0, 100);
        rc = spool_put(sp, &m, p, err, sizeof err);
        if (rc == -ENOSPC)
            break;
        ck_assert_int_eq(rc, 0);
        n0++;
    }
    ck_assert_int_eq(n0, 14);
    ck_assert_ptr_nonnull(strstr(err, "full"));
    ck_assert_ptr_nonnull(strstr(err, "retry"));
    /* higher priority still gets in: the reserve */
    for (int k = 100; k < 130; k++) {
        mk(&m, k, "leo-1", 7, 100);
        rc = spool_put(sp, &m, p, err, sizeof err);
        if (rc == -ENOSPC)
            break;
        ck_assert_int_eq(rc, 0);
        n7++;
    }
    ck_assert_int_eq(n7, 6);
    /* nothing was evicted */
    for (int k = 1; k <= 14; k++)
        ck_assert(present(sp, k));
    spool_stats_get(sp, &st);
    ck_assert_uint_eq(st.count, 20);
    /* after an ack there is room again for the priority that had room */
    ck_assert_int_eq(ack(sp, 100), 0);
    mk(&m, 200, "leo-1", 0, 100);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), -ENOSPC);
    mk(&m, 201, "leo-1", 7, 100);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), 0);
    close_ok(sp);
    free(p);

    /* the byte limit, with a large bundle */
    teardown();
    setup();
    opts(&o);
    o.max_bytes = 3 * LARGE;
    o.reserve_pct = 0;
    sp = open_ok(&o);
    put_ok(sp, 1, "leo-1", 0, LARGE);
    put_ok(sp, 2, "leo-1", 0, LARGE);
    p = payload(3, LARGE);
    mk(&m, 3, "leo-1", 7, LARGE);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), -ENOSPC);
    ck_assert_int_eq(present(sp, 3), 0);
    ck_assert_int_eq(access(file_of(3, "tmp"), F_OK), -1);
    ck_assert_int_eq(access(file_of(3, "bdl"), F_OK), -1);
    close_ok(sp);
    free(p);
}
END_TEST

START_TEST(expiry_reasons)
{
    spool_opts o;
    spool *sp;
    spool_meta m;
    uint8_t *p = payload(1, 10);
    char hex[33];
    int found = 0;
    opts(&o);
    sp = open_ok(&o);
    mk(&m, 1, "luna-1", 3, 10);
    m.lifetime_ms = 1000;
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), 0);
    mk(&m, 2, "leo-1", 3, LARGE);
    m.lifetime_ms = 5000;
    {
        uint8_t *q = payload(2, LARGE);
        ck_assert_int_eq(spool_put(sp, &m, q, err, sizeof err), 0);
        free(q);
    }
    put_ok(sp, 3, "leo-1", 3, 10);      /* one hour */
    now_ms += 2000;
    /* expired but not yet swept: never handed out */
    ck_assert_int_eq(next_k(sp, NULL), 2);
    ck_assert_int_eq(next_k(sp, NULL), 3);
    ck_assert_int_eq(next_k(sp, NULL), -1);
    nev = 0;
    ck_assert_int_eq(spool_expire(sp, now_ms, err, sizeof err), 1);
    ck_assert_int_eq(count_ev(SPOOL_EV_EXPIRED), 1);
    mk(&m, 1, "x", 0, 0);
    spool_id_hex(m.id, hex);
    for (int i = 0; i < nev; i++)
        if (evs[i].ev == SPOOL_EV_EXPIRED && strstr(evs[i].msg, hex) &&
            strstr(evs[i].msg, "src=gs-mad") &&
            strstr(evs[i].msg, "dst=luna-1") &&
            strstr(evs[i].msg, "age=2000 ms") && evs[i].has_meta &&
            !strcmp(evs[i].m.dst, "luna-1"))
            found = 1;
    ck_assert_msg(found, "expiry report: %s", nev ? evs[0].msg : "none");
    ck_assert_int_eq(present(sp, 1), 0);
    /* a resend of an expired id is a duplicate; a new expired bundle is
     * refused */
    mk(&m, 1, "luna-1", 3, 10);
    m.created_unix_ms = now_ms - 2000;
    m.lifetime_ms = 1000;
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), SPOOL_DUPLICATE);
    mk(&m, 4, "luna-1", 3, 10);
    m.created_unix_ms = now_ms - 2000;
    m.lifetime_ms = 1000;
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), -ETIME);
    ck_assert_ptr_nonnull(strstr(err, "expired"));
    close_ok(sp);

    /* bundle 2 expires while the spool is closed: swept at open */
    now_ms += 10000;
    nev = 0;
    sp = open_ok(&o);
    ck_assert_int_eq(count_ev(SPOOL_EV_EXPIRED), 1);
    ck_assert_int_eq(present(sp, 2), 0);
    ck_assert(present(sp, 3));
    ck_assert_int_eq(access(file_of(2, "bdl"), F_OK), -1);
    close_ok(sp);
    free(p);
}
END_TEST

START_TEST(bounded_inputs)
{
    spool_opts o;
    spool *sp;
    spool_meta m;
    uint8_t *p = payload(1, 16);
    uint8_t small[8];
    opts(&o);
    o.max_bundle = LARGE;
    sp = open_ok(&o);
    mk(&m, 1, "leo-1", 1, 16);
    memset(m.dst, 'a', 63);
    m.dst[63] = 0;                              /* 63 bytes: fine */
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), 0);
    mk(&m, 2, "leo-1", 1, 16);
    memset(m.src, 'a', 64);                     /* no NUL in 64 bytes */
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), -EINVAL);
    mk(&m, 2, "", 1, 16);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), -EINVAL);
    mk(&m, 2, "leo\n1", 1, 16);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), -EINVAL);
    mk(&m, 2, "leo-1", 8, 16);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), -EINVAL);
    mk(&m, 2, "leo-1", 1, (size_t)LARGE + 1);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), -EFBIG);
    mk(&m, 2, "leo-1", 1, 16);
    ck_assert_int_eq(spool_put(sp, &m, NULL, err, sizeof err), -EINVAL);
    ck_assert_int_eq(present(sp, 2), 0);
    /* get into a small buffer: refused, metadata given */
    mk(&m, 1, "x", 0, 0);
    ck_assert_int_eq(spool_get(sp, m.id, &m, small, sizeof small, err,
                               sizeof err), -ENOBUFS);
    ck_assert_uint_eq(m.size, 16);
    ck_assert_int_eq(spool_read(sp, m.id, 10, small, 8, err, sizeof err),
                     -ERANGE);
    ck_assert_int_eq(spool_read(sp, m.id, 8, small, 8, err, sizeof err), 0);
    ck_assert_int_eq(memcmp(small, p + 8, 8), 0);
    close_ok(sp);
    free(p);
}
END_TEST

START_TEST(lock_excludes_second_open)
{
    spool_opts o;
    spool *sp, *sp2 = NULL;
    opts(&o);
    sp = open_ok(&o);
    ck_assert_int_eq(spool_open(&sp2, dir, &o, err, sizeof err), -EBUSY);
    ck_assert_ptr_null(sp2);
    ck_assert_ptr_nonnull(strstr(err, "in use"));
    close_ok(sp);
    sp = open_ok(&o);
    close_ok(sp);
}
END_TEST

/* ----------------------------------------------------------- recovery */

/* Offset of bundle k inside the (only) segment file s-00000001.seg. */
static off_t seg_offset(int k, int nsmall)
{
    /* entries are header (72 + 6 + 5 = 83 -> 88) + SMALL payload */
    (void)nsmall;
    return (off_t)(k - 10) * (88 + SMALL);
}

START_TEST(recovery_quarantine)
{
    spool_opts o;
    spool *sp;
    spool_stats st;
    int fd;
    opts(&o);
    sp = open_ok(&o);
    for (int k = 1; k <= 4; k++)
        put_ok(sp, k, "leo-1", 1, LARGE);       /* files */
    for (int k = 10; k <= 15; k++)
        put_ok(sp, k, "leo-1", 1, SMALL);       /* one segment */
    close_ok(sp);
    ck_assert_int_eq(file_size(path("s-00000001.seg")), 6 * (88 + SMALL));

    /* torn file, corrupt file, corrupt segment entry, torn segment tail,
     * leftover temp files */
    ck_assert_int_eq(truncate(file_of(1, "bdl"), 1000), 0);
    flip_byte(file_of(2, "bdl"), 5000);
    flip_byte(path("s-00000001.seg"), seg_offset(11, 6) + 88 + 100);
    ck_assert_int_eq(truncate(path("s-00000001.seg"),
                              seg_offset(15, 6) + 500), 0);
    fd = open(file_of(7, "tmp"), O_WRONLY | O_CREAT, 0640);
    ck_assert_int_eq(write(fd, "half a bundle", 13), 13);
    close(fd);
    fd = open(path("delivered.tmp"), O_WRONLY | O_CREAT, 0640);
    close(fd);

    nev = 0;
    sp = open_ok(&o);
    ck_assert_int_eq(count_ev(SPOOL_EV_QUARANTINED), 6);
    ck_assert(ev_has(SPOOL_EV_QUARANTINED, "torn"));
    ck_assert(ev_has(SPOOL_EV_QUARANTINED, "checksum mismatch"));
    ck_assert(ev_has(SPOOL_EV_QUARANTINED, "leftover temporary"));
    ck_assert(ev_has(SPOOL_EV_QUARANTINED, "delivered.tmp"));
    ck_assert_int_eq(count_ev(SPOOL_EV_ERROR), 0);
    ck_assert_int_eq(count_files("quarantine", ""), 6);
    ck_assert_int_eq(present(sp, 1) + present(sp, 2), 0);
    ck_assert_int_eq(present(sp, 11) + present(sp, 15), 0);
    check_content(sp, 3, LARGE);
    check_content(sp, 4, LARGE);
    check_content(sp, 10, SMALL);
    check_content(sp, 12, SMALL);
    check_content(sp, 13, SMALL);
    check_content(sp, 14, SMALL);
    spool_stats_get(sp, &st);
    ck_assert_uint_eq(st.count, 6);
    ck_assert_uint_eq(st.quarantined, 6);
    /* never handed out */
    for (int i = 0; i < 6; i++) {
        int k = next_k(sp, NULL);
        ck_assert(k == 3 || k == 4 || (k >= 10 && k <= 14 && k != 11));
    }
    ck_assert_int_eq(next_k(sp, NULL), -1);
    /* a quarantined id is not remembered as delivered: a resend fills the
     * gap */
    put_ok(sp, 1, "leo-1", 1, LARGE);
    put_ok(sp, 11, "leo-1", 1, SMALL);
    close_ok(sp);

    /* the torn tail was cut after copying: a second open is clean */
    nev = 0;
    sp = open_ok(&o);
    ck_assert_int_eq(count_ev(SPOOL_EV_QUARANTINED), 0);
    ck_assert_int_eq(count_files("quarantine", ""), 6);
    check_content(sp, 1, LARGE);
    check_content(sp, 11, SMALL);
    check_content(sp, 14, SMALL);
    close_ok(sp);
}
END_TEST

START_TEST(giant_length_rejected)
{
    spool_opts o;
    spool *sp;
    uint8_t hb[SPOOL_FMT_HDR_MAX];
    int fd;
    opts(&o);
    sp = open_ok(&o);
    put_ok(sp, 1, "leo-1", 1, LARGE);
    put_ok(sp, 10, "leo-1", 1, SMALL);
    put_ok(sp, 11, "leo-1", 1, SMALL);
    close_ok(sp);
    /* Headers that pass their own CRC but claim 2^50 bytes: the payload
     * length is checked against max_bundle and the file before anything
     * is read or allocated. */
    fd = open(file_of(1, "bdl"), O_RDWR);
    ck_assert_int_eq(pread(fd, hb, 88, 0), 88);
    spool_put64(hb + SPOOL_FMT_OFF_PLEN, 1ull << 50);
    spool_fmt_reseal(hb, 88);
    ck_assert_int_eq(pwrite(fd, hb, 88, 0), 88);
    close(fd);
    fd = open(path("s-00000001.seg"), O_RDWR);
    ck_assert_int_eq(pread(fd, hb, 88, 0), 88);
    spool_put64(hb + SPOOL_FMT_OFF_PLEN, 1ull << 50);
    spool_fmt_reseal(hb, 88);
    ck_assert_int_eq(pwrite(fd, hb, 88, 0), 88);
    close(fd);
    nev = 0;
    sp = open_ok(&o);
    ck_assert_int_eq(count_ev(SPOOL_EV_QUARANTINED), 2);
    ck_assert(ev_has(SPOOL_EV_QUARANTINED, "1125899906842624 bytes"));
    ck_assert_int_eq(present(sp, 1) + present(sp, 10), 0);
    check_content(sp, 11, SMALL);   /* found again after the bad header */
    close_ok(sp);
}
END_TEST

START_TEST(crash_leftovers)
{
    /* States a crash can leave between the steps of a delete. */
    spool_opts o;
    spool *sp;
    spool_meta m;
    uint8_t *p = payload(1, LARGE);
    char saved[700], saved_seg[700];
    opts(&o);
    sp = open_ok(&o);
    put_ok(sp, 1, "leo-1", 1, LARGE);
    put_ok(sp, 10, "leo-1", 1, SMALL);
    put_ok(sp, 11, "leo-1", 1, SMALL);
    snprintf(saved, sizeof saved, "%s/saved.bdl.keep", dir);
    snprintf(saved_seg, sizeof saved_seg, "%s/saved.seg.keep", dir);
    copy_file(file_of(1, "bdl"), saved);
    copy_file(path("s-00000001.seg"), saved_seg);
    ck_assert_int_eq(ack(sp, 1), 0);
    ck_assert_int_eq(ack(sp, 10), 0);
    ck_assert_int_eq(ack(sp, 11), 0);
    close_ok(sp);
    /* the record is durable but the unlinks "did not happen" */
    ck_assert_int_eq(rename(saved, file_of(1, "bdl")), 0);
    ck_assert_int_eq(rename(saved_seg, path("s-00000001.seg")), 0);
    nev = 0;
    sp = open_ok(&o);
    ck_assert_int_eq(present(sp, 1) + present(sp, 10) + present(sp, 11), 0);
    ck_assert_int_eq(count_ev(SPOOL_EV_QUARANTINED), 0);
    ck_assert_int_eq(access(file_of(1, "bdl"), F_OK), -1);
    ck_assert_int_eq(access(path("s-00000001.seg"), F_OK), -1);
    mk(&m, 1, "leo-1", 1, LARGE);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), SPOOL_DUPLICATE);
    close_ok(sp);
    free(p);
}
END_TEST

START_TEST(torn_delivered_log)
{
    spool_opts o;
    spool *sp;
    spool_meta m;
    uint8_t *p = payload(1, SMALL);
    opts(&o);
    sp = open_ok(&o);
    put_ok(sp, 1, "leo-1", 1, SMALL);
    put_ok(sp, 2, "leo-1", 1, SMALL);
    ck_assert_int_eq(ack(sp, 1), 0);
    ck_assert_int_eq(ack(sp, 2), 0);
    close_ok(sp);
    /* the last append torn: that delete never returned */
    ck_assert_int_eq(file_size(path("delivered.log")), 2 * SPOOL_DLOG_REC);
    ck_assert_int_eq(truncate(path("delivered.log"), SPOOL_DLOG_REC + 17), 0);
    nev = 0;
    sp = open_ok(&o);
    ck_assert_int_eq(count_ev(SPOOL_EV_QUARANTINED), 1);
    ck_assert_int_eq(file_size(path("delivered.log")), SPOOL_DLOG_REC);
    mk(&m, 1, "leo-1", 1, SMALL);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), SPOOL_DUPLICATE);
    /* bundle 2 is back (its segment held it; recovery could not know it
     * was acked): resent by us, deduplicated by the next hop */
    ck_assert(present(sp, 2));
    close_ok(sp);
    free(p);
}
END_TEST

START_TEST(get_detects_later_corruption)
{
    spool_opts o;
    spool *sp;
    spool_meta m;
    uint8_t *buf = malloc(LARGE);
    opts(&o);
    sp = open_ok(&o);
    put_ok(sp, 1, "leo-1", 1, LARGE);
    put_ok(sp, 10, "leo-1", 1, SMALL);
    put_ok(sp, 11, "leo-1", 1, SMALL);
    flip_byte(file_of(1, "bdl"), 70000);
    flip_byte(path("s-00000001.seg"), 88 + 10);
    nev = 0;
    mk(&m, 1, "x", 0, 0);
    ck_assert_int_eq(spool_get(sp, m.id, NULL, buf, LARGE, err, sizeof err),
                     -EIO);
    ck_assert_ptr_nonnull(strstr(err, "quarantine"));
    mk(&m, 10, "x", 0, 0);
    ck_assert_int_eq(spool_get(sp, m.id, NULL, buf, LARGE, err, sizeof err),
                     -EIO);
    ck_assert_int_eq(count_ev(SPOOL_EV_QUARANTINED), 2);
    ck_assert_int_eq(present(sp, 1) + present(sp, 10), 0);
    check_content(sp, 11, SMALL);
    close_ok(sp);
    sp = open_ok(&o);
    check_content(sp, 11, SMALL);
    ck_assert_int_eq(present(sp, 1), 0);
    close_ok(sp);
    free(buf);
}
END_TEST

/* ------------------------------------------- batching, progress, space */

START_TEST(group_commit)
{
    spool_opts o;
    spool *sp;
    spool_meta m;
    spool_stats st;
    uint64_t syncs0;
    uint8_t *p = payload(1, SMALL);
    opts(&o);
    sp = open_ok(&o);
    spool_stats_get(sp, &st);
    syncs0 = st.syncs;
    for (int k = 1; k <= 500; k++) {
        mk(&m, k, "leo-1", k % 8, SMALL);
        ck_assert_int_eq(spool_put_nosync(sp, &m, p, err, sizeof err), 0);
    }
    for (int k = 1000; k < 1004; k++) {
        uint8_t *q = payload(k, LARGE);
        mk(&m, k, "leo-1", 1, LARGE);
        ck_assert_int_eq(spool_put_nosync(sp, &m, q, err, sizeof err), 0);
        free(q);
    }
    spool_stats_get(sp, &st);
    ck_assert_uint_eq(st.pending, 504);
    ck_assert_uint_eq(st.syncs, syncs0);        /* nothing flushed yet */
    ck_assert_int_eq(access(file_of(1000, "tmp"), F_OK), 0);
    check_content(sp, 1000, LARGE);             /* readable while pending */
    check_content_as(sp, 7, SMALL, 1);
    ck_assert_int_eq(spool_sync(sp, err, sizeof err), 0);
    spool_stats_get(sp, &st);
    ck_assert_uint_eq(st.pending, 0);
    /* one per segment (4 MiB of 4 KiB bundles fit one 8 MiB segment), one
     * per large file, one for the directory */
    ck_assert_uint_le(st.syncs - syncs0, 1 + 4 + 1);
    ck_assert_int_eq(access(file_of(1000, "tmp"), F_OK), -1);
    ck_assert_int_eq(access(file_of(1000, "bdl"), F_OK), 0);
    /* deletes batch the same way */
    for (int k = 1; k <= 100; k++) {
        mk(&m, k, "x", 0, 0);
        ck_assert_int_eq(spool_delete_nosync(sp, m.id, SPOOL_DELIVERED, err,
                                             sizeof err), 0);
    }
    mk(&m, 1001, "x", 0, 0);
    ck_assert_int_eq(spool_delete_nosync(sp, m.id, SPOOL_ACKED, err,
                                         sizeof err), 0);
    ck_assert_int_eq(access(file_of(1001, "bdl"), F_OK), 0); /* not yet */
    spool_stats_get(sp, &st);
    syncs0 = st.syncs;
    ck_assert_int_eq(spool_sync(sp, err, sizeof err), 0);
    spool_stats_get(sp, &st);
    ck_assert_uint_eq(st.syncs - syncs0, 1);    /* delivered.log only */
    ck_assert_int_eq(access(file_of(1001, "bdl"), F_OK), -1);
    close_ok(sp);
    sp = open_ok(&o);
    spool_stats_get(sp, &st);
    ck_assert_uint_eq(st.count, 400 + 3);
    check_content_as(sp, 500, SMALL, 1);
    check_content(sp, 1003, LARGE);
    ck_assert_int_eq(present(sp, 50), 0);
    close_ok(sp);
    free(p);
}
END_TEST

START_TEST(progress_resume)
{
    spool_opts o;
    spool *sp;
    spool_meta m;
    opts(&o);
    o.progress_step = 10000;
    sp = open_ok(&o);
    put_ok(sp, 1, "luna-1", 1, LARGE);
    mk(&m, 1, "x", 0, 0);
    ck_assert_int_eq(spool_set_progress(sp, m.id, 5000), 0);  /* memory */
    ck_assert_int_eq(spool_stat(sp, m.id, &m), 0);
    ck_assert_uint_eq(m.progress, 5000);
    ck_assert_int_eq(spool_set_progress(sp, m.id, 30000), 0); /* saved */
    ck_assert_int_eq(spool_set_progress(sp, m.id, 35000), 0); /* memory */
    ck_assert_int_eq(spool_set_progress(sp, m.id, LARGE + 1), -ERANGE);
    close_ok(sp);
    sp = open_ok(&o);
    mk(&m, 1, "x", 0, 0);
    ck_assert_int_eq(spool_stat(sp, m.id, &m), 0);
    ck_assert_uint_eq(m.progress, 30000);
    /* going back is saved at once (the receiver lost data) */
    ck_assert_int_eq(spool_set_progress(sp, m.id, 1000), 0);
    close_ok(sp);
    sp = open_ok(&o);
    ck_assert_int_eq(spool_stat(sp, m.id, &m), 0);
    ck_assert_uint_eq(m.progress, 1000);
    close_ok(sp);
}
END_TEST

START_TEST(compaction)
{
    spool_opts o;
    spool *sp;
    spool_stats st0, st;
    opts(&o);
    o.segment_bytes = 16u << 10;        /* 3 bundles of 4 KiB per segment */
    sp = open_ok(&o);
    for (int k = 1; k <= 60; k++)
        put_ok(sp, k, "leo-1", 1, SMALL);
    for (int k = 1; k <= 60; k++)
        if (k % 3 != 0)
            ck_assert_int_eq(ack(sp, k), 0);
    spool_stats_get(sp, &st0);
    ck_assert_uint_eq(st0.count, 20);
    ck_assert_uint_ge(st0.segments, 20);
    nev = 0;
    ck_assert_int_eq(spool_compact(sp, err, sizeof err), 0);
    spool_stats_get(sp, &st);
    ck_assert_uint_eq(st.count, 20);
    ck_assert_uint_lt(st.segments, st0.segments / 2);
    ck_assert_uint_lt(st.segment_bytes, st0.segment_bytes / 2);
    ck_assert(ev_has(SPOOL_EV_INFO, "compacted"));
    for (int k = 3; k <= 60; k += 3)
        check_content(sp, k, SMALL);
    close_ok(sp);
    sp = open_ok(&o);
    spool_stats_get(sp, &st);
    ck_assert_uint_eq(st.count, 20);
    for (int k = 1; k <= 60; k++) {
        spool_meta m;
        uint8_t *p = payload(k, SMALL);
        mk(&m, k, "leo-1", 1, SMALL);
        ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err),
                         SPOOL_DUPLICATE);
        free(p);
    }
    for (int k = 3; k <= 60; k += 3)
        check_content(sp, k, SMALL);
    close_ok(sp);
}
END_TEST

START_TEST(dlog_bounded)
{
    spool_opts o;
    spool *sp;
    spool_meta m;
    spool_stats st;
    uint8_t *p = payload(1, 10);
    opts(&o);
    o.dlog_slack = 50;
    o.dedup_grace_ms = 1000;
    o.segment_bytes = 2048;     /* the open segment is retired when dead */
    sp = open_ok(&o);
    for (int k = 1; k <= 400; k++) {
        mk(&m, k, "leo-1", 1, 10);
        m.lifetime_ms = 10000;
        ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), 0);
        ck_assert_int_eq(ack(sp, k), 0);
        now_ms += 100;          /* 100 bundles per lifetime */
        spool_stats_get(sp, &st);
        /* twice the records kept (<= 110: one lifetime + grace) plus the
         * slack */
        ck_assert_uint_le(st.dlog_records, 2 * 115 + 50);
    }
    spool_stats_get(sp, &st);
    ck_assert_uint_le(st.delivered, 2 * 115 + 50);
    /* still deduplicated within the lifetime ... */
    mk(&m, 400, "leo-1", 1, 10);
    m.created_unix_ms = now_ms - 100;
    m.lifetime_ms = 10000;
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), SPOOL_DUPLICATE);
    /* ... and after it the resend is refused as expired */
    mk(&m, 1, "leo-1", 1, 10);
    m.created_unix_ms = 1700000000000ull;
    m.lifetime_ms = 10000;
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), -ETIME);
    close_ok(sp);
    sp = open_ok(&o);
    mk(&m, 399, "leo-1", 1, 10);
    m.created_unix_ms = now_ms - 200;
    m.lifetime_ms = 10000;
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), SPOOL_DUPLICATE);
    close_ok(sp);
    free(p);
}
END_TEST

START_TEST(dedup_memory_full)
{
    spool_opts o;
    spool *sp;
    spool_meta m;
    spool_stats st;
    uint8_t *p = payload(1, 10);
    opts(&o);
    o.max_delivered = 1024;     /* the minimum */
    sp = open_ok(&o);
    nev = 0;
    for (int k = 1; k <= 1100; k++) {
        mk(&m, k, "leo-1", 1, 10);
        ck_assert_int_eq(spool_put_nosync(sp, &m, p, err, sizeof err), 0);
        ck_assert_int_eq(spool_delete_nosync(sp, m.id, SPOOL_DELIVERED, err,
                                             sizeof err), 0);
    }
    ck_assert_int_eq(spool_sync(sp, err, sizeof err), 0);
    spool_stats_get(sp, &st);
    ck_assert_uint_le(st.delivered, 1024);
    ck_assert_int_ge(count_ev(SPOOL_EV_DEDUP_EVICTED), 1);
    ck_assert(ev_has(SPOOL_EV_DEDUP_EVICTED, "full"));
    /* the newest are remembered */
    mk(&m, 1100, "leo-1", 1, 10);
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), SPOOL_DUPLICATE);
    close_ok(sp);
    /* forgetting an id never brings its bundle back: the segments that
     * held the dead copies were rewritten before any record went */
    sp = open_ok(&o);
    spool_stats_get(sp, &st);
    ck_assert_uint_eq(st.count, 0);
    close_ok(sp);
    free(p);
}
END_TEST

/* ------------------------------------------------------------- kill -9 */

/* Bundle k of job `job` (epoch e), else as put_ok. */
static void put_job(spool *sp, int k, const char *dst, size_t size,
                    const char *job, uint32_t e)
{
    spool_meta m;
    uint8_t *p = payload(k, size);
    int rc;
    mk(&m, k, dst, 3, size);
    snprintf(m.job, sizeof m.job, "%s", job);
    m.job_epoch = e;
    rc = spool_put(sp, &m, p, err, sizeof err);
    ck_assert_msg(rc == 0, "put %d: %d %s", k, rc, err);
    free(p);
}

typedef struct dropped {
    int n;
    int ks[64];
    char dst[64][SPOOL_NAME_MAX];
} dropped;

static void on_drop(void *arg, const spool_meta *m)
{
    dropped *d = arg;
    ck_assert_int_lt(d->n, 64);
    d->ks[d->n] = m->id[0] | m->id[1] << 8;
    snprintf(d->dst[d->n], sizeof d->dst[0], "%s", m->dst);
    d->n++;
}

static int dropped_has(const dropped *d, int k)
{
    for (int i = 0; i < d->n; i++)
        if (d->ks[i] == k)
            return 1;
    return 0;
}

START_TEST(drop_job)
{
    spool_opts o;
    spool *sp;
    spool_meta m;
    spool_stats st;
    dropped d;
    uint64_t bytes = 1;
    uint8_t *p = payload(1, SMALL);
    opts(&o);
    sp = open_ok(&o);
    /* job A: epochs 1 and 2, small and large, two destinations; job B
     * (a tag that A is a prefix of) and bundles of no job. */
    put_job(sp, 1, "leo-1", SMALL, "jA", 1);
    put_job(sp, 2, "leo-1", LARGE, "jA", 1);
    put_job(sp, 3, "leo-2", SMALL, "jA", 2);
    put_job(sp, 4, "leo-1", SMALL, "jAB", 1);
    put_job(sp, 5, "leo-1", LARGE, "jAB", 2);
    put_ok(sp, 6, "leo-1", 3, SMALL);
    put_ok(sp, 7, "leo-2", 3, LARGE);
    put_job(sp, 8, "leo-2", SMALL, "jA", 2);
    /* the tag and epoch come back from stat, also after a reopen */
    mk(&m, 3, "x", 0, 0);
    ck_assert_int_eq(spool_stat(sp, m.id, &m), 0);
    ck_assert_str_eq(m.job, "jA");
    ck_assert_uint_eq(m.job_epoch, 2);
    /* bundle 3 is in flight: it goes too */
    ck_assert_int_eq(next_k(sp, &(spool_filter){ .dst = "leo-2" }), 3);
    close_ok(sp);
    sp = open_ok(&o);
    mk(&m, 5, "x", 0, 0);
    ck_assert_int_eq(spool_stat(sp, m.id, &m), 0);
    ck_assert_str_eq(m.job, "jAB");
    ck_assert_uint_eq(m.job_epoch, 2);
    mk(&m, 6, "x", 0, 0);
    ck_assert_int_eq(spool_stat(sp, m.id, &m), 0);
    ck_assert_str_eq(m.job, "");
    ck_assert_uint_eq(m.job_epoch, 0);
    ck_assert_int_eq(next_k(sp, &(spool_filter){ .dst = "leo-2" }), 3);

    /* epoch 1 of job A only */
    memset(&d, 0, sizeof d);
    ck_assert_int_eq(spool_drop_job(sp, "jA", 1, SPOOL_CANCELLED, on_drop, &d,
                                    &bytes, err, sizeof err), 2);
    ck_assert_int_eq(d.n, 2);
    ck_assert(dropped_has(&d, 1) && dropped_has(&d, 2));
    ck_assert_uint_eq(bytes, SMALL + LARGE);
    ck_assert_int_eq(present(sp, 1) + present(sp, 2), 0);
    ck_assert_int_eq(present(sp, 3) + present(sp, 8), 2);
    /* every epoch of job A: the rest of it, the in-flight one too */
    memset(&d, 0, sizeof d);
    ck_assert_int_eq(spool_drop_job(sp, "jA", 0, SPOOL_CANCELLED, on_drop, &d,
                                    &bytes, err, sizeof err), 2);
    ck_assert(dropped_has(&d, 3) && dropped_has(&d, 8));
    ck_assert_str_eq(d.dst[0], "leo-2");
    ck_assert_uint_eq(bytes, 2 * SMALL);
    /* nothing else went */
    for (int k = 4; k <= 7; k++)
        ck_assert_msg(present(sp, k), "bundle %d dropped", k);
    check_content(sp, 5, LARGE);
    check_content(sp, 7, LARGE);
    /* again: nothing, nothing written */
    ck_assert_int_eq(spool_drop_job(sp, "jA", 0, SPOOL_CANCELLED, NULL, NULL,
                                    &bytes, err, sizeof err), 0);
    ck_assert_uint_eq(bytes, 0);
    ck_assert_int_eq(spool_drop_job(sp, "jZ", 0, SPOOL_CANCELLED, NULL, NULL,
                                    NULL, err, sizeof err), 0);
    /* bad tag, bad reason */
    ck_assert_int_eq(spool_drop_job(sp, "", 0, SPOOL_CANCELLED, NULL, NULL,
                                    NULL, err, sizeof err), -EINVAL);
    ck_assert_int_eq(spool_drop_job(sp, "j01234567890123456", 0,
                                    SPOOL_CANCELLED, NULL, NULL, NULL, err,
                                    sizeof err), -EINVAL);
    ck_assert_int_eq(spool_drop_job(sp, "jAB", 0, 0, NULL, NULL, NULL, err,
                                    sizeof err), -EINVAL);
    /* a bad tag on put is refused, and so is an epoch without a job */
    mk(&m, 9, "leo-1", 3, SMALL);
    m.job_epoch = 1;
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), -EINVAL);
    snprintf(m.job, sizeof m.job, "j\tx");
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), -EINVAL);
    /* an ack after the drop finds nothing (the peer's late ack) */
    mk(&m, 3, "x", 0, 0);
    ck_assert_int_eq(spool_ack(sp, m.id, err, sizeof err), -ENOENT);
    spool_stats_get(sp, &st);
    ck_assert_uint_eq(st.count, 4);
    ck_assert_uint_eq(st.inflight, 0);
    close_ok(sp);

    /* durable: across a reopen the dropped stay gone, the rest stays, and
     * a late copy of a dropped one is a duplicate */
    sp = open_ok(&o);
    ck_assert_int_eq(present(sp, 1) + present(sp, 2) + present(sp, 3) +
                     present(sp, 8), 0);
    for (int k = 4; k <= 7; k++)
        ck_assert_msg(present(sp, k), "bundle %d lost", k);
    check_content(sp, 4, SMALL);
    check_content(sp, 6, SMALL);
    mk(&m, 3, "leo-2", 3, SMALL);
    snprintf(m.job, sizeof m.job, "jA");
    m.job_epoch = 2;
    ck_assert_int_eq(spool_put(sp, &m, p, err, sizeof err), SPOOL_DUPLICATE);
    ck_assert_int_eq(spool_drop_job(sp, "jAB", 0, SPOOL_CANCELLED, NULL, NULL,
                                    &bytes, err, sizeof err), 2);
    ck_assert_uint_eq(bytes, SMALL + LARGE);
    close_ok(sp);
    sp = open_ok(&o);
    spool_stats_get(sp, &st);
    ck_assert_uint_eq(st.count, 2);
    ck_assert(present(sp, 6) && present(sp, 7));
    close_ok(sp);
    free(p);
}
END_TEST

START_TEST(crash_kill9)
{
    char helper[700], cmd[1600], self[600];
    const char *env = getenv("SPOOL_CRASH");
    const char *iters = getenv("SPOOL_CRASH_ITERS");
    ssize_t n;
    int st;
    if (env) {
        snprintf(helper, sizeof helper, "%s", env);
    } else {
        n = readlink("/proc/self/exe", self, sizeof self - 1);
        ck_assert_int_gt(n, 0);
        self[n] = 0;
        snprintf(helper, sizeof helper, "%s/spool_crash", dirname(self));
    }
    ck_assert_msg(access(helper, X_OK) == 0,
                  "crash helper %s not found (build tests/spool_crash or "
                  "set SPOOL_CRASH)", helper);
    snprintf(cmd, sizeof cmd, "'%s' -n %s '%s/crash'", helper,
             iters ? iters : "40", dir);
    st = system(cmd);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "%s failed (status %d)", cmd, st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spool");
    TCase *t = tcase_create("core");
    TCase *c = tcase_create("crash");
    SRunner *sr;
    int failed;
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_checked_fixture(c, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_set_timeout(c, 300);
    tcase_add_test(t, crc32c_vectors);
    tcase_add_test(t, header_roundtrip);
    tcase_add_test(t, tab_random_ops);
    tcase_add_test(t, put_get_next_order);
    tcase_add_test(t, link_filter);
    tcase_add_test(t, ack_deletes);
    tcase_add_test(t, duplicates);
    tcase_add_test(t, capacity_enospc);
    tcase_add_test(t, expiry_reasons);
    tcase_add_test(t, bounded_inputs);
    tcase_add_test(t, lock_excludes_second_open);
    tcase_add_test(t, recovery_quarantine);
    tcase_add_test(t, giant_length_rejected);
    tcase_add_test(t, crash_leftovers);
    tcase_add_test(t, torn_delivered_log);
    tcase_add_test(t, get_detects_later_corruption);
    tcase_add_test(t, group_commit);
    tcase_add_test(t, progress_resume);
    tcase_add_test(t, compaction);
    tcase_add_test(t, dlog_bounded);
    tcase_add_test(t, dedup_memory_full);
    tcase_add_test(t, drop_job);
    tcase_add_test(c, crash_kill9);
    suite_add_tcase(s, t);
    suite_add_tcase(s, c);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
