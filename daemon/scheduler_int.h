/*
 * scheduler_int.h - what the three files of lagrange.v1.Scheduler share:
 * scheduler.c (the job table, the executor runs, the ops on the threadpool,
 * life and stats), scheduler_models.c (PutModel, PutBlob, ListModels,
 * DeleteModel) and scheduler_rpc.c (the job methods, nodes, links, plan).
 * See scheduler.h for the job states and the durability rule.
 *
 * Threading: loop thread, except the sched_work_* functions, which run on
 * the libuv threadpool and touch only their own op and the stores.
 */
#ifndef LG_DAEMON_SCHED_INT_H
#define LG_DAEMON_SCHED_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "blobstore.h"
#include "exec.h"
#include "h2rpc.h"
#include "jobcomp.h"
#include "jobdb.h"
#include "jobplan.h"
#include "plan.h"
#include "lagrange/v1/api.pb-c.h"
#include "lagrange/v1/store.pb-c.h"
#include "lagranged.h"
#include "scheduler.h"

#define JOB_ID_LEN 13              /* "j" + 12 hex */
#define NAME_MAX_ 63               /* model and job names */
#define IDEM_MAX 128
#define REASON_MAX 160
#define ERROR_MAX 512
#define XCACHE 4                   /* prepared models kept */
#define RESULT_CHUNK_DEF (1u << 20)
#define RESULT_CHUNK_MAX (4u << 20)
#define EXPIRE_MS 500              /* deadline check period */
#define CACHE_MAX (64u << 20)
#define SWEEP_TICKS 120            /* JobRetention sweep: every minute */
#define SWEEP_MAX 256              /* jobs removed per sweep */      /* outputs kept in memory for GetResult */

typedef Lagrange__V1__JobState jstate;

#define SCHED_MAX_RESIDENT 4096    /* (node, partition) pairs remembered */
#define SCHED_MAX_TASKS 4096       /* partitions held here at once */
#define SCHED_MAX_PARTS JOBPLAN_MAX_PARTS
#define PMCACHE 8                  /* plan_models kept, by model id */

/* A distributed job at its controller (scheduler_dist.c). */
enum dj_phase { DJ_NONE = 0, DJ_PREP, DJ_LOCAL, DJ_BUILD, DJ_PERSIST,
                DJ_DISPATCH, DJ_WAIT, DJ_FINISH, DJ_DONE };
typedef struct djdist {
    enum dj_phase phase;
    Lagrange__V1__DistPlan *plan;  /* owned (unpacked); NULL before BUILD */
    int n_parts, n_place, ctl, epoch;
    int first[JOBPLAN_MAX_PARTS], last[JOBPLAN_MAX_PARTS];
    int node[JOBPLAN_MAX_PARTS];   /* topology index per part */
    int node2[JOBPLAN_MAX_PARTS];  /* its replica's node, -1: none */
    uint8_t *meta[JOBPLAN_MAX_PARTS]; /* BUILD: new partitions' metadata */
    size_t meta_len[JOBPLAN_MAX_PARTS];
    double predicted_s;
    char summary[160];
    char *nodev[2 * JOBPLAN_MAX_PARTS]; /* Job.nodes (into the plan) */
    unsigned char heard[JOBPLAN_MAX_PARTS]; /* TaskStatus state last heard
                                    per part (0: nothing) */
    char power[JOBPLAN_MAX_PARTS][80]; /* a worker's WaitingPower(...) */
    int sends, send_failed;        /* DISPATCH: sends not yet durable */
    int plan_durable;              /* the record with this plan is synced:
                                      only then is anything sent */
    char send_err[256];
    uint64_t t_wait;               /* WAIT began (or resumed), ms */
    uint64_t t_progress;           /* last task.status heard, ms */
} djdist;

/* A plan already cut (scheduler_dist.c): the partitions of a model at
 * given graph-node ranges (without their ONNX bytes, kept in ModelDir),
 * and for an explicit placement the planner's view with one group per
 * graph node. */
