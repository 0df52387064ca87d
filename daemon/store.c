/*
 * store.c - the spool and the inbox on the libuv threadpool, one batch at
 * a time, with group commit (see store.h for the contract).
 *
 * Owns the spool, the request queue and one uv_work_t; uses the
 * attached inbox (the caller's) on the worker only. The queue is the
 * only thing both threads touch: the loop thread appends under the
 * mutex, the worker detaches a batch from its head under the mutex when
 * it starts (so everything submitted until then joins the batch).
 * Everything else is handed over by uv_queue_work and its after-work
 * callback, which order the two threads: the spool, the inbox and the
 * batch are touched only by the worker while an item is in flight
 * (busy), the stats snapshot and counters only by the loop thread in
 * between.
 *
 * Store states: OPEN; CLOSING (closing set: new requests are refused but
 * still complete in order; when the queue is empty the next work item
 * closes the spool); CLOSED (after that item's after-work callback: done
 * is called and the store freed). The in-flight item is a batch or the
 * close (closing_item).
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lgerr.h"

struct dstore {
    uv_loop_t *loop;
    spool *sp;
    inbox *ib;
    uv_mutex_t mu;              /* guards q_head, q_tail, nqueued */
    dstore_req *q_head, *q_tail;
    uint64_t nqueued;
    uv_work_t work;             /* the one item in flight; data = store */
    int busy;                   /* work is in flight (loop thread) */
    int closing;                /* dstore_close called */
    int closing_item;           /* the item in flight closes the store */
    dstore_close_cb done;
    void *done_arg;
    /* written by the worker, read in the after-work callback */
    dstore_req *batch;          /* the batch taken, in order */
    uint64_t batch_n;
    int batch_synced;           /* ran the end-of-batch spool_sync */
    int batch_sync_failed;
    spool_stats wstats;
    int close_rc;
    char close_err[256];
    /* loop thread */
    spool_stats stats;
    dstore_counters ctr;
};

static void work_cb(uv_work_t *w);
static void after_cb(uv_work_t *w, int status);

/* ------------------------------------------------------------ requests */

dstore_req *dstore_req_new(int op, dstore_cb cb, void *arg)
{
    dstore_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->op = op;
    r->cb = cb;
    r->arg = arg;
    return r;
}

static void req_free(dstore_req *r)
{
    free(r->buf);
    free(r->metas);
    free(r->ids);
    free(r);
}

static void complete(dstore *s, dstore_req *r)
{
    s->ctr.requests++;
    if (r->cb)
        r->cb(r);
    req_free(r);
}

/* -------------------------------------------------------------- worker */

static int durable_op(int op)
{
    return op == DSTORE_PUT || op == DSTORE_ACK || op == DSTORE_DELETE;
}

typedef struct collect {
    spool_meta *metas;
    size_t n, cap, total;
} collect;

static int collect_fn(void *arg, const spool_meta *m)
{
    collect *c = arg;
    if (c->n < c->cap)
        c->metas[c->n++] = *m;
    c->total++;
    return 0;
}

static void drop_fn(void *arg, const spool_meta *m)
{
    collect_fn(arg, m);
}

/* Room in c for every bundle's record (at most r->maxmetas). */
static int collect_init(spool *sp, dstore_req *r, collect *c)
{
    spool_stats st;
    spool_stats_get(sp, &st);
    c->cap = (size_t)st.count;
    if (r->maxmetas && r->maxmetas < c->cap)
        c->cap = r->maxmetas;
    if (c->cap && !(c->metas = calloc(c->cap, sizeof *c->metas)))
        return lg_errf(r->err, sizeof r->err, -ENOMEM, "out of memory for "
                       "%zu bundle records", c->cap);
    return 0;
}

