/*
 * store.h - the daemon's spool (and inbox), run on the libuv threadpool
 * through one serial queue with group commit.
 *
 * Owns the spool (lib/store/spool.h) and uses, once attached, an inbox
 * (lib/store/inbox.h) that the caller opened and closes: both block on
 * fsync and are not thread-safe, so every call to them goes through this
 * queue and runs on a threadpool thread, at most one uv_queue_work item
 * in flight per store. The spool's log and clock callbacks (spool_opts)
 * therefore run on the worker thread (and on the loop thread inside
 * dstore_open): they must be thread-safe (daemon/log.h's are). The loop
 * thread submits requests (dstore_req) with a completion callback that
 * runs back on the loop thread.
 *
 * Group commit: when the worker starts it takes every queued request, up
 * to DSTORE_BATCH_MAX requests or DSTORE_BATCH_BYTES of payload (PUT and
 * READ lengths; one request is always taken), as one batch, and runs them
 * in submission order. PUTs use spool_put_nosync and ACK/DELETE use
 * spool_delete_nosync; one spool_sync at the end of the batch makes them
 * all durable before any callback of the batch runs. So a PUT callback
 * with rc 0 or SPOOL_DUPLICATE means "durable": the daemon may ack custody
 * upstream. If that sync fails, every PUT, ACK and DELETE of the batch
 * that had succeeded reports the sync's error instead (and the spool
 * refuses writes until reopened). Callbacks run in submission order, and
 * batches complete in order, so all requests complete in submission order.
 * Requests of one batch see each other's effects at once (a NEXT after a
 * PUT may hand that bundle out); callbacks only come after the sync.
 *
 * Request states: NEW (dstore_req_new) -> QUEUED (dstore_submit; the
 * store owns it) -> RUNNING (taken by the worker) -> DONE (callback on the
 * loop thread, then freed with whatever buffers it still holds). The store:
 * OPEN -> CLOSING (dstore_close: queued work still runs; requests submitted
 * from now on complete with -ESHUTDOWN without touching the spool) ->
 * CLOSED (spool closed on the worker, done called, store freed; the
 * inbox is no longer used and the caller may close it in done).
 *
 * Operations (fields in / out; rc is the spool call's result):
 *   PUT        meta (size must equal len), buf/len (owned by the request)
 *              / rc 0, SPOOL_DUPLICATE or -errno; durable as said above
 *   NEXT       filter / meta, rc -ENOENT if nothing to send. The filter's
 *              match callback RUNS ON THE WORKER THREAD: it must only read
 *              data that the loop thread does not change while the request
 *              is queued or running (or guard it with its own lock).
 *   READ       id, off, len (<= DSTORE_READ_MAX, else -EINVAL) / buf
 *              (malloc'ed, len bytes; taken by setting r->buf = NULL)
 *   ACK        id (spool_delete_nosync SPOOL_ACKED; durable at the sync)
 *   DELETE     id, reason (spool_reason; durable at the sync)
 *   RELEASE    id (clear in-flight)
 *   PROGRESS   id, off (spool_set_progress)
 *   EXPIRE     off = now in unix ms (0: CLOCK_REALTIME) / rc = number
 *              expired or -errno (spool_expire syncs itself)
 *   COMPACT    (spool_compact)
 *   STAT       id / meta
 *   FOREACH_META  maxmetas (0: no limit) / metas (malloc'ed array owned by
 *              the request, taken by setting r->metas = NULL), nmetas,
 *              ntotal (live bundles seen; > nmetas if the limit cut it)
 *   DROP_JOB   meta.job, meta.job_epoch (0: every epoch), reason,
 *              maxmetas (0: no limit) / rc = bundles dropped or -errno
 *              (spool_drop_job, which syncs itself), off = their payload
 *              bytes, metas/nmetas/ntotal: the dropped ones (as
 *              FOREACH_META)
 *   DELIVER    obj, ids (malloc'ed array of nids chunk ids, owned by the
 *              request) / rc of inbox_deliver: 0, INBOX_ALREADY, -errno,
 *              INBOX_ECHECKSUM; -EINVAL if no inbox is attached
 *   DELIVERED  obj.object_id / rc 1 if the inbox journal has it, else 0
 *              (the inbox is only touched on the worker, so the loop
 *              thread asks through the queue)
 * err holds a message whenever rc < 0.
 *
 * Errors from dstore_open: those of spool_open (-errno with a message),
 * -ENOMEM. Threading: every function here is for the loop thread; only
 * the NEXT filter's match callback runs elsewhere (the worker).
 */