#define BUILT_MAX 8
typedef struct dbuilt {
    char model[65];
    int n_parts;
    int first[JOBPLAN_MAX_PARTS], last[JOBPLAN_MAX_PARTS];
    jobplan *jp;                   /* NULL until cut */
    plan_model *pm0;               /* placement entries only */
    uint64_t used;
} dbuilt;

/* A partition to run here (scheduler_dist.c). */
enum dtask_state { TK_WAIT = 0, TK_RUN, TK_SEND };
typedef struct dtask {
    struct dtask *next;
    struct dsched *s;
    Lagrange__V1__Task *t;         /* owned (unpacked) */
    uint8_t bid[16];               /* its bundle, deleted when done */
    enum dtask_state state;
    int need_sent;                 /* NEED_PARTITION sent */
    int ended;                     /* job.end came while it ran */
    int power_wait;                /* the battery holds it (WaitingPower) */
    int sends, send_failed;        /* SEND: outputs not yet durable */
    double exec_s;
} dtask;

typedef struct dmodel {
    char id[65];
    Lagrange__V1__Model *m;        /* its metadata (unpacked, owned) */
    uint64_t runs;
    double exec_s;
    uint64_t last_used;            /* ms: stored, imported or run (a
                                      partition's LRU key; at start the
                                      blob's mtime) */
} dmodel;

typedef struct outinfo {
    char *name;
    char dtype[16];
    int rank;
    int64_t d[8];
} outinfo;

typedef struct djob {
    struct dsched *s;
    char id[JOB_ID_LEN + 1];
    char model[65];
    char model_name[NAME_MAX_ + 1];
    char name[NAME_MAX_ + 1];
    char idem[IDEM_MAX + 1];
    jstate state;
    jstate was;                    /* loaded from JobDir not final: the
                                      state it had then (for the log) */
    char reason[REASON_MAX];
    char error[ERROR_MAX];
    uint64_t created, updated, started, finished, deadline;
    uint32_t priority, attempts;
    int objective;
    double progress;
    int n_in;
    char **in_names;               /* graph input of in-<k>.npy */
    int n_out;
    outinfo *out;                  /* once COMPLETED: out-<k>.npy */
    int accepted;                  /* durable; visible to clients */
    int io_busy, io_dirty;         /* a record write in flight / due */
    int readers;                   /* GetResult streams reading it */
    struct sop *run_op;            /* its OP_RUN while an executor runs
                                      it (NULL otherwise) */
    int removing;                  /* JobRetention: being removed */
    lg_tensor **cached;            /* outputs kept in memory after the run
                                      (n_out of them), or NULL */
    size_t cached_bytes;
    h2rpc_call *watch[SCHED_MAX_WATCHERS];
    int n_watch;
    char **place;                  /* SubmitJobRequest.placement */
    int n_place;
    djdist *dist;                  /* planned across nodes, or NULL */
    uint32_t next_epoch;           /* a re-plan's epoch (0: 1) */
    int replicas;                  /* 1 or 2 */
    int stage_only;                /* lagrange model stage: partitions only */
} djob;

typedef struct xentry {
    char id[65];
    lg_graph *g;
    lg_exec *e;
    int busy;
    uint64_t used;
} xentry;