static uint64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One request, on the worker. */
static void run_one(dstore *s, dstore_req *r)
{
    spool *sp = s->sp;
    char hex[33];
    r->err[0] = 0;
    switch (r->op) {
    case DSTORE_PUT:
        if (r->meta.size != r->len || (r->len && !r->buf)) {
            r->rc = lg_errf(r->err, sizeof r->err, -EINVAL, "put: meta.size "
                            "%llu but %zu payload bytes",
                            (unsigned long long)r->meta.size, r->len);
            break;
        }
        r->rc = spool_put_nosync(sp, &r->meta, r->buf, r->err,
                                 sizeof r->err);
        break;
    case DSTORE_NEXT:
        r->rc = spool_next(sp, &r->filter, &r->meta);
        if (r->rc == -ENOENT)
            lg_errf(r->err, sizeof r->err, r->rc, "nothing to send");
        break;
    case DSTORE_READ:
        free(r->buf);
        r->buf = NULL;
        if (r->len > DSTORE_READ_MAX) {
            r->rc = lg_errf(r->err, sizeof r->err, -EINVAL, "read of %zu "
                            "bytes: more than %zu at once", r->len,
                            DSTORE_READ_MAX);
            break;
        }
        if (!(r->buf = malloc(r->len ? r->len : 1))) {
            r->rc = lg_errf(r->err, sizeof r->err, -ENOMEM, "out of memory "
                            "for a read of %zu bytes", r->len);
            break;
        }
        r->rc = spool_read(sp, r->id, r->off, r->buf, r->len, r->err,
                           sizeof r->err);
        if (r->rc) {
            free(r->buf);
            r->buf = NULL;
        }
        break;
    case DSTORE_ACK:
        r->rc = spool_delete_nosync(sp, r->id, SPOOL_ACKED, r->err,
                                    sizeof r->err);
        break;
    case DSTORE_DELETE:
        r->rc = spool_delete_nosync(sp, r->id, (spool_reason)r->reason,
                                    r->err, sizeof r->err);
        break;
    case DSTORE_RELEASE:
    case DSTORE_PROGRESS:
    case DSTORE_STAT:
        if (r->op == DSTORE_RELEASE)
            r->rc = spool_release(sp, r->id);
        else if (r->op == DSTORE_PROGRESS)
            r->rc = spool_set_progress(sp, r->id, r->off);
        else
            r->rc = spool_stat(sp, r->id, &r->meta);
        if (r->rc) {
            spool_id_hex(r->id, hex);
            lg_errf(r->err, sizeof r->err, r->rc, "bundle %s: %s", hex,
                    lg_strerror(r->rc));
        }
        break;
    case DSTORE_EXPIRE:
        r->rc = spool_expire(sp, r->off ? r->off : realtime_ms(), r->err,
                             sizeof r->err);
        break;
    case DSTORE_COMPACT:
        r->rc = spool_compact(sp, r->err, sizeof r->err);
        break;
    case DSTORE_FOREACH_META: {
        collect c = { 0 };
        free(r->metas);
        r->metas = NULL;
        if ((r->rc = collect_init(sp, r, &c)) < 0)
            break;
        spool_foreach(sp, collect_fn, &c);
        r->metas = c.metas;
        r->nmetas = c.n;
        r->ntotal = c.total;
        r->rc = 0;
        break;
    }
    case DSTORE_DROP_JOB: {
        collect c = { 0 };
        uint64_t bytes = 0;
        free(r->metas);
        r->metas = NULL;
        if ((r->rc = collect_init(sp, r, &c)) < 0)
            break;
        r->rc = spool_drop_job(sp, r->meta.job, r->meta.job_epoch,
                               (spool_reason)r->reason, drop_fn, &c, &bytes,
                               r->err, sizeof r->err);
        r->metas = c.metas;
        r->nmetas = c.n;
        r->ntotal = c.total;
        r->off = bytes;
        break;
    }
    case DSTORE_DELIVER:
        if (!s->ib) {
            r->rc = lg_errf(r->err, sizeof r->err, -EINVAL, "deliver: no "
                            "inbox attached to the store");
            break;
        }
        r->rc = inbox_deliver(s->ib, sp, &r->obj,
                              (const uint8_t (*)[INBOX_ID_LEN])r->ids,
                              r->nids, r->err, sizeof r->err);
        break;
    case DSTORE_DELIVERED:
        if (!s->ib) {
            r->rc = lg_errf(r->err, sizeof r->err, -EINVAL, "delivered: no "
                            "inbox attached to the store");
            break;
        }
        r->rc = inbox_delivered(s->ib, r->obj.object_id);
        break;
    default:
        r->rc = lg_errf(r->err, sizeof r->err, -EINVAL, "unknown store "
                        "operation %d", r->op);
        break;
    }
}

static size_t req_bytes(const dstore_req *r)
{
    return r->op == DSTORE_PUT || r->op == DSTORE_READ ? r->len : 0;
}

/* Detach the batch from the head of the queue (worker). */
static void take_batch(dstore *s)
{
    dstore_req *head, *tail = NULL;
    uint64_t n = 0;
    size_t bytes = 0;
    uv_mutex_lock(&s->mu);
    head = s->q_head;
    for (dstore_req *r = head; r; r = r->next_) {
        size_t b = req_bytes(r);
        if (n && (n == DSTORE_BATCH_MAX || b > DSTORE_BATCH_BYTES - bytes))
            break;
        bytes += b < DSTORE_BATCH_BYTES - bytes ? b
                                                 : DSTORE_BATCH_BYTES - bytes;
        tail = r;
        n++;
    }
    if (tail) {
        s->q_head = tail->next_;
        if (!s->q_head)
            s->q_tail = NULL;
        tail->next_ = NULL;
        s->nqueued -= n;
    }
    uv_mutex_unlock(&s->mu);
    s->batch = tail ? head : NULL;
    s->batch_n = n;
}

static void run_batch(dstore *s)
{
    int need_sync = 0, rc;
    char err[256];
    s->batch_synced = s->batch_sync_failed = 0;
    for (dstore_req *r = s->batch; r; r = r->next_) {
        if (r->refused_)
            continue;
        run_one(s, r);
        if (durable_op(r->op) && r->rc >= 0)
            need_sync = 1;
    }
    if (need_sync) {
        s->batch_synced = 1;
        if ((rc = spool_sync(s->sp, err, sizeof err))) {
            s->batch_sync_failed = 1;
            /* Nothing of the batch is known durable: no custody ack. */
            for (dstore_req *r = s->batch; r; r = r->next_)
                if (!r->refused_ && durable_op(r->op) && r->rc >= 0) {
                    r->rc = rc;
                    snprintf(r->err, sizeof r->err, "%s", err);
                }
        }
    }
    spool_stats_get(s->sp, &s->wstats);
}

