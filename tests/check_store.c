/*
 * check_store.c - unit tests for daemon/store.c (the spool on the libuv
 * threadpool), each on a loop of its own:
 *
 *  - group commit: 1000 PUTs submitted at once complete in order, all
 *    durable (rc 0), with far fewer spool fsyncs than PUTs, and the
 *    bundles are there after a reopen;
 *  - NEXT hands out the highest priority first; READ returns the right
 *    bytes (and refuses more than DSTORE_READ_MAX); ACK then NEXT gives
 *    -ENOENT; duplicates, STAT, RELEASE, PROGRESS, DELETE, FOREACH_META,
 *    EXPIRE and COMPACT;
 *  - DELIVER and DELIVERED with an attached inbox;
 *  - a failed end-of-batch sync (fdatasync replaced here) fails every
 *    PUT of the batch, and the spool then refuses writes;
 *  - close: queued work finishes before done; requests submitted after
 *    dstore_close complete with -ESHUTDOWN, still in order; a callback may
 *    submit more work;
 *  - every test runs the loop until nothing is left and asserts
 *    uv_loop_close() == 0.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <openssl/evp.h>

#include "inbox.h"
#include "spool.h"
#include "store.h"

static uv_loop_t loop;
static char dir[256];
static char err[512];

/* Disk failure on demand: the spool is linked into this program, so this
 * fdatasync replaces libc's for it. Set before a submit, read on the
 * worker (uv_queue_work orders the two). */
static volatile int fail_fdatasync;

int fdatasync(int fd)
{
    if (fail_fdatasync) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fdatasync, fd);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/check_store.%d.XXXXXX", (int)getpid());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(uv_loop_init(&loop), 0);
}