struct dsched {
    lagranged *d;
    blobstore *models, *blobs;
    jobdb *jobs;
    dmodel **mv;
    int n_models;
    djob **jv;
    int n_jobs, cap_jobs;
    int running;                   /* executor ops in flight */
    int ops;                       /* threadpool ops in flight */
    xentry xc[XCACHE];
    uint64_t xclock;
    uv_timer_t expire;
    int timer_open;
    int stopping;
    void (*done)(void *);
    void *done_arg;
    uint64_t submitted;
    size_t cache_bytes;            /* outputs held in djob.cached */
    uint64_t lat_count[SCHED_LAT_BUCKETS];
    uint64_t lat_n;
    double lat_sum;
    sched_model_stat *mstat;
    unsigned ticks;                /* on_expire calls, for the sweep */
    int sweeping;                  /* a blob sweep in flight */
    uint64_t removed_jobs, removed_blobs; /* by JobRetention */
    jobcomp jc;                    /* JobCompLog: a line per final job */
    dtask *tasks;                  /* partitions to run here */
    int n_tasks;
    struct { char node[64]; char sha[65]; } res[SCHED_MAX_RESIDENT];
    int n_res;                     /* partitions known on other nodes */
    struct { char id[65]; plan_model *pm; uint64_t used; } pmc[PMCACHE];
    dbuilt built[BUILT_MAX];       /* plans cut lately */
                                   /* the planner's view of recent models */
    struct { char job[JOB_ID_LEN + 1]; uint32_t epoch; } ended[1024];
    int n_ended, ended_next;       /* job.end seen lately (0: all epochs) */
    char done_keys[1024][160];      /* tasks finished lately (job/epoch/part) */
    int n_done_keys, done_next;
    char jc_err[512];              /* its last failure ("" once it works) */
    uint64_t part_evictions;       /* partitions evicted since start */
    char evicted[64][65];          /* partitions evicted lately (a task
                                      told one follows asks for it) */
    int evicted_next;
};

enum op_kind {
    OP_CREATE, OP_UPDATE, OP_RUN, OP_PUT_COMMIT, OP_READ_RESULT,
    OP_DELETE_MODEL, OP_REMOVE_JOB, OP_SWEEP_BLOBS,
    OP_DIST_PREP, OP_DIST_BUILD, OP_DIST_FINISH, OP_TASK_RUN, OP_PART_IMPORT,
};

/* What an input of a model must be: checked against a blob's header on
 * the threadpool (inline inputs are checked at once). */
typedef struct sched_want {
    char name[128];
    char dtype[16];
    int rank;
    int64_t d[LG_MAX_RANK];        /* -1: any */
} sched_want;

typedef struct sop {
    uv_work_t w;
    dsched *s;
    enum op_kind kind;
    h2rpc_call *call;              /* to answer; NULL once it is gone */
    djob *job;
    int rc;
    char err[ERROR_MAX];
    /* OP_CREATE, OP_UPDATE */
    uint8_t *rec;
    size_t rec_len;
    jobdb_file *files;
    int n_files;
    lg_tensor **tens;              /* OP_CREATE: inline inputs to encode;
                                      OP_RUN, OP_READ_RESULT: outputs */
    int n_tens;
    char **blob_paths;             /* OP_CREATE: blob inputs to check */
    struct sched_want *want;       /* OP_CREATE: what each input must be */
    /* OP_RUN */
    xentry *x;                     /* cached executor, or NULL: load */
    lg_graph *g;
    lg_exec *e;
    double exec_s;
    /* OP_PUT_COMMIT */
    blobw *bw;
    int is_model;
    char name[NAME_MAX_ + 1];
    char id[65];
    uint8_t *meta;
    size_t meta_len;
    uint64_t cutoff_ms;            /* OP_SWEEP_BLOBS: older goes */
    atomic_uint progress_ppm;      /* OP_RUN: written by the worker as the
                                      executor advances, read by the loop */
    int cancelled;                 /* OP_RUN: uv_cancel took it off the
                                      queue before it started (a stop) */
    /* scheduler_dist.c */
    plan_model *pm;                /* OP_DIST_PREP */
    jobplan *jp;                   /* OP_DIST_BUILD */
    dtask *task;                   /* OP_TASK_RUN */
    uint8_t **enc;                 /* OP_TASK_RUN: outputs as .npy */
    size_t *enc_len;
    char path[4096];               /* OP_PART_IMPORT: the inbox file */
    char src[64];                  /* OP_PART_IMPORT: who sent it */
    int bad_out;                   /* OP_DIST_FINISH: the output that
                                      failed, -1: none */
} sop;