static void work_cb(uv_work_t *w)
{
    dstore *s = w->data;
    if (s->closing_item) {
        s->ib = NULL;           /* the caller's, not closed here */
        s->close_err[0] = 0;
        s->close_rc = spool_close(s->sp, s->close_err, sizeof s->close_err);
        s->sp = NULL;
        return;
    }
    take_batch(s);
    run_batch(s);
}

/* ---------------------------------------------------------- loop thread */

static int queue_empty(dstore *s)
{
    int empty;
    uv_mutex_lock(&s->mu);
    empty = s->q_head == NULL;
    uv_mutex_unlock(&s->mu);
    return empty;
}

/* Start the next work item if none is in flight and there is work. */
static void kick(dstore *s)
{
    if (s->busy)
        return;
    if (!queue_empty(s))
        s->closing_item = 0;
    else if (s->closing)
        s->closing_item = 1;
    else
        return;
    s->busy = 1;
    /* Fails only for a NULL work callback. */
    uv_queue_work(s->loop, &s->work, work_cb, after_cb);
}

/* Pop one queued request (loop thread; only once the worker is gone). */
static dstore_req *pop(dstore *s)
{
    dstore_req *r;
    uv_mutex_lock(&s->mu);
    if ((r = s->q_head)) {
        s->q_head = r->next_;
        if (!s->q_head)
            s->q_tail = NULL;
        s->nqueued--;
        r->next_ = NULL;
    }
    uv_mutex_unlock(&s->mu);
    return r;
}

static void finish_close(dstore *s)
{
    dstore_req *r;
    /* Submitted after the close item started: refused, still answered
     * (their callbacks may submit more, refused in turn). */
    while ((r = pop(s)))
        complete(s, r);
    if (s->done)
        s->done(s->done_arg, s->close_rc, s->close_err);
    uv_mutex_destroy(&s->mu);
    free(s);
}

static void after_cb(uv_work_t *w, int status)
{
    dstore *s = w->data;
    dstore_req *r, *next;
    (void)status;               /* never cancelled */
    if (s->closing_item) {
        finish_close(s);
        return;
    }
    s->stats = s->wstats;
    s->ctr.batches++;
    if (s->batch_n > s->ctr.max_batch)
        s->ctr.max_batch = s->batch_n;
    s->ctr.syncs += (uint64_t)s->batch_synced;
    s->ctr.sync_errors += (uint64_t)s->batch_sync_failed;
    r = s->batch;
    s->batch = NULL;
    s->batch_n = 0;
    for (; r; r = next) {
        next = r->next_;
        complete(s, r);
    }
    s->busy = 0;
    kick(s);
}

int dstore_open(uv_loop_t *loop, const char *dir, const spool_opts *o,
                dstore **out, char *err, size_t errlen)
{
    dstore *s;
    int rc;
    *out = NULL;
    if (!(s = calloc(1, sizeof *s)))
        return lg_errf(err, errlen, -ENOMEM, "out of memory");
    if ((rc = uv_mutex_init(&s->mu))) {
        free(s);
        return lg_errf(err, errlen, rc, "mutex: %s", uv_strerror(rc));
    }
    if ((rc = spool_open(&s->sp, dir, o, err, errlen))) {
        uv_mutex_destroy(&s->mu);
        free(s);
        return rc;
    }
    s->loop = loop;
    s->work.data = s;
    spool_stats_get(s->sp, &s->stats);
    *out = s;
    return 0;
}

int dstore_set_inbox(dstore *s, inbox *ib)
{
    if (s->busy || s->closing || !queue_empty(s))
        return -EBUSY;
    s->ib = ib;
    return 0;
}

void dstore_submit(dstore *s, dstore_req *r)
{
    if (!r)
        return;
    r->next_ = NULL;
    r->refused_ = 0;
    if (s->closing) {
        r->refused_ = 1;
        r->rc = lg_errf(r->err, sizeof r->err, -ESHUTDOWN, "the store is "
                        "closing");
    }
    uv_mutex_lock(&s->mu);
    if (s->q_tail)
        s->q_tail->next_ = r;
    else
        s->q_head = r;
    s->q_tail = r;
    s->nqueued++;
    uv_mutex_unlock(&s->mu);
    kick(s);
}

void dstore_close(dstore *s, dstore_close_cb done, void *arg)
{
    if (s->closing)
        return;
    s->closing = 1;
    s->done = done;
    s->done_arg = arg;
    kick(s);
}

void dstore_stats(const dstore *s, spool_stats *st)
{
    *st = s->stats;
}

void dstore_counters_get(const dstore *s, dstore_counters *c)
{
    dstore *m = (dstore *)s;    /* the mutex only */
    *c = s->ctr;
    uv_mutex_lock(&m->mu);
    c->queued = s->nqueued;
    uv_mutex_unlock(&m->mu);
}