#ifndef LG_DAEMON_STORE_H
#define LG_DAEMON_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "inbox.h"
#include "spool.h"

#define DSTORE_BATCH_MAX 256                    /* requests per batch */
#define DSTORE_BATCH_BYTES ((size_t)64 << 20)   /* PUT+READ bytes per batch */
#define DSTORE_READ_MAX (((size_t)256 << 20) + 4096) /* largest READ: a
                                 whole frame at the largest MaxFrame */

enum dstore_op {
    DSTORE_PUT = 1,
    DSTORE_NEXT,
    DSTORE_READ,
    DSTORE_ACK,
    DSTORE_DELETE,
    DSTORE_RELEASE,
    DSTORE_PROGRESS,
    DSTORE_EXPIRE,
    DSTORE_COMPACT,
    DSTORE_STAT,
    DSTORE_FOREACH_META,
    DSTORE_DELIVER,
    DSTORE_DELIVERED,
    DSTORE_DROP_JOB
};

typedef struct dstore dstore;
typedef struct dstore_req dstore_req;

/* On the loop thread; r is freed (with buf, metas, ids if still set)
 * after the callback returns. The callback may submit more requests and
 * may call dstore_close. */
typedef void (*dstore_cb)(dstore_req *r);

struct dstore_req {
    int op;                     /* enum dstore_op */
    int rc;                     /* result (see above) */
    char err[256];              /* message when rc < 0 */
    spool_meta meta;            /* in: PUT; out: NEXT, STAT */
    uint8_t id[SPOOL_ID_LEN];   /* READ ACK DELETE RELEASE PROGRESS STAT */
    spool_filter filter;        /* NEXT; match runs on the worker */
    uint8_t *buf;               /* PUT in, READ out; owned by the request */
    size_t len;                 /* PUT, READ */
    uint64_t off;               /* READ, PROGRESS; EXPIRE: now (ms) */
    int reason;                 /* DELETE: spool_reason */
    spool_meta *metas;          /* FOREACH_META out; owned */
    size_t nmetas;              /* FOREACH_META: entries in metas */
    size_t maxmetas;            /* FOREACH_META: limit, 0 = none */
    size_t ntotal;              /* FOREACH_META: live bundles seen */
    inbox_object obj;           /* DELIVER, DELIVERED */
    uint8_t (*ids)[SPOOL_ID_LEN]; /* DELIVER: chunk ids; owned */
    uint32_t nids;              /* DELIVER: entries in ids */
    void *arg;                  /* for the callback */
    dstore_cb cb;               /* may be NULL */
    /* private */
    dstore_req *next_;
    int refused_;               /* submitted after dstore_close */
};

/* Counters for the bench and the status report (loop thread). */
typedef struct dstore_counters {
    uint64_t batches;           /* worker batches run */
    uint64_t requests;          /* requests completed */
    uint64_t syncs;             /* end-of-batch spool_sync calls */
    uint64_t sync_errors;       /* of which failed */
    uint64_t max_batch;         /* largest batch, requests */
    uint64_t queued;            /* submitted, not yet taken by the worker */
} dstore_counters;

typedef void (*dstore_close_cb)(void *arg, int rc, const char *err);

/* Open (and recover) the spool in dir synchronously, on the calling
 * thread: meant for startup, before the loop runs. */
int dstore_open(uv_loop_t *loop, const char *dir, const spool_opts *o,
                dstore **out, char *err, size_t errlen);

/* Attach an open inbox (NULL detaches): from now until dstore_close's
 * done (or a detach) it is used only on the worker, and the loop thread
 * must not call into it. The store does not close it. Call on an idle
 * store (nothing queued or running), e.g. right after dstore_open;
 * -EBUSY otherwise. */
int dstore_set_inbox(dstore *s, inbox *ib);

/* A zeroed request (calloc); NULL on OOM. */
dstore_req *dstore_req_new(int op, dstore_cb cb, void *arg);

/* Queue r; the store owns it until its callback has run. */
void dstore_submit(dstore *s, dstore_req *r);

/* Finish everything queued, close the spool on the worker, then call
 * done(arg, rc, err) on the loop thread with spool_close's result (0 or
 * -errno and a message) and free the store. A second call is ignored.
 * The store must not be used once done has been called. */
void dstore_close(dstore *s, dstore_close_cb done, void *arg);

/* The spool's stats as the worker saw them after its last batch (or at
 * open). */
void dstore_stats(const dstore *s, spool_stats *st);
void dstore_counters_get(const dstore *s, dstore_counters *c);

#endif