/* A PutModel / PutBlob in progress (the call's data). */
typedef struct upload {
    dsched *s;
    int is_model;
    blobw *bw;
    uint64_t size, got;
    char name[NAME_MAX_ + 1];
    int have_header;
    sop *op;                       /* commit in flight */
} upload;

/* A GetResult stream (the call's data). */
typedef struct rstream {
    dsched *s;
    djob *job;
    sop *op;                       /* reading the outputs */
    lg_tensor **tens;
    char **names;
    int n, cur;
    size_t off, chunk;
} rstream;

/* Unpack a request message or answer INVALID_ARGUMENT. */
#define UNPACK_OR_FAIL(T, fn, c, msg, len)                                    \
    T *q = fn(NULL, len, msg);                                                \
    if (!q) {                                                                 \
        h2rpc_finish(c, H2RPC_INVALID_ARGUMENT, "malformed request");         \
        return 0;                                                             \
    }

static inline dsched *sched_of(h2rpc_call *c)
{
    return ((lagranged *)h2rpc_app(c))->sched;
}

/* ---- scheduler.c ------------------------------------------------------------- */

int sched_add_job(dsched *s, djob *j);
void sched_drop_job(dsched *s, djob *j);
void sched_fill_job(const djob *j, Lagrange__V1__Job *p,
                     Lagrange__V1__TensorInfo *ti,
                     Lagrange__V1__TensorInfo **tip, char **nodes,
                     const char *self);
djob *sched_find_idem(dsched *s, const char *key);
djob *sched_find_job(dsched *s, const char *id);
void sched_free_job(djob *j);
int sched_is_final(jstate st);
void sched_notify(djob *j, const char *event);
uint64_t sched_now_ms(void);
void sched_op_free(sop *op);
sop *sched_op_new(dsched *s, enum op_kind k, h2rpc_call *c, djob *j);
int sched_op_queue(sop *op);
uint8_t *sched_pack_job(const dsched *s, const djob *j, size_t *len);
uint8_t *sched_pack_record(const dsched *s, const djob *j, size_t *len);
void sched_persist(djob *j);
const char *sched_state_name(jstate st);
void sched_set_state(djob *j, jstate st, const char *reason);
enum h2rpc_status sched_status_of(int rc);
void sched_reply(h2rpc_call *c, const ProtobufCMessage *m);
int sched_valid_name(const char *s);
void sched_op_call_close(h2rpc_call *c, int cancelled);

/* Completion of a job whose outputs are in JobDir (out-<k>.npy) and in
 * t (n of them, named names): outputs recorded, kept in memory, stats,
 * COMPLETED written and told. 0, or -ENOMEM (then FAILED). */
int sched_complete(djob *j, lg_tensor **t, int n, const char *const *names);
/* Threadpool: op->g and op->e for model id (in ModelDir): the cached
 * prepared model in op->x, or loaded and prepared. 0 or an error in
 * op->err (op->rc set too). */
int sched_exec_load(sop *op, const char *id);
/* Queue an executor op (OP_RUN, OP_TASK_RUN) for model id, with the
 * prepared model from the cache if one is idle. 0, or -1: op freed. */
int sched_queue_exec(dsched *s, sop *op, const char *id);
/* An executor op is over: keep its prepared model for the next run of
 * model id (or give the cached entry back). */
void sched_keep_exec(dsched *s, sop *op, const char *id);

/* ---- scheduler_dist.c ---------------------------------------------------------- */

void sched_dist_start(dsched *s);
void sched_dist_resume(dsched *s);
void sched_dist_stop(dsched *s);
int sched_dist_local(dsched *s, djob *j);
void sched_dist_kick(dsched *s);
/* Every EXPIRE_MS: re-plan jobs whose partitions sit on dead nodes,
 * expire distributed jobs past their deadline. */