static void teardown(void)
{
    char cmd[400];
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ------------------------------------------------------------ helpers */

static uint64_t now_ms(void)
{
    return (uint64_t)time(NULL) * 1000u;
}

static dstore *open_store(void)
{
    spool_opts o;
    dstore *s = NULL;
    int rc;
    spool_opts_init(&o);
    rc = dstore_open(&loop, dir, &o, &s, err, sizeof err);
    ck_assert_msg(rc == 0, "dstore_open: %s", err);
    return s;
}

static int closed;
static int close_rc;
static int done_at;             /* completions seen when done ran */
static int ncomp;               /* completions, all tests */

static void on_closed(void *arg, int rc, const char *e)
{
    closed++;
    close_rc = rc;
    done_at = ncomp;
    ck_assert_ptr_eq(arg, &closed);
    ck_assert_ptr_nonnull(e);
}

static void close_store(dstore *s)
{
    closed = 0;
    dstore_close(s, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(close_rc, 0);
}

static void mkid(uint8_t id[16], int k)
{
    for (int i = 0; i < 16; i++)
        id[i] = (uint8_t)(k * 31 + i * 7 + 1);
    id[0] = (uint8_t)k;
    id[1] = (uint8_t)(k >> 8);
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

/* A PUT of bundle k (payload(k, size)) with callback cb. */
static dstore_req *put_req(int k, int prio, size_t size, dstore_cb cb,
                           void *arg)
{
    dstore_req *r = dstore_req_new(DSTORE_PUT, cb, arg);
    ck_assert_ptr_nonnull(r);
    mkid(r->meta.id, k);
    snprintf(r->meta.src, sizeof r->meta.src, "gs-mad");
    snprintf(r->meta.dst, sizeof r->meta.dst, "luna-1");
    r->meta.priority = (uint8_t)prio;
    r->meta.kind = 1;
    r->meta.created_unix_ms = now_ms();
    r->meta.lifetime_ms = 3600u * 1000u;
    r->meta.size = size;
    r->buf = payload(k, size);
    r->len = size;
    return r;
}

/* A finished request, copied out of its callback. */
typedef struct seen {
    int n;
    int order[2048];
    int rc[2048];
    int op[2048];
    spool_meta meta[2048];
    uint8_t *buf[2048];
    size_t len[2048];
    size_t nmetas[2048], ntotal[2048];
} seen;

static seen *sn;

static void record(dstore_req *r)
{
    int i = sn->n++;
    ck_assert_int_lt(i, 2048);
    ncomp++;
    sn->order[i] = (int)(intptr_t)r->arg;
    sn->rc[i] = r->rc;
    sn->op[i] = r->op;
    sn->meta[i] = r->meta;
    sn->buf[i] = r->buf;        /* taken */
    sn->len[i] = r->len;
    sn->nmetas[i] = r->nmetas;
    sn->ntotal[i] = r->ntotal;
    r->buf = NULL;
    if (r->rc < 0)
        ck_assert_msg(r->err[0], "op %d rc %d without a message", r->op,
                      r->rc);
}

static void seen_reset(void)
{
    if (!sn) {
        sn = calloc(1, sizeof *sn);
        ck_assert_ptr_nonnull(sn);
    }
    for (int i = 0; i < sn->n; i++)
        free(sn->buf[i]);
    memset(sn, 0, sizeof *sn);
}

static dstore_req *req(int op, int tag)
{
    dstore_req *r = dstore_req_new(op, record, (void *)(intptr_t)tag);
    ck_assert_ptr_nonnull(r);
    return r;
}

static dstore_req *req_id(int op, int tag, int k)
{
    dstore_req *r = req(op, tag);
    mkid(r->id, k);
    return r;
}

/* -------------------------------------------------------------- tests */

START_TEST(group_commit_1000)
{
    dstore *s = open_store();
    spool_stats st0, st1;
    dstore_counters c;
    seen_reset();
    dstore_stats(s, &st0);
    for (int k = 0; k < 1000; k++)
        dstore_submit(s, put_req(k, k % 8, 200 + (size_t)k % 300, record,
                                 (void *)(intptr_t)k));
    dstore_counters_get(s, &c);
    ck_assert_uint_ge(c.queued, 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(sn->n, 1000);
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(sn->order[i], i);
        ck_assert_msg(sn->rc[i] == 0, "put %d: rc %d", i, sn->rc[i]);
    }
    dstore_stats(s, &st1);
    dstore_counters_get(s, &c);
    ck_assert_uint_eq(st1.count, 1000);
    ck_assert_uint_eq(st1.pending, 0);
    ck_assert_uint_eq(c.requests, 1000);
    ck_assert_uint_eq(c.queued, 0);
    ck_assert_uint_le(c.max_batch, DSTORE_BATCH_MAX);
    ck_assert_uint_eq(c.syncs, c.batches);
    ck_assert_uint_lt(c.batches, 100);
    ck_assert_msg(st1.syncs - st0.syncs < 100, "%llu fsyncs for 1000 puts "
                  "(%llu batches)",
                  (unsigned long long)(st1.syncs - st0.syncs),
                  (unsigned long long)c.batches);
    close_store(s);
    ck_assert_int_eq(done_at, ncomp);
    /* durable: all there after a reopen */
    s = open_store();
    dstore_stats(s, &st1);
    ck_assert_uint_eq(st1.count, 1000);
    close_store(s);
}
END_TEST

START_TEST(next_read_ack)
{
    dstore *s = open_store();
    dstore_req *r;
    uint8_t *want;
    uint8_t id6[16];
    seen_reset();
    /* three bundles, priorities 1, 6, 3; 6 is a large one (own file) */
    dstore_submit(s, put_req(1, 1, 100, record, (void *)(intptr_t)0));
    dstore_submit(s, put_req(6, 6, 200000, record, (void *)(intptr_t)1));
    dstore_submit(s, put_req(3, 3, 300, record, (void *)(intptr_t)2));
    dstore_submit(s, put_req(3, 3, 300, record, (void *)(intptr_t)3));
    dstore_submit(s, req(DSTORE_NEXT, 4));
    r = req_id(DSTORE_READ, 5, 6);
    r->off = 1000;
    r->len = 50000;
    dstore_submit(s, r);
    r = req_id(DSTORE_READ, 6, 6);
    r->len = DSTORE_READ_MAX + 1;
    dstore_submit(s, r);
    r = req_id(DSTORE_READ, 7, 1);
    r->len = 101;               /* past its end */
    dstore_submit(s, r);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(sn->n, 8);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(sn->order[i], i);
    ck_assert_int_eq(sn->rc[0], 0);
    ck_assert_int_eq(sn->rc[1], 0);
    ck_assert_int_eq(sn->rc[2], 0);
    ck_assert_int_eq(sn->rc[3], SPOOL_DUPLICATE);
    ck_assert_int_eq(sn->rc[4], 0);
    mkid(id6, 6);
    ck_assert_int_eq(memcmp(sn->meta[4].id, id6, 16), 0);
    ck_assert_uint_eq(sn->meta[4].priority, 6);
    ck_assert_int_eq(sn->meta[4].inflight, 1);
    ck_assert_int_eq(sn->rc[5], 0);
    want = payload(6, 200000);
    ck_assert_ptr_nonnull(sn->buf[5]);
    ck_assert_int_eq(memcmp(sn->buf[5], want + 1000, 50000), 0);
    free(want);
    ck_assert_int_eq(sn->rc[6], -EINVAL);
    ck_assert_ptr_null(sn->buf[6]);
    ck_assert_int_eq(sn->rc[7], -ERANGE);
    ck_assert_ptr_null(sn->buf[7]);

    /* then 3, then 1, then nothing; ack 6: gone; release 3: it is next */
    seen_reset();
    dstore_submit(s, req(DSTORE_NEXT, 0));
    dstore_submit(s, req(DSTORE_NEXT, 1));
    dstore_submit(s, req(DSTORE_NEXT, 2));
    dstore_submit(s, req_id(DSTORE_ACK, 3, 6));
    dstore_submit(s, req_id(DSTORE_STAT, 4, 6));
    dstore_submit(s, req_id(DSTORE_RELEASE, 5, 3));
    r = req_id(DSTORE_PROGRESS, 6, 3);
    r->off = 100;
    dstore_submit(s, r);
    dstore_submit(s, req_id(DSTORE_STAT, 7, 3));
    dstore_submit(s, req(DSTORE_NEXT, 8));
    dstore_submit(s, req_id(DSTORE_ACK, 9, 6));      /* twice */
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(sn->n, 10);
    ck_assert_int_eq(sn->rc[0], 0);
    ck_assert_uint_eq(sn->meta[0].priority, 3);
    ck_assert_int_eq(sn->rc[1], 0);
    ck_assert_uint_eq(sn->meta[1].priority, 1);
    ck_assert_int_eq(sn->rc[2], -ENOENT);
    ck_assert_int_eq(sn->rc[3], 0);
    ck_assert_int_eq(sn->rc[4], -ENOENT);
    ck_assert_int_eq(sn->rc[5], 0);
    ck_assert_int_eq(sn->rc[6], 0);
    ck_assert_int_eq(sn->rc[7], 0);
    ck_assert_uint_eq(sn->meta[7].progress, 100);
    ck_assert_int_eq(sn->meta[7].inflight, 0);
    ck_assert_int_eq(sn->rc[8], 0);
    ck_assert_uint_eq(sn->meta[8].priority, 3);
    ck_assert_int_eq(sn->rc[9], -ENOENT);

    /* ack everything: NEXT has nothing; a re-put of an acked id is a dup */
    seen_reset();
    dstore_submit(s, req_id(DSTORE_ACK, 0, 3));
    r = req_id(DSTORE_DELETE, 1, 1);
    r->reason = SPOOL_CANCELLED;
    dstore_submit(s, r);
    dstore_submit(s, req(DSTORE_NEXT, 2));
    dstore_submit(s, put_req(6, 6, 10, record, (void *)(intptr_t)3));
    dstore_submit(s, req(DSTORE_FOREACH_META, 4));
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(sn->n, 5);
    ck_assert_int_eq(sn->rc[0], 0);
    ck_assert_int_eq(sn->rc[1], 0);
    ck_assert_int_eq(sn->rc[2], -ENOENT);
    ck_assert_int_eq(sn->rc[3], SPOOL_DUPLICATE);
    ck_assert_int_eq(sn->rc[4], 0);
    ck_assert_uint_eq(sn->ntotal[4], 0);
    close_store(s);
}
END_TEST

START_TEST(foreach_expire_compact)
{
    dstore *s = open_store();
    dstore_req *r;
    spool_stats st;
    seen_reset();
    for (int k = 0; k < 20; k++)
        dstore_submit(s, put_req(k, 2, 64, record, (void *)(intptr_t)k));
    r = req(DSTORE_FOREACH_META, 20);
    r->maxmetas = 5;
    dstore_submit(s, r);
    dstore_submit(s, req(DSTORE_FOREACH_META, 21));
    r = req(DSTORE_EXPIRE, 22);
    r->off = now_ms() + 7200u * 1000u;      /* two hours on: all expired */
    dstore_submit(s, r);
    dstore_submit(s, req(DSTORE_COMPACT, 23));
    dstore_submit(s, req(999, 24));
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(sn->n, 25);
    ck_assert_int_eq(sn->rc[20], 0);
    ck_assert_uint_eq(sn->nmetas[20], 5);
    ck_assert_uint_eq(sn->ntotal[20], 20);
    ck_assert_uint_eq(sn->nmetas[21], 20);
    ck_assert_int_eq(sn->rc[22], 20);
    ck_assert_int_eq(sn->rc[23], 0);
    ck_assert_int_eq(sn->rc[24], -EINVAL);
    dstore_stats(s, &st);
    ck_assert_uint_eq(st.count, 0);
    close_store(s);
}
END_TEST

/* --- close ----------------------------------------------------------- */

static dstore *chain_store;

static void chain_cb(dstore_req *r)
{
    record(r);
    /* a callback may submit more: it joins a later batch */
    if ((int)(intptr_t)r->arg == 2)
        dstore_submit(chain_store, put_req(100, 1, 10, record,
                                           (void *)(intptr_t)50));
}

START_TEST(close_after_queued_work)
{
    dstore *s = open_store();
    seen_reset();
    ncomp = 0;
    chain_store = s;
    for (int k = 0; k < 5; k++)
        dstore_submit(s, put_req(k, 2, 100, chain_cb, (void *)(intptr_t)k));
    closed = 0;
    dstore_close(s, on_closed, &closed);
    /* after close: refused, but answered in order */
    dstore_submit(s, put_req(9, 2, 100, record, (void *)(intptr_t)5));
    ck_assert_int_eq(closed, 0);
    ck_assert_int_eq(sn->n, 0);     /* nothing runs on the loop thread */
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(close_rc, 0);
    ck_assert_int_eq(sn->n, 7);
    ck_assert_int_eq(done_at, 7);   /* done came after every callback */
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(sn->order[i], i);
        ck_assert_int_eq(sn->rc[i], 0);
    }
    ck_assert_int_eq(sn->order[5], 5);
    ck_assert_int_eq(sn->rc[5], -ESHUTDOWN);
    ck_assert_int_eq(sn->order[6], 50);
    ck_assert_int_eq(sn->rc[6], -ESHUTDOWN);
    /* the five accepted puts are durable; the refused ones never ran */
    {
        dstore *s2 = open_store();
        spool_stats st;
        dstore_stats(s2, &st);
        ck_assert_uint_eq(st.count, 5);
        close_store(s2);
    }
}
END_TEST

START_TEST(close_idle)
{
    dstore *s = open_store();
    closed = 0;
    dstore_close(s, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(close_rc, 0);
}
END_TEST

/* --- deliver --------------------------------------------------------- */

START_TEST(deliver_through_store)
{
    dstore *s = open_store();
    inbox *ib = NULL;
    char ibdir[300], path[400];
    dstore_req *r;
    uint8_t *obj;
    const size_t size = 3 * 100000 + 777, piece = 100000;
    uint32_t n = 4;
    inbox_object o;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned mdlen;
    FILE *f;

    seen_reset();
    snprintf(ibdir, sizeof ibdir, "%s.inbox", dir);
    ck_assert_int_eq(inbox_open(&ib, ibdir, err, sizeof err), 0);
    ck_assert_int_eq(dstore_set_inbox(s, ib), 0);
    /* not while work is queued */
    dstore_submit(s, req(DSTORE_COMPACT, 99));
    ck_assert_int_eq(dstore_set_inbox(s, ib), -EBUSY);
    uv_run(&loop, UV_RUN_DEFAULT);

    obj = payload(77, size);
    memset(&o, 0, sizeof o);
    mkid(o.object_id, 777);
    o.size = size;
    o.chunk_count = n;
    o.chunk_size = piece;
    snprintf(o.src, sizeof o.src, "gs-mad");
    snprintf(o.name, sizeof o.name, "w.npy");
    ck_assert_int_eq(EVP_DigestInit_ex(c, EVP_sha256(), NULL), 1);
    ck_assert_int_eq(EVP_DigestUpdate(c, obj, size), 1);
    ck_assert_int_eq(EVP_DigestFinal_ex(c, o.sha256, &mdlen), 1);
    EVP_MD_CTX_free(c);

    seen_reset();
    r = req(DSTORE_DELIVER, 0);     /* no chunks stored yet */
    r->obj = o;
    r->ids = calloc(n, 16);
    r->nids = n;
    for (uint32_t i = 0; i < n; i++)
        mkid(r->ids[i], 500 + (int)i);
    dstore_submit(s, r);
    for (uint32_t i = 0; i < n; i++) {
        size_t len = i + 1 < n ? piece : size - piece * (n - 1);
        dstore_req *p = put_req(500 + (int)i, 4, len, record,
                                (void *)(intptr_t)(1 + i));
        memcpy(p->buf, obj + piece * i, len);
        dstore_submit(s, p);
    }
    r = req(DSTORE_DELIVERED, 5);
    r->obj = o;
    dstore_submit(s, r);
    r = req(DSTORE_DELIVER, 6);
    r->obj = o;
    r->ids = calloc(n, 16);
    r->nids = n;
    for (uint32_t i = 0; i < n; i++)
        mkid(r->ids[i], 500 + (int)i);
    dstore_submit(s, r);
    r = req(DSTORE_DELIVERED, 7);
    r->obj = o;
    dstore_submit(s, r);
    dstore_submit(s, req(DSTORE_FOREACH_META, 8));
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(sn->n, 9);
    ck_assert_int_eq(sn->rc[0], -ENOENT);
    for (int i = 1; i <= 4; i++)
        ck_assert_int_eq(sn->rc[i], 0);
    ck_assert_int_eq(sn->rc[5], 0);
    ck_assert_int_eq(sn->rc[6], 0);
    ck_assert_int_eq(sn->rc[7], 1);
    ck_assert_uint_eq(sn->ntotal[8], 0);    /* chunks gone */

    /* the file */
    {
        char h[33];
        uint8_t *got = malloc(size + 1);
        spool_id_hex(o.object_id, h);
        snprintf(path, sizeof path, "%s/%s", ibdir, h);
        f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fread(got, 1, size + 1, f), size);
        fclose(f);
        ck_assert_int_eq(memcmp(got, obj, size), 0);
        free(got);
    }
    free(obj);
    close_store(s);
    inbox_close(ib);        /* the caller's; unused once done ran */
    snprintf(path, sizeof path, "rm -rf '%s'", ibdir);
    ck_assert_int_eq(system(path), 0);
}
END_TEST

START_TEST(deliver_without_inbox)
{
    dstore *s = open_store();
    dstore_req *r;
    seen_reset();
    r = req(DSTORE_DELIVER, 0);
    dstore_submit(s, r);
    dstore_submit(s, req(DSTORE_DELIVERED, 1));
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(sn->rc[0], -EINVAL);
    ck_assert_int_eq(sn->rc[1], -EINVAL);
    close_store(s);
}
END_TEST

START_TEST(put_size_mismatch)
{
    dstore *s = open_store();
    dstore_req *r;
    seen_reset();
    r = put_req(1, 1, 100, record, (void *)(intptr_t)0);
    r->meta.size = 99;
    dstore_submit(s, r);
    r = put_req(2, 1, 100, record, (void *)(intptr_t)1);
    r->meta.priority = 9;   /* refused by the spool */
    dstore_submit(s, r);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(sn->n, 2);
    ck_assert_int_eq(sn->rc[0], -EINVAL);
    ck_assert_int_eq(sn->rc[1], -EINVAL);
    close_store(s);
}
END_TEST

START_TEST(sync_failure_fails_batch)
{
    dstore *s = open_store();
    dstore_req *r;
    seen_reset();
    dstore_submit(s, put_req(1, 1, 100, record, (void *)(intptr_t)0));
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(sn->rc[0], 0);
    /* a batch whose sync fails: no PUT may claim durability */
    seen_reset();
    fail_fdatasync = 1;
    for (int k = 0; k < 5; k++)
        dstore_submit(s, put_req(10 + k, 2, 100, record,
                                 (void *)(intptr_t)k));
    dstore_submit(s, put_req(1, 1, 100, record, (void *)(intptr_t)5));
    dstore_submit(s, req_id(DSTORE_STAT, 6, 1));
    uv_run(&loop, UV_RUN_DEFAULT);
    fail_fdatasync = 0;
    ck_assert_int_eq(sn->n, 7);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(sn->order[i], i);
        ck_assert_msg(sn->rc[i] == -EIO, "put %d: rc %d", i, sn->rc[i]);
    }
    ck_assert_int_eq(sn->rc[6], 0);     /* reads are unaffected */
    /* the spool refuses writes until reopened */
    seen_reset();
    dstore_submit(s, put_req(20, 2, 100, record, (void *)(intptr_t)0));
    r = req_id(DSTORE_READ, 1, 1);
    r->len = 100;
    dstore_submit(s, r);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_lt(sn->rc[0], 0);
    ck_assert_int_eq(sn->rc[1], 0);
    {
        dstore_counters c;
        dstore_counters_get(s, &c);
        ck_assert_uint_ge(c.sync_errors, 1);
    }
    closed = 0;
    dstore_close(s, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_lt(close_rc, 0);      /* reported to done */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store");
    TCase *t = tcase_create("core");
    SRunner *sr;
    int failed;
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, group_commit_1000);
    tcase_add_test(t, next_read_ack);
    tcase_add_test(t, foreach_expire_compact);
    tcase_add_test(t, close_after_queued_work);
    tcase_add_test(t, close_idle);
    tcase_add_test(t, deliver_through_store);
    tcase_add_test(t, deliver_without_inbox);
    tcase_add_test(t, put_size_mismatch);
    tcase_add_test(t, sync_failure_fails_batch);
    suite_add_tcase(s, t);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (sn)
        seen_reset();
    free(sn);
    return failed ? 1 : 0;
}