void sched_dist_tick(dsched *s, uint64_t now);
/* j just became final: tell the nodes of its plan (job.end). */
void sched_dist_final(djob *j);
/* A record write of j ended (rc) and no other is due: a plan waiting to
 * be durable (PERSIST) is dispatched now. */
void sched_dist_persisted(djob *j, int rc);
void sched_dist_work(sop *op);
void sched_dist_after(sop *op);
void sched_dist_free_job(djob *j);
int sched_dist_load(djob *j, const Lagrange__V1__JobRecord *r);
const Lagrange__V1__DistPlan *sched_dist_record(const djob *j);

/* ---- scheduler_models.c ------------------------------------------------------ */

/* Threadpool: describe model op->id (in ModelDir) into op->meta, as an
 * upload does; 0 or an error in op->err. */
int sched_describe_into(sop *op);

int sched_add_model(dsched *s, const char *id, const uint8_t *meta,
                     size_t len);
/* The partition cache (PartitionCacheMax): partitions are the models the
 * daemon made (named part-<12 hex of the id>); models pushed by users
 * are pinned. A task used partition id now: its LRU time (and the blob's
 * mtime, so that the order survives a restart). Unknown ids are ignored. */
void sched_model_touch(dsched *s, const char *id);
/* While the partitions in ModelDir hold more than PartitionCacheMax bytes,
 * evict the least recently used one that no task here waits for or runs
 * and no plan (cached, or of a job still going) names; one log line each.
 * Eviction is always safe: a node lacking a partition asks for it. */
void sched_partition_evict(dsched *s);
/* 1 if partition id was evicted here lately. */
int sched_partition_evicted(const dsched *s, const char *id);
/* Bytes of partitions in ModelDir now. */
uint64_t sched_partition_bytes(const dsched *s);
int sched_deletemodel_msg(h2rpc_call *c, const uint8_t *msg, size_t len);
dmodel *sched_find_model_id(dsched *s, const char *id);
int sched_listmodels_msg(h2rpc_call *c, const uint8_t *msg, size_t len);
int sched_load_model(void *arg, const char *id, uint64_t size);
void sched_put_close(h2rpc_call *c, int cancelled);
void sched_put_end(h2rpc_call *c);
int sched_put_message(h2rpc_call *c, const uint8_t *msg, size_t len);
dmodel *sched_resolve_model(dsched *s, const char *ref, char *why,
                             size_t whylen);
void sched_work_put_commit(sop *op);
int sched_putmodel_start(h2rpc_call *c);
int sched_putblob_start(h2rpc_call *c);

/* ---- scheduler_rpc.c --------------------------------------------------------- */

int sched_canceljob_msg(h2rpc_call *c, const uint8_t *msg, size_t len);
int sched_getjob_msg(h2rpc_call *c, const uint8_t *msg, size_t len);
int sched_listjobs_msg(h2rpc_call *c, const uint8_t *msg, size_t len);
int sched_listlinks_msg(h2rpc_call *c, const uint8_t *msg, size_t len);
int sched_listnodes_msg(h2rpc_call *c, const uint8_t *msg, size_t len);
int sched_planjob_msg(h2rpc_call *c, const uint8_t *msg, size_t len);
void sched_reply_job(h2rpc_call *c, const dsched *s, const djob *j);
void sched_result_close(h2rpc_call *c, int cancelled);
int sched_result_msg(h2rpc_call *c, const uint8_t *msg, size_t len);
void sched_result_writable(h2rpc_call *c);
int sched_submit_msg(h2rpc_call *c, const uint8_t *msg, size_t len);
void sched_watch_close(h2rpc_call *c, int cancelled);
int sched_watch_msg(h2rpc_call *c, const uint8_t *msg, size_t len);
void sched_work_create(sop *op);
void sched_work_read_result(sop *op);

#endif
